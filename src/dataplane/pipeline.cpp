#include "dataplane/pipeline.hpp"

#include <rte_mbuf.h>
#include <rte_prefetch.h>

#include <optional>

#include "dataplane/arp.hpp"
#include "dataplane/conn_pressure.hpp"
#include "dataplane/defense.hpp"
#include "dataplane/egress.hpp"
#include "dataplane/forward.hpp"
#include "dataplane/handoff.hpp"
#include "dataplane/icmp.hpp"
#include "dataplane/icmp_related.hpp"
#include "dataplane/martian.hpp"
#include "dataplane/parse.hpp"
#include "dataplane/sync.hpp"

namespace fulcrum::dataplane {

namespace {

// Flags Linux's tcp_validate_incoming and its LISTEN state discard: SYN with FIN or RST, and
// segments with none of SYN, ACK and RST. IPVS would schedule a SYN+FIN and move a connection
// to CLOSE on a segment without flags, so a spoofed one could redirect or end a client's flow.
bool tcp_flags_invalid(uint8_t flags)
{
    if ((flags & RTE_TCP_SYN_FLAG) && (flags & (RTE_TCP_FIN_FLAG | RTE_TCP_RST_FLAG))) return true;
    return (flags & (RTE_TCP_SYN_FLAG | RTE_TCP_ACK_FLAG | RTE_TCP_RST_FLAG)) == 0;
}

bool is_syn_only(uint8_t flags)
{
    return (flags & (RTE_TCP_SYN_FLAG | RTE_TCP_ACK_FLAG | RTE_TCP_RST_FLAG)) == RTE_TCP_SYN_FLAG;
}

ConnCounts& counts_of(WorkerContext& w, const Connection& c) { return w.conn_counts[c.real_server_id]; }

// Feeds a TCP packet to IPVS's state table; moves the connection between ActiveConn and
// InActConn, and to the wheel slot of its new timeout, when its state changes.
void track_tcp(WorkerContext& w, Connection& c, const ParsedPacket& p, TcpDirection direction)
{
    if (p.key.proto != IPPROTO_TCP) return;
    const TcpConnState before = c.tcp;
    c.tcp = tcp_step(c.tcp, direction, p.tcp_flags, w.defense.secure_tcp_on);
    if (c.tcp.state == before.state) return;
    recount_after_state_change(w, c, before.state);
    w.conns.reschedule(&c, c.last_seen + connection_timeout(c, *w.snapshot));
}

int32_t schedule(WorkerContext& w, const ServiceEntry& service, const ParsedPacket& p)
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
    const sched::FlowInput flow{rte_be_to_cpu_32(p.key.src_ip), rte_be_to_cpu_32(p.key.dst_ip),
                                rte_be_to_cpu_16(p.key.src_port), rte_be_to_cpu_16(p.key.dst_port), w.now_tick};
    return sched::pick(service.sched, dests, w.cursors[service.id], flow);
}

// ipvsadm --stats: packets and IP bytes, to the real server (in) or back to the client (out),
// for a service and its real server.
void count_traffic(WorkerContext& w, uint32_t service_id, uint32_t real_server_id, const rte_mbuf* m, bool inbound)
{
    const uint64_t bytes = rte_pktmbuf_pkt_len(m) - sizeof(rte_ether_hdr);
    for (TrafficCounters* t : {&w.service_traffic[service_id], &w.real_server_traffic[real_server_id]}) {
        bump(inbound ? t->in_packets : t->out_packets, 1);
        bump(inbound ? t->in_bytes : t->out_bytes, bytes);
    }
}

uint32_t seconds_of(const WorkerContext& w) { return w.now_tick / ticks_per_second; }

// ip_vs_sched_persist: a client (its address under the service's netmask) that has a live
// template goes to that template's real server; otherwise it is scheduled and a template made.
int32_t pick_persistent(WorkerContext& w, const ServiceEntry& service, const ParsedPacket& p,
                        std::optional<PersistenceTable::Template>& persistent)
{
    PersistenceTable& templates = *w.shared->templates;
    const uint32_t client = rte_be_to_cpu_32(p.key.src_ip) & service.persistence_mask;
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
    const int32_t pick = schedule(w, service, p);
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
int32_t schedule_persistent(WorkerContext& w, const ServiceEntry& service, const ParsedPacket& p,
                            std::optional<PersistenceTable::Template>& persistent)
{
    int32_t pick = sched::no_destination;
    for (int attempt = 0; attempt < 2; ++attempt) {
        pick = pick_persistent(w, service, p, persistent);
        if (!persistent || w.shared->templates->attach(*persistent, seconds_of(w))) return pick;
        persistent.reset();
    }
    return pick;
}

Verdict to_real_server(WorkerContext& w, rte_mbuf* m, uint8_t* frame, const ParsedPacket& p,
                       Connection& c)
{
    c.last_seen = w.now_tick;
    ++c.in_packets;
    track_tcp(w, c, p, TcpDirection::input);
    if (w.snapshot->sync.send) sync_after_packet(w, c);
    ++w.counters.to_real_server;
    count_traffic(w, c.service_id, c.real_server_id, m, true);
    const rte_be32_t& real_ip = c.real_ip;  // read where a case needs them
    const rte_be16_t& real_port = c.real_port;
    switch (c.method) { FULCRUM_FORWARD_METHODS(FULCRUM_TO_REAL_SERVER_CASE) }
    return Verdict::drop(DropReason::no_real_server);
}

Verdict to_client(WorkerContext& w, rte_mbuf* m, uint8_t* frame, const ParsedPacket& p,
                  Connection& c)
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
    return egress_ipv4(w, m, c.client_key.src_ip);
}

// flood_mode: a DR or TUN flow of an sh or mh service goes to the real server its addresses
// pick, without a connection (Katran's flood mode). The replies bypass the director, so nothing
// else needs the connection; what is lost is IPVS's state and per-connection counts.
Verdict forward_stateless(WorkerContext& w, rte_mbuf* m, uint8_t* frame, const ParsedPacket& p,
                          const ServiceEntry& service, const RealServerEntry& rs)
{
    ++w.counters.stateless_forwarded;
    ++w.counters.to_real_server;
    count_traffic(w, service.id, rs.id, m, true);
    const rte_be32_t real_ip = rs.address;
    const rte_be16_t real_port = p.key.dst_port;
    switch (rs.method) { FULCRUM_FORWARD_METHODS(FULCRUM_TO_REAL_SERVER_CASE) }
    return Verdict::drop(DropReason::no_real_server);
}

// The client's port already reached this NAT real server's port, through another VIP or
// virtual port: the real server would see the same four addresses and ports, and the replies
// could not tell the two apart. A connection over (TIME_WAIT, CLOSE) is forgotten so the SYN
// opens the new one, as the real server's kernel accepts a SYN into TIME_WAIT; a live one keeps
// its key and the SYN is refused (conn_conflict). IPVS hashes both, and the replies find
// whichever comes first.
bool forget_closed_namesake(WorkerContext& w, const FlowKey& reply_key)
{
    const ConnTable::Hit hit = w.conns.lookup(reply_key);
    if (hit.conn == nullptr || !hit.is_reply || !tcp_new_conn_expected(hit.conn->tcp.state, hit.conn->tcp.no_output))
        return false;
    forget_connection(w, *hit.conn);
    return true;
}

Verdict new_connection(WorkerContext& w, rte_mbuf* m, uint8_t* frame, const ParsedPacket& p,
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
        const int32_t pick = schedule(w, service, p);
        if (pick == sched::no_destination) return Verdict::drop(DropReason::tcp_not_syn);
        const RealServerEntry& rs = w.snapshot->real_servers_of(service)[static_cast<size_t>(pick)];
        if (!replies_through_director(rs.method)) return forward_stateless(w, m, frame, p, service, rs);
        if (!sloppy) return Verdict::drop(DropReason::tcp_not_syn);
    } else if (mid_flow && !sloppy) {
        return Verdict::drop(DropReason::tcp_not_syn);
    }
    // IPVS's drop_packet defence, before any work is spent on the connection.
    if (defense_refuses_new_connection(w)) return Verdict::drop(DropReason::drop_packet);
    std::optional<PersistenceTable::Template> persistent;
    const int32_t pick = service.persistence_seconds != 0 ? schedule_persistent(w, service, p, persistent)
                                                          : schedule(w, service, p);
    if (pick == sched::no_destination) {
        // As IPVS's ip_vs_leave: the client hears at once that nobody serves this port, from
        // the VIP, instead of retransmitting into silence.
        if (!icmp_within_rate(w)) return Verdict::drop(DropReason::no_real_server);
        const rte_ipv4_hdr* ip = p.ip(frame);
        rte_mbuf* refusal = icmp_build_unreachable(w.shared->pool, reinterpret_cast<const uint8_t*>(ip),
                                                   rte_be_to_cpu_16(ip->total_length), p.key.dst_ip, icmp_code_port_unreachable);
        if (refusal != nullptr) {
            ++w.counters.icmp_port_unreachable;
            settle_packet(w, refusal, egress_ipv4(w, refusal, p.key.src_ip));
        }
        return Verdict::drop(DropReason::no_real_server);
    }
    const RealServerEntry& rs = w.snapshot->real_servers_of(service)[static_cast<size_t>(pick)];
    if (stateless_allowed && w.defense.flood_on && !replies_through_director(rs.method))
        return forward_stateless(w, m, frame, p, service, rs);

