// NAT (masquerading, ipvsadm -m): client packets get the real server as their destination,
// real-server replies get the VIP back as their source, and ICMP errors about either have their
// quotes rewritten to match. IP and TCP/UDP checksums are updated incrementally (RFC 1624),
// never recomputed. NAT's stage of forward.hpp, and the one method whose replies come through.
#pragma once

#include <rte_byteorder.h>

#include <cstdint>

#include "dataplane/conn_table.hpp"
#include "dataplane/egress.hpp"
#include "dataplane/parse.hpp"
#include "dataplane/verdict.hpp"
#include "dataplane/worker_context.hpp"

struct rte_mbuf;

namespace fulcrum::dataplane {

// Client -> real server: destination address and port become the real server's.
void nat_rewrite_destination(uint8_t* frame, const ParsedPacket& p, rte_be32_t real_ip,
                             rte_be16_t real_port);

// Real server -> client: source address and port become the virtual service's.
void nat_rewrite_source(uint8_t* frame, const ParsedPacket& p, rte_be32_t vip, rte_be16_t vport);

// Decrements the TTL of a routed packet and patches the header checksum. Returns false, leaving
// the packet unchanged, when the TTL would reach 0.
bool decrement_ttl(rte_ipv4_hdr* ip);

// forward.hpp's stage: the client's packet to the real server's address and port. Inline, and
// the address and port by reference (read again after the rewrite, not kept in a register
// across it), so that to_real_server compiles to what it was before there was a dispatch.
inline Verdict nat_to_real_server(WorkerContext& w, rte_mbuf* m, uint8_t* frame, const ParsedPacket& p,
                                  const rte_be32_t& real_ip, const rte_be16_t& real_port)
{
    nat_rewrite_destination(frame, p, real_ip, real_port);
    return egress_ipv4(w, m, real_ip);
}

// forward.hpp's stage: an ICMP error from the client's side, quoting the reply VIP -> client,
// goes to the real server as if about real server -> client.
Verdict nat_related_icmp(WorkerContext& w, rte_mbuf* m, uint8_t* frame, const ParsedPacket& p, const Connection& c);
// A reply, made ready to be routed to the client: from the VIP, one TTL less. False, with the
// packet unchanged, when its TTL would reach 0.
bool nat_rewrite_reply(uint8_t* frame, const ParsedPacket& p, const Connection& c);
// An ICMP error from the real server's side, quoting client -> real server, routed to the
// client as if about client -> VIP.
Verdict nat_reply_related_icmp(WorkerContext& w, rte_mbuf* m, uint8_t* frame, const ParsedPacket& p,
                               const Connection& c);

// NAT66: the same rewriting of an IPv6 packet. There is no header checksum; the TCP or UDP
// checksum covers the addresses through the pseudo-header and is patched for them (RFC 1624
// over 128 bits).
void nat_rewrite_destination(uint8_t* frame, const ParsedPacket& p, const Ipv6Address& real_ip, rte_be16_t real_port);
void nat_rewrite_source(uint8_t* frame, const ParsedPacket& p, const Ipv6Address& vip, rte_be16_t vport);

// IPv6's TTL. False, leaving the packet unchanged, when it would reach 0.
inline bool decrement_hop_limit(rte_ipv6_hdr* ip)
{
    if (ip->hop_limits <= 1) return false;
    --ip->hop_limits;
    return true;
}

inline Verdict nat_to_real_server(WorkerContext& w, rte_mbuf* m, uint8_t* frame, const ParsedPacket& p,
                                  const Ipv6Address& real_ip, const rte_be16_t& real_port)
{
    nat_rewrite_destination(frame, p, real_ip, real_port);
    return egress_ipv6(w, m, real_ip);
}

bool nat_rewrite_reply(uint8_t* frame, const ParsedPacket& p, const Connection6& c);

// ICMPv6 errors of a NAT66 connection, as nat_related_icmp and nat_reply_related_icmp: the quoted
// packet's address and port and the outer address rewritten, the ICMPv6 checksum recomputed
// (it covers the pseudo-header and the whole quote).
Verdict nat_related_icmp(WorkerContext& w, rte_mbuf* m, uint8_t* frame, const ParsedPacket& p, const Connection6& c);
Verdict nat_reply_related_icmp(WorkerContext& w, rte_mbuf* m, uint8_t* frame, const ParsedPacket& p,
                               const Connection6& c);

}  // namespace fulcrum::dataplane
