// ICMPv6 the director answers or sends itself: echo replies for its own addresses and VIPs, and
// the errors a client is owed (port unreachable when no real server is left, as ip_vs_leave;
// packet too big for a tunnelled packet that no longer fits).
#pragma once

#include <rte_byteorder.h>

#include <cstdint>

#include "dataplane/ipv6.hpp"
#include "dataplane/parse.hpp"
#include "dataplane/verdict.hpp"

struct rte_mbuf;
struct rte_mempool;

namespace fulcrum::dataplane {

// The ICMPv6 checksum of the `length` bytes of `message` under the addresses of `ip` (RFC 4443
// 2.3): the value to store when the message's checksum field is 0, and 0 for a message whose
// stored checksum is right.
rte_be16_t icmp6_checksum(const rte_ipv6_hdr* ip, const uint8_t* message, uint32_t length);

// An unfragmented ICMPv6 echo request.
bool icmp6_is_echo_request(const uint8_t* frame, const ParsedPacket& p);

// Turns an echo request into its reply in place: addresses swapped, type 129, a fresh hop
// limit, the checksum patched for the type (the pseudo-header's sum does not change when its
// two addresses swap). Extension headers before the message are dropped, so the reply is the
// IPv6 header and the message alone. Returns next() (the caller routes it) or
// drop(icmp_unhandled).
Verdict icmp6_answer_echo(rte_mbuf* m, uint8_t* frame, const ParsedPacket& p);

// A new frame (Ethernet header left for egress to fill): an ICMPv6 error of `type` and `code`
// with `value` in its second word (packet too big: the MTU), from `source` to the sender of the
// IPv6 packet at `ip_packet`, quoting as much of it as keeps the error within the minimum MTU
// (RFC 4443 2.4). nullptr when the pool is empty.
rte_mbuf* icmp6_build_error(rte_mempool* pool, const uint8_t* ip_packet, uint16_t ip_length,
                            const Ipv6Address& source, uint8_t type, uint8_t code, uint32_t value);

}  // namespace fulcrum::dataplane
