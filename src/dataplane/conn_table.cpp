#include "dataplane/conn_table.hpp"

#include <rte_malloc.h>
#include <rte_prefetch.h>

#include <new>

namespace fulcrum::dataplane {

template <typename Conn>
void BasicConnTable<Conn>::FreeDeleter::operator()(void* p) const
{
    rte_free(p);
}

namespace {

template <typename Conn>
typename BasicConnTable<Conn>::Hit decode(Conn* slots, uint32_t value)
{
    return {&slots[value >> 1], (value & 1) != 0};
}

}  // namespace

template <typename Conn>
bool BasicConnTable<Conn>::init(uint32_t capacity, int socket)
{
    // Up to two keys per connection (NAT).
    if (!index_.init(capacity * 2, socket)) return false;
    auto* slots = static_cast<Conn*>(
        rte_malloc_socket("connections", size_t{capacity} * sizeof(Connection), RTE_CACHE_LINE_SIZE, socket));
    if (slots == nullptr) return false;
    for (uint32_t i = 0; i < capacity; ++i) new (&slots[i]) Connection();
    slots_.reset(slots);
    free_.reserve(capacity);
    for (uint32_t i = capacity; i > 0; --i) free_.push_back(i - 1);
    wheel_.assign(wheel_slots + 1, none);
    capacity_ = capacity;
    memory_bytes_ = index_.memory_bytes() + capacity * (sizeof(Connection) + sizeof(uint32_t)) +
                    wheel_.size() * sizeof(uint32_t);
    return true;
}

template <typename Conn>
uint32_t BasicConnTable<Conn>::find(const Key& key, uint32_t hash) const
{
    return index_.find(hash, [&](uint32_t value) { return holds(value, key); });
}

template <typename Conn>
typename BasicConnTable<Conn>::Hit BasicConnTable<Conn>::lookup(const Key& key) const
{
    const uint32_t value = find(key, FlowIndex::hash(key));
    return value == FlowIndex::none ? Hit{} : decode<Conn>(slots_.get(), value);
}

template <typename Conn>
void BasicConnTable<Conn>::lookup_bulk(const Key* const* keys, unsigned count, Hit* hits) const
{
    uint32_t hashes[64];
    uint32_t candidates[64];
    for (unsigned i = 0; i < count; ++i) {
        hashes[i] = FlowIndex::hash(*keys[i]);
        index_.prefetch(hashes[i]);
    }
    for (unsigned i = 0; i < count; ++i) {
        candidates[i] = index_.first_candidate(hashes[i]);
        if (candidates[i] == FlowIndex::none) continue;
        const Connection* c = &slots_[candidates[i] >> 1];
        rte_prefetch0(c);
        // A connection is not aligned to cache lines: an IPv4 one (56 bytes) spans two of
        // them now and then, an IPv6 one (92) always two or three, and the key's comparison and
        // the packet's work read all of them. Each line is fetched (fulcrum-bench, 1 M flows).
        if constexpr (sizeof(Connection) > RTE_CACHE_LINE_SIZE)
            rte_prefetch0(reinterpret_cast<const char*>(c) + RTE_CACHE_LINE_SIZE);
        rte_prefetch0(reinterpret_cast<const char*>(c) + sizeof(Connection) - 1);
    }
    for (unsigned i = 0; i < count; ++i) {
        uint32_t value = candidates[i];
        // The first candidate is almost always the one; anything else (a hash collision, a
        // key in its second bucket, a miss) takes the full search.
        if (value == FlowIndex::none || !holds(value, *keys[i])) value = find(*keys[i], hashes[i]);
        hits[i] = value == FlowIndex::none ? Hit{} : decode<Conn>(slots_.get(), value);
    }
}

template <typename Conn>
typename BasicConnTable<Conn>::InsertResult BasicConnTable<Conn>::insert(const Key& client_key, const Address& real_ip,
                                                                        rte_be16_t real_port, ForwardMethod method,
                                                                        Tick now, Tick timeout, Connection** out)
{
    if (free_.empty()) return InsertResult::full;
    Connection candidate;
    candidate.client_key = client_key;
    candidate.real_ip = real_ip;
    candidate.real_port = real_port;
    candidate.method = method;
    const bool nat = replies_through_director(method);
    const Key reply_key = candidate.reply_key();
    const uint32_t client_hash = FlowIndex::hash(client_key);
    const uint32_t reply_hash = nat ? FlowIndex::hash(reply_key) : 0;
    // Two clients may reach one real server port with the same source port through two
    // VIPs; their replies would be indistinguishable, so the second is refused.
    if (find(client_key, client_hash) != FlowIndex::none) return InsertResult::conflict;
    if (nat && find(reply_key, reply_hash) != FlowIndex::none) return InsertResult::conflict;

    const uint32_t slot = free_.back();
    if (!index_.insert(client_hash, slot << 1)) return InsertResult::full;
    if (nat && !index_.insert(reply_hash, (slot << 1) | 1)) {
        index_.erase(client_hash, slot << 1);
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

template <typename Conn>
void BasicConnTable<Conn>::remove(Connection* conn)
{
    const uint32_t slot = index_of(conn);
    index_.erase(FlowIndex::hash(conn->client_key), slot << 1);
    if (replies_through_director(conn->method)) index_.erase(FlowIndex::hash(conn->reply_key()), (slot << 1) | 1);
    unlink(conn);
    conn->in_use = false;
    free_.push_back(slot);
}

template <typename Conn>
void BasicConnTable<Conn>::reschedule(Connection* conn, Tick deadline)
{
    unlink(conn);
    link(conn, deadline);
}

template <typename Conn>
void BasicConnTable<Conn>::link(Connection* c, Tick deadline)
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

template <typename Conn>
void BasicConnTable<Conn>::unlink(Connection* c)
{
    if (c->wheel_prev != none) {
        slots_[c->wheel_prev].wheel_next = c->wheel_next;
    } else {
        wheel_[c->wheel_slot] = c->wheel_next;
        if (c->wheel_next != none) slots_[c->wheel_next].wheel_slot = c->wheel_slot;  // the new head
    }
    if (c->wheel_next != none) slots_[c->wheel_next].wheel_prev = c->wheel_prev;
}

template class BasicConnTable<Connection>;
template class BasicConnTable<Connection6>;

}  // namespace fulcrum::dataplane
