// The connection table alone: both directions, capacity, and the timer wheel's expiry.
#include <gtest/gtest.h>

#include <map>
#include <vector>

#include "dataplane/conn_table.hpp"

using namespace fulcrum;
using namespace fulcrum::dataplane;

namespace {

FlowKey client_key(uint32_t i, uint16_t vport = 80)
{
    return {rte_cpu_to_be_32(0xC6120000u + (i >> 16)), rte_cpu_to_be_32(0xC6120064u),
            rte_cpu_to_be_16(static_cast<uint16_t>(i)), rte_cpu_to_be_16(vport), IPPROTO_TCP, {0, 0, 0}};
}

class ConnTableTest : public ::testing::Test {
protected:
    void make(uint32_t capacity)
    {
        table_ = std::make_unique<ConnTable>();
        ASSERT_TRUE(table_->init(capacity, 0));
    }
    Connection* add(uint32_t i, Tick now, Tick timeout, ForwardMethod method = ForwardMethod::nat)
    {
        Connection* c = nullptr;
        EXPECT_EQ(table_->insert(client_key(i), rte_cpu_to_be_32(0xC613000B), rte_cpu_to_be_16(8080), method, now,
                                 timeout, &c),
                  ConnTable::InsertResult::ok);
        return c;
    }
    // Runs the wheel to `now` with a fixed timeout for every connection; returns the ids expired.
    std::vector<uint32_t> run_to(Tick now, Tick timeout, uint32_t budget = 1u << 20)
    {
        std::vector<uint32_t> gone;
        table_->expire(now, budget, [&](const Connection&) { return timeout; },
                       [&](const Connection& c) { gone.push_back(rte_be_to_cpu_16(c.client_key.src_port)); });
        return gone;
    }
    std::unique_ptr<ConnTable> table_;
};

}  // namespace

TEST_F(ConnTableTest, NatConnectionIsFoundFromBothSidesDrOnlyFromTheClient)
{
    make(16);
    Connection* nat = add(1, 100, 64);
    Connection* dr = add(2, 100, 64, ForwardMethod::dr);
    EXPECT_EQ(table_->lookup(client_key(1)).conn, nat);
    EXPECT_FALSE(table_->lookup(client_key(1)).is_reply);
    ConnTable::Hit reply = table_->lookup(nat->reply_key());
    EXPECT_EQ(reply.conn, nat);
    EXPECT_TRUE(reply.is_reply);
    EXPECT_EQ(table_->lookup(dr->reply_key()).conn, nullptr);
    table_->remove(nat);
    EXPECT_EQ(table_->lookup(client_key(1)).conn, nullptr);
    EXPECT_EQ(table_->lookup(nat->reply_key()).conn, nullptr);
    EXPECT_EQ(table_->size(), 1u);
}

TEST_F(ConnTableTest, FullTableRefusesAndRemovalMakesRoom)
{
    make(4);
    for (uint32_t i = 0; i < 4; ++i) add(i, 0, 64);
    Connection* c = nullptr;
    EXPECT_EQ(table_->insert(client_key(9), 1, 1, ForwardMethod::nat, 0, 64, &c), ConnTable::InsertResult::full);
    EXPECT_EQ(table_->insert(client_key(2), 1, 1, ForwardMethod::nat, 0, 64, &c), ConnTable::InsertResult::full);
    table_->remove(table_->lookup(client_key(2)).conn);
    EXPECT_EQ(table_->insert(client_key(9), 7, 7, ForwardMethod::nat, 0, 64, &c), ConnTable::InsertResult::ok);
    table_->remove(table_->lookup(client_key(0)).conn);
    // With room again, a key that is already there is a conflict.
    EXPECT_EQ(table_->insert(client_key(3), 8, 8, ForwardMethod::nat, 0, 64, &c), ConnTable::InsertResult::conflict);
    EXPECT_EQ(table_->size(), 3u);
    EXPECT_GT(table_->bytes_per_connection(), sizeof(Connection));
}

