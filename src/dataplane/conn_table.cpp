#include "dataplane/conn_table.hpp"

#include <rte_hash.h>
#include <rte_hash_crc.h>

namespace fulcrum::dataplane {

namespace {

void* encode(uint32_t slot, bool is_reply)
{
    return reinterpret_cast<void*>((uintptr_t{slot} << 1) | (is_reply ? 1 : 0));
}

}  // namespace

ConnTable::~ConnTable() { rte_hash_free(index_); }

bool ConnTable::init(const char* name, uint32_t capacity, int socket)
{
    rte_hash_parameters params{};
    params.name = name;
    // Two keys per NAT connection; a little head-room keeps cuckoo insertions from failing
    // before the slots run out.
    params.entries = capacity * 2 + 1024;
    params.key_len = sizeof(FlowKey);
    params.hash_func = rte_hash_crc;
    params.socket_id = socket;
    index_ = rte_hash_create(&params);
    if (index_ == nullptr) return false;
    slots_ = std::make_unique<Connection[]>(capacity);
    free_.reserve(capacity);
    for (uint32_t i = capacity; i > 0; --i) free_.push_back(i - 1);
    capacity_ = capacity;
    return true;
}

ConnTable::Hit ConnTable::lookup(const FlowKey& key) const
{
    void* data = nullptr;
    if (rte_hash_lookup_data(index_, &key, &data) < 0) return {};
    const auto value = reinterpret_cast<uintptr_t>(data);
    return {&slots_[value >> 1], (value & 1) != 0};
}

void ConnTable::lookup_bulk(const FlowKey* const* keys, unsigned count, Hit* hits) const
{
    if (count == 0) return;
    void* data[RTE_HASH_LOOKUP_BULK_MAX];
    uint64_t found = 0;
    rte_hash_lookup_bulk_data(index_, reinterpret_cast<const void**>(const_cast<const FlowKey**>(keys)), count, &found, data);
    for (unsigned i = 0; i < count; ++i) {
        if ((found >> i) & 1) {
            const auto value = reinterpret_cast<uintptr_t>(data[i]);
            hits[i] = {&slots_[value >> 1], (value & 1) != 0};
        } else {
            hits[i] = {};
        }
    }
}

ConnTable::InsertResult ConnTable::insert(const FlowKey& client_key, const FlowKey* reply_key,
                                          Connection** out)
{
    if (free_.empty()) return InsertResult::full;
    // Two clients may reach one real server port with the same source port through two
    // VIPs; their replies would be indistinguishable, so the second is refused.
    if (rte_hash_lookup(index_, &client_key) >= 0) return InsertResult::conflict;
    if (reply_key != nullptr && rte_hash_lookup(index_, reply_key) >= 0) return InsertResult::conflict;

    const uint32_t slot = free_.back();
    if (rte_hash_add_key_data(index_, &client_key, encode(slot, false)) < 0) return InsertResult::full;
    if (reply_key != nullptr && rte_hash_add_key_data(index_, reply_key, encode(slot, true)) < 0) {
        rte_hash_del_key(index_, &client_key);
        return InsertResult::full;
    }
    free_.pop_back();
    Connection& c = slots_[slot];
    c = Connection{};
    c.client_key = client_key;
    if (reply_key != nullptr) c.reply_key = *reply_key;
    c.in_use = true;
    *out = &c;
    return InsertResult::ok;
}

void ConnTable::remove(Connection* conn)
{
    rte_hash_del_key(index_, &conn->client_key);
    if (conn->reply_key.proto != 0) rte_hash_del_key(index_, &conn->reply_key);
    conn->in_use = false;
    free_.push_back(static_cast<uint32_t>(conn - slots_.get()));
}

}  // namespace fulcrum::dataplane
