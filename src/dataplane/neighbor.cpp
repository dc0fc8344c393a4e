#include "dataplane/neighbor.hpp"

#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_rcu_qsbr.h>

#include <algorithm>
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

template <typename Address>
std::unique_ptr<BasicNeighborTable<Address>> BasicNeighborTable<Address>::create(const char* name, uint32_t capacity, int socket)
{
    rte_hash_parameters params{};
    params.name = name;
    params.entries = std::max<uint32_t>(capacity, 8);  // rte_hash's least: one bucket
    params.key_len = sizeof(Address);
    params.hash_func = rte_hash_crc;
    params.socket_id = socket;
    // Lock-free readers with the control core as the single writer.
    params.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF;
    rte_hash* index = rte_hash_create(&params);
    if (index == nullptr) return nullptr;
    std::unique_ptr<BasicNeighborTable> table(new BasicNeighborTable);
    table->index_ = index;
    table->entries_ = std::make_unique<Entry[]>(capacity);
    table->capacity_ = capacity;
    return table;
}

template <typename Address>
BasicNeighborTable<Address>::~BasicNeighborTable()
{
    rte_hash_free(index_);
}

template <typename Address>
bool BasicNeighborTable<Address>::lookup(const Address& ip, rte_ether_addr& mac) const
{
    const Entry* entry = find(ip);
    return entry != nullptr && mac_of(*entry, mac);
}

template <typename Address>
const typename BasicNeighborTable<Address>::Entry* BasicNeighborTable<Address>::find(const Address& ip) const
{
    void* data = nullptr;
    if (rte_hash_lookup_data(index_, &ip, &data) < 0) return nullptr;
    return static_cast<const Entry*>(data);
}

template <typename Address>
bool BasicNeighborTable<Address>::mac_of(const Entry& entry, rte_ether_addr& mac)
{
    const uint64_t word = entry.mac_word.load(std::memory_order_acquire);
    if ((word & resolved_bit) == 0) return false;
    mac = word_to_mac(word);
    return true;
}

template <typename Address>
bool BasicNeighborTable<Address>::mac_for(const Entry& entry, const Address& ip, uint32_t now_s, rte_ether_addr& mac)
{
    // The address is checked after the MAC is read: an entry forgotten meanwhile has address 0
    // (its MAC may be read, still the right one); one reused for another address has waited
    // until no worker could be between these two reads.
    if (!mac_of(entry, mac) || !entry.ip.is(ip)) return false;
    if (entry.used_s.load(std::memory_order_relaxed) != now_s) entry.used_s.store(now_s, std::memory_order_relaxed);
    return true;
}

template <typename Address>
bool BasicNeighborTable<Address>::update(const Address& ip, const rte_ether_addr& mac, uint16_t port, bool is_static, uint32_t now_s)
{
    void* data = nullptr;
    Entry* entry = nullptr;
    if (rte_hash_lookup_data(index_, &ip, &data) >= 0) {
        entry = static_cast<Entry*>(data);
        if (entry->is_static && !is_static) return true;
    } else {
        uint32_t slot = used_;
        if (!free_.empty()) {
            slot = free_.back();
        } else if (used_ == capacity_) {
            return false;
        }
        entry = &entries_[slot];
        // The entry is complete before the key that lets readers find it is added.
        entry->port = port;
        entry->is_static = is_static;
        entry->confirmed_s = now_s;
        entry->used_s.store(now_s, std::memory_order_relaxed);
        entry->mac_word.store(mac_to_word(mac) | resolved_bit, std::memory_order_release);
        entry->ip.store(ip);
        if (rte_hash_add_key_data(index_, &ip, entry) < 0) {
            entry->ip.store(Address{});
            return false;
        }
        if (slot == used_)
            ++used_;
        else
            free_.pop_back();
        return true;
    }
    entry->port = port;
    entry->is_static = is_static;
    entry->confirmed_s = now_s;
    entry->mac_word.store(mac_to_word(mac) | resolved_bit, std::memory_order_release);
    return true;
}

template <typename Address>
uint32_t BasicNeighborTable<Address>::collect(uint32_t now_s, uint32_t stale_s, rte_rcu_qsbr* rcu)
{
    // Slots forgotten earlier whose readers are gone.
    std::erase_if(retired_, [&](const Retired& r) {
        if (rcu != nullptr && rte_rcu_qsbr_check(rcu, r.token, false) != 1) return false;
        rte_hash_free_key_with_position(index_, r.key_position);
        free_.push_back(r.entry);
        return true;
    });
    uint32_t forgotten = 0;
    const uint64_t token = rcu != nullptr ? rte_rcu_qsbr_start(rcu) : 0;
    for (uint32_t i = 0; i < used_; ++i) {
        Entry& e = entries_[i];
        const Address ip = e.ip.load();
        if (ip == Address{} || e.is_static) continue;
        const uint32_t used = e.used_s.load(std::memory_order_relaxed);
        const uint32_t last = static_cast<int32_t>(used - e.confirmed_s) > 0 ? used : e.confirmed_s;
        if (static_cast<int32_t>(now_s - last) < static_cast<int32_t>(stale_s)) continue;
        const int32_t position = rte_hash_del_key(index_, &ip);
        e.ip.store(Address{});
        e.mac_word.store(0, std::memory_order_release);
        ++forgotten;
        if (position < 0) continue;  // not indexed (cannot happen): the slot is simply lost
        if (rcu == nullptr) {
            rte_hash_free_key_with_position(index_, position);
            free_.push_back(i);
        } else {
            retired_.push_back({i, position, token});
        }
    }
    return forgotten;
}

template <typename Address>
std::vector<typename BasicNeighborTable<Address>::Row> BasicNeighborTable<Address>::rows() const
{
    std::vector<Row> out;
    for (uint32_t i = 0; i < used_; ++i) {
        const Entry& e = entries_[i];
        const Address ip = e.ip.load();
        if (ip == Address{}) continue;
        out.push_back({ip, word_to_mac(e.mac_word.load(std::memory_order_acquire)), e.port, e.is_static});
    }
    return out;
}

template class BasicNeighborTable<rte_be32_t>;
template class BasicNeighborTable<Ipv6Address>;

}  // namespace fulcrum::dataplane
