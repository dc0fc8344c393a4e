// IPv6 as the dataplane sees it: addresses as their 16 wire bytes, the one-direction flow key of
// an IPv6 packet, the checksum arithmetic of a 128-bit field, and the addresses neighbour
// discovery derives from others (solicited-node groups, their MACs, EUI-64 link-local
// addresses). Plain bytes: tests need no EAL.
#pragma once

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_ip.h>

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "common/address.hpp"
#include "dataplane/packet.hpp"

namespace fulcrum::dataplane {

// ICMPv6 (RFC 4443) and neighbour discovery (RFC 4861) types, which DPDK 22.11 does not name.
inline constexpr uint8_t icmp6_dest_unreachable = 1;
inline constexpr uint8_t icmp6_packet_too_big = 2;
inline constexpr uint8_t icmp6_time_exceeded = 3;
inline constexpr uint8_t icmp6_parameter_problem = 4;
inline constexpr uint8_t icmp6_echo_request = 128;
inline constexpr uint8_t icmp6_echo_reply = 129;
inline constexpr uint8_t icmp6_router_solicitation = 133;
inline constexpr uint8_t icmp6_router_advertisement = 134;
inline constexpr uint8_t icmp6_neighbor_solicitation = 135;
inline constexpr uint8_t icmp6_neighbor_advertisement = 136;
inline constexpr uint8_t icmp6_redirect = 137;
inline constexpr uint8_t icmp6_code_port_unreachable = 4;

// Extension headers a packet may carry before its transport header (RFC 8200 4.1).
inline constexpr uint8_t ipv6_hop_by_hop = 0;
inline constexpr uint8_t ipv6_routing = 43;
inline constexpr uint8_t ipv6_fragment = 44;
inline constexpr uint8_t ipv6_destination_options = 60;
inline constexpr uint8_t ipv6_no_next_header = 59;

// The minimum MTU every IPv6 link has (RFC 8200 5): an ICMPv6 error is cut to fit it.
inline constexpr uint16_t ipv6_minimum_mtu = 1280;

struct Ipv6Address {
    std::array<uint8_t, 16> bytes{};

    auto operator<=>(const Ipv6Address&) const = default;
    // Two words: the defaulted comparison of an array calls memcmp, which the neighbour cache and
    // the connection table paid for on every packet.
    bool operator==(const Ipv6Address& other) const
    {
        uint64_t a[2], b[2];
        std::memcpy(a, bytes.data(), sizeof a);
        std::memcpy(b, other.bytes.data(), sizeof b);
        return ((a[0] ^ b[0]) | (a[1] ^ b[1])) == 0;
    }

    bool is_unspecified() const { return *this == Ipv6Address{}; }
    bool is_multicast() const { return bytes[0] == 0xff; }
    bool is_link_local() const { return bytes[0] == 0xfe && (bytes[1] & 0xc0) == 0x80; }
    // ::ffff:0:0/96: an IPv4 address in IPv6 clothing, which no IPv6 client sends from.
    bool is_ipv4_mapped() const
    {
        static constexpr uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        return std::memcmp(bytes.data(), prefix, sizeof prefix) == 0;
    }
    bool is_loopback() const
    {
        Ipv6Address one;
        one.bytes[15] = 1;
        return *this == one;
    }

