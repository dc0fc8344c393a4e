// The neighbour (ARP) table shared by all workers. The control core is its only writer (ARP
// that workers receive reaches it through a ring); workers read it without locks. Entries are
// never removed, only overwritten, so a reader can hold an entry pointer safely.
#pragma once

#include <rte_byteorder.h>
#include <rte_ether.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

struct rte_hash;

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
        rte_be32_t ip = 0;
        uint16_t port = 0;
        bool is_static = false;
        // The MAC in the low 48 bits, bit 48 set once resolved: one atomic word, so a reader
        // never sees half of an update.
        std::atomic<uint64_t> mac_word{0};
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
    // table, so a worker may keep the pointer (its per-core neighbour cache does).
    const Entry* find(rte_be32_t ip) const;

    // The entry's MAC if it is resolved.
    static bool mac_of(const Entry& entry, rte_ether_addr& mac);

    // Control core only. A learned entry never replaces a static one. Returns false when the
    // table is full.
    bool update(rte_be32_t ip, const rte_ether_addr& mac, uint16_t port, bool is_static);

    // Control core only: every resolved entry, for logs and the console.
    std::vector<Row> rows() const;

private:
    NeighborTable() = default;
    static constexpr uint64_t resolved_bit = uint64_t{1} << 48;

    rte_hash* index_ = nullptr;
    std::unique_ptr<Entry[]> entries_;
    uint32_t capacity_ = 0;
    uint32_t used_ = 0;
};

}  // namespace fulcrum::dataplane
