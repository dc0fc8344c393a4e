// An IP address that carries its family. The control plane's keys hold it (ServiceKey,
// RealServerKey), so a service on an IPv6 VIP is one more value, not another encoding; its text
// is what ipvsadm prints: "198.51.100.1", "2001:db8::1" (RFC 5952, as inet_ntop), and an
// endpoint "198.51.100.1:80" or "[2001:db8::1]:80".
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace fulcrum {

enum class Family : uint8_t { ipv4 = 4, ipv6 = 6 };

class IpAddress {
public:
    using Bytes = std::array<uint8_t, 16>;

    constexpr IpAddress() = default;
    // An IPv4 address in host order (the project's Ipv4). Implicit: every IPv4 value is one.
    constexpr IpAddress(uint32_t ipv4) : family_(Family::ipv4), bytes_{}
    {
        bytes_[0] = static_cast<uint8_t>(ipv4 >> 24);
        bytes_[1] = static_cast<uint8_t>(ipv4 >> 16);
        bytes_[2] = static_cast<uint8_t>(ipv4 >> 8);
        bytes_[3] = static_cast<uint8_t>(ipv4);
    }
    static constexpr IpAddress ipv6(const Bytes& bytes)
    {
        IpAddress a;
        a.family_ = Family::ipv6;
        a.bytes_ = bytes;
        return a;
    }

    constexpr Family family() const { return family_; }
    constexpr bool is_ipv4() const { return family_ == Family::ipv4; }
    constexpr bool is_ipv6() const { return family_ == Family::ipv6; }
    // The IPv4 address in host order; 0 for an IPv6 address.
    constexpr uint32_t ipv4() const
    {
        if (!is_ipv4()) return 0;
        return (uint32_t{bytes_[0]} << 24) | (uint32_t{bytes_[1]} << 16) | (uint32_t{bytes_[2]} << 8) | bytes_[3];
    }
    // Network order: 4 bytes for IPv4, 16 for IPv6.
    constexpr const Bytes& bytes() const { return bytes_; }
    constexpr size_t size() const { return is_ipv4() ? 4 : 16; }

    // IPv4 addresses order before IPv6 ones, each family by its bytes.
    constexpr auto operator<=>(const IpAddress&) const = default;

private:
    Family family_ = Family::ipv4;
    Bytes bytes_{};
};

// "IPv4" or "IPv6", as messages name a family.
constexpr std::string_view family_name(Family family) { return family == Family::ipv4 ? "IPv4" : "IPv6"; }

// 32 for IPv4, 128 for IPv6: the longest prefix, and the length of a host route.
constexpr uint8_t full_length(Family family) { return family == Family::ipv4 ? 32 : 128; }

// fe80::/10, the addresses every IPv6 link derives for itself (RFC 4291 section 2.5.6).
constexpr bool is_ipv6_link_local(const IpAddress& a)
{
    return a.is_ipv6() && a.bytes()[0] == 0xfe && (a.bytes()[1] & 0xc0) == 0x80;
}
// ff00::/8.
constexpr bool is_ipv6_multicast(const IpAddress& a) { return a.is_ipv6() && a.bytes()[0] == 0xff; }

// A subnet of either family: "10.0.0.1/24" keeps its host bits (an interface's address and the
// subnet it is attached to); network() clears them.
struct IpPrefix {
    IpAddress address;
    uint8_t length = 0;  // 0 to full_length(address.family())

    Family family() const { return address.family(); }
    // `address` with every bit after `length` cleared.
    IpAddress network() const;
    // Whether `ip` lies in this subnet; an address of the other family never does.
    bool contains(const IpAddress& ip) const;
    bool operator==(const IpPrefix&) const = default;
};

// "10.0.0.0/24", "2001:db8::/32", "::/0": the address as format_ip writes it, host bits kept.
std::string format_prefix(const IpPrefix& prefix);
// "ADDRESS/LENGTH" of either family (the address as parse_ip reads it, the length a decimal
// from 0 to 32 or 128 without a leading zero); a bare address is a host prefix (/32 or /128)
// when allow_bare is set. nullopt for anything else.
std::optional<IpPrefix> parse_prefix(std::string_view text, bool allow_bare = false);

// "198.51.100.1" or "2001:db8::1": RFC 5952, with IPv4-mapped (::ffff:0:0/96) and IPv4-compatible
// addresses in mixed notation, exactly as glibc's inet_ntop (and so ipvsadm) writes them.
std::string format_ip(const IpAddress& address);
// "198.51.100.1:80" or "[2001:db8::1]:80", as ipvsadm -L -n prints a service or real server.
std::string format_endpoint(const IpAddress& address, uint16_t port);

// A dotted quad (as parse_ipv4) or an IPv6 address in any form RFC 4291 allows (hex groups of 1
// to 4 digits, one "::", a dotted quad in the last 32 bits); nothing else, no brackets, no zone.
std::optional<IpAddress> parse_ip(std::string_view text);

// "ADDRESS" or "ADDRESS:PORT" for IPv4, "[ADDRESS]" or "[ADDRESS]:PORT" for IPv6 (a bare IPv6
// address is taken too, without a port), with a port from 1 to 65535.
struct ParsedEndpoint {
    IpAddress address;
    std::optional<uint16_t> port;
};
std::optional<ParsedEndpoint> parse_endpoint(std::string_view text);

}  // namespace fulcrum
