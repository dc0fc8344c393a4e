// The connection table's index: flow hash -> connection slot, in cache-line buckets.
//
// Each bucket is one 64-byte line of eight (hash, value) entries; a key lives in one of two
// buckets chosen from its hash (two-choice hashing, no cuckoo moves), and the table is sized so
// that at most half its entries are used. A lookup reads one line and, for the entry whose
// stored hash matches, the connection it names, where the caller confirms the full key: two
// cache misses per packet, both of which a burst prefetches ahead. Measured against rte_hash
// by fulcrum-bench (docs/performance.md).
#pragma once

#include <rte_hash_crc.h>
#include <rte_prefetch.h>

#include <cstdint>
#include <memory>

#include "dataplane/ipv6.hpp"
#include "dataplane/packet.hpp"

namespace fulcrum::dataplane {

class FlowIndex {
public:
    static constexpr uint32_t none = UINT32_MAX;

    // Room for `max_keys` keys at most half full. False when the memory cannot be had.
    bool init(uint32_t max_keys, int socket);
    ~FlowIndex();

    static uint32_t hash(const FlowKey& key)
    {
        uint64_t words[2];
        std::memcpy(words, &key, sizeof words);
        return rte_hash_crc_8byte(words[1], rte_hash_crc_8byte(words[0], 0x9747b28c));
    }

    static uint32_t hash(const FlowKey6& key)
    {
        uint64_t words[5];
        std::memcpy(words, &key, sizeof words);
        uint32_t h = 0x9747b28c;
        for (uint64_t word : words) h = rte_hash_crc_8byte(word, h);
        return h;
    }

    void prefetch(uint32_t hash) const { rte_prefetch0(&buckets_[primary(hash)]); }

    // The value stored under `hash` for which matches(value) is true, or none. `matches`
    // compares the full key (the index keeps only hashes).
    template <typename Matches>
    uint32_t find(uint32_t hash, Matches&& matches) const
    {
        for (uint32_t b : {primary(hash), secondary(hash)}) {
            const Bucket& bucket = buckets_[b];
            for (unsigned i = 0; i < entries_per_bucket; ++i)
                if (bucket.hash[i] == hash && bucket.value[i] != none && matches(bucket.value[i])) return bucket.value[i];
        }
        return none;
    }

    // The first value stored under `hash` in its primary bucket, without confirming the key:
    // a burst uses it to prefetch the connection before it compares keys.
    uint32_t first_candidate(uint32_t hash) const
    {
        const Bucket& bucket = buckets_[primary(hash)];
        for (unsigned i = 0; i < entries_per_bucket; ++i)
            if (bucket.hash[i] == hash && bucket.value[i] != none) return bucket.value[i];
        return none;
    }

    // False when both buckets of `hash` are full.
    bool insert(uint32_t hash, uint32_t value);

    // Removes the entry holding `value` (values are unique). False if there is none.
    bool erase(uint32_t hash, uint32_t value);

    size_t memory_bytes() const { return size_t{bucket_mask_ + 1} * sizeof(Bucket); }

private:
    static constexpr unsigned entries_per_bucket = 8;
    struct alignas(64) Bucket {
        uint32_t hash[entries_per_bucket];
        uint32_t value[entries_per_bucket];
    };
    static_assert(sizeof(Bucket) == 64);

    uint32_t primary(uint32_t hash) const { return hash & bucket_mask_; }
    uint32_t secondary(uint32_t hash) const
    {
        // An independent mix of the same hash, never equal to the primary bucket.
        const uint32_t b = ((hash * 0x9E3779B1u) >> 7) & bucket_mask_;
        return b != primary(hash) ? b : b ^ 1u;
    }

    Bucket* buckets_ = nullptr;
    uint32_t bucket_mask_ = 0;
};

}  // namespace fulcrum::dataplane
