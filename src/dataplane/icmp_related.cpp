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
    const uint16_t quoted_length = static_cast<uint16_t>(p.quote_length() - outer_length);
    if (!icmp_within_rate(w)) return Verdict::drop(DropReason::icmp_rate_limited);
    rte_mbuf* reply = icmp_build_frag_needed(w.shared->pool, reinterpret_cast<const uint8_t*>(inner),
                                             quoted_length, inner->dst_addr,
                                             static_cast<uint16_t>(path_mtu - tunnel_overhead));
    if (reply == nullptr) return Verdict::drop(DropReason::icmp_unhandled);
    ++w.counters.icmp_frag_needed;
    ++w.counters.icmp_related;
    settle_packet(w, reply, egress_ipv4(w, reply, inner->src_addr));
    rte_pktmbuf_free(m);
    return Verdict::held();
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
    uint8_t proto = quote->proto;
    bool fragment = false;
    const uint32_t quote_end = uint32_t{p.l4_offset} + p.l4_length;
    const int l4 = ipv6_transport_offset(frame, p.quote_offset + sizeof(rte_ipv6_hdr),
                                         quote_end - p.quote_offset - sizeof(rte_ipv6_hdr), proto, fragment);
    if (l4 < 0 || fragment || (proto != IPPROTO_TCP && proto != IPPROTO_UDP) || static_cast<uint32_t>(l4) + 4 > quote_end)
        return Verdict::drop(DropReason::icmp_unhandled);
    rte_be16_t ports[2];
    std::memcpy(ports, frame + l4, sizeof ports);
    // The quoted packet went the other way: reversed, it is the key its connection knows.
    const FlowKey6 key{Ipv6Address::from(quote->dst_addr), Ipv6Address::from(quote->src_addr), ports[1], ports[0],
                       proto, {0, 0, 0}};
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
