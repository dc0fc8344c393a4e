// Counters for machines: DPDK telemetry commands (/fulcrum/services, /fulcrum/workers, read
// with dpdk-telemetry.py) and Prometheus text on `metrics.listen`. The control core refreshes
// one copy of the figures every estimator period; the telemetry thread and the HTTP answers read
// that copy under a mutex, so neither touches the director's state (control plane only: no lock
// is anywhere near the packet path).
#pragma once

#include <chrono>
#include <mutex>
#include <string>
#include <vector>

#include "control/frontends/control_api.hpp"

namespace fulcrum::control {

class Metrics {
public:
    // Control core.
    void update(const std::vector<ServiceStatus>& services, const std::vector<WorkerStatus>& workers,
                const std::vector<HealthRow>& health, const std::vector<PoolStatus>& pools = {},
                const SyncStatus& sync = {}, const AnnounceStatus& announce = {});

    // Any thread.
    std::string prometheus_text() const;

    // Registers the telemetry commands for this instance (one per process). Call after
    // rte_eal_init.
    void register_telemetry();

private:
    friend struct TelemetryAccess;
    mutable std::mutex mutex_;
    std::vector<ServiceStatus> services_;
    std::vector<WorkerStatus> workers_;
    std::vector<HealthRow> health_;
    std::vector<PoolStatus> pools_;
    SyncStatus sync_;
    AnnounceStatus announce_;
};

// The Prometheus endpoint: a small non-blocking HTTP server the control loop polls. It serves
// at most 8 clients at once, and each gets `client_timeout` from its accept to have sent its
// request and read the answer (a scrape takes milliseconds): idle connections cannot hold the
// slots, and the clients waiting in the backlog are accepted in turn.
class MetricsServer {
public:
    explicit MetricsServer(std::chrono::milliseconds client_timeout = std::chrono::seconds(5))
        : client_timeout_(client_timeout) {}
    MetricsServer(const MetricsServer&) = delete;
    MetricsServer& operator=(const MetricsServer&) = delete;
    ~MetricsServer();

    // Listens on "ADDRESS:PORT". Returns "" or why not.
    std::string listen(const std::string& address_port);
    // Accepts, reads and answers without blocking; call every few milliseconds.
    void poll_once(const Metrics& metrics);

private:
    struct Client {
        int fd;
        std::chrono::steady_clock::time_point deadline;
        std::string request;
        std::string response;
        size_t sent = 0;
    };
    std::chrono::milliseconds client_timeout_;
    int listen_fd_ = -1;
    std::vector<Client> clients_;
};

}  // namespace fulcrum::control
