// Stage 1: parse. Checks the Ethernet, ARP/IPv4/IPv6 and TCP/UDP/ICMP/ICMPv6 headers of a frame
// held in plain bytes and records where each one starts. Nothing is modified.
#pragma once

#include <rte_ether.h>

#include <cstdint>
#include <cstring>
#include <optional>
#include <utility>

#include "dataplane/ipv6.hpp"
#include "dataplane/packet.hpp"
#include "dataplane/verdict.hpp"

namespace fulcrum::dataplane {

struct ParsedPacket {
    bool is_arp = false;
    bool is_fragment = false;     // MF set or offset non-zero: no L4 header was parsed
    // The key's addresses are left 0: an IPv6 packet's are in its header (key6_of), and its
    // transport header is the one after any extension headers.
    bool is_ipv6 = false;
    uint8_t tcp_flags = 0;
    uint16_t l3_offset = 0;
    uint16_t l4_offset = 0;
    uint16_t l4_length = 0;
    // An ICMP error (destination unreachable, source quench, time exceeded; for ICMPv6 also
    // packet too big and parameter problem) quotes the header
    // of the packet it is about: where that header starts, once it is known to be whole with the
    // 8 bytes after it (the ports); 0 for anything else. The owner stage and the related-ICMP
    // stage both read it from here.
    uint16_t quote_offset = 0;
    // Ethernet header plus the IP datagram's length: anything past it is link padding, which the
    // caller trims so that rewritten lengths and checksums cover only the datagram.
    uint32_t frame_length = 0;
    FlowKey key;                  // ports are 0 for ICMP and fragments

    rte_ipv4_hdr* ip(uint8_t* frame) const { return header_at<rte_ipv4_hdr>(frame, l3_offset); }
    rte_ipv6_hdr* ip6(uint8_t* frame) const { return header_at<rte_ipv6_hdr>(frame, l3_offset); }
    const rte_ipv6_hdr* ip6(const uint8_t* frame) const
    {
        return reinterpret_cast<const rte_ipv6_hdr*>(frame + l3_offset);
    }
    rte_ipv4_hdr* quote(uint8_t* frame) const { return header_at<rte_ipv4_hdr>(frame, quote_offset); }
    const rte_ipv4_hdr* quote(const uint8_t* frame) const
    {
        return reinterpret_cast<const rte_ipv4_hdr*>(frame + quote_offset);
    }
    // Bytes from the quoted header to the end of the ICMP message.
    uint16_t quote_length() const { return static_cast<uint16_t>(l4_offset + l4_length - quote_offset); }
};
static_assert(sizeof(ParsedPacket) == 32);

// Whether an ICMP type is one of the errors IPVS relates to connections.
constexpr bool icmp_is_error(uint8_t type)
{
    return type == icmp_dest_unreachable || type == icmp_source_quench || type == icmp_time_exceeded;
}

// Whether an ICMPv6 type is an error (RFC 4443 2.1: below 128) that quotes a packet.
constexpr bool icmp6_is_error(uint8_t type)
{
    return type == icmp6_dest_unreachable || type == icmp6_packet_too_big || type == icmp6_time_exceeded ||
           type == icmp6_parameter_problem;
}

// The flow key of an IPv6 packet `p` describes: its addresses from the header, the rest from
// p.key.
inline void key6_of(const uint8_t* frame, const ParsedPacket& p, FlowKey6& k)
{
    // The two addresses lie side by side in the header, as in the key.
    std::memcpy(&k.src_ip, p.ip6(frame)->src_addr, 32);
    k.src_port = p.key.src_port;
    k.dst_port = p.key.dst_port;
    k.proto = p.key.proto;
    k.pad[0] = k.pad[1] = k.pad[2] = 0;
}
inline FlowKey6 key6_of(const uint8_t* frame, const ParsedPacket& p)
{
    FlowKey6 k;
    key6_of(frame, p, k);
    return k;
}

// Where the transport header of the IPv6 packet at `offset` starts, after its extension headers
// (hop-by-hop first only, routing, destination options; at most a few), within `available`
// bytes; its protocol in `proto`, and whether a fragment header makes it a fragment other than
// an atomic one. -1 when the chain is malformed or cut short.
int ipv6_transport_offset(const uint8_t* frame, uint32_t offset, uint32_t available, uint8_t& proto,
                          bool& is_fragment);

// The IPv4 header quoted at `offset`, when the `available` bytes there hold all of it and the
// 8 bytes after it (the ports); nullptr otherwise.
const rte_ipv4_hdr* icmp_quoted_header(const uint8_t* frame, uint32_t offset, uint32_t available);

// The TCP or UDP packet quoted, IPv6, at `offset` (`available` bytes of it), as it was sent
// (source first), its extension headers walked; nullopt when it is a fragment, another protocol,
// or the quote stops before its ports.
std::optional<FlowKey6> icmp6_quoted_key(const uint8_t* frame, uint32_t offset, uint32_t available);

// For a quote of one of the director's IPIP packets (`p.quote_offset` set, protocol 4): the
// inner packet's header, under the same rule; nullptr otherwise.
const rte_ipv4_hdr* icmp_quoted_inner(const uint8_t* frame, const ParsedPacket& p);

// The ports of a quoted TCP or UDP header (source, destination), as they stand in the packet.
inline std::pair<rte_be16_t, rte_be16_t> quoted_ports(const rte_ipv4_hdr* q)
{
    rte_be16_t ports[2];
    std::memcpy(ports, reinterpret_cast<const uint8_t*>(q) + rte_ipv4_hdr_len(q), sizeof ports);
    return {ports[0], ports[1]};
}

// What the device found of an IPv4 header's checksum (RTE_MBUF_F_RX_IP_CKSUM_GOOD or _BAD, where
// the port asked for RTE_ETH_RX_OFFLOAD_IPV4_CKSUM): the parser sums the header only when the
// device did not say.
enum class HeaderChecksum : uint8_t { unknown, good, bad };

// Returns next() with `out` filled, or drop(reason). `port_mac` is the receiving port's address:
// unicast frames for other addresses are dropped (af_packet sees everything on the link).
Verdict parse_frame(uint8_t* frame, uint32_t length, const rte_ether_addr& port_mac,
                    ParsedPacket& out, HeaderChecksum checked = HeaderChecksum::unknown);

}  // namespace fulcrum::dataplane
