// The forwarding methods behind one dispatch, generated from FULCRUM_FORWARD_METHODS
// (common/types.hpp). Each method NAME has its file (nat.cpp, dr.hpp, tun.cpp) providing
//   NAME_to_real_server(w, m, frame, p, real_ip, real_port): a client's packet on to the real
//     server (real_port is the virtual port for methods that do not translate it);
//   NAME_related_icmp(w, m, frame, p, connection): an ICMP error from the client's side, about
//     a packet the director sent the client, on to the real server.
// A method whose replies come through the director (the list says so; NAT) has a reply key in
// the connection table and handles its replies and their ICMP errors too (nat_rewrite_reply,
// nat_reply_related_icmp). A new method is a line in the list and its file; the switches below
// will not compile without the file's two functions.
#pragma once

#include "common/types.hpp"
#include "dataplane/dr.hpp"
#include "dataplane/nat.hpp"
#include "dataplane/tun.hpp"

namespace fulcrum::dataplane {

// The cases of a switch on a forwarding method, one per method of the list, each returning
// NAME_to_real_server(w, m, frame, p, real_ip, real_port) with the caller's variables of those
// names. A macro, not a function: through an inline function in between, GCC funnels the
// calls' results into one way out instead of tail-calling them, which cost an established DR
// packet 2-3% in fulcrum-bench.
#define FULCRUM_TO_REAL_SERVER_CASE(name, ipvsadm, flag, replies) \
    case ForwardMethod::name: return name##_to_real_server(w, m, frame, p, real_ip, real_port);

template <typename Conn>
Verdict forward_related_icmp(WorkerContext& w, rte_mbuf* m, uint8_t* frame, const ParsedPacket& p, const Conn& c)
{
    switch (c.method) {
#define FULCRUM_RELATED_ICMP(name, ipvsadm, flag, replies) \
    case ForwardMethod::name: return name##_related_icmp(w, m, frame, p, c);
        FULCRUM_FORWARD_METHODS(FULCRUM_RELATED_ICMP)
#undef FULCRUM_RELATED_ICMP
    }
    return Verdict::drop(DropReason::icmp_unhandled);
}

}  // namespace fulcrum::dataplane
