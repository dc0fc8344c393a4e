// Hardware steering's rules and the owner function they allow (src/dataplane/steering.hpp), over
// a fake rte_flow: no device here has one (af_packet has none, net_tap's is off on this kernel).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "dataplane/steering.hpp"

using namespace fulcrum::dataplane;

namespace {

// What the fake device saw, in order: "create N" (the N-th rule made, its VIP or "*" for the
// catch-all) and "destroy N".
struct FakeFlow {
    std::vector<std::string> events;
    std::vector<std::string> rule_of;   // by rule number - 1
    std::vector<bool> live;
    int fail_create_at = 0;             // the N-th create fails; 0 = none
    uint64_t rss_types = ~uint64_t{0};
    uint16_t last_queue_count = 0;
};
FakeFlow fake;

int fake_info(uint16_t, rte_eth_dev_info* info)
{
    *info = rte_eth_dev_info{};
    info->flow_type_rss_offloads = fake.rss_types;
    return 0;
}

int fake_validate(uint16_t, const rte_flow_attr*, const rte_flow_item*, const rte_flow_action*, rte_flow_error*)
{
    return 0;
}

rte_flow* fake_create(uint16_t, const rte_flow_attr*, const rte_flow_item pattern[], const rte_flow_action actions[],
                      rte_flow_error* error)
{
    const size_t n = fake.rule_of.size() + 1;
    if (static_cast<int>(n) == fake.fail_create_at) {
        error->message = "no room for another rule";
        fake.rule_of.push_back("refused");
        fake.live.push_back(false);
        return nullptr;
    }
    const auto* spec = static_cast<const rte_flow_item_ipv4*>(pattern[1].spec);
    const std::string what = spec == nullptr ? "*" : std::to_string(rte_be_to_cpu_32(spec->hdr.dst_addr) & 0xff);
    fake.last_queue_count = static_cast<const rte_flow_action_rss*>(actions[0].conf)->queue_num;
    fake.rule_of.push_back(what);
    fake.live.push_back(true);
    fake.events.push_back("create " + what);
    return reinterpret_cast<rte_flow*>(n);
}

int fake_destroy(uint16_t, rte_flow* flow, rte_flow_error*)
{
    const auto n = reinterpret_cast<size_t>(flow);
    fake.live.at(n - 1) = false;
    fake.events.push_back("destroy " + fake.rule_of.at(n - 1));
    return 0;
}

const FlowCalls calls{fake_info, fake_validate, fake_create, fake_destroy};

std::vector<rte_be32_t> vips(std::initializer_list<uint8_t> last)
{
    std::vector<rte_be32_t> out;
    for (uint8_t b : last) out.push_back(rte_cpu_to_be_32(0xc6120000u | b));
    return out;
}

size_t live_rules()
{
    size_t n = 0;
    for (bool l : fake.live) n += l;
    return n;
}

class SteeringTest : public ::testing::Test {
protected:
    void SetUp() override { fake = FakeFlow{}; }
};

}  // namespace

TEST_F(SteeringTest, EveryPortSteeringMakesTheNicsHashTheOwnerFunction)
{
    Steering steering(calls);
    std::string why;
    EXPECT_EQ(steering.start(4, {{0, 4}, {1, 4}}, vips({100, 101}), why), OwnerHash::toeplitz);
    EXPECT_EQ(why, "");
    EXPECT_TRUE(steering.active());
    // Per port: one rule a VIP, then the catch-all for replies.
    EXPECT_EQ(fake.events, (std::vector<std::string>{"create 100", "create 101", "create *", "create 100", "create 101",
                                                     "create *"}));
    EXPECT_EQ(fake.last_queue_count, 4u);
}

// Refused before anything is installed: what the NIC's queue for a hash is cannot be known.
TEST_F(SteeringTest, TheOwnerFunctionStaysCrcUnlessEveryPortHasOneQueuePerWorkerInAPowerOfTwo)
{
    Steering steering(calls);
    std::string why;
    EXPECT_EQ(steering.start(1, {{0, 1}}, vips({100}), why), OwnerHash::crc);
    EXPECT_EQ(why, "one worker");
    EXPECT_EQ(steering.start(3, {{0, 3}}, vips({100}), why), OwnerHash::crc);
    EXPECT_EQ(why, "3 workers, not a power of two (the NIC's queue for a hash would not be known)");
    EXPECT_EQ(steering.start(4, {{0, 4}, {1, 2}}, vips({100}), why), OwnerHash::crc);
    EXPECT_EQ(why, "a port has 2 RX queues for 4 workers");
    EXPECT_TRUE(fake.events.empty());
    EXPECT_FALSE(steering.active());
}

// One port that cannot steer: software hand-off everywhere, and no rule left on the others.
TEST_F(SteeringTest, APortThatRefusesLeavesNoRuleAnywhere)
{
    Steering steering(calls);
    std::string why;
    fake.fail_create_at = 5;   // port 1's second VIP
    EXPECT_EQ(steering.start(2, {{0, 2}, {1, 2}}, vips({100, 101}), why), OwnerHash::crc);
    EXPECT_EQ(why, "port 1: no room for another rule");
    EXPECT_FALSE(steering.active());
    EXPECT_EQ(live_rules(), 0u);

    fake = FakeFlow{};
    fake.rss_types = RTE_ETH_RSS_IPV4 | RTE_ETH_RSS_NONFRAG_IPV4_TCP | RTE_ETH_RSS_NONFRAG_IPV4_UDP;
    EXPECT_EQ(steering.start(2, {{0, 2}}, vips({100}), why), OwnerHash::crc);
    EXPECT_EQ(why, "port 0: the device cannot hash on source or destination only");
    EXPECT_TRUE(fake.events.empty());
}

// A reload's VIPs: the new VIP's rule goes in before the old VIP's goes out, rules of VIPs that
// stay are not touched, and the catch-all is made once.
TEST_F(SteeringTest, AReloadAddsNewRulesBeforeRemovingOldOnes)
{
    Steering steering(calls);
    std::string why;
    ASSERT_EQ(steering.start(2, {{0, 2}}, vips({100, 101}), why), OwnerHash::toeplitz);
    fake.events.clear();
    EXPECT_TRUE(steering.update(vips({101, 102})).empty());
    EXPECT_EQ(fake.events, (std::vector<std::string>{"create 102", "destroy 100"}));
    EXPECT_EQ(live_rules(), 3u);
}

// A reload whose rules the device refuses keeps every old rule; those it made are undone.
TEST_F(SteeringTest, ARefusedReloadKeepsTheOldRules)
{
    Steering steering(calls);
    std::string why;
    ASSERT_EQ(steering.start(2, {{0, 2}}, vips({100}), why), OwnerHash::toeplitz);
    fake.events.clear();
    fake.fail_create_at = 4;   // the second new VIP
    EXPECT_EQ(steering.update(vips({101, 102, 103})),
              (std::vector<std::string>{"port 0: no room for another rule"}));
    EXPECT_EQ(fake.events, (std::vector<std::string>{"create 101", "destroy 101"}));
    EXPECT_EQ(live_rules(), 2u);   // 100 and the catch-all
    EXPECT_TRUE(steering.active());

    // Later the device has room again.
    fake.fail_create_at = 0;
    fake.events.clear();
    EXPECT_TRUE(steering.update(vips({101})).empty());
    EXPECT_EQ(fake.events, (std::vector<std::string>{"create 101", "destroy 100"}));
    EXPECT_EQ(live_rules(), 2u);
}
