#include "dataplane/neighbor.hpp"

#include <rte_hash.h>
#include <rte_hash_crc.h>

#include <cstring>

namespace fulcrum::dataplane {

namespace {

uint64_t mac_to_word(const rte_ether_addr& mac)
{
    uint64_t word = 0;
    std::memcpy(&word, mac.addr_bytes, RTE_ETHER_ADDR_LEN);
    return word;
}

rte_ether_addr word_to_mac(uint64_t word)
{
    rte_ether_addr mac;
    std::memcpy(mac.addr_bytes, &word, RTE_ETHER_ADDR_LEN);
    return mac;
}

}  // namespace

std::unique_ptr<NeighborTable> NeighborTable::create(const char* name, uint32_t capacity, int socket)
{
    rte_hash_parameters params{};
    params.name = name;
    params.entries = capacity;
    params.key_len = sizeof(rte_be32_t);
    params.hash_func = rte_hash_crc;
    params.socket_id = socket;
    // Lock-free readers with the control core as the single writer.
    params.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF;
    rte_hash* index = rte_hash_create(&params);
    if (index == nullptr) return nullptr;
    std::unique_ptr<NeighborTable> table(new NeighborTable);
    table->index_ = index;
    table->entries_ = std::make_unique<Entry[]>(capacity);
    table->capacity_ = capacity;
    return table;
}

NeighborTable::~NeighborTable() { rte_hash_free(index_); }

bool NeighborTable::lookup(rte_be32_t ip, rte_ether_addr& mac) const
{
    const Entry* entry = find(ip);
    return entry != nullptr && mac_of(*entry, mac);
}

const NeighborTable::Entry* NeighborTable::find(rte_be32_t ip) const
{
    void* data = nullptr;
    if (rte_hash_lookup_data(index_, &ip, &data) < 0) return nullptr;
    return static_cast<const Entry*>(data);
}

bool NeighborTable::mac_of(const Entry& entry, rte_ether_addr& mac)
{
    const uint64_t word = entry.mac_word.load(std::memory_order_acquire);
    if ((word & resolved_bit) == 0) return false;
    mac = word_to_mac(word);
    return true;
}

bool NeighborTable::update(rte_be32_t ip, const rte_ether_addr& mac, uint16_t port, bool is_static)
{
    void* data = nullptr;
    Entry* entry = nullptr;
    if (rte_hash_lookup_data(index_, &ip, &data) >= 0) {
        entry = static_cast<Entry*>(data);
        if (entry->is_static && !is_static) return true;
    } else {
        if (used_ == capacity_) return false;
        entry = &entries_[used_];
        entry->ip = ip;
        // The entry is complete before the key that lets readers find it is added.
        entry->port = port;
        entry->is_static = is_static;
        entry->mac_word.store(mac_to_word(mac) | resolved_bit, std::memory_order_release);
        if (rte_hash_add_key_data(index_, &ip, entry) < 0) return false;
        ++used_;
        return true;
    }
    entry->port = port;
    entry->is_static = is_static;
    entry->mac_word.store(mac_to_word(mac) | resolved_bit, std::memory_order_release);
    return true;
}

std::vector<NeighborTable::Row> NeighborTable::rows() const
{
    std::vector<Row> out;
    for (uint32_t i = 0; i < used_; ++i) {
        const Entry& e = entries_[i];
        out.push_back({e.ip, word_to_mac(e.mac_word.load(std::memory_order_acquire)), e.port,
                       e.is_static});
    }
    return out;
}

}  // namespace fulcrum::dataplane
