// The director: brings up EAL's ports, pool, rings and workers from a Config, then runs the
// control loop on the main lcore (neighbour learning, reloads, shutdown).
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "control/config.hpp"
#include "control/ipvsadm_format.hpp"
#include "control/snapshot_builder.hpp"
#include "dataplane/steering.hpp"
#include "dataplane/worker_context.hpp"

namespace fulcrum::control {

// Set from signal handlers; the control loop acts on them.
struct ControlSignals {
    std::atomic<bool> stop{false};
    std::atomic<bool> reload{false};
};

class Director {
public:
    Director() = default;
    Director(const Director&) = delete;
    Director& operator=(const Director&) = delete;
    ~Director();

    // After rte_eal_init: creates the pool, starts the ports, builds and publishes the first
    // snapshot and launches the workers. Returns an empty string, or what failed.
    std::string start(const Config& config);

    // Runs until signals.stop; reloads `config_path` when signals.reload is set.
    void run(ControlSignals& signals, const std::string& config_path);

    // Stops the workers and the ports, and logs the counters. Safe to call twice.
    void stop();

private:
    std::string publish(const Config& config);
    void learn_neighbors();
    void announce_addresses();
    void steer_to_owners();
    void update_overload();
    void reload(const std::string& config_path);
    void log_counters() const;
    void log_service_table(const Config& config) const;
    RealServerCounts connection_counts(const ServiceConfig& s, const RealServerConfig& rs) const;

    Config config_;
    InterfacePorts interface_ports_;
    std::map<uint16_t, uint16_t> rx_queue_counts_;  // port id -> RX queues
    StableIds ids_;
    uint64_t generation_ = 0;
    dataplane::DataplaneShared shared_;
    std::unique_ptr<dataplane::NeighborTable> neighbors_;
    std::unique_ptr<dataplane::PersistenceTable> templates_;
    std::vector<std::unique_ptr<dataplane::WorkerContext>> workers_;
    std::vector<unsigned> worker_lcores_;
    std::vector<std::unique_ptr<dataplane::PortSteering>> steering_;
    std::vector<std::unique_ptr<sched::LocalityTable>> locality_tables_;
    bool running_ = false;
};

}  // namespace fulcrum::control
