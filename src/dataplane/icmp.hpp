// ICMP the director answers itself: echo requests to its own addresses and to VIPs.
#pragma once

#include "dataplane/parse.hpp"

struct rte_mbuf;
struct rte_mempool;

namespace fulcrum::dataplane {

struct WorkerContext;

// Whether the worker may send one more ICMP message of its own (an echo reply, a port
// unreachable, a fragmentation needed): dataplane.icmp_rate_limit a second, as the kernel's
// icmp_msgs_per_sec, so that the director cannot be made to send ICMP at the rate it receives.
// A refusal is counted as icmp_rate_limited.
bool icmp_within_rate(WorkerContext& w);

// Turns an echo request into its reply in place: addresses swapped, type 0, a fresh TTL, both
// checksums patched. Returns next() (the caller routes the reply back to the sender) or
// drop(icmp_unhandled) for any other ICMP message.
Verdict icmp_answer_echo(uint8_t* frame, const ParsedPacket& p);

// An unfragmented ICMP echo request (the message icmp_answer_echo answers).
bool icmp_is_echo_request(const uint8_t* frame, const ParsedPacket& p);

// A new frame (Ethernet header left for egress to fill): ICMP destination unreachable,
// fragmentation needed, from `source` to the sender of `ip_packet`, with next-hop MTU `mtu`,
// quoting the packet's IP header and as much of the rest as keeps the reply within 576 bytes
// (as Linux's icmp_send). nullptr when the pool is empty.
rte_mbuf* icmp_build_frag_needed(rte_mempool* pool, const uint8_t* ip_packet, uint16_t ip_length,
                                 rte_be32_t source, uint16_t mtu);

// The same for any destination-unreachable `code` (port unreachable: 3).
rte_mbuf* icmp_build_unreachable(rte_mempool* pool, const uint8_t* ip_packet, uint16_t ip_length,
                                 rte_be32_t source, uint8_t code, uint16_t mtu = 0);

}  // namespace fulcrum::dataplane
