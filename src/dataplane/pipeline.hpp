// One packet's way through the worker: parse -> classify -> connection -> schedule -> rewrite
// -> egress. The poll loop (worker.cpp) feeds it; tests feed it mbufs directly.
#pragma once

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
Tick connection_timeout(const Connection& c, const ServiceSnapshot& s);

// Takes a connection out of its real server's ActiveConn or InActConn (before it goes).
void uncount_connection(WorkerContext& w, const Connection& c);

// Removes a connection, uncounted.
void forget_connection(WorkerContext& w, Connection& c);

}  // namespace fulcrum::dataplane
