// ip_vs_dh.c: destination hashing over 256 buckets, filled one server per bucket in list order,
// round after round. Weights only matter as 0 = unavailable; there is no fallback.
#include "sched/internal.hpp"

namespace fulcrum::sched {

namespace {
constexpr unsigned dh_bits = 8;
static_assert(hash_buckets == 1u << dh_bits);
}  // namespace

std::vector<uint32_t> build_dh_buckets(std::span<const Destination> dests)
{
    std::vector<uint32_t> buckets(hash_buckets, no_bucket);
    if (dests.empty()) return buckets;
    // Beyond 256 servers the later ones get no bucket, as in the kernel.
    for (uint32_t i = 0; i < hash_buckets; ++i)
        buckets[i] = static_cast<uint32_t>(i % dests.size());
    return buckets;
}

int32_t pick_dh(const Prepared& prepared, std::span<const Destination> dests, const FlowInput& flow)
{
    if (prepared.buckets.size() != hash_buckets) return no_destination;
    const uint32_t index = prepared.buckets[hash_32(flow.dst_ip, dh_bits)];
    if (index == no_bucket || index >= dests.size() || !available(dests[index]))
        return no_destination;
    return static_cast<int32_t>(index);
}

}  // namespace fulcrum::sched
