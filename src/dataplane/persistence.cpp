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
    const uint32_t tag = rte_hash_crc_4byte(client, rte_hash_crc_4byte(service_id, 0x2545f491));
    return tag != 0 ? tag : 1;  // a zero word means an empty slot
}

std::optional<PersistenceTable::Template> PersistenceTable::find(uint32_t service_id, uint32_t client, uint32_t now_s,
                                                                 uint32_t timeout_s) const
{
    const uint32_t tag = tag_of(service_id, client);
    for (uint32_t i = 0; i < probe; ++i) {
        const uint32_t slot = (tag + i) & mask_;
        const uint64_t word = slots_[slot].word.load(std::memory_order_acquire);
        if ((word >> 32) == tag && alive(slots_[slot], word, now_s, timeout_s))
            return Template{slot, static_cast<uint16_t>(word >> 16)};
    }
    return std::nullopt;
}

std::optional<PersistenceTable::Template> PersistenceTable::claim(uint32_t service_id, uint32_t client,
                                                                  uint16_t real_server_id, uint32_t now_s,
                                                                  uint32_t timeout_s)
{
    const uint32_t tag = tag_of(service_id, client);
    for (uint32_t i = 0; i < probe; ++i) {
        const uint32_t slot = (tag + i) & mask_;
        Slot& s = slots_[slot];
        uint64_t word = s.word.load(std::memory_order_acquire);
        for (;;) {
            if ((word >> 32) == tag && alive(s, word, now_s, timeout_s))
                return Template{slot, static_cast<uint16_t>(word >> 16)};  // another worker was first
            if (alive(s, word, now_s, timeout_s)) break;                    // a live template of someone else
            // Empty, or dead: take it over. A failed exchange reloads `word` and looks again.
            if (s.word.compare_exchange_weak(word, make(tag, real_server_id, now_s), std::memory_order_acq_rel))
                return Template{slot, real_server_id};
        }
    }
    return std::nullopt;
}

void PersistenceTable::touch(Slot& s, uint32_t now_s)
{
    uint64_t word = s.word.load(std::memory_order_relaxed);
    while (word != 0 && !s.word.compare_exchange_weak(word, (word & ~uint64_t{0xffff}) | (now_s & 0xffff),
                                                      std::memory_order_acq_rel)) {
    }
}

void PersistenceTable::attach(uint32_t slot, uint32_t now_s)
{
    slots_[slot].controlled.fetch_add(1, std::memory_order_acq_rel);
    touch(slots_[slot], now_s);
}

void PersistenceTable::detach(uint32_t slot, uint32_t now_s)
{
    // The template's timeout runs again from the moment its last connection is gone.
    touch(slots_[slot], now_s);
    slots_[slot].controlled.fetch_sub(1, std::memory_order_acq_rel);
}

void PersistenceTable::expire(uint32_t slot)
{
    // Controlled connections keep their slot number and detach later: only the mapping goes,
    // so the next connection from that client is scheduled afresh.
    uint64_t word = slots_[slot].word.load(std::memory_order_relaxed);
    while (word != 0 && !slots_[slot].word.compare_exchange_weak(word, word & ~(uint64_t{0xffffffff} << 32),
                                                                 std::memory_order_acq_rel)) {
    }
}

uint32_t PersistenceTable::live(uint32_t now_s, uint32_t timeout_s) const
{
    uint32_t n = 0;
    for (uint32_t i = 0; i <= mask_; ++i) {
        const uint64_t word = slots_[i].word.load(std::memory_order_relaxed);
        if ((word >> 32) != 0 && alive(slots_[i], word, now_s, timeout_s)) ++n;
    }
    return n;
}

}  // namespace fulcrum::dataplane
