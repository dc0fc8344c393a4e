// ip_vs_lblcr.c: locality-based least connection with replication. Each destination address has
// a set of servers; the least loaded of the set serves it unless that one is "overloaded" in
// lblc's sense, in which case weighted least-connection over all servers picks one and adds it
// to the set. A set that has not changed for `expiration` loses its most loaded member.
#include <algorithm>

#include "sched/internal.hpp"

namespace fulcrum::sched {

namespace {

using Entry = LocalityTable::Entry;

int32_t least_loaded(std::span<const Destination> dests)
{
    return weighted_least(dests, [](const Destination& d) { return conn_overhead(d); });
}

void erase_member(Entry& e, uint8_t position)
{
    std::copy(e.members.begin() + position + 1, e.members.begin() + e.size,
              e.members.begin() + position);
    --e.size;
}

// Members are kept newest first, as list_add_rcu puts them at the head of the kernel's set;
// ties in set_min and set_max go to the newer member. Members whose server has left the service
// are dropped here (the kernel skips them in set_min and lets expiry remove them).
void drop_departed(Entry& e, std::span<const Destination> dests)
{
    for (uint8_t m = 0; m < e.size;) {
        if (resolve_member(e.members[m], dests) == no_destination) erase_member(e, m);
        else ++m;
    }
}

// ip_vs_dest_set_min: weighted least-connection among the members that are not overloaded.
int32_t set_min(const Entry& e, std::span<const Destination> dests)
{
    int32_t least = no_destination;
    uint64_t loh = 0;
    for (uint8_t m = 0; m < e.size; ++m) {
        const auto i = static_cast<int32_t>(e.members[m].index);
        const Destination& d = dests[static_cast<size_t>(i)];
        if (d.overloaded) continue;
        const uint64_t doh = conn_overhead(d);
        if (least == no_destination) {
            if (d.weight == 0) continue;
            least = i;
            loh = doh;
        } else if (less_per_weight(doh, d.weight, loh, dests[static_cast<size_t>(least)].weight)) {
            least = i;
            loh = doh;
        }
    }
    return least;
}

// ip_vs_dest_set_max: the member position with the most load per weight, among weight > 0
// (overloaded ones included); -1 if none has a weight.
int position_of_max(const Entry& e, std::span<const Destination> dests)
{
    int most = -1;
    uint64_t moh = 0;
    for (uint8_t m = 0; m < e.size; ++m) {
        const Destination& d = dests[e.members[m].index];
        if (d.weight == 0) continue;
        const uint64_t doh = conn_overhead(d);
        // moh / mw < doh / dw: this one is more loaded.
        if (most < 0 || less_per_weight(moh, dests[e.members[static_cast<size_t>(most)].index].weight,
                                        doh, d.weight)) {
            most = m;
            moh = doh;
        }
    }
    return most;
}

// ip_vs_dest_set_insert with check: nothing if present; otherwise at the head, and the set
// counts as modified. A full set first gives up its most loaded member (the kernel's sets are
// unbounded; this is the member its expiry would remove first).
void insert_member(Entry& e, int32_t index, std::span<const Destination> dests, uint64_t now)
{
    for (uint8_t m = 0; m < e.size; ++m)
        if (e.members[m].index == static_cast<uint32_t>(index)) return;
    if (e.size == LocalityTable::max_set) {
        const int most = position_of_max(e, dests);
        erase_member(e, static_cast<uint8_t>(most >= 0 ? most : e.size - 1));
    }
    std::copy_backward(e.members.begin(), e.members.begin() + e.size,
                       e.members.begin() + e.size + 1);
    e.members[0] = member_for(index, dests);
    ++e.size;
    e.last_modified = now;
}

}  // namespace

int32_t pick_lblcr(std::span<const Destination> dests, LocalityTable* locality, const FlowInput& flow)
{
    if (locality == nullptr) return least_loaded(dests);
    const uint64_t now = flow.now;
    Entry* entry = locality->find(flow.dst_ip, now);
    if (entry == nullptr) {
        const int32_t chosen = least_loaded(dests);
        if (chosen == no_destination) return no_destination;
        entry = locality->insert(flow.dst_ip, now);
        insert_member(*entry, chosen, dests, now);
        return chosen;
    }

    entry->last_use = now;
    drop_departed(*entry, dests);
    const int32_t least = set_min(*entry, dests);
    // time_after(jiffies, lastmod + expiration): strictly later.
    if (entry->size > 1 && now >= entry->last_modified &&
        now - entry->last_modified > locality->expiration()) {
        if (const int most = position_of_max(*entry, dests); most >= 0) {
            erase_member(*entry, static_cast<uint8_t>(most));
            entry->last_modified = now;
        }
    }
    // As the kernel, the least loaded member is used even if the shrink just removed it.
    if (least != no_destination && !locality_overloaded(dests[static_cast<size_t>(least)], dests))
        return least;

    const int32_t chosen = least_loaded(dests);
    if (chosen == no_destination) return no_destination;
    insert_member(*entry, chosen, dests, now);
    return chosen;
}

}  // namespace fulcrum::sched
