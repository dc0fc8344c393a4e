// A worker's connection table. Only its own worker reads and writes it, so it needs no locks.
// Each connection is found from either direction: the client's packets by the key they arrive
// with, a NAT real server's replies by theirs.
#pragma once

#include <rte_byteorder.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "dataplane/packet.hpp"
#include "dataplane/types.hpp"

struct rte_hash;

namespace fulcrum::dataplane {

// Just enough TCP state to pick a timeout; issue #4 brings IPVS's full state machine.
enum class TcpPhase : uint8_t { opening, established, closing };

struct Connection {
    FlowKey client_key;          // client -> VIP, as the client sends it
    FlowKey reply_key;           // real server -> client, as a NAT real server answers
    rte_be32_t real_ip = 0;
    rte_be16_t real_port = 0;
    ForwardMethod method = ForwardMethod::nat;
    TcpPhase tcp_phase = TcpPhase::opening;
    uint32_t service_id = 0;     // stable ids: a connection outlives the snapshot it was made in
    uint32_t real_server_id = 0;
    uint64_t last_seen = 0;      // TSC
    bool in_use = false;
};

class ConnTable {
public:
    struct Hit {
        Connection* conn = nullptr;
        bool is_reply = false;   // the packet came from the real server
    };
    enum class InsertResult : uint8_t { ok, full, conflict };

    ConnTable() = default;
    ConnTable(const ConnTable&) = delete;
    ConnTable& operator=(const ConnTable&) = delete;
    ~ConnTable();

    // Allocates room for `capacity` connections. False with rte_errno set on failure.
    bool init(const char* name, uint32_t capacity, int socket);

    Hit lookup(const FlowKey& key) const;

    // Looks up `count` keys (at most 64) at once, which lets rte_hash overlap their cache misses.
    void lookup_bulk(const FlowKey* const* keys, unsigned count, Hit* hits) const;

    // Adds a connection for `client_key` (and, for NAT, `reply_key`). On ok, `*out` is the new
    // connection with its keys set; the caller fills in the rest.
    InsertResult insert(const FlowKey& client_key, const FlowKey* reply_key, Connection** out);

    void remove(Connection* conn);

    // Visits the next `budget` slots (wrapping) and removes connections for which
    // is_expired(conn) is true. Returns how many were removed.
    template <typename IsExpired>
    uint32_t expire_some(uint32_t budget, IsExpired&& is_expired)
    {
        uint32_t removed = 0;
        for (uint32_t i = 0; i < budget && capacity_ > 0; ++i) {
            Connection& c = slots_[expiry_cursor_];
            if (++expiry_cursor_ == capacity_) expiry_cursor_ = 0;
            if (c.in_use && is_expired(c)) {
                remove(&c);
                ++removed;
            }
        }
        return removed;
    }

    uint32_t size() const { return capacity_ - static_cast<uint32_t>(free_.size()); }
    uint32_t capacity() const { return capacity_; }

private:
    rte_hash* index_ = nullptr;  // FlowKey -> slot index << 1 | is_reply
    std::unique_ptr<Connection[]> slots_;
    std::vector<uint32_t> free_;  // reserved up front: pushing and popping never allocates
    uint32_t capacity_ = 0;
    uint32_t expiry_cursor_ = 0;
};

}  // namespace fulcrum::dataplane
