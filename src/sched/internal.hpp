// What the scheduler files share and nobody else needs.
#pragma once

#include "sched/scheduler.hpp"

namespace fulcrum::sched {

__extension__ using u128 = unsigned __int128;

// The kernel's "unavailable" of the hashing schedulers: quiescent or overloaded.
inline bool available(const Destination& d) { return d.weight > 0 && !d.overloaded; }

// One step of the worker's generator (splitmix64): 64 random bits.
uint64_t next_random(uint64_t& state);

// doh / dw < loh / lw, as the kernel decides it: loh * dw > doh * lw. Overheads are below 2^41
// and weights below 2^32; the products need 128 bits only when an overhead reaches 2^32, which
// 16.7 million active connections on one server would take.
inline bool less_per_weight(uint64_t doh, uint32_t dw, uint64_t loh, uint32_t lw)
{
    if (((doh | loh) >> 32) == 0) return loh * dw > doh * lw;
    return u128{loh} * dw > u128{doh} * lw;
}

// The weighted least-connection pass of wlc, lblc and lblcr (__ip_vs_wlc_schedule): the first
// destination with weight > 0 that is not overloaded, replaced by each later one that is not
// overloaded and whose overhead/weight is strictly lower (by cross-multiplying, so weight 0
// never wins).
template <typename Overhead>
int32_t weighted_least(std::span<const Destination> dests, Overhead overhead)
{
    const auto n = static_cast<int32_t>(dests.size());
    int32_t least = no_destination;
    uint64_t loh = 0;
    uint32_t lw = 0;
    int32_t i = 0;
    for (; i < n; ++i) {
        const Destination& d = dests[static_cast<size_t>(i)];
        if (!d.overloaded && d.weight > 0) {
            least = i;
            loh = overhead(d);
            lw = d.weight;
            break;
        }
    }
    if (least == no_destination) return no_destination;
    for (++i; i < n; ++i) {
        const Destination& d = dests[static_cast<size_t>(i)];
        if (d.overloaded) continue;
        const uint64_t doh = overhead(d);
        if (less_per_weight(doh, d.weight, loh, lw)) {
            least = i;
            loh = doh;
            lw = d.weight;
        }
    }
    return least;
}

// lblc/lblcr's is_overloaded: the server has more active connections than its weight while
// some server of the service (any, itself included) has fewer than half its weight.
bool locality_overloaded(const Destination& d, std::span<const Destination> dests);

// Where a remembered server is in `dests` now (fixing its index if the list changed), or
// no_destination if it has left the service.
int32_t resolve_member(LocalityTable::Member& m, std::span<const Destination> dests);
LocalityTable::Member member_for(int32_t index, std::span<const Destination> dests);

std::vector<uint32_t> build_sh_buckets(std::span<const Destination> dests);
std::vector<uint32_t> build_dh_buckets(std::span<const Destination> dests);
void build_mh_table(std::span<const Destination> dests, uint32_t size, Prepared& out);
void build_kernel_mh_table(std::span<const Destination> dests, uint32_t size, Prepared& out);
// The weight a server holds Maglev slots with: the kernel builds its table from last_weight,
// which is the weight, or the latest non-zero weight of a quiesced server.
inline uint32_t table_weight(const Destination& d) { return d.weight > 0 ? d.weight : d.last_weight; }

}  // namespace fulcrum::sched