TEST_F(ConnTableTest, ExpiresAtItsDeadlineNotBefore)
{
    make(64);
    add(1, 1000, 10);
    add(2, 1000, 30);
    // Timeouts are computed when a slot comes due: connection 2 has 30 ticks, connection 1 10.
    auto timeout = [](const Connection& c) { return rte_be_to_cpu_16(c.client_key.src_port) == 1 ? Tick{10} : Tick{30}; };
    std::vector<uint32_t> gone;
    auto run = [&](Tick now) {
        table_->expire(now, 1024, timeout, [&](const Connection& c) { gone.push_back(rte_be_to_cpu_16(c.client_key.src_port)); });
    };
    run(1009);
    EXPECT_TRUE(gone.empty());
    run(1010);
    EXPECT_EQ(gone, std::vector<uint32_t>{1});
    run(1029);
    EXPECT_EQ(gone.size(), 1u);
    run(1030);
    EXPECT_EQ(gone, (std::vector<uint32_t>{1, 2}));
    EXPECT_EQ(table_->size(), 0u);
}

TEST_F(ConnTableTest, TimeoutsBeyondOneTurnOfTheWheel)
{
    make(8);
    // 900 s is seven turns of the 128 s wheel: the connection goes round until it is due.
    const Tick established = 900 * ticks_per_second;
    add(1, 0, established);
    for (Tick t = 0; t < established; t += 97) EXPECT_TRUE(run_to(t, established).empty()) << t;
    EXPECT_EQ(run_to(established, established), std::vector<uint32_t>{1});
}

TEST_F(ConnTableTest, TrafficPostponesExpiry)
{
    make(8);
    Connection* c = add(1, 0, 64);
    EXPECT_TRUE(run_to(50, 64).empty());
    c->last_seen = 50;  // a packet at tick 50
    EXPECT_TRUE(run_to(100, 64).empty());
    EXPECT_EQ(run_to(114, 64), std::vector<uint32_t>{1});
}

TEST_F(ConnTableTest, RescheduleToAnEarlierDeadline)
{
    make(8);
    Connection* c = add(1, 0, 900 * ticks_per_second);
    table_->reschedule(c, 10 * ticks_per_second);
    // The timeout that now applies (CLOSE: 10 s) is what the wheel asks for.
    EXPECT_EQ(run_to(10 * ticks_per_second, 10 * ticks_per_second), std::vector<uint32_t>{1});
}

TEST_F(ConnTableTest, BudgetSpreadsAMassExpiryOverCalls)
{
    make(10000);
    for (uint32_t i = 0; i < 10000; ++i) add(i, 5, 60);
    size_t calls = 0, total = 0;
    while (total < 10000 && calls < 100) {
        total += run_to(65, 60, 256).size();
        ++calls;
    }
    EXPECT_EQ(total, 10000u);
    EXPECT_EQ(calls, 40u);  // ceil(10000 / 256)
    EXPECT_EQ(table_->size(), 0u);
}

TEST_F(ConnTableTest, RemovingConnectionsWhileTheyAreDue)
{
    // Connections are removed by the packet path (port reuse) while their slot is being worked.
    make(64);
    std::vector<Connection*> cs;
    for (uint32_t i = 0; i < 20; ++i) cs.push_back(add(i, 0, 10));
    auto timeout = [](const Connection&) { return Tick{10}; };
    uint32_t expired = table_->expire(10, 5, timeout, [](const Connection&) {});
    EXPECT_EQ(expired, 5u);
    for (Connection* c : cs)
        if (c->in_use && rte_be_to_cpu_16(c->client_key.src_port) % 2 == 0) table_->remove(c);
    expired += table_->expire(10, 1000, timeout, [](const Connection&) {});
    EXPECT_EQ(table_->size(), 0u);
    EXPECT_LT(expired, 20u);
    // The table still works: new connections are tracked and expire.
    add(100, 10, 5);
    EXPECT_EQ(run_to(15, 5), std::vector<uint32_t>{100});
}

