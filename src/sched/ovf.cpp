// ip_vs_ovf.c: overflow. The highest weight whose active connections do not exceed its weight,
// so a server takes weight connections (active == weight still qualifies) before the next one
// gets any.
#include "sched/internal.hpp"

namespace fulcrum::sched {

int32_t pick_ovf(std::span<const Destination> dests)
{
    int32_t best = no_destination;
    uint32_t highest = 0;
    for (size_t i = 0; i < dests.size(); ++i) {
        const Destination& d = dests[i];
        if (d.overloaded || d.weight == 0 || d.active > d.weight) continue;
        if (best == no_destination || d.weight > highest) {
            best = static_cast<int32_t>(i);
            highest = d.weight;
        }
    }
    return best;
}

}  // namespace fulcrum::sched
