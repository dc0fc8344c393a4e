// Connection sync in the workers (docs/high-availability.md): when a connection is worth sending
// (the kernel's ip_vs_sync_conn_needed at its default sysctls), the paced full refresh that lets
// a restarted backup converge, and installing what a backup received. Records travel through
// rings to and from the control thread, which speaks the protocol; a worker never waits on them.
#pragma once

#include "common/sync_record.hpp"
#include "dataplane/worker_context.hpp"

namespace fulcrum::dataplane {

// IPVS's sync_threshold and sync_period sysctls at their defaults: an ESTABLISHED TCP or a UDP
// connection is sent at its client's 3rd packet, then at the 53rd, 103rd, ...
inline constexpr uint32_t sync_threshold = 3;
inline constexpr uint32_t sync_period = 50;

// Whether the kernel would send `c` after the client's packet just counted: a TCP connection
// only in ESTABLISHED, FIN_WAIT, CLOSE, CLOSE_WAIT or TIME_WAIT, at once when it reached one of
// those but ESTABLISHED since it was last sent; otherwise (ESTABLISHED, UDP) by the packet count.
bool sync_wanted(const Connection& c);

// After a client's packet of `c` (its count and state already moved): hands its record, and
// its persistence template's, to the control thread when sync_wanted.
void sync_after_packet(WorkerContext& w, Connection& c);

// The full refresh: every tick, this tick's share of the table (capacity over full_refresh
// seconds), so a whole table goes out once per full_refresh without a burst.
void sync_refresh_some(WorkerContext& w);

// What a record of `c` says, and one of its persistence template (`service` is persistent).
SyncRecord sync_record_of(const WorkerContext& w, const Connection& c);
SyncRecord sync_template_of(const Connection& c, const ServiceEntry& service);

// Installs a received record of a connection this worker owns, bound to the service and real
// server this director has at those addresses and ports (never by an id from the wire).
void sync_install(WorkerContext& w, const SyncRecord& r);

// Installs up to `budget` records waiting in w.sync_in. Returns how many it took.
unsigned sync_install_some(WorkerContext& w, unsigned budget);

}  // namespace fulcrum::dataplane
