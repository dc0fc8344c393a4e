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

}  // namespace fulcrum::dataplane
