#include "dataplane/nat.hpp"

#include <cstring>

#include "dataplane/egress.hpp"
#include "dataplane/icmp6.hpp"

namespace fulcrum::dataplane {

namespace {

// The L4 checksum covers the pseudo-header's addresses as well as the ports, so an address
// change is patched into both checksums.
void rewrite_address_and_port(uint8_t* frame, const ParsedPacket& p, bool destination,
                              rte_be32_t new_address, rte_be16_t new_port)
{
    rte_ipv4_hdr* ip = p.ip(frame);
    const rte_be32_t old_address = destination ? ip->dst_addr : ip->src_addr;
    if (p.key.proto == IPPROTO_TCP) {
        auto* tcp = header_at<rte_tcp_hdr>(frame, p.l4_offset);
        const rte_be16_t old_port = destination ? tcp->dst_port : tcp->src_port;
        tcp->cksum = checksum_adjust16(checksum_adjust32(tcp->cksum, old_address, new_address),
                                       old_port, new_port);
        (destination ? tcp->dst_port : tcp->src_port) = new_port;
    } else if (p.key.proto == IPPROTO_UDP) {
        auto* udp = header_at<rte_udp_hdr>(frame, p.l4_offset);
        const rte_be16_t old_port = destination ? udp->dst_port : udp->src_port;
        udp->dgram_cksum = udp_checksum_adjust16(
            udp_checksum_adjust32(udp->dgram_cksum, old_address, new_address), old_port, new_port);
        (destination ? udp->dst_port : udp->src_port) = new_port;
    }
    ip->hdr_checksum = checksum_adjust32(ip->hdr_checksum, old_address, new_address);
    (destination ? ip->dst_addr : ip->src_addr) = new_address;
}

void recompute_icmp_checksum(uint8_t* frame, const ParsedPacket& p)
{
    auto* icmp = header_at<rte_icmp_hdr>(frame, p.l4_offset);
    icmp->icmp_cksum = 0;
    icmp->icmp_cksum = static_cast<rte_be16_t>(~rte_raw_cksum(icmp, p.l4_length));
}

// Rewrites the quoted packet's source (from_client_side: it was VIP -> client, becomes
// real server -> client) or destination (client -> real server becomes client -> VIP), and its
// header checksum. The quoted L4 checksum is left alone, as IPVS does: the quote is usually cut
// short, so nobody can verify it.
void rewrite_quote(rte_ipv4_hdr* q, bool source, rte_be32_t address, rte_be16_t port)
{
    uint8_t* ports = reinterpret_cast<uint8_t*>(q) + rte_ipv4_hdr_len(q);
    if (source)
        q->src_addr = address;
    else
        q->dst_addr = address;
    std::memcpy(ports + (source ? 0 : sizeof port), &port, sizeof port);
    q->hdr_checksum = 0;
    q->hdr_checksum = rte_ipv4_cksum(q);
}

void rewrite_address_and_port(uint8_t* frame, const ParsedPacket& p, bool destination, const Ipv6Address& new_address,
                              rte_be16_t new_port)
{
    rte_ipv6_hdr* ip = p.ip6(frame);
    uint8_t* field = destination ? ip->dst_addr : ip->src_addr;
    const Ipv6Address old_address = Ipv6Address::from(field);
    if (p.key.proto == IPPROTO_TCP) {
        auto* tcp = header_at<rte_tcp_hdr>(frame, p.l4_offset);
        const rte_be16_t old_port = destination ? tcp->dst_port : tcp->src_port;
        tcp->cksum = checksum_adjust16(checksum_adjust128(tcp->cksum, old_address, new_address), old_port, new_port);
        (destination ? tcp->dst_port : tcp->src_port) = new_port;
    } else if (p.key.proto == IPPROTO_UDP) {
        auto* udp = header_at<rte_udp_hdr>(frame, p.l4_offset);
        const rte_be16_t old_port = destination ? udp->dst_port : udp->src_port;
        const rte_be16_t adjusted = checksum_adjust16(checksum_adjust128(udp->dgram_cksum, old_address, new_address),
                                                      old_port, new_port);
        udp->dgram_cksum = adjusted == 0 ? 0xffff : adjusted;
        (destination ? udp->dst_port : udp->src_port) = new_port;
    }
    new_address.to(field);
}

}  // namespace

void nat_rewrite_destination(uint8_t* frame, const ParsedPacket& p, const Ipv6Address& real_ip, rte_be16_t real_port)
{
    rewrite_address_and_port(frame, p, true, real_ip, real_port);
}

void nat_rewrite_source(uint8_t* frame, const ParsedPacket& p, const Ipv6Address& vip, rte_be16_t vport)
{
    rewrite_address_and_port(frame, p, false, vip, vport);
}

bool nat_rewrite_reply(uint8_t* frame, const ParsedPacket& p, const Connection6& c)
{
    if (!decrement_hop_limit(p.ip6(frame))) return false;
    nat_rewrite_source(frame, p, c.client_key.dst_ip, c.client_key.dst_port);
    return true;
}

namespace {

// The quoted IPv6 packet's source (or destination) address and port; its ports follow the
// extension headers the quote carries.
bool rewrite_quote6(uint8_t* frame, const ParsedPacket& p, bool source, const Ipv6Address& address, rte_be16_t port)
{
    auto* q = header_at<rte_ipv6_hdr>(frame, p.quote_offset);
    uint8_t proto = q->proto;
    bool fragment = false;
    const int l4 = ipv6_transport_offset(frame, p.quote_offset + sizeof(rte_ipv6_hdr),
                                         p.quote_length() - sizeof(rte_ipv6_hdr), proto, fragment);
    if (l4 < 0 || fragment || static_cast<uint32_t>(l4) + 4 > uint32_t{p.l4_offset} + p.l4_length) return false;
    address.to(source ? q->src_addr : q->dst_addr);
    std::memcpy(frame + l4 + (source ? 0 : sizeof port), &port, sizeof port);
    return true;
}

void recompute_icmp6_checksum(uint8_t* frame, const ParsedPacket& p)
{
    auto* icmp = header_at<rte_icmp_hdr>(frame, p.l4_offset);
    icmp->icmp_cksum = 0;
    icmp->icmp_cksum = icmp6_checksum(p.ip6(frame), frame + p.l4_offset, p.l4_length);
}

}  // namespace

Verdict nat_related_icmp(WorkerContext& w, rte_mbuf* m, uint8_t* frame, const ParsedPacket& p, const Connection6& c)
{
    if (!rewrite_quote6(frame, p, true, c.real_ip, c.real_port)) return Verdict::drop(DropReason::icmp_unhandled);
    c.real_ip.to(p.ip6(frame)->dst_addr);
    recompute_icmp6_checksum(frame, p);
    return egress_ipv6(w, m, c.real_ip);
}

Verdict nat_reply_related_icmp(WorkerContext& w, rte_mbuf* m, uint8_t* frame, const ParsedPacket& p,
                               const Connection6& c)
{
    rte_ipv6_hdr* ip = p.ip6(frame);
    if (!decrement_hop_limit(ip)) return Verdict::drop(DropReason::ttl_exceeded);
    if (!rewrite_quote6(frame, p, false, c.client_key.dst_ip, c.client_key.dst_port))
        return Verdict::drop(DropReason::icmp_unhandled);
    c.client_key.dst_ip.to(ip->src_addr);
    recompute_icmp6_checksum(frame, p);
    return egress_ipv6(w, m, c.client_key.src_ip);
}

void nat_rewrite_destination(uint8_t* frame, const ParsedPacket& p, rte_be32_t real_ip,
                             rte_be16_t real_port)
{
    rewrite_address_and_port(frame, p, true, real_ip, real_port);
}

void nat_rewrite_source(uint8_t* frame, const ParsedPacket& p, rte_be32_t vip, rte_be16_t vport)
{
    rewrite_address_and_port(frame, p, false, vip, vport);
}

bool decrement_ttl(rte_ipv4_hdr* ip)
{
    if (ip->time_to_live <= 1) return false;
    const rte_be16_t before = ttl_protocol_word(ip);
    --ip->time_to_live;
    ip->hdr_checksum = checksum_adjust16(ip->hdr_checksum, before, ttl_protocol_word(ip));
    return true;
}

Verdict nat_related_icmp(WorkerContext& w, rte_mbuf* m, uint8_t* frame, const ParsedPacket& p, const Connection& c)
{
    rte_ipv4_hdr* ip = p.ip(frame);
    rewrite_quote(p.quote(frame), true, c.real_ip, c.real_port);
    ip->hdr_checksum = checksum_adjust32(ip->hdr_checksum, ip->dst_addr, c.real_ip);
    ip->dst_addr = c.real_ip;
    recompute_icmp_checksum(frame, p);
    return egress_ipv4(w, m, c.real_ip);
}

bool nat_rewrite_reply(uint8_t* frame, const ParsedPacket& p, const Connection& c)
{
    // Replies are routed, unlike packets to the VIP, which IPVS treats as local.
    if (!decrement_ttl(p.ip(frame))) return false;
    nat_rewrite_source(frame, p, c.client_key.dst_ip, c.client_key.dst_port);
    return true;
}

Verdict nat_reply_related_icmp(WorkerContext& w, rte_mbuf* m, uint8_t* frame, const ParsedPacket& p,
                               const Connection& c)
{
    rte_ipv4_hdr* ip = p.ip(frame);
    if (!decrement_ttl(ip)) return Verdict::drop(DropReason::ttl_exceeded);
    const rte_be32_t vip = c.client_key.dst_ip;
    rewrite_quote(p.quote(frame), false, vip, c.client_key.dst_port);
    ip->hdr_checksum = checksum_adjust32(ip->hdr_checksum, ip->src_addr, vip);
    ip->src_addr = vip;
    recompute_icmp_checksum(frame, p);
    return egress_ipv4(w, m, c.client_key.src_ip);
}

}  // namespace fulcrum::dataplane
