// The director: brings up EAL's ports, pool, rings and workers from a Config, then runs the
// control loop on the main lcore (neighbour learning, reloads, shutdown). Its methods live in
// this folder by concern: bring_up.cpp, publication.cpp, kernel_path.cpp, status.cpp (ControlApi's
// reads) and control_loop.cpp. Only main includes this header.
#pragma once

#include <rte_timer.h>

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "control/config/config.hpp"
#include "control/runtime/effective_config.hpp"
#include "control/runtime/events.hpp"
#include "control/frontends/console.hpp"
#include "control/frontends/control_api.hpp"
#include "control/health/health.hpp"
#include "control/kernel/address_watch.hpp"
#include "control/kernel/kernel_interface.hpp"
#include "control/kernel/route_announcer.hpp"
#include "control/frontends/ipvsadm_format.hpp"
#include "control/frontends/metrics.hpp"
#include "control/runtime/snapshot_builder.hpp"
#include "control/runtime/snapshot_publisher.hpp"
#include "control/sync/daemon.hpp"
#include "dataplane/steering.hpp"
#include "dataplane/worker_context.hpp"

namespace fulcrum::control {

// The rte_timer that starts one real server's check every interval (on the control core).
struct HealthCheckTimer {
    rte_timer timer;
    HealthMonitor* monitor = nullptr;
    HealthTarget target;
    uint32_t interval_ms = 0;
};

// Set from signal handlers; the control loop acts on them.
struct ControlSignals {
    std::atomic<bool> stop{false};
    std::atomic<bool> reload{false};
};

class Director : public ControlApi {
public:
    Director() = default;
    Director(const Director&) = delete;
    Director& operator=(const Director&) = delete;
    ~Director();

    // After rte_eal_init: creates the pool, starts the ports, builds and publishes the first
    // snapshot and launches the workers. Returns an empty string, or what failed.
    std::string start(const Config& config, const std::string& config_path);

    // Runs until signals.stop; reloads the file when signals.reload is set.
    void run(ControlSignals& signals);

    // Stops the workers and the ports, and logs the counters. Safe to call twice.
    void stop();

    // What later subsystems subscribe to (runtime/events.hpp); subscribe before start().
    EventBus& events() { return events_; }

    // ControlApi
    const Config& running_config() const override { return config_; }
    std::string apply(const Config& next, std::string_view what) override;
    std::string reload() override;
    std::vector<ServiceStatus> services() const override;
    std::vector<WorkerStatus> workers() const override;
    std::vector<ConnectionRow> connections(size_t limit) override;
    void zero_counters(const ServiceConfig* only = nullptr) override;
    uint32_t table_size() const override;
    std::vector<HealthRow> health() const override;
    SyncStatus sync_status() const override;
    AnnounceStatus announce_status() const override;
    std::vector<InterfaceStatus> interfaces() const override;
    std::vector<ConnectionRow> connections_from(ConnectionCursor& cursor, size_t limit) override;
    void count_templates(std::vector<ServiceStatus>& services) const override;
    std::vector<NeighborRow> neighbors() const override;
    // The packet buffer pools, for metrics and telemetry.
    std::vector<PoolStatus> pools() const;

private:
    struct SorryState {
        bool active = false;
        std::chrono::system_clock::time_point changed = std::chrono::system_clock::now();
    };

    struct RateEstimate {
        TrafficStats last;
        TrafficRates rates;
        bool primed = false;
    };

