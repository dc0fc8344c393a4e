#include "dataplane/egress.hpp"

#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include "dataplane/arp.hpp"
#include "dataplane/nd.hpp"
#include "dataplane/packet.hpp"
#include "dataplane/vlan.hpp"

namespace fulcrum::dataplane {

namespace {

// How long a frame may wait for ARP, and how often the request is repeated meanwhile
// (fractions of a second, as TSC cycles are computed from them).
constexpr uint64_t pending_lifetime_divisor = 1;   // 1 s
constexpr uint64_t arp_retry_divisor = 5;           // 200 ms

void fill_ethernet(rte_mbuf* m, const PortInfo& port, const rte_ether_addr& next_hop_mac, rte_be16_t ether_type)
{
    auto* eth = rte_pktmbuf_mtod(m, rte_ether_hdr*);
    eth->dst_addr = next_hop_mac;
    eth->src_addr = port.mac;
    eth->ether_type = ether_type;
}

// What differs between resolving an IPv4 and an IPv6 next hop: the table, the worker's state,
// the Ethernet type, and how the neighbour is asked (ARP request, neighbour solicitation).
template <typename Address>
struct NextHopFamily;

template <>
struct NextHopFamily<rte_be32_t> {
    static constexpr rte_be16_t ether_type = RTE_BE16(RTE_ETHER_TYPE_IPV4);
    static const NeighborTable& table(const WorkerContext& w) { return *w.shared->neighbors; }
    static NextHopState<rte_be32_t>& state(WorkerContext& w) { return w.next_hops; }
    // Host order, so hosts of one subnet spread over the slots.
    static uint32_t cache_index(rte_be32_t ip) { return rte_be_to_cpu_32(ip) & (neighbor_cache_size - 1); }
    static rte_be32_t key(rte_be32_t ip, uint16_t) { return ip; }
    static void ask(WorkerContext& w, uint16_t port_id, rte_be32_t target)
    {
        const PortInfo& port = w.shared->ports[port_id];
        rte_mbuf* request = arp_build_request(w.shared->pool, port, port.source_for(target), target);
        if (request == nullptr) return;
        ++w.counters.arp_requests;
        egress_stage(w, port_id, request);
    }
};

template <>
struct NextHopFamily<Ipv6Address> {
    static constexpr rte_be16_t ether_type = RTE_BE16(RTE_ETHER_TYPE_IPV6);
    static const Neighbor6Table& table(const WorkerContext& w) { return *w.shared->neighbors6; }
    static NextHopState<Ipv6Address>& state(WorkerContext& w) { return w.next_hops6; }
    static uint32_t cache_index(const Ipv6Address& ip)
    {
        return ((uint32_t{ip.bytes[14]} << 8) | ip.bytes[15]) & (neighbor_cache_size - 1);
    }
    static Ipv6Address key(const Ipv6Address& ip, uint16_t port) { return neighbor_key(ip, port); }
    static void ask(WorkerContext& w, uint16_t port_id, const Ipv6Address& target)
    {
        const PortInfo& port = w.shared->ports[port_id];
        rte_mbuf* request = nd_build_solicitation(w.shared->pool, port, port.source_for(target), target);
        if (request == nullptr) return;
        ++w.counters.nd_solicitations;
        egress_stage(w, port_id, request);
    }
};

// The neighbour cache is direct-mapped on the low bits of the address. `port` is where the next
// hop is reached (a link-local one's table key has it).
template <typename Address>
bool resolve(WorkerContext& w, const Address& address, uint16_t port, rte_ether_addr& mac)
{
    using Family = NextHopFamily<Address>;
    using Table = BasicNeighborTable<Address>;
    const Address next_hop = Family::key(address, port);
    auto& slot = Family::state(w).cache[Family::cache_index(next_hop)];
    const uint32_t now_s = w.now_tick / ticks_per_second;
    if (slot.entry != nullptr && slot.ip == next_hop && Table::mac_for(*slot.entry, next_hop, now_s, mac))
        return true;
    // Not cached, or the entry was forgotten (or is still unresolved): the table has the truth.
    const typename Table::Entry* entry = Family::table(w).find(next_hop);
    if (entry == nullptr) return false;
    slot = {next_hop, entry};
    return Table::mac_for(*entry, next_hop, now_s, mac);
}

template <typename Address>
bool already_waiting_for(const NextHopState<Address>& state, const Address& next_hop, uint16_t port)
{
    for (unsigned i = 0; i < state.pending_count; ++i)
        if (state.pending[i].next_hop == next_hop && state.pending[i].port_id == port) return true;
    return false;
}

template <typename Address>
Verdict send_to_next_hop(WorkerContext& w, rte_mbuf* m, uint16_t port_id, const Address& next_hop)
{
    using Family = NextHopFamily<Address>;
    rte_ether_addr mac;
    if (resolve(w, next_hop, port_id, mac)) {
        fill_ethernet(m, w.shared->ports[port_id], mac, Family::ether_type);
        return Verdict::transmit(port_id);
    }
    NextHopState<Address>& state = Family::state(w);
    if (state.pending_count == max_pending_arp) return Verdict::drop(DropReason::neighbor_unresolved);
    if (!already_waiting_for(state, next_hop, port_id)) Family::ask(w, port_id, next_hop);
    state.pending[state.pending_count++] = {m, next_hop, port_id, w.now};
    ++w.counters.held_for_arp;
    return Verdict::held();
}

template <typename Address>
void retry_pending(WorkerContext& w)
{
    using Family = NextHopFamily<Address>;
    NextHopState<Address>& state = Family::state(w);
    if (state.pending_count == 0) return;
    const bool ask_again = w.now - state.last_retry > w.shared->tsc_hz / arp_retry_divisor;
    if (ask_again) state.last_retry = w.now;
    unsigned kept = 0;
    for (unsigned i = 0; i < state.pending_count; ++i) {
        BasicPendingPacket<Address> p = state.pending[i];
        rte_ether_addr mac;
        if (resolve(w, p.next_hop, p.port_id, mac)) {
            fill_ethernet(p.mbuf, w.shared->ports[p.port_id], mac, Family::ether_type);
            egress_stage(w, p.port_id, p.mbuf);
            continue;
        }
        if (w.now - p.since > w.shared->tsc_hz / pending_lifetime_divisor) {
            ++w.counters.drop(DropReason::neighbor_unresolved);
            rte_pktmbuf_free(p.mbuf);
            continue;
        }
        // One request per next hop per retry round: only the first frame waiting for it asks.
        bool first_for_hop = true;
        for (unsigned j = 0; j < kept; ++j)
            if (state.pending[j].next_hop == p.next_hop && state.pending[j].port_id == p.port_id) first_for_hop = false;
        if (ask_again && first_for_hop) Family::ask(w, p.port_id, p.next_hop);
        state.pending[kept++] = p;
    }
    state.pending_count = kept;
}

template <typename Address>
void release_pending(NextHopState<Address>& state)
{
    for (unsigned i = 0; i < state.pending_count; ++i) rte_pktmbuf_free(state.pending[i].mbuf);
    state.pending_count = 0;
}

}  // namespace

Verdict egress_ipv4(WorkerContext& w, rte_mbuf* m, rte_be32_t destination)
{
    const NextHop* hop = w.snapshot->route(destination);
    if (hop == nullptr) return Verdict::drop(DropReason::no_route);
    return egress_via(w, m, *hop, destination);
}

Verdict egress_via(WorkerContext& w, rte_mbuf* m, const NextHop& route, rte_be32_t destination)
{
    return send_to_next_hop(w, m, route.port, route.gateway != 0 ? route.gateway : destination);
}

const NextHop6* route_ipv6(WorkerContext& w, const Ipv6Address& destination)
{
    // Snapshot generations start at 1, so a slot never filled never matches.
    auto& slot = w.route_cache6[((uint32_t{destination.bytes[14]} << 8) | destination.bytes[15]) & (route_cache6_size - 1)];
    if (slot.generation == w.snapshot->generation && slot.destination == destination) return slot.hop;
    const NextHop6* hop = w.snapshot->route(destination);
    // No route is not cached: it is rare, and the next packet asks the trie again.
    if (hop != nullptr) slot = {destination, hop, w.snapshot->generation};
    return hop;
}

Verdict egress_ipv6(WorkerContext& w, rte_mbuf* m, const Ipv6Address& destination)
{
    const NextHop6* hop = route_ipv6(w, destination);
    if (hop == nullptr) return Verdict::drop(DropReason::no_route);
    return egress_via(w, m, *hop, destination);
}

Verdict egress_via(WorkerContext& w, rte_mbuf* m, const NextHop6& route, const Ipv6Address& destination)
{
    return send_to_next_hop(w, m, route.port, route.gateway.is_unspecified() ? destination : route.gateway);
}

void egress_retry_pending(WorkerContext& w)
{
    retry_pending<rte_be32_t>(w);
    retry_pending<Ipv6Address>(w);
}

Verdict egress_to_kernel(WorkerContext& w, const rte_mbuf* m, uint16_t kernel_port)
{
    // A TAP may take less than its port (net_tap's MTU stops at 1504): the kernel would never
    // see the frame, and the TAP would count it only as an error of its own.
    if (m->pkt_len > w.shared->ports[kernel_port].mtu + uint32_t{RTE_ETHER_HDR_LEN + RTE_VLAN_HLEN})
        return Verdict::drop(DropReason::kernel_too_big);
    // One "byte" per frame: the meter counts frames.
    if (rte_meter_srtcm_color_blind_check(&w.kernel_meter, &w.shared->kernel_meter_profile, w.now, 1) != RTE_COLOR_GREEN)
        return Verdict::drop(DropReason::kernel_rate_limited);
    ++w.counters.to_kernel;
    return Verdict::transmit(kernel_port);
}

void egress_stage(WorkerContext& w, uint16_t port_id, rte_mbuf* m)
{
    if (w.shared->vlans) {
        if (const PortInfo& out = w.shared->ports[port_id]; out.vlan != 0) {
            if (!vlan_tag(m, out)) {
                ++w.counters.drop(DropReason::vlan_untaggable);
                rte_pktmbuf_free(m);
                return;
            }
            port_id = out.device_port;
        }
    }
    // A fragment is a header mbuf and an indirect one over the original's data; a device without
    // multi-segment TX would send the header alone, or worse (docs/nics.md).
    if (m->nb_segs > 1 && !w.shared->ports[port_id].sends_chains && rte_pktmbuf_linearize(m) != 0) {
        ++w.counters.drop(DropReason::chain_unsendable);
        rte_pktmbuf_free(m);
        return;
    }
    if (w.tx_count[port_id] == tx_stage_size) egress_flush(w);
    w.tx[port_id][w.tx_count[port_id]++] = m;
}

void egress_flush(WorkerContext& w)
{
    for (unsigned port = 0; port < w.shared->port_count; ++port) {
        const uint16_t count = w.tx_count[port];
        if (count == 0) continue;
        rte_mbuf** frames = w.tx[port].data();
        const uint16_t sent = rte_eth_tx_burst(static_cast<uint16_t>(port), w.tx_queue, frames, count);
        w.counters.tx_packets += sent;
        if (sent < count) {
            w.counters.drop(DropReason::tx_full) += count - sent;
            rte_pktmbuf_free_bulk(frames + sent, count - sent);
        }
        w.tx_count[port] = 0;
    }
}

void egress_release_pending(WorkerContext& w)
{
    release_pending(w.next_hops);
    release_pending(w.next_hops6);
}

}  // namespace fulcrum::dataplane
