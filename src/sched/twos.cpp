// ip_vs_twos.c: power of two choices. Two servers drawn at random in proportion to weight; the
// second replaces the first when its (active*256 + inactive) / weight is strictly lower.
#include "sched/internal.hpp"

namespace fulcrum::sched {

int32_t pick_twos(std::span<const Destination> dests, uint64_t& rng)
{
    uint64_t total = 0;
    for (const Destination& d : dests)
        if (!d.overloaded && d.weight > 0) total += d.weight;
    if (total == 0) return no_destination;

    // As the kernel, the draws are in [0, total] inclusive: a draw of 0 lands on the first
    // eligible server, which so has weight + 1 chances in total + 1, the others weight.
    total += 1;
    auto r1 = static_cast<int64_t>(next_random(rng) % total);
    auto r2 = static_cast<int64_t>(next_random(rng) % total);

    int32_t choice1 = no_destination, choice2 = no_destination;
    uint64_t overhead1 = 0, overhead2 = 0;
    for (size_t i = 0; i < dests.size(); ++i) {
        const Destination& d = dests[i];
        if (d.overloaded || d.weight == 0) continue;
        r1 -= d.weight;
        r2 -= d.weight;
        if (r1 <= 0 && choice1 == no_destination) {
            choice1 = static_cast<int32_t>(i);
            overhead1 = conn_overhead(d);
        }
        if (r2 <= 0 && choice2 == no_destination) {
            choice2 = static_cast<int32_t>(i);
            overhead2 = conn_overhead(d);
        }
        if (choice1 != no_destination && choice2 != no_destination) break;
    }
    // Both draws are at most the total, so both found a server.
    // weight2 * overhead1 > weight1 * overhead2: the second is strictly less loaded per weight.
    if (less_per_weight(overhead2, dests[static_cast<size_t>(choice2)].weight, overhead1,
                        dests[static_cast<size_t>(choice1)].weight))
        return choice2;
    return choice1;
}

}  // namespace fulcrum::sched
