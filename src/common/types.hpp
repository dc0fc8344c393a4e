// Plain value types shared by the dataplane, the schedulers' callers and the control plane.
// No DPDK here: the configuration code and its tests include this without EAL.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/address.hpp"

namespace fulcrum {

// DPDK ports one process drives, the interfaces' and their kernel TAPs', have ids below
// max_device_ports. An interface on a VLAN of a device is a port of its own to the dataplane,
// with an id from max_device_ports up: the workers' arrays are indexed by port id up to
// max_ports, and the configuration checker counts against both.
inline constexpr unsigned max_device_ports = 8;
inline constexpr unsigned max_vlan_interfaces = 8;
inline constexpr unsigned max_ports = max_device_ports + max_vlan_interfaces;

// IPv4 addresses are kept in host byte order everywhere outside the packet bytes themselves.
using Ipv4 = uint32_t;

struct Ipv4Prefix {
    Ipv4 address = 0;
    uint8_t length = 0;

    Ipv4 network() const { return length == 0 ? 0 : address & (~uint32_t{0} << (32 - length)); }
    bool contains(Ipv4 ip) const {
        return length == 0 || ((ip ^ address) & (~uint32_t{0} << (32 - length))) == 0;
    }
    bool operator==(const Ipv4Prefix&) const = default;
};

using MacAddress = std::array<uint8_t, 6>;

// The transport protocols of a virtual service, the one list of them: the enum (its IP
// protocol number), the configuration's name, ipvsadm's label and ipvsadm's option letter.
#define FULCRUM_PROTOCOLS(X)  \
    X(tcp, 6, "TCP", 't')     \
    X(udp, 17, "UDP", 'u')

enum class Protocol : uint8_t {
#define FULCRUM_PROTOCOL_ENUM(name, number, label, flag) name = number,
    FULCRUM_PROTOCOLS(FULCRUM_PROTOCOL_ENUM)
#undef FULCRUM_PROTOCOL_ENUM
};

struct ProtocolNames {
    Protocol protocol;
    std::string_view name;   // in the configuration: "tcp"
    std::string_view label;  // in ipvsadm -L: "TCP"
    char flag;               // ipvsadm's option: -t
};
inline constexpr std::array protocols = {
#define FULCRUM_PROTOCOL_NAMES(name, number, label, flag) ProtocolNames{Protocol::name, #name, label, flag},
    FULCRUM_PROTOCOLS(FULCRUM_PROTOCOL_NAMES)
#undef FULCRUM_PROTOCOL_NAMES
};

// A virtual service, as ipvsadm names it with -t or -u VIP:PORT.
struct ServiceKey {
    Protocol protocol = Protocol::tcp;
    IpAddress vip;
    uint16_t port = 0;   // host order
    auto operator<=>(const ServiceKey&) const = default;
};

// A real server of a service, as ipvsadm names it with -r RIP:PORT after the service.
struct RealServerKey {
    ServiceKey service;
    IpAddress address;
    uint16_t port = 0;   // host order
    auto operator<=>(const RealServerKey&) const = default;
};

// The forwarding methods, the one list of them: the enum, the configuration's name, ipvsadm's
// name in its listing, ipvsadm's option letter, and whether the real server's replies come back
// through the director (then a connection has a reply key and the method translates the
// virtual port to the real server's). A new method is one line here plus its stage in the
// dataplane (src/dataplane/forward.hpp says what that provides).
#define FULCRUM_FORWARD_METHODS(X)      \
    X(nat, "Masq", 'm', true)           \
    X(dr, "Route", 'g', false)          \
    X(tun, "Tunnel", 'i', false)

enum class ForwardMethod : uint8_t {
#define FULCRUM_METHOD_ENUM(name, ipvsadm, flag, replies) name,
    FULCRUM_FORWARD_METHODS(FULCRUM_METHOD_ENUM)
#undef FULCRUM_METHOD_ENUM
};

struct ForwardMethodNames {
    ForwardMethod method;
    std::string_view name;          // in the configuration: "nat"
    std::string_view ipvsadm;       // in ipvsadm -L: "Masq"
    char flag;                      // ipvsadm's option: -m
    bool replies_through_director;  // NAT's replies come back; DR's and TUN's go straight to the client
};
inline constexpr std::array forward_methods = {
#define FULCRUM_METHOD_NAMES(name, ipvsadm, flag, replies) \
    ForwardMethodNames{ForwardMethod::name, #name, ipvsadm, flag, replies},
    FULCRUM_FORWARD_METHODS(FULCRUM_METHOD_NAMES)
#undef FULCRUM_METHOD_NAMES
};

constexpr bool replies_through_director(ForwardMethod m)
{
    return forward_methods[static_cast<size_t>(m)].replies_through_director;
}
// The method whose ipvsadm option letter is `flag`, if any.
std::optional<ForwardMethod> forward_method_of_flag(char flag);

// 224.0.0.0/4.
constexpr bool is_ipv4_multicast(Ipv4 ip) { return (ip >> 28) == 0xe; }

std::string format_ipv4(Ipv4 ip);
std::string format_ipv4_port(Ipv4 ip, uint16_t port);  // "198.18.0.100:80"
std::string format_mac(const MacAddress& mac);
// Strict dotted-quad parser: four decimal octets, no leading '+', no trailing text.
std::optional<Ipv4> parse_ipv4(std::string_view text);
// "a.b.c.d/len"; a bare address is /32 when allow_bare is set.
std::optional<Ipv4Prefix> parse_ipv4_prefix(std::string_view text, bool allow_bare = false);
// "02:00:00:00:00:02" (hex pairs separated by ':' or '-').
std::optional<MacAddress> parse_mac(std::string_view text);

std::string_view protocol_name(Protocol p);        // "tcp" / "udp"
std::string_view protocol_label(Protocol p);       // "TCP" / "UDP", as ipvsadm prints them
// The protocol the configuration calls `name` ("tcp"), or whose ipvsadm option is `flag` ('t').
std::optional<Protocol> protocol_of_name(std::string_view name);
std::optional<Protocol> protocol_of_flag(char flag);
char protocol_flag(Protocol p);                    // 't' / 'u'

std::string_view forward_method_name(ForwardMethod m);  // "nat" / "dr" / "tun"
std::string_view ipvsadm_forward_name(ForwardMethod m); // "Masq" / "Route" / "Tunnel"

// A connection-table defence's setting (dataplane/defense.hpp), as IPVS's sysctls take it:
// 0 never; 1 automatic (on while the table is short of free slots; shown as 2 while on, as IPVS
// rewrites its sysctl); 3 always.
inline constexpr uint8_t defense_never = 0;
inline constexpr uint8_t defense_automatic = 1;
inline constexpr uint8_t defense_automatic_on = 2;
inline constexpr uint8_t defense_always = 3;

struct DefenseSettings {
    uint8_t drop_entry = defense_never;
    uint8_t drop_packet = defense_never;
    uint8_t secure_tcp = defense_never;
    uint8_t flood_mode = defense_never;
    // Free slots in a worker's table below which the automatic defences are on (IPVS counts
    // free pages). 0: an eighth of the table.
    uint32_t amemthresh = 0;
    // drop_packet at level 3 refuses one new connection in this many (IPVS's am_droprate).
    uint32_t am_droprate = 10;

    bool operator==(const DefenseSettings&) const = default;
};

}  // namespace fulcrum
