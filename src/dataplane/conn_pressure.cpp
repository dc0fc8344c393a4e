#include "dataplane/conn_pressure.hpp"

#include "dataplane/pipeline.hpp"

namespace fulcrum::dataplane {

bool evictable(const Connection& c, Tick now)
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

bool evict_for_new_connection(WorkerContext& w)
{
    if (static_cast<int32_t>(w.now_tick - w.no_eviction_until) < 0) return false;
    const uint32_t capacity = w.conns.capacity();
    const uint32_t window = capacity < eviction_window ? capacity : eviction_window;
    Connection* oldest = nullptr;
    for (uint32_t looked = 0; looked < window; ++looked) {
        if (++w.eviction_cursor >= capacity) w.eviction_cursor = 0;
        Connection& c = w.conns.slot(w.eviction_cursor);
        if (!c.in_use || !evictable(c, w.now_tick)) continue;
        if (oldest == nullptr || static_cast<int32_t>(c.last_seen - oldest->last_seen) < 0) oldest = &c;
    }
    if (oldest == nullptr) {
        w.no_eviction_until = w.now_tick + 1;
        return false;
    }
    forget_connection(w, *oldest);
    ++w.counters.connections_evicted;
    return true;
}

}  // namespace fulcrum::dataplane