    std::string publish(const Config& config);
    // `config` as the workers schedule it: failed real servers taken out (or at weight 0), and a
    // service's sorry server in while none of its real servers is up.
    Config effective_config(const Config& config) const;
    // What health makes of a real server: up, or down and then out of the table or quiesced.
    HealthState health_state(const ServiceConfig& s, const RealServerConfig& rs) const;
    bool sorry_server_active(const ServiceConfig& s) const;
    IsUp is_up() const;  // the health checks' verdicts, for runtime/effective_config.hpp
    // Makes the checks and their timers follow `config`.
    void configure_health(const Config& config);
    // Advances the checks; publishes when a real server went down or came back.
    void poll_health();
    std::string start_kernel_interface(const InterfaceConfig& iface, uint16_t port_id);
    // The kernel's routes follow the configuration's (only the ones this process added).
    void sync_kernel_routes(const Config& config);
    // (Re)opens the console and metrics listeners for `config`. Returns "" or what failed.
    std::string open_listeners(const Config& config);
    // apply() for a configuration the validator has passed already (a file just read).
    std::string apply_checked(const Config& next, std::string_view what);
    // A service's (or real server's) counters summed over workers, and the same since ipvsadm -Z.
    TrafficStats service_totals(uint32_t service_id) const;
    TrafficStats real_server_totals(uint32_t real_server_id) const;
    TrafficStats summed(std::unique_ptr<dataplane::TrafficCounters[]> dataplane::WorkerContext::*table, uint32_t id) const;
    // `totals` less what they were at the last ipvsadm -Z (`zero`, by id).
    static TrafficStats since_zero(const TrafficStats& totals, const std::map<uint32_t, TrafficStats>& zero, uint32_t id);
    void estimate_rates();
    void learn_neighbors();
    void add_static_neighbor(const NeighborConfig& n);
    // An unsolicited neighbour advertisement of `ip` from `port`: IPv6's gratuitous ARP.
    void send_unsolicited_advertisement(const dataplane::PortInfo& port, const dataplane::Ipv6Address& ip);
    // Gives back the stable ids of services and real servers that have left and are no longer
    // referred to by any connection (StableIds::release), with their counters' baselines.
    void release_unused_ids();
    uint32_t dataplane_seconds() const;  // the workers' clock, in seconds
    void announce_addresses();
    void send_gratuitous_arp(const dataplane::PortInfo& port, rte_be32_t ip);
    // vip_ownership kernel (kernel_path.cpp): what the kernel interfaces hold, republished when it
    // changes, and gratuitous ARP for what was just acquired.
    KernelAddresses kernel_addresses(const Config& config) const;
    void follow_kernel_addresses();
    void announce_acquired(const dataplane::ServiceSnapshot& snapshot);
    template <typename Address, typename Announce>
    void announce_acquired_on(const dataplane::ServiceSnapshot& snapshot, unsigned port_id,
                              const std::vector<Address>& held, std::vector<Address>& before, Announce announce);
    // Route health injection (announce_path.cpp): the announcer follows `config`'s announce:
    // section, and each VIP's availability; what the kernel refuses is logged once and retried.
    void configure_announce(const Config& config);
    void note_announce_problem(const std::string& problem);
    // Connection sync (sync_path.cpp): a worker's two rings, the daemon following `config`, and
    // the control loop's turn of moving records between them.
    std::string create_sync_rings(dataplane::WorkerContext& w, int socket);
    void configure_sync(const Config& config);
    void poll_sync();
    void steer_to_owners();   // at start: chooses the owner function
    void resteer_vips();      // after a reload: the VIPs' rules, never the owner function
    // The multicast groups of the ports that refuse allmulticast (their addresses' and the VIPs'
    // solicited-node groups, VRRP, the sync group), at start and after each reload.
    void list_multicast();
    void update_overload();
    void log_counters() const;
    void log_service_table(const Config& config) const;
    RealServerCounts connection_counts(const ServiceConfig& s, const RealServerConfig& rs) const;

    Config config_;
    std::string config_path_;
    std::map<uint32_t, TrafficStats> service_zero_, real_server_zero_;  // ipvsadm -Z
    std::map<uint32_t, RateEstimate> service_rates_, real_server_rates_;
    Metrics metrics_;
    std::unique_ptr<ConsoleServer> console_;
    std::unique_ptr<MetricsServer> metrics_server_ = std::make_unique<MetricsServer>();
    bool listeners_changed_ = false;
    InterfacePorts interface_ports_;
    std::map<uint16_t, uint16_t> rx_queue_counts_;  // port id -> RX queues
    std::vector<uint16_t> device_ports_;            // each device's port, once, however many VLANs it carries
    std::vector<std::string> silenced_links_;       // af_packet links whose kernel was told to keep quiet
    StableIds ids_;
    uint64_t generation_ = 0;
    dataplane::DataplaneShared shared_;
    std::unique_ptr<SnapshotPublisher> publisher_;
    std::unique_ptr<dataplane::NeighborTable> neighbors_;
    std::unique_ptr<dataplane::Neighbor6Table> neighbors6_;
    std::unique_ptr<dataplane::PersistenceTable> templates_;
    std::vector<std::unique_ptr<dataplane::WorkerContext>> workers_;
    std::vector<unsigned> worker_lcores_;
    dataplane::Steering steering_;
    std::map<uint16_t, bool> multicast_listed_;   // ports given a multicast list: whether it was refused
    std::vector<std::unique_ptr<sched::LocalityTable>> locality_tables_;
    std::vector<uint16_t> kernel_ports_;              // TAP ports of the exception path
    std::vector<KernelRoute> kernel_routes_;       // the ones this process added
    std::vector<SavedSetting> kernel_settings_;    // sysctls changed, to put back at stop
    HealthMonitor health_;
    sync::SyncDaemon sync_;
    AddressWatch address_watch_;
    std::array<std::vector<rte_be32_t>, max_ports> announced_;  // kernel-held addresses GARP went out for
    std::array<std::vector<dataplane::Ipv6Address>, max_ports> announced6_;  // and IPv6 ones, advertised
    RouteAnnouncer announcer_;
    std::string announce_problem_;  // what the kernel last refused, "" once all went through
    EventBus events_;
    std::map<IpAddress, bool> vip_available_;  // as of the last publication
    std::map<HealthTarget, std::unique_ptr<HealthCheckTimer>> health_timers_;
    std::map<ServiceKey, SorryState> sorry_;
    bool running_ = false;
};

}  // namespace fulcrum::control
