// ICMP errors that belong to a connection (IPVS's ip_vs_in_icmp / ip_vs_out_icmp): destination
// unreachable, source quench and time exceeded whose quoted packet is one of this worker's
// connections are passed on to the other side of that connection.
#pragma once

#include "dataplane/parse.hpp"
#include "dataplane/verdict.hpp"
#include "dataplane/worker_context.hpp"

struct rte_mbuf;

namespace fulcrum::dataplane {

// For an ICMP packet: next() when it is not an error message (echo and the like), otherwise
// the verdict of forwarding it:
// - from the client's side, quoting a packet the director sent to the client: to the real
//   server by the connection's method; for NAT the outer destination and the quoted source
//   become the real server's;
// - from a NAT real server's side, quoting a packet the client sent it: to the client, with the
//   outer source and the quoted destination back to the VIP;
// - fragmentation-needed quoting one of the director's own IPIP packets: a fragmentation-needed
//   to the client, for the inner packet, with the MTU less the tunnel overhead;
// - quoting nothing known: drop(icmp_unhandled);
// - a wrong ICMP checksum: drop(icmp_bad_checksum); an error that cannot be about the connection
//   it quotes (sent to another address than the quoted packet's source; a fragmentation-needed
//   for a packet that was not our DF tunnel packet to that connection's real server, or with an
//   MTU below 552 + the tunnel header): drop(icmp_forged).
Verdict icmp_forward_related(WorkerContext& w, rte_mbuf* m, uint8_t* frame, const ParsedPacket& p);

// The same for ICMPv6 errors (destination unreachable, packet too big, time exceeded, parameter
// problem) about IPv6 connections. The quoted packet's extension headers are walked to its ports.
Verdict icmp6_forward_related(WorkerContext& w, rte_mbuf* m, uint8_t* frame, const ParsedPacket& p);

}  // namespace fulcrum::dataplane
