// Runs every packet table of tests/fixtures/ through process_burst, and shows that the runner
// fails a table that is wrong in one byte, one verdict or one frame too many.
#include <gtest/gtest.h>

#include "fixtures/table.hpp"

using namespace fixture;

namespace {

class Tables : public ::testing::TestWithParam<std::string> {};

TEST_P(Tables, EveryStepAsWritten)
{
    const Table* table = find_table(GetParam());
    ASSERT_NE(table, nullptr);
    ASSERT_FALSE(table->steps.empty());
    World world;
    for (const std::string& problem : run_table(world, *table)) ADD_FAILURE() << problem;
}

std::vector<std::string> table_names()
{
    std::vector<std::string> names;
    for (const Table& t : all_tables()) names.push_back(t.name);
    return names;
}

INSTANTIATE_TEST_SUITE_P(Fixtures, Tables, ::testing::ValuesIn(table_names()),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

TEST(TableRunner, EveryFeatureHasATableAndSomethingSteadyToMeasure)
{
    std::vector<std::string> want = {"nat", "dr", "tun", "tun4in6", "icmp", "arp", "kernel", "drops", "persistence", "ownership", "nd",
                                     "nat6",  "dr6", "tun6", "icmp6", "ownership6"};
    EXPECT_EQ(table_names(), want);
    for (const Table& t : all_tables()) {
        if (t.name == "drops") continue;  // nothing of it is forwarded
        EXPECT_TRUE(std::any_of(t.steps.begin(), t.steps.end(), [](const Step& s) { return s.steady; })) << t.name;
    }
}

TEST(TableRunner, FailsATableWrongInOneByteOneVerdictOrOneFrame)
{
    World world;
    Table wrong_byte = nat_table();
    wrong_byte.steps[1].outputs[0].frame[20] ^= 0x01;  // the SYN-ACK's expected IP flags
    const auto byte_problems = run_table(world, wrong_byte);
    ASSERT_EQ(byte_problems.size(), 1u);
    EXPECT_NE(byte_problems[0].find("nat step 2"), std::string::npos) << byte_problems[0];
    EXPECT_NE(byte_problems[0].find("byte 20"), std::string::npos) << byte_problems[0];

    Table wrong_verdict = drops_table();
    wrong_verdict.steps[2].reason = fulcrum::dataplane::DropReason::no_service;
    const auto verdict_problems = run_table(world, wrong_verdict);
    ASSERT_EQ(verdict_problems.size(), 1u);
    EXPECT_NE(verdict_problems[0].find("verdict drop tcp_not_syn, expected drop no_service"), std::string::npos)
        << verdict_problems[0];

    Table missing_frame = arp_table();
    missing_frame.steps.back().outputs.clear();  // the held SYN's ARP request is not expected
    const auto frame_problems = run_table(world, missing_frame);
    ASSERT_EQ(frame_problems.size(), 1u);
    EXPECT_NE(frame_problems[0].find("1 frame(s) left, expected 0"), std::string::npos) << frame_problems[0];
}

}  // namespace