TEST(FlowIndexTest, MoreThanABucketOfOneHashSpillsToTheSecondBucketAndIsFound)
{
    // Sixteen values under one hash fill its primary bucket (8) and its secondary (8).
    FlowIndex index;
    ASSERT_TRUE(index.init(64, 0));
    const uint32_t hash = 0x2545f491;
    auto find = [&](uint32_t wanted) { return index.find(hash, [&](uint32_t v) { return v == wanted; }); };
    for (uint32_t v = 0; v < 16; ++v) ASSERT_TRUE(index.insert(hash, v)) << v;
    for (uint32_t v = 0; v < 16; ++v) EXPECT_EQ(find(v), v) << v;
    EXPECT_FALSE(index.insert(hash, 16));  // both buckets full
    EXPECT_EQ(find(16), FlowIndex::none);
    // Erasing from either bucket frees exactly that entry.
    EXPECT_TRUE(index.erase(hash, 12));
    EXPECT_TRUE(index.erase(hash, 3));
    EXPECT_FALSE(index.erase(hash, 12));
    EXPECT_EQ(find(12), FlowIndex::none);
    EXPECT_EQ(find(3), FlowIndex::none);
    for (uint32_t v : {0u, 7u, 8u, 11u, 13u, 15u}) EXPECT_EQ(find(v), v) << v;
    EXPECT_TRUE(index.insert(hash, 20));
    EXPECT_TRUE(index.insert(hash, 21));
    EXPECT_FALSE(index.insert(hash, 22));
    EXPECT_EQ(find(20), 20u);
    EXPECT_EQ(find(21), 21u);
}

TEST_F(ConnTableTest, KeysCrowdedIntoOneBucketAreFoundRefusedAgainAndRemoved)
{
    // 64 connections: up to 128 keys, at most half full, so 256 entries in 32 buckets. Twelve
    // client keys whose primary bucket is the same one: eight live there, the rest in their
    // secondary buckets.
    make(64);
    const uint32_t bucket_mask = 31;
    std::vector<FlowKey> crowded;
    for (uint32_t i = 0; crowded.size() < 12; ++i)
        if ((FlowIndex::hash(client_key(i)) & bucket_mask) == 5) crowded.push_back(client_key(i));
    Connection* c = nullptr;
    for (const FlowKey& k : crowded)
        ASSERT_EQ(table_->insert(k, rte_cpu_to_be_32(0xC613000B), rte_cpu_to_be_16(8080), ForwardMethod::dr, 0, 64, &c),
                  ConnTable::InsertResult::ok);
    const FlowKey* keys[12];
    ConnTable::Hit hits[12];
    for (size_t i = 0; i < crowded.size(); ++i) {
        keys[i] = &crowded[i];
        ASSERT_NE(table_->lookup(crowded[i]).conn, nullptr) << i;
        EXPECT_EQ(table_->lookup(crowded[i]).conn->client_key, crowded[i]) << i;
    }
    table_->lookup_bulk(keys, 12, hits);
    for (size_t i = 0; i < crowded.size(); ++i) {
        ASSERT_NE(hits[i].conn, nullptr) << i;
        EXPECT_EQ(hits[i].conn->client_key, crowded[i]) << i;
    }
    // Each one again is a conflict, wherever it lives.
    for (const FlowKey& k : crowded)
        EXPECT_EQ(table_->insert(k, 1, 1, ForwardMethod::dr, 0, 64, &c), ConnTable::InsertResult::conflict);
    // Removed: the last four (in secondary buckets) and two of the first eight.
    for (size_t i : {11u, 10u, 9u, 8u, 0u, 3u}) table_->remove(table_->lookup(crowded[i]).conn);
    for (size_t i = 0; i < crowded.size(); ++i) {
        const bool removed = i >= 8 || i == 0 || i == 3;
        EXPECT_EQ(table_->lookup(crowded[i]).conn == nullptr, removed) << i;
    }
    EXPECT_EQ(table_->size(), 6u);
}

