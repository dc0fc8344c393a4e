// What gives way when a worker's connection table is full. A flood of spoofed SYNs or UDP
// datagrams makes entries that never see another packet; without eviction they would hold the
// table for their whole timeout (60 s half-open, 300 s UDP) and keep every new client out.
#pragma once

#include "dataplane/worker_context.hpp"

namespace fulcrum::dataplane {

// How many slots one search looks at, from where the last one stopped.
inline constexpr uint32_t eviction_window = 64;

// Whether `c` may be evicted for a new connection: a TCP connection that is not established
// (NONE, SYN_RECV, SYNACK: a handshake not completed) or is closing (FIN_WAIT, TIME_WAIT, CLOSE,
// CLOSE_WAIT, LAST_ACK), or a UDP connection idle for at least a second. Established TCP and
// UDP in use stay, as IPVS's drop_entry spares them.
template <typename Conn>
bool evictable(const Conn& c, Tick now)
{
    if (c.client_key.proto == IPPROTO_UDP) return now - c.last_seen >= ticks_per_second;
    switch (c.tcp.state) {
    case TcpState::established:
    case TcpState::syn_sent:  // a NAT real server opened it: ours, not a client's
    case TcpState::listen:
        return false;
    default:
        return true;
    }
}

// Frees one slot of a full table (the worker's IPv4 or IPv6 one): of the evictable connections
// in the next eviction_window slots, the one seen longest ago is forgotten (counted in
// connections_evicted). False when the window held none; that table is then not searched again
// for a tick, so that a flood at a table full of established connections costs one search per
// tick, not one per packet.
bool evict_for_new_connection(WorkerContext& w, ConnTable& table);
bool evict_for_new_connection(WorkerContext& w, ConnTable6& table);

}  // namespace fulcrum::dataplane
