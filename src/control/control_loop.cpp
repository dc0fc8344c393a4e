#include "control/control_loop.hpp"

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>
#include <rte_timer.h>

#include <algorithm>
#include <numeric>
#include <chrono>
#include <thread>

#include "control/config_yaml.hpp"
#include "control/ipvsadm_format.hpp"
#include "control/log.hpp"
#include "dataplane/arp.hpp"
#include "dataplane/port.hpp"
#include "dataplane/steering.hpp"
#include "dataplane/worker.hpp"

namespace fulcrum::control {

using namespace fulcrum::dataplane;

namespace {

constexpr unsigned mbuf_cache_size = 256;
constexpr unsigned neighbor_capacity = 4096;
constexpr unsigned neighbor_ring_size = 1024;
constexpr unsigned control_ring_size = 512;
constexpr unsigned handoff_ring_size = 4096;
// Per TAP queue: the kernel's traffic is light, and net_tap takes an mbuf for every RX
// descriptor from the shared pool at start.
constexpr uint16_t kernel_queue_descriptors = 128;
constexpr uint32_t persistence_slots = 1u << 20;  // 16 MB, shared by the workers
// The kernel's gc_stale_time: a learned neighbour unused and unheard for this long is forgotten.
constexpr uint32_t neighbor_stale_seconds = 60;
// Old snapshots that may wait for their readers at once: far more than health flaps and reloads
// publish within the few microseconds a worker takes to pass a quiescent state.
constexpr uint32_t snapshot_queue_size = 64;
constexpr auto control_period = std::chrono::milliseconds(1);
constexpr auto overload_period = std::chrono::milliseconds(100);
constexpr auto estimator_period = std::chrono::seconds(2);
// lblc/lblcr: addresses remembered per worker and service, forgotten after a day unused
// (the kernel's default expiration).
constexpr uint32_t locality_entries = 16384;
constexpr uint64_t locality_expiry = 24ull * 3600 * ticks_per_second;

std::string dpdk_failure(const std::string& what) { return what + ": " + rte_strerror(rte_errno); }

rte_ether_addr to_ether(const MacAddress& mac)
{
    rte_ether_addr e;
    std::copy(mac.begin(), mac.end(), e.addr_bytes);
    return e;
}

MacAddress from_ether(const rte_ether_addr& e)
{
    MacAddress mac;
    std::copy(e.addr_bytes, e.addr_bytes + RTE_ETHER_ADDR_LEN, mac.begin());
    return mac;
}

// What a reload may not change: it would need new ports, lcores or EAL memory.
std::vector<std::string> fixed_settings_changed(const Config& running, const Config& next)
{
    std::vector<std::string> changed;
    if (running.dataplane.workers != next.dataplane.workers) changed.push_back("dataplane.workers");
    if (running.dataplane.eal != next.dataplane.eal) changed.push_back("dataplane.eal");
    if (running.dataplane.conn_table_size != next.dataplane.conn_table_size)
        changed.push_back("dataplane.conn_table_size");
    if (running.dataplane.mbufs != next.dataplane.mbufs) changed.push_back("dataplane.mbufs");
    if (running.dataplane.kernel_rate_limit != next.dataplane.kernel_rate_limit)
        changed.push_back("dataplane.kernel_rate_limit");
    if (running.dataplane.icmp_rate_limit != next.dataplane.icmp_rate_limit)
        changed.push_back("dataplane.icmp_rate_limit");
    bool interfaces_same = running.interfaces.size() == next.interfaces.size();
    for (size_t i = 0; interfaces_same && i < running.interfaces.size(); ++i) {
        const InterfaceConfig& a = running.interfaces[i];
        const InterfaceConfig& b = next.interfaces[i];
        interfaces_same = a.name == b.name && a.device == b.device && a.addresses == b.addresses &&
                          a.mtu == b.mtu && a.queues == b.queues && a.kernel_interface == b.kernel_interface;
    }
    if (!interfaces_same) changed.push_back("interfaces");
    return changed;
}

HealthTarget target_of(const ServiceConfig& s, const RealServerConfig& rs) { return key_of(s, rs); }

std::string describe_target(const HealthTarget& t)
{
    return fmt::format("{} {} real server {}", protocol_label(t.service.protocol), format_ipv4_port(t.service.vip, t.service.port),
                       format_ipv4_port(t.address, t.port));
}

RealServerConfig sorry_server_entry(const SorryServerConfig& sorry)
{
    RealServerConfig stand_in;
    stand_in.address = sorry.address;
    stand_in.port = sorry.port;
    stand_in.weight = 1;
    stand_in.forward = ForwardMethod::nat;
    return stand_in;
}

Config with_sorry_servers(const Config& config)
{
    Config all = config;
    for (ServiceConfig& s : all.services)
        if (s.sorry_server) s.real_servers.push_back(sorry_server_entry(*s.sorry_server));
    return all;
}

void next_health_check(rte_timer*, void* arg)
{
    auto* h = static_cast<HealthCheckTimer*>(arg);
    h->monitor->start_check(h->target, HealthMonitor::Clock::now());
}

void first_health_check(rte_timer* timer, void* arg)
{
    next_health_check(timer, arg);
    auto* h = static_cast<HealthCheckTimer*>(arg);
    if (rte_timer_reset(timer, h->interval_ms * rte_get_timer_hz() / 1000, PERIODICAL, rte_lcore_id(), next_health_check,
                        arg) != 0)
        log::error("health: cannot arm the check timer of {}", describe_target(h->target));
}

}  // namespace

Director::~Director() { stop(); }

std::string Director::start(const Config& config, const std::string& config_path)
{
    // The director's own subscriber: a VIP's availability in the log.
    events_.subscribe([](const DirectorEvent& event) {
        if (const auto* v = std::get_if<VipAvailability>(&event))
            log::info("VIP {} is {}", format_ipv4(v->vip),
                      v->available ? "available: a service has a usable real server"
                                   : "unavailable: none of its services has a usable real server");
    });
    config_ = config;
    config_path_ = config_path;
    shared_.tsc_hz = rte_get_tsc_hz();
    shared_.tsc_per_tick = shared_.tsc_hz / ticks_per_second;
    const unsigned workers = config.dataplane.workers;
    const int socket = static_cast<int>(rte_socket_id());
    // Health checks are started by timers the control loop manages.
    if (int rc = rte_timer_subsystem_init(); rc != 0 && rc != -EALREADY)
        return fmt::format("cannot start the timer subsystem: {}", rte_strerror(-rc));

    for (unsigned lcore = rte_get_next_lcore(-1, 1, 0); lcore < RTE_MAX_LCORE;
         lcore = rte_get_next_lcore(lcore, 1, 0))
        worker_lcores_.push_back(lcore);
    if (worker_lcores_.size() < workers)
        return fmt::format("{} workers configured but EAL has {} worker lcores", workers,
                           worker_lcores_.size());

    shared_.pool = rte_pktmbuf_pool_create("mbufs", config.dataplane.mbufs, mbuf_cache_size, 0,
                                           RTE_MBUF_DEFAULT_BUF_SIZE, socket);
    if (shared_.pool == nullptr) return dpdk_failure("cannot create the mbuf pool");
    // Fragments of tunnelled packets point into the original's data (no copy): they need
    // data-less mbufs of their own.
    shared_.indirect_pool = rte_pktmbuf_pool_create(
        "indirect", std::max(1024u, config.dataplane.mbufs / 4), mbuf_cache_size / 4, 0, 0, socket);
    if (shared_.indirect_pool == nullptr) return dpdk_failure("cannot create the indirect mbuf pool");

    // From here on stop() has something to undo (ports, TAP interfaces, sysctls), even when
    // start-up fails half-way.
    running_ = true;
    for (const InterfaceConfig& iface : config.interfaces) {
        auto port_id = find_port(iface.device);
        if (!port_id) return fmt::format("interface {}: EAL created no port for device \"{}\"", iface.name, iface.device);
        if (*port_id >= max_ports)
            return fmt::format("interface {}: port id {} is beyond the {} ports supported", iface.name, *port_id, max_ports);
        const uint16_t rx_queues = iface.queues != 0 ? iface.queues : static_cast<uint16_t>(workers);
        interface_ports_[iface.name] = *port_id;
        if (auto e = port_start(*port_id, rx_queues, static_cast<uint16_t>(workers), iface.mtu, shared_.pool); !e.empty())
            return fmt::format("interface {} ({}): {}", iface.name, iface.device, e);
        rx_queue_counts_[*port_id] = rx_queues;

        PortInfo& info = shared_.ports[*port_id];
        info.port_id = *port_id;
        info.name = iface.name;
        info.mtu = iface.mtu;
        info.addresses = iface.addresses;
        for (const Ipv4Prefix& prefix : iface.addresses) {
            info.local_ips.push_back(rte_cpu_to_be_32(prefix.address));
            shared_.local_ips.push_back(rte_cpu_to_be_32(prefix.address));
        }
        rte_eth_macaddr_get(*port_id, &info.mac);
        shared_.port_count = std::max<unsigned>(shared_.port_count, *port_id + 1u);
        log::info("interface {} is port {} ({}), MAC {}, {} RX and {} TX queue(s)", iface.name, *port_id,
                  iface.device, format_mac(from_ether(info.mac)), rx_queues, workers);
        if (!iface.kernel_interface.empty())
            if (auto e = start_kernel_interface(iface, *port_id); !e.empty())
                return fmt::format("interface {}: kernel interface {}: {}", iface.name, iface.kernel_interface, e);
    }
    sync_kernel_routes(config);
    std::sort(shared_.local_ips.begin(), shared_.local_ips.end());

    neighbors_ = NeighborTable::create("neighbors", neighbor_capacity, socket);
    if (!neighbors_) return dpdk_failure("cannot create the neighbour table");
    shared_.neighbors = neighbors_.get();
    shared_.neighbor_updates = rte_ring_create_elem("neighbor_updates", sizeof(NeighborUpdate),
                                                    neighbor_ring_size, socket, RING_F_SC_DEQ);
    if (shared_.neighbor_updates == nullptr) return dpdk_failure("cannot create the neighbour ring");

    shared_.overloaded = std::make_unique<std::atomic<bool>[]>(max_real_servers_per_process);
    templates_ = std::make_unique<PersistenceTable>();
    if (!templates_->init(persistence_slots, socket)) return "cannot allocate the persistence templates";
    shared_.templates = templates_.get();

    const size_t rcu_size = rte_rcu_qsbr_get_memsize(workers);
    shared_.rcu = static_cast<rte_rcu_qsbr*>(rte_zmalloc("rcu", rcu_size, RTE_CACHE_LINE_SIZE));
    if (shared_.rcu == nullptr || rte_rcu_qsbr_init(shared_.rcu, workers) != 0)
        return dpdk_failure("cannot create the RCU state");
    publisher_ = std::make_unique<SnapshotPublisher>(shared_.snapshot, shared_.rcu, snapshot_queue_size);
    if (!publisher_->error().empty()) return publisher_->error();

    if (auto e = set_rate_limits(shared_, config.dataplane.kernel_rate_limit, config.dataplane.icmp_rate_limit);
        !e.empty())
        return e;

    // Packets for a connection another worker owns are passed on through a ring per pair.
    shared_.worker_count = workers;
    shared_.handoff_rings.assign(size_t{workers} * workers, nullptr);
    for (unsigned from = 0; from < workers && workers > 1; ++from)
        for (unsigned to = 0; to < workers; ++to) {
            if (from == to) continue;
            const std::string name = fmt::format("handoff_{}_{}", from, to);
            rte_ring* ring = rte_ring_create(name.c_str(), handoff_ring_size, socket, RING_F_SP_ENQ | RING_F_SC_DEQ);
            if (ring == nullptr) return dpdk_failure("cannot create ring " + name);
            shared_.handoff_rings[from * workers + to] = ring;
        }

    for (unsigned i = 0; i < workers; ++i) {
        auto w = std::make_unique<WorkerContext>();
        w->worker_id = i;
        w->shared = &shared_;
        w->tx_queue = static_cast<uint16_t>(i);
        // RX queue q of every port goes to worker q mod workers.
        for (const auto& [port_id, rx_queues] : rx_queue_counts_)
            for (uint16_t q = static_cast<uint16_t>(i); q < rx_queues; q = static_cast<uint16_t>(q + workers))
                w->rx_queues.push_back({port_id, q});
        // A multi-queue TAP spreads the kernel's frames over all its queues: each worker takes one.
        for (const auto& [name, port_id] : interface_ports_)
            if (const uint16_t tap = shared_.ports[port_id].kernel_port; tap != no_port)
                w->kernel_queues.push_back({tap, static_cast<uint16_t>(i), port_id});
        const std::string ring_name = "from_control_" + std::to_string(i);
        w->from_control = rte_ring_create(ring_name.c_str(), control_ring_size, socket,
                                          RING_F_SP_ENQ | RING_F_SC_DEQ);
        if (w->from_control == nullptr) return dpdk_failure("cannot create ring " + ring_name);
        if (auto e = worker_prepare(*w, config.dataplane.conn_table_size, socket); !e.empty()) return e;
        workers_.push_back(std::move(w));
    }

    if (auto e = publish(config); !e.empty()) return e;
    configure_health(config);
    if (workers > 1) steer_to_owners();
    for (const NeighborConfig& n : config.neighbors)
        neighbors_->update(rte_cpu_to_be_32(n.ip), to_ether(n.mac), 0, true);

    for (unsigned i = 0; i < workers; ++i) {
        if (rte_eal_remote_launch(worker_main, workers_[i].get(), worker_lcores_[i]) != 0)
            return fmt::format("cannot launch worker {} on lcore {}", i, worker_lcores_[i]);
        log::info("worker {} runs on lcore {}", i, worker_lcores_[i]);
    }
    announce_addresses();
    metrics_.register_telemetry();
    metrics_.update(services(), this->workers(), health(), pools());
    if (auto e = open_listeners(config); !e.empty()) return e;
    return {};
}

std::string Director::open_listeners(const Config& config)
{
    console_.reset();
    if (!config.console_listen.empty()) {
        ConsoleOptions options;
        options.listen = config.console_listen;
        options.log = [](std::string_view message) { log::info("{}", message); };
        console_ = std::make_unique<ConsoleServer>(*this, options);
        if (auto e = console_->start(); !e.empty()) {
            console_.reset();
            return e;
        }
        log::info("console on {} (try: printf 'show services\\n' | nc -q1 {} {})", config.console_listen,
                  config.console_listen.substr(0, config.console_listen.rfind(':')),
                  config.console_listen.substr(config.console_listen.rfind(':') + 1));
    }
    metrics_server_ = std::make_unique<MetricsServer>();
    if (!config.metrics_listen.empty()) {
        if (auto e = metrics_server_->listen(config.metrics_listen); !e.empty())
            return fmt::format("metrics.listen {}: {}", config.metrics_listen, e);
        log::info("Prometheus metrics on http://{}/metrics", config.metrics_listen);
    }
    return {};
}

std::string Director::publish(const Config& config)
{
    const Config effective = effective_config(config);
    SnapshotResult built = build_snapshot(effective, interface_ports_, ids_, ++generation_);
    if (!built.snapshot) return built.error;
    // lblc and lblcr remember addresses in a table of each worker's own. A service's cursor is
    // read by workers only once a snapshot naming the service is published, and the pointer is
    // a field no worker writes, so it can be set here, before the exchange that publishes it.
    for (const ServiceEntry& service : built.snapshot->services) {
        if (service.sched.kind != sched::Kind::lblc && service.sched.kind != sched::Kind::lblcr) continue;
        for (auto& w : workers_) {
            sched::SchedCursor& cursor = w->cursors[service.id];
            if (cursor.locality != nullptr) continue;
            locality_tables_.push_back(std::make_unique<sched::LocalityTable>(locality_entries, locality_expiry));
            cursor.locality = locality_tables_.back().get();
        }
    }
    // Never waits for the workers: the old snapshot is freed on a later tick, once each has
    // passed a quiescent state (SnapshotPublisher).
    publisher_->publish(std::move(built.snapshot));
    events_.raise(SnapshotPublished{generation_});
    std::map<Ipv4, bool> available = vip_availability(config, effective);
    for (const VipAvailability& change : availability_changes(vip_available_, available)) events_.raise(change);
    vip_available_ = std::move(available);
    log::info("published configuration generation {}: {} service(s)", generation_, config.services.size());
    log_service_table(effective);
    std::erase_if(sorry_, [&](const auto& entry) {
        return std::none_of(config.services.begin(), config.services.end(), [&](const ServiceConfig& s) {
            return s.sorry_server && s.key() == entry.first;
        });
    });
    for (const ServiceConfig& s : config.services) {
        if (!s.sorry_server) continue;
        SorryState& sorry = sorry_[s.key()];
        const bool active = sorry_server_active(s);
        if (active == sorry.active) continue;
        sorry = {active, std::chrono::system_clock::now()};
        log::info("health: {} {}:{} sorry server {}:{} is {}", protocol_label(s.protocol),
                  format_ipv4(s.vip), s.port,
                  format_ipv4(s.sorry_server->address), s.sorry_server->port,
                  active ? "active: none of the real servers is up" : "standing by: a real server is up");
    }
    return {};
}

bool Director::sorry_server_active(const ServiceConfig& s) const
{
    return s.sorry_server && std::none_of(s.real_servers.begin(), s.real_servers.end(), [&](const RealServerConfig& rs) {
               return health_.is_up(target_of(s, rs));
           });
}

HealthState Director::health_state(const ServiceConfig& s, const RealServerConfig& rs) const
{
    if (health_.is_up(target_of(s, rs))) return HealthState::up;
    // ldirectord's quiescent: the server stays, with its connections, at weight 0.
    return rs.health_check.on_failure == OnFailure::quiesce ? HealthState::quiesced : HealthState::down;
}

Config Director::effective_config(const Config& config) const
{
    Config effective = config;
    for (ServiceConfig& s : effective.services) {
        const bool sorry = sorry_server_active(s);
        std::erase_if(s.real_servers, [&](RealServerConfig& rs) {
            const HealthState state = health_state(s, rs);
            if (state == HealthState::quiesced) rs.weight = 0;
            return state == HealthState::down;
        });
        if (sorry) s.real_servers.push_back(sorry_server_entry(*s.sorry_server));
    }
    return effective;
}

void Director::configure_health(const Config& config)
{
    health_.configure(config);
    std::map<HealthTarget, std::unique_ptr<HealthCheckTimer>> kept;
    for (const auto& [target, status] : health_.statuses()) {
        if (status.check.type == HealthCheckType::none) continue;
        auto it = health_timers_.find(target);
        if (it != health_timers_.end() && it->second->interval_ms == status.check.interval_ms) {
            kept.emplace(target, std::move(it->second));
            continue;
        }
        auto timer = std::make_unique<HealthCheckTimer>();
        rte_timer_init(&timer->timer);
        timer->monitor = &health_;
        timer->target = target;
        timer->interval_ms = status.check.interval_ms;
        // The first check comes after a tenth of the interval, the next ones every interval.
        const uint64_t first = std::max<uint64_t>(1, timer->interval_ms * rte_get_timer_hz() / 10000);
        if (rte_timer_reset(&timer->timer, first, SINGLE, rte_lcore_id(), first_health_check, timer.get()) != 0)
            log::error("health: cannot arm the check timer of {}", describe_target(target));
        kept.emplace(target, std::move(timer));
    }
    // Those not kept (gone, or with a new interval); moved-from entries are null.
    for (auto& [target, timer] : health_timers_)
        if (timer) rte_timer_stop_sync(&timer->timer);
    health_timers_ = std::move(kept);
}

void Director::poll_health()
{
    const std::vector<HealthChange> changes = health_.poll(HealthMonitor::Clock::now());
    if (changes.empty()) return;
    for (const HealthChange& c : changes) {
        const auto status = health_.statuses().find(c.target);
        const bool quiesce = status != health_.statuses().end() && status->second.check.on_failure == OnFailure::quiesce;
        const std::string_view action = c.up ? "back in the table" : quiesce ? "quiesced: weight 0" : "removed";
        log::info("health: {} is {} ({}): {}", describe_target(c.target), c.up ? "up" : "down", action, c.reason);
    }
    // The same path as every other change: a new snapshot, published through RCU.
    if (auto e = publish(config_); !e.empty()) log::error("health: cannot publish the change: {}", e);
    for (const HealthChange& c : changes) events_.raise(HealthChanged{c.target, c.up, c.reason});
    metrics_.update(services(), workers(), health(), pools());
}

std::string Director::start_kernel_interface(const InterfaceConfig& iface, uint16_t port_id)
{
    PortInfo& info = shared_.ports[port_id];
    const std::string vdev = fmt::format("net_tap_fulcrum{}", kernel_ports_.size());
    uint16_t tap = 0;
    if (auto e = port_create_tap(vdev, iface.kernel_interface, from_ether(info.mac), tap); !e.empty()) return e;
    if (tap >= max_ports) return fmt::format("port id {} is beyond the {} ports supported", tap, max_ports);
    kernel_ports_.push_back(tap);
    // Before the interface comes up: no router solicitation or MLD report may leave first.
    kernel_interface_disable_ipv6(iface.kernel_interface);
    const auto queues = static_cast<uint16_t>(config_.dataplane.workers);
    if (auto e = port_start(tap, queues, queues, iface.mtu, shared_.pool, kernel_queue_descriptors); !e.empty()) return e;
    if (auto e = kernel_interface_setup(iface.kernel_interface, iface.addresses); !e.empty()) return e;
    if (const std::string shared = af_packet_interface(iface.device); !shared.empty()) {
        if (auto e = kernel_interface_silence(shared, kernel_settings_); !e.empty()) return e;
        log::info("interface {}: the kernel no longer answers on {} (reverse-path filter strict, ARP ignored): "
                  "its addresses are on {} now", iface.name, shared, iface.kernel_interface);
    }
    PortInfo& kernel = shared_.ports[tap];
    kernel.port_id = tap;
    kernel.name = iface.kernel_interface;
    kernel.mac = info.mac;
    kernel.mtu = iface.mtu;
    info.kernel_port = tap;
    shared_.port_count = std::max<unsigned>(shared_.port_count, tap + 1u);
    log::info("interface {}: kernel interface {} (port {}) has its MAC and addresses: the exception path", iface.name,
              iface.kernel_interface, tap);
    return {};
}

void Director::sync_kernel_routes(const Config& config)
{
    // Through the interface the dataplane's FIB uses for the same route.
    std::vector<KernelRoute> wanted;
    for (const RouteConfig& route : config.routes) {
        const InterfaceConfig* out = interface_holding(config, route.via, route.interface);
        if (out != nullptr && !out->kernel_interface.empty())
            wanted.push_back({route.dst, route.via, out->kernel_interface});
    }
    // Only routes this process added are ever deleted: the host's own are not ours to touch.
    std::vector<KernelRoute> kept;
    for (const KernelRoute& r : kernel_routes_) {
        if (std::find(wanted.begin(), wanted.end(), r) != wanted.end()) {
            kept.push_back(r);
        } else if (auto e = kernel_route_delete(r); !e.empty()) {
            log::warning("exception path: {}", e);
        }
    }
    for (const KernelRoute& r : wanted) {
        if (std::find(kept.begin(), kept.end(), r) != kept.end()) continue;
        bool added = false;
        if (auto e = kernel_route_add(r, added); !e.empty())
            log::warning("exception path: {}", e);
        else if (!added)
            log::warning("exception path: the kernel has a route to {}/{} already; it is left as it is",
                         format_ipv4(r.dst.network()), r.dst.length);
        if (added) kept.push_back(r);
    }
    kernel_routes_ = std::move(kept);
}

std::vector<PoolStatus> Director::pools() const
{
    std::vector<PoolStatus> out;
    for (const rte_mempool* pool : {shared_.pool, shared_.indirect_pool})
        if (pool != nullptr) out.push_back({pool->name, pool->size, rte_mempool_in_use_count(pool)});
    return out;
}

std::vector<HealthRow> Director::health() const
{
    std::vector<HealthRow> rows;
    for (const ServiceConfig& s : config_.services) {
        for (const RealServerConfig& rs : s.real_servers) {
            HealthRow row{s.protocol, s.vip, s.port, rs.address, rs.port};
            const auto it = health_.statuses().find(target_of(s, rs));
            row.check = health_check_type_name(it != health_.statuses().end() ? it->second.check.type : HealthCheckType::none);
            row.state = health_state(s, rs);
            if (row.state == HealthState::up) row.weight = rs.weight;
            if (row.state == HealthState::quiesced) row.weight = 0;
            if (it != health_.statuses().end()) {
                row.changed = it->second.changed;
                row.last_result = it->second.last_result;
                row.reason = it->second.reason;
            }
            rows.push_back(std::move(row));
        }
        if (s.sorry_server) {
            HealthRow row{s.protocol, s.vip, s.port, s.sorry_server->address, s.sorry_server->port};
            row.check = "sorry";
            const bool active = sorry_server_active(s);
            row.state = active ? HealthState::sorry_active : HealthState::sorry_standby;
            if (active) row.weight = 1;
            if (auto it = sorry_.find(s.key()); it != sorry_.end()) row.changed = it->second.changed;
            row.reason = active ? "none of the real servers is up" : "a real server is up";
            rows.push_back(std::move(row));
        }
    }
    return rows;
}

void Director::steer_to_owners()
{
    // Hardware steering replaces the hand-off only when every port can do it: a connection's
    // two directions usually arrive on different ports.
    const ServiceSnapshot* snapshot = shared_.snapshot.load(std::memory_order_acquire);
    std::string why;
    steering_.clear();
    for (const auto& [port_id, rx_queues] : rx_queue_counts_) {
        auto s = std::make_unique<PortSteering>();
        why = s->install(port_id, snapshot->vips, rx_queues);
        if (!why.empty()) break;
        steering_.push_back(std::move(s));
    }
    if (why.empty() && config_.dataplane.workers == rx_queue_counts_.begin()->second) {
        shared_.hardware_steering = true;
        log::info("rte_flow steers each client to its worker's queue on every port: no hand-off");
        return;
    }
    steering_.clear();
    shared_.hardware_steering = false;
    log::info("software hand-off between workers ({})", why.empty() ? "RX queues differ from workers" : why);
}

void Director::log_service_table(const Config& config) const
{
    // A big table is the console's to show ("show services"), not the log's.
    constexpr size_t max_logged_services = 50;
    if (config.services.size() > max_logged_services) {
        log::info("{} services, {} real servers (the table is in the console: show services)", config.services.size(),
                  std::accumulate(config.services.begin(), config.services.end(), size_t{0},
                                  [](size_t n, const ServiceConfig& s) { return n + s.real_servers.size(); }));
        return;
    }
    const std::string table = format_ipvsadm_list(config, config.dataplane.conn_table_size,
                                                  [this](const ServiceConfig& s, const RealServerConfig& rs) {
                                                      return connection_counts(s, rs);
                                                  });
    for (size_t start = 0, end; start < table.size(); start = end + 1) {
        end = table.find('\n', start);
        log::info("{}", std::string_view(table).substr(start, end - start));
    }
}

RealServerCounts Director::connection_counts(const ServiceConfig& s, const RealServerConfig& rs) const
{
    // Each worker's counts, summed: a total may be a packet behind, never torn.
    RealServerCounts total;
    const auto service_id = ids_.find_service(s.key());
    if (!service_id) return total;
    const auto id = ids_.find_real_server(key_of(s, rs));
    if (!id) return total;
    for (const auto& w : workers_) {
        total.active += w->conn_counts[*id].active.load(std::memory_order_relaxed);
        total.inactive += w->conn_counts[*id].inactive.load(std::memory_order_relaxed);
    }
    return total;
}

void Director::announce_addresses()
{
    // Gratuitous ARP for our addresses and every VIP, so that neighbours that cached another
    // owner (a previous director) switch to us at once.
    const ServiceSnapshot* snapshot = shared_.snapshot.load(std::memory_order_acquire);
    for (unsigned port_id = 0; port_id < shared_.port_count; ++port_id) {
        const PortInfo& port = shared_.ports[port_id];
        // The kernel behind a TAP port needs no announcement of the addresses the port answers for.
        if (port.name.empty() || std::find(kernel_ports_.begin(), kernel_ports_.end(), port_id) != kernel_ports_.end())
            continue;
        std::vector<rte_be32_t> addresses = port.local_ips;
        addresses.insert(addresses.end(), snapshot->vips.begin(), snapshot->vips.end());
        for (rte_be32_t ip : addresses) {
            rte_mbuf* m = arp_build_request(shared_.pool, port, ip, ip);
            if (m == nullptr || rte_ring_sp_enqueue(workers_[0]->from_control, m) != 0) {
                rte_pktmbuf_free(m);
                log::warning("gratuitous ARP for {} on {} not sent", format_ipv4(rte_be_to_cpu_32(ip)), port.name);
            }
        }
    }
}

uint32_t Director::dataplane_seconds() const
{
    // As the workers count: connection-table ticks of the TSC, then seconds.
    return static_cast<Tick>(rte_rdtsc() / shared_.tsc_per_tick) / ticks_per_second;
}

void Director::learn_neighbors()
{
    NeighborUpdate updates[64];
    unsigned n;
    while ((n = rte_ring_sc_dequeue_burst_elem(shared_.neighbor_updates, updates, sizeof(NeighborUpdate), 64, nullptr)) > 0) {
        for (unsigned i = 0; i < n; ++i) {
            const NeighborUpdate& u = updates[i];
            if (!neighbors_->update(u.ip, u.mac, u.port, false, dataplane_seconds()))
                log::warning("neighbour table full: {} not learned", format_ipv4(rte_be_to_cpu_32(u.ip)));
            else
                log::debug("neighbour {} is at {} on port {}", format_ipv4(rte_be_to_cpu_32(u.ip)),
                           format_mac(from_ether(u.mac)), u.port);
        }
    }
}

std::string Director::apply(const Config& next, std::string_view what)
{
    // The same validator as files, through a round trip: a console edit is held to every rule.
    if (const auto problems = check_config(next, std::string(what)); !problems.empty()) {
        std::vector<std::string> messages;
        for (const ConfigError& e : problems) messages.push_back(e.message);
        return fmt::format("{}", fmt::join(messages, "; "));
    }
    return apply_checked(next, what);
}

std::string Director::apply_checked(const Config& next, std::string_view what)
{
    if (auto changed = fixed_settings_changed(config_, next); !changed.empty())
        return fmt::format("{} cannot change while running (restart to change them)", fmt::join(changed, ", "));
    // Real servers that remain keep their health; new ones start up and are checked from now.
    // Before the snapshot is built: a server whose check the change removes is up in it.
    configure_health(next);
    if (auto e = publish(next); !e.empty()) {
        configure_health(config_);
        return e;
    }
    sync_kernel_routes(next);
    // New listen addresses take effect once the current console command has finished: the
    // console may be the one asking.
    listeners_changed_ = next.console_listen != config_.console_listen || next.metrics_listen != config_.metrics_listen;
    // The rules name the VIPs: a change may have changed them.
    if (shared_.hardware_steering) steer_to_owners();
    for (const NeighborConfig& n : next.neighbors) neighbors_->update(rte_cpu_to_be_32(n.ip), to_ether(n.mac), 0, true);
    config_ = next;
    announce_addresses();
    log::info("applied configuration from {}", what);
    return {};
}

std::string Director::reload()
{
    log::info("reloading {}", config_path_);
    const auto started = std::chrono::steady_clock::now();
    ConfigResult result = load_config_file(config_path_);
    const auto validated = std::chrono::steady_clock::now();
    if (!result.config) {
        std::vector<std::string> lines;
        for (const ConfigError& e : result.errors) {
            log::error("{}", e.to_string());
            lines.push_back(e.to_string());
        }
        log::error("reload refused: {} problem(s) in {}; the running configuration is unchanged",
                   result.errors.size(), config_path_);
        return fmt::format("{}", fmt::join(lines, "\n"));
    }
    if (auto e = apply_checked(*result.config, config_path_); !e.empty()) {
        log::error("reload refused: {}; the running configuration is unchanged", e);
        return e;
    }
    using ms = std::chrono::duration<double, std::milli>;
    const auto done = std::chrono::steady_clock::now();
    log::info("reload of {} published in {:.1f} ms ({:.1f} ms reading and validating the file, {:.1f} ms "
              "building and publishing the snapshot)",
              config_path_, ms(done - started).count(), ms(validated - started).count(), ms(done - validated).count());
    return {};
}

uint32_t Director::table_size() const { return config_.dataplane.conn_table_size; }

TrafficStats Director::summed(std::unique_ptr<TrafficCounters[]> WorkerContext::*table, uint32_t id) const
{
    TrafficStats total;
    for (const auto& w : workers_) {
        const TrafficCounters& c = ((*w).*table)[id];
        total.conns += c.conns.load(std::memory_order_relaxed);
        total.in_packets += c.in_packets.load(std::memory_order_relaxed);
        total.out_packets += c.out_packets.load(std::memory_order_relaxed);
        total.in_bytes += c.in_bytes.load(std::memory_order_relaxed);
        total.out_bytes += c.out_bytes.load(std::memory_order_relaxed);
    }
    return total;
}

TrafficStats Director::service_totals(uint32_t id) const { return summed(&WorkerContext::service_traffic, id); }

TrafficStats Director::real_server_totals(uint32_t id) const { return summed(&WorkerContext::real_server_traffic, id); }

TrafficStats Director::since_zero(const TrafficStats& totals, const std::map<uint32_t, TrafficStats>& zero, uint32_t id)
{
    TrafficStats total = totals;
    // ipvsadm -Z moves the zero, not the workers' counters (only their workers write those).
    if (auto it = zero.find(id); it != zero.end()) {
        total.conns -= it->second.conns;
        total.in_packets -= it->second.in_packets;
        total.out_packets -= it->second.out_packets;
        total.in_bytes -= it->second.in_bytes;
        total.out_bytes -= it->second.out_bytes;
    }
    return total;
}

std::vector<ServiceStatus> Director::services() const
{
    // As ipvsadm shows the table ldirectord keeps: failed servers out or at weight 0, sorry
    // servers in while they stand in.
    std::vector<ServiceStatus> out;
    for (const ServiceConfig& s : effective_config(config_).services) {
        ServiceStatus status;
        status.config = s;
        status.config.real_servers.clear();
        const auto service_id = ids_.find_service(s.key());
        if (service_id) {
            status.stats = since_zero(service_totals(*service_id), service_zero_, *service_id);
            if (auto r = service_rates_.find(*service_id); r != service_rates_.end()) status.rates = r->second.rates;
        }
        for (const RealServerConfig& rs : s.real_servers) {
            RealServerStatus r;
            r.config = rs;
            const RealServerCounts counts = connection_counts(s, rs);
            r.active = counts.active;
            r.inactive = counts.inactive;
            if (service_id) {
                if (const auto id = ids_.find_real_server(key_of(s, rs))) {
                    r.overloaded = shared_.overloaded[*id].load(std::memory_order_relaxed);
                    r.stats = since_zero(real_server_totals(*id), real_server_zero_, *id);
                    if (auto e = real_server_rates_.find(*id); e != real_server_rates_.end()) r.rates = e->second.rates;
                }
            }
            status.real_servers.push_back(r);
        }
        out.push_back(std::move(status));
    }
    return out;
}

std::vector<WorkerStatus> Director::workers() const
{
    std::vector<WorkerStatus> out;
    for (size_t i = 0; i < workers_.size(); ++i) {
        const WorkerContext& w = *workers_[i];
        WorkerStatus s;
        s.worker = w.worker_id;
        s.lcore = worker_lcores_[i];
        // Each 64-bit counter is written by its worker alone and read whole: a copy may be a
        // packet behind, never torn.
        s.counters = w.counters;
        s.connections = w.conns.size();
        s.level_drop_entry = w.defense.drop_entry.load(std::memory_order_relaxed);
        s.level_drop_packet = w.defense.drop_packet.load(std::memory_order_relaxed);
        s.level_secure_tcp = w.defense.secure_tcp.load(std::memory_order_relaxed);
        s.level_flood_mode = w.defense.flood_mode.load(std::memory_order_relaxed);
        out.push_back(std::move(s));
    }
    return out;
}

std::vector<ConnectionRow> Director::connections(size_t limit)
{
    std::vector<ConnectionRow> out;
    for (auto& w : workers_) {
        if (out.size() >= limit) break;
        ConnectionDump& dump = w->dump;
        // A worker still busy with a request given up on is skipped (it finishes that one).
        if (!dump.request(limit - out.size())) continue;
        // A worker copies 4096 slots per loop iteration and does not sleep meanwhile: a table
        // of 2^24 slots takes some 40 ms.
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
        while (!dump.ready() && std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(std::chrono::microseconds(100));
        if (!dump.ready()) {
            dump.cancel();
            continue;
        }
        for (const ConnectionDump::Row& row : dump.rows) {
            ConnectionRow c;
            c.protocol = row.client_key.proto == IPPROTO_TCP ? Protocol::tcp : Protocol::udp;
            c.expires_in_seconds = row.expires_in / ticks_per_second;
            c.state = row.state == TcpState::count ? "UDP" : std::string(tcp_state_name(row.state));
            c.client = rte_be_to_cpu_32(row.client_key.src_ip);
            c.client_port = rte_be_to_cpu_16(row.client_key.src_port);
            c.vip = rte_be_to_cpu_32(row.client_key.dst_ip);
            c.vport = rte_be_to_cpu_16(row.client_key.dst_port);
            c.real_server = rte_be_to_cpu_32(row.real_ip);
            c.real_port = rte_be_to_cpu_16(row.real_port);
            out.push_back(c);
        }
        dump.release();
    }
    return out;
}

void Director::release_unused_ids()
{
    // config_ is what the published snapshot was built from; once no worker holds an older one,
    // nothing can start using an id that is given back here.
    if (!publisher_->settled()) return;
    const StableIds::Released released = ids_.release(with_sorry_servers(config_), [&](uint32_t id) {
        for (const auto& w : workers_)
            if (w->conn_counts[id].active.load(std::memory_order_relaxed) + w->conn_counts[id].inactive.load(std::memory_order_relaxed) != 0)
                return true;
        return false;
    });
    // An id given to a newcomer starts from zero: what the workers counted under it so far
    // becomes its baseline.
    for (uint32_t id : released.services) {
        service_zero_[id] = service_totals(id);
        service_rates_.erase(id);
    }
    for (uint32_t id : released.real_servers) {
        real_server_zero_[id] = real_server_totals(id);
        real_server_rates_.erase(id);
        shared_.overloaded[id].store(false, std::memory_order_relaxed);
    }
    if (!released.services.empty() || !released.real_servers.empty())
        log::debug("gave back the ids of {} service(s) and {} real server(s) no longer in use", released.services.size(),
                   released.real_servers.size());
}

void Director::zero_counters(const ServiceConfig* only)
{
    if (only == nullptr) {
        // Every id, in the configuration or not (and given back or not): one that comes back, or
        // is given to a newcomer, shows what it did since the zeroing.
        for (uint32_t id = 0; id < ids_.service_id_bound(); ++id) service_zero_[id] = service_totals(id);
        for (uint32_t id = 0; id < ids_.real_server_id_bound(); ++id) real_server_zero_[id] = real_server_totals(id);
    }
    // Every real server and sorry server of the service, in the table now or not.
    for (const ServiceConfig& s : with_sorry_servers(config_).services) {
        if (only != nullptr && s.key() != only->key()) continue;
        const auto service_id = ids_.find_service(s.key());
        if (!service_id) continue;
        service_zero_[*service_id] = service_totals(*service_id);
        for (const RealServerConfig& rs : s.real_servers)
            if (const auto id = ids_.find_real_server(key_of(s, rs)))
                real_server_zero_[*id] = real_server_totals(*id);
    }
    log::info("traffic counters zeroed{}", only == nullptr ? "" : fmt::format(" for {} {}:{}", protocol_name(only->protocol),
                                                                            format_ipv4(only->vip), only->port));
}

void Director::estimate_rates()
{
    // IPVS's estimator: every 2 s the difference over the period, smoothed with weight 1/4.
    auto step = [](RateEstimate& e, const TrafficStats& now) {
        auto rate = [](uint64_t later, uint64_t earlier) { return later >= earlier ? (later - earlier) / 2 : 0; };
        auto smooth = [](uint64_t& avg, uint64_t sample) {
            avg = sample >= avg ? avg + (sample - avg + 3) / 4 : avg - (avg - sample) / 4;
        };
        if (e.primed) {
            smooth(e.rates.cps, rate(now.conns, e.last.conns));
            smooth(e.rates.in_pps, rate(now.in_packets, e.last.in_packets));
            smooth(e.rates.out_pps, rate(now.out_packets, e.last.out_packets));
            smooth(e.rates.in_bps, rate(now.in_bytes, e.last.in_bytes));
            smooth(e.rates.out_bps, rate(now.out_bytes, e.last.out_bytes));
        }
        e.last = now;
        e.primed = true;
    };
    for (const ServiceConfig& s : with_sorry_servers(config_).services) {
        const auto service_id = ids_.find_service(s.key());
        if (!service_id) continue;
        step(service_rates_[*service_id], service_totals(*service_id));
        for (const RealServerConfig& rs : s.real_servers)
            if (const auto id = ids_.find_real_server(key_of(s, rs)))
                step(real_server_rates_[*id], real_server_totals(*id));
    }
}

void Director::run(ControlSignals& signals)
{
    auto next_overload_check = std::chrono::steady_clock::now();
    auto next_estimate = next_overload_check + estimator_period;
    while (!signals.stop.load()) {
        publisher_->tick();
        learn_neighbors();
        if (signals.reload.exchange(false)) reload();
        rte_timer_manage();
        poll_health();
        const auto now = std::chrono::steady_clock::now();
        if (now >= next_overload_check) {
            update_overload();
            next_overload_check += overload_period;
        }
        if (now >= next_estimate) {
            // Learned neighbours neither used nor heard from for a minute are forgotten.
            if (const uint32_t n = neighbors_->collect(dataplane_seconds(), neighbor_stale_seconds, shared_.rcu); n > 0)
                log::debug("forgot {} neighbours unused for {} s", n, neighbor_stale_seconds);
            release_unused_ids();
            estimate_rates();
            metrics_.update(services(), workers(), health(), pools());
            next_estimate += estimator_period;
        }
        metrics_server_->poll_once(metrics_);
        if (console_) console_->poll_once();
        if (listeners_changed_) {
            listeners_changed_ = false;
            if (auto e = open_listeners(config_); !e.empty()) log::error("{}", e);
        }
        std::this_thread::sleep_for(control_period);
    }
}

void Director::update_overload()
{
    // IPVS marks a real server overloaded when its connections reach the upper threshold and
    // clears it below the lower one (or 3/4 of the upper); here from the counts summed over
    // workers, every 100 ms.
    for (const ServiceConfig& s : config_.services) {
        const auto service_id = ids_.find_service(s.key());
        if (!service_id) continue;
        for (const RealServerConfig& rs : s.real_servers) {
            const auto id = ids_.find_real_server(key_of(s, rs));
            if (!id) continue;
            std::atomic<bool>& flag = shared_.overloaded[*id];
            if (rs.upper_threshold == 0) {
                flag.store(false, std::memory_order_relaxed);
                continue;
            }
            const RealServerCounts c = connection_counts(s, rs);
            const bool was = flag.load(std::memory_order_relaxed);
            const bool now = sched::overloaded_after(was, uint64_t{c.active} + c.inactive, rs.upper_threshold, rs.lower_threshold);
            if (now != was) {
                flag.store(now, std::memory_order_relaxed);
                log::info("real server {}:{} of {} {}:{} {} ({} connections, thresholds {}/{})", format_ipv4(rs.address),
                          rs.port, protocol_name(s.protocol), format_ipv4(s.vip), s.port,
                          now ? "is overloaded" : "is no longer overloaded", c.active + c.inactive, rs.upper_threshold,
                          rs.lower_threshold);
            }
        }
    }
}

void Director::stop()
{
    if (!running_) return;
    running_ = false;
    shared_.stop.store(true);
    rte_eal_mp_wait_lcore();
    console_.reset();
    log_counters();
    log_service_table(config_);
    steering_.clear();
    for (auto& [target, timer] : health_timers_) rte_timer_stop_sync(&timer->timer);
    health_timers_.clear();
    for (const auto& [name, port_id] : interface_ports_) port_stop(port_id);
    // Closing a TAP port removes its kernel interface, and the kernel its addresses and routes.
    for (uint16_t port_id : kernel_ports_) port_stop(port_id);
    kernel_settings_restore(kernel_settings_);
    for (auto& w : workers_) rte_ring_free(w->from_control);
    for (rte_ring* ring : shared_.handoff_rings) {
        if (ring == nullptr) continue;
        // Whatever a stopped worker had not yet taken from its rings goes back to the pool.
        void* m;
        while (rte_ring_dequeue(ring, &m) == 0) rte_pktmbuf_free(static_cast<rte_mbuf*>(m));
        rte_ring_free(ring);
    }
    workers_.clear();
    if (publisher_) publisher_->shut_down();
    rte_ring_free(shared_.neighbor_updates);
    rte_free(shared_.rcu);
    neighbors_.reset();
    rte_mempool_free(shared_.indirect_pool);
    rte_mempool_free(shared_.pool);
}

void Director::log_counters() const
{
    std::vector<std::pair<std::string, uint16_t>> ports(interface_ports_.begin(), interface_ports_.end());
    for (uint16_t tap : kernel_ports_) ports.emplace_back(shared_.ports[tap].name, tap);
    for (const auto& [name, port_id] : ports) {
        rte_eth_stats st{};
        rte_eth_stats_get(port_id, &st);
        log::info("stats port={} rx_packets={} tx_packets={} rx_bytes={} tx_bytes={} rx_missed={} "
                  "rx_errors={} tx_errors={}", name, st.ipackets, st.opackets, st.ibytes, st.obytes,
                  st.imissed, st.ierrors, st.oerrors);
    }
    for (const WorkerStatus& w : workers()) {
        std::string values;
        for (const auto& [name, value] : worker_values(w)) values += fmt::format(" {}={}", name, value);
        log::info("stats worker={}{}", w.worker, values);
    }
}

}  // namespace fulcrum::control
