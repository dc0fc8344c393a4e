// The neighbour table shared by all workers, one per family: ARP's (NeighborTable) and neighbour
// discovery's (Neighbor6Table). The control core is its only writer (ARP and neighbour
// advertisements that workers receive reach it through a ring); workers read it without locks and keep entry
// pointers in a per-core cache. A learned entry that has been neither used nor confirmed for a
// while is forgotten, as the kernel's neighbour garbage collection (gc_stale_time): its address
// is cleared at once, so a cached pointer no longer matches, and its slot is reused only after
// every worker has passed a quiescent state (rte_rcu_qsbr), so no reader can still be reading
// it for the address it had.
#pragma once

#include <rte_byteorder.h>
#include <rte_ether.h>

#include <atomic>
#include <cstring>
#include <cstdint>
#include <memory>
#include <vector>

#include "dataplane/ipv6.hpp"

struct rte_hash;
struct rte_rcu_qsbr;

namespace fulcrum::dataplane {

// An address a reader may compare while the control core rewrites it: IPv4's in one atomic word,
// IPv6's in two. The writer only ever replaces a live address with zero, and zero with another
// address once no reader can still be comparing it against the old one (the table's RCU wait),
// so a reader that sees the address it is looking for saw it whole.
template <typename Address>
struct AddressCell;

template <>
struct AddressCell<rte_be32_t> {
    std::atomic<rte_be32_t> word{0};
    rte_be32_t load() const { return word.load(std::memory_order_acquire); }
    void store(rte_be32_t a) { word.store(a, std::memory_order_release); }
    bool is(rte_be32_t a) const { return load() == a; }
};

template <>
struct AddressCell<Ipv6Address> {
    std::atomic<uint64_t> words[2]{};
    Ipv6Address load() const
    {
        const uint64_t w[2] = {words[0].load(std::memory_order_acquire), words[1].load(std::memory_order_acquire)};
        Ipv6Address a;
        std::memcpy(a.bytes.data(), w, sizeof w);
        return a;
    }
    void store(const Ipv6Address& a)
    {
        uint64_t w[2];
        std::memcpy(w, a.bytes.data(), sizeof w);
        words[0].store(w[0], std::memory_order_release);
        words[1].store(w[1], std::memory_order_release);
    }
    bool is(const Ipv6Address& a) const { return load() == a; }
};

// What a worker tells the control core when it hears a neighbour (ARP, or a neighbour
// solicitation or advertisement).
template <typename Address>
struct BasicNeighborUpdate {
    Address ip;
    rte_ether_addr mac;
    uint16_t port;
};
using NeighborUpdate = BasicNeighborUpdate<rte_be32_t>;
using Neighbor6Update = BasicNeighborUpdate<Ipv6Address>;

template <typename Address>
class BasicNeighborTable {
public:
    using Update = BasicNeighborUpdate<Address>;
    struct Entry {
        AddressCell<Address> ip;         // 0 (::): free, or forgotten and waiting to be reused
        uint16_t port = 0;
        bool is_static = false;
        // The MAC in the low 48 bits, bit 48 set once resolved: one atomic word, so a reader
        // never sees half of an update.
        std::atomic<uint64_t> mac_word{0};
        // The last second a worker sent to it (the kernel's neigh->used), and the last second
        // its owner's ARP was heard (neigh->confirmed).
        mutable std::atomic<uint32_t> used_s{0};
        uint32_t confirmed_s = 0;
    };
    struct Row {
        Address ip;
        rte_ether_addr mac;
        uint16_t port;
        bool is_static;
    };

    // nullptr when DPDK cannot allocate the index (rte_errno says why).
    static std::unique_ptr<BasicNeighborTable> create(const char* name, uint32_t capacity, int socket);
    ~BasicNeighborTable();

    // Any lcore: the MAC of `ip` if it is resolved.
    bool lookup(const Address& ip, rte_ether_addr& mac) const;

    // Any lcore: the entry of `ip`, resolved or not, or nullptr. Entries live as long as the
    // table, so a worker may keep the pointer (its per-core neighbour cache does), as long as
    // it checks the entry's address before each use (mac_for).
    const Entry* find(const Address& ip) const;

    // The entry's MAC if it is resolved.
    static bool mac_of(const Entry& entry, rte_ether_addr& mac);

    // Workers: the MAC of `ip` from an entry found (and maybe cached) earlier, if the entry is
    // still `ip`'s and resolved; marks it used at `now_s`.
    static bool mac_for(const Entry& entry, const Address& ip, uint32_t now_s, rte_ether_addr& mac);

    // Control core only. A learned entry never replaces a static one; `now_s` is when the
    // neighbour was heard. Returns false when the table is full.
    bool update(const Address& ip, const rte_ether_addr& mac, uint16_t port, bool is_static, uint32_t now_s = 0);

    // Control core only, about once a second: forgets learned entries neither used nor confirmed
    // for `stale_s` seconds, and reuses the slots of those forgotten earlier once every worker
    // registered with `rcu` has passed a quiescent state (at once when `rcu` is nullptr: no
    // concurrent readers, as in tests). Returns how many it forgot.
    uint32_t collect(uint32_t now_s, uint32_t stale_s, rte_rcu_qsbr* rcu);

    uint32_t size() const { return used_ - static_cast<uint32_t>(free_.size() + retired_.size()); }

    // Control core only: every resolved entry, for logs and the console.
    std::vector<Row> rows() const;

private:
    BasicNeighborTable() = default;
    static constexpr uint64_t resolved_bit = uint64_t{1} << 48;

    // A forgotten entry: its slot and hash key position, free once the workers are past `token`.
    struct Retired {
        uint32_t entry;
        int32_t key_position;
        uint64_t token;
    };

    rte_hash* index_ = nullptr;
    std::unique_ptr<Entry[]> entries_;
    uint32_t capacity_ = 0;
    uint32_t used_ = 0;                 // entries_[0, used_) have been handed out
    std::vector<uint32_t> free_;        // of those, the ones free again
    std::vector<Retired> retired_;
};

using NeighborTable = BasicNeighborTable<rte_be32_t>;
using Neighbor6Table = BasicNeighborTable<Ipv6Address>;
extern template class BasicNeighborTable<rte_be32_t>;
extern template class BasicNeighborTable<Ipv6Address>;

}  // namespace fulcrum::dataplane
