#include "dataplane/conn_table.hpp"

#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>

namespace fulcrum::dataplane {

namespace {

void* encode(uint32_t slot, bool is_reply)
{
    return reinterpret_cast<void*>((uintptr_t{slot} << 1) | (is_reply ? 1 : 0));
}

ConnTable::Hit decode(Connection* slots, void* data)
{
    const auto value = reinterpret_cast<uintptr_t>(data);
    return {&slots[value >> 1], (value & 1) != 0};
}

}  // namespace

ConnTable::~ConnTable() { rte_hash_free(index_); }

bool ConnTable::init(const char* name, uint32_t capacity, int socket)
{
    rte_malloc_socket_stats before{}, after{};
    rte_malloc_get_socket_stats(socket < 0 ? 0 : socket, &before);
    rte_hash_parameters params{};
    params.name = name;
    // Up to two keys per connection (NAT); a little head-room keeps cuckoo insertions from
    // failing before the slots run out.
    params.entries = capacity * 2 + 1024;
    params.key_len = sizeof(FlowKey);
    params.hash_func = rte_hash_crc;
    params.socket_id = socket;
    index_ = rte_hash_create(&params);
    if (index_ == nullptr) return false;
    rte_malloc_get_socket_stats(socket < 0 ? 0 : socket, &after);
    slots_ = std::make_unique<Connection[]>(capacity);
    free_.reserve(capacity);
    for (uint32_t i = capacity; i > 0; --i) free_.push_back(i - 1);
    wheel_.assign(wheel_slots + 1, none);
    capacity_ = capacity;
    memory_bytes_ = (after.heap_allocsz_bytes - before.heap_allocsz_bytes) +
                    capacity * (sizeof(Connection) + sizeof(uint32_t)) + wheel_.size() * sizeof(uint32_t);
    return true;
}

ConnTable::Hit ConnTable::lookup(const FlowKey& key) const
{
    void* data = nullptr;
    if (rte_hash_lookup_data(index_, &key, &data) < 0) return {};
    return decode(slots_.get(), data);
}

void ConnTable::lookup_bulk(const FlowKey* const* keys, unsigned count, Hit* hits) const
{
    if (count == 0) return;
    void* data[RTE_HASH_LOOKUP_BULK_MAX];
    uint64_t found = 0;
    rte_hash_lookup_bulk_data(index_, reinterpret_cast<const void**>(const_cast<const FlowKey**>(keys)), count, &found, data);
    for (unsigned i = 0; i < count; ++i) hits[i] = (found >> i) & 1 ? decode(slots_.get(), data[i]) : Hit{};
}

ConnTable::InsertResult ConnTable::insert(const FlowKey& client_key, rte_be32_t real_ip, rte_be16_t real_port,
                                          ForwardMethod method, Tick now, Tick timeout, Connection** out)
{
    if (free_.empty()) return InsertResult::full;
    Connection candidate;
    candidate.client_key = client_key;
    candidate.real_ip = real_ip;
    candidate.real_port = real_port;
    candidate.method = method;
    const bool nat = method == ForwardMethod::nat;
    const FlowKey reply_key = candidate.reply_key();
    // Two clients may reach one real server port with the same source port through two
    // VIPs; their replies would be indistinguishable, so the second is refused.
    if (rte_hash_lookup(index_, &client_key) >= 0) return InsertResult::conflict;
    if (nat && rte_hash_lookup(index_, &reply_key) >= 0) return InsertResult::conflict;

    const uint32_t slot = free_.back();
    if (rte_hash_add_key_data(index_, &client_key, encode(slot, false)) < 0) return InsertResult::full;
    if (nat && rte_hash_add_key_data(index_, &reply_key, encode(slot, true)) < 0) {
        rte_hash_del_key(index_, &client_key);
        return InsertResult::full;
    }
    free_.pop_back();
    Connection& c = slots_[slot];
    c = candidate;
    c.in_use = true;
    c.last_seen = now;
    if (!wheel_started_) {
        wheel_cursor_ = now;
        wheel_started_ = true;
    }
    link(&c, now + timeout);
    *out = &c;
    return InsertResult::ok;
}

void ConnTable::remove(Connection* conn)
{
    rte_hash_del_key(index_, &conn->client_key);
    if (conn->method == ForwardMethod::nat) {
        const FlowKey reply_key = conn->reply_key();
        rte_hash_del_key(index_, &reply_key);
    }
    unlink(conn);
    conn->in_use = false;
    free_.push_back(index_of(conn));
}

void ConnTable::reschedule(Connection* conn, Tick deadline)
{
    unlink(conn);
    link(conn, deadline);
}

void ConnTable::link(Connection* c, Tick deadline)
{
    // A deadline the wheel has already passed goes into the next slot it will run.
    if (static_cast<int32_t>(deadline - wheel_cursor_) < 0) deadline = wheel_cursor_;
    c->wheel_slot = static_cast<uint16_t>(deadline % wheel_slots);
    uint32_t& head = wheel_[c->wheel_slot];
    const uint32_t index = index_of(c);
    c->wheel_prev = none;
    c->wheel_next = head;
    if (head != none) slots_[head].wheel_prev = index;
    head = index;
}

void ConnTable::unlink(Connection* c)
{
    if (c->wheel_prev != none) {
        slots_[c->wheel_prev].wheel_next = c->wheel_next;
    } else {
        wheel_[c->wheel_slot] = c->wheel_next;
        if (c->wheel_next != none) slots_[c->wheel_next].wheel_slot = c->wheel_slot;  // the new head
    }
    if (c->wheel_next != none) slots_[c->wheel_next].wheel_prev = c->wheel_prev;
}

}  // namespace fulcrum::dataplane
