// The kernel's side of the exception path: the addresses and routes a TAP interface needs so
// that the kernel's own sockets (health checks, ping, later BGP) reach the director's links.
// Plain rtnetlink; no DPDK.
#pragma once

#include <string>
#include <vector>

#include "dataplane/types.hpp"

namespace fulcrum::control {

struct KernelRoute {
    Ipv4Prefix dst;
    Ipv4 via = 0;
    std::string interface;   // the kernel interface the gateway is reached through
    bool operator==(const KernelRoute&) const = default;
};

// Gives `interface` the addresses (replacing none of the kernel's others), turns IPv6 off on
// it (the director forwards IPv4 only, and the kernel's router solicitations would go out on
// the wire), and brings it up. Returns "" or what the kernel refused.
std::string kernel_interface_setup(const std::string& interface, const std::vector<Ipv4Prefix>& addresses);

// For a kernel interface a PMD reads beside the kernel (af_packet): once the kernel holds the
// director's addresses on the TAP, it would also take packets arriving on this interface as its
// own (Linux's weak host model) and answer them and their ARP a second time. Strict reverse-path
// filtering (no route back through it) and arp_ignore=8 keep it out. Returns "" or what failed.
std::string kernel_interface_silence(const std::string& interface);

// Adds (or replaces) and deletes routes in the main table. Returns "" or what failed first.
std::string kernel_route_add(const KernelRoute& route);
std::string kernel_route_delete(const KernelRoute& route);

}  // namespace fulcrum::control
