// The IPv6 way through the worker after parse: neighbour discovery, echo, and the connections of
// IPv6 services with their forwarding (NAT66, DR, TUN). The same decisions as classify_ipv4 in
// pipeline.cpp, in the same order, over IPv6 addresses: what both families share is in
// connection_steps.hpp.
#include <rte_mbuf.h>

#include <optional>

#include "dataplane/conn_pressure.hpp"
#include "dataplane/connection_steps.hpp"
#include "dataplane/defense.hpp"
#include "dataplane/egress.hpp"
#include "dataplane/forward.hpp"
#include "dataplane/icmp.hpp"
#include "dataplane/icmp6.hpp"
#include "dataplane/icmp_related.hpp"
#include "dataplane/martian.hpp"
#include "dataplane/nd.hpp"
#include "dataplane/pipeline.hpp"

namespace fulcrum::dataplane {

namespace {

Verdict answer_echo(WorkerContext& w, rte_mbuf* m, uint8_t* frame, const ParsedPacket& p)
{
    if (!icmp6_is_echo_request(frame, p)) return Verdict::drop(DropReason::icmp_unhandled);
    if (!icmp_within_rate(w)) return Verdict::drop(DropReason::icmp_rate_limited);
    const Ipv6Address requester = Ipv6Address::from(p.ip6(frame)->src_addr);
    Verdict v = icmp6_answer_echo(m, frame, p);
    if (v.settled()) return v;
    ++w.counters.icmp_echo_replies;
    // A link-local requester is on the link the request came in by, which no route names.
    if (requester.is_link_local()) return egress_via(w, m, NextHop6{m->port, {}}, requester);
    return egress_ipv6(w, m, requester);
}

// A packet of a connection, or one that may open one (follow_connection says how `hit` is used).
Verdict classify_flow(WorkerContext& w, rte_mbuf* m, uint8_t* frame, const ParsedPacket& p, const FlowKey6& key,
                      ConnTable6::Hit hit)
{
    if (p.key.proto == IPPROTO_TCP && tcp_flags_invalid(p.tcp_flags)) return Verdict::drop(DropReason::tcp_bad_flags);
    return follow_connection(w, m, frame, p, key, hit);
}

}  // namespace

Verdict classify_ipv6(WorkerContext& w, rte_mbuf* m, uint8_t* frame, const ParsedPacket& p, const FlowKey6* flow_key,
                      ConnTable6::Hit hit)
{
    const ServiceSnapshot& snapshot = *w.snapshot;
    const PortInfo& port = w.shared->ports[m->port];
    // Under vip_ownership kernel, another director may hold the VIP now: nothing to it is ours.
    if (snapshot.vips_follow_kernel) {
        const Ipv6Address destination = Ipv6Address::from(p.ip6(frame)->dst_addr);
        if (snapshot.is_vip(destination) && !snapshot.serves_vip(destination))
            return Verdict::drop(DropReason::vip_not_held);
    }
    if (flow_key != nullptr) {
        // Packets of a connection are not checked again: their addresses are the connection's.
        if (Verdict v = classify_flow(w, m, frame, p, *flow_key, hit); v.settled()) return v;
    }
    const FlowKey6 key = flow_key != nullptr ? *flow_key : key6_of(frame, p);
    const bool has_ports = flow_key != nullptr;
    const bool icmp = p.key.proto == IPPROTO_ICMPV6 && !p.is_fragment;
    if (icmp && nd_is_message(frame[p.l4_offset])) return nd_receive(w, m, frame, p, port);

    // A link-local source is only ever the director's neighbour talking to the director itself.
    // What a kernel interface holds under vip_ownership kernel (keepalived's floating gateway)
    // is the director's own while it does.
    const bool local = w.shared->is_local(key.dst_ip) || snapshot.kernel_holds(m->port, key.dst_ip);
    if (martian_source(snapshot, key.src_ip) || (key.src_ip.is_link_local() && !local && !key.dst_ip.is_multicast()))
        return Verdict::drop(DropReason::martian_source);
    if (icmp) {
        Verdict related = icmp6_forward_related(w, m, frame, p);
        // An error about none of our connections, to the director, may be about the kernel's
        // own traffic: the local branch below passes it on.
        const bool maybe_kernels = related.kind == Verdict::Kind::drop && related.reason == DropReason::icmp_unhandled &&
                                   port.kernel_port != no_port && local;
        if (related.settled() && !maybe_kernels) return related;
    }
    if (has_ports) {
        if (const ServiceEntry* service = snapshot.find_service(key.dst_ip, key.dst_port, key.proto))
            return new_connection(w, m, frame, p, key, *service);
    }
    if (snapshot.is_vip(key.dst_ip)) {
        if (p.is_fragment) return Verdict::drop(DropReason::ip_fragment);
        if (icmp) return answer_echo(w, m, frame, p);
        return Verdict::drop(DropReason::no_service);
    }
    const uint16_t kernel_port = port.kernel_port;
    if (key.dst_ip.is_multicast()) {
        // MLD, VRRP for IPv6, and whatever the kernel joined: it knows its groups.
        if (kernel_port == no_port) return Verdict::drop(DropReason::not_for_us);
        return egress_to_kernel(w, m, kernel_port);
    }
    if (local) {
        if (icmp6_is_echo_request(frame, p)) return answer_echo(w, m, frame, p);
        if (kernel_port == no_port) return Verdict::drop(DropReason::local_unhandled);
        return egress_to_kernel(w, m, kernel_port);
    }
    return Verdict::drop(DropReason::not_for_us);
}

}  // namespace fulcrum::dataplane
