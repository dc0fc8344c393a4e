// One packet's way through the worker: parse -> classify -> connection -> schedule -> rewrite
// -> egress. The poll loop (worker.cpp) feeds it; tests feed it mbufs directly.
#pragma once

#include "dataplane/parse.hpp"
#include "dataplane/verdict.hpp"
#include "dataplane/worker_context.hpp"

struct rte_mbuf;

namespace fulcrum::dataplane {

// Decides what happens to a burst of packets (at most rx_burst_size), each received on its
// m->port: parses every packet first, hands those whose connection another worker owns to that
// worker (unless they were handed to us), then looks up all their connections at once, then
// finishes each in arrival order and settles it (settle_packet). Uses w.snapshot and w.now,
// which the caller refreshes. `verdicts`, when given, receives each packet's verdict (tests
// read them: they run this function, as production does, not a copy of it).
void process_burst(WorkerContext& w, rte_mbuf** mbufs, uint16_t count, bool handed_to_us = false,
                   Verdict* verdicts = nullptr);

// Applies a verdict: stages a transmit, counts and frees a drop.
void settle_packet(WorkerContext& w, rte_mbuf* m, Verdict verdict);

// Idle timeout of a connection in its current state, under the snapshot's timeouts.
template <typename Conn>
Tick connection_timeout(const Conn& c, const ServiceSnapshot& s)
{
    if (c.client_key.proto == IPPROTO_UDP) return s.udp_timeout;
    return s.tcp_timeout[static_cast<size_t>(c.tcp.state)];
}

// What is left of that timeout at `now` (0 once it has run out).
template <typename Conn>
Tick connection_time_left(const Conn& c, const ServiceSnapshot& s, Tick now)
{
    const Tick timeout = connection_timeout(c, s);
    const Tick idle = now - c.last_seen;
    return idle < timeout ? timeout - idle : 0;
}

// Moves a connection between its real server's ActiveConn and InActConn after its TCP state
// changed from `before` (a packet, or a sync record).
template <typename Conn>
void recount_after_state_change(WorkerContext& w, const Conn& c, TcpState before)
{
    if (const int delta = tcp_active_delta(before, c.tcp.state); delta != 0) {
        ConnCounts& counts = w.conn_counts[c.real_server_id];
        count_add(counts.active, delta);
        count_add(counts.inactive, -delta);
    }
}

// Takes a connection out of its real server's ActiveConn or InActConn (before it goes).
template <typename Conn>
void uncount_connection(WorkerContext& w, const Conn& c)
{
    ConnCounts& counts = w.conn_counts[c.real_server_id];
    count_add(c.counts_active() ? counts.active : counts.inactive, -1);
    if (c.template_slot != PersistenceTable::none)
        w.shared->templates->detach(c.template_slot, w.now_tick / ticks_per_second);
}

// The table a connection of either family is in.
inline ConnTable& table_of(WorkerContext& w, const Connection&) { return w.conns; }
inline ConnTable6& table_of(WorkerContext& w, const Connection6&) { return w.conns6; }

// Removes a connection, uncounted.
template <typename Conn>
void forget_connection(WorkerContext& w, Conn& c)
{
    uncount_connection(w, c);
    table_of(w, c).remove(&c);
}

// The IPv6 way through the pipeline after parse (pipeline6.cpp): neighbour discovery, echo,
// connections and their forwarding. `p` is an IPv6 packet that parse let through; a TCP or UDP
// one comes with its flow key and what the burst's bulk lookup found for it (checked again
// here, as classify_ipv4 does), anything else with `key` nullptr.
Verdict classify_ipv6(WorkerContext& w, rte_mbuf* m, uint8_t* frame, const ParsedPacket& p, const FlowKey6* key,
                      ConnTable6::Hit hit);

}  // namespace fulcrum::dataplane
