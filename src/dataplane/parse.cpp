#include "dataplane/parse.hpp"

#include <cstring>

namespace fulcrum::dataplane {

namespace {

constexpr uint16_t ip_fragment_mask = RTE_IPV4_HDR_MF_FLAG | RTE_IPV4_HDR_OFFSET_MASK;

// A correct header sums to 0xffff including its checksum field. The common 20-byte header is
// summed as five 32-bit words (ones' complement sums fold the same way at any width), which
// the generic rte_raw_cksum loop is several times slower at.
bool header_checksum_ok(const rte_ipv4_hdr* ip, unsigned length)
{
    if (length != sizeof(rte_ipv4_hdr)) return rte_raw_cksum(ip, length) == 0xffff;
    uint32_t words[5];
    std::memcpy(words, ip, sizeof words);
    uint64_t sum = uint64_t{words[0]} + words[1] + words[2] + words[3] + words[4];
    sum = (sum & 0xffffffff) + (sum >> 32);
    sum = (sum & 0xffffffff) + (sum >> 32);
    return checksum_fold(static_cast<uint32_t>(sum)) == 0xffff;
}

// An ICMP error's quote, for ParsedPacket::quote_offset. Out of parse_l4, which every TCP and UDP
// packet runs, and returning nothing: a call whose Verdict parse_frame returned would make GCC
// repack every verdict of parse_frame on its way out (1.5% of an established packet).
[[gnu::noinline, gnu::cold]] void find_icmp_quote(const uint8_t* frame, ParsedPacket& out)
{
    const auto* icmp = reinterpret_cast<const rte_icmp_hdr*>(frame + out.l4_offset);
    if (!icmp_is_error(icmp->icmp_type)) return;
    const uint32_t offset = out.l4_offset + sizeof(rte_icmp_hdr);
    if (icmp_quoted_header(frame, offset, out.l4_length - sizeof(rte_icmp_hdr)) != nullptr)
        out.quote_offset = static_cast<uint16_t>(offset);
}

// The ICMPv6 counterpart: a quoted IPv6 header and the 8 bytes after it.
[[gnu::noinline, gnu::cold]] void find_icmp6_quote(const uint8_t* frame, ParsedPacket& out)
{
    const auto* icmp = reinterpret_cast<const rte_icmp_hdr*>(frame + out.l4_offset);
    if (!icmp6_is_error(icmp->icmp_type)) return;
    const uint32_t offset = out.l4_offset + sizeof(rte_icmp_hdr);
    const uint32_t available = out.l4_length - sizeof(rte_icmp_hdr);
    const auto* q = reinterpret_cast<const rte_ipv6_hdr*>(frame + offset);
    if (available >= sizeof(rte_ipv6_hdr) + 8 && (q->vtc_flow & RTE_BE32(0xf0000000)) == RTE_BE32(0x60000000))
        out.quote_offset = static_cast<uint16_t>(offset);
}

Verdict parse_l4(uint8_t* frame, ParsedPacket& out)
{
    switch (out.key.proto) {
    case IPPROTO_TCP: {
        if (out.l4_length < sizeof(rte_tcp_hdr)) return Verdict::drop(DropReason::bad_l4_header);
        auto* tcp = header_at<rte_tcp_hdr>(frame, out.l4_offset);
        const unsigned data_offset = (tcp->data_off >> 4) * 4u;
        if (data_offset < sizeof(rte_tcp_hdr) || data_offset > out.l4_length)
            return Verdict::drop(DropReason::bad_l4_header);
        out.key.src_port = tcp->src_port;
        out.key.dst_port = tcp->dst_port;
        out.tcp_flags = tcp->tcp_flags;
        return Verdict::next();
    }
    case IPPROTO_UDP: {
        if (out.l4_length < sizeof(rte_udp_hdr)) return Verdict::drop(DropReason::bad_l4_header);
        auto* udp = header_at<rte_udp_hdr>(frame, out.l4_offset);
        const unsigned udp_length = rte_be_to_cpu_16(udp->dgram_len);
        if (udp_length < sizeof(rte_udp_hdr) || udp_length > out.l4_length)
            return Verdict::drop(DropReason::bad_l4_header);
        // IPv6 has no header checksum to lean on: a UDP datagram without one is discarded
        // (RFC 8200 8.1).
        if (out.is_ipv6 && udp->dgram_cksum == 0) return Verdict::drop(DropReason::bad_l4_header);
        out.key.src_port = udp->src_port;
        out.key.dst_port = udp->dst_port;
        return Verdict::next();
    }
    case IPPROTO_ICMPV6:
        if (!out.is_ipv6) return Verdict::next();
        if (out.l4_length < sizeof(rte_icmp_hdr)) return Verdict::drop(DropReason::bad_l4_header);
        find_icmp6_quote(frame, out);
        return Verdict::next();
    case IPPROTO_ICMP:
        if (out.is_ipv6) return Verdict::next();
        if (out.l4_length < sizeof(rte_icmp_hdr)) return Verdict::drop(DropReason::bad_l4_header);
        find_icmp_quote(frame, out);
        return Verdict::next();
    default:
        return Verdict::next();
    }
}

// After the Ethernet header: an IPv6 header whose payload fits the frame, its extension headers
// walked to the transport header.
Verdict parse_ipv6(uint8_t* frame, uint32_t l3_length, ParsedPacket& out)
{
    out.is_ipv6 = true;
    if (l3_length < sizeof(rte_ipv6_hdr)) return Verdict::drop(DropReason::too_short);
    const rte_ipv6_hdr* ip = out.ip6(frame);
    const unsigned payload_length = rte_be_to_cpu_16(ip->payload_len);
    // A jumbogram (payload length 0 and a hop-by-hop option) cannot arrive on a link of ours.
    if ((rte_be_to_cpu_32(ip->vtc_flow) >> 28) != 6 || sizeof(rte_ipv6_hdr) + payload_length > l3_length)
        return Verdict::drop(DropReason::bad_ip_header);
    out.frame_length = out.l3_offset + sizeof(rte_ipv6_hdr) + payload_length;
    uint8_t proto = ip->proto;
    int l4 = out.l3_offset + sizeof(rte_ipv6_hdr);
    // Most packets have no extension header: the walk is for the others.
    if (proto != IPPROTO_TCP && proto != IPPROTO_UDP) {
        l4 = ipv6_transport_offset(frame, static_cast<uint32_t>(l4), payload_length, proto, out.is_fragment);
        if (l4 < 0) return Verdict::drop(DropReason::bad_ip_header);
    }
    out.l4_offset = static_cast<uint16_t>(l4);
    out.l4_length = static_cast<uint16_t>(out.frame_length - static_cast<uint32_t>(l4));
    out.key.proto = proto;
    if (out.is_fragment) return Verdict::next();
    return parse_l4(frame, out);
}

}  // namespace

int ipv6_transport_offset(const uint8_t* frame, uint32_t offset, uint32_t available, uint8_t& proto,
                          bool& is_fragment)
{
    // Enough for any packet a client sends; a longer chain is an attack on the parser's time.
    constexpr unsigned max_extension_headers = 8;
    const uint32_t end = offset + available;
    is_fragment = false;
    for (unsigned n = 0; n < max_extension_headers; ++n) {
        switch (proto) {
        case ipv6_hop_by_hop:
            // Only directly after the IPv6 header (RFC 8200 4.1).
            if (n != 0) return -1;
            [[fallthrough]];
        case ipv6_routing:
        case ipv6_destination_options: {
            if (end - offset < 8) return -1;
            // Segments left: the packet is on its way to another node, through this one, and
            // its pseudo-header's destination is not the one it carries yet. Not ours to serve.
            if (proto == ipv6_routing && frame[offset + 3] != 0) return -1;
            const uint32_t length = (uint32_t{frame[offset + 1]} + 1) * 8;
            if (end - offset < length) return -1;
            proto = frame[offset];
            offset += length;
            break;
        }
        case ipv6_fragment: {
            if (end - offset < 8) return -1;
            uint16_t offset_flags;
            std::memcpy(&offset_flags, frame + offset + 2, sizeof offset_flags);
            // Offset 0 without "more fragments" is an atomic fragment: the whole packet (RFC 6946).
            if ((rte_be_to_cpu_16(offset_flags) & 0xfff9) != 0) {
                is_fragment = true;
                proto = frame[offset];
                return static_cast<int>(offset + 8);
            }
            proto = frame[offset];
            offset += 8;
            break;
        }
        default:
            return static_cast<int>(offset);
        }
    }
    return -1;
}

const rte_ipv4_hdr* icmp_quoted_header(const uint8_t* frame, uint32_t offset, uint32_t available)
{
    if (available < sizeof(rte_ipv4_hdr) + 8) return nullptr;
    const auto* q = reinterpret_cast<const rte_ipv4_hdr*>(frame + offset);
    const unsigned header_length = rte_ipv4_hdr_len(q);
    if ((q->version_ihl >> 4) != 4 || header_length < sizeof(rte_ipv4_hdr) || header_length + 8 > available)
        return nullptr;
    return q;
}

std::optional<FlowKey6> icmp6_quoted_key(const uint8_t* frame, uint32_t offset, uint32_t available)
{
    if (available < sizeof(rte_ipv6_hdr) + 4) return std::nullopt;
    const auto* ip = reinterpret_cast<const rte_ipv6_hdr*>(frame + offset);
    uint8_t proto = ip->proto;
    bool fragment = false;
    const int l4 = ipv6_transport_offset(frame, offset + sizeof(rte_ipv6_hdr),
                                         available - static_cast<uint32_t>(sizeof(rte_ipv6_hdr)), proto, fragment);
    if (l4 < 0 || fragment || (proto != IPPROTO_TCP && proto != IPPROTO_UDP) ||
        static_cast<uint32_t>(l4) + 4 > offset + available)
        return std::nullopt;
    rte_be16_t ports[2];
    std::memcpy(ports, frame + l4, sizeof ports);
    return FlowKey6{Ipv6Address::from(ip->src_addr), Ipv6Address::from(ip->dst_addr), ports[0], ports[1], proto, {0, 0, 0}};
}

const rte_ipv4_hdr* icmp_quoted_inner(const uint8_t* frame, const ParsedPacket& p)
{
    if (p.quote_offset == 0) return nullptr;
    const rte_ipv4_hdr* outer = p.quote(frame);
    if (outer->next_proto_id != IPPROTO_IPIP) return nullptr;
    const unsigned outer_length = rte_ipv4_hdr_len(outer);
    return icmp_quoted_header(frame, p.quote_offset + outer_length, p.quote_length() - outer_length);
}

Verdict parse_frame(uint8_t* frame, uint32_t length, const rte_ether_addr& port_mac,
                    ParsedPacket& out, HeaderChecksum checked)
{
    out = ParsedPacket{};
    if (length < sizeof(rte_ether_hdr)) return Verdict::drop(DropReason::too_short);
    auto* eth = header_at<rte_ether_hdr>(frame, 0);
    if (!rte_is_multicast_ether_addr(&eth->dst_addr) && !rte_is_same_ether_addr(&eth->dst_addr, &port_mac))
        return Verdict::drop(DropReason::not_for_our_mac);

    out.l3_offset = sizeof(rte_ether_hdr);
    const uint32_t l3_length = length - out.l3_offset;
    switch (eth->ether_type) {
    case RTE_BE16(RTE_ETHER_TYPE_ARP):
        if (l3_length < sizeof(rte_arp_hdr)) return Verdict::drop(DropReason::too_short);
        out.is_arp = true;
        out.frame_length = out.l3_offset + sizeof(rte_arp_hdr);
        return Verdict::next();
    case RTE_BE16(RTE_ETHER_TYPE_IPV4):
        break;
    case RTE_BE16(RTE_ETHER_TYPE_IPV6):
        return parse_ipv6(frame, l3_length, out);
    default:
        return Verdict::drop(DropReason::unsupported_ethertype);
    }

    if (l3_length < sizeof(rte_ipv4_hdr)) return Verdict::drop(DropReason::too_short);
    auto* ip = header_at<rte_ipv4_hdr>(frame, out.l3_offset);
    const unsigned header_length = rte_ipv4_hdr_len(ip);
    const unsigned total_length = rte_be_to_cpu_16(ip->total_length);
    if ((ip->version_ihl >> 4) != 4 || header_length < sizeof(rte_ipv4_hdr) ||
        total_length < header_length || total_length > l3_length)
        return Verdict::drop(DropReason::bad_ip_header);
    if (checked == HeaderChecksum::bad || (checked == HeaderChecksum::unknown && !header_checksum_ok(ip, header_length)))
        return Verdict::drop(DropReason::bad_ip_checksum);

    out.is_fragment = (ip->fragment_offset & rte_cpu_to_be_16(ip_fragment_mask)) != 0;
    out.frame_length = out.l3_offset + total_length;
    out.l4_offset = static_cast<uint16_t>(out.l3_offset + header_length);
    out.l4_length = static_cast<uint16_t>(total_length - header_length);
    out.key.src_ip = ip->src_addr;
    out.key.dst_ip = ip->dst_addr;
    out.key.proto = ip->next_proto_id;
    if (out.is_fragment) return Verdict::next();
    return parse_l4(frame, out);
}

}  // namespace fulcrum::dataplane