    static Ipv6Address from(const uint8_t* wire)
    {
        Ipv6Address a;
        std::memcpy(a.bytes.data(), wire, 16);
        return a;
    }
    void to(uint8_t* wire) const { std::memcpy(wire, bytes.data(), 16); }
};

// ::ffff:a.b.c.d: how an IPv6 service's connection holds the address of an IPv4 tunnel real
// server (IPVS lets a TUN real server be of the other family).
inline Ipv6Address ipv4_mapped(rte_be32_t address)
{
    Ipv6Address a;
    a.bytes[10] = a.bytes[11] = 0xff;
    std::memcpy(&a.bytes[12], &address, sizeof address);
    return a;
}

// `a` as the family-tagged address the control plane and connection sync name it by: an IPv4
// tunnel real server held IPv4-mapped (above) is the IPv4 address it is.
inline IpAddress ip_address_of(const Ipv6Address& a)
{
    if (a.is_ipv4_mapped()) {
        rte_be32_t v4;
        std::memcpy(&v4, &a.bytes[12], sizeof v4);
        return IpAddress(rte_be_to_cpu_32(v4));
    }
    return IpAddress::ipv6(a.bytes);
}

// The neighbour table's key of `a` heard or reached on port `port`. A link-local address is
// unique on its link only (fe80::/64 is every link's): two links may each have a router at
// fe80::1, and one link's hosts must not be able to speak for the other's. Its key carries the
// port in bytes 2 and 3, which fe80::/64 has as zero; any other address is its own key.
inline Ipv6Address neighbor_key(const Ipv6Address& a, uint16_t port)
{
    if (!a.is_link_local()) return a;
    Ipv6Address key = a;
    const auto tag = static_cast<uint16_t>(port + 1);
    key.bytes[2] = static_cast<uint8_t>(tag >> 8);
    key.bytes[3] = static_cast<uint8_t>(tag);
    return key;
}

// The address a neighbour_key stands for (the port's tag cleared), for the console.
inline Ipv6Address neighbor_address(const Ipv6Address& key)
{
    if (!key.is_link_local()) return key;
    Ipv6Address a = key;
    a.bytes[2] = a.bytes[3] = 0;
    return a;
}

// IPVS's fold of an IPv6 address into 32 bits for its hashing schedulers (sh, dh, mh, lblc):
// the XOR of its four words, as ip_vs_sh_hashkey and ip_vs_mh_hashkey compute it, in host order.
inline uint32_t fold_ipv6(const Ipv6Address& a)
{
    uint32_t words[4];
    std::memcpy(words, a.bytes.data(), sizeof words);
    return rte_be_to_cpu_32(words[0] ^ words[1] ^ words[2] ^ words[3]);
}

// The IPv6 counterpart of FlowKey: one direction of a packet, addresses and ports as on the wire.
struct FlowKey6 {
    using Address = Ipv6Address;
    Ipv6Address src_ip;
    Ipv6Address dst_ip;
    rte_be16_t src_port = 0;
    rte_be16_t dst_port = 0;
    uint8_t proto = 0;
    uint8_t pad[3] = {0, 0, 0};

    // Five words, without the memcmp call the defaulted comparison of arrays makes.
    bool operator==(const FlowKey6& other) const
    {
        uint64_t a[5], b[5];
        std::memcpy(a, this, sizeof a);
        std::memcpy(b, &other, sizeof b);
        return ((a[0] ^ b[0]) | (a[1] ^ b[1]) | (a[2] ^ b[2]) | (a[3] ^ b[3]) | (a[4] ^ b[4])) == 0;
    }
};
static_assert(sizeof(FlowKey6) == 40);
// key6_of copies both addresses at once from the IPv6 header, where they are side by side.
static_assert(offsetof(FlowKey6, dst_ip) == offsetof(FlowKey6, src_ip) + 16);

// RFC 1624 over a 128-bit field (an address of the pseudo-header): eight 16-bit words.
inline rte_be16_t checksum_adjust128(rte_be16_t checksum, const Ipv6Address& from, const Ipv6Address& to)
{
    uint16_t old_words[8], new_words[8];
    std::memcpy(old_words, from.bytes.data(), sizeof old_words);
    std::memcpy(new_words, to.bytes.data(), sizeof new_words);
    uint32_t sum = static_cast<uint16_t>(~checksum);
    for (unsigned i = 0; i < 8; ++i) sum += static_cast<uint16_t>(~old_words[i]) + uint32_t{new_words[i]};
    return static_cast<rte_be16_t>(~checksum_fold(sum));
}

// ff02::1:ffXX:XXXX, the group a neighbour solicitation for `a` is sent to (RFC 4291 2.7.1).
inline Ipv6Address solicited_node_group(const Ipv6Address& a)
{
    Ipv6Address g;
    g.bytes = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff, a.bytes[13], a.bytes[14], a.bytes[15]};
    return g;
}

// 33:33 and the group's last 32 bits (RFC 2464 7).
inline rte_ether_addr multicast_mac(const Ipv6Address& group)
{
    return {{0x33, 0x33, group.bytes[12], group.bytes[13], group.bytes[14], group.bytes[15]}};
}

// fe80::/64 with the interface identifier made from the MAC (modified EUI-64, RFC 4291 2.5.1):
// the address the kernel gives the TAP, which has the port's MAC.
inline Ipv6Address link_local_of(const rte_ether_addr& mac)
{
    const uint8_t* m = mac.addr_bytes;
    Ipv6Address a;
    a.bytes = {0xfe, 0x80, 0, 0, 0, 0, 0, 0, static_cast<uint8_t>(m[0] ^ 0x02), m[1], m[2], 0xff, 0xfe, m[3], m[4], m[5]};
    return a;
}

// ff02::1, all nodes on the link.
inline Ipv6Address all_nodes_group()
{
    Ipv6Address g;
    g.bytes[0] = 0xff;
    g.bytes[1] = 0x02;
    g.bytes[15] = 1;
    return g;
}

}  // namespace fulcrum::dataplane
