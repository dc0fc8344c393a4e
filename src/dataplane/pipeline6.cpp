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
#include "dataplane/martian.hpp"
#include "dataplane/nd.hpp"
#include "dataplane/pipeline.hpp"

namespace fulcrum::dataplane {

namespace {

// What the schedulers see of an IPv6 flow: its addresses folded to 32 bits as IPVS folds them
// for sh, dh, mh and lblc.
sched::FlowInput flow_input(const WorkerContext& w, const FlowKey6& key)
{
    return {fold_ipv6(key.src_ip), fold_ipv6(key.dst_ip), rte_be_to_cpu_16(key.src_port),
            rte_be_to_cpu_16(key.dst_port), w.now_tick};
}

// The client's address under an IPv6 service's netmask (a prefix length), folded: the key of
// its persistence template.
uint32_t persistence_client(const Ipv6Address& client, uint8_t prefix_length)
{
    Ipv6Address masked;
    for (unsigned i = 0; i < 16; ++i) {
        const unsigned bits = prefix_length > i * 8 ? std::min(8u, prefix_length - i * 8) : 0;
        masked.bytes[i] = static_cast<uint8_t>(client.bytes[i] & static_cast<uint8_t>(0xff00 >> bits));
    }
    return fold_ipv6(masked);
}

Verdict to_real_server(WorkerContext& w, rte_mbuf* m, uint8_t* frame, const ParsedPacket& p, Connection6& c)
{
    c.last_seen = w.now_tick;
    ++c.in_packets;
    track_tcp(w, c, p, TcpDirection::input);
    ++w.counters.to_real_server;
    count_traffic(w, c.service_id, c.real_server_id, m, true);
    const Ipv6Address& real_ip = c.real_ip;
    const rte_be16_t& real_port = c.real_port;
    switch (c.method) { FULCRUM_FORWARD_METHODS(FULCRUM_TO_REAL_SERVER_CASE) }
    return Verdict::drop(DropReason::no_real_server);
}

Verdict to_client(WorkerContext& w, rte_mbuf* m, uint8_t* frame, const ParsedPacket& p, Connection6& c)
{
    if (!w.snapshot->reaches_real_server_by(c.real_server_id, c.real_ip, m->port))
        return Verdict::drop(DropReason::reply_wrong_port);
    c.last_seen = w.now_tick;
    track_tcp(w, c, p, TcpDirection::output);
    if (!nat_rewrite_reply(frame, p, c)) return Verdict::drop(DropReason::ttl_exceeded);
    ++w.counters.replies;
    count_traffic(w, c.service_id, c.real_server_id, m, false);
    return egress_ipv6(w, m, c.client_key.src_ip);
}

Verdict forward_stateless(WorkerContext& w, rte_mbuf* m, uint8_t* frame, const ParsedPacket& p,
                          const ServiceEntry& service, const RealServerEntry& rs)
{
    ++w.counters.stateless_forwarded;
    ++w.counters.to_real_server;
    count_traffic(w, service.id, rs.id, m, true);
    const Ipv6Address& real_ip = rs.address6;
    const rte_be16_t real_port = p.key.dst_port;
    switch (rs.method) { FULCRUM_FORWARD_METHODS(FULCRUM_TO_REAL_SERVER_CASE) }
    return Verdict::drop(DropReason::no_real_server);
}

// As pipeline.cpp's: a closed connection whose reply key a new NAT connection needs gives way.
bool forget_closed_namesake(WorkerContext& w, const FlowKey6& reply_key)
{
    const ConnTable6::Hit hit = w.conns6.lookup(reply_key);
    if (hit.conn == nullptr || !hit.is_reply || !tcp_new_conn_expected(hit.conn->tcp.state, hit.conn->tcp.no_output))
        return false;
    forget_connection(w, *hit.conn);
    return true;
}

// The client hears at once that nobody serves this port (ip_vs_leave), from the VIP.
void refuse_with_unreachable(WorkerContext& w, const uint8_t* frame, const ParsedPacket& p, const FlowKey6& key)
{
    if (!icmp_within_rate(w)) return;
    const rte_ipv6_hdr* ip = p.ip6(frame);
    rte_mbuf* refusal =
        icmp6_build_error(w.shared->pool, reinterpret_cast<const uint8_t*>(ip),
                          static_cast<uint16_t>(p.frame_length - p.l3_offset), key.dst_ip, icmp6_dest_unreachable,
                          icmp6_code_port_unreachable, 0);
    if (refusal == nullptr) return;
    ++w.counters.icmp_port_unreachable;
    settle_packet(w, refusal, egress_ipv6(w, refusal, key.src_ip));
}

Verdict new_connection(WorkerContext& w, rte_mbuf* m, uint8_t* frame, const ParsedPacket& p, const FlowKey6& key,
                       const ServiceEntry& service)
{
    const bool stateless_allowed = service.picks_by_hash && w.snapshot->defense.flood_mode != defense_never;
    const bool mid_flow = p.key.proto == IPPROTO_TCP && !is_syn_only(p.tcp_flags);
    const bool sloppy = mid_flow && w.snapshot->sloppy_tcp && !(p.tcp_flags & RTE_TCP_RST_FLAG);
    const sched::FlowInput flow = flow_input(w, key);
    if (mid_flow && stateless_allowed && (!sloppy || w.defense.flood_on)) {
        const int32_t pick = schedule_flow(w, service, flow);
        if (pick == sched::no_destination) return Verdict::drop(DropReason::tcp_not_syn);
        const RealServerEntry& rs = w.snapshot->real_servers_of(service)[static_cast<size_t>(pick)];
        if (!replies_through_director(rs.method)) return forward_stateless(w, m, frame, p, service, rs);
        if (!sloppy) return Verdict::drop(DropReason::tcp_not_syn);
    } else if (mid_flow && !sloppy) {
        return Verdict::drop(DropReason::tcp_not_syn);
    }
    if (defense_refuses_new_connection(w)) return Verdict::drop(DropReason::drop_packet);
    std::optional<PersistenceTable::Template> persistent;
    const int32_t pick =
        service.persistence_seconds != 0
            ? schedule_persistent(w, service, persistence_client(key.src_ip, service.persistence_prefix6), flow, persistent)
            : schedule_flow(w, service, flow);
    if (pick == sched::no_destination) {
        refuse_with_unreachable(w, frame, p, key);
        return Verdict::drop(DropReason::no_real_server);
    }
    const RealServerEntry& rs = w.snapshot->real_servers_of(service)[static_cast<size_t>(pick)];
    if (stateless_allowed && w.defense.flood_on && !replies_through_director(rs.method))
        return forward_stateless(w, m, frame, p, service, rs);

    const rte_be16_t real_port = replies_through_director(rs.method) ? rs.port : key.dst_port;
    const bool tcp = p.key.proto == IPPROTO_TCP;
    const Tick first_timeout = tcp ? w.snapshot->tcp_timeout[0] : w.snapshot->udp_timeout;
    Connection6* c = nullptr;
    auto inserted = w.conns6.insert(key, rs.address6, real_port, rs.method, w.now_tick, first_timeout, &c);
    if (inserted == ConnTable6::InsertResult::conflict && tcp && replies_through_director(rs.method) &&
        forget_closed_namesake(w, {rs.address6, key.src_ip, real_port, key.src_port, IPPROTO_TCP, {0, 0, 0}}))
        inserted = w.conns6.insert(key, rs.address6, real_port, rs.method, w.now_tick, first_timeout, &c);
    if (inserted != ConnTable6::InsertResult::ok) {
        if (persistent) w.shared->templates->detach(persistent->slot, seconds_of(w));
        return Verdict::drop(inserted == ConnTable6::InsertResult::full ? DropReason::conn_table_full
                                                                        : DropReason::conn_conflict);
    }
    c->service_id = static_cast<uint16_t>(service.id);
    c->real_server_id = static_cast<uint16_t>(rs.id);
    bump(w.service_traffic[service.id].conns, 1);
    bump(w.real_server_traffic[rs.id].conns, 1);
    c->tcp = {TcpState::none, rs.method != ForwardMethod::nat};
    count_add(counts_of(w, *c).inactive, 1);
    if (persistent) c->template_slot = persistent->slot;
    ++w.counters.connections_created;
    if (sloppy) ++w.counters.sloppy_connections;
    return to_real_server(w, m, frame, p, *c);
}

Verdict answer_echo(WorkerContext& w, rte_mbuf* m, uint8_t* frame, const ParsedPacket& p)
{
    if (!icmp6_is_echo_request(frame, p)) return Verdict::drop(DropReason::icmp_unhandled);
    if (!icmp_within_rate(w)) return Verdict::drop(DropReason::icmp_rate_limited);
    const Ipv6Address requester = Ipv6Address::from(p.ip6(frame)->src_addr);
    Verdict v = icmp6_answer_echo(m, frame, p);
    if (v.settled()) return v;
    ++w.counters.icmp_echo_replies;
    return egress_ipv6(w, m, requester);
}

// A packet of a connection, or one that may open one.
Verdict classify_flow(WorkerContext& w, rte_mbuf* m, uint8_t* frame, const ParsedPacket& p, const FlowKey6& key)
{
    const ServiceSnapshot& snapshot = *w.snapshot;
    if (p.key.proto == IPPROTO_TCP && tcp_flags_invalid(p.tcp_flags)) return Verdict::drop(DropReason::tcp_bad_flags);
    ConnTable6::Hit hit = w.conns6.lookup(key);
    if (hit.conn != nullptr && !hit.is_reply && p.key.proto == IPPROTO_TCP && (p.tcp_flags & RTE_TCP_SYN_FLAG) &&
        tcp_new_conn_expected(hit.conn->tcp.state, hit.conn->tcp.no_output)) {
        forget_connection(w, *hit.conn);
        hit = {};
    }
    if (hit.conn != nullptr && !hit.is_reply && snapshot.expire_nodest_conn &&
        !snapshot.has_real_server(hit.conn->real_server_id)) {
        forget_connection(w, *hit.conn);
        return Verdict::drop(DropReason::real_server_gone);
    }
    if (hit.conn != nullptr)
        return hit.is_reply ? to_client(w, m, frame, p, *hit.conn) : to_real_server(w, m, frame, p, *hit.conn);
    return Verdict::next();
}

}  // namespace

Verdict classify_ipv6(WorkerContext& w, rte_mbuf* m, uint8_t* frame, const ParsedPacket& p)
{
    const ServiceSnapshot& snapshot = *w.snapshot;
    const PortInfo& port = w.shared->ports[m->port];
    const FlowKey6 key = key6_of(frame, p);
    const bool icmp = p.key.proto == IPPROTO_ICMPV6 && !p.is_fragment;
    if (icmp && nd_is_message(frame[p.l4_offset])) return nd_receive(w, m, frame, p, port);

    const bool has_ports = !p.is_fragment && (p.key.proto == IPPROTO_TCP || p.key.proto == IPPROTO_UDP);
    if (has_ports) {
        // Packets of a connection are not checked again: their addresses are the connection's.
        if (Verdict v = classify_flow(w, m, frame, p, key); v.settled()) return v;
    }
    // A link-local source is only ever the director's neighbour talking to the director itself.
    const bool local = port.is_local(key.dst_ip) || w.shared->is_local(key.dst_ip);
    if (martian_source(snapshot, key.src_ip) || (key.src_ip.is_link_local() && !local && !key.dst_ip.is_multicast()))
        return Verdict::drop(DropReason::martian_source);
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
        return egress_to_kernel(w, kernel_port);
    }
    if (local) {
        if (icmp6_is_echo_request(frame, p)) return answer_echo(w, m, frame, p);
        if (kernel_port == no_port) return Verdict::drop(DropReason::local_unhandled);
        return egress_to_kernel(w, kernel_port);
    }
    return Verdict::drop(DropReason::not_for_us);
}

}  // namespace fulcrum::dataplane
