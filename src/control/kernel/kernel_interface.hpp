// The kernel's side of the exception path: the addresses and routes a TAP interface needs so
// that the kernel's own sockets (health checks, ping, later BGP) reach the director's links.
// Plain rtnetlink; no DPDK.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/types.hpp"
#include "control/config/config.hpp"

namespace fulcrum::control {

// One family: dst and via are both IPv4 or both IPv6 (`via` may be an IPv6 link-local address,
// which the kernel finds on `interface` alone).
struct KernelRoute {
    IpPrefix dst;
    IpAddress via;
    std::string interface;   // the kernel interface the gateway is reached through
    bool operator==(const KernelRoute&) const = default;
};

// Whether the director turns IPv6 on for `iface`'s kernel interface: only when the interface has
// an IPv6 address (kernel_interface_set_ipv6).
bool kernel_interface_wants_ipv6(const InterfaceConfig& iface);

// The configured routes the exception path puts on the TAPs: each over the kernel interface of
// the interface the dataplane's FIB sends it through. An IPv6 route is left out where that
// kernel interface has IPv6 off: the kernel would refuse it (EACCES).
std::vector<KernelRoute> kernel_routes_wanted(const Config& config);

// What an rtnetlink answer of `length` bytes to request `seq` (sent with NLM_F_ACK) says: "" for
// an acknowledgement (NLMSG_ERROR with error 0), else what went wrong: the kernel's error, or a
// reply that is not an acknowledgement of that request at all.
std::string netlink_ack_problem(const void* reply, size_t length, uint32_t seq);

// IPv6 on `interface`: off when the interface has no IPv6 address (the kernel's router
// solicitations and MLD reports would go out on the wire for nothing); otherwise on, but kept
// to itself where the dataplane speaks for it: no router advertisements followed, no addresses
// made from them, no router solicitations sent, no duplicate-address detection (the dataplane
// answers for the addresses). Best effort (a kernel without IPv6 has nothing to set).
void kernel_interface_set_ipv6(const std::string& interface, bool wanted);

// Gives `interface` the addresses of either family (replacing none of the kernel's others; the
// IPv6 ones with IFA_F_NODAD) and brings it up. Returns "" or what the kernel refused.
std::string kernel_interface_setup(const std::string& interface, const std::vector<IpPrefix>& addresses);

// For a kernel interface a PMD reads beside the kernel (af_packet): once the kernel holds the
// director's addresses on the TAP, it would also take packets arriving on this interface as its
// own (Linux's weak host model) and answer them and their ARP a second time. Strict reverse-path
// filtering (no route back through it) and arp_ignore=8 keep it out, and IPv6 is turned off on
// it (its link-local address, made from the same MAC, is the TAP's). Returns "" or what failed.
// What it changed is appended to `saved`, for kernel_settings_restore at shutdown.
struct SavedSetting {
    std::string path;
    std::string value;
};
std::string kernel_interface_silence(const std::string& interface, std::vector<SavedSetting>& saved);
void kernel_settings_restore(const std::vector<SavedSetting>& saved);

// Adds a route of either family to the main table, unless the kernel has one to the same
// destination already (the host's own, which is left alone: `added` false). Deletes one. An IPv6
// route needs IPv6 on its interface (EACCES otherwise). Returns "" or what failed.
std::string kernel_route_add(const KernelRoute& route, bool& added);
std::string kernel_route_delete(const KernelRoute& route);

// The rtnetlink request kernel_route_add (`add`) or kernel_route_delete sends for interface index
// `interface_index`, whole (nlmsghdr, rtmsg, RTA_DST, RTA_GATEWAY, RTA_OIF), for the tests to
// read byte for byte.
std::vector<uint8_t> kernel_route_request(const KernelRoute& route, unsigned interface_index, bool add);

// Puts (or with `present` false removes) the host route to `address` (/32 or /128, by its
// family) over `interface` in routing table `table`, `proto static`, as `ip route replace ADDRESS
// dev INTERFACE table TABLE` would: what a routing daemon (BIRD's `protocol kernel` with `learn`)
// picks up and announces. Removing a route that is not there is not an error. An IPv6 route needs
// IPv6 on the interface (the kernel refuses it with EACCES where disable_ipv6 is set, and drops it
// when IPv6 is turned off). Returns "" or what the kernel refused.
std::string kernel_host_route(const IpAddress& address, uint32_t table, const std::string& interface, bool present);

// The rtnetlink request kernel_host_route sends for interface index `interface_index`, whole
// (nlmsghdr, rtmsg, RTA_DST, RTA_OIF, RTA_TABLE), for the tests to read byte for byte.
std::vector<uint8_t> host_route_request(const IpAddress& address, uint32_t table, unsigned interface_index, bool present);

}  // namespace fulcrum::control
