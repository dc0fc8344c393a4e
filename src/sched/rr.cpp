// ip_vs_rr.c
#include "sched/scheduler.hpp"

namespace fulcrum::sched {

int32_t pick_rr(std::span<const Destination> dests, SchedCursor& cursor)
{
    const auto n = static_cast<int32_t>(dests.size());
    if (n == 0) return no_destination;
    // A snapshot swap may have shortened the list under the cursor: start over, as the
    // kernel does when the list changes (ip_vs_rr_del_dest moves the mark to the head).
    int32_t start = cursor.last < n ? cursor.last : -1;
    for (int32_t step = 1; step <= n; ++step) {
        int32_t i = start + step;
        if (i >= n) i -= n;
        if (i < 0) i += n;
        const Destination& d = dests[static_cast<size_t>(i)];
        if (d.weight > 0 && !d.overloaded) {
            cursor.last = i;
            return i;
        }
    }
    return no_destination;
}

}  // namespace fulcrum::sched
