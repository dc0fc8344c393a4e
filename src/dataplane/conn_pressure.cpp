#include "dataplane/conn_pressure.hpp"

#include "dataplane/pipeline.hpp"

namespace fulcrum::dataplane {

namespace {

template <typename Table>
bool evict_from(WorkerContext& w, Table& table, EvictionSearch& search)
{
    if (static_cast<int32_t>(w.now_tick - search.not_until) < 0) return false;
    const uint32_t capacity = table.capacity();
    const uint32_t window = capacity < eviction_window ? capacity : eviction_window;
    typename Table::Connection* oldest = nullptr;
    for (uint32_t looked = 0; looked < window; ++looked) {
        if (++search.cursor >= capacity) search.cursor = 0;
        auto& c = table.slot(search.cursor);
        if (!c.in_use || !evictable(c, w.now_tick)) continue;
        if (oldest == nullptr || static_cast<int32_t>(c.last_seen - oldest->last_seen) < 0) oldest = &c;
    }
    if (oldest == nullptr) {
        search.not_until = w.now_tick + 1;
        return false;
    }
    forget_connection(w, *oldest);
    ++w.counters.connections_evicted;
    return true;
}

}  // namespace

bool evict_for_new_connection(WorkerContext& w, ConnTable& table) { return evict_from(w, table, w.eviction); }
bool evict_for_new_connection(WorkerContext& w, ConnTable6& table) { return evict_from(w, table, w.eviction6); }

}  // namespace fulcrum::dataplane
