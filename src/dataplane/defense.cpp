#include "dataplane/defense.hpp"

#include <netinet/in.h>

#include "dataplane/pipeline.hpp"
#include "dataplane/worker_context.hpp"

namespace fulcrum::dataplane {

namespace {

// What a setting means now: the level IPVS would show (1 and 2 are both "automatic"; which of
// them is shown says whether it is on), and whether it is on.
uint8_t level_now(uint8_t setting, bool short_of_slots)
{
    if (setting == defense_automatic || setting == defense_automatic_on)
        return short_of_slots ? defense_automatic_on : defense_automatic;
    return setting;
}

bool is_on(uint8_t level) { return level == defense_automatic_on || level == defense_always; }

uint32_t threshold(const WorkerContext& w)
{
    const uint32_t set = w.snapshot->defense.amemthresh;
    return set != 0 ? set : w.conns.capacity() / 8;
}

// IPVS's todrop_entry: a connection that has been idle for a minute and carried 1 to 8 packets
// from its client; of those with n packets, every n-th one found.
bool worth_dropping(DefenseState& d, const Connection& c, Tick now)
{
    if (now - c.last_seen < 60 * ticks_per_second) return false;
    if (c.in_packets < 1 || c.in_packets > 8) return false;
    int32_t& counter = d.entry_counters[c.in_packets - 1];
    if (--counter > 0) return false;
    counter = static_cast<int32_t>(c.in_packets);
    return true;
}

// IPVS's ip_vs_random_dropentry, over this worker's table: half-open TCP goes, established TCP
// and UDP go when worth_dropping says so; other TCP states are left to their timeouts.
void sweep(WorkerContext& w, uint32_t budget)
{
    DefenseState& d = w.defense;
    const uint32_t capacity = w.conns.capacity();
    for (; budget > 0 && d.sweep_left > 0; --budget, --d.sweep_left) {
        if (++d.sweep_cursor >= capacity) d.sweep_cursor = 0;
        Connection& c = w.conns.slot(d.sweep_cursor);
        if (!c.in_use) continue;
        bool drop = false;
        if (c.client_key.proto == IPPROTO_TCP) {
            switch (c.tcp.state) {
            case TcpState::syn_recv:
            case TcpState::synack: drop = true; break;
            case TcpState::established: drop = worth_dropping(d, c, w.now_tick); break;
            default: break;
            }
        } else {
            drop = worth_dropping(d, c, w.now_tick);
        }
        if (!drop) continue;
        forget_connection(w, c);
        ++w.counters.removed_by_drop_entry;
    }
}

}  // namespace

bool table_short(const WorkerContext& w) { return w.conns.capacity() - w.conns.size() < threshold(w); }

void defense_run(WorkerContext& w, uint32_t budget)
{
    DefenseState& d = w.defense;
    if (static_cast<int32_t>(w.now_tick - d.next_update) >= 0) {
        d.next_update = w.now_tick + ticks_per_second;
        const DefenseSettings& set = w.snapshot->defense;
        const bool short_of_slots = table_short(w);

        const uint8_t drop_entry = level_now(set.drop_entry, short_of_slots);
        d.drop_entry.store(drop_entry, std::memory_order_relaxed);
        // A 32nd of the table each second, as IPVS.
        d.sweep_left = is_on(drop_entry) ? std::max<uint32_t>(1, w.conns.capacity() / 32) : 0;

        const uint8_t drop_packet = level_now(set.drop_packet, short_of_slots);
        d.drop_packet.store(drop_packet, std::memory_order_relaxed);
        if (drop_packet == defense_always) {
            d.drop_rate = set.am_droprate;
        } else if (drop_packet == defense_automatic_on) {
            // Every new connection when no slot is free, every second one at half the threshold.
            const uint32_t amem = threshold(w);
            const uint32_t free_slots = w.conns.capacity() - w.conns.size();
            d.drop_rate = d.drop_counter = amem / (amem - free_slots);
        } else {
            d.drop_rate = 0;
        }

        const uint8_t secure_tcp = level_now(set.secure_tcp, short_of_slots);
        d.secure_tcp.store(secure_tcp, std::memory_order_relaxed);
        d.secure_tcp_on = is_on(secure_tcp);

        const uint8_t flood_mode = level_now(set.flood_mode, short_of_slots);
        d.flood_mode.store(flood_mode, std::memory_order_relaxed);
        d.flood_on = is_on(flood_mode);
    }
    sweep(w, budget);
}

bool defense_refuses_new_connection(WorkerContext& w)
{
    DefenseState& d = w.defense;
    if (d.drop_rate == 0) return false;
    if (d.drop_counter > 1) {
        --d.drop_counter;
        return false;
    }
    d.drop_counter = d.drop_rate;
    return true;
}

}  // namespace fulcrum::dataplane
