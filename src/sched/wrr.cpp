// ip_vs_wrr.c
#include <numeric>

#include "sched/scheduler.hpp"

namespace fulcrum::sched {

WrrTable prepare_wrr(std::span<const Destination> dests)
{
    WrrTable table;
    int32_t g = 0;
    for (const Destination& d : dests) {
        const auto w = static_cast<int32_t>(d.weight);
        if (w > table.max_weight) table.max_weight = w;
        if (w > 0) g = std::gcd(g, w);
    }
    table.gcd = g > 0 ? g : 1;
    return table;
}

int32_t pick_wrr(std::span<const Destination> dests, const WrrTable& table, SchedCursor& cursor)
{
    const auto n = static_cast<int32_t>(dests.size());
    if (n == 0 || table.max_weight == 0) return no_destination;
    if (cursor.last >= n || cursor.current_weight > table.max_weight) {
        cursor.last = -1;
        cursor.current_weight = 0;
    }
    // One full pass over every current weight from max_weight down to gcd visits each
    // (destination, weight level) pair once; if nothing qualified in that many steps, every
    // destination is quiescent or overloaded (the kernel's err_over).
    const int32_t levels = table.max_weight / table.gcd;
    const int64_t max_steps = int64_t{n} * (levels + 1) + 1;
    int32_t i = cursor.last;
    int32_t cw = cursor.current_weight;
    for (int64_t step = 0; step < max_steps; ++step) {
        ++i;
        if (i >= n) {
            i = 0;
            cw -= table.gcd;
            if (cw <= 0) cw = table.max_weight;
        } else if (cw <= 0) {
            // First pick after a reset starts at the top weight, like ip_vs_wrr_init_svc.
            cw = table.max_weight;
        }
        const Destination& d = dests[static_cast<size_t>(i)];
        if (!d.overloaded && static_cast<int32_t>(d.weight) >= cw) {
            cursor.last = i;
            cursor.current_weight = cw;
            return i;
        }
    }
    return no_destination;
}

}  // namespace fulcrum::sched
