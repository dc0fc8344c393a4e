// The steps of a connection's life, shared by the IPv4 and IPv6 ways through the pipeline
// (pipeline.cpp, pipeline6.cpp) as templates over the flow key: which TCP flags are refused,
// tracking IPVS's TCP states, scheduling and persistence, ipvsadm's traffic counts, opening a
// connection, and forwarding its packets either way.
#pragma once

#include <rte_hash_crc.h>
#include <rte_mbuf.h>
#include <rte_tcp.h>

#include <optional>
#include <span>
#include <type_traits>

#include "dataplane/conn_pressure.hpp"
#include "dataplane/defense.hpp"
#include "dataplane/egress.hpp"
#include "dataplane/forward.hpp"
#include "dataplane/icmp.hpp"
#include "dataplane/icmp6.hpp"
#include "dataplane/parse.hpp"
#include "dataplane/sync.hpp"
#include "dataplane/pipeline.hpp"
#include "dataplane/worker_context.hpp"
#include "sched/scheduler.hpp"

namespace fulcrum::dataplane {

// Flags Linux's tcp_validate_incoming and its LISTEN state discard: SYN with FIN or RST, and
// segments with none of SYN, ACK and RST. IPVS would schedule a SYN+FIN and move a connection
// to CLOSE on a segment without flags, so a spoofed one could redirect or end a client's flow.
inline bool tcp_flags_invalid(uint8_t flags)
{
    if ((flags & RTE_TCP_SYN_FLAG) && (flags & (RTE_TCP_FIN_FLAG | RTE_TCP_RST_FLAG))) return true;
    return (flags & (RTE_TCP_SYN_FLAG | RTE_TCP_ACK_FLAG | RTE_TCP_RST_FLAG)) == 0;
}

inline bool is_syn_only(uint8_t flags)
{
    return (flags & (RTE_TCP_SYN_FLAG | RTE_TCP_ACK_FLAG | RTE_TCP_RST_FLAG)) == RTE_TCP_SYN_FLAG;
}

template <typename Conn>
ConnCounts& counts_of(WorkerContext& w, const Conn& c)
{
    return w.conn_counts[c.real_server_id];
}

// Feeds a TCP packet to IPVS's state table; moves the connection between ActiveConn and
// InActConn, and to the wheel slot of its new timeout, when its state changes.
template <typename Conn>
void track_tcp(WorkerContext& w, Conn& c, const ParsedPacket& p, TcpDirection direction)
{
    if (p.key.proto != IPPROTO_TCP) return;
    const TcpConnState before = c.tcp;
    c.tcp = tcp_step(c.tcp, direction, p.tcp_flags, w.defense.secure_tcp_on);
    if (c.tcp.state == before.state) return;
    recount_after_state_change(w, c, before.state);
    table_of(w, c).reschedule(&c, c.last_seen + connection_timeout(c, *w.snapshot));
}

// The scheduler's pick among the service's real servers for a new flow (an index into them), or
// sched::no_destination.
inline int32_t schedule_flow(WorkerContext& w, const ServiceEntry& service, const sched::FlowInput& flow)
{
    std::span<const sched::Destination> dests = w.snapshot->destinations_of(service);
    if (service.live_view) {
        // lc and its kin compare this worker's own connection counts (docs/scheduling.md says
        // how exact that is); overload comes from the control core's totals.
        const auto real_servers = w.snapshot->real_servers_of(service);
        for (size_t i = 0; i < dests.size(); ++i) {
            sched::Destination& d = w.sched_view[i];
            d = dests[i];
            const uint32_t id = real_servers[i].id;
            d.active = w.conn_counts[id].active.load(std::memory_order_relaxed);
            d.inactive = w.conn_counts[id].inactive.load(std::memory_order_relaxed);
            d.overloaded = w.shared->overloaded[id].load(std::memory_order_relaxed);
        }
        dests = {w.sched_view.data(), dests.size()};
    }
    return sched::pick(service.sched, dests, w.cursors[service.id], flow);
}

// ipvsadm --stats: packets and IP bytes, to the real server (in) or back to the client (out),
// for a service and its real server.
inline void count_traffic(WorkerContext& w, uint32_t service_id, uint32_t real_server_id, const rte_mbuf* m, bool inbound)
{
    const uint64_t bytes = rte_pktmbuf_pkt_len(m) - sizeof(rte_ether_hdr);
    for (TrafficCounters* t : {&w.service_traffic[service_id], &w.real_server_traffic[real_server_id]}) {
        bump(inbound ? t->in_packets : t->out_packets, 1);
        bump(inbound ? t->in_bytes : t->out_bytes, bytes);
    }
}


inline uint32_t seconds_of(const WorkerContext& w) { return w.now_tick / ticks_per_second; }

// ip_vs_sched_persist: a client (`client`: its address under the service's netmask) that has a
// live template goes to that template's real server; otherwise `flow` is scheduled and a
// template made.
inline int32_t pick_persistent(WorkerContext& w, const ServiceEntry& service, uint32_t client,
                               const sched::FlowInput& flow, std::optional<PersistenceTable::Template>& persistent)
{
    PersistenceTable& templates = *w.shared->templates;
    const uint32_t now_s = seconds_of(w);
    const auto real_servers = w.snapshot->real_servers_of(service);
    const auto dests = w.snapshot->destinations_of(service);
    if (auto found = templates.find(service.id, client, now_s, service.persistence_seconds)) {
        for (size_t i = 0; i < real_servers.size(); ++i) {
            if (real_servers[i].id != found->real_server_id) continue;
            // A quiescent server keeps its persistent clients, unless told otherwise
            // (IPVS's expire_quiescent_template).
            if (dests[i].weight == 0 && service.expire_quiescent_template) {
                templates.expire(found->slot);
                break;
            }
            persistent = found;
            return static_cast<int32_t>(i);
        }
        // Its real server has left the service: the client is scheduled afresh.
    }
    const int32_t pick = schedule_flow(w, service, flow);
    if (pick == sched::no_destination) return pick;
    const auto rs_id = static_cast<uint16_t>(real_servers[static_cast<size_t>(pick)].id);
    PersistenceTable::ClaimResult claimed;
    persistent = templates.claim(service.id, client, rs_id, now_s, service.persistence_seconds, &claimed);
    // A full window (every template in it controls connections) leaves this client without
    // persistence this time; a live template that controlled nothing gave way otherwise.
    if (claimed == PersistenceTable::ClaimResult::full) ++w.counters.templates_full;
    if (claimed == PersistenceTable::ClaimResult::took_over_live) ++w.counters.templates_evicted;
    if (persistent && persistent->real_server_id != rs_id) {
        // Another worker made this client's template first: follow it.
        for (size_t i = 0; i < real_servers.size(); ++i)
            if (real_servers[i].id == persistent->real_server_id) return static_cast<int32_t>(i);
        persistent.reset();
    }
    return pick;
}

// pick_persistent, with the chosen template attached at once: a template found alive may
// expire before the attach and be taken by another client; then the choice is made again.
inline int32_t schedule_persistent(WorkerContext& w, const ServiceEntry& service, uint32_t client,
                                   const sched::FlowInput& flow, std::optional<PersistenceTable::Template>& persistent)
{
    int32_t pick = sched::no_destination;
    for (int attempt = 0; attempt < 2; ++attempt) {
        pick = pick_persistent(w, service, client, flow, persistent);
        if (!persistent || w.shared->templates->attach(*persistent, seconds_of(w))) return pick;
        persistent.reset();
    }
    return pick;
}

// What differs between the families in a connection's life, as overloads on its key: which
// table holds it, the real server's address, what the scheduler sees, the persistence
// template's client, the refusal a client gets when no real server is left, and the way out.
inline ConnTable& table_for(WorkerContext& w, const FlowKey&) { return w.conns; }
inline ConnTable6& table_for(WorkerContext& w, const FlowKey6&) { return w.conns6; }
inline const rte_be32_t& address_of(const RealServerEntry& rs, const FlowKey&) { return rs.address; }
inline const Ipv6Address& address_of(const RealServerEntry& rs, const FlowKey6&) { return rs.address6; }

inline sched::FlowInput flow_input(const WorkerContext& w, const FlowKey& key)
{
    return {rte_be_to_cpu_32(key.src_ip), rte_be_to_cpu_32(key.dst_ip), rte_be_to_cpu_16(key.src_port),
            rte_be_to_cpu_16(key.dst_port), w.now_tick};
}
// IPv6 addresses folded to 32 bits, as IPVS folds them for sh, dh, mh and lblc.
inline sched::FlowInput flow_input(const WorkerContext& w, const FlowKey6& key)
{
    return {fold_ipv6(key.src_ip), fold_ipv6(key.dst_ip), rte_be_to_cpu_16(key.src_port),
            rte_be_to_cpu_16(key.dst_port), w.now_tick};
}

// The client's address under the service's netmask: the key of its persistence template (an
// IPv6 one hashed whole after masking, below).
inline uint32_t persistence_client(const ServiceEntry& service, const FlowKey& key)
{
    return rte_be_to_cpu_32(key.src_ip) & service.persistence_mask;
}
// The IPv6 client's address under the service's prefix length: what the kernel's template
// holds, and connection sync sends.
inline Ipv6Address persistence_network(const ServiceEntry& service, const FlowKey6& key)
{
    Ipv6Address masked;
    for (unsigned i = 0; i < 16; ++i) {
        const unsigned bits = service.persistence_prefix6 > i * 8 ? std::min(8u, service.persistence_prefix6 - i * 8) : 0;
        masked.bytes[i] = static_cast<uint8_t>(key.src_ip.bytes[i] & static_cast<uint8_t>(0xff00 >> bits));
    }
    return masked;
}
// All 128 bits through CRC32C, where the schedulers' XOR of the four words would give distinct
// networks one template whenever their words XOR alike (2001:db8:0:10::/60 and 2001:da8::/60):
// IPVS keys templates by the whole masked address, and the template table's tag then only
// collides by chance, as for IPv4.
inline uint32_t persistence_client(const ServiceEntry& service, const FlowKey6& key)
{
    const Ipv6Address network = persistence_network(service, key);
    return rte_hash_crc(network.bytes.data(), network.bytes.size(), 0x6b43a9b5);
}

inline Verdict egress_to(WorkerContext& w, rte_mbuf* m, rte_be32_t destination) { return egress_ipv4(w, m, destination); }
inline Verdict egress_to(WorkerContext& w, rte_mbuf* m, const Ipv6Address& destination)
{
    return egress_ipv6(w, m, destination);
}

// As IPVS's ip_vs_leave: the client hears at once that nobody serves this port, from the VIP,
// instead of retransmitting into silence.
inline void refuse_without_real_server(WorkerContext& w, const uint8_t* frame, const ParsedPacket& p, const FlowKey& key)
{
    if (!icmp_within_rate(w)) return;
    const rte_ipv4_hdr* ip = p.ip(const_cast<uint8_t*>(frame));
    rte_mbuf* refusal = icmp_build_unreachable(w.shared->pool, reinterpret_cast<const uint8_t*>(ip),
                                               rte_be_to_cpu_16(ip->total_length), key.dst_ip, icmp_code_port_unreachable);
    if (refusal == nullptr) return;
    ++w.counters.icmp_port_unreachable;
    settle_packet(w, refusal, egress_ipv4(w, refusal, key.src_ip));
}
inline void refuse_without_real_server(WorkerContext& w, const uint8_t* frame, const ParsedPacket& p, const FlowKey6& key)
{
    if (!icmp_within_rate(w)) return;
    rte_mbuf* refusal = icmp6_build_error(w.shared->pool, frame + p.l3_offset,
                                          static_cast<uint16_t>(p.frame_length - p.l3_offset), key.dst_ip,
                                          icmp6_dest_unreachable, icmp6_code_port_unreachable, 0);
    if (refusal == nullptr) return;
    ++w.counters.icmp_port_unreachable;
    settle_packet(w, refusal, egress_ipv6(w, refusal, key.src_ip));
}

template <typename Conn>
Verdict to_real_server(WorkerContext& w, rte_mbuf* m, uint8_t* frame, const ParsedPacket& p, Conn& c)
{
    c.last_seen = w.now_tick;
    ++c.in_packets;
    track_tcp(w, c, p, TcpDirection::input);
    if (w.snapshot->sync.send) sync_after_packet(w, c);
    ++w.counters.to_real_server;
    count_traffic(w, c.service_id, c.real_server_id, m, true);
    const auto& real_ip = c.real_ip;  // read where a case needs them
    const rte_be16_t& real_port = c.real_port;
    switch (c.method) { FULCRUM_FORWARD_METHODS(FULCRUM_TO_REAL_SERVER_CASE) }
    return Verdict::drop(DropReason::no_real_server);
}

template <typename Conn>
Verdict to_client(WorkerContext& w, rte_mbuf* m, uint8_t* frame, const ParsedPacket& p, Conn& c)
{
    // The reply key already says it comes from the real server's address and port; it must
    // also come in where that server is, not from a client's side of the director.
    if (!w.snapshot->reaches_real_server_by(c.real_server_id, c.real_ip, m->port))
        return Verdict::drop(DropReason::reply_wrong_port);
    c.last_seen = w.now_tick;
    track_tcp(w, c, p, TcpDirection::output);
    // Only connections of a method whose replies come through the director have a reply key:
    // NAT's.
    if (!nat_rewrite_reply(frame, p, c)) return Verdict::drop(DropReason::ttl_exceeded);
    ++w.counters.replies;
    count_traffic(w, c.service_id, c.real_server_id, m, false);
    return egress_to(w, m, c.client_key.src_ip);
}

// A packet with ports, and what the burst's bulk lookup found for `key` before any packet of
// the burst was processed: an earlier packet may since have removed that connection (a SYN
// reusing a closing one) or created the one this packet belongs to, so a hit is checked and a
// miss is looked up again when it matters. On along its connection, or next() when it has none.
template <typename Key, typename Hit>
Verdict follow_connection(WorkerContext& w, rte_mbuf* m, uint8_t* frame, const ParsedPacket& p, const Key& key,
                          Hit hit)
{
    const ServiceSnapshot& snapshot = *w.snapshot;
    const bool stale_hit =
        hit.conn != nullptr && !(hit.conn->in_use && (hit.is_reply ? hit.conn->reply_key() == key : hit.conn->client_key == key));
    if (stale_hit || (hit.conn == nullptr && w.connection_created_in_burst)) hit = table_for(w, key).lookup(key);
    if (hit.conn != nullptr && !hit.is_reply && p.key.proto == IPPROTO_TCP && (p.tcp_flags & RTE_TCP_SYN_FLAG) &&
        tcp_new_conn_expected(hit.conn->tcp.state, hit.conn->tcp.no_output)) {
        // The client reused its port: the old connection is over and the SYN is scheduled
        // afresh (IPVS's conn_reuse_mode 1).
        forget_connection(w, *hit.conn);
        hit = {};
    }
    if (hit.conn != nullptr && !hit.is_reply && snapshot.expire_nodest_conn &&
        !snapshot.has_real_server(hit.conn->real_server_id)) {
        // As IPVS with expire_nodest_conn: the client learns at once (its retransmission finds
        // no connection) instead of talking to a server that has left.
        forget_connection(w, *hit.conn);
        return Verdict::drop(DropReason::real_server_gone);
    }
    if (hit.conn != nullptr)
        return hit.is_reply ? to_client(w, m, frame, p, *hit.conn) : to_real_server(w, m, frame, p, *hit.conn);
    return Verdict::next();
}

// flood_mode: a DR or TUN flow of an sh or mh service goes to the real server its addresses
// pick, without a connection (Katran's flood mode). The replies bypass the director, so nothing
// else needs the connection; what is lost is IPVS's state and per-connection counts.
template <typename Key>
Verdict forward_stateless(WorkerContext& w, rte_mbuf* m, uint8_t* frame, const ParsedPacket& p, const Key& key,
                          const ServiceEntry& service, const RealServerEntry& rs)
{
    ++w.counters.stateless_forwarded;
    ++w.counters.to_real_server;
    count_traffic(w, service.id, rs.id, m, true);
    const auto real_ip = address_of(rs, key);
    const rte_be16_t real_port = key.dst_port;
    switch (rs.method) { FULCRUM_FORWARD_METHODS(FULCRUM_TO_REAL_SERVER_CASE) }
    return Verdict::drop(DropReason::no_real_server);
}

// The client's port already reached this NAT real server's port, through another VIP or
// virtual port: the real server would see the same four addresses and ports, and the replies
// could not tell the two apart. A connection over (TIME_WAIT, CLOSE) is forgotten so the SYN
// opens the new one, as the real server's kernel accepts a SYN into TIME_WAIT; a live one keeps
// its key and the SYN is refused (conn_conflict). IPVS hashes both, and the replies find
// whichever comes first.
template <typename Key>
bool forget_closed_namesake(WorkerContext& w, const Key& reply_key)
{
    const auto hit = table_for(w, reply_key).lookup(reply_key);
    if (hit.conn == nullptr || !hit.is_reply || !tcp_new_conn_expected(hit.conn->tcp.state, hit.conn->tcp.no_output))
        return false;
    forget_connection(w, *hit.conn);
    return true;
}

// A packet of no connection, to `service`: scheduled, and a connection made for `key` (the
// packet's own, p.key for IPv4), unless IPVS's rules say otherwise.
template <typename Key>
Verdict new_connection(WorkerContext& w, rte_mbuf* m, uint8_t* frame, const ParsedPacket& p, const Key& key,
                       const ServiceEntry& service)
{
    // With flood_mode set, a hash-scheduled DR/TUN flow may have been forwarded without a
    // connection; its later packets find none and are forwarded the same way, also once the
    // flood is over. Otherwise, as IPVS, only a SYN opens a TCP connection, or with sloppy_tcp
    // any packet but a RST (a flow ECMP moved here from another director): the state machine
    // then starts from what the packet shows.
    // During a flood, such a packet of a DR/TUN flow goes on without a connection, as before.
    const bool stateless_allowed = service.picks_by_hash && w.snapshot->defense.flood_mode != defense_never;
    const bool mid_flow = p.key.proto == IPPROTO_TCP && !is_syn_only(p.tcp_flags);
    const bool sloppy = mid_flow && w.snapshot->sloppy_tcp && !(p.tcp_flags & RTE_TCP_RST_FLAG);
    if (mid_flow && stateless_allowed && (!sloppy || w.defense.flood_on)) {
        const int32_t pick = schedule_flow(w, service, flow_input(w, key));
        if (pick == sched::no_destination) return Verdict::drop(DropReason::tcp_not_syn);
        const RealServerEntry& rs = w.snapshot->real_servers_of(service)[static_cast<size_t>(pick)];
        if (!replies_through_director(rs.method)) return forward_stateless(w, m, frame, p, key, service, rs);
        if (!sloppy) return Verdict::drop(DropReason::tcp_not_syn);
    } else if (mid_flow && !sloppy) {
        return Verdict::drop(DropReason::tcp_not_syn);
    }
    // IPVS's drop_packet defence, before any work is spent on the connection.
    if (defense_refuses_new_connection(w)) return Verdict::drop(DropReason::drop_packet);
    std::optional<PersistenceTable::Template> persistent;
    const int32_t pick = service.persistence_seconds != 0
                             ? schedule_persistent(w, service, persistence_client(service, key), flow_input(w, key),
                                                   persistent)
                             : schedule_flow(w, service, flow_input(w, key));
    if (pick == sched::no_destination) {
        refuse_without_real_server(w, frame, p, key);
        return Verdict::drop(DropReason::no_real_server);
    }
    const RealServerEntry& rs = w.snapshot->real_servers_of(service)[static_cast<size_t>(pick)];
    if (stateless_allowed && w.defense.flood_on && !replies_through_director(rs.method))
        return forward_stateless(w, m, frame, p, key, service, rs);

    auto& table = table_for(w, key);
    using Table = std::remove_reference_t<decltype(table)>;
    const auto& real_ip = address_of(rs, key);
    const rte_be16_t real_port = replies_through_director(rs.method) ? rs.port : key.dst_port;
    const bool tcp = p.key.proto == IPPROTO_TCP;
    const Tick first_timeout = tcp ? w.snapshot->tcp_timeout[0] : w.snapshot->udp_timeout;
    typename Table::Connection* c = nullptr;
    auto inserted = table.insert(key, real_ip, real_port, rs.method, w.now_tick, first_timeout, &c);
    if (inserted == Table::InsertResult::full && evict_for_new_connection(w, table))
        inserted = table.insert(key, real_ip, real_port, rs.method, w.now_tick, first_timeout, &c);
    if (inserted == Table::InsertResult::conflict && tcp && replies_through_director(rs.method) &&
        forget_closed_namesake(w, Key{real_ip, key.src_ip, real_port, key.src_port, IPPROTO_TCP, {0, 0, 0}}))
        inserted = table.insert(key, real_ip, real_port, rs.method, w.now_tick, first_timeout, &c);
    if (inserted != Table::InsertResult::ok) {
        if (persistent) w.shared->templates->detach(persistent->slot, seconds_of(w));
        return Verdict::drop(inserted == Table::InsertResult::full ? DropReason::conn_table_full
                                                                   : DropReason::conn_conflict);
    }
    w.connection_created_in_burst = true;
    c->service_id = static_cast<uint16_t>(service.id);
    c->real_server_id = static_cast<uint16_t>(rs.id);
    bump(w.service_traffic[service.id].conns, 1);
    bump(w.real_server_traffic[rs.id].conns, 1);
    // DR and TUN replies bypass the director: IPVS's NOOUTPUT, the input-only state rows.
    c->tcp = {TcpState::none, rs.method != ForwardMethod::nat};
    count_add(counts_of(w, *c).inactive, 1);
    if (persistent) c->template_slot = persistent->slot;  // attached by schedule_persistent
    ++w.counters.connections_created;
    if (sloppy) ++w.counters.sloppy_connections;
    return to_real_server(w, m, frame, p, *c);
}

}  // namespace fulcrum::dataplane
