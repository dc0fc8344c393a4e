// Counters for machines: DPDK telemetry commands (/fulcrum/services, /fulcrum/workers, read
// with dpdk-telemetry.py) and Prometheus text on `metrics.listen`. The control core refreshes
// one copy of the figures every estimator period; the telemetry thread and the HTTP answers read
// that copy under a mutex, so neither touches the director's state (control plane only: no lock
// is anywhere near the packet path).
#pragma once

#include <mutex>
#include <string>
#include <vector>

#include "control/control_api.hpp"

namespace fulcrum::control {

class Metrics {
public:
    // Control core.
    void update(const std::vector<ServiceStatus>& services, const std::vector<WorkerStatus>& workers,
                const std::vector<HealthRow>& health);

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
};

// The Prometheus endpoint: a small non-blocking HTTP server the control loop polls.
class MetricsServer {
public:
    MetricsServer() = default;
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
        std::string request;
        std::string response;
        size_t sent = 0;
    };
    int listen_fd_ = -1;
    std::vector<Client> clients_;
};

}  // namespace fulcrum::control
