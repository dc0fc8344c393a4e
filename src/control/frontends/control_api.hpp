// What the console (and later the metrics endpoints) may ask of the director. The director
// implements it; everything runs on the control core, so no call needs a lock.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "control/config/config.hpp"
#include "common/counters.hpp"
#include "control/sync/daemon.hpp"

namespace fulcrum::control {

// Counters as ipvsadm --stats shows them, summed over workers.
struct TrafficStats {
    uint64_t conns = 0;       // connections scheduled
    uint64_t in_packets = 0;  // client -> real server
    uint64_t out_packets = 0; // real server -> client (NAT only: DR/TUN replies bypass the director)
    uint64_t in_bytes = 0;
    uint64_t out_bytes = 0;
};

// Rates over the estimator's window (per second), as ipvsadm --rate.
struct TrafficRates {
    uint64_t cps = 0;
    uint64_t in_pps = 0;
    uint64_t out_pps = 0;
    uint64_t in_bps = 0;      // bytes per second, as IPVS
    uint64_t out_bps = 0;
};

struct RealServerStatus {
    RealServerConfig config;  // with the weight now in force
    uint32_t active = 0;      // ActiveConn
    uint32_t inactive = 0;    // InActConn
    uint32_t persistent = 0;  // PersistConn: its live persistence templates (count_templates)
    bool overloaded = false;
    TrafficStats stats;
    TrafficRates rates;
};

struct ServiceStatus {
    ServiceConfig config;     // real_servers left empty: see real_servers below
    TrafficStats stats;
    TrafficRates rates;
    std::vector<RealServerStatus> real_servers;
};

// A pool of packet buffers: how many it has and how many are taken (by the ports' queues, the
// workers' staging, packets held for ARP or handed off). Growth at rest is a leak.
struct PoolStatus {
    std::string name;
    uint32_t size = 0;
    uint32_t in_use = 0;
};

// What a worker shows besides its counters: the connections live in its table and the
// defences' levels as IPVS shows its sysctls (0 never, 1 automatic and off, 2 automatic and on,
// 3 always). `summed`: show workers gives a total.
// (No name but a drop reason's begins with drop_: the levels are level_NAME.)
#define FULCRUM_WORKER_GAUGES(X)                                                   \
    X(connections, true, "connections live in the worker's table")                 \
    X(level_drop_entry, false, "the drop_entry defence's level")                   \
    X(level_drop_packet, false, "the drop_packet defence's level")                 \
    X(level_secure_tcp, false, "the secure_tcp defence's level")                   \
    X(level_flood_mode, false, "flood_mode's level")

struct WorkerStatus {
    unsigned worker = 0;
    unsigned lcore = 0;
    dataplane::WorkerCounters counters;  // FULCRUM_WORKER_COUNTERS and the drops by reason
#define FULCRUM_GAUGE_FIELD(name, summed, text) uint64_t name = 0;
    FULCRUM_WORKER_GAUGES(FULCRUM_GAUGE_FIELD)
#undef FULCRUM_GAUGE_FIELD
};

struct WorkerGauge {
    std::string_view name;
    bool summed;
    std::string_view description;
    uint64_t WorkerStatus::*field;
};
inline constexpr std::array worker_gauges = {
#define FULCRUM_GAUGE(name, summed, text) WorkerGauge{#name, summed, text, &WorkerStatus::name},
    FULCRUM_WORKER_GAUGES(FULCRUM_GAUGE)
#undef FULCRUM_GAUGE
};

// Every value a worker shows, by the one name the console, the stop log, telemetry and
// Prometheus use: the counters, the gauges, then drop_REASON for each drop reason.
std::vector<std::pair<std::string, uint64_t>> worker_values(const WorkerStatus& w);

// A value's name as DPDK 22.11's telemetry takes it: letters, digits, '_' and '/' only, so any
// other byte becomes '_' (today's names have none: the mapping is the identity, and a test says so).
std::string telemetry_name(std::string_view name);

// One connection as ipvsadm -L -n -c shows it.
struct ConnectionRow {
    Protocol protocol = Protocol::tcp;
    uint32_t expires_in_seconds = 0;
    std::string state;        // "ESTABLISHED", ... ; "UDP" for UDP as ipvsadm
    // Of either family (a tunnelled service's real server may be of the other one).
    IpAddress client;
    uint16_t client_port = 0;
    IpAddress vip;
    uint16_t vport = 0;
    IpAddress real_server;
    uint16_t real_port = 0;
};

enum class HealthState : uint8_t {
    up,
    down,            // out of the table (on_failure: remove)
    quiesced,        // at weight 0 (on_failure: quiesce)
    sorry_active,    // a sorry server standing in: none of the real servers is up
    sorry_standby,
};

constexpr std::string_view health_state_name(HealthState s)
{
    switch (s) {
    case HealthState::up: return "up";
    case HealthState::down: return "down";
    case HealthState::quiesced: return "quiesced";
    case HealthState::sorry_active: return "active";
    case HealthState::sorry_standby: return "standby";
    }
    return "up";
}

// One line of "show health": a real server's check, or a service's sorry server.
struct HealthRow {
    Protocol protocol = Protocol::tcp;
    IpAddress vip;
    uint16_t vport = 0;
    IpAddress address;
    uint16_t port = 0;
    std::string check;               // "none", "tcp", "http"; "sorry" for a sorry server
    HealthState state = HealthState::up;
    std::optional<uint32_t> weight;  // in force; none when the server is not in the table
    std::chrono::system_clock::time_point changed;  // the last change of state
    std::string last_result;         // "ok", "failed", or "" before the first check
    std::string reason;              // of the last check
};

// Connection sync as configured, what is running, and its counters (ipvsadm -L --daemon, show sync).
struct SyncStatus {
    SyncConfig config;
    bool sending = false;
    bool receiving = false;
    std::string kernel_interface;
    sync::SyncCounters counters;
};

// Route health injection as configured, and each VIP's availability and route (show announce).
struct AnnounceStatus {
    AnnounceConfig config;
    std::string kernel_interface;
    struct Vip {
        IpAddress address;
        bool available = false;
        bool announced = false;  // its route is in the kernel's table
        bool operator==(const Vip&) const = default;
    };
    std::vector<Vip> vips;      // every VIP, in address order (IPv4 before IPv6)
    std::string problem;        // what the kernel last refused, "" if nothing
};

// One interface as `show interfaces` shows it: the configuration's side, and its port's now.
struct InterfaceStatus {
    InterfaceConfig config;
    uint16_t port = 0;
    std::string mac;             // "02:00:00:00:00:01"
    bool link_up = false;
    uint32_t speed_mbps = 0;     // 0: the port does not say
    uint16_t mtu = 0;            // the port's
    uint64_t rx_packets = 0, rx_bytes = 0, rx_missed = 0, rx_errors = 0, rx_no_mbuf = 0;
    uint64_t tx_packets = 0, tx_bytes = 0, tx_errors = 0;
};

// One resolved neighbour (ARP, or the file's neighbors:) as `show neighbors` shows it.
struct NeighborRow {
    IpAddress ip;
    std::string mac;
    std::string interface;       // the configuration's name
    bool is_static = false;
};

// Where a listing of every connection goes on from (ipvsadm -L -c, page after page): a worker
// and a slot of its table. `end` once every worker has been read through.
struct ConnectionCursor {
    size_t worker = 0;
    uint32_t slot = 0;
    bool end = false;
};

class ControlApi {
public:
    virtual ~ControlApi() = default;