TEST_F(ConnTableTest, TwoNatConnectionsWithOneReplyKeyAreRefused)
{
    // One client address and port through two VIPs to the same real server port: the server's
    // replies to both would carry the same key, so the second connection is refused.
    make(16);
    FlowKey first = client_key(7, 80);
    FlowKey second = first;
    second.dst_ip = rte_cpu_to_be_32(0xC6120065u);
    Connection* c = nullptr;
    ASSERT_EQ(table_->insert(first, rte_cpu_to_be_32(0xC613000B), rte_cpu_to_be_16(8080), ForwardMethod::nat, 0, 64, &c),
              ConnTable::InsertResult::ok);
    EXPECT_EQ(table_->insert(second, rte_cpu_to_be_32(0xC613000B), rte_cpu_to_be_16(8080), ForwardMethod::nat, 0, 64, &c),
              ConnTable::InsertResult::conflict);
    EXPECT_EQ(table_->lookup(second).conn, nullptr);
    // To another real server port it is a connection of its own; by DR there is no reply key.
    EXPECT_EQ(table_->insert(second, rte_cpu_to_be_32(0xC613000B), rte_cpu_to_be_16(8081), ForwardMethod::nat, 0, 64, &c),
              ConnTable::InsertResult::ok);
    FlowKey third = first;
    third.dst_ip = rte_cpu_to_be_32(0xC6120066u);
    EXPECT_EQ(table_->insert(third, rte_cpu_to_be_32(0xC613000B), rte_cpu_to_be_16(8080), ForwardMethod::dr, 0, 64, &c),
              ConnTable::InsertResult::ok);
    EXPECT_EQ(table_->size(), 3u);
}

namespace {

FlowKey6 client_key6(uint16_t i, uint8_t last_byte = 2)
{
    FlowKey6 k;
    k.src_ip.bytes = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, last_byte};
    k.dst_ip.bytes = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x00};
    k.src_port = rte_cpu_to_be_16(i);
    k.dst_port = rte_cpu_to_be_16(80);
    k.proto = IPPROTO_TCP;
    return k;
}

}  // namespace

TEST(ConnTable6Test, IPv6ConnectionsAreFoundByTheirWholeAddressesAndExpire)
{
    ConnTable6 table;
    ASSERT_TRUE(table.init(64, 0));
    Ipv6Address real;
    real.bytes = {0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x11};
    Connection6* nat = nullptr;
    Connection6* dr = nullptr;
    ASSERT_EQ(table.insert(client_key6(1000), real, rte_cpu_to_be_16(8080), ForwardMethod::nat, 10, 64, &nat),
              ConnTable6::InsertResult::ok);
    ASSERT_EQ(table.insert(client_key6(1001), real, rte_cpu_to_be_16(80), ForwardMethod::dr, 10, 640, &dr),
              ConnTable6::InsertResult::ok);
    EXPECT_EQ(table.lookup(client_key6(1000)).conn, nat);
    // The reply key is (real server -> client), found as the reply.
    const FlowKey6 reply = nat->reply_key();
    EXPECT_EQ(reply.src_ip, real);
    EXPECT_EQ(reply.dst_ip, client_key6(1000).src_ip);
    EXPECT_EQ(reply.src_port, rte_cpu_to_be_16(8080));
    EXPECT_TRUE(table.lookup(reply).is_reply);
    EXPECT_EQ(table.lookup(dr->reply_key()).conn, nullptr);
    // Another client differing in its last address byte only, and the same port: not this one.
    EXPECT_EQ(table.lookup(client_key6(1000, 3)).conn, nullptr);
    // The same client key again is a conflict; a second client with the NAT reply key of the
    // first (the same real server port and client port) too.
    Connection6* again = nullptr;
    EXPECT_EQ(table.insert(client_key6(1000), real, rte_cpu_to_be_16(8080), ForwardMethod::nat, 10, 64, &again),
              ConnTable6::InsertResult::conflict);
    FlowKey6 other_vip = client_key6(1000);
    other_vip.dst_ip.bytes[15] = 0x01;
    EXPECT_EQ(table.insert(other_vip, real, rte_cpu_to_be_16(8080), ForwardMethod::nat, 10, 64, &again),
              ConnTable6::InsertResult::conflict);
    EXPECT_EQ(table.size(), 2u);
    std::vector<uint16_t> gone;
    table.expire(10 + 64, 100, [](const Connection6& c) { return c.method == ForwardMethod::nat ? Tick{64} : Tick{640}; },
                 [&](const Connection6& c) { gone.push_back(rte_be_to_cpu_16(c.client_key.src_port)); });
    EXPECT_EQ(gone, std::vector<uint16_t>{1000});
    EXPECT_EQ(table.lookup(reply).conn, nullptr);
    EXPECT_EQ(table.size(), 1u);
    EXPECT_GT(table.bytes_per_connection(), 92.0);
}
