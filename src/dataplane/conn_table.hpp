// A worker's connection table. Only its own worker reads and writes it, so it needs no locks.
// Each connection is found from either direction: the client's packets by the key they arrive
// with, a NAT real server's replies by theirs (FlowIndex). Idle connections expire through a
// timer wheel.
#pragma once

#include <rte_byteorder.h>

#include <cstdint>
#include <memory>
#include <type_traits>
#include <vector>

#include "dataplane/flow_index.hpp"
#include "dataplane/ipv6.hpp"
#include "dataplane/packet.hpp"
#include "common/tcp_state.hpp"
#include "common/types.hpp"

namespace fulcrum::dataplane {

// Time as the connection table counts it: ticks of 1/64 s (about 16 ms). 32 bits of ticks last
// two years, far beyond any timeout.
using Tick = uint32_t;
inline constexpr unsigned ticks_per_second = 64;

// One connection of either family: Key is FlowKey (IPv4, 56 bytes) or FlowKey6 (IPv6, 92 bytes).
// The reply key of a NAT connection is not stored: it is (real server -> client), which the
// fields below give.
template <typename Key>
struct BasicConnection {
    using Address = typename Key::Address;
    Key client_key;              // client -> VIP, as the client sends it
    Address real_ip{};
    rte_be16_t real_port = 0;
    ForwardMethod method = ForwardMethod::nat;
    bool in_use = false;
    TcpConnState tcp;            // TCP only
    uint16_t wheel_slot = 0;     // the timer wheel list it heads (kept only while it is the head)
    uint16_t service_id = 0;     // stable ids (below 65536): a connection outlives its snapshot
    uint16_t real_server_id = 0;
    uint32_t template_slot = UINT32_MAX;  // the persistence template it is controlled by, if any
    Tick last_seen = 0;
    uint32_t wheel_next = 0;     // that slot's doubly-linked list, by connection index
    uint32_t wheel_prev = 0;
    // Packets from the client (IPVS's in_pkts): the drop_entry defence spares connections that
    // carried more than a few, and connection sync sends at the 3rd, 53rd, ... Wraps after 2^32,
    // as IPVS's.
    uint32_t in_packets = 0;
    // The TCP state connection sync last sent (IPVS's old_state): a change to another state is
    // sent at the next packet from the client.
    TcpState synced_state = TcpState::none;
    // Installed from another director's sync record, and no client packet of it seen here since
    // (while this director sends sync).
    bool installed_by_sync = false;

    // Whether it counts in its real server's ActiveConn (TCP in an active state) or InActConn.
    bool counts_active() const { return client_key.proto == IPPROTO_TCP && tcp_state_is_active(tcp.state); }

    Key reply_key() const
    {
        return {real_ip, client_key.src_ip, real_port, client_key.src_port, client_key.proto, {0, 0, 0}};
    }
};
using Connection = BasicConnection<FlowKey>;
using Connection6 = BasicConnection<FlowKey6>;
static_assert(sizeof(Connection) == 56);
static_assert(sizeof(Connection6) == 92);

// A worker's table of one family's connections (ConnTable, ConnTable6).
template <typename Conn>
class BasicConnTable {
public:
    using Key = std::remove_cvref_t<decltype(Conn::client_key)>;
    using Address = typename Conn::Address;
    using Connection = Conn;
    struct Hit {
        Connection* conn = nullptr;
        bool is_reply = false;   // the packet came from the real server
    };
    enum class InsertResult : uint8_t { ok, full, conflict };

    BasicConnTable() = default;
    BasicConnTable(const BasicConnTable&) = delete;
    BasicConnTable& operator=(const BasicConnTable&) = delete;

    // Allocates room for `capacity` connections. False when the memory cannot be had.
    bool init(uint32_t capacity, int socket);

    Hit lookup(const Key& key) const;

    // Looks up `count` keys (at most rx_burst_size) at once: every bucket is prefetched, then
    // every candidate connection, then the keys are compared, so the misses overlap.
    void lookup_bulk(const Key* const* keys, unsigned count, Hit* hits) const;

    // Adds a connection for `client_key` towards real_ip:real_port (a NAT connection is also
    // found by its reply key). On ok, `*out` has its keys, method, last_seen = now and its wheel
    // slot set, for a deadline `timeout` ticks away; the caller fills in the rest.
    InsertResult insert(const Key& client_key, const Address& real_ip, rte_be16_t real_port,
                        ForwardMethod method, Tick now, Tick timeout, Connection** out);

