#include "dataplane/icmp.hpp"

#include <rte_mbuf.h>
#include <rte_meter.h>

#include <algorithm>
#include <cstring>

#include "dataplane/worker_context.hpp"

namespace fulcrum::dataplane {

bool icmp_within_rate(WorkerContext& w)
{
    // One "byte" per message: the meter counts messages.
    if (rte_meter_srtcm_color_blind_check(&w.icmp_meter, &w.shared->icmp_meter_profile, w.now, 1) == RTE_COLOR_GREEN)
        return true;
    ++w.counters.icmp_rate_limited;
    return false;
}

namespace {
constexpr uint8_t reply_ttl = 64;
}

bool icmp_is_echo_request(const uint8_t* frame, const ParsedPacket& p)
{
    if (p.key.proto != IPPROTO_ICMP || p.is_fragment) return false;
    const auto* icmp = reinterpret_cast<const rte_icmp_hdr*>(frame + p.l4_offset);
    return icmp->icmp_type == RTE_IP_ICMP_ECHO_REQUEST && icmp->icmp_code == 0;
}

Verdict icmp_answer_echo(uint8_t* frame, const ParsedPacket& p)
{
    if (!icmp_is_echo_request(frame, p)) return Verdict::drop(DropReason::icmp_unhandled);
    auto* icmp = header_at<rte_icmp_hdr>(frame, p.l4_offset);

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

namespace fulcrum::dataplane {

namespace {
constexpr uint16_t icmp_error_max_length = 576;  // RFC 1812 4.3.2.3: what every host accepts
}

rte_mbuf* icmp_build_frag_needed(rte_mempool* pool, const uint8_t* ip_packet, uint16_t ip_length,
                                 rte_be32_t source, uint16_t mtu)
{
    return icmp_build_unreachable(pool, ip_packet, ip_length, source, icmp_code_frag_needed, mtu);
}

rte_mbuf* icmp_build_unreachable(rte_mempool* pool, const uint8_t* ip_packet, uint16_t ip_length,
                                 rte_be32_t source, uint8_t code, uint16_t mtu)
{
    rte_mbuf* m = rte_pktmbuf_alloc(pool);
    if (m == nullptr) return nullptr;
    const uint16_t quoted = std::min<uint16_t>(
        ip_length, icmp_error_max_length - sizeof(rte_ipv4_hdr) - sizeof(rte_icmp_hdr));
    const uint16_t ip_total = static_cast<uint16_t>(sizeof(rte_ipv4_hdr) + sizeof(rte_icmp_hdr) + quoted);
    auto* frame = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, static_cast<uint16_t>(sizeof(rte_ether_hdr) + ip_total)));
    if (frame == nullptr) {
        rte_pktmbuf_free(m);
        return nullptr;
    }
    const auto* original = reinterpret_cast<const rte_ipv4_hdr*>(ip_packet);
    auto* ip = header_at<rte_ipv4_hdr>(frame, sizeof(rte_ether_hdr));
    auto* icmp = reinterpret_cast<rte_icmp_hdr*>(ip + 1);
    std::memset(ip, 0, sizeof *ip + sizeof *icmp);
    ip->version_ihl = RTE_IPV4_VHL_DEF;
    ip->total_length = rte_cpu_to_be_16(ip_total);
    ip->time_to_live = 64;
    ip->next_proto_id = IPPROTO_ICMP;
    ip->src_addr = source;
    ip->dst_addr = original->src_addr;
    ip->hdr_checksum = rte_ipv4_cksum(ip);
    icmp->icmp_type = icmp_dest_unreachable;
    icmp->icmp_code = code;
    // RFC 1191: the next-hop MTU sits in the low 16 bits of the second word (0 for other codes).
    icmp->icmp_seq_nb = rte_cpu_to_be_16(mtu);
    std::memcpy(icmp + 1, ip_packet, quoted);
    icmp->icmp_cksum = static_cast<rte_be16_t>(~rte_raw_cksum(icmp, sizeof *icmp + quoted));
    return m;
}

}  // namespace fulcrum::dataplane
