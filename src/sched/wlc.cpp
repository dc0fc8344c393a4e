// ip_vs_wlc.c: weighted least connection, (active*256 + inactive) / weight.
#include "sched/internal.hpp"

namespace fulcrum::sched {

int32_t pick_wlc(std::span<const Destination> dests)
{
    return weighted_least(dests, [](const Destination& d) { return conn_overhead(d); });
}

}  // namespace fulcrum::sched
