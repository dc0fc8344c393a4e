// ip_vs_lblc.c: locality-based least connection. The server last chosen for a destination
// address keeps it while it has a weight and is not "overloaded" in lblc's sense (more active
// connections than its weight while some server is below half of its own); otherwise weighted
// least-connection chooses again and the address is remembered with the new server.
#include "sched/internal.hpp"

namespace fulcrum::sched {

namespace {
int32_t least_loaded(std::span<const Destination> dests)
{
    return weighted_least(dests, [](const Destination& d) { return conn_overhead(d); });
}
}  // namespace

int32_t pick_lblc(std::span<const Destination> dests, LocalityTable* locality, const FlowInput& flow)
{
    if (locality == nullptr) return least_loaded(dests);
    LocalityTable::Entry* entry = locality->find(flow.dst_ip, flow.now);
    if (entry != nullptr) {
        entry->last_use = flow.now;
        const int32_t cached = entry->size > 0 ? resolve_member(entry->members[0], dests) : no_destination;
        // The kernel checks weight and its own overload rule here, not IP_VS_DEST_F_OVERLOAD:
        // a remembered server above its upper threshold keeps its addresses.
        if (cached != no_destination) {
            const Destination& d = dests[static_cast<size_t>(cached)];
            if (d.weight > 0 && !locality_overloaded(d, dests)) return cached;
        }
    }
    const int32_t chosen = least_loaded(dests);
    if (chosen == no_destination) return no_destination;
    if (entry == nullptr) entry = locality->insert(flow.dst_ip, flow.now);
    entry->members[0] = member_for(chosen, dests);
    entry->size = 1;
    return chosen;
}

}  // namespace fulcrum::sched