    void remove(Connection* conn);

    // Moves a connection to the wheel slot of a new, possibly earlier, deadline (when a state
    // change shortens its timeout). Packets that only refresh last_seen need not call this.
    void reschedule(Connection* conn, Tick deadline);

    // Runs the wheel up to `now`, looking at no more than `budget` connections: each one found in
    // a slot whose time has come is expired if timeout_of(conn) ticks have passed since it was
    // last seen (on_expire(conn) is called, then it is removed), or moved to the slot of its
    // real deadline. Returns the number expired. Work left over continues on the next call.
    template <typename TimeoutOf, typename OnExpire>
    uint32_t expire(Tick now, uint32_t budget, TimeoutOf&& timeout_of, OnExpire&& on_expire);

    // The connection in slot `i` (below capacity()), in use or not: for scans that look at a
    // window of the table instead of all of it.
    Connection& slot(uint32_t i) { return slots_[i]; }

    uint32_t size() const { return capacity_ - static_cast<uint32_t>(free_.size()); }
    uint32_t capacity() const { return capacity_; }

    // Bytes this table holds per connection it can hold, everything included.
    double bytes_per_connection() const { return static_cast<double>(memory_bytes_) / capacity_; }

private:
    static constexpr uint32_t wheel_slots = 8192;  // 128 s of 1/64 s; longer timeouts go round again
    static constexpr uint32_t due_list = wheel_slots;  // the extra list: a tick's connections being worked
    static constexpr uint32_t none = UINT32_MAX;

    uint32_t index_of(const Connection* c) const { return static_cast<uint32_t>(c - slots_.get()); }
    void link(Connection* c, Tick deadline);
    void unlink(Connection* c);

    uint32_t find(const Key& key, uint32_t hash) const;
    bool holds(uint32_t value, const Key& key) const
    {
        const Connection& c = slots_[value >> 1];
        // Not one comparison of a conditional: that would copy the client key first.
        return c.in_use && ((value & 1) ? c.reply_key() == key : c.client_key == key);
    }

    FlowIndex index_;            // flow hash -> slot index << 1 | is_reply
    struct FreeDeleter {
        void operator()(void* p) const;
    };
    std::unique_ptr<Connection[], FreeDeleter> slots_;  // DPDK memory: hugepages where EAL has them
    std::vector<uint32_t> free_;  // reserved up front: pushing and popping never allocates
    // Head of each slot's list, then of the due list. Only a list's head keeps its wheel_slot
    // up to date (it is all unlink needs).
    std::vector<uint32_t> wheel_;
    uint32_t capacity_ = 0;
    Tick wheel_cursor_ = 0;      // the next tick whose slot has not been taken out
    bool wheel_started_ = false;
    size_t memory_bytes_ = 0;
};

using ConnTable = BasicConnTable<Connection>;
using ConnTable6 = BasicConnTable<Connection6>;
extern template class BasicConnTable<Connection>;
extern template class BasicConnTable<Connection6>;

template <typename Conn>
template <typename TimeoutOf, typename OnExpire>
uint32_t BasicConnTable<Conn>::expire(Tick now, uint32_t budget, TimeoutOf&& timeout_of, OnExpire&& on_expire)
{
    if (!wheel_started_) {
        wheel_cursor_ = now;
        wheel_started_ = true;
    }
    uint32_t expired = 0;
    for (uint32_t looked = 0; looked < budget;) {
        uint32_t& due = wheel_[due_list];
        if (due == none) {
            if (static_cast<int32_t>(now - wheel_cursor_) < 0) break;
            // Take the tick's whole list out of the wheel first, so that a connection relinked
            // a full turn ahead lands in the emptied slot, not in the list being worked.
            uint32_t& head = wheel_[wheel_cursor_ % wheel_slots];
            due = head;
            head = none;
            if (due != none) slots_[due].wheel_slot = due_list;
            ++wheel_cursor_;
            continue;
        }
        Connection* c = &slots_[due];
        ++looked;
        const Tick deadline = c->last_seen + timeout_of(*c);
        if (static_cast<int32_t>(deadline - now) <= 0) {
            on_expire(*c);
            remove(c);
            ++expired;
        } else {
            unlink(c);
            link(c, deadline);
        }
    }
    return expired;
}

}  // namespace fulcrum::dataplane
