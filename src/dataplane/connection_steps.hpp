// The steps of a connection's life that do not depend on its family, shared by the IPv4 and
// IPv6 ways through the pipeline (pipeline.cpp, pipeline6.cpp): which TCP flags are refused,
// tracking IPVS's TCP states, scheduling, and ipvsadm's traffic counts.
#pragma once

#include <rte_mbuf.h>
#include <rte_tcp.h>

#include <optional>
#include <span>

#include "dataplane/parse.hpp"
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

}  // namespace fulcrum::dataplane
