// The worker's poll loop: receive a burst, run each packet through the pipeline, transmit in
// bursts, report a quiescent state, and back off when there is no traffic.
#pragma once

#include <string>

#include "dataplane/worker_context.hpp"

namespace fulcrum::dataplane {

// Sets the workers' token buckets: frames to the kernel's exception path and ICMP messages the
// workers generate, each `per_second` with bursts of a tenth (kernel) or a twentieth (ICMP, the
// kernel's 50 for its 1000), at least 64 and 50. Before worker_prepare. Returns an empty string,
// or what the meter refused.
std::string set_rate_limits(DataplaneShared& shared, uint32_t kernel_per_second, uint32_t icmp_per_second);

// Prepares a worker's own tables (the IPv4 and IPv6 connection tables of the sizes given)
// before it is launched. Returns an empty string, or what failed.
std::string worker_prepare(WorkerContext& w, uint32_t conn_table_size, uint32_t conn_table_size6, int socket);

// The lcore entry point (rte_eal_remote_launch): runs until shared->stop is set. Returns 0.
int worker_main(void* worker_context);

// Runs the pipeline over a burst, leaving what it decided to send staged in w.tx until
// egress_flush: the loop body without the polling, so that tests and benchmarks drive the
// same code and can look at the staged frames.
void worker_process_burst(WorkerContext& w, rte_mbuf** mbufs, uint16_t count);

// Goes on with the control core's request for a copy of some connections (ConnectionDump),
// looking at no more than `budget` slots of the table. Rows were reserved by the control core,
// so nothing is allocated here. True while there was a request to work on.
bool worker_dump_connections(WorkerContext& w, uint32_t budget);

// Sets the worker's clock (TSC and connection-table ticks) for the packets that follow.
void worker_set_clock(WorkerContext& w, uint64_t tsc);

// One step of expiry: runs the connection table's timer wheel up to now, looking at no more
// than `budget` connections.
void worker_expire_some(WorkerContext& w, uint32_t budget);

}  // namespace fulcrum::dataplane
