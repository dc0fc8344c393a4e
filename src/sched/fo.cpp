// ip_vs_fo.c: weighted failover. Everything goes to the highest weight that is not overloaded.
#include "sched/internal.hpp"

namespace fulcrum::sched {

int32_t pick_fo(std::span<const Destination> dests)
{
    int32_t best = no_destination;
    uint32_t highest = 0;  // so weight 0 is never picked
    for (size_t i = 0; i < dests.size(); ++i) {
        const Destination& d = dests[i];
        // Strictly greater: the first of equal weights in list order.
        if (!d.overloaded && d.weight > highest) {
            best = static_cast<int32_t>(i);
            highest = d.weight;
        }
    }
    return best;
}

}  // namespace fulcrum::sched
