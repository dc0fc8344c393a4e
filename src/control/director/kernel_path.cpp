// The director's kernel side: the TAPs' routes, gratuitous ARP, and neighbours the workers learned.
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

#include <algorithm>
#include <numeric>
#include <chrono>
#include <thread>

#include "control/config/writer.hpp"
#include "control/frontends/ipvsadm_format.hpp"
#include "control/log.hpp"
#include "dataplane/arp.hpp"
#include "dataplane/nd.hpp"
#include "dataplane/port.hpp"
#include "dataplane/steering.hpp"
#include "dataplane/worker.hpp"

namespace fulcrum::control {

using namespace fulcrum::dataplane;

void Director::sync_kernel_routes(const Config& config)
{
    const std::vector<KernelRoute> wanted = kernel_routes_wanted(config);
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
            log::warning("exception path: the kernel has a route to {} already; it is left as it is",
                         format_prefix({r.dst.network(), r.dst.length}));
        if (added) kept.push_back(r);
    }
    kernel_routes_ = std::move(kept);
}

KernelAddresses Director::kernel_addresses(const Config& config) const
{
    KernelAddresses held;
    if (config.high_availability.vip_ownership != VipOwnership::kernel) return held;
    for (const InterfaceConfig& iface : config.interfaces)
        if (!iface.kernel_interface.empty()) held[iface.name] = address_watch_.held_by(iface.kernel_interface);
    return held;
}

void Director::follow_kernel_addresses()
{
    if (!address_watch_.poll() || config_.high_availability.vip_ownership != VipOwnership::kernel) return;
    if (auto e = publish(config_); !e.empty()) log::error("cannot publish what the kernel interfaces hold: {}", e);
}

namespace {

std::string address_text(rte_be32_t ip) { return format_ipv4(rte_be_to_cpu_32(ip)); }
std::string address_text(const Ipv6Address& ip) { return format_ip(IpAddress::ipv6(ip.bytes)); }

}  // namespace

// One family's addresses held by port_id's kernel interface: those new since `before` are
// announced (gratuitous ARP, unsolicited neighbour advertisement), and `before` becomes `held`.
template <typename Address, typename Announce>
void Director::announce_acquired_on(const ServiceSnapshot& snapshot, unsigned port_id, const std::vector<Address>& held,
                                    std::vector<Address>& before, Announce announce)
{
    for (const Address& ip : held) {
        if (std::binary_search(before.begin(), before.end(), ip)) continue;
        log::info("{} {} is held by kernel interface {}: answering for it on {}", snapshot.is_vip(ip) ? "VIP" : "address",
                  address_text(ip), shared_.ports[shared_.ports[port_id].kernel_port].name, shared_.ports[port_id].name);
        announce(ip);
    }
    for (const Address& ip : before)
        if (!std::binary_search(held.begin(), held.end(), ip))
            log::info("{} {} is no longer held by a kernel interface: not answering for it on {}",
                      snapshot.is_vip(ip) ? "VIP" : "address", address_text(ip), shared_.ports[port_id].name);
    before = held;
}

void Director::announce_acquired(const ServiceSnapshot& snapshot)
{
    // An address a kernel interface just took (keepalived's master moving a VIP or the gateway
    // here) is announced from its port at once, so that neighbours switch to this director;
    // keepalived announces it too, through the TAP.
    for (unsigned port_id = 0; port_id < max_ports; ++port_id) {
        const PortInfo& port = shared_.ports[port_id];
        announce_acquired_on(snapshot, port_id, snapshot.kernel_addresses[port_id], announced_[port_id],
                             [&](rte_be32_t ip) { send_gratuitous_arp(port, ip); });
        announce_acquired_on(snapshot, port_id, snapshot.kernel_addresses6[port_id], announced6_[port_id],
                             [&](const Ipv6Address& ip) { send_unsolicited_advertisement(port, ip); });
    }
}

