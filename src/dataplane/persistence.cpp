#include "dataplane/persistence.hpp"

#include <rte_hash_crc.h>
#include <rte_malloc.h>

#include <new>

namespace fulcrum::dataplane {

bool PersistenceTable::init(uint32_t slots, int socket)
{
    slots_ = static_cast<Slot*>(rte_malloc_socket("persistence", size_t{slots} * sizeof(Slot), RTE_CACHE_LINE_SIZE, socket));
    if (slots_ == nullptr) return false;
    for (uint32_t i = 0; i < slots; ++i) new (&slots_[i]) Slot();
    mask_ = slots - 1;
    return true;
}

PersistenceTable::~PersistenceTable() { rte_free(slots_); }

uint32_t PersistenceTable::tag_of(uint32_t service_id, uint32_t client)
{
    const uint32_t tag = rte_hash_crc_4byte(client, rte_hash_crc_4byte(service_id, 0x2545f491)) >> 8;
    return tag != 0 ? tag : 1;  // tag 0 is an expired template (or an empty slot)
}

std::optional<PersistenceTable::Template> PersistenceTable::find(uint32_t service_id, uint32_t client, uint32_t now_s,
                                                                 uint32_t timeout_s) const
{
    const uint32_t t = tag_of(service_id, client);
    for (uint32_t i = 0; i < probe; ++i) {
        const uint32_t slot = (t + i) & mask_;
        const uint64_t word = slots_[slot].word.load(std::memory_order_acquire);
        if (tag(word) == t && alive(slots_[slot], word, now_s, timeout_s)) return Template{slot, t, real_server(word)};
    }
    return std::nullopt;
}

std::optional<PersistenceTable::Template> PersistenceTable::claim(uint32_t service_id, uint32_t client,
                                                                  uint16_t real_server_id, uint32_t now_s,
                                                                  uint32_t timeout_s, ClaimResult* result)
{
    const uint32_t t = tag_of(service_id, client);
    ClaimResult ignored;
    ClaimResult& outcome = result != nullptr ? *result : ignored;
    for (int round = 0; round < 4; ++round) {
        // The least recently used live template that controls nothing: what gives way when no
        // slot is free.
        uint32_t stalest = none;
        uint64_t stalest_word = 0;
        uint32_t stalest_use = 0;
        for (uint32_t i = 0; i < probe; ++i) {
            const uint32_t slot = (t + i) & mask_;
            Slot& s = slots_[slot];
            uint64_t word = s.word.load(std::memory_order_acquire);
            if (tag(word) == t && alive(s, word, now_s, timeout_s)) {
                outcome = ClaimResult::joined;  // another worker was first
                return Template{slot, t, real_server(word)};
            }
            if (!alive(s, word, now_s, timeout_s)) {
                // Empty or dead (it controls nothing): take it over. A lost exchange looks at
                // the window again.
                if (s.word.compare_exchange_strong(word, make(t, real_server_id), std::memory_order_acq_rel)) {
                    s.last_use.store(now_s, std::memory_order_release);
                    outcome = ClaimResult::created;
                    return Template{slot, t, real_server_id};
                }
                stalest = none;
                break;
            }
            const uint32_t use = s.last_use.load(std::memory_order_acquire);
            if ((word & controlled_mask) == 0 && (stalest == none || static_cast<int32_t>(use - stalest_use) < 0)) {
                stalest = slot;
                stalest_word = word;
                stalest_use = use;
            }
            if (i + 1 == probe && stalest == none) {
                outcome = ClaimResult::full;
                return std::nullopt;
            }
        }
        if (stalest == none) continue;
        if (slots_[stalest].word.compare_exchange_strong(stalest_word, make(t, real_server_id), std::memory_order_acq_rel)) {
            slots_[stalest].last_use.store(now_s, std::memory_order_release);
            outcome = ClaimResult::took_over_live;
            return Template{stalest, t, real_server_id};
        }
    }
    outcome = ClaimResult::full;  // lost every race: rare enough to treat as full
    return std::nullopt;
}

bool PersistenceTable::attach(const Template& t, uint32_t now_s)
{
    Slot& s = slots_[t.slot];
    uint64_t word = s.word.load(std::memory_order_acquire);
    do {
        if (tag(word) != t.tag || real_server(word) != t.real_server_id) return false;
        if ((word & controlled_mask) == controlled_mask) return false;
    } while (!s.word.compare_exchange_weak(word, word + 1, std::memory_order_acq_rel));
    s.last_use.store(now_s, std::memory_order_release);
    return true;
}

bool PersistenceTable::renew(const Template& t, uint16_t real_server_id, uint32_t now_s)
{
    Slot& s = slots_[t.slot];
    uint64_t word = s.word.load(std::memory_order_acquire);
    while (true) {
        if (tag(word) != t.tag) return false;
        if (real_server(word) == real_server_id) break;
        if ((word & controlled_mask) != 0) return false;
        if (s.word.compare_exchange_weak(word, make(t.tag, real_server_id), std::memory_order_acq_rel)) break;
    }
    s.last_use.store(now_s, std::memory_order_release);
    return true;
}

void PersistenceTable::detach(uint32_t slot, uint32_t now_s)
{
    // The template's timeout runs again from the moment its last connection is gone.
    slots_[slot].last_use.store(now_s, std::memory_order_release);
    slots_[slot].word.fetch_sub(1, std::memory_order_acq_rel);
}

void PersistenceTable::expire(uint32_t slot)
{
    // Controlled connections keep their slot number and detach later: only the mapping goes,
    // so the next connection from that client is scheduled afresh.
    uint64_t word = slots_[slot].word.load(std::memory_order_relaxed);
    while (tag(word) != 0 &&
           !slots_[slot].word.compare_exchange_weak(word, word & controlled_mask, std::memory_order_acq_rel)) {
    }
}

void PersistenceTable::count_by_real_server(uint32_t now_s, std::span<const uint32_t> timeout_of,
                                            std::span<uint32_t> counts) const
{
    for (uint32_t i = 0; i <= mask_; ++i) {
        const uint64_t word = slots_[i].word.load(std::memory_order_relaxed);
        if (tag(word) == 0) continue;
        const uint16_t rs = real_server(word);
        if (rs < timeout_of.size() && rs < counts.size() && alive(slots_[i], word, now_s, timeout_of[rs])) ++counts[rs];
    }
}

uint32_t PersistenceTable::live(uint32_t now_s, uint32_t timeout_s) const
{
    uint32_t n = 0;
    for (uint32_t i = 0; i <= mask_; ++i) {
        const uint64_t word = slots_[i].word.load(std::memory_order_relaxed);
        if (tag(word) != 0 && alive(slots_[i], word, now_s, timeout_s)) ++n;
    }
    return n;
}

}  // namespace fulcrum::dataplane