    // The configuration in force (the file's, with console changes applied since).
    virtual const Config& running_config() const = 0;

    // Publishes `next` through the one path every change takes (validate, build the snapshot,
    // swap, wait for the workers). Returns "" or what was refused; on refusal nothing changed.
    // `what` says where the change came from, for the log.
    virtual std::string apply(const Config& next, std::string_view what) = 0;

    // As SIGHUP: reads and validates the file, then applies it. Returns "" or every problem,
    // one per line (FILE:LINE:COLUMN: ...).
    virtual std::string reload() = 0;

    virtual std::vector<ServiceStatus> services() const = 0;
    // ipvsadm -L --persistent-conn: each real server's live persistence templates, set in
    // `services` (from services()). Reads the whole template table: on demand only.
    virtual void count_templates(std::vector<ServiceStatus>& services) const = 0;
    virtual std::vector<WorkerStatus> workers() const = 0;
    // Up to `limit` connections, gathered from the workers.
    virtual std::vector<ConnectionRow> connections(size_t limit) = 0;
    // Up to `limit` connections from `cursor` on, which moves past them (to `end` after the
    // last). Pages are read one after another, not at one instant, as /proc/net/ip_vs_conn is.
    virtual std::vector<ConnectionRow> connections_from(ConnectionCursor& cursor, size_t limit) = 0;
    // ipvsadm -Z: traffic counters back to zero, of every service and real server, or of one
    // service (`only`) and its real servers.
    virtual void zero_counters(const ServiceConfig* only = nullptr) = 0;
    // The connection table size per worker, for ipvsadm's title line.
    virtual uint32_t table_size() const = 0;
    // Every real server's health, service by service, each followed by its sorry server if any.
    virtual std::vector<HealthRow> health() const = 0;
    virtual SyncStatus sync_status() const = 0;
    virtual AnnounceStatus announce_status() const = 0;
    // Every interface, in the configuration's order.
    virtual std::vector<InterfaceStatus> interfaces() const = 0;
    // Every resolved neighbour.
    virtual std::vector<NeighborRow> neighbors() const = 0;
};

}  // namespace fulcrum::control
