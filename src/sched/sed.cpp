// ip_vs_sed.c: shortest expected delay, (active + 1) / weight. Inactive connections do not count.
#include "sched/internal.hpp"

namespace fulcrum::sched {

int32_t pick_sed(std::span<const Destination> dests)
{
    return weighted_least(dests, [](const Destination& d) { return uint64_t{d.active} + 1; });
}

}  // namespace fulcrum::sched
