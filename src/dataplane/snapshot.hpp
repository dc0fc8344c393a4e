// ServiceSnapshot: everything a worker reads about services, real servers and routes, built by
// the control plane and never changed after it is published. A new configuration is a new
// snapshot; the old one is freed only after every worker has passed a quiescent state.
#pragma once

#include <rte_byteorder.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "dataplane/conn_table.hpp"
#include "dataplane/defense.hpp"
#include "dataplane/ipv6.hpp"
#include "common/tcp_state.hpp"
#include "common/types.hpp"
#include "sched/scheduler.hpp"

struct rte_hash;
struct rte_fib;
struct rte_fib6;

namespace fulcrum::dataplane {

struct RealServerEntry {
    uint32_t id = 0;             // stable id: connections and counters refer to this, never to the entry
    bool is_ipv6 = false;        // its address is address6 (a TUN server may differ from its service)
    rte_be32_t address = 0;
    Ipv6Address address6;
    rte_be16_t port = 0;
    ForwardMethod method = ForwardMethod::nat;
    uint32_t upper_threshold = 0;    // 0 = none
    uint32_t lower_threshold = 0;
};

struct ServiceEntry {
    uint32_t id = 0;             // stable id, indexes per-worker scheduler cursors
    bool is_ipv6 = false;        // its VIP is vip6
    rte_be32_t vip = 0;
    Ipv6Address vip6;
    rte_be16_t port = 0;
    uint8_t protocol = 0;        // IPPROTO_TCP / IPPROTO_UDP
    sched::Prepared sched;       // the scheduler and what it precomputed (wrr steps, hash tables)
    // The scheduler reads live connection counts or overload flags: the worker gives it a copy
    // of the destinations with them filled in.
    bool live_view = false;
    uint32_t first_real_server = 0;  // slice of ServiceSnapshot::real_servers / destinations
    uint32_t persistence_seconds = 0;  // 0 = no persistence
    uint32_t persistence_mask = 0xffffffff;  // host order: the client address bits a template keeps
    uint8_t persistence_prefix6 = 128;       // an IPv6 service's netmask, as a prefix length
    bool expire_quiescent_template = false;
    // sh or mh without persistence: a flow's real server follows from its addresses alone, so
    // DR and TUN flows can be forwarded without a connection (flood_mode).
    bool picks_by_hash = false;
    uint32_t real_server_count = 0;
};

// Where a route sends packets: out of `port`, to `gateway`, or straight to the destination when
// the gateway is 0 (a connected subnet).
struct NextHop {
    uint16_t port = 0;
    rte_be32_t gateway = 0;
};

// The same for IPv6, the gateway :: when the destination is on the link.
struct NextHop6 {
    uint16_t port = 0;
    Ipv6Address gateway;
};

struct ServiceIndexKey {
    rte_be32_t vip;
    rte_be16_t port;
    uint8_t protocol;
    uint8_t pad;
};
static_assert(sizeof(ServiceIndexKey) == 8);

struct ServiceIndexKey6 {
    Ipv6Address vip;
    rte_be16_t port;
    uint8_t protocol;
    uint8_t pad;
};
static_assert(sizeof(ServiceIndexKey6) == 20);

// Connection sync, as the workers take part in it (docs/high-availability.md): a master's workers
// hand records to the control thread, which sends them; what a backup receives reaches the owning
// worker whatever these say.
struct SyncSettings {
    bool send = false;                  // role master or both
    uint32_t full_refresh_seconds = 0;  // every connection re-sent within this; 0 = never
};

struct ServiceSnapshot {
    ServiceSnapshot() = default;
    ServiceSnapshot(const ServiceSnapshot&) = delete;
    ServiceSnapshot& operator=(const ServiceSnapshot&) = delete;
    ~ServiceSnapshot();

    uint64_t generation = 0;
    std::vector<ServiceEntry> services;
    std::vector<RealServerEntry> real_servers;
    std::vector<sched::Destination> destinations;  // parallel to real_servers
    std::vector<rte_be32_t> vips;                  // distinct VIPs, sorted
    rte_hash* service_index = nullptr;             // ServiceIndexKey -> index into services
    rte_fib* fib = nullptr;                        // next-hop ids index next_hops; 0 = no route
    std::vector<NextHop> next_hops;
    // The same for IPv6 services and routes.
    std::vector<Ipv6Address> vips6;                // sorted
    rte_hash* service_index6 = nullptr;            // ServiceIndexKey6 -> index into services
    rte_fib6* fib6 = nullptr;                      // next-hop ids index next_hops6; 0 = no route
    std::vector<NextHop6> next_hops6;

