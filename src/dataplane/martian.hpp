// Sources no client can have, as the kernel's martian-source rules (ip_route_input_slow,
// fib_validate_source) and then some: a packet from one of them that would open a connection, or
// reach the director's kernel, is spoofed.
#pragma once

#include <rte_byteorder.h>

#include <algorithm>

#include "dataplane/snapshot.hpp"

namespace fulcrum::dataplane {

// True for 0.0.0.0/8, 127.0.0.0/8, 224.0.0.0/3 (multicast, class E and the limited broadcast),
// and the snapshot's never_sources: the director's own addresses, the broadcast address of each
// subnet it is on, every VIP. The kernel accepts class E sources; nothing on the Internet sends
// from them. A VIP as the source would let a client make the director answer itself, and the
// director's address would let it take the replies to the kernel's own health checks.
// Called once per packet that has no connection: inline, one binary search.
inline bool martian_source(const ServiceSnapshot& snapshot, rte_be32_t source)
{
    const uint8_t first_octet = static_cast<uint8_t>(rte_be_to_cpu_32(source) >> 24);
    if (first_octet == 0 || first_octet == 127 || first_octet >= 224) return true;
    return std::binary_search(snapshot.never_sources.begin(), snapshot.never_sources.end(), source);
}

// The IPv6 counterpart: the unspecified address (a neighbour solicitation's duplicate-address
// probe is handled before this is asked), loopback, multicast, IPv4-mapped addresses (RFC 4291
// 2.5.5.2: never on the wire), and the snapshot's never_sources6 (the director's addresses, the
// VIPs). Link-local sources are left to the caller: they are on the link, never through a
// router, and only the director's own neighbours may use them.
inline bool martian_source(const ServiceSnapshot& snapshot, const Ipv6Address& source)
{
    if (source.is_unspecified() || source.is_loopback() || source.is_multicast() || source.is_ipv4_mapped()) return true;
    return std::binary_search(snapshot.never_sources6.begin(), snapshot.never_sources6.end(), source);
}

}  // namespace fulcrum::dataplane
