// The per-worker table behind lblc and lblcr.
#include <algorithm>
#include <bit>

#include "sched/internal.hpp"

namespace fulcrum::sched {

LocalityTable::LocalityTable(uint32_t capacity, uint64_t expiration)
    : expiration_(expiration)
{
    const uint32_t buckets = std::max<uint32_t>(1, (capacity + ways - 1) / ways);
    bucket_count_ = std::bit_ceil(buckets);
    entries_ = std::make_unique<Entry[]>(size_t{bucket_count_} * ways);
}

LocalityTable::~LocalityTable() = default;

LocalityTable::Entry* LocalityTable::bucket(uint32_t key) const
{
    // Destination addresses are often consecutive: mix them before taking the low bits.
    const auto b = static_cast<uint32_t>(mix64(key) & (bucket_count_ - 1));
    return &entries_[size_t{b} * ways];
}

LocalityTable::Entry* LocalityTable::find(uint32_t key, uint64_t now)
{
    Entry* b = bucket(key);
    for (uint32_t w = 0; w < ways; ++w) {
        Entry& e = b[w];
        if (!e.used || e.key != key) continue;
        if (expired(e, now)) {
            e.used = 0;
            return nullptr;
        }
        return &e;
    }
    return nullptr;
}

LocalityTable::Entry* LocalityTable::insert(uint32_t key, uint64_t now)
{
    Entry* b = bucket(key);
    Entry* victim = nullptr;
    for (uint32_t w = 0; w < ways; ++w) {
        Entry& e = b[w];
        if (!e.used || expired(e, now) || e.key == key) {
            victim = &e;
            break;
        }
        if (victim == nullptr || e.last_use < victim->last_use) victim = &e;
    }
    *victim = Entry{};
    victim->key = key;
    victim->used = 1;
    victim->last_use = now;
    victim->last_modified = now;
    return victim;
}

uint32_t LocalityTable::size(uint64_t now) const
{
    uint32_t n = 0;
    for (size_t i = 0; i < size_t{bucket_count_} * ways; ++i)
        if (entries_[i].used && !expired(entries_[i], now)) ++n;
    return n;
}

std::vector<int32_t> LocalityTable::servers_of(uint32_t address, std::span<const Destination> dests,
                                               uint64_t now) const
{
    std::vector<int32_t> servers;
    const Entry* b = bucket(address);
    for (uint32_t w = 0; w < ways; ++w) {
        const Entry& e = b[w];
        if (!e.used || e.key != address || expired(e, now)) continue;
        for (uint8_t m = 0; m < e.size; ++m) {
            Member copy = e.members[m];
            servers.push_back(resolve_member(copy, dests));
        }
    }
    return servers;
}

void LocalityTable::clear()
{
    std::fill_n(entries_.get(), size_t{bucket_count_} * ways, Entry{});
}

int32_t resolve_member(LocalityTable::Member& m, std::span<const Destination> dests)
{
    if (m.index < dests.size() && dests[m.index].address == m.address && dests[m.index].port == m.port)
        return static_cast<int32_t>(m.index);
    // The list changed under the entry (a new snapshot): find the server again, or report it
    // gone, as the kernel finds a removed server no longer IP_VS_DEST_F_AVAILABLE.
    for (size_t i = 0; i < dests.size(); ++i) {
        if (dests[i].address == m.address && dests[i].port == m.port) {
            m.index = static_cast<uint32_t>(i);
            return static_cast<int32_t>(i);
        }
    }
    return no_destination;
}

LocalityTable::Member member_for(int32_t index, std::span<const Destination> dests)
{
    const Destination& d = dests[static_cast<size_t>(index)];
    return {static_cast<uint32_t>(index), d.address, d.port};
}

bool locality_overloaded(const Destination& d, std::span<const Destination> dests)
{
    if (d.active <= d.weight) return false;
    for (const Destination& other : dests)
        if (uint64_t{other.active} * 2 < other.weight) return true;
    return false;
}

}  // namespace fulcrum::sched
