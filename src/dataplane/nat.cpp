#include "dataplane/nat.hpp"

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

}  // namespace

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

}  // namespace fulcrum::dataplane