    SyncSettings sync;
    // high_availability.vip_ownership kernel: a VIP is served (answered in ARP, forwarded to)
    // only while a kernel interface holds it, and every address a port's kernel interface holds
    // is answered for on that port (keepalived's floating gateway).
    bool vips_follow_kernel = false;
    std::vector<rte_be32_t> held_vips;                               // sorted
    std::array<std::vector<rte_be32_t>, max_ports> kernel_addresses;  // by interface port, sorted
    std::vector<Ipv6Address> held_vips6;                              // the same for IPv6
    std::array<std::vector<Ipv6Address>, max_ports> kernel_addresses6;
    bool serves_vip(rte_be32_t vip) const
    {
        return !vips_follow_kernel || std::binary_search(held_vips.begin(), held_vips.end(), vip);
    }
    bool serves_vip(const Ipv6Address& vip) const
    {
        return !vips_follow_kernel || std::binary_search(held_vips6.begin(), held_vips6.end(), vip);
    }
    bool kernel_holds(uint16_t port, rte_be32_t ip) const
    {
        return port < max_ports && std::binary_search(kernel_addresses[port].begin(), kernel_addresses[port].end(), ip);
    }
    bool kernel_holds(uint16_t port, const Ipv6Address& ip) const
    {
        return port < max_ports && std::binary_search(kernel_addresses6[port].begin(), kernel_addresses6[port].end(), ip);
    }
    // Indexed by service id: its index in `services` plus one; 0 when the snapshot lacks it.
    std::vector<uint32_t> service_index_by_id;
    const ServiceEntry* service_with_id(uint32_t id) const
    {
        return id < service_index_by_id.size() && service_index_by_id[id] != 0 ? &services[service_index_by_id[id] - 1]
                                                                               : nullptr;
    }

    // IPVS's expire_nodest_conn, and which real server ids the snapshot still has.
    bool expire_nodest_conn = false;
    bool sloppy_tcp = false;  // IPVS's sysctl: a non-SYN, non-RST TCP packet may open a connection
    DefenseSettings defense;
    // Indexed by real server id: the port its route leaves by, plus one; 0 when the snapshot
    // does not have it (or has no route to it).
    std::vector<uint8_t> real_server_port;
    bool has_real_server(uint32_t id) const { return id < real_server_port.size() && real_server_port[id] != 0; }
    // Whether `port` is where real server `id` at `address` is reached: the one place its
    // replies can come from. A server that left the snapshot is routed afresh.
    // An IPv4 service's IPv6 tunnel real server (IPv4 in IPv6): its IPv4 connections, which
    // hold a 4-byte real server, hold its id in 0.1.0.0/16 instead (0.0.0.0/8 is no host's, RFC
    // 1122), and the tunnel's far end is looked up here by id: the unspecified address when the
    // snapshot lacks it.
    static rte_be32_t ipv6_tunnel_handle(uint32_t id) { return rte_cpu_to_be_32(0x10000 | id); }
    static bool is_ipv6_tunnel_handle(rte_be32_t address) { return (rte_be_to_cpu_32(address) >> 16) == 1; }
    std::vector<Ipv6Address> ipv6_tunnel_ends;  // indexed by real server id
    const Ipv6Address& ipv6_tunnel_end(rte_be32_t handle) const
    {
        static const Ipv6Address none{};
        const uint32_t id = rte_be_to_cpu_32(handle) & 0xffff;
        return id < ipv6_tunnel_ends.size() ? ipv6_tunnel_ends[id] : none;
    }
    bool reaches_real_server_by(uint32_t id, rte_be32_t address, uint16_t port) const
    {
        if (has_real_server(id)) return real_server_port[id] == port + 1;
        const NextHop* hop = route(address);
        return hop != nullptr && hop->port == port;
    }
    bool reaches_real_server_by(uint32_t id, const Ipv6Address& address, uint16_t port) const
    {
        if (has_real_server(id)) return real_server_port[id] == port + 1;
        const NextHop6* hop = route(address);
        return hop != nullptr && hop->port == port;
    }

    // Addresses no client has, sorted: the director's own, the broadcast address of each subnet
    // it is on, and the VIPs (martian.hpp).
    std::vector<rte_be32_t> never_sources;
    // The IPv6 ones beyond those no IPv6 client has anyway (martian.hpp): the director's own
    // addresses and the VIPs, sorted.
    std::vector<Ipv6Address> never_sources6;

    // Idle timeouts in connection-table ticks: one per TCP state, and UDP's.
    std::array<Tick, tcp_state_count> tcp_timeout{};
    Tick udp_timeout = 0;

    const ServiceEntry* find_service(rte_be32_t vip, rte_be16_t port, uint8_t protocol) const;
    bool is_vip(rte_be32_t address) const;
    // The next hop for `dst`, or nullptr when no route covers it.
    const NextHop* route(rte_be32_t dst) const;
    const ServiceEntry* find_service(const Ipv6Address& vip, rte_be16_t port, uint8_t protocol) const;
    bool is_vip(const Ipv6Address& address) const;
    const NextHop6* route(const Ipv6Address& dst) const;

    std::span<const RealServerEntry> real_servers_of(const ServiceEntry& s) const
    {
        return {real_servers.data() + s.first_real_server, s.real_server_count};
    }
    std::span<const sched::Destination> destinations_of(const ServiceEntry& s) const
    {
        return {destinations.data() + s.first_real_server, s.real_server_count};
    }
};

}  // namespace fulcrum::dataplane
