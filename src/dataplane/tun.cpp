#include "dataplane/tun.hpp"

#include <rte_ip_frag.h>
#include <rte_mbuf.h>

#include <cstring>

#include "dataplane/egress.hpp"
#include "dataplane/icmp.hpp"
#include "dataplane/icmp6.hpp"
#include "dataplane/pipeline.hpp"

namespace fulcrum::dataplane {

namespace {

constexpr unsigned max_fragments = 8;

// Moves the Ethernet header forward over `extra` freshly prepended bytes, leaving a gap between
// it and the IP header. False when the mbuf has no head-room.
bool open_gap_after_ethernet(rte_mbuf* m, uint16_t extra)
{
    auto* old_start = rte_pktmbuf_mtod(m, uint8_t*);
    auto* new_start = reinterpret_cast<uint8_t*>(rte_pktmbuf_prepend(m, extra));
    if (new_start == nullptr) return false;
    std::memmove(new_start, old_start, sizeof(rte_ether_hdr));
    return true;
}

// Cuts the IPv4 packet after the Ethernet header of `m` into fragments of at most `mtu` bytes
// and hands each, its Ethernet header room back in front, to send(fragment, its IP length).
template <typename Send>
Verdict send_fragments(WorkerContext& w, rte_mbuf* m, uint16_t mtu, Send send)
{
    // rte_ipv4_fragment_packet wants the IP header first.
    rte_pktmbuf_adj(m, sizeof(rte_ether_hdr));
    rte_mbuf* fragments[max_fragments];
    const int32_t n = rte_ipv4_fragment_packet(m, fragments, max_fragments, mtu, w.shared->pool,
                                               w.shared->indirect_pool);
    // The fragments hold references to m's data where they need it.
    rte_pktmbuf_free(m);
    if (n < 0) {
        ++w.counters.drop(DropReason::fragmentation_failed);
        return Verdict::held();
    }
    for (int32_t i = 0; i < n; ++i) {
        rte_mbuf* f = fragments[i];
        // The library leaves the fragments' header checksums to TX offload, which virtual
        // devices do not have.
        auto* ip = rte_pktmbuf_mtod(f, rte_ipv4_hdr*);
        ip->hdr_checksum = 0;
        ip->hdr_checksum = rte_ipv4_cksum(ip);
        if (rte_pktmbuf_prepend(f, sizeof(rte_ether_hdr)) == nullptr) {
            ++w.counters.drop(DropReason::fragmentation_failed);
            rte_pktmbuf_free(f);
            continue;
        }
        settle_packet(w, f, send(f, rte_be_to_cpu_16(ip->total_length)));
    }
    w.counters.tunnel_fragments += static_cast<uint64_t>(n);
    return Verdict::held();
}

// The inner IPv4 packet, with DF, is too big for the tunnel: as IPVS, the client hears the
// largest packet that fits.
Verdict refuse_frag_needed(WorkerContext& w, const ParsedPacket& p, const rte_ipv4_hdr* inner, uint16_t fits)
{
    if (!icmp_within_rate(w)) return Verdict::drop(DropReason::too_big_df);
    rte_mbuf* icmp = icmp_build_frag_needed(w.shared->pool, reinterpret_cast<const uint8_t*>(inner),
                                            rte_be_to_cpu_16(inner->total_length), p.key.dst_ip, fits);
    if (icmp != nullptr) {
        ++w.counters.icmp_frag_needed;
        settle_packet(w, icmp, egress_ipv4(w, icmp, p.key.src_ip));
    }
    return Verdict::drop(DropReason::too_big_df);
}

// An IPv6 tunnel packet's source: our address on the next hop's subnet or, beyond a link-local
// router, the port's first configured one; a link-local source would not be routed back.
Ipv6Address tunnel_source(const PortInfo& port, const NextHop6& hop, const Ipv6Address& real_server)
{
    const Ipv6Address& next = hop.gateway.is_unspecified() ? real_server : hop.gateway;
    if (next.is_link_local() && !port.local_ips6.empty()) return port.local_ips6.front();
    return port.source_for(next);
}

// Puts an outer IPv6 header in front of the `inner_length` bytes after the Ethernet header, as
// ip_vs_tunnel_xmit_v6: traffic class and hop limit from the inner packet, flow label 0.
Verdict send_in_ipv6(WorkerContext& w, rte_mbuf* m, uint16_t inner_length, uint8_t next_header, uint8_t traffic_class,
                     uint8_t hop_limit, const NextHop6& hop, const Ipv6Address& real_server)
{
    if (!open_gap_after_ethernet(m, sizeof(rte_ipv6_hdr))) return Verdict::drop(DropReason::no_headroom);
    auto* outer = header_at<rte_ipv6_hdr>(rte_pktmbuf_mtod(m, uint8_t*), sizeof(rte_ether_hdr));
    outer->vtc_flow = rte_cpu_to_be_32((6u << 28) | (uint32_t{traffic_class} << 20));
    outer->payload_len = rte_cpu_to_be_16(inner_length);
    outer->proto = next_header;
    outer->hop_limits = hop_limit;
    tunnel_source(w.shared->ports[hop.port], hop, real_server).to(outer->src_addr);
    real_server.to(outer->dst_addr);
    return egress_via(w, m, hop, real_server);
}

// IPv4 in IPv6, to an IPv4 service's IPv6 real server (the connection holds its handle). An
// inner packet too big for the tunnel is refused to the client with DF, as over IPv4; without
// DF it is the inner packet that is fragmented, each fragment in a tunnel packet of its own
// (where IPVS lets IPv6 fragment the outer one): the real server's IP layer reassembles either.
Verdict tun_forward_4in6(WorkerContext& w, rte_mbuf* m, const ParsedPacket& p, rte_be32_t handle)
{
    const Ipv6Address& real_server = w.snapshot->ipv6_tunnel_end(handle);
    if (real_server.is_unspecified()) return Verdict::drop(DropReason::real_server_gone);
    const NextHop6* hop = route_ipv6(w, real_server);
    if (hop == nullptr) return Verdict::drop(DropReason::no_route);
    const uint16_t mtu = w.shared->ports[hop->port].mtu;
    constexpr uint16_t overhead = sizeof(rte_ipv6_hdr);
    const rte_ipv4_hdr* inner = p.ip(rte_pktmbuf_mtod(m, uint8_t*));
    const uint16_t inner_length = rte_be_to_cpu_16(inner->total_length);
    const uint8_t tos = inner->type_of_service;
    const uint8_t ttl = inner->time_to_live;
    if (inner_length + overhead <= mtu)
        return send_in_ipv6(w, m, inner_length, IPPROTO_IPIP, tos, ttl, *hop, real_server);
    if ((inner->fragment_offset & RTE_BE16(RTE_IPV4_HDR_DF_FLAG)) != 0)
        return refuse_frag_needed(w, p, inner, static_cast<uint16_t>(mtu - overhead));

    return send_fragments(w, m, static_cast<uint16_t>(mtu - overhead), [&](rte_mbuf* f, uint16_t length) {
        return send_in_ipv6(w, f, length, IPPROTO_IPIP, tos, ttl, *hop, real_server);
    });
}

}  // namespace

void tun_write_outer_header(rte_ipv4_hdr* outer, const rte_ipv4_hdr* inner, rte_be32_t source,
                            rte_be32_t real_server, rte_be16_t packet_id)
{
    const uint16_t inner_length = rte_be_to_cpu_16(inner->total_length);
    outer->version_ihl = RTE_IPV4_VHL_DEF;
    outer->type_of_service = inner->type_of_service;
    outer->total_length = rte_cpu_to_be_16(static_cast<uint16_t>(inner_length + tunnel_overhead));
    outer->packet_id = packet_id;
    outer->fragment_offset = inner->fragment_offset & RTE_BE16(RTE_IPV4_HDR_DF_FLAG);
    outer->time_to_live = inner->time_to_live;
    outer->next_proto_id = IPPROTO_IPIP;
    outer->src_addr = source;
    outer->dst_addr = real_server;
    outer->hdr_checksum = 0;
    outer->hdr_checksum = rte_ipv4_cksum(outer);
}

Verdict tun_forward(WorkerContext& w, rte_mbuf* m, const ParsedPacket& p, rte_be32_t real_server)
{
    if (ServiceSnapshot::is_ipv6_tunnel_handle(real_server)) return tun_forward_4in6(w, m, p, real_server);
    const NextHop* hop = w.snapshot->route(real_server);
    if (hop == nullptr) return Verdict::drop(DropReason::no_route);
    const PortInfo& port = w.shared->ports[hop->port];
    const rte_ipv4_hdr* inner = p.ip(rte_pktmbuf_mtod(m, uint8_t*));
    const uint16_t inner_length = rte_be_to_cpu_16(inner->total_length);
    const bool dont_fragment = (inner->fragment_offset & RTE_BE16(RTE_IPV4_HDR_DF_FLAG)) != 0;

    if (inner_length + tunnel_overhead > port.mtu && dont_fragment)
        return refuse_frag_needed(w, p, inner, static_cast<uint16_t>(port.mtu - tunnel_overhead));

    if (!open_gap_after_ethernet(m, tunnel_overhead)) return Verdict::drop(DropReason::no_headroom);
    auto* frame = rte_pktmbuf_mtod(m, uint8_t*);
    auto* outer = header_at<rte_ipv4_hdr>(frame, sizeof(rte_ether_hdr));
    const rte_be32_t source = port.source_for(hop->gateway != 0 ? hop->gateway : real_server);
    tun_write_outer_header(outer, outer + 1, source, real_server,
                           rte_cpu_to_be_16(static_cast<uint16_t>(w.next_ip_id++)));
    if (inner_length + tunnel_overhead > port.mtu)
        return send_fragments(w, m, port.mtu, [&](rte_mbuf* f, uint16_t) {
            rte_pktmbuf_mtod(f, rte_ether_hdr*)->ether_type = RTE_BE16(RTE_ETHER_TYPE_IPV4);
            return egress_via(w, f, *hop, real_server);
        });
    return egress_via(w, m, *hop, real_server);
}

namespace {

// The inner packet is too big for the tunnel: the client hears the largest that fits, unless
// the packet is itself an ICMPv6 error (one relayed to a tunnelled real server), which is never
// answered with another (RFC 4443 2.4 e.1).
Verdict refuse_too_big(WorkerContext& w, const ParsedPacket& p, const uint8_t* inner, uint16_t inner_length,
                       uint16_t mtu, uint16_t overhead)
{
    const uint16_t fits = mtu > overhead ? static_cast<uint16_t>(mtu - overhead) : 0;
    const bool is_error = p.key.proto == IPPROTO_ICMPV6 && icmp6_is_error(inner[p.l4_offset - p.l3_offset]);
    // A link whose tunnel MTU is below IPv6's minimum would have to fragment the outer packet
    // (RFC 2473 7.1); such a link is not supported, and the packet is dropped unanswered.
    if (is_error || fits < ipv6_minimum_mtu || !icmp_within_rate(w)) return Verdict::drop(DropReason::too_big_df);
    const auto* ip = reinterpret_cast<const rte_ipv6_hdr*>(inner);
    rte_mbuf* icmp = icmp6_build_error(w.shared->pool, inner, inner_length, Ipv6Address::from(ip->dst_addr),
                                       icmp6_packet_too_big, 0, fits);
    if (icmp != nullptr) {
        ++w.counters.icmp_frag_needed;
        settle_packet(w, icmp, egress_ipv6(w, icmp, Ipv6Address::from(ip->src_addr)));
    }
    return Verdict::drop(DropReason::too_big_df);
}

}  // namespace

Verdict tun_forward(WorkerContext& w, rte_mbuf* m, const ParsedPacket& p, const Ipv6Address& real_server)
{
    const rte_ipv6_hdr* inner = p.ip6(rte_pktmbuf_mtod(m, uint8_t*));
    const auto inner_length = static_cast<uint16_t>(p.frame_length - p.l3_offset);
    const uint32_t traffic_class = (rte_be_to_cpu_32(inner->vtc_flow) >> 20) & 0xff;
    const uint8_t hop_limit = inner->hop_limits;
    if (real_server.is_ipv4_mapped()) {
        rte_be32_t real_server4;
        std::memcpy(&real_server4, &real_server.bytes[12], sizeof real_server4);
        const NextHop* hop = w.snapshot->route(real_server4);
        if (hop == nullptr) return Verdict::drop(DropReason::no_route);
        const PortInfo& port = w.shared->ports[hop->port];
        if (inner_length + tunnel_overhead > port.mtu)
            return refuse_too_big(w, p, reinterpret_cast<const uint8_t*>(inner), inner_length, port.mtu,
                                  tunnel_overhead);
        if (!open_gap_after_ethernet(m, tunnel_overhead)) return Verdict::drop(DropReason::no_headroom);
        auto* frame = rte_pktmbuf_mtod(m, uint8_t*);
        auto* outer = header_at<rte_ipv4_hdr>(frame, sizeof(rte_ether_hdr));
        outer->version_ihl = RTE_IPV4_VHL_DEF;
        outer->type_of_service = static_cast<uint8_t>(traffic_class);
        outer->total_length = rte_cpu_to_be_16(static_cast<uint16_t>(inner_length + tunnel_overhead));
        outer->packet_id = rte_cpu_to_be_16(static_cast<uint16_t>(w.next_ip_id++));
        // IPv6 is never fragmented on its way: neither is its tunnel.
        outer->fragment_offset = RTE_BE16(RTE_IPV4_HDR_DF_FLAG);
        outer->time_to_live = hop_limit;
        outer->next_proto_id = IPPROTO_IPV6;
        outer->src_addr = port.source_for(hop->gateway != 0 ? hop->gateway : real_server4);
        outer->dst_addr = real_server4;
        outer->hdr_checksum = 0;
        outer->hdr_checksum = rte_ipv4_cksum(outer);
        return egress_via(w, m, *hop, real_server4);
    }
    const NextHop6* hop = route_ipv6(w, real_server);
    if (hop == nullptr) return Verdict::drop(DropReason::no_route);
    const uint16_t mtu = w.shared->ports[hop->port].mtu;
    constexpr uint16_t overhead = sizeof(rte_ipv6_hdr);
    if (inner_length + overhead > mtu)
        return refuse_too_big(w, p, reinterpret_cast<const uint8_t*>(inner), inner_length, mtu, overhead);
    return send_in_ipv6(w, m, inner_length, IPPROTO_IPV6, static_cast<uint8_t>(traffic_class), hop_limit, *hop,
                        real_server);
}

}  // namespace fulcrum::dataplane
