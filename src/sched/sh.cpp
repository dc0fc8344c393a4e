// ip_vs_sh.c: source hashing over 256 buckets, filled in list order, each server taking as many
// consecutive buckets as its weight, round after round until all 256 are taken.
#include "sched/internal.hpp"

namespace fulcrum::sched {

namespace {

constexpr unsigned sh_bits = 8;
static_assert(hash_buckets == 1u << sh_bits);

// ip_vs_sh_hashkey: the port (0 without sh-port) is added to the address before hashing.
uint32_t sh_hash(const FlowInput& flow, bool with_port, uint32_t offset)
{
    const uint32_t port = with_port ? flow.src_port : 0;
    return (offset + hash_32(flow.src_ip + port, sh_bits)) & (hash_buckets - 1);
}

bool usable(uint32_t index, std::span<const Destination> dests)
{
    return index < dests.size() && available(dests[index]);
}

}  // namespace

std::vector<uint32_t> build_sh_buckets(std::span<const Destination> dests)
{
    std::vector<uint32_t> buckets(hash_buckets, no_bucket);
    if (dests.empty()) return buckets;
    size_t d = 0;
    uint64_t taken = 0;
    for (uint32_t& b : buckets) {
        b = static_cast<uint32_t>(d);
        // As ip_vs_sh_reassign: `++d_count >= weight`, so a quiescent server (weight 0) still
        // takes one bucket per round, where its sources find no server (or fall back).
        if (++taken >= dests[d].weight) {
            taken = 0;
            if (++d == dests.size()) d = 0;
        }
    }
    return buckets;
}

int32_t pick_sh(const Prepared& prepared, std::span<const Destination> dests, const FlowInput& flow)
{
    if (prepared.buckets.size() != hash_buckets) return no_destination;
    const bool with_port = prepared.flags.sh_port;
    const uint32_t ihash = sh_hash(flow, with_port, 0);
    const uint32_t first = prepared.buckets[ihash];
    if (first == no_bucket) return no_destination;
    if (usable(first, dests)) return static_cast<int32_t>(first);
    if (!prepared.flags.sh_fallback) return no_destination;
    // ip_vs_sh_get_fallback: offsets 0..255 from the original hash, each added to the hash
    // again, so the walk starts at bucket 2*ihash (mod 256) and visits every bucket once.
    for (uint32_t offset = 0; offset < hash_buckets; ++offset) {
        const uint32_t roffset = (offset + ihash) % hash_buckets;
        const uint32_t index = prepared.buckets[sh_hash(flow, with_port, roffset)];
        if (index == no_bucket) break;
        if (usable(index, dests)) return static_cast<int32_t>(index);
    }
    return no_destination;
}

}  // namespace fulcrum::sched
