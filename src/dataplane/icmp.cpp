#include "dataplane/icmp.hpp"

namespace fulcrum::dataplane {

namespace {
constexpr uint8_t reply_ttl = 64;
}

Verdict icmp_answer_echo(uint8_t* frame, const ParsedPacket& p)
{
    if (p.key.proto != IPPROTO_ICMP || p.is_fragment) return Verdict::drop(DropReason::icmp_unhandled);
    auto* icmp = header_at<rte_icmp_hdr>(frame, p.l4_offset);
    if (icmp->icmp_type != RTE_IP_ICMP_ECHO_REQUEST || icmp->icmp_code != 0)
        return Verdict::drop(DropReason::icmp_unhandled);

    // Type and code share one 16-bit word of the ICMP checksum.
    const rte_be16_t request_word = rte_cpu_to_be_16(RTE_IP_ICMP_ECHO_REQUEST << 8);
    const rte_be16_t reply_word = rte_cpu_to_be_16(RTE_IP_ICMP_ECHO_REPLY << 8);
    icmp->icmp_type = RTE_IP_ICMP_ECHO_REPLY;
    icmp->icmp_cksum = checksum_adjust16(icmp->icmp_cksum, request_word, reply_word);

    rte_ipv4_hdr* ip = p.ip(frame);
    const rte_be32_t requester = ip->src_addr;
    ip->src_addr = ip->dst_addr;
    ip->dst_addr = requester;
    ip->time_to_live = reply_ttl;
    ip->hdr_checksum = 0;
    ip->hdr_checksum = rte_ipv4_cksum(ip);
    return Verdict::next();
}

}  // namespace fulcrum::dataplane
