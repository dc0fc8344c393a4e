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
// These four take a Connection or a Connection6.
template <typename Conn>
bool sync_wanted(const Conn& c);

// After a client's packet of `c` (its count and state already moved): hands its record, and
// its persistence template's, to the control thread when sync_wanted.
template <typename Conn>
void sync_after_packet(WorkerContext& w, Conn& c);

// What a record of `c` says, and one of its persistence template (`service` is persistent).
// An IPv6 connection's IPv4 tunnel real server is named by its IPv4 address.
template <typename Conn>
SyncRecord sync_record_of(const WorkerContext& w, const Conn& c);
template <typename Conn>
SyncRecord sync_template_of(const Conn& c, const ServiceEntry& service);

// The full refresh: every tick, this tick's share of both tables (their capacity over
// full_refresh seconds), so every connection of either family goes out once per full_refresh
// without a burst.
void sync_refresh_some(WorkerContext& w);

// Installs a received record of a connection this worker owns (IPv4 or IPv6, as its VIP), bound
// to the service and real server this director has at those addresses and ports (never by an id
// from the wire). An IPv6 record's real server may be an IPv4 tunnel one, named in the kernel's
// form: its 4 bytes and 12 zeros.
void sync_install(WorkerContext& w, const SyncRecord& r);

// Installs up to `budget` records waiting in w.sync_in. Returns how many it took.
unsigned sync_install_some(WorkerContext& w, unsigned budget);

}  // namespace fulcrum::dataplane
