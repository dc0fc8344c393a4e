#include "control/runtime/snapshot_builder.hpp"

#include "control/config/limits.hpp"
#include "dataplane/persistence.hpp"
#include "dataplane/worker_context.hpp"

#include <rte_errno.h>
#include <rte_fib.h>
#include <rte_fib6.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_lcore.h>

#include <fmt/format.h>

#include <algorithm>

namespace fulcrum::control {

// The configuration's bound is the table's: a template's timeout is kept in 15 bits.
static_assert(limits::max_persistence_seconds == dataplane::PersistenceTable::max_timeout_seconds);

using dataplane::NextHop;
using dataplane::ServiceEntry;
using dataplane::ServiceIndexKey;
using dataplane::ServiceSnapshot;

namespace {

std::string dpdk_failure(const std::string& what)
{
    return what + ": " + rte_strerror(rte_errno);
}

std::string build_routes(const Config& config, const InterfacePorts& ports, ServiceSnapshot& s)
{
    rte_fib_conf conf{};
    conf.type = RTE_FIB_DIR24_8;
    conf.default_nh = 0;
    conf.max_routes = static_cast<int>(config.routes.size() + 64 * config.interfaces.size() + 16);
    conf.dir24_8.nh_sz = RTE_FIB_DIR24_8_2B;
    conf.dir24_8.num_tbl8 = 512;
    const std::string name = "fib_" + std::to_string(s.generation);
    s.fib = rte_fib_create(name.c_str(), static_cast<int>(rte_socket_id()), &conf);
    if (s.fib == nullptr) return dpdk_failure("cannot create FIB " + name);

    s.next_hops.push_back({});  // id 0 is "no route"
    auto add = [&](const Ipv4Prefix& dst, NextHop hop) -> std::string {
        const auto id = static_cast<uint64_t>(s.next_hops.size());
        s.next_hops.push_back(hop);
        if (rte_fib_add(s.fib, dst.network(), dst.length, id) != 0)
            return dpdk_failure("cannot add route " + format_ipv4(dst.network()) + "/" +
                                std::to_string(dst.length));
        return {};
    };
    for (const InterfaceConfig& iface : config.interfaces)
        for (const IpPrefix& prefix : iface.addresses)
            if (prefix.address.is_ipv4())
                if (auto e = add(Ipv4Prefix{prefix.address.ipv4(), prefix.length}, {ports.at(iface.name), 0}); !e.empty())
                    return e;
    for (const RouteConfig& route : config.routes) {
        if (!route.dst.address.is_ipv4()) continue;
        // The validator made sure `via` lies in a connected subnet (of `interface`, if named).
        const InterfaceConfig* out = interface_holding(config, route.via, route.interface);
        const uint16_t port = out == nullptr ? 0 : ports.at(out->name);
        if (auto e = add(Ipv4Prefix{route.dst.address.ipv4(), route.dst.length}, {port, rte_cpu_to_be_32(route.via.ipv4())});
            !e.empty())
            return e;
    }
    return {};
}

// The IPv6 subnets and routes, in a FIB of their own (rte_fib6), made only when there are any.
std::string build_routes6(const Config& config, const InterfacePorts& ports, ServiceSnapshot& s)
{
    size_t count = 0;
    for (const InterfaceConfig& iface : config.interfaces)
        for (const IpPrefix& prefix : iface.addresses) count += !prefix.address.is_ipv4();
    for (const RouteConfig& route : config.routes) count += !route.dst.address.is_ipv4();
    if (count == 0) return {};
    rte_fib6_conf conf{};
    conf.type = RTE_FIB6_TRIE;
    conf.default_nh = 0;
    conf.max_routes = static_cast<int>(count + 16);
    conf.rib_ext_sz = 0;
    conf.trie.nh_sz = RTE_FIB6_TRIE_4B;
    // A /64 takes 5 tables of 8 bits below the first 24, a /128 13.
    conf.trie.num_tbl8 = static_cast<uint32_t>(std::max<size_t>(256, count * 16));
    const std::string name = "fib6_" + std::to_string(s.generation);
    s.fib6 = rte_fib6_create(name.c_str(), static_cast<int>(rte_socket_id()), &conf);
    if (s.fib6 == nullptr) return dpdk_failure("cannot create FIB " + name);

    s.next_hops6.push_back({});  // id 0 is "no route"
    auto add = [&](const IpPrefix& dst, dataplane::NextHop6 hop) -> std::string {
        const auto id = static_cast<uint64_t>(s.next_hops6.size());
        s.next_hops6.push_back(hop);
        if (rte_fib6_add(s.fib6, dst.network().bytes().data(), dst.length, id) != 0)
            return dpdk_failure("cannot add route " + format_prefix(IpPrefix{dst.network(), dst.length}));
        return {};
    };
    for (const InterfaceConfig& iface : config.interfaces)
        for (const IpPrefix& prefix : iface.addresses)
            if (!prefix.address.is_ipv4())
                if (auto e = add(prefix, {ports.at(iface.name), {}}); !e.empty()) return e;
    for (const RouteConfig& route : config.routes) {
        if (route.dst.address.is_ipv4()) continue;
        // The checker made sure `via` is on a link: a connected subnet, or link-local with
        // `interface` named.
        const InterfaceConfig* out = interface_holding(config, route.via, route.interface);
        const uint16_t port = out == nullptr ? 0 : ports.at(out->name);
        if (auto e = add(route.dst, {port, dataplane::Ipv6Address{route.via.bytes()}}); !e.empty()) return e;
    }
    return {};
}

// A real server as the workers see it. An IPv6 service's IPv4 tunnel real server is kept
// IPv4-mapped too, where its connections hold it; an IPv4 service's IPv6 one by the handle its
// connections hold (ServiceSnapshot::ipv6_tunnel_handle).
dataplane::RealServerEntry real_server_entry(uint32_t id, const ServiceConfig& sc, const RealServerConfig& rs)
{
    dataplane::RealServerEntry entry{.id = id,
                                     .is_ipv6 = !rs.address.is_ipv4(),
                                     .port = rte_cpu_to_be_16(rs.port),
                                     .method = rs.forward,
                                     .upper_threshold = rs.upper_threshold,
                                     .lower_threshold = rs.lower_threshold};
    if (rs.address.is_ipv4()) {
        entry.address = rte_cpu_to_be_32(rs.address.ipv4());
        if (!sc.vip.is_ipv4()) entry.address6 = dataplane::ipv4_mapped(entry.address);
    } else {
        entry.address6.bytes = rs.address.bytes();
        if (sc.vip.is_ipv4()) entry.address = dataplane::ServiceSnapshot::ipv6_tunnel_handle(id);
    }
    return entry;
}

// What the hashing schedulers hash a real server by: an IPv6 address folded as IPVS folds it.
uint32_t scheduler_address(const IpAddress& address)
{
    return address.is_ipv4() ? address.ipv4() : dataplane::fold_ipv6(dataplane::Ipv6Address{address.bytes()});
}

std::string build_services(const Config& config, StableIds& ids, ServiceSnapshot& s,
                           std::map<RealServerKey, StableIds::History>& history)
{
    rte_hash_parameters params{};
    const std::string name = "services_" + std::to_string(s.generation);
    params.name = name.c_str();
    params.entries = static_cast<uint32_t>(std::max<size_t>(64, config.services.size() * 2));
    params.key_len = sizeof(ServiceIndexKey);
    params.hash_func = rte_hash_crc;
    params.socket_id = static_cast<int>(rte_socket_id());
    s.service_index = rte_hash_create(&params);
    if (s.service_index == nullptr) return dpdk_failure("cannot create service index " + name);

    params.key_len = sizeof(dataplane::ServiceIndexKey6);
    const std::string name6 = "services6_" + std::to_string(s.generation);
    params.name = name6.c_str();
    s.service_index6 = rte_hash_create(&params);
    if (s.service_index6 == nullptr) return dpdk_failure("cannot create service index " + name6);

    for (const ServiceConfig& sc : config.services) {
        ServiceEntry e;
        e.id = ids.service(sc.key());
        if (e.id >= dataplane::max_services_per_process)
            return "too many services (the limit is " + std::to_string(dataplane::max_services_per_process) +
                   ", counting those that left and still have connections)";
        e.is_ipv6 = !sc.vip.is_ipv4();
        if (e.is_ipv6)
            e.vip6.bytes = sc.vip.bytes();
        else
            e.vip = rte_cpu_to_be_32(sc.vip.ipv4());
        e.port = rte_cpu_to_be_16(sc.port);
        e.protocol = static_cast<uint8_t>(sc.protocol);
        const sched::Kind kind = *sched::kind_from_name(sc.scheduler);
        e.first_real_server = static_cast<uint32_t>(s.real_servers.size());
        e.real_server_count = static_cast<uint32_t>(sc.real_servers.size());
        if (sc.real_servers.size() > dataplane::max_real_servers_per_service)
            return fmt::format("service {} has {} real servers; the limit is {}", format_endpoint(sc.vip, sc.port),
                               sc.real_servers.size(), dataplane::max_real_servers_per_service);
        bool thresholds = false;
        for (const RealServerConfig& rs : sc.real_servers) {
            s.real_servers.push_back(real_server_entry(ids.real_server(key_of(sc, rs)), sc, rs));
            if (s.real_servers.back().id >= dataplane::max_real_servers_per_process)
                return fmt::format("too many real servers (the limit is {}, counting those that left and still "
                                   "have connections)",
                                   dataplane::max_real_servers_per_process);
            const StableIds::History h = ids.history(key_of(sc, rs), rs.weight, history);
            s.destinations.push_back(
                {rs.weight, false, 0, 0, scheduler_address(rs.address), rs.port, h.last_weight, h.added});
            thresholds |= rs.upper_threshold != 0;
        }
        e.real_server_count = static_cast<uint32_t>(s.real_servers.size()) - e.first_real_server;
        e.sched = sched::prepare(kind, s.destinations_of(e), sc.scheduler_flags, sc.mh_table_size, sc.mh_compat);
        e.persistence_seconds = sc.persistence;
        if (e.is_ipv6)
            e.persistence_prefix6 = sc.persistence_netmask;
        else
            e.persistence_mask = sc.persistence_netmask == 0 ? 0 : ~uint32_t{0} << (32 - sc.persistence_netmask);
        e.expire_quiescent_template = sc.expire_quiescent_template;
        e.live_view = sched::uses_connection_counts(kind) || thresholds;
        e.picks_by_hash = (kind == sched::Kind::sh || kind == sched::Kind::mh) && sc.persistence == 0;
        const auto index = reinterpret_cast<void*>(static_cast<uintptr_t>(s.services.size()));
        s.services.push_back(e);
        if (e.is_ipv6) {
            const dataplane::ServiceIndexKey6 key{e.vip6, e.port, e.protocol, 0};
            if (rte_hash_add_key_data(s.service_index6, &key, index) != 0) return "cannot index service " + format_ip(sc.vip);
            s.vips6.push_back(e.vip6);
        } else {
            const ServiceIndexKey key{e.vip, e.port, e.protocol, 0};
            if (rte_hash_add_key_data(s.service_index, &key, index) != 0) return "cannot index service " + format_ip(sc.vip);
            s.vips.push_back(e.vip);
        }
    }
    std::sort(s.vips.begin(), s.vips.end());
    s.vips.erase(std::unique(s.vips.begin(), s.vips.end()), s.vips.end());
    std::sort(s.vips6.begin(), s.vips6.end());
    s.vips6.erase(std::unique(s.vips6.begin(), s.vips6.end()), s.vips6.end());
    return {};
}

}  // namespace

uint32_t StableIds::take(std::set<uint32_t>& free, uint32_t& next)
{
    if (free.empty()) return next++;
    const uint32_t id = *free.begin();
    free.erase(free.begin());
    return id;
}

uint32_t StableIds::service(const ServiceKey& key)
{
    auto it = services_.find(key);
    if (it == services_.end()) it = services_.emplace(key, take(free_services_, next_service_)).first;
    return it->second;
}

uint32_t StableIds::real_server(const RealServerKey& key)
{
    auto it = real_servers_.find(key);
    if (it == real_servers_.end()) it = real_servers_.emplace(key, take(free_real_servers_, next_real_server_)).first;
    return it->second;
}

StableIds::History StableIds::history(const RealServerKey& key, uint32_t weight, std::map<RealServerKey, History>& next)
{
    const auto it = history_.find(key);
    History h = it != history_.end() ? it->second : History{weight, ++additions_};
    if (weight != 0) h.last_weight = weight;
    next[key] = h;
    return h;
}

StableIds::Released StableIds::release(const Config& running,
                                       const std::function<bool(uint32_t real_server_id)>& referenced)
{
    std::set<ServiceKey> services_running;
    std::set<RealServerKey> real_servers_running;
    for (const ServiceConfig& s : running.services) {
        services_running.insert(s.key());
        for (const RealServerConfig& rs : s.real_servers) real_servers_running.insert(key_of(s, rs));
    }
    Released released;
    std::set<ServiceKey> services_with_real_servers;
    for (auto it = real_servers_.begin(); it != real_servers_.end();) {
        if (real_servers_running.count(it->first) == 0 && !referenced(it->second)) {
            released.real_servers.push_back(it->second);
            free_real_servers_.insert(it->second);
            it = real_servers_.erase(it);
        } else {
            services_with_real_servers.insert(it->first.service);
            ++it;
        }
    }
    for (auto it = services_.begin(); it != services_.end();) {
        if (services_running.count(it->first) == 0 && services_with_real_servers.count(it->first) == 0) {
            released.services.push_back(it->second);
            free_services_.insert(it->second);
            it = services_.erase(it);
        } else {
            ++it;
        }
    }
    return released;
}

std::optional<uint32_t> StableIds::find_service(const ServiceKey& key) const
{
    auto it = services_.find(key);
    return it == services_.end() ? std::nullopt : std::optional(it->second);
}

std::optional<uint32_t> StableIds::find_real_server(const RealServerKey& key) const
{
    auto it = real_servers_.find(key);
    return it == real_servers_.end() ? std::nullopt : std::optional(it->second);
}

SnapshotResult build_snapshot(const Config& config, const InterfacePorts& ports, StableIds& ids,
                              uint64_t generation, const KernelAddresses& kernel_addresses)
{
    auto s = std::make_unique<ServiceSnapshot>();
    s->generation = generation;
    for (size_t state = 0; state < dataplane::tcp_state_count; ++state)
        s->tcp_timeout[state] = config.timeouts.tcp[state] * dataplane::ticks_per_second;
    s->udp_timeout = config.timeouts.udp * dataplane::ticks_per_second;
    if (auto e = build_routes(config, ports, *s); !e.empty()) return {nullptr, e};
    if (auto e = build_routes6(config, ports, *s); !e.empty()) return {nullptr, e};
    std::map<RealServerKey, StableIds::History> history;
    if (auto e = build_services(config, ids, *s, history); !e.empty()) return {nullptr, e};
    s->expire_nodest_conn = config.dataplane.expire_nodest_conn;
    s->sloppy_tcp = config.dataplane.sloppy_tcp;
    s->defense = config.dataplane.defense;
    s->sync = {config.sync.master, config.sync.master ? config.sync.full_refresh : 0};
    if (config.high_availability.vip_ownership == VipOwnership::kernel) {
        s->vips_follow_kernel = true;
        for (const auto& [name, addresses] : kernel_addresses) {
            const auto port = ports.find(name);
            if (port == ports.end() || port->second >= max_ports) continue;
            auto& held = s->kernel_addresses[port->second];
            auto& held6 = s->kernel_addresses6[port->second];
            for (const IpAddress& a : addresses) {
                if (a.is_ipv4())
                    held.push_back(rte_cpu_to_be_32(a.ipv4()));
                else
                    held6.push_back(dataplane::Ipv6Address{a.bytes()});
            }
            std::sort(held.begin(), held.end());
            std::sort(held6.begin(), held6.end());
            for (rte_be32_t a : held)
                if (s->is_vip(a)) s->held_vips.push_back(a);
            for (const dataplane::Ipv6Address& a : held6)
                if (s->is_vip(a)) s->held_vips6.push_back(a);
        }
        std::sort(s->held_vips.begin(), s->held_vips.end());
        s->held_vips.erase(std::unique(s->held_vips.begin(), s->held_vips.end()), s->held_vips.end());
        std::sort(s->held_vips6.begin(), s->held_vips6.end());
        s->held_vips6.erase(std::unique(s->held_vips6.begin(), s->held_vips6.end()), s->held_vips6.end());
    }
    for (size_t i = 0; i < s->services.size(); ++i) {
        const uint32_t id = s->services[i].id;
        if (id >= s->service_index_by_id.size()) s->service_index_by_id.resize(id + 1, 0);
        s->service_index_by_id[id] = static_cast<uint32_t>(i + 1);
    }
    s->never_sources = s->vips;
    for (const InterfaceConfig& iface : config.interfaces)
        for (const IpPrefix& prefix : iface.addresses) {
            if (!prefix.address.is_ipv4()) {
                s->never_sources6.push_back(dataplane::Ipv6Address{prefix.address.bytes()});
                continue;
            }
            s->never_sources.push_back(rte_cpu_to_be_32(prefix.address.ipv4()));
            // /31 and /32 have no broadcast address (RFC 3021).
            if (prefix.length > 0 && prefix.length < 31)
                s->never_sources.push_back(rte_cpu_to_be_32(prefix.network().ipv4() | ~(~uint32_t{0} << (32 - prefix.length))));
        }
    std::sort(s->never_sources.begin(), s->never_sources.end());
    s->never_sources6.insert(s->never_sources6.end(), s->vips6.begin(), s->vips6.end());
    std::sort(s->never_sources6.begin(), s->never_sources6.end());
    for (const dataplane::RealServerEntry& rs : s->real_servers) {
        if (rs.id >= s->real_server_port.size()) s->real_server_port.resize(rs.id + 1, 0);
        if (rs.is_ipv6 && dataplane::ServiceSnapshot::is_ipv6_tunnel_handle(rs.address)) {
            if (rs.id >= s->ipv6_tunnel_ends.size()) s->ipv6_tunnel_ends.resize(rs.id + 1);
            s->ipv6_tunnel_ends[rs.id] = rs.address6;
        }
        // The checker refuses real servers without a route; a port id is below max_ports.
        if (rs.is_ipv6) {
            if (const dataplane::NextHop6* hop = s->route(rs.address6))
                s->real_server_port[rs.id] = static_cast<uint8_t>(hop->port + 1);
        } else if (const dataplane::NextHop* hop = s->route(rs.address)) {
            s->real_server_port[rs.id] = static_cast<uint8_t>(hop->port + 1);
        }
    }
    ids.remember(std::move(history));
    return {std::move(s), {}};
}

}  // namespace fulcrum::control
