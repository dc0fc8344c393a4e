#include "dataplane/icmp6.hpp"

#include <rte_mbuf.h>

#include <algorithm>
#include <cstring>

namespace fulcrum::dataplane {

namespace {

constexpr uint8_t reply_hop_limit = 64;

}  // namespace

rte_be16_t icmp6_checksum(const rte_ipv6_hdr* ip, const uint8_t* message, uint32_t length)
{
    uint32_t sum = rte_raw_cksum(ip->src_addr, 32);
    sum += rte_cpu_to_be_32(length) >> 16;
    sum += rte_cpu_to_be_32(length) & 0xffff;
    sum += rte_cpu_to_be_16(IPPROTO_ICMPV6);
    sum += rte_raw_cksum(message, length);
    return static_cast<rte_be16_t>(~checksum_fold(sum));
}

bool icmp6_is_echo_request(const uint8_t* frame, const ParsedPacket& p)
{
    if (!p.is_ipv6 || p.key.proto != IPPROTO_ICMPV6 || p.is_fragment) return false;
    const auto* icmp = reinterpret_cast<const rte_icmp_hdr*>(frame + p.l4_offset);
    return icmp->icmp_type == icmp6_echo_request && icmp->icmp_code == 0;
}

Verdict icmp6_answer_echo(rte_mbuf* m, uint8_t* frame, const ParsedPacket& p)
{
    if (!icmp6_is_echo_request(frame, p)) return Verdict::drop(DropReason::icmp_unhandled);
    constexpr uint16_t l3 = sizeof(rte_ether_hdr);
    constexpr uint16_t message = l3 + sizeof(rte_ipv6_hdr);
    if (p.l4_offset != message) {
        // Options addressed to us were read (walked) and are not echoed.
        std::memmove(frame + message, frame + p.l4_offset, p.l4_length);
        rte_pktmbuf_trim(m, static_cast<uint16_t>(p.l4_offset - message));
    }
    rte_ipv6_hdr* ip = p.ip6(frame);
    ip->proto = IPPROTO_ICMPV6;
    ip->payload_len = rte_cpu_to_be_16(p.l4_length);
    uint8_t requester[16];
    std::memcpy(requester, ip->src_addr, sizeof requester);
    std::memcpy(ip->src_addr, ip->dst_addr, sizeof requester);
    std::memcpy(ip->dst_addr, requester, sizeof requester);
    ip->hop_limits = reply_hop_limit;
    auto* icmp = header_at<rte_icmp_hdr>(frame, message);
    // Type and code share one 16-bit word of the checksum.
    const rte_be16_t request_word = rte_cpu_to_be_16(icmp6_echo_request << 8);
    const rte_be16_t reply_word = rte_cpu_to_be_16(icmp6_echo_reply << 8);
    icmp->icmp_type = icmp6_echo_reply;
    icmp->icmp_cksum = checksum_adjust16(icmp->icmp_cksum, request_word, reply_word);
    return Verdict::next();
}

rte_mbuf* icmp6_build_error(rte_mempool* pool, const uint8_t* ip_packet, uint16_t ip_length,
                            const Ipv6Address& source, uint8_t type, uint8_t code, uint32_t value)
{
    rte_mbuf* m = rte_pktmbuf_alloc(pool);
    if (m == nullptr) return nullptr;
    constexpr uint16_t headers = sizeof(rte_ipv6_hdr) + sizeof(rte_icmp_hdr);
    const auto quoted = std::min<uint16_t>(ip_length, ipv6_minimum_mtu - headers);
    const auto payload = static_cast<uint16_t>(sizeof(rte_icmp_hdr) + quoted);
    auto* frame = reinterpret_cast<uint8_t*>(
        rte_pktmbuf_append(m, static_cast<uint16_t>(sizeof(rte_ether_hdr) + sizeof(rte_ipv6_hdr) + payload)));
    if (frame == nullptr) {
        rte_pktmbuf_free(m);
        return nullptr;
    }
    const auto* original = reinterpret_cast<const rte_ipv6_hdr*>(ip_packet);
    auto* ip = header_at<rte_ipv6_hdr>(frame, sizeof(rte_ether_hdr));
    ip->vtc_flow = RTE_BE32(0x60000000);
    ip->payload_len = rte_cpu_to_be_16(payload);
    ip->proto = IPPROTO_ICMPV6;
    ip->hop_limits = reply_hop_limit;
    source.to(ip->src_addr);
    std::memcpy(ip->dst_addr, original->src_addr, sizeof ip->dst_addr);
    auto* message = reinterpret_cast<uint8_t*>(ip + 1);
    message[0] = type;
    message[1] = code;
    message[2] = message[3] = 0;
    const rte_be32_t word = rte_cpu_to_be_32(value);
    std::memcpy(message + 4, &word, sizeof word);
    std::memcpy(message + sizeof(rte_icmp_hdr), ip_packet, quoted);
    const rte_be16_t checksum = icmp6_checksum(ip, message, payload);
    std::memcpy(message + 2, &checksum, sizeof checksum);
    return m;
}

}  // namespace fulcrum::dataplane
