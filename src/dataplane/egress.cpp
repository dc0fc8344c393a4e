#include "dataplane/egress.hpp"

#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include "dataplane/arp.hpp"
#include "dataplane/packet.hpp"

namespace fulcrum::dataplane {

namespace {

// How long a frame may wait for ARP, and how often the request is repeated meanwhile
// (fractions of a second, as TSC cycles are computed from them).
constexpr uint64_t pending_lifetime_divisor = 1;   // 1 s
constexpr uint64_t arp_retry_divisor = 5;           // 200 ms

void fill_ethernet(rte_mbuf* m, const PortInfo& port, const rte_ether_addr& next_hop_mac)
{
    auto* eth = rte_pktmbuf_mtod(m, rte_ether_hdr*);
    eth->dst_addr = next_hop_mac;
    eth->src_addr = port.mac;
    eth->ether_type = RTE_BE16(RTE_ETHER_TYPE_IPV4);
}

void send_arp_request(WorkerContext& w, uint16_t port_id, rte_be32_t target)
{
    const PortInfo& port = w.shared->ports[port_id];
    rte_mbuf* request = arp_build_request(w.shared->pool, port, port.source_for(target), target);
    if (request == nullptr) return;
    ++w.counters.arp_requests;
    egress_stage(w, port_id, request);
}

// The neighbour cache is direct-mapped on the low bits of the address (host order, so hosts of
// one subnet spread over the slots).
bool resolve(WorkerContext& w, rte_be32_t next_hop, rte_ether_addr& mac)
{
    auto& slot = w.neighbor_cache[rte_be_to_cpu_32(next_hop) & (neighbor_cache_size - 1)];
    const uint32_t now_s = w.now_tick / ticks_per_second;
    if (slot.entry != nullptr && slot.ip == next_hop && NeighborTable::mac_for(*slot.entry, next_hop, now_s, mac))
        return true;
    // Not cached, or the entry was forgotten (or is still unresolved): the table has the truth.
    const NeighborTable::Entry* entry = w.shared->neighbors->find(next_hop);
    if (entry == nullptr) return false;
    slot = {next_hop, entry};
    return NeighborTable::mac_for(*entry, next_hop, now_s, mac);
}

bool already_waiting_for(const WorkerContext& w, rte_be32_t next_hop)
{
    for (unsigned i = 0; i < w.pending_count; ++i)
        if (w.pending[i].next_hop == next_hop) return true;
    return false;
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
    const rte_be32_t next_hop = route.gateway != 0 ? route.gateway : destination;
    rte_ether_addr mac;
    if (resolve(w, next_hop, mac)) {
        fill_ethernet(m, w.shared->ports[route.port], mac);
        return Verdict::transmit(route.port);
    }
    if (w.pending_count == max_pending_arp) return Verdict::drop(DropReason::neighbor_unresolved);
    if (!already_waiting_for(w, next_hop)) send_arp_request(w, route.port, next_hop);
    w.pending[w.pending_count++] = {m, next_hop, route.port, w.now};
    ++w.counters.held_for_arp;
    return Verdict::held();
}

void egress_retry_pending(WorkerContext& w)
{
    if (w.pending_count == 0) return;
    const bool repeat_arp = w.now - w.last_arp_retry > w.shared->tsc_hz / arp_retry_divisor;
    if (repeat_arp) w.last_arp_retry = w.now;
    unsigned kept = 0;
    for (unsigned i = 0; i < w.pending_count; ++i) {
        PendingPacket p = w.pending[i];
        rte_ether_addr mac;
        if (resolve(w, p.next_hop, mac)) {
            fill_ethernet(p.mbuf, w.shared->ports[p.port_id], mac);
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
            if (w.pending[j].next_hop == p.next_hop) first_for_hop = false;
        if (repeat_arp && first_for_hop) send_arp_request(w, p.port_id, p.next_hop);
        w.pending[kept++] = p;
    }
    w.pending_count = kept;
}

Verdict egress_to_kernel(WorkerContext& w, uint16_t kernel_port)
{
    // One "byte" per frame: the meter counts frames.
    if (rte_meter_srtcm_color_blind_check(&w.kernel_meter, &w.shared->kernel_meter_profile, w.now, 1) != RTE_COLOR_GREEN)
        return Verdict::drop(DropReason::kernel_rate_limited);
    ++w.counters.to_kernel;
    return Verdict::transmit(kernel_port);
}

void egress_stage(WorkerContext& w, uint16_t port_id, rte_mbuf* m)
{
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
    for (unsigned i = 0; i < w.pending_count; ++i) rte_pktmbuf_free(w.pending[i].mbuf);
    w.pending_count = 0;
}

}  // namespace fulcrum::dataplane
