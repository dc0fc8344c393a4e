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

template <typename Table>
uint32_t threshold(const WorkerContext& w, const Table& table)
{
    const uint32_t set = w.snapshot->defense.amemthresh;
    return set != 0 ? set : table.capacity() / 8;
}

template <typename Table>
bool short_of_slots(const WorkerContext& w, const Table& table)
{
    return table.capacity() - table.size() < threshold(w, table);
}

// drop_packet's automatic rate for `table`: every new connection when no slot is free, every
// second one at half the threshold (IPVS's amemthresh / (amemthresh - free)); 0 when not short.
template <typename Table>
uint32_t automatic_drop_rate(const WorkerContext& w, const Table& table)
{
    if (!short_of_slots(w, table)) return 0;
    const uint32_t amem = threshold(w, table);
    return amem / (amem - (table.capacity() - table.size()));
}

// IPVS's todrop_entry: a connection that has been idle for a minute and carried 1 to 8 packets
// from its client; of those with n packets, every n-th one found.
template <typename Conn>
bool worth_dropping(DefenseState& d, const Conn& c, Tick now)
{
    if (now - c.last_seen < 60 * ticks_per_second) return false;
    if (c.in_packets < 1 || c.in_packets > 8) return false;
    int32_t& counter = d.entry_counters[c.in_packets - 1];
    if (--counter > 0) return false;
    counter = static_cast<int32_t>(c.in_packets);
    return true;
}

// IPVS's ip_vs_random_dropentry, over one of this worker's tables: half-open TCP goes,
// established TCP and UDP go when worth_dropping says so; other TCP states are left to their
// timeouts. Returns what is left of `budget`.
template <typename Table>
uint32_t sweep(WorkerContext& w, Table& table, uint32_t& cursor, uint32_t& left, uint32_t budget)
{
    DefenseState& d = w.defense;
    const uint32_t capacity = table.capacity();
    for (; budget > 0 && left > 0; --budget, --left) {
        if (++cursor >= capacity) cursor = 0;
        auto& c = table.slot(cursor);
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
    return budget;
}

}  // namespace

bool table_short(const WorkerContext& w) { return short_of_slots(w, w.conns) || short_of_slots(w, w.conns6); }

void defense_run(WorkerContext& w, uint32_t budget)
{
    DefenseState& d = w.defense;
    if (static_cast<int32_t>(w.now_tick - d.next_update) >= 0) {
        d.next_update = w.now_tick + ticks_per_second;
        const DefenseSettings& set = w.snapshot->defense;
        const bool short_of_slots = table_short(w);

        const uint8_t drop_entry = level_now(set.drop_entry, short_of_slots);
        d.drop_entry.store(drop_entry, std::memory_order_relaxed);
        // A 32nd of each table each second, as IPVS.
        d.sweep_left = is_on(drop_entry) ? std::max<uint32_t>(1, w.conns.capacity() / 32) : 0;
        d.sweep_left6 = is_on(drop_entry) ? std::max<uint32_t>(1, w.conns6.capacity() / 32) : 0;

        const uint8_t drop_packet = level_now(set.drop_packet, short_of_slots);
        d.drop_packet.store(drop_packet, std::memory_order_relaxed);
        if (drop_packet == defense_always) {
            d.drop_rate = set.am_droprate;
        } else if (drop_packet == defense_automatic_on) {
            // The shorter table sets the rate (the larger one in one refused connection of N).
            const uint32_t rate = automatic_drop_rate(w, w.conns);
            const uint32_t rate6 = automatic_drop_rate(w, w.conns6);
            d.drop_rate = d.drop_counter = rate6 != 0 && (rate == 0 || rate6 < rate) ? rate6 : rate;
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
    budget = sweep(w, w.conns, d.sweep_cursor, d.sweep_left, budget);
    sweep(w, w.conns6, d.sweep_cursor6, d.sweep_left6, budget);
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
