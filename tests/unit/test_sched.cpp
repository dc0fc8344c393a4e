#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>
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

// A real server with a weight and connection counts, at 10.0.0.(index+1):80 once `numbered`.
Destination server(uint32_t weight, uint32_t active = 0, uint32_t inactive = 0, bool overloaded = false)
{
    Destination d;
    d.weight = weight;
    d.active = active;
    d.inactive = inactive;
    d.overloaded = overloaded;
    return d;
}

std::vector<Destination> numbered(std::vector<Destination> d)
{
    for (size_t i = 0; i < d.size(); ++i) {
        d[i].address = 0x0a000001u + static_cast<uint32_t>(i);
        d[i].port = 80;
    }
    return d;
}

char letter(int32_t p) { return p < 0 ? '-' : static_cast<char>('A' + p); }

FlowInput from(uint32_t src_ip, uint16_t src_port = 0, uint32_t dst_ip = 0xc0000201u, uint64_t now = 0)
{
    FlowInput f;
    f.src_ip = src_ip;
    f.src_port = src_port;
    f.dst_ip = dst_ip;
    f.dst_port = 80;
    f.now = now;
    return f;
}

FlowInput to(uint32_t dst_ip, uint64_t now)
{
    return from(0x0a630001u, 40000, dst_ip, now);
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

TEST(RoundRobin, CursorAtTheEndOrJustPastItStartsAtTheFirst)
{
    auto d = with_weights({1, 1, 1});
    SchedCursor last{2, 0};  // the last pick was the last server
    EXPECT_EQ(rr_sequence(d, last, 4), "ABCA");
    SchedCursor shortened{3, 0};  // the list lost its fourth server under the cursor
    EXPECT_EQ(rr_sequence(d, shortened, 4), "ABCA");
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

TEST(WeightedRoundRobin, QuiescentFirstServerGetsNothing)
{
    // cw 2: B; cw 1: B C; then cw is back at 2 (never 0, where weight 0 would qualify).
    auto d = with_weights({0, 2, 1});
    SchedCursor c;
    EXPECT_EQ(wrr_sequence(d, c, 9), "BBCBBCBBC");
    auto one = with_weights({0, 1});
    SchedCursor c1;
    EXPECT_EQ(wrr_sequence(one, c1, 4), "BBBB");
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

// ---------------------------------------------------------------------------------------------
// Names, flags, dispatch.

TEST(SchedNames, AllFourteenRoundTrip)
{
    const std::vector<std::string> names{"rr", "wrr", "lc",   "wlc",   "sed",  "nq", "fo",
                                         "ovf", "sh", "dh", "lblc", "lblcr", "twos", "mh"};
    ASSERT_EQ(names.size(), all_kinds.size());
    for (size_t i = 0; i < names.size(); ++i) {
        EXPECT_EQ(kind_from_name(names[i]), all_kinds[i]) << names[i];
        EXPECT_EQ(kind_name(all_kinds[i]), names[i]);
    }
    EXPECT_EQ(kind_from_name("wlc "), std::nullopt);
    EXPECT_EQ(kind_from_name("maglev"), std::nullopt);
}

TEST(SchedNames, WhichKindsReadConnectionCounts)
{
    std::string readers;
    for (Kind k : all_kinds)
        if (uses_connection_counts(k)) readers += std::string(kind_name(k)) + " ";
    EXPECT_EQ(readers, "lc wlc sed nq ovf lblc lblcr twos ");
}

TEST(SchedFlags, ParseAndPrint)
{
    Flags f;
    EXPECT_TRUE(set_flag(f, "sh-port"));
    EXPECT_TRUE(set_flag(f, "sh-fallback"));
    EXPECT_TRUE(f.sh_port && f.sh_fallback && !f.mh_port && !f.mh_fallback);
    EXPECT_EQ(flags_text(f), "sh-fallback,sh-port");
    EXPECT_FALSE(set_flag(f, "sh_port"));
    EXPECT_FALSE(set_flag(f, "flag-1"));
    EXPECT_FALSE(set_flag(f, ""));
    Flags m;
    EXPECT_TRUE(set_flag(m, "mh-port"));
    EXPECT_TRUE(set_flag(m, "mh-fallback"));
    EXPECT_TRUE(m.mh_port && m.mh_fallback && !m.sh_port && !m.sh_fallback);
    EXPECT_EQ(flags_text(m), "mh-fallback,mh-port");
    EXPECT_EQ(flags_text(Flags{}), "");
    for (std::string_view name : flag_names) {
        Flags x;
        EXPECT_TRUE(set_flag(x, name)) << name;
    }
}

TEST(SchedDispatch, EveryKindPicksWhatItsRuleSays)
{
    // Four servers A-D at 10.0.0.1-4:80, as (weight, active, inactive): overheads (active*256 +
    // inactive) 522, 0, 1281, 556. Five picks of each kind through pick(), one cursor, the same
    // flow from 198.51.100.1:1234 to 10.10.10.10. The expected letters are worked out from each
    // rule, not taken from the code under test.
    auto d = numbered({server(3, 2, 10), server(1, 0, 0), server(2, 5, 1), server(4, 1, 300)});
    const FlowInput flow = from(0xc6336401u, 1234, 0x0a0a0a0au);
    const std::map<Kind, std::string> expected{
        {Kind::rr, "ABCDA"},     // list order, weights only matter as 0
        {Kind::wrr, "DADAC"},    // cw 4: D; cw 3: A D; cw 2: A C ...
        {Kind::lc, "BBBBB"},     // least overhead: B (0)
        {Kind::wlc, "BBBBB"},    // least overhead / weight: B (0/1)
        {Kind::sed, "DDDDD"},    // (active + 1) / weight: A 1, B 1, C 3, D 0.5
        {Kind::nq, "BBBBB"},     // the first server with no active connection
        {Kind::fo, "DDDDD"},     // the highest weight
        {Kind::ovf, "DDDDD"},    // the highest weight whose active count is below its weight
        // hash_32(0xc6336401, 8) = 96; buckets AAABCCDDDD repeated: 96 % 10 = 6 -> D.
        {Kind::sh, "DDDDD"},
        // hash_32(0x0a0a0a0a, 8) = 171; dh buckets ABCD repeated: 171 % 4 = 3 -> D.
        {Kind::dh, "DDDDD"},
        {Kind::lblc, "BBBBB"},   // no locality table: wlc
        {Kind::lblcr, "BBBBB"},  // likewise
        // splitmix64 from the cursor's seed, draws mod 11 over weights 3,1,2,4: the pairs
        // (D,A) (A,D) (B,A) (C,D) (D,B) keep the less loaded per weight (D 139, A 174, B 0).
        {Kind::twos, "DDBDB"},
        // tests/unit/maglev_reference.py puts 198.51.100.1 (without mh-port) on 10.0.0.4.
        {Kind::mh, "DDDDD"},
    };
    ASSERT_EQ(expected.size(), all_kinds.size());
    for (Kind k : all_kinds) {
        const Prepared p = prepare(k, d);
        SchedCursor cursor;
        std::string got;
        for (int i = 0; i < 5; ++i) got += letter(pick(p, d, cursor, flow));
        EXPECT_EQ(got, expected.at(k)) << kind_name(k);
    }
}

TEST(SchedDispatch, EveryKindWithNoServerOrOnlyQuiescentOnes)
{
    const FlowInput flow = from(0x01020304u);
    for (Kind k : all_kinds) {
        SchedCursor c;
        LocalityTable t(64, 1000);
        c.locality = &t;
        EXPECT_EQ(pick(prepare(k, {}), {}, c, flow), no_destination) << kind_name(k);
        auto zero = numbered({server(0), server(0, 0, 0), server(0, 3, 1)});
        EXPECT_EQ(pick(prepare(k, zero), zero, c, flow), no_destination) << kind_name(k);
        auto over = numbered({server(1, 0, 0, true), server(5, 0, 0, true)});
        EXPECT_EQ(pick(prepare(k, over), over, c, flow), no_destination) << kind_name(k);
    }
}

TEST(SchedDispatch, EveryKindWithOneServer)
{
    auto one = numbered({server(7, 3, 2)});
    for (Kind k : all_kinds) {
        const Prepared p = prepare(k, one);
        SchedCursor c;
        LocalityTable t(64, 1000);
        c.locality = &t;
        for (uint32_t src = 1; src < 50; ++src)
            EXPECT_EQ(pick(p, one, c, from(src * 7919u, static_cast<uint16_t>(src), src)), 0)
                << kind_name(k);
    }
}

TEST(SchedDispatch, QuiescentServerIsNeverPickedByAnyKind)
{
    // Server B has weight 0 and the fewest connections: attractive to every count-based rule.
    auto d = numbered({server(2, 4, 10), server(0, 0, 0), server(1, 3, 3)});
    for (Kind k : all_kinds) {
        const Prepared p = prepare(k, d);
        SchedCursor c;
        LocalityTable t(1024, 1000);
        c.locality = &t;
        for (uint32_t i = 0; i < 2000; ++i)
            EXPECT_NE(pick(p, d, c, from(i * 2654435761u, static_cast<uint16_t>(i), i * 40503u)), 1)
                << kind_name(k);
    }
}

TEST(SchedDispatch, QuiescentFirstServerIsNeverPickedByAnyKind)
{
    // The first server in list order wins every tie and has the fewest connections; with weight
    // 0 no kind may pick it. (sh, dh and mh give it buckets or slots where flows find no server.)
    auto d = numbered({server(0, 0, 0), server(1, 1, 0), server(1, 1, 0), server(2, 3, 3)});
    for (Kind k : all_kinds) {
        const Prepared p = prepare(k, d);
        SchedCursor c;
        LocalityTable t(1024, 1000);
        c.locality = &t;
        std::map<int32_t, int> picks;
        for (uint32_t i = 0; i < 600; ++i)
            ++picks[pick(p, d, c, from(i * 2654435761u, static_cast<uint16_t>(i), i * 40503u))];
        EXPECT_EQ(picks.count(0), 0u) << kind_name(k);
        if (k != Kind::sh && k != Kind::dh && k != Kind::mh) {
            EXPECT_EQ(picks.count(no_destination), 0u) << kind_name(k);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Least connection family.

TEST(LeastConnection, OverheadIsActiveTimes256PlusInactive)
{
    // A: 1 active = 256; B: 255 inactive.
    auto d = numbered({server(1, 1, 0), server(1, 0, 255)});
    EXPECT_EQ(pick_lc(d), 1);
    d[1].inactive = 256;  // 256 = 256: the first in list order stays
    EXPECT_EQ(pick_lc(d), 0);
    d[1].inactive = 257;
    EXPECT_EQ(pick_lc(d), 0);
}

TEST(LeastConnection, IgnoresWeightValues)
{
    auto d = numbered({server(100, 0, 11), server(1, 0, 10)});
    EXPECT_EQ(pick_lc(d), 1);
}

TEST(LeastConnection, FirstOfEqualLeastInListOrder)
{
    auto d = numbered({server(1, 2, 0), server(1, 1, 5), server(1, 1, 5), server(1, 1, 5)});
    EXPECT_EQ(pick_lc(d), 1);
}

TEST(LeastConnection, SkipsQuiescentAndOverloaded)
{
    auto d = numbered({server(0, 0, 0), server(1, 0, 0, true), server(1, 9, 9)});
    EXPECT_EQ(pick_lc(d), 2);
    d[2].overloaded = true;
    EXPECT_EQ(pick_lc(d), no_destination);
}

TEST(WeightedLeastConnection, CrossMultipliesLikeTheKernel)
{
    // A: 256/1, B: 512/3 = 170.7: B. (loh * wB = 768 > doh * wA = 512.)
    auto d = numbered({server(1, 1, 0), server(3, 2, 0)});
    EXPECT_EQ(pick_wlc(d), 1);
    // A: 512/2 = 256, B: 256/1 = 256: equal, the first stays.
    d = numbered({server(2, 2, 0), server(1, 1, 0)});
    EXPECT_EQ(pick_wlc(d), 0);
    // Inactive connections count, one 256th of an active one: A 256+1 / 1 > B 512 / 2.
    d = numbered({server(1, 1, 1), server(2, 2, 0)});
    EXPECT_EQ(pick_wlc(d), 1);
}

TEST(WeightedLeastConnection, HandWorkedFourServers)
{
    // Loads: A 600/3 = 200, B 300/1 = 300, C 1000/5 = 200, D 770/4 = 192.5.
    auto d = numbered({server(3, 2, 88), server(1, 1, 44), server(5, 3, 232), server(4, 3, 2)});
    EXPECT_EQ(pick_wlc(d), 3);
    d[3].overloaded = true;  // A and C tie at 200: A, the first
    EXPECT_EQ(pick_wlc(d), 0);
    d[0].weight = 0;
    EXPECT_EQ(pick_wlc(d), 2);
}

TEST(WeightedLeastConnection, QuiescentNeverWinsEvenWithNoLoad)
{
    auto d = numbered({server(0, 0, 0), server(1, 50, 0), server(0, 0, 0)});
    EXPECT_EQ(pick_wlc(d), 1);
}

TEST(WeightedLeastConnection, LargeCountsDoNotOverflow)
{
    // 4e9 active * 256 * 65535 is beyond 64 bits.
    auto d = numbered({server(65535, 4000000000u, 0), server(1, 16000000, 0)});
    // A: 4e9*256/65535 = 15.6e6*... per weight: A 15,625,238, B 4,096,000,000: A.
    EXPECT_EQ(pick_wlc(d), 0);
}

TEST(ShortestExpectedDelay, ActivePlusOneOverWeight)
{
    // A: (0+1)/1 = 1, B: (2+1)/3 = 1: tie, A. B with 1 active: 2/3 < 1: B.
    auto d = numbered({server(1, 0, 0), server(3, 2, 0)});
    EXPECT_EQ(pick_sed(d), 0);
    d[1].active = 1;
    EXPECT_EQ(pick_sed(d), 1);
}

TEST(ShortestExpectedDelay, InactiveConnectionsDoNotCount)
{
    auto d = numbered({server(1, 0, 1000), server(1, 1, 0)});
    EXPECT_EQ(pick_sed(d), 0);
    EXPECT_EQ(pick_wlc(d), 1);  // wlc: 1000 < 256? no: 1000 > 256, so B
}

TEST(ShortestExpectedDelay, DiffersFromWlcWhenIdleServersAreSlow)
{
    // Both idle: wlc sees 0/1 = 0/10 and keeps A; sed sees 1/1 > 1/10 and takes the fast one.
    auto d = numbered({server(1), server(10)});
    EXPECT_EQ(pick_wlc(d), 0);
    EXPECT_EQ(pick_sed(d), 1);
}

TEST(NeverQueue, IdleServerFirstEvenIfSedWouldNotChooseIt)
{
    // sed: A (3+1)/5 = 0.8 < B (0+1)/1 = 1 -> A. nq: B is idle -> B.
    auto d = numbered({server(5, 3, 0), server(1, 0, 0)});
    EXPECT_EQ(pick_sed(d), 0);
    EXPECT_EQ(pick_nq(d), 1);
}

TEST(NeverQueue, FirstIdleInListOrderAndInactiveDoesNotCount)
{
    auto d = numbered({server(1, 2, 0), server(1, 0, 70), server(9, 0, 0)});
    EXPECT_EQ(pick_nq(d), 1);
}

TEST(NeverQueue, WithoutIdleServersItIsSed)
{
    // A: 4/5, B: 2/1, C: 3/4 -> C.
    auto d = numbered({server(5, 3, 0), server(1, 1, 0), server(4, 2, 0)});
    EXPECT_EQ(pick_nq(d), 2);
    EXPECT_EQ(pick_sed(d), 2);
    // Equal expected delays: the first.
    d = numbered({server(2, 1, 0), server(4, 3, 0)});
    EXPECT_EQ(pick_nq(d), 0);
}

TEST(NeverQueue, IdleButQuiescentOrOverloadedIsSkipped)
{
    auto d = numbered({server(0, 0, 0), server(1, 0, 0, true), server(2, 5, 0)});
    EXPECT_EQ(pick_nq(d), 2);
}

// ---------------------------------------------------------------------------------------------
// fo, ovf.

TEST(WeightedFailover, HighestWeightFirstOfEqual)
{
    auto d = numbered({server(1), server(5, 100, 100), server(3), server(5)});
    EXPECT_EQ(pick_fo(d), 1);  // connection counts do not matter
    d[1].overloaded = true;
    EXPECT_EQ(pick_fo(d), 3);
    d[3].weight = 0;
    EXPECT_EQ(pick_fo(d), 2);
    d[2].overloaded = true;
    d[0].overloaded = true;
    EXPECT_EQ(pick_fo(d), no_destination);
}

TEST(Overflow, HighestWeightUntilActiveExceedsWeight)
{
    auto d = numbered({server(2), server(3), server(1)});
    EXPECT_EQ(pick_ovf(d), 1);
    d[1].active = 3;  // active == weight still qualifies (the kernel skips active > weight)
    EXPECT_EQ(pick_ovf(d), 1);
    d[1].active = 4;
    EXPECT_EQ(pick_ovf(d), 0);
    d[0].active = 3;
    EXPECT_EQ(pick_ovf(d), 2);
    d[2].active = 2;
    EXPECT_EQ(pick_ovf(d), no_destination);
}

TEST(Overflow, InactiveIgnoredTiesFirstOverloadAndQuiescentSkipped)
{
    auto d = numbered({server(4, 0, 1000), server(4), server(9, 0, 0, true), server(0)});
    EXPECT_EQ(pick_ovf(d), 0);
}

TEST(Overflow, FillsServersInWeightOrderAsConnectionsOpen)
{
    auto d = numbered({server(1), server(3), server(2)});
    std::string s;
    for (int i = 0; i < 8; ++i) {
        const int32_t p = pick_ovf(d);
        s += letter(p);
        if (p >= 0) ++d[static_cast<size_t>(p)].active;
    }
    // B takes 4 (active 0..3), C 3, A 2, then nothing qualifies... A with active 1 <= 1 once more.
    EXPECT_EQ(s, "BBBBCCCA");
}

// ---------------------------------------------------------------------------------------------
// sh, dh.

namespace {
uint32_t kernel_bucket(uint32_t key) { return (key * 0x61C88647u) >> 24; }
}  // namespace

TEST(SourceHashing, HashIsTheKernelsHash32)
{
    EXPECT_EQ(hash_32(0, 8), 0u);
    EXPECT_EQ(hash_32(1, 8), 0x61u);
    EXPECT_EQ(hash_32(0xc0a80001u, 8), kernel_bucket(0xc0a80001u));
}

TEST(SourceHashing, BucketsFilledInProportionToWeightRoundAfterRound)
{
    auto d = numbered({server(2), server(1)});
    const Prepared p = prepare(Kind::sh, d);
    ASSERT_EQ(p.buckets.size(), 256u);
    std::string first;
    for (int i = 0; i < 9; ++i) first += letter(static_cast<int32_t>(p.buckets[static_cast<size_t>(i)]));
    EXPECT_EQ(first, "AABAABAAB");
    EXPECT_EQ(std::count(p.buckets.begin(), p.buckets.end(), 0u), 171);  // 85 rounds + 1
    EXPECT_EQ(std::count(p.buckets.begin(), p.buckets.end(), 1u), 85);
}

TEST(SourceHashing, QuiescentServerStillTakesOneBucketPerRound)
{
    // ip_vs_sh_reassign moves on when ++count >= weight, which for weight 0 is after one bucket.
    auto d = numbered({server(1), server(0), server(2)});
    const Prepared p = prepare(Kind::sh, d);
    std::string first;
    for (int i = 0; i < 8; ++i) first += letter(static_cast<int32_t>(p.buckets[static_cast<size_t>(i)]));
    EXPECT_EQ(first, "ABCCABCC");
    // Sources hashing to B's buckets find no server without sh-fallback.
    int none = 0;
    for (uint32_t src = 0; src < 256; ++src) {
        const uint32_t ip = src * 0x01000193u;
        const int32_t pk = pick_sh(p, d, from(ip));
        EXPECT_EQ(pk, p.buckets[kernel_bucket(ip)] == 1 ? no_destination : static_cast<int32_t>(p.buckets[kernel_bucket(ip)]));
        if (pk == no_destination) ++none;
    }
    EXPECT_GT(none, 0);
}

TEST(SourceHashing, LargeWeightsFillTheTableInListOrder)
{
    // Weights are not reduced: 300 buckets' worth for A leaves nothing for B.
    auto d = numbered({server(300), server(1)});
    const Prepared p = prepare(Kind::sh, d);
    EXPECT_EQ(std::count(p.buckets.begin(), p.buckets.end(), 0u), 256);
}

TEST(SourceHashing, OnlyTheFirst256ServersGetBuckets)
{
    std::vector<Destination> many(300, server(1));
    many = numbered(many);
    const Prepared p = prepare(Kind::sh, many);
    for (uint32_t i = 0; i < 256; ++i) EXPECT_EQ(p.buckets[i], i);
}

TEST(SourceHashing, SameSourceSameServerAndTheBucketIsTheKernels)
{
    auto d = numbered({server(1), server(2), server(3)});
    const Prepared p = prepare(Kind::sh, d);
    for (uint32_t src = 1; src < 5000; src += 7) {
        const uint32_t ip = 0xc0000000u + src * 977u;
        const int32_t first = pick_sh(p, d, from(ip, 1000));
        EXPECT_EQ(first, static_cast<int32_t>(p.buckets[kernel_bucket(ip)]));
        // Without sh-port the source port does not matter.
        EXPECT_EQ(pick_sh(p, d, from(ip, 2000, 0x08080808u)), first);
    }
}

TEST(SourceHashing, PortFlagAddsThePortToTheAddress)
{
    auto d = numbered({server(1), server(1), server(1), server(1), server(1)});
    Flags f;
    f.sh_port = true;
    const Prepared p = prepare(Kind::sh, d, f);
    const uint32_t ip = 0x0a010203u;
    std::set<int32_t> seen;
    for (uint16_t port = 1000; port < 1100; ++port) {
        const int32_t pk = pick_sh(p, d, from(ip, port));
        EXPECT_EQ(pk, static_cast<int32_t>(p.buckets[kernel_bucket(ip + port)]));
        seen.insert(pk);
    }
    EXPECT_EQ(seen.size(), 5u);
    // The kernel's key is address + port: these two clients always share a server.
    EXPECT_EQ(pick_sh(p, d, from(ip, 1000)), pick_sh(p, d, from(ip + 1, 999)));
}

TEST(SourceHashing, DistributionFollowsWeightOverManySources)
{
    auto d = numbered({server(3), server(1), server(4)});  // 256 = 32 rounds of 8
    const Prepared p = prepare(Kind::sh, d);
    EXPECT_EQ(std::count(p.buckets.begin(), p.buckets.end(), 0u), 96);
    EXPECT_EQ(std::count(p.buckets.begin(), p.buckets.end(), 1u), 32);
    EXPECT_EQ(std::count(p.buckets.begin(), p.buckets.end(), 2u), 128);
    std::mt19937 rng(7);
    std::array<int, 3> count{};
    const int sources = 200000;
    for (int i = 0; i < sources; ++i) ++count[static_cast<size_t>(pick_sh(p, d, from(static_cast<uint32_t>(rng()))))];
    EXPECT_NEAR(count[0] / double(sources), 3 / 8.0, 0.01);
    EXPECT_NEAR(count[1] / double(sources), 1 / 8.0, 0.01);
    EXPECT_NEAR(count[2] / double(sources), 4 / 8.0, 0.01);
}

TEST(SourceHashing, UnavailableServerWithoutFallbackIsNoServer)
{
    auto d = numbered({server(1), server(1)});
    const Prepared p = prepare(Kind::sh, d);
    d[0].overloaded = true;
    for (uint32_t ip = 0; ip < 1000; ++ip) {
        const int32_t expect = p.buckets[kernel_bucket(ip * 12345u)] == 0 ? no_destination : 1;
        EXPECT_EQ(pick_sh(p, d, from(ip * 12345u)), expect);
    }
}

TEST(SourceHashing, FallbackWalksTheTableAsTheKernel)
{
    auto d = numbered({server(1), server(1), server(1), server(1)});
    Flags f;
    f.sh_fallback = true;
    const Prepared p = prepare(Kind::sh, d, f);
    d[1].weight = 0;
    d[2].overloaded = true;
    for (uint32_t n = 0; n < 2000; ++n) {
        const uint32_t ip = n * 0x9E3779B1u;
        const uint32_t ihash = kernel_bucket(ip);
        int32_t expect = no_destination;
        if (p.buckets[ihash] == 0 || p.buckets[ihash] == 3) {
            expect = static_cast<int32_t>(p.buckets[ihash]);
        } else {
            // ip_vs_sh_get_fallback: buckets (offset + ihash + ihash) & 255, offset = 0, 1, ...
            for (uint32_t offset = 0; offset < 256; ++offset) {
                const uint32_t b = ((offset + ihash) % 256 + ihash) & 255;
                if (p.buckets[b] == 0 || p.buckets[b] == 3) {
                    expect = static_cast<int32_t>(p.buckets[b]);
                    break;
                }
            }
        }
        EXPECT_EQ(pick_sh(p, d, from(ip)), expect) << n;
    }
    d[0].overloaded = true;
    d[3].weight = 0;
    EXPECT_EQ(pick_sh(p, d, from(1234)), no_destination);
}

TEST(SourceHashing, FallbackKeepsSourcesOfAvailableServersInPlace)
{
    auto d = numbered({server(1), server(2), server(1)});
    Flags f;
    f.sh_fallback = true;
    const Prepared p = prepare(Kind::sh, d, f);
    auto down = d;
    down[1].overloaded = true;
    for (uint32_t ip = 0; ip < 3000; ++ip) {
        const int32_t before = pick_sh(p, d, from(ip * 2246822519u));
        const int32_t after = pick_sh(p, down, from(ip * 2246822519u));
        if (before != 1) EXPECT_EQ(after, before);
        else EXPECT_TRUE(after == 0 || after == 2);
    }
}

TEST(DestinationHashing, OneBucketPerServerRoundAfterRoundWeightsIgnored)
{
    auto d = numbered({server(5), server(1), server(0)});
    const Prepared p = prepare(Kind::dh, d);
    for (uint32_t i = 0; i < 256; ++i) EXPECT_EQ(p.buckets[i], i % 3);
}

TEST(DestinationHashing, SameDestinationSameServerNoFallback)
{
    auto d = numbered({server(1), server(1), server(0), server(1, 0, 0, true)});
    const Prepared p = prepare(Kind::dh, d);
    for (uint32_t n = 0; n < 3000; ++n) {
        const uint32_t dst = 0x0a000000u + n * 331u;
        const uint32_t b = p.buckets[kernel_bucket(dst)];
        const int32_t expect = b < 2 ? static_cast<int32_t>(b) : no_destination;
        EXPECT_EQ(pick_dh(p, d, from(n * 7u, static_cast<uint16_t>(n), dst)), expect);
        EXPECT_EQ(pick_dh(p, d, from(n * 13u + 5, 1, dst)), expect);  // the source does not matter
    }
}

// ---------------------------------------------------------------------------------------------
// lblc, lblcr.

TEST(LocalityLeastConnection, FirstPickIsWlcThenTheAddressSticks)
{
    auto d = numbered({server(1, 5, 0), server(1, 1, 0), server(1, 3, 0)});
    LocalityTable t(1024, 1000);
    EXPECT_EQ(pick_lblc(d, &t, to(0x08080808u, 1)), 1);
    // B is now the busiest, but not overloaded in lblc's sense (no server below half weight).
    d[1].active = 9;
    EXPECT_EQ(pick_lblc(d, &t, to(0x08080808u, 2)), 1);
    // Another address is scheduled on its own.
    EXPECT_EQ(pick_lblc(d, &t, to(0x08080404u, 3)), 2);
    EXPECT_EQ(t.servers_of(0x08080808u, d, 3), std::vector<int32_t>{1});
    EXPECT_EQ(t.size(3), 2u);
}

TEST(LocalityLeastConnection, OverloadRuleSwitchesOnlyWithAHalfLoadedPeer)
{
    // B: 5 active > weight 4; C has 1 active, 2 < weight 4 -> B is overloaded for lblc.
    auto d = numbered({server(4, 4, 0), server(4, 0, 0), server(4, 4, 0)});
    LocalityTable t(1024, 1000);
    const uint32_t addr = 0x0b0b0b0bu;
    EXPECT_EQ(pick_lblc(d, &t, to(addr, 1)), 1);
    d[1].active = 5;
    EXPECT_EQ(pick_lblc(d, &t, to(addr, 2)), 1);  // no server below half its weight
    d[2].active = 1;                               // 1 * 2 < 4
    EXPECT_EQ(pick_lblc(d, &t, to(addr, 3)), 2);
    EXPECT_EQ(t.servers_of(addr, d, 3), std::vector<int32_t>{2});
    EXPECT_EQ(pick_lblc(d, &t, to(addr, 4)), 2);
}

TEST(LocalityLeastConnection, UpperThresholdFlagDoesNotMoveARememberedAddress)
{
    // The kernel's cache check reads the weight and its own rule, not IP_VS_DEST_F_OVERLOAD.
    auto d = numbered({server(1, 0, 0), server(1, 1, 0)});
    LocalityTable t(1024, 1000);
    EXPECT_EQ(pick_lblc(d, &t, to(7, 1)), 0);
    d[0].overloaded = true;
    EXPECT_EQ(pick_lblc(d, &t, to(7, 2)), 0);
    EXPECT_EQ(pick_lblc(d, &t, to(8, 2)), 1);  // a new address avoids it
    d[0].weight = 0;                           // quiescing does move it
    EXPECT_EQ(pick_lblc(d, &t, to(7, 3)), 1);
}

TEST(LocalityLeastConnection, EntriesExpireAfterTheExpiration)
{
    auto d = numbered({server(4, 0, 0), server(4, 0, 0)});
    LocalityTable t(1024, 100);
    EXPECT_EQ(pick_lblc(d, &t, to(9, 0)), 0);
    d[0].active = 3;  // B is now the least loaded, A not overloaded (3 <= 4)
    EXPECT_EQ(pick_lblc(d, &t, to(9, 99)), 0);   // used at 99: lives until 199
    EXPECT_EQ(pick_lblc(d, &t, to(9, 198)), 0);
    EXPECT_EQ(t.size(297), 1u);
    EXPECT_EQ(t.size(298), 0u);
    EXPECT_EQ(pick_lblc(d, &t, to(9, 298)), 1);  // expired: scheduled again
}

TEST(LocalityLeastConnection, FollowsServersAcrossSnapshotsByAddressAndPort)
{
    auto d = numbered({server(1), server(1), server(1)});
    LocalityTable t(1024, 1000);
    d[0].active = 1;
    d[2].active = 1;
    EXPECT_EQ(pick_lblc(d, &t, to(5, 1)), 1);
    // A new snapshot lists the servers in another order: the entry finds its server again.
    std::vector<Destination> reordered{d[1], d[2], d[0]};
    reordered[0].active = 4;
    EXPECT_EQ(pick_lblc(reordered, &t, to(5, 2)), 0);
    // The server leaves the service: the address is scheduled anew.
    std::vector<Destination> without{d[0], d[2]};
    EXPECT_EQ(pick_lblc(without, &t, to(5, 3)), 0);
}

TEST(LocalityLeastConnection, FullBucketReplacesTheLeastRecentlyUsed)
{
    auto d = numbered({server(1)});
    LocalityTable t(LocalityTable::ways, 1000000);  // one bucket
    EXPECT_EQ(t.capacity(), LocalityTable::ways);
    for (uint32_t a = 1; a <= LocalityTable::ways; ++a) EXPECT_EQ(pick_lblc(d, &t, to(a, a)), 0);
    pick_lblc(d, &t, to(1, 100));  // address 1 used again; 2 is now the oldest
    pick_lblc(d, &t, to(1000, 101));
    EXPECT_EQ(t.size(101), LocalityTable::ways);
    EXPECT_TRUE(t.servers_of(2, d, 101).empty());
    EXPECT_FALSE(t.servers_of(1, d, 101).empty());
    EXPECT_FALSE(t.servers_of(1000, d, 101).empty());
    t.clear();
    EXPECT_EQ(t.size(101), 0u);
}

TEST(LocalityLeastConnection, WithoutATableItIsWlc)
{
    auto d = numbered({server(1, 2, 0), server(2, 2, 0)});
    EXPECT_EQ(pick_lblc(d, nullptr, to(1, 1)), 1);
    EXPECT_EQ(pick_lblcr(d, nullptr, to(1, 1)), 1);
}

TEST(LocalityReplication, OverloadAddsAServerToTheSet)
{
    auto d = numbered({server(2, 0, 0), server(2, 1, 0), server(2, 1, 0)});
    LocalityTable t(1024, 1000);
    const uint32_t addr = 0x0c0c0c0cu;
    EXPECT_EQ(pick_lblcr(d, &t, to(addr, 1)), 0);
    d[0].active = 3;  // > weight 2, and nobody is below half (1 * 2 < 2 is false)
    EXPECT_EQ(pick_lblcr(d, &t, to(addr, 2)), 0);
    d[1].active = 0;  // B: 0 * 2 < 2: now A is overloaded for lblcr
    EXPECT_EQ(pick_lblcr(d, &t, to(addr, 3)), 1);
    EXPECT_EQ(t.servers_of(addr, d, 3), (std::vector<int32_t>{1, 0}));  // newest first
    // The set's least loaded member serves it: B (0) while A has 3.
    d[1].active = 2;  // B 512/2 < A 768/2
    EXPECT_EQ(pick_lblcr(d, &t, to(addr, 4)), 1);
    d[0].active = 1;  // A 256/2 < B 512/2, and A is not overloaded
    EXPECT_EQ(pick_lblcr(d, &t, to(addr, 5)), 0);
    EXPECT_EQ(t.servers_of(addr, d, 5), (std::vector<int32_t>{1, 0}));
}

TEST(LocalityReplication, SetMinSkipsOverloadedAndTiesGoToTheNewest)
{
    auto d = numbered({server(1, 0, 0), server(1, 0, 0), server(1, 0, 0)});
    LocalityTable t(1024, 1000);
    EXPECT_EQ(pick_lblcr(d, &t, to(3, 1)), 0);
    d[0].active = 2;  // A overloaded for lblcr (B, C at 0 < 1/2)
    EXPECT_EQ(pick_lblcr(d, &t, to(3, 2)), 1);
    d[0].active = 0;
    // Set {B, A}: equal loads, B (the newest, first in the set) wins.
    EXPECT_EQ(pick_lblcr(d, &t, to(3, 3)), 1);
    d[1].overloaded = true;  // flagged members are skipped by set_min
    EXPECT_EQ(pick_lblcr(d, &t, to(3, 4)), 0);
}

TEST(LocalityReplication, UnchangedSetLosesItsMostLoadedMemberAfterExpiration)
{
    auto d = numbered({server(4, 0, 0), server(4, 0, 0), server(4, 0, 0)});
    LocalityTable t(1024, 100);
    EXPECT_EQ(pick_lblcr(d, &t, to(4, 0)), 0);
    d[0].active = 5;
    EXPECT_EQ(pick_lblcr(d, &t, to(4, 10)), 1);  // set {B, A}, modified at 10
    d[1].active = 1;
    // Entries unused for the expiration are gone too, so keep this one in use.
    EXPECT_EQ(pick_lblcr(d, &t, to(4, 60)), 1);
    EXPECT_EQ(pick_lblcr(d, &t, to(4, 110)), 1);  // 110 is not after 10 + 100
    EXPECT_EQ(t.servers_of(4, d, 110).size(), 2u);
    EXPECT_EQ(pick_lblcr(d, &t, to(4, 111)), 1);  // after: A (5 active) leaves the set
    EXPECT_EQ(t.servers_of(4, d, 111), std::vector<int32_t>{1});
}

TEST(LocalityReplication, ShrinkRemovesTheLeastLoadedIfItIsTheMostLoadedAndStillUsesIt)
{
    // Set {B, A} with equal loads: set_min and set_max both keep the first member, B; the shrink
    // removes B, and the kernel still returns B for this connection.
    auto d = numbered({server(2, 0, 0), server(2, 0, 0), server(2, 1, 0)});
    LocalityTable t(1024, 50);
    EXPECT_EQ(pick_lblcr(d, &t, to(6, 0)), 0);
    d[0].active = 3;
    EXPECT_EQ(pick_lblcr(d, &t, to(6, 1)), 1);  // {B, A}
    d[0].active = 0;
    EXPECT_EQ(pick_lblcr(d, &t, to(6, 30)), 1);  // used, not modified
    EXPECT_EQ(pick_lblcr(d, &t, to(6, 52)), 1);  // 52 > 1 + 50: B goes, yet serves this one
    EXPECT_EQ(t.servers_of(6, d, 52), std::vector<int32_t>{0});
}

TEST(LocalityReplication, FullSetGivesUpItsMostLoadedMember)
{
    std::vector<Destination> many(LocalityTable::max_set + 2, server(1));
    many = numbered(many);
    LocalityTable t(1024, 1000000);
    // Each pick finds the current member overloaded (2 active > 1, and an idle server exists),
    // so the set grows by one server each time.
    for (uint64_t now = 1; now <= LocalityTable::max_set + 1; ++now) {
        const int32_t p = pick_lblcr(many, &t, to(77, now));
        ASSERT_EQ(p, static_cast<int32_t>(now - 1));
        many[static_cast<size_t>(p)].active = 2 + static_cast<uint32_t>(now);
    }
    const auto set = t.servers_of(77, many, 100);
    EXPECT_EQ(set.size(), LocalityTable::max_set);
    // The ninth server took the place of the most loaded member: the newest before it, which had
    // the most active connections.
    EXPECT_EQ(std::count(set.begin(), set.end(), static_cast<int32_t>(LocalityTable::max_set - 1)), 0);
    EXPECT_EQ(set.front(), static_cast<int32_t>(LocalityTable::max_set));
}

TEST(LocalityReplication, DepartedMembersAreDropped)
{
    auto d = numbered({server(1, 0, 0), server(1, 0, 0)});
    LocalityTable t(1024, 1000);
    EXPECT_EQ(pick_lblcr(d, &t, to(2, 1)), 0);
    d[0].active = 2;
    EXPECT_EQ(pick_lblcr(d, &t, to(2, 2)), 1);  // {B, A}
    std::vector<Destination> only_a{d[0]};
    only_a[0].active = 0;
    EXPECT_EQ(pick_lblcr(only_a, &t, to(2, 3)), 0);
    EXPECT_EQ(t.servers_of(2, only_a, 3), std::vector<int32_t>{0});
}

// ---------------------------------------------------------------------------------------------
// twos.

TEST(TwoChoices, EqualLoadsReturnTheFirstDrawWithTheKernelsOffByOne)
{
    // Draws are in [0, total]: the first server has weight + 1 chances out of total + 1.
    auto d = numbered({server(1), server(2), server(3), server(4)});
    SchedCursor c;
    seed_cursor(c, 42);
    std::array<int, 4> count{};
    const int picks = 220000;
    for (int i = 0; i < picks; ++i) ++count[static_cast<size_t>(pick_twos(d, c.rng))];
    const std::array<double, 4> expect{2 / 11.0, 2 / 11.0, 3 / 11.0, 4 / 11.0};
    for (size_t i = 0; i < 4; ++i) EXPECT_NEAR(count[i] / double(picks), expect[i], 0.005) << i;
}

TEST(TwoChoices, TheLessLoadedOfTwoDrawsWins)
{
    // A is loaded, B idle, weights equal: A only when both draws are A. Draws 0..2, A has 0 and 1.
    auto d = numbered({server(1, 10, 0), server(1, 0, 0)});
    SchedCursor c;
    seed_cursor(c, 7);
    int b = 0;
    const int picks = 90000;
    for (int i = 0; i < picks; ++i) b += pick_twos(d, c.rng) == 1;
    EXPECT_NEAR(b / double(picks), 1 - (2 / 3.0) * (2 / 3.0), 0.006);
}

TEST(TwoChoices, LoadIsComparedPerWeight)
{
    // A: 512/4 = 128 per weight, B: 256/1: B only wins when both draws are B.
    auto d = numbered({server(4, 2, 0), server(1, 1, 0)});
    SchedCursor c;
    seed_cursor(c, 9);
    int b = 0;
    const int picks = 60000;
    for (int i = 0; i < picks; ++i) b += pick_twos(d, c.rng) == 1;
    EXPECT_NEAR(b / double(picks), (1 / 6.0) * (1 / 6.0), 0.004);
}

TEST(TwoChoices, SkipsQuiescentAndOverloadedAndIsDeterministicPerSeed)
{
    auto d = numbered({server(0), server(3, 0, 0, true), server(2), server(1)});
    SchedCursor a, b, other;
    seed_cursor(a, 1);
    seed_cursor(b, 1);
    seed_cursor(other, 2);
    std::string sa, sb, so;
    for (int i = 0; i < 64; ++i) {
        sa += letter(pick_twos(d, a.rng));
        sb += letter(pick_twos(d, b.rng));
        so += letter(pick_twos(d, other.rng));
    }
    EXPECT_EQ(sa, sb);
    EXPECT_NE(sa, so);
    EXPECT_EQ(sa.find_first_not_of("CD"), std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// mh: the lookup (the table's properties are in test_maglev.cpp).

TEST(MaglevLookup, SameSourceSameServerPortOnlyWithTheFlag)
{
    auto d = numbered({server(1), server(1), server(1), server(1)});
    const Prepared p = prepare(Kind::mh, d);
    Flags f;
    f.mh_port = true;
    const Prepared pp = prepare(Kind::mh, d, f);
    EXPECT_EQ(p.mh_table, pp.mh_table);
    int moved = 0;
    for (uint32_t n = 0; n < 500; ++n) {
        const uint32_t ip = 0xc6000000u + n * 7u;
        const int32_t a = pick_mh(p, d, from(ip, 1000));
        EXPECT_EQ(pick_mh(p, d, from(ip, 2000, 99)), a);
        const uint32_t slot = mh_flow_slot(endpoint_key(ip, 0), 0, p.mh_table_size);
        EXPECT_EQ(a, static_cast<int32_t>(p.mh_index_of_rank[p.mh_table[slot]]));
        moved += pick_mh(pp, d, from(ip, 1000)) != pick_mh(pp, d, from(ip, 2000));
    }
    EXPECT_GT(moved, 250);  // with mh-port, 3 in 4 port changes move
}

TEST(MaglevLookup, UnavailableWithoutAndWithFallback)
{
    auto d = numbered({server(1), server(1), server(1)});
    const Prepared p = prepare(Kind::mh, d);
    Flags f;
    f.mh_fallback = true;
    const Prepared pf = prepare(Kind::mh, d, f);
    auto down = d;
    down[1].overloaded = true;
    for (uint32_t n = 0; n < 2000; ++n) {
        const uint32_t ip = n * 2654435761u;
        const int32_t before = pick_mh(p, d, from(ip));
        const int32_t without = pick_mh(p, down, from(ip));
        const int32_t with = pick_mh(pf, down, from(ip));
        if (before == 1) {
            EXPECT_EQ(without, no_destination);
            EXPECT_TRUE(with == 0 || with == 2);
            // The kernel's walk: rehash with offsets first, first + 1, ...
            const uint64_t key = endpoint_key(ip, 0);
            const uint32_t first = mh_flow_slot(key, 0, pf.mh_table_size);
            int32_t expect = no_destination;
            for (uint32_t o = 0; o < pf.mh_table_size && expect < 0; ++o) {
                const uint32_t s = mh_flow_slot(key, (first + o) % pf.mh_table_size, pf.mh_table_size);
                const auto idx = static_cast<int32_t>(pf.mh_index_of_rank[pf.mh_table[s]]);
                if (idx != 1) expect = idx;
            }
            EXPECT_EQ(with, expect);
        } else {
            EXPECT_EQ(without, before);
            EXPECT_EQ(with, before);
        }
    }
    down[0].weight = 0;
    down[2].overloaded = true;
    EXPECT_EQ(pick_mh(pf, down, from(5)), no_destination);
}

TEST(MaglevLookup, QuiescedServerKeepsItsSlotsWithLastWeight)
{
    auto d = numbered({server(2), server(1), server(1)});
    const Prepared before = prepare(Kind::mh, d);
    auto quiesced = d;
    quiesced[0].weight = 0;
    quiesced[0].last_weight = 2;
    const Prepared kept = prepare(Kind::mh, quiesced);
    EXPECT_EQ(kept.mh_table, before.mh_table);
    int none = 0;
    for (uint32_t n = 0; n < 1000; ++n) {
        const int32_t pk = pick_mh(kept, quiesced, from(n * 40503u));
        EXPECT_NE(pk, 0);
        none += pk == no_destination;
    }
    EXPECT_GT(none, 300);  // half of the slots are A's
    // Without last_weight, weight 0 leaves the table and its slots go to the others.
    auto removed = d;
    removed[0].weight = 0;
    const Prepared gone = prepare(Kind::mh, removed);
    EXPECT_EQ(gone.mh_index_of_rank.size(), 2u);
    for (uint32_t n = 0; n < 1000; ++n) EXPECT_NE(pick_mh(gone, removed, from(n * 40503u)), no_destination);
}

TEST(MaglevLookup, TableSizeChecks)
{
    EXPECT_EQ(mh_table_size_problem(65537, 1000), "");
    EXPECT_EQ(mh_table_size_problem(251, 251), "");
    EXPECT_EQ(mh_table_size_problem(65536, 10),
              "the Maglev table size must be a prime number, and 65536 is not (the next prime is 65537)");
    EXPECT_EQ(mh_table_size_problem(7, 8), "the Maglev table size 7 is smaller than the 8 real servers");
    EXPECT_NE(mh_table_size_problem(max_mh_table_size + 2, 1), "");
    EXPECT_EQ(mh_table_size_problem(max_mh_table_size, 1), "");
    EXPECT_NE(mh_table_size_problem(1, 0), "");
    // A size the checker would reject falls back to the default rather than break the table.
    auto d = numbered({server(1)});
    EXPECT_EQ(prepare(Kind::mh, d, {}, 1000).mh_table_size, default_mh_table_size);
    EXPECT_EQ(prepare(Kind::mh, d, {}, 251).mh_table.size(), 251u);
}

// ---------------------------------------------------------------------------------------------
// The overload flag's hysteresis, for the control core.

TEST(OverloadFlag, UpperAndLowerThresholds)
{
    EXPECT_FALSE(overloaded_after(false, 99, 100, 50));
    EXPECT_TRUE(overloaded_after(false, 100, 100, 50));
    EXPECT_TRUE(overloaded_after(true, 50, 100, 50));   // not below the lower threshold yet
    EXPECT_FALSE(overloaded_after(true, 49, 100, 50));
    EXPECT_FALSE(overloaded_after(false, 70, 100, 50));  // no hysteresis while not set
}

TEST(OverloadFlag, WithoutLowerThresholdClearsBelowThreeQuarters)
{
    EXPECT_TRUE(overloaded_after(true, 75, 100, 0));
    EXPECT_FALSE(overloaded_after(true, 74, 100, 0));
    EXPECT_FALSE(overloaded_after(false, 1000000, 0, 0));
    EXPECT_FALSE(overloaded_after(true, 1000000, 0, 0));  // thresholds removed
    EXPECT_TRUE(overloaded_after(true, 60, 0, 50));      // only a lower threshold
    EXPECT_FALSE(overloaded_after(true, 40, 0, 50));
}
