#include "dataplane/icmp_related.hpp"

#include <rte_mbuf.h>

#include <cstring>
#include <utility>

#include "dataplane/egress.hpp"
#include "dataplane/icmp.hpp"
#include "dataplane/icmp6.hpp"
#include "dataplane/forward.hpp"
#include "dataplane/pipeline.hpp"
#include "dataplane/tun.hpp"

namespace fulcrum::dataplane {

namespace {

// Linux's net.ipv4.route.min_pmtu: a smaller path MTU is not believed.
constexpr uint16_t min_path_mtu = 552;

bool tunnels_to(const Connection& c, rte_be32_t real_server)
{
    return c.method == ForwardMethod::tun && c.real_ip == real_server;
}

// The client of the IPv4 packet quoted at `inner` (`quoted` bytes of it) hears
// fragmentation-needed with `mtu` from the address it sent to; `m` (the router's message) is
// consumed.
Verdict tell_client_frag_needed(WorkerContext& w, rte_mbuf* m, const rte_ipv4_hdr* inner, uint32_t quoted, uint16_t mtu)
{
    if (!icmp_within_rate(w)) return Verdict::drop(DropReason::icmp_rate_limited);
    rte_mbuf* reply = icmp_build_frag_needed(w.shared->pool, reinterpret_cast<const uint8_t*>(inner),
                                             static_cast<uint16_t>(quoted), inner->dst_addr, mtu);
    if (reply == nullptr) return Verdict::drop(DropReason::icmp_unhandled);
    ++w.counters.icmp_frag_needed;
    ++w.counters.icmp_related;
    settle_packet(w, reply, egress_ipv4(w, reply, inner->src_addr));
    rte_pktmbuf_free(m);
    return Verdict::held();
}

Verdict tunnel_frag_needed(WorkerContext& w, rte_mbuf* m, uint8_t* frame, const ParsedPacket& p,
                           const rte_ipv4_hdr* outer_quote)
{
    const auto* icmp = header_at<rte_icmp_hdr>(frame, p.l4_offset);
    if (icmp->icmp_type != icmp_dest_unreachable || icmp->icmp_code != icmp_code_frag_needed)
        return Verdict::drop(DropReason::icmp_unhandled);
    const rte_ipv4_hdr* inner = icmp_quoted_inner(frame, p);
    if (inner == nullptr) return Verdict::drop(DropReason::icmp_unhandled);
    const uint16_t outer_length = static_cast<uint16_t>(rte_ipv4_hdr_len(outer_quote));
    const auto [sport, dport] = quoted_ports(inner);
    const FlowKey client_key{inner->src_addr, inner->dst_addr, sport, dport, inner->next_proto_id, {0, 0, 0}};
    ConnTable::Hit hit = w.conns.lookup(client_key);
    if (hit.conn == nullptr || hit.is_reply) return Verdict::drop(DropReason::icmp_unhandled);

    // Believed only when it can be about what we sent: our tunnel packet of this connection,
    // to its real server, from our address it is sent back to, with DF (without DF we fragment
    // ourselves and no router sends this), and an MTU the kernel would not ignore (min_pmtu,
    // 552): otherwise anyone could shrink a client's segments to nothing.
    if (!tunnels_to(*hit.conn, outer_quote->dst_addr) || p.ip(frame)->dst_addr != outer_quote->src_addr ||
        (outer_quote->fragment_offset & RTE_BE16(RTE_IPV4_HDR_DF_FLAG)) == 0)
        return Verdict::drop(DropReason::icmp_forged);
    const uint16_t path_mtu = rte_be_to_cpu_16(icmp->icmp_seq_nb);
    if (path_mtu < tunnel_overhead + min_path_mtu) return Verdict::drop(DropReason::icmp_forged);
    return tell_client_frag_needed(w, m, inner, p.quote_length() - outer_length,
                                   static_cast<uint16_t>(path_mtu - tunnel_overhead));
}

// The client of IPv6 connection `key` hears packet too big from the VIP, carrying `mtu` and
// quoting what the router quoted of its packet; `m` (the router's message) is consumed.
Verdict tell_client_too_big6(WorkerContext& w, rte_mbuf* m, const uint8_t* inner, uint32_t inner_length,
                             const FlowKey6& key, uint32_t mtu)
{
    if (!icmp_within_rate(w)) return Verdict::drop(DropReason::icmp_rate_limited);
    rte_mbuf* reply = icmp6_build_error(w.shared->pool, inner, static_cast<uint16_t>(inner_length), key.dst_ip,
                                        icmp6_packet_too_big, 0, mtu);
    if (reply == nullptr) return Verdict::drop(DropReason::icmp_unhandled);
    ++w.counters.icmp_frag_needed;
    ++w.counters.icmp_related;
    settle_packet(w, reply, egress_ipv6(w, reply, key.src_ip));
    rte_pktmbuf_free(m);
    return Verdict::held();
}

// A router's fragmentation-needed about one of our IPv6-in-IPv4 packets: the client hears packet
// too big for what fits inside, under the same checks as for IPIP, and never below IPv6's 1280.
Verdict tunnel6_over_4_frag_needed(WorkerContext& w, rte_mbuf* m, uint8_t* frame, const ParsedPacket& p,
                                   const rte_ipv4_hdr* outer_quote)
{
    const auto* icmp = header_at<rte_icmp_hdr>(frame, p.l4_offset);
    if (icmp->icmp_type != icmp_dest_unreachable || icmp->icmp_code != icmp_code_frag_needed)
        return Verdict::drop(DropReason::icmp_unhandled);
    const uint32_t outer_length = rte_ipv4_hdr_len(outer_quote);
    if (p.quote_length() <= outer_length) return Verdict::drop(DropReason::icmp_unhandled);
    const uint32_t inner_offset = p.quote_offset + outer_length;
    const uint32_t available = p.quote_length() - outer_length;
    const auto key = icmp6_quoted_key(frame, inner_offset, available);
    if (!key) return Verdict::drop(DropReason::icmp_unhandled);
    const ConnTable6::Hit hit = w.conns6.lookup(*key);
    if (hit.conn == nullptr || hit.is_reply) return Verdict::drop(DropReason::icmp_unhandled);
    if (hit.conn->method != ForwardMethod::tun || hit.conn->real_ip != ipv4_mapped(outer_quote->dst_addr) ||
        p.ip(frame)->dst_addr != outer_quote->src_addr ||
        (outer_quote->fragment_offset & RTE_BE16(RTE_IPV4_HDR_DF_FLAG)) == 0)
        return Verdict::drop(DropReason::icmp_forged);
    const uint16_t path_mtu = rte_be_to_cpu_16(icmp->icmp_seq_nb);
    if (path_mtu < tunnel_overhead + ipv6_minimum_mtu) return Verdict::drop(DropReason::icmp_forged);
    return tell_client_too_big6(w, m, frame + inner_offset, available, *key, path_mtu - tunnel_overhead);
}

// A router's packet too big about one of our IPv6 tunnel packets (IPv6 or IPv4 inside; ours
// carry no extension headers): the client hears what fits inside, believed only when it is about
// our packet of its connection, to that connection's real server, sent back to the address it
// came from, with an MTU the inner family can use.
Verdict tunnel6_too_big(WorkerContext& w, rte_mbuf* m, uint8_t* frame, const ParsedPacket& p,
                        const rte_ipv6_hdr* outer_quote)
{
    const uint8_t* message = frame + p.l4_offset;
    if (message[0] != icmp6_packet_too_big) return Verdict::drop(DropReason::icmp_unhandled);
    constexpr uint32_t overhead = sizeof(rte_ipv6_hdr);
    const uint32_t inner_offset = p.quote_offset + overhead;
    const uint32_t quote_end = uint32_t{p.l4_offset} + p.l4_length;
    if (quote_end <= inner_offset) return Verdict::drop(DropReason::icmp_unhandled);
    const uint32_t available = quote_end - inner_offset;
    const Ipv6Address real_server = Ipv6Address::from(outer_quote->dst_addr);
    const uint32_t path_mtu = uint32_t{message[4]} << 24 | uint32_t{message[5]} << 16 | uint32_t{message[6]} << 8 | message[7];
    const bool sent_back = Ipv6Address::from(p.ip6(frame)->dst_addr) == Ipv6Address::from(outer_quote->src_addr);
    if (outer_quote->proto == IPPROTO_IPV6) {
        const auto key = icmp6_quoted_key(frame, inner_offset, available);
        if (!key) return Verdict::drop(DropReason::icmp_unhandled);
        const ConnTable6::Hit hit = w.conns6.lookup(*key);
        if (hit.conn == nullptr || hit.is_reply) return Verdict::drop(DropReason::icmp_unhandled);
        if (hit.conn->method != ForwardMethod::tun || hit.conn->real_ip != real_server || !sent_back ||
            path_mtu < overhead + ipv6_minimum_mtu)
            return Verdict::drop(DropReason::icmp_forged);
        return tell_client_too_big6(w, m, frame + inner_offset, available, *key, path_mtu - overhead);
    }
    // IPv4 inside: the client hears fragmentation-needed, if its packet had DF (without, this
    // director would have to fragment for that path, and keeps no path MTU).
    const rte_ipv4_hdr* inner = icmp_quoted_header(frame, inner_offset, available);
    if (inner == nullptr) return Verdict::drop(DropReason::icmp_unhandled);
    const auto [sport, dport] = quoted_ports(inner);
    const ConnTable::Hit hit =
        w.conns.lookup(FlowKey{inner->src_addr, inner->dst_addr, sport, dport, inner->next_proto_id, {0, 0, 0}});
    if (hit.conn == nullptr || hit.is_reply) return Verdict::drop(DropReason::icmp_unhandled);
    if (hit.conn->method != ForwardMethod::tun || !ServiceSnapshot::is_ipv6_tunnel_handle(hit.conn->real_ip) ||
        w.snapshot->ipv6_tunnel_end(hit.conn->real_ip) != real_server || !sent_back ||
        path_mtu < overhead + min_path_mtu)
        return Verdict::drop(DropReason::icmp_forged);
    if ((inner->fragment_offset & RTE_BE16(RTE_IPV4_HDR_DF_FLAG)) == 0) return Verdict::drop(DropReason::icmp_unhandled);
    return tell_client_frag_needed(w, m, inner, available, static_cast<uint16_t>(path_mtu - overhead));
}

}  // namespace

Verdict icmp_forward_related(WorkerContext& w, rte_mbuf* m, uint8_t* frame, const ParsedPacket& p)
{
    const auto* icmp = header_at<rte_icmp_hdr>(frame, p.l4_offset);
    if (!icmp_is_error(icmp->icmp_type)) return Verdict::next();
    // The message is about to be believed (and its checksum recomputed for NAT): a corrupt one
    // must not come out valid. Errors are rare, so summing them costs nothing that matters.
    if (rte_raw_cksum(icmp, p.l4_length) != 0xffff) return Verdict::drop(DropReason::icmp_bad_checksum);
    if (p.quote_offset == 0) return Verdict::drop(DropReason::icmp_unhandled);
    rte_ipv4_hdr* quote = p.quote(frame);

    if (quote->next_proto_id == IPPROTO_IPIP && w.shared->is_local(quote->src_addr))
        return tunnel_frag_needed(w, m, frame, p, quote);
    if (quote->next_proto_id == IPPROTO_IPV6 && w.shared->is_local(quote->src_addr))
        return tunnel6_over_4_frag_needed(w, m, frame, p, quote);
    if (quote->next_proto_id != IPPROTO_TCP && quote->next_proto_id != IPPROTO_UDP)
        return Verdict::drop(DropReason::icmp_unhandled);

    const auto [sport, dport] = quoted_ports(quote);
    // The quoted packet went the other way: reversed, it is the key its connection knows.
    const FlowKey key{quote->dst_addr, quote->src_addr, dport, sport, quote->next_proto_id, {0, 0, 0}};
    ConnTable::Hit hit = w.conns.lookup(key);
    if (hit.conn == nullptr) return Verdict::drop(DropReason::icmp_unhandled);
    Connection& c = *hit.conn;
    rte_ipv4_hdr* ip = p.ip(frame);
    // An error goes to the source of the packet it quotes: the VIP for what the director sent
    // the client, the client for what a NAT real server was sent. Any other destination is made
    // up, and forwarding it would let anyone have the VIP send packets anywhere.
    if (ip->dst_addr != (hit.is_reply ? c.client_key.src_ip : c.client_key.dst_ip))
        return Verdict::drop(DropReason::icmp_forged);
    ++w.counters.icmp_related;

    // From the client's side, about a reply the director sent it (VIP -> client): on by the
    // connection's method. From a NAT real server's side, about what the client sent it.
    if (!hit.is_reply) return forward_related_icmp(w, m, frame, p, c);
    return nat_reply_related_icmp(w, m, frame, p, c);
}

Verdict icmp6_forward_related(WorkerContext& w, rte_mbuf* m, uint8_t* frame, const ParsedPacket& p)
{
    const uint8_t* message = frame + p.l4_offset;
    if (!icmp6_is_error(message[0])) return Verdict::next();
    const rte_ipv6_hdr* ip = p.ip6(frame);
    if (icmp6_checksum(ip, message, p.l4_length) != 0) return Verdict::drop(DropReason::icmp_bad_checksum);
    if (p.quote_offset == 0) return Verdict::drop(DropReason::icmp_unhandled);
    const auto* quote = header_at<rte_ipv6_hdr>(frame, p.quote_offset);
    if ((quote->proto == IPPROTO_IPV6 || quote->proto == IPPROTO_IPIP) &&
        w.shared->is_local(Ipv6Address::from(quote->src_addr)))
        return tunnel6_too_big(w, m, frame, p, quote);
    const auto quoted = icmp6_quoted_key(frame, p.quote_offset, uint32_t{p.l4_offset} + p.l4_length - p.quote_offset);
    if (!quoted) return Verdict::drop(DropReason::icmp_unhandled);
    // The quoted packet went the other way: reversed, it is the key its connection knows.
    const FlowKey6 key{quoted->dst_ip, quoted->src_ip, quoted->dst_port, quoted->src_port, quoted->proto, {0, 0, 0}};
    ConnTable6::Hit hit = w.conns6.lookup(key);
    if (hit.conn == nullptr) return Verdict::drop(DropReason::icmp_unhandled);
    const Connection6& c = *hit.conn;
    // An error goes to the source of the packet it quotes (as for IPv4).
    if (Ipv6Address::from(ip->dst_addr) != (hit.is_reply ? c.client_key.src_ip : c.client_key.dst_ip))
        return Verdict::drop(DropReason::icmp_forged);
    ++w.counters.icmp_related;
    if (!hit.is_reply) return forward_related_icmp(w, m, frame, p, c);
    return nat_reply_related_icmp(w, m, frame, p, c);
}

}  // namespace fulcrum::dataplane
