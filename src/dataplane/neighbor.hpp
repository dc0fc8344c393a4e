// The neighbour (ARP) table shared by all workers. The control core is its only writer (ARP
// that workers receive reaches it through a ring); workers read it without locks and keep entry
// pointers in a per-core cache. A learned entry that has been neither used nor confirmed for a
// while is forgotten, as the kernel's neighbour garbage collection (gc_stale_time): its address
// is cleared at once, so a cached pointer no longer matches, and its slot is reused only after
// every worker has passed a quiescent state (rte_rcu_qsbr), so no reader can still be reading
// it for the address it had.
#pragma once

#include <rte_byteorder.h>
#include <rte_ether.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

struct rte_hash;
struct rte_rcu_qsbr;

namespace fulcrum::dataplane {

// What a worker tells the control core when it sees an ARP packet from a neighbour.
struct NeighborUpdate {
    rte_be32_t ip;
    rte_ether_addr mac;
    uint16_t port;
};

class NeighborTable {
public:
    struct Entry {
        std::atomic<rte_be32_t> ip{0};   // 0: free, or forgotten and waiting to be reused
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
        rte_be32_t ip;
        rte_ether_addr mac;
        uint16_t port;
        bool is_static;
    };

    // nullptr when DPDK cannot allocate the index (rte_errno says why).
    static std::unique_ptr<NeighborTable> create(const char* name, uint32_t capacity, int socket);
    ~NeighborTable();

    // Any lcore: the MAC of `ip` if it is resolved.
    bool lookup(rte_be32_t ip, rte_ether_addr& mac) const;

    // Any lcore: the entry of `ip`, resolved or not, or nullptr. Entries live as long as the
    // table, so a worker may keep the pointer (its per-core neighbour cache does), as long as
    // it checks the entry's address before each use (mac_for).
    const Entry* find(rte_be32_t ip) const;

    // The entry's MAC if it is resolved.
    static bool mac_of(const Entry& entry, rte_ether_addr& mac);

    // Workers: the MAC of `ip` from an entry found (and maybe cached) earlier, if the entry is
    // still `ip`'s and resolved; marks it used at `now_s`.
    static bool mac_for(const Entry& entry, rte_be32_t ip, uint32_t now_s, rte_ether_addr& mac);

    // Control core only. A learned entry never replaces a static one; `now_s` is when the
    // neighbour was heard. Returns false when the table is full.
    bool update(rte_be32_t ip, const rte_ether_addr& mac, uint16_t port, bool is_static, uint32_t now_s = 0);

    // Control core only, about once a second: forgets learned entries neither used nor confirmed
    // for `stale_s` seconds, and reuses the slots of those forgotten earlier once every worker
    // registered with `rcu` has passed a quiescent state (at once when `rcu` is nullptr: no
    // concurrent readers, as in tests). Returns how many it forgot.
    uint32_t collect(uint32_t now_s, uint32_t stale_s, rte_rcu_qsbr* rcu);

    uint32_t size() const { return used_ - static_cast<uint32_t>(free_.size() + retired_.size()); }

    // Control core only: every resolved entry, for logs and the console.
    std::vector<Row> rows() const;

private:
    NeighborTable() = default;
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

}  // namespace fulcrum::dataplane
