// Sources no client can have, as the kernel's martian-source rules (ip_route_input_slow,
// fib_validate_source) and then some: a packet from one of them that would open a connection, or
// reach the director's kernel, is spoofed.
#pragma once

#include <rte_byteorder.h>

#include "dataplane/worker_context.hpp"

namespace fulcrum::dataplane {

// True for 0.0.0.0/8, 127.0.0.0/8, 224.0.0.0/3 (multicast, class E and the limited broadcast),
// the director's own addresses, the broadcast address of a subnet it is on, and every VIP of the
// worker's snapshot. The kernel accepts class E sources; nothing on the Internet sends from
// them. A VIP as the source would let a client make the director answer itself, and the
// director's address would let it take the replies to the kernel's own health checks.
bool martian_source(const WorkerContext& w, rte_be32_t source);

}  // namespace fulcrum::dataplane
