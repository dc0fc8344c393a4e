#include "dataplane/flow_index.hpp"

#include <rte_malloc.h>

namespace fulcrum::dataplane {

bool FlowIndex::init(uint32_t max_keys, int socket)
{
    // At most half full: 2 * max_keys entries, rounded up to a power of two of buckets (and
    // at least two buckets, so that the secondary differs from the primary).
    uint64_t buckets = 2;
    while (buckets * entries_per_bucket < uint64_t{max_keys} * 2) buckets <<= 1;
    buckets_ = static_cast<Bucket*>(rte_malloc_socket("flow_index", buckets * sizeof(Bucket), RTE_CACHE_LINE_SIZE, socket));
    if (buckets_ == nullptr) return false;
    for (uint64_t b = 0; b < buckets; ++b)
        for (unsigned i = 0; i < entries_per_bucket; ++i) {
            buckets_[b].hash[i] = 0;
            buckets_[b].value[i] = none;
        }
    bucket_mask_ = static_cast<uint32_t>(buckets - 1);
    return true;
}

FlowIndex::~FlowIndex() { rte_free(buckets_); }

bool FlowIndex::insert(uint32_t hash, uint32_t value)
{
    for (uint32_t b : {primary(hash), secondary(hash)}) {
        Bucket& bucket = buckets_[b];
        for (unsigned i = 0; i < entries_per_bucket; ++i)
            if (bucket.value[i] == none) {
                bucket.hash[i] = hash;
                bucket.value[i] = value;
                return true;
            }
    }
    return false;
}

bool FlowIndex::erase(uint32_t hash, uint32_t value)
{
    for (uint32_t b : {primary(hash), secondary(hash)}) {
        Bucket& bucket = buckets_[b];
        for (unsigned i = 0; i < entries_per_bucket; ++i)
            if (bucket.value[i] == value) {
                bucket.value[i] = none;
                return true;
            }
    }
    return false;
}

}  // namespace fulcrum::dataplane
