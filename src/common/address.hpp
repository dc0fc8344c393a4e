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