void Director::announce_addresses()
{
    // Gratuitous ARP for our addresses and every VIP, so that neighbours that cached another
    // owner (a previous director) switch to us at once. Under vip_ownership kernel, VIPs are
    // announced when acquired instead (announce_acquired), never on a reload.
    const ServiceSnapshot* snapshot = shared_.snapshot.load(std::memory_order_acquire);
    for (unsigned port_id = 0; port_id < shared_.port_count; ++port_id) {
        const PortInfo& port = shared_.ports[port_id];
        // The kernel behind a TAP port needs no announcement of the addresses the port answers for.
        // Nor does a device whose interfaces are all on VLANs: those are ports of their own.
        if (port.name.empty() || !port.untagged ||
            std::find(kernel_ports_.begin(), kernel_ports_.end(), port_id) != kernel_ports_.end())
            continue;
        std::vector<rte_be32_t> addresses = port.local_ips;
        if (!snapshot->vips_follow_kernel) addresses.insert(addresses.end(), snapshot->vips.begin(), snapshot->vips.end());
        for (rte_be32_t ip : addresses) send_gratuitous_arp(port, ip);
        // The same for IPv6 (RFC 4861 7.2.6), the link-local address included.
        std::vector<Ipv6Address> addresses6 = port.local_ips6;
        addresses6.push_back(port.link_local);
        if (!snapshot->vips_follow_kernel) addresses6.insert(addresses6.end(), snapshot->vips6.begin(), snapshot->vips6.end());
        for (const Ipv6Address& ip : addresses6) send_unsolicited_advertisement(port, ip);
    }
}

void Director::send_unsolicited_advertisement(const PortInfo& port, const Ipv6Address& ip)
{
    rte_mbuf* m = nd_build_advertisement(shared_.pool, port, ip);
    if (m == nullptr || workers_.empty() || rte_ring_sp_enqueue(workers_[0]->from_control, m) != 0) {
        rte_pktmbuf_free(m);
        log::warning("neighbour advertisement for {} on {} not sent", format_ip(IpAddress::ipv6(ip.bytes)), port.name);
    }
}

void Director::send_gratuitous_arp(const PortInfo& port, rte_be32_t ip)
{
    // Worker 0 sends what the control core hands it.
    rte_mbuf* m = arp_build_request(shared_.pool, port, ip, ip);
    if (m == nullptr || workers_.empty() || rte_ring_sp_enqueue(workers_[0]->from_control, m) != 0) {
        rte_pktmbuf_free(m);
        log::warning("gratuitous ARP for {} on {} not sent", format_ipv4(rte_be_to_cpu_32(ip)), port.name);
    }
}

namespace {

std::string neighbor_text(rte_be32_t ip) { return format_ipv4(rte_be_to_cpu_32(ip)); }
std::string neighbor_text(const dataplane::Ipv6Address& key)
{
    return format_ip(IpAddress::ipv6(dataplane::neighbor_address(key).bytes));
}

// What the workers heard about one family's neighbours, into its table.
template <typename Table>
void learn_from_ring(rte_ring* ring, Table& table, uint32_t now_s)
{
    using Update = typename Table::Update;
    Update updates[64];
    unsigned n;
    while ((n = rte_ring_sc_dequeue_burst_elem(ring, updates, sizeof(Update), 64, nullptr)) > 0) {
        for (unsigned i = 0; i < n; ++i) {
            const Update& u = updates[i];
            if (!table.update(u.ip, u.mac, u.port, false, now_s))
                log::warning("neighbour table full: {} not learned", neighbor_text(u.ip));
            else
                log::debug("neighbour {} is at {} on port {}", neighbor_text(u.ip), format_mac(from_ether(u.mac)), u.port);
        }
    }
}

}  // namespace

void Director::add_static_neighbor(const NeighborConfig& n)
{
    const bool added = n.ip.is_ipv4()
                           ? neighbors_->update(rte_cpu_to_be_32(n.ip.ipv4()), to_ether(n.mac), 0, true)
                           : neighbors6_->update(Ipv6Address{n.ip.bytes()}, to_ether(n.mac), 0, true);
    if (!added) log::warning("neighbour table full: static neighbour {} not added", format_ip(n.ip));
}

void Director::learn_neighbors()
{
    learn_from_ring(shared_.neighbor_updates, *neighbors_, dataplane_seconds());
    learn_from_ring(shared_.neighbor6_updates, *neighbors6_, dataplane_seconds());
}

}  // namespace fulcrum::control
