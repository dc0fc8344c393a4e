#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "sched/scheduler.hpp"

using namespace fulcrum::sched;

namespace {

std::vector<Destination> with_weights(std::initializer_list<uint32_t> weights)
{
    std::vector<Destination> d;
    for (uint32_t w : weights) d.push_back({w, false});
    return d;
}

std::string rr_sequence(const std::vector<Destination>& d, SchedCursor& c, int picks)
{
    std::string s;
    for (int i = 0; i < picks; ++i) {
        int32_t p = pick_rr(d, c);
        s += p < 0 ? '-' : static_cast<char>('A' + p);
    }
    return s;
}

std::string wrr_sequence(const std::vector<Destination>& d, SchedCursor& c, int picks)
{
    const WrrTable t = prepare_wrr(d);
    std::string s;
    for (int i = 0; i < picks; ++i) {
        int32_t p = pick_wrr(d, t, c);
        s += p < 0 ? '-' : static_cast<char>('A' + p);
    }
    return s;
}

}  // namespace

TEST(SchedNames, KnownAndUnknown)
{
    EXPECT_EQ(kind_from_name("rr"), Kind::rr);
    EXPECT_EQ(kind_from_name("wrr"), Kind::wrr);
    EXPECT_EQ(kind_from_name("RR"), std::nullopt);
    EXPECT_EQ(kind_from_name(""), std::nullopt);
    EXPECT_EQ(kind_name(Kind::wrr), "wrr");
}

TEST(RoundRobin, CyclesInListOrder)
{
    auto d = with_weights({1, 1, 1});
    SchedCursor c;
    EXPECT_EQ(rr_sequence(d, c, 7), "ABCABCA");
}

TEST(RoundRobin, IgnoresWeightsButSkipsQuiescent)
{
    // rr ignores weight values except that 0 means quiescent (ip_vs_rr checks weight > 0).
    auto d = with_weights({5, 0, 1});
    SchedCursor c;
    EXPECT_EQ(rr_sequence(d, c, 6), "ACACAC");
}

TEST(RoundRobin, SkipsOverloaded)
{
    auto d = with_weights({1, 1, 1});
    d[0].overloaded = true;
    SchedCursor c;
    EXPECT_EQ(rr_sequence(d, c, 4), "BCBC");
}

TEST(RoundRobin, EmptyAllQuiescentAndOne)
{
    SchedCursor c;
    EXPECT_EQ(pick_rr({}, c), no_destination);
    auto zero = with_weights({0, 0});
    EXPECT_EQ(rr_sequence(zero, c, 2), "--");
    auto one = with_weights({4});
    SchedCursor c1;
    EXPECT_EQ(rr_sequence(one, c1, 3), "AAA");
}

TEST(RoundRobin, CursorBeyondShortenedListStartsOver)
{
    auto d = with_weights({1, 1});
    SchedCursor c{5, 0};
    EXPECT_EQ(rr_sequence(d, c, 3), "ABA");
}

TEST(WeightedRoundRobin, KernelSequenceFor321)
{
    // Worked by hand from ip_vs_wrr_schedule: cw = 3: A; cw = 2: A B; cw = 1: A B C.
    auto d = with_weights({3, 2, 1});
    SchedCursor c;
    EXPECT_EQ(wrr_sequence(d, c, 12), "AABABCAABABC");
}

TEST(WeightedRoundRobin, GcdStepping)
{
    // Weights 4:2 have gcd 2: cw steps 4 -> 2, so the cycle is A, A B (not A, A, A B, A B).
    auto d = with_weights({4, 2});
    SchedCursor c;
    EXPECT_EQ(wrr_sequence(d, c, 6), "AABAAB");
    WrrTable t = prepare_wrr(d);
    EXPECT_EQ(t.max_weight, 4);
    EXPECT_EQ(t.gcd, 2);
}

TEST(WeightedRoundRobin, ProportionsOverManyPicks)
{
    auto d = with_weights({5, 3, 2, 0});
    SchedCursor c;
    const WrrTable t = prepare_wrr(d);
    std::map<int32_t, int> counts;
    for (int i = 0; i < 1000; ++i) counts[pick_wrr(d, t, c)]++;
    EXPECT_EQ(counts[0], 500);
    EXPECT_EQ(counts[1], 300);
    EXPECT_EQ(counts[2], 200);
    EXPECT_EQ(counts.count(3), 0u);
    EXPECT_EQ(counts.count(no_destination), 0u);
}

TEST(WeightedRoundRobin, QuiescentAndOverloadedAreSkipped)
{
    auto d = with_weights({3, 0, 1});
    d[2].overloaded = true;
    SchedCursor c;
    EXPECT_EQ(wrr_sequence(d, c, 4), "AAAA");
    d[0].overloaded = true;
    EXPECT_EQ(wrr_sequence(d, c, 2), "--");
}

TEST(WeightedRoundRobin, EmptyAndAllZero)
{
    SchedCursor c;
    EXPECT_EQ(pick_wrr({}, WrrTable{}, c), no_destination);
    auto zero = with_weights({0, 0, 0});
    EXPECT_EQ(wrr_sequence(zero, c, 3), "---");
}

TEST(WeightedRoundRobin, SnapshotSwapResetsStaleCursor)
{
    auto before = with_weights({1, 1, 1, 1});
    SchedCursor c;
    wrr_sequence(before, c, 3);  // c.last == 2
    auto after = with_weights({2, 1});
    EXPECT_EQ(wrr_sequence(after, c, 3), "AAB");
}
