// TUN forwarding (ipvsadm -i): the client's packet, untouched, inside an outer IPv4 header
// (protocol 4, IPIP) from the director to the real server, as IPVS's ip_vs_tunnel_xmit.
#pragma once

#include <rte_byteorder.h>

#include "dataplane/conn_table.hpp"
#include "dataplane/parse.hpp"
#include "dataplane/verdict.hpp"
#include "dataplane/worker_context.hpp"

struct rte_mbuf;

namespace fulcrum::dataplane {

inline constexpr uint16_t tunnel_overhead = sizeof(rte_ipv4_hdr);

// Writes the outer header in front of `inner` (which it must immediately precede): TOS, TTL and
// DF copied from the inner header, protocol IPIP, a full header checksum.
void tun_write_outer_header(rte_ipv4_hdr* outer, const rte_ipv4_hdr* inner, rte_be32_t source,
                            rte_be32_t real_server, rte_be16_t packet_id);

// Encapsulates the frame in `m` and sends it towards `real_server`. When the result would not
// fit the egress MTU: with DF set on the inner packet, the client gets ICMP fragmentation-needed
// carrying the MTU minus the tunnel overhead and the packet is dropped (too_big_df); without DF,
// the outer packet is fragmented. Returns the verdict for `m` (held when fragments replaced it).
Verdict tun_forward(WorkerContext& w, rte_mbuf* m, const ParsedPacket& p, rte_be32_t real_server);

// forward.hpp's stage: the client's packet, encapsulated, to the real server.
inline Verdict tun_to_real_server(WorkerContext& w, rte_mbuf* m, uint8_t*, const ParsedPacket& p, rte_be32_t real_ip,
                                  rte_be16_t)
{
    return tun_forward(w, m, p, real_ip);
}

// An ICMP error from the client's side goes through the tunnel, as the packets of its connection.
inline Verdict tun_related_icmp(WorkerContext& w, rte_mbuf* m, uint8_t*, const ParsedPacket& p, const Connection& c)
{
    return tun_forward(w, m, p, c.real_ip);
}

// An IPv6 client's packet through a tunnel: IPv6-in-IPv6 to an IPv6 real server, or
// IPv6-in-IPv4 (protocol 41) to one whose address is IPv4-mapped (a TUN real server of the other
// family, which IPVS allows). The outer header copies the inner traffic class and hop limit, as
// ip_vs_tunnel_xmit_v6; the flow label is 0. A packet that would not fit the egress MTU is
// dropped (too_big_df) and the client told the largest that fits, in ICMPv6 packet too big
// (never below IPv6's 1280).
Verdict tun_forward(WorkerContext& w, rte_mbuf* m, const ParsedPacket& p, const Ipv6Address& real_server);

inline Verdict tun_to_real_server(WorkerContext& w, rte_mbuf* m, uint8_t*, const ParsedPacket& p,
                                  const Ipv6Address& real_ip, rte_be16_t)
{
    return tun_forward(w, m, p, real_ip);
}

inline Verdict tun_related_icmp(WorkerContext& w, rte_mbuf* m, uint8_t*, const ParsedPacket& p, const Connection6& c)
{
    return tun_forward(w, m, p, c.real_ip);
}

}  // namespace fulcrum::dataplane
