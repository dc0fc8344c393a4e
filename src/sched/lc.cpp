// ip_vs_lc.c: least connection. Weights only matter as 0 = quiescent.
#include "sched/internal.hpp"

namespace fulcrum::sched {

int32_t pick_lc(std::span<const Destination> dests)
{
    int32_t least = no_destination;
    uint64_t loh = 0;
    for (size_t i = 0; i < dests.size(); ++i) {
        const Destination& d = dests[i];
        if (d.overloaded || d.weight == 0) continue;
        const uint64_t doh = conn_overhead(d);
        // Strictly less: the kernel keeps the first least one in list order.
        if (least == no_destination || doh < loh) {
            least = static_cast<int32_t>(i);
            loh = doh;
        }
    }
    return least;
}

}  // namespace fulcrum::sched
