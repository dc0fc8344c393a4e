// A view of an Ethernet/IPv4 frame over plain bytes, and the checksum arithmetic the rewriting
// stages use. Works on any buffer, so tests need no EAL; DPDK's header structs and rte_ip.h
// helpers (all inline) describe the wire format.
#pragma once

#include <rte_arp.h>
#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_tcp.h>
#include <rte_udp.h>

#include <cstdint>
#include <cstring>

namespace fulcrum::dataplane {

// ICMP types and codes DPDK 22.11 does not name.
inline constexpr uint8_t icmp_dest_unreachable = 3;
inline constexpr uint8_t icmp_source_quench = 4;
inline constexpr uint8_t icmp_time_exceeded = 11;
inline constexpr uint8_t icmp_code_frag_needed = 4;
inline constexpr uint8_t icmp_code_port_unreachable = 3;

// One-direction identity of a packet, with addresses and ports as on the wire (network order).
struct FlowKey {
    using Address = rte_be32_t;
    rte_be32_t src_ip = 0;
    rte_be32_t dst_ip = 0;
    rte_be16_t src_port = 0;
    rte_be16_t dst_port = 0;
    uint8_t proto = 0;
    uint8_t pad[3] = {0, 0, 0};

    bool operator==(const FlowKey&) const = default;
};
static_assert(sizeof(FlowKey) == 16);

template <typename T>
inline T* header_at(uint8_t* frame, uint32_t offset)
{
    return reinterpret_cast<T*>(frame + offset);
}

// RFC 1624 incremental update (HC' = ~(~HC + ~m + m')) of a 16-bit ones'-complement checksum
// stored in network order, for a 16- or 32-bit field that changed from `from` to `to`.
inline uint16_t checksum_fold(uint32_t sum)
{
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<uint16_t>(sum);
}

// Ones'-complement sums are byte-order independent, so the network-order values are added as
// they are. The functions take and return values because DPDK's header structs are packed.
inline rte_be16_t checksum_adjust16(rte_be16_t checksum, rte_be16_t from, rte_be16_t to)
{
    uint32_t sum = static_cast<uint16_t>(~checksum);
    sum += static_cast<uint16_t>(~from);
    sum += to;
    return static_cast<rte_be16_t>(~checksum_fold(sum));
}

inline rte_be16_t checksum_adjust32(rte_be16_t checksum, rte_be32_t from, rte_be32_t to)
{
    uint32_t sum = static_cast<uint16_t>(~checksum);
    sum += static_cast<uint16_t>(~(from & 0xffff));
    sum += static_cast<uint16_t>(~(from >> 16));
    sum += to & 0xffff;
    sum += to >> 16;
    return static_cast<rte_be16_t>(~checksum_fold(sum));
}

// UDP's checksum field 0 means "none" and must stay 0; a computed 0 is sent as 0xffff.
inline rte_be16_t udp_checksum_adjust32(rte_be16_t checksum, rte_be32_t from, rte_be32_t to)
{
    if (checksum == 0) return 0;
    const rte_be16_t adjusted = checksum_adjust32(checksum, from, to);
    return adjusted == 0 ? 0xffff : adjusted;
}

inline rte_be16_t udp_checksum_adjust16(rte_be16_t checksum, rte_be16_t from, rte_be16_t to)
{
    if (checksum == 0) return 0;
    const rte_be16_t adjusted = checksum_adjust16(checksum, from, to);
    return adjusted == 0 ? 0xffff : adjusted;
}

// The 16-bit word that holds TTL (high byte) and protocol (low byte), as summed by checksums.
inline rte_be16_t ttl_protocol_word(const rte_ipv4_hdr* ip)
{
    rte_be16_t word;
    std::memcpy(&word, &ip->time_to_live, sizeof word);
    return word;
}

}  // namespace fulcrum::dataplane
