// Neighbour discovery (RFC 4861), IPv6's ARP: answering solicitations for the director's
// addresses and VIPs, learning neighbours from solicitations and advertisements, and building
// the solicitations and unsolicited advertisements the director sends. Router discovery and
// redirects are not followed: addresses and routes come from the configuration.
#pragma once

#include <rte_byteorder.h>

#include <cstdint>

#include "dataplane/ipv6.hpp"
#include "dataplane/parse.hpp"
#include "dataplane/verdict.hpp"
#include "dataplane/worker_context.hpp"

struct rte_mbuf;
struct rte_mempool;

namespace fulcrum::dataplane {

// Whether `p` (ICMPv6) is a neighbour discovery message: solicitation, advertisement, or router
// discovery and redirects, which nd_receive drops.
constexpr bool nd_is_message(uint8_t icmp_type)
{
    return icmp_type >= icmp6_router_solicitation && icmp_type <= icmp6_redirect;
}

// A neighbour discovery message received on `port`. A valid solicitation for one of our
// addresses or a VIP becomes its advertisement in place (transmit on the same port); what a
// valid message says about its sender goes to the control core. Invalid messages (hop limit
// not 255, a bad checksum, options of length 0, RFC 4861 7.1) are dropped as nd_invalid; router
// discovery and redirects as nd_ignored. Advertisements also reach the kernel behind the port,
// which resolves its own neighbours.
Verdict nd_receive(WorkerContext& w, rte_mbuf* m, uint8_t* frame, const ParsedPacket& p, const PortInfo& port);

// A neighbour solicitation for `target` from `source`, to its solicited-node group, with our
// link-layer address. nullptr when the pool is empty.
rte_mbuf* nd_build_solicitation(rte_mempool* pool, const PortInfo& port, const Ipv6Address& source,
                                const Ipv6Address& target);

// An unsolicited advertisement of `address` (override set) to all nodes: what gratuitous ARP is
// for IPv4, sent at start and when a VIP arrives. nullptr when the pool is empty.
rte_mbuf* nd_build_advertisement(rte_mempool* pool, const PortInfo& port, const Ipv6Address& address);

}  // namespace fulcrum::dataplane
