// Direct routing (ipvsadm -g): the client's packet, untouched above Ethernet, handed to the
// real server's MAC; the real server has the VIP on a non-ARPing interface and answers the
// client itself. DR's stage of forward.hpp.
#pragma once

#include "dataplane/conn_table.hpp"
#include "dataplane/egress.hpp"
#include "dataplane/parse.hpp"
#include "dataplane/verdict.hpp"
#include "dataplane/worker_context.hpp"

struct rte_mbuf;

namespace fulcrum::dataplane {

inline Verdict dr_to_real_server(WorkerContext& w, rte_mbuf* m, uint8_t*, const ParsedPacket&, rte_be32_t real_ip,
                                 rte_be16_t)
{
    return egress_ipv4(w, m, real_ip);
}

inline Verdict dr_to_real_server(WorkerContext& w, rte_mbuf* m, uint8_t*, const ParsedPacket&,
                                 const Ipv6Address& real_ip, rte_be16_t)
{
    return egress_ipv6(w, m, real_ip);
}

// An ICMP error from the client's side goes to the real server as it is: the real server sent
// the packet it quotes, from the VIP.
inline Verdict dr_related_icmp(WorkerContext& w, rte_mbuf* m, uint8_t*, const ParsedPacket&, const Connection& c)
{
    return egress_ipv4(w, m, c.real_ip);
}

inline Verdict dr_related_icmp(WorkerContext& w, rte_mbuf* m, uint8_t*, const ParsedPacket&, const Connection6& c)
{
    return egress_ipv6(w, m, c.real_ip);
}

}  // namespace fulcrum::dataplane