    const rte_be16_t real_port = replies_through_director(rs.method) ? rs.port : p.key.dst_port;
    const bool tcp = p.key.proto == IPPROTO_TCP;
    const Tick first_timeout = tcp ? w.snapshot->tcp_timeout[0] : w.snapshot->udp_timeout;
    Connection* c = nullptr;
    ConnTable::InsertResult inserted = w.conns.insert(p.key, rs.address, real_port, rs.method, w.now_tick, first_timeout, &c);
    if (inserted == ConnTable::InsertResult::full && evict_for_new_connection(w))
        inserted = w.conns.insert(p.key, rs.address, real_port, rs.method, w.now_tick, first_timeout, &c);
    if (inserted == ConnTable::InsertResult::conflict && tcp && replies_through_director(rs.method) &&
        forget_closed_namesake(w, {rs.address, p.key.src_ip, real_port, p.key.src_port, IPPROTO_TCP, {0, 0, 0}}))
        inserted = w.conns.insert(p.key, rs.address, real_port, rs.method, w.now_tick, first_timeout, &c);
    if (inserted != ConnTable::InsertResult::ok) {
        if (persistent) w.shared->templates->detach(persistent->slot, seconds_of(w));
        return Verdict::drop(inserted == ConnTable::InsertResult::full ? DropReason::conn_table_full
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

Verdict answer_echo(WorkerContext& w, rte_mbuf* m, uint8_t* frame, const ParsedPacket& p)
{
    if (!icmp_is_echo_request(frame, p)) return Verdict::drop(DropReason::icmp_unhandled);
    if (!icmp_within_rate(w)) return Verdict::drop(DropReason::icmp_rate_limited);
    Verdict v = icmp_answer_echo(frame, p);
    if (v.settled()) return v;
    ++w.counters.icmp_echo_replies;
    // The request's source is now the reply's destination.
    return egress_ipv4(w, m, p.key.src_ip);
}

bool needs_connection_lookup(const ParsedPacket& p)
{
    return !p.is_arp && !p.is_fragment && (p.key.proto == IPPROTO_TCP || p.key.proto == IPPROTO_UDP);
}

// `hit` is the connection lookup made for the whole burst before any packet of it was
// processed; an earlier packet of the burst may since have removed that connection (a SYN
// reusing a closing one) or created the one this packet belongs to, so a hit is checked and a
// miss is looked up again when it matters.
// Not inlined into process_burst, its one caller: inlined, the burst loop ran DR and TUN
// established packets 7 ns slower (fulcrum-bench, 1 000 flows: 21.8 -> 18.9 Mpps for DR).
[[gnu::noinline]] Verdict classify_ipv4(WorkerContext& w, rte_mbuf* m, uint8_t* frame, const ParsedPacket& p,
                                        ConnTable::Hit hit)
{
    const ServiceSnapshot& snapshot = *w.snapshot;
    // Under vip_ownership kernel, another director may hold the VIP now: nothing to it is ours.
    if (snapshot.vips_follow_kernel && snapshot.is_vip(p.key.dst_ip) && !snapshot.serves_vip(p.key.dst_ip))
        return Verdict::drop(DropReason::vip_not_held);
    // Packets of a connection are not checked again: their addresses are the connection's.
    // Everything else, ICMP errors included, is.
    bool source_checked = false;
    if (p.key.proto == IPPROTO_ICMP && !p.is_fragment) {
        if (martian_source(snapshot, p.key.src_ip)) return Verdict::drop(DropReason::martian_source);
        source_checked = true;
        Verdict related = icmp_forward_related(w, m, frame, p);
        // An error about no connection of ours, sent to the director, may be about the kernel's
        // own traffic (a health check's): the local branch below passes it on.
        const bool maybe_kernels = related.kind == Verdict::Kind::drop && related.reason == DropReason::icmp_unhandled &&
                                   w.shared->ports[m->port].kernel_port != no_port && w.shared->is_local(p.key.dst_ip);
        if (related.settled() && !maybe_kernels) return related;
    }
    const bool has_ports = !p.is_fragment && (p.key.proto == IPPROTO_TCP || p.key.proto == IPPROTO_UDP);
    if (has_ports && p.key.proto == IPPROTO_TCP && tcp_flags_invalid(p.tcp_flags))
        return Verdict::drop(DropReason::tcp_bad_flags);
    if (has_ports) {
        const bool stale_hit = hit.conn != nullptr &&
            !(hit.conn->in_use && (hit.is_reply ? hit.conn->reply_key() : hit.conn->client_key) == p.key);
        if (stale_hit || (hit.conn == nullptr && w.connection_created_in_burst)) hit = w.conns.lookup(p.key);
        if (hit.conn != nullptr && !hit.is_reply && p.key.proto == IPPROTO_TCP &&
            (p.tcp_flags & RTE_TCP_SYN_FLAG) && tcp_new_conn_expected(hit.conn->tcp.state, hit.conn->tcp.no_output)) {
            // The client reused its port: the old connection is over and the SYN is scheduled
            // afresh (IPVS's conn_reuse_mode 1).
            forget_connection(w, *hit.conn);
            hit = {};
        }
        if (hit.conn != nullptr && !hit.is_reply && snapshot.expire_nodest_conn &&
            !snapshot.has_real_server(hit.conn->real_server_id)) {
            // As IPVS with expire_nodest_conn: the client learns at once (its retransmission
            // finds no connection) instead of talking to a server that has left.
            forget_connection(w, *hit.conn);
            return Verdict::drop(DropReason::real_server_gone);
        }
        if (hit.conn != nullptr)
            return hit.is_reply ? to_client(w, m, frame, p, *hit.conn)
                                : to_real_server(w, m, frame, p, *hit.conn);
    }
    if (!source_checked && martian_source(snapshot, p.key.src_ip)) return Verdict::drop(DropReason::martian_source);
    if (has_ports) {
        if (const ServiceEntry* service = snapshot.find_service(p.key.dst_ip, p.key.dst_port, p.key.proto))
            return new_connection(w, m, frame, p, *service);
    }
    if (snapshot.is_vip(p.key.dst_ip)) {
        if (p.is_fragment) return Verdict::drop(DropReason::ip_fragment);
        if (p.key.proto == IPPROTO_ICMP) return answer_echo(w, m, frame, p);
        return Verdict::drop(DropReason::no_service);
    }
    if (is_ipv4_multicast(rte_be_to_cpu_32(p.key.dst_ip))) {
        // VRRP, connection sync, IGMP: the kernel behind the port knows which groups it has
        // joined and drops the rest.
        const uint16_t kernel_port = w.shared->ports[m->port].kernel_port;
        if (kernel_port == no_port) return Verdict::drop(DropReason::not_for_us);
        return egress_to_kernel(w, kernel_port);
    }
    if (w.shared->is_local(p.key.dst_ip) || snapshot.kernel_holds(m->port, p.key.dst_ip)) {
        if (icmp_is_echo_request(frame, p)) return answer_echo(w, m, frame, p);
        // Everything else for the director itself is the kernel's: its sockets (health checks,
        // ping's replies, BGP) are the only ones here.
        const uint16_t kernel_port = w.shared->ports[m->port].kernel_port;
        if (kernel_port == no_port) {
            if (p.key.proto == IPPROTO_ICMP) return answer_echo(w, m, frame, p);
            return Verdict::drop(DropReason::local_unhandled);
        }
        return egress_to_kernel(w, kernel_port);
    }
    return Verdict::drop(DropReason::not_for_us);
}

// Parse, and settle what needs no connection lookup (ARP, malformed frames).
Verdict receive_stage(WorkerContext& w, rte_mbuf* m, ParsedPacket& p)
{
    // Frames from the PMDs used here arrive in one segment; a chained one is judged by its
    // first segment, which always holds the headers parse needs or fails its length checks.
    auto* frame = rte_pktmbuf_mtod(m, uint8_t*);
    if (m->port >= max_ports) return Verdict::drop(DropReason::not_for_us);
    const PortInfo& port = w.shared->ports[m->port];
    Verdict v = parse_frame(frame, rte_pktmbuf_data_len(m), port.mac, p);
    if (v.settled()) return v;
    if (p.is_arp) return arp_receive(w, frame, port);
    if (m->pkt_len > p.frame_length) rte_pktmbuf_trim(m, static_cast<uint16_t>(m->pkt_len - p.frame_length));
    return Verdict::next();
}

}  // namespace

void process_burst(WorkerContext& w, rte_mbuf** mbufs, uint16_t count, bool handed_to_us, Verdict* verdicts_out)
{
    const bool may_hand_off = !handed_to_us && w.shared->worker_count > 1 && !w.shared->hardware_steering;
    ParsedPacket parsed[rx_burst_size];
    Verdict verdicts[rx_burst_size];
    const FlowKey* keys[rx_burst_size] = {};
    uint8_t key_of[rx_burst_size];
    ConnTable::Hit hits[rx_burst_size];
    unsigned key_count = 0;
    w.connection_created_in_burst = false;
    for (uint16_t i = 0; i < count; ++i) {
        if (i + 1 < count) rte_prefetch0(rte_pktmbuf_mtod(mbufs[i + 1], void*));
        verdicts[i] = receive_stage(w, mbufs[i], parsed[i]);
        if (may_hand_off && !verdicts[i].settled()) {
            const int owner = packet_owner(w, rte_pktmbuf_mtod(mbufs[i], uint8_t*), parsed[i]);
            if (owner >= 0 && static_cast<unsigned>(owner) != w.worker_id)
                verdicts[i] = hand_off(w, static_cast<unsigned>(owner), mbufs[i]) ? Verdict::held()
                                                                                  : Verdict::drop(DropReason::handoff_full);
        }
        if (!verdicts[i].settled() && needs_connection_lookup(parsed[i])) {
            key_of[i] = static_cast<uint8_t>(key_count);
            keys[key_count++] = &parsed[i].key;
        }
    }
    w.conns.lookup_bulk(keys, key_count, hits);
    for (uint16_t i = 0; i < count; ++i) {
        if (!verdicts[i].settled()) {
            const ConnTable::Hit hit = needs_connection_lookup(parsed[i]) ? hits[key_of[i]] : ConnTable::Hit{};
            verdicts[i] = classify_ipv4(w, mbufs[i], rte_pktmbuf_mtod(mbufs[i], uint8_t*), parsed[i], hit);
        }
        if (verdicts_out != nullptr) verdicts_out[i] = verdicts[i];
        settle_packet(w, mbufs[i], verdicts[i]);
    }
}

void settle_packet(WorkerContext& w, rte_mbuf* m, Verdict verdict)
{
    switch (verdict.kind) {
    case Verdict::Kind::transmit:
        egress_stage(w, verdict.port, m);
        return;
    case Verdict::Kind::held:
        return;
    case Verdict::Kind::drop:
    case Verdict::Kind::next:
        ++w.counters.drop(verdict.reason == DropReason::count ? DropReason::not_for_us : verdict.reason);
        rte_pktmbuf_free(m);
        return;
    }
}

Tick connection_timeout(const Connection& c, const ServiceSnapshot& s)
{
    if (c.client_key.proto == IPPROTO_UDP) return s.udp_timeout;
    return s.tcp_timeout[static_cast<size_t>(c.tcp.state)];
}

void uncount_connection(WorkerContext& w, const Connection& c)
{
    ConnCounts& counts = w.conn_counts[c.real_server_id];
    count_add(c.counts_active() ? counts.active : counts.inactive, -1);
    if (c.template_slot != PersistenceTable::none) w.shared->templates->detach(c.template_slot, seconds_of(w));
}

void forget_connection(WorkerContext& w, Connection& c)
{
    uncount_connection(w, c);
    w.conns.remove(&c);
}

}  // namespace fulcrum::dataplane
