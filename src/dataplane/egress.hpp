// The last stages: route, resolve the next hop, fill in the Ethernet header, and stage the frame
// for transmission. Frames whose next hop is not yet known wait a short while for ARP or
// neighbour discovery.
#pragma once

#include <rte_byteorder.h>

#include "dataplane/verdict.hpp"
#include "dataplane/worker_context.hpp"

struct rte_mbuf;

namespace fulcrum::dataplane {

// Sends the IPv4 frame in `m` towards `destination` (the packet's destination, or for DR the
// real server it is handed to). Returns transmit(port) with the Ethernet header filled in,
// held() when it waits for ARP, or drop(no_route / neighbor_unresolved).
Verdict egress_ipv4(WorkerContext& w, rte_mbuf* m, rte_be32_t destination);

// The same, with the route already looked up (TUN needs the egress port before it can build
// the outer header).
Verdict egress_via(WorkerContext& w, rte_mbuf* m, const NextHop& route, rte_be32_t destination);

// The same for an IPv6 frame: routed by the IPv6 routes, its next hop resolved by neighbour
// discovery.
Verdict egress_ipv6(WorkerContext& w, rte_mbuf* m, const Ipv6Address& destination);
// The route to an IPv6 destination through the worker's cache of recent ones (nullptr: none).
const NextHop6* route_ipv6(WorkerContext& w, const Ipv6Address& destination);
Verdict egress_via(WorkerContext& w, rte_mbuf* m, const NextHop6& route, const Ipv6Address& destination);

// Sends waiting frames whose next hop has been resolved, repeats ARP requests, and drops frames
// that waited too long. Cheap when nothing waits.
void egress_retry_pending(WorkerContext& w);

// Stages `m` for transmission on `port_id`; flushes that port's stage first when it is full.
void egress_stage(WorkerContext& w, uint16_t port_id, rte_mbuf* m);

// Hands a frame for the director itself to the kernel's TAP port, within the worker's rate limit
// and the TAP's MTU.
Verdict egress_to_kernel(WorkerContext& w, const rte_mbuf* m, uint16_t kernel_port);

// Transmits every staged frame; what the TX queue does not take is freed and counted.
void egress_flush(WorkerContext& w);

// Frees every waiting frame (at shutdown).
void egress_release_pending(WorkerContext& w);

}  // namespace fulcrum::dataplane
