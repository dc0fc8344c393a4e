// ip_vs_nq.c: never queue. The first server in list order with no active connection, else the
// least (active + 1) / weight as sed.
#include "sched/internal.hpp"

namespace fulcrum::sched {

int32_t pick_nq(std::span<const Destination> dests)
{
    int32_t least = no_destination;
    uint64_t loh = 0;
    for (size_t i = 0; i < dests.size(); ++i) {
        const Destination& d = dests[i];
        if (d.overloaded || d.weight == 0) continue;
        // Idle means no active connection; inactive ones (TIME_WAIT, UDP) do not make it busy.
        if (d.active == 0) return static_cast<int32_t>(i);
        const uint64_t doh = uint64_t{d.active} + 1;
        // Unlike sed, the kernel's first candidate is simply the first eligible server, and it
        // multiplies in 32-bit unsigned arithmetic; 64 bits cannot overflow for any weight.
        if (least == no_destination ||
            loh * d.weight > doh * dests[static_cast<size_t>(least)].weight) {
            least = static_cast<int32_t>(i);
            loh = doh;
        }
    }
    return least;
}

}  // namespace fulcrum::sched
