// Bring-up and shutdown: EAL's pool, ports, TAPs, rings and workers, and the listeners.
#include "control/director/director.hpp"
#include "control/director/internal.hpp"

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

#include <grp.h>

#include <algorithm>
#include <numeric>
#include <chrono>
#include <thread>

#include "control/config/writer.hpp"
#include "control/frontends/ipvsadm_format.hpp"
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
constexpr uint16_t port_descriptors = 1024;   // per queue of a port, before its device's limits
constexpr uint32_t persistence_slots = 1u << 20;  // 16 MB, shared by the workers
// Old snapshots that may wait for their readers at once: far more than health flaps and reloads
// publish within the few microseconds a worker takes to pass a quiescent state.
constexpr uint32_t snapshot_queue_size = 64;

}  // namespace

Director::~Director() { stop(); }

std::string Director::start(const Config& config, const std::string& config_path)
{
    // The director's own subscribers: a VIP's availability in the log, and its route announced
    // or withdrawn (announce:).
    events_.subscribe([](const DirectorEvent& event) {
        if (const auto* v = std::get_if<VipAvailability>(&event))
            log::info("VIP {} is {}", format_ip(v->vip),
                      v->available ? "available: a service has enough usable real servers"
                                   : "unavailable: none of its services has enough usable real servers");
    });
    events_.subscribe([this](const DirectorEvent& event) {
        const auto* v = std::get_if<VipAvailability>(&event);
        if (v == nullptr) return;
        note_announce_problem(announcer_.set_available(v->vip, v->available));
        if (announcer_.table() != 0 && announcer_.announced(v->vip) == v->available)
            log::info("announce: VIP {} {} table {}", format_ip(v->vip),
                      v->available ? "announced in" : "withdrawn from", announcer_.table());
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

    // Every port's set-up is decided from what its device offers before anything is created:
    // the pool's mbufs must hold the longest frame, and be enough for every descriptor.
    std::vector<uint16_t> mtus;
    uint32_t device_frame = 0;
    for (const InterfaceConfig& iface : config.interfaces) {
        mtus.push_back(iface.mtu);
        device_frame = std::max(device_frame, af_packet_frame_data(iface.device));
    }
    const uint32_t data_room = mbuf_data_room_for(mtus, device_frame);
    struct PlannedPort {
        std::string device;
        uint16_t port_id;
        PortRequest request;
        PortPlan plan;
    };
    std::vector<PlannedPort> planned;  // one per device, in the order of its first interface
    PoolDemand demand;
    unsigned port_count = 0;
    for (const InterfaceConfig& iface : config.interfaces) {
        // The TAP of an interface on a VLAN is a port of its own, its device is not.
        if (!iface.kernel_interface.empty()) {
            demand.descriptors += 2ull * workers * kernel_queue_descriptors;
            ++port_count;
        }
        if (std::any_of(planned.begin(), planned.end(),
                        [&](const PlannedPort& p) { return p.device == iface.device; }))
            continue;
        auto port_id = find_port(iface.device);
        if (!port_id) return fmt::format("interface {}: EAL created no port for device \"{}\"", iface.name, iface.device);
        if (*port_id >= max_device_ports)
            return fmt::format("interface {}: port id {} is beyond the {} ports supported", iface.name, *port_id,
                               max_device_ports);
        DeviceCapabilities device;
        if (auto e = port_capabilities(*port_id, device); !e.empty())
            return fmt::format("interface {} ({}): {}", iface.name, iface.device, e);
        const PortRequest request{iface.queues != 0 ? iface.queues : static_cast<uint16_t>(workers),
                                  static_cast<uint16_t>(workers),
                                  iface.mtu,
                                  port_descriptors,
                                  data_room,
                                  af_packet_interface(iface.device),
                                  af_packet_whole_frame(iface.device)};
        PortPlan plan = plan_port(device, request);
        if (!plan.error.empty()) return fmt::format("interface {} ({}): {}", iface.name, iface.device, plan.error);
        for (const std::string& note : plan.notes) log::info("interface {}: {}", iface.name, note);
        demand.add_port(plan, request);
        ++port_count;
        planned.push_back({iface.device, *port_id, request, std::move(plan)});
    }
    demand.workers = workers;
    demand.per_worker = rx_burst_size + uint64_t{port_count} * tx_stage_size + 2 * max_pending_arp;
    demand.cache_size = mbuf_cache_size;
    demand.lcores = workers + 1;
    if (auto e = check_pool(config.dataplane.mbufs, demand); !e.empty()) return e;

    shared_.pool = rte_pktmbuf_pool_create("mbufs", config.dataplane.mbufs, mbuf_cache_size, 0,
                                           static_cast<uint16_t>(data_room + RTE_PKTMBUF_HEADROOM), socket);
    if (shared_.pool == nullptr) return dpdk_failure("cannot create the mbuf pool");
    if (data_room > RTE_MBUF_DEFAULT_DATAROOM)
        log::info("mbufs of {} bytes, for frames of the largest MTU ({}) or af_packet's frame size", data_room,
                  *std::max_element(mtus.begin(), mtus.end()));
    // Fragments of tunnelled packets point into the original's data (no copy): they need
    // data-less mbufs of their own.
    shared_.indirect_pool = rte_pktmbuf_pool_create(
        "indirect", std::max(1024u, config.dataplane.mbufs / 4), mbuf_cache_size / 4, 0, 0, socket);
    if (shared_.indirect_pool == nullptr) return dpdk_failure("cannot create the indirect mbuf pool");

    // From here on stop() has something to undo (ports, TAP interfaces, sysctls), even when
    // start-up fails half-way.
    running_ = true;
    for (const PlannedPort& device : planned) {
        const uint16_t port_id = device.port_id;
        if (auto e = port_start(port_id, device.plan, device.request, shared_.pool); !e.empty())
            return fmt::format("device {}: {}", device.device, e);
        device_ports_.push_back(port_id);
        rx_queue_counts_[port_id] = device.request.rx_queues;
        // VRRP (224.0.0.18), connection sync and IPv6 neighbour discovery are multicast, which a
        // NIC filters unless told: all of it, or else the groups the director needs.
        if (int rc = rte_eth_allmulticast_enable(port_id); rc != 0) {
            multicast_listed_[port_id] = false;
            log::info("device {}: it does not accept all multicast ({}): it is given the groups the director needs "
                      "instead",
                      device.device, rte_strerror(-rc));
        }
        // The device's own port: an interface unless all of its interfaces are on VLANs.
        PortInfo& own = shared_.ports[port_id];
        own.port_id = own.device_port = port_id;
        own.name = device.device;
        own.mtu = device.request.mtu;
        own.sends_chains = device.plan.sends_chains;
        own.untagged = false;
        rte_eth_macaddr_get(port_id, &own.mac);
        own.link_local = link_local_of(own.mac);
        shared_.port_count = std::max<unsigned>(shared_.port_count, port_id + 1u);
    }
    uint16_t next_vlan_port = max_device_ports;
    for (const InterfaceConfig& iface : config.interfaces) {
        const PlannedPort& device = *std::find_if(planned.begin(), planned.end(),
                                                  [&](const PlannedPort& p) { return p.device == iface.device; });
        const uint16_t device_port = device.port_id;
        const uint16_t rx_queues = device.request.rx_queues;
        uint16_t port_id = device_port;
        if (iface.vlan != 0) {
            shared_.vlans = true;
            port_id = next_vlan_port++;
            shared_.ports[device_port].vlan_ports.emplace_back(iface.vlan, port_id);
        } else {
            shared_.ports[device_port].untagged = true;
        }
        interface_ports_[iface.name] = port_id;

        PortInfo& info = shared_.ports[port_id];
        info.port_id = port_id;
        info.device_port = device_port;
        info.vlan = iface.vlan;
        info.name = iface.name;
        info.mtu = iface.mtu;
        info.sends_chains = device.plan.sends_chains;
        info.addresses = ipv4_addresses(iface);
        for (const Ipv4Prefix& prefix : info.addresses) {
            info.local_ips.push_back(rte_cpu_to_be_32(prefix.address));
            shared_.local_ips.push_back(rte_cpu_to_be_32(prefix.address));
        }
        for (const IpPrefix& prefix : iface.addresses) {
            if (prefix.address.is_ipv4()) continue;
            info.local_ips6.push_back(Ipv6Address{prefix.address.bytes()});
            info.prefix_lengths6.push_back(prefix.length);
        }
        // The device's MAC and link-local address: the TAP has the port's MAC, so the kernel
        // gives it this link-local address too.
        info.mac = shared_.ports[device_port].mac;
        info.link_local = shared_.ports[device_port].link_local;
        shared_.port_count = std::max<unsigned>(shared_.port_count, port_id + 1u);
        log::info("interface {} is port {} ({}{}), MAC {}, {} RX and {} TX queue(s)", iface.name, port_id,
                  iface.device, iface.vlan != 0 ? fmt::format(" VLAN {}", iface.vlan) : "",
                  format_mac(from_ether(info.mac)), rx_queues, workers);
        if (!iface.kernel_interface.empty())
            if (auto e = start_kernel_interface(iface, port_id); !e.empty())
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
    neighbors6_ = Neighbor6Table::create("neighbors6", neighbor_capacity, socket);
    if (!neighbors6_) return dpdk_failure("cannot create the IPv6 neighbour table");
    shared_.neighbors6 = neighbors6_.get();
    shared_.neighbor6_updates = rte_ring_create_elem("neighbor6_updates", sizeof(Neighbor6Update),
                                                     neighbor_ring_size, socket, RING_F_SC_DEQ);
    if (shared_.neighbor6_updates == nullptr) return dpdk_failure("cannot create the IPv6 neighbour ring");

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
        if (auto e = create_sync_rings(*w, socket); !e.empty()) return e;
        if (auto e = worker_prepare(*w, config.dataplane.conn_table_size, ipv6_conn_table_size(config), socket);
            !e.empty())
            return e;
        workers_.push_back(std::move(w));
    }

    // Before the first snapshot: under vip_ownership kernel it serves what the kernel holds.
    if (auto e = address_watch_.open(); !e.empty()) {
        if (config.high_availability.vip_ownership == VipOwnership::kernel) return "vip_ownership kernel: " + e;
        log::warning("cannot follow the kernel interfaces' addresses: {}", e);
    }
    if (auto e = publish(config); !e.empty()) return e;
    configure_health(config);
    if (workers > 1) steer_to_owners();
    list_multicast();
    for (const NeighborConfig& n : config.neighbors)
        add_static_neighbor(n);

    for (unsigned i = 0; i < workers; ++i) {
        if (rte_eal_remote_launch(worker_main, workers_[i].get(), worker_lcores_[i]) != 0)
            return fmt::format("cannot launch worker {} on lcore {}", i, worker_lcores_[i]);
        log::info("worker {} runs on lcore {}", i, worker_lcores_[i]);
    }
    announce_addresses();
    configure_sync(config);
    metrics_.register_telemetry();
    metrics_.update(services(), this->workers(), health(), pools(), sync_status(), announce_status());
    if (auto e = open_listeners(config); !e.empty()) return e;
    return {};
}

std::optional<gid_t> console_group_id(const std::string& name)
{
    std::vector<char> buf(16384);
    for (;;) {
        group entry{};
        group* found = nullptr;
        const int e = ::getgrnam_r(name.c_str(), &entry, buf.data(), buf.size(), &found);
        if (e == ERANGE && buf.size() < (1u << 24)) {
            buf.resize(buf.size() * 4);  // a group with many members
            continue;
        }
        if (e != 0 || found == nullptr) return std::nullopt;
        return found->gr_gid;
    }
}

std::string Director::open_listeners(const Config& config)
{
    // The new console is opened before the old one is given up for good: when it cannot be (its
    // path is held, its group is gone), the old one opens again and the operators keep a door.
    std::unique_ptr<ConsoleServer> next;
    const ConsoleConfig& c = config.console;
    if (!c.socket.empty() || !c.listen.empty()) {
        ConsoleOptions options;
        options.listen = c.listen;
        options.socket_path = c.socket;
        if (!c.group.empty()) {
            options.socket_group = console_group_id(c.group);
            if (!options.socket_group) return fmt::format("console.group {}: no such group on this host", c.group);
        }
        options.log = [](std::string_view message) { log::info("{}", message); };
        next = std::make_unique<ConsoleServer>(*this, options);
    }
    if (console_) console_->stop();  // frees its path and port for the new one
    if (next) {
        if (auto e = next->start(); !e.empty()) {
            if (console_ && console_->start().empty()) {
                log::warning("console: kept on its previous settings");
            } else {
                console_.reset();
            }
            return e;
        }
        if (!c.socket.empty()) log::info("console on {} (try: fulcrumadm --socket {} -L -n)", c.socket, c.socket);
        if (!c.listen.empty())
            log::info("console on {} (try: printf 'show services\\n' | nc -q1 {} {})", c.listen,
                      c.listen.substr(0, c.listen.rfind(':')), c.listen.substr(c.listen.rfind(':') + 1));
    }
    console_ = std::move(next);
    metrics_server_ = std::make_unique<MetricsServer>();
    if (!config.metrics_listen.empty()) {
        if (auto e = metrics_server_->listen(config.metrics_listen); !e.empty())
            return fmt::format("metrics.listen {}: {}", config.metrics_listen, e);
        log::info("Prometheus metrics on http://{}/metrics", config.metrics_listen);
    }
    return {};
}

std::string Director::start_kernel_interface(const InterfaceConfig& iface, uint16_t port_id)
{
    PortInfo& info = shared_.ports[port_id];
    const std::string vdev = fmt::format("net_tap_fulcrum{}", kernel_ports_.size());
    uint16_t tap = 0;
    if (auto e = port_create_tap(vdev, iface.kernel_interface, from_ether(info.mac), tap); !e.empty()) return e;
    if (tap >= max_device_ports)
        return fmt::format("port id {} is beyond the {} ports supported", tap, max_device_ports);
    kernel_ports_.push_back(tap);
    // Before the interface comes up: no router solicitation or duplicate-address probe may leave.
    kernel_interface_set_ipv6(iface.kernel_interface, kernel_interface_wants_ipv6(iface));
    const auto queues = static_cast<uint16_t>(config_.dataplane.workers);
    DeviceCapabilities device;
    if (auto e = port_capabilities(tap, device); !e.empty()) return e;
    // DPDK 22.11's net_tap sends the kernel no frame longer than its ethdev MTU allows (1504),
    // so the kernel's MTU stays there: its own connections (health checks, BGP) then announce
    // an MSS their peers keep to. Longer frames for it are dropped (kernel_too_big).
    const uint16_t mtu = std::min(iface.mtu, largest_mtu(device));
    if (mtu < iface.mtu)
        log::info("interface {}: kernel interface {} gets MTU {}, the most {} passes to the kernel", iface.name,
                  iface.kernel_interface, mtu, device.driver);
    const PortRequest request{queues, queues, mtu, kernel_queue_descriptors,
                              rte_pktmbuf_data_room_size(shared_.pool) - uint32_t{RTE_PKTMBUF_HEADROOM}};
    const PortPlan plan = plan_port(device, request);
    if (auto e = port_start(tap, plan, request, shared_.pool); !e.empty()) return e;
    if (auto e = kernel_interface_setup(iface.kernel_interface, iface.addresses); !e.empty()) return e;
    if (const std::string shared = af_packet_interface(iface.device);
        !shared.empty() && !std::count(silenced_links_.begin(), silenced_links_.end(), shared)) {
        silenced_links_.push_back(shared);
        if (auto e = kernel_interface_silence(shared, kernel_settings_); !e.empty()) return e;
        log::info("interface {}: the kernel no longer answers on {} (reverse-path filter strict, ARP ignored): "
                  "its addresses are on {} now", iface.name, shared, iface.kernel_interface);
    }
    PortInfo& kernel = shared_.ports[tap];
    kernel.port_id = tap;
    kernel.name = iface.kernel_interface;
    kernel.mac = info.mac;
    kernel.mtu = mtu;
    kernel.sends_chains = plan.sends_chains;
    info.kernel_port = tap;
    shared_.port_count = std::max<unsigned>(shared_.port_count, tap + 1u);
    log::info("interface {}: kernel interface {} (port {}) has its MAC and addresses: the exception path", iface.name,
              iface.kernel_interface, tap);
    return {};
}

void Director::steer_to_owners()
{
    // At start, before any worker runs: the NIC's hash becomes the owner function only when
    // every port steers (a connection's two directions usually arrive on different ports), and
    // stays it for as long as the director runs.
    std::string why;
    const ServiceSnapshot* snapshot = shared_.snapshot.load(std::memory_order_acquire);
    shared_.owner_hash = steering_.start(config_.dataplane.workers, rx_queue_counts_, snapshot->vips, why);
    shared_.hardware_steering = steering_.active();
    if (steering_.active())
        log::info("rte_flow steers each client to its worker's queue on every port; what it cannot steer is handed off");
    else
        log::info("software hand-off between workers ({})", why);
}

void Director::list_multicast()
{
    const ServiceSnapshot* snapshot = shared_.snapshot.load(std::memory_order_acquire);
    std::vector<rte_be32_t> groups;
    if (config_.sync.enabled()) groups.push_back(rte_cpu_to_be_32(config_.sync.group));
    for (auto& [port_id, refused] : multicast_listed_) {
        const PortInfo& port = shared_.ports[port_id];
        // Every interface of the device: itself, and those on its VLANs.
        std::vector<Ipv6Address> unicast{port.link_local};
        for (unsigned id = 0; id < shared_.port_count; ++id) {
            const PortInfo& on = shared_.ports[id];
            if (on.device_port == port_id && on.port_id == id) unicast.insert(unicast.end(), on.local_ips6.begin(), on.local_ips6.end());
        }
        unicast.insert(unicast.end(), snapshot->vips6.begin(), snapshot->vips6.end());
        std::vector<rte_ether_addr> macs = multicast_macs(groups, unicast);
        const int rc = rte_eth_dev_set_mc_addr_list(port_id, macs.data(), static_cast<uint32_t>(macs.size()));
        // Said once: a virtual device refuses on every reload alike.
        if (rc != 0 && !refused)
            log::warning("interface {}: the device takes neither all multicast nor a list of {} groups ({}): VRRP, "
                         "connection sync and IPv6 neighbour discovery reach it only if it does not filter multicast "
                         "(af_packet does not)",
                         port.name, macs.size(), rte_strerror(-rc));
        refused = rc != 0;
    }
}

void Director::resteer_vips()
{
    // A port whose new rules fail keeps its old ones; what they do not steer (a new VIP's
    // clients) is handed off to the same owners.
    const ServiceSnapshot* snapshot = shared_.snapshot.load(std::memory_order_acquire);
    for (const std::string& refused : steering_.update(snapshot->vips))
        log::warning("steering rules for the new VIPs refused, the old rules stay and the new VIPs' packets are "
                     "handed off: {}",
                     refused);
}

void Director::stop()
{
    if (!running_) return;
    running_ = false;
    // The routes go before anything stops answering for their VIPs, so the routing daemon
    // withdraws them while the workers still forward; a director that dies loses them with its TAPs.
    if (announcer_.table() != 0) {
        const size_t routes = announcer_.installed().size();
        const std::string problem = announcer_.withdraw_all();
        log::info("announce: withdrew {} route(s) from table {} before stopping{}", routes, announcer_.table(),
                  problem.empty() ? "" : "; the kernel refused: " + problem);
    }
    shared_.stop.store(true);
    rte_eal_mp_wait_lcore();
    console_.reset();
    sync_.stop();
    log_counters();
    log_service_table(config_);
    steering_.clear();
    for (auto& [target, timer] : health_timers_) rte_timer_stop_sync(&timer->timer);
    health_timers_.clear();
    for (uint16_t port_id : device_ports_) port_stop(port_id);
    // Closing a TAP port removes its kernel interface, and the kernel its addresses and routes.
    for (uint16_t port_id : kernel_ports_) port_stop(port_id);
    kernel_settings_restore(kernel_settings_);
    for (auto& w : workers_) {
        rte_ring_free(w->from_control);
        rte_ring_free(w->sync_out);
        rte_ring_free(w->sync_in);
    }
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
    rte_ring_free(shared_.neighbor6_updates);
    rte_free(shared_.rcu);
    neighbors_.reset();
    neighbors6_.reset();
    rte_mempool_free(shared_.indirect_pool);
    rte_mempool_free(shared_.pool);
}

void Director::log_counters() const
{
    std::vector<std::pair<std::string, uint16_t>> ports;
    for (uint16_t port_id : device_ports_) ports.emplace_back(shared_.ports[port_id].name, port_id);
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
