// The Maglev table's guarantees (docs/scheduling.md): balance, disruption, determinism.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <numeric>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "sched/scheduler.hpp"

using namespace fulcrum::sched;

namespace {

constexpr uint32_t M = default_mh_table_size;

// n servers 10.x.y.z:8080 with the given weights (all 1 when empty).
std::vector<Destination> backends(size_t n, std::vector<uint32_t> weights = {})
{
    std::vector<Destination> d(n);
    for (size_t i = 0; i < n; ++i) {
        d[i].address = 0x0a000000u + static_cast<uint32_t>(i) * 3 + 1;
        d[i].port = static_cast<uint16_t>(8080 + i % 3);
        d[i].weight = weights.empty() ? 1 : weights[i];
    }
    return d;
}

// Each slot's server as (address, port): comparable between tables of different lists.
std::vector<uint64_t> owners(const Prepared& p, const std::vector<Destination>& d)
{
    std::vector<uint64_t> o(p.mh_table.size());
    for (size_t s = 0; s < o.size(); ++s) {
        const Destination& x = d[p.mh_index_of_rank[p.mh_table[s]]];
        o[s] = endpoint_key(x.address, x.port);
    }
    return o;
}

std::vector<uint32_t> slots_per_destination(const Prepared& p, size_t n)
{
    std::vector<uint32_t> count(n, 0);
    for (uint32_t rank : p.mh_table) ++count[p.mh_index_of_rank[rank]];
    return count;
}

uint64_t fnv1a(const std::vector<uint32_t>& table)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (uint32_t v : table)
        for (int b = 0; b < 4; ++b) {
            h ^= (v >> (8 * b)) & 0xff;
            h *= 0x100000001b3ULL;
        }
    return h;
}

std::string dotted(uint32_t a)
{
    return std::to_string(a >> 24) + "." + std::to_string((a >> 16) & 0xff) + "." + std::to_string((a >> 8) & 0xff) +
           "." + std::to_string(a & 0xff);
}

// Runs tests/unit/maglev_reference.py (an independent implementation of docs/scheduling.md's
// construction) on the same servers and flows; returns its output lines. The script's path
// comes from meson (MAGLEV_REFERENCE): without it the test fails rather than passing unchecked.
// The order the servers were added in: by Destination::added, then list order. The kernel's
// reference takes them so.
std::vector<uint32_t> addition_order(const std::vector<Destination>& d)
{
    std::vector<uint32_t> order(d.size());
    std::iota(order.begin(), order.end(), 0u);
    std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return d[a].added < d[b].added; });
    return order;
}

// `kernel`: tests/unit/ip_vs_mh_reference.py instead (IP_VS_MH_REFERENCE), an independent
// ip_vs_mh written from the kernel's sources, given each server's last_weight and whether it is
// usable, and the flags.
std::vector<std::string> reference(uint32_t size, const std::vector<Destination>& d, const std::vector<FlowInput>& flows,
                                   bool kernel = false, Flags flags = {})
{
    const char* variable = kernel ? "IP_VS_MH_REFERENCE" : "MAGLEV_REFERENCE";
    const char* script = std::getenv(variable);
    if (script == nullptr) {
        ADD_FAILURE() << variable << " is not set (meson test sets it)";
        return {};
    }
    std::string command = std::string("/usr/bin/python3 ") + script + " " + std::to_string(size);
    if (flags.mh_port) command += " --port";
    if (flags.mh_fallback) command += " --fallback";
    for (uint32_t i : kernel ? addition_order(d) : std::vector<uint32_t>{}) {
        const Destination& x = d[i];
        command += " " + dotted(x.address) + ":" + std::to_string(x.port) + ":" + std::to_string(x.weight) + ":" +
                   std::to_string(x.weight > 0 ? x.weight : x.last_weight) + (x.overloaded ? ":down" : "");
    }
    if (!kernel)
        for (const Destination& x : d)
            command += " " + dotted(x.address) + ":" + std::to_string(x.port) + ":" + std::to_string(x.weight);
    if (!flows.empty()) {
        command += " --flows ";
        for (const FlowInput& f : flows) command += dotted(f.src_ip) + ":" + std::to_string(f.src_port) + ",";
    }
    std::vector<std::string> lines;
    FILE* out = popen(command.c_str(), "r");
    if (out == nullptr) {
        ADD_FAILURE() << "cannot run " << command;
        return {};
    }
    std::array<char, 256> line;
    while (std::fgets(line.data(), line.size(), out) != nullptr) {
        std::string text = line.data();
        if (!text.empty() && text.back() == '\n') text.pop_back();
        lines.push_back(text);
    }
    EXPECT_EQ(pclose(out), 0) << command;
    return lines;
}

std::string hex_digest(uint64_t digest)
{
    std::ostringstream text;
    text << "digest 0x" << std::hex;
    text.width(16);
    text.fill('0');
    text << digest;
    return text.str();
}

}  // namespace

TEST(Maglev, HashesArePinned)
{
    // Other directors (and other versions of this one) must compute the same: these values are
    // part of the behaviour clients see. They are the documented formulas (docs/scheduling.md)
    // as tests/unit/maglev_reference.py computes them.
    EXPECT_EQ(mix64(0), 0u);
    EXPECT_EQ(mix64(1), 0x5692161d100b05e5ULL);
    EXPECT_EQ(endpoint_key(0x0a000001u, 80), 0x0a0000010050ULL);
    EXPECT_EQ(mh_offset(0x0a000001u, 80, M), 39900u);
    EXPECT_EQ(mh_skip(0x0a000001u, 80, M), 20143u);
    EXPECT_EQ(mh_flow_slot(endpoint_key(0xc0a80101u, 0), 0, M), 32430u);
}

TEST(Maglev, EqualWeightsShareWithinOnePercent)
{
    for (size_t n : {10u, 100u, 1000u}) {
        auto d = backends(n);
        const Prepared p = prepare(Kind::mh, d);
        ASSERT_EQ(p.mh_table.size(), M);
        const double ideal = double(M) / n;
        for (uint32_t c : slots_per_destination(p, n))
            EXPECT_LE(std::abs(c - ideal), 0.01 * ideal) << "N=" << n << " count " << c;
    }
}

TEST(Maglev, UnequalWeightsShareWithinOnePercentPlusOneSlot)
{
    std::mt19937 rng(2024);
    std::vector<std::vector<uint32_t>> cases{
        {1, 2, 3, 4, 5, 6, 7, 8, 9, 10},
        {1, 100},
        {1, 1000, 65535, 7, 300},
        {65535, 65534, 1},
    };
    for (size_t n : {100u, 1000u}) {
        std::vector<uint32_t> w(n);
        for (auto& x : w) x = 1 + rng() % 100;
        cases.push_back(w);
        for (auto& x : w) x = 1 + rng() % 65535;
        cases.push_back(w);
    }
    for (const auto& weights : cases) {
        auto d = backends(weights.size(), weights);
        const Prepared p = prepare(Kind::mh, d);
        double total = 0;
        for (uint32_t x : weights) total += x;
        const auto count = slots_per_destination(p, d.size());
        for (size_t i = 0; i < d.size(); ++i) {
            const double share = M * weights[i] / total;
            EXPECT_LE(std::abs(count[i] - share), 0.01 * share + 1)
                << "server " << i << " of " << d.size() << " weight " << weights[i];
        }
    }
}

TEST(Maglev, RemovingOneServerMovesAtMostItsShareAndOnePercent)
{
    for (size_t n : {10u, 100u, 1000u}) {
        auto d = backends(n);
        const Prepared full = prepare(Kind::mh, d);
        const auto before = owners(full, d);
        for (size_t victim : {size_t{0}, n / 2, n - 1}) {
            auto fewer = d;
            fewer.erase(fewer.begin() + static_cast<std::ptrdiff_t>(victim));
            const Prepared less = prepare(Kind::mh, fewer);
            const auto after = owners(less, fewer);
            size_t changed = 0;
            for (size_t s = 0; s < M; ++s) changed += before[s] != after[s];
            const double percent = 100.0 * changed / M;
            EXPECT_LE(percent, 100.0 / n + 1) << "N=" << n << " removing " << victim;
            RecordProperty("changed_percent_N" + std::to_string(n) + "_" + std::to_string(victim),
                           std::to_string(percent));
        }
    }
}

TEST(Maglev, AddingTheServerBackRestoresTheTableExactly)
{
    for (size_t n : {10u, 100u, 1000u}) {
        auto d = backends(n);
        const Prepared full = prepare(Kind::mh, d);
        auto fewer = d;
        const Destination gone = fewer[n / 3];
        fewer.erase(fewer.begin() + static_cast<std::ptrdiff_t>(n / 3));
        ASSERT_NE(prepare(Kind::mh, fewer).mh_table, full.mh_table);
        fewer.push_back(gone);  // back, at the end of the list this time
        const Prepared again = prepare(Kind::mh, fewer);
        EXPECT_EQ(again.mh_table, full.mh_table);
        EXPECT_EQ(owners(again, fewer), owners(full, d));
    }
}

TEST(Maglev, AnyOrderGivesTheSameBytesAndTheGoldenDigest)
{
    auto d = backends(10, {1, 2, 3, 4, 5, 1, 2, 3, 4, 5});
    const Prepared reference = prepare(Kind::mh, d);
    // Computed by tests/unit/maglev_reference.py, an independent implementation of the
    // construction in docs/scheduling.md (exact fractions for the turn times), which the next
    // test runs again; a change here changes every director's flows.
    EXPECT_EQ(fnv1a(reference.mh_table), 0x39ae93b62eaef6bfULL);
    std::mt19937 rng(1);
    for (int i = 0; i < 20; ++i) {
        std::shuffle(d.begin(), d.end(), rng);
        const Prepared p = prepare(Kind::mh, d);
        EXPECT_EQ(p.mh_table, reference.mh_table);
        EXPECT_EQ(fnv1a(p.mh_table), fnv1a(reference.mh_table));
        EXPECT_EQ(owners(p, d), owners(reference, backends(10, {1, 2, 3, 4, 5, 1, 2, 3, 4, 5})));
    }
}

TEST(Maglev, TablesAndFlowsAgreeWithTheIndependentReference)
{
    // The golden digest above, recomputed by the reference, and more tables with flows on them:
    // unequal weights, extreme weights, a small prime.
    std::mt19937 rng(7);
    std::vector<FlowInput> flows(12);
    for (FlowInput& f : flows) {
        f.src_ip = static_cast<uint32_t>(rng());
        f.src_port = static_cast<uint16_t>(rng());
    }
    struct Case {
        uint32_t size;
        std::vector<Destination> servers;
    };
    const std::vector<Case> cases{
        {M, backends(10, {1, 2, 3, 4, 5, 1, 2, 3, 4, 5})},
        {M, backends(5, {1, 1000, 65535, 7, 300})},
        {M, backends(37)},
        {251, backends(9, {9, 8, 7, 6, 5, 4, 3, 2, 1})},
    };
    for (const Case& c : cases) {
        Flags port_flag;
        port_flag.mh_port = true;
        const Prepared p = prepare(Kind::mh, c.servers, port_flag, c.size);
        const auto lines = reference(c.size, c.servers, flows);
        ASSERT_EQ(lines.size(), 1 + flows.size());
        EXPECT_EQ(lines[0], hex_digest(fnv1a(p.mh_table))) << "servers " << c.servers.size();
        for (size_t i = 0; i < flows.size(); ++i) {
            const Destination& chosen = c.servers[static_cast<size_t>(pick_mh(p, c.servers, flows[i]))];
            EXPECT_EQ(lines[1 + i], "flow " + dotted(flows[i].src_ip) + ":" + std::to_string(flows[i].src_port) + " " +
                                        dotted(chosen.address) + ":" + std::to_string(chosen.port));
        }
    }
}

TEST(Maglev, TableDependsOnlyOnAddressPortAndWeight)
{
    auto d = backends(50);
    const Prepared reference = prepare(Kind::mh, d);
    auto busy = d;
    for (size_t i = 0; i < busy.size(); ++i) {
        busy[i].active = static_cast<uint32_t>(i * 13);
        busy[i].inactive = static_cast<uint32_t>(i * 7);
        busy[i].overloaded = i % 5 == 0;
    }
    EXPECT_EQ(prepare(Kind::mh, busy).mh_table, reference.mh_table);
    Flags f;
    f.mh_port = true;
    f.mh_fallback = true;
    EXPECT_EQ(prepare(Kind::mh, d, f).mh_table, reference.mh_table);
    auto reweighted = d;
    reweighted[7].weight = 2;
    EXPECT_NE(prepare(Kind::mh, reweighted).mh_table, reference.mh_table);
    auto moved = d;
    moved[7].port = 9999;
    EXPECT_NE(prepare(Kind::mh, moved).mh_table, reference.mh_table);
}

TEST(Maglev, DoublingAWeightMovesOnlyTowardsThatServer)
{
    auto d = backends(20);
    const Prepared before = prepare(Kind::mh, d);
    auto heavier = d;
    heavier[4].weight = 2;
    const Prepared after = prepare(Kind::mh, heavier);
    const auto a = owners(before, d);
    const auto b = owners(after, heavier);
    const uint64_t four = endpoint_key(d[4].address, d[4].port);
    size_t to_four = 0, other = 0;
    for (size_t s = 0; s < M; ++s) {
        if (a[s] == b[s]) continue;
        if (b[s] == four) ++to_four;
        else ++other;
    }
    const auto count = slots_per_destination(after, heavier.size());
    EXPECT_NEAR(count[4], 2.0 * M / 21, 2);
    EXPECT_GE(to_four, count[4] - M / 20 - 2);  // it gained about its extra share
    EXPECT_LE(other, M / 100);                  // and little else moved
}

TEST(Maglev, FlowsFollowTheSlots)
{
    auto d = backends(8, {1, 1, 2, 2, 3, 3, 4, 4});
    const Prepared p = prepare(Kind::mh, d);
    std::vector<int> flows(d.size(), 0);
    std::mt19937 rng(3);
    const int total = 400000;
    for (int i = 0; i < total; ++i) {
        FlowInput f;
        f.src_ip = static_cast<uint32_t>(rng());
        ++flows[static_cast<size_t>(pick_mh(p, d, f))];
    }
    for (size_t i = 0; i < d.size(); ++i)
        EXPECT_NEAR(flows[i] / double(total), d[i].weight / 20.0, 0.005) << i;
}

TEST(Maglev, OtherPrimeSizes)
{
    for (uint32_t size : {251u, 4093u, 131071u}) {
        auto d = backends(7);
        const Prepared p = prepare(Kind::mh, d, {}, size);
        ASSERT_EQ(p.mh_table.size(), size);
        for (uint32_t c : slots_per_destination(p, d.size()))
            EXPECT_LE(std::abs(c - double(size) / 7), 1.0);
    }
    auto as_many = backends(251);
    const Prepared p = prepare(Kind::mh, as_many, {}, 251);
    for (uint32_t c : slots_per_destination(p, as_many.size())) EXPECT_EQ(c, 1u);
}

// ---- mh_compat: kernel, ip_vs_mh's own table ---------------------------------------------------

TEST(KernelMh, HsiphashMatchesTheKernelsTestVector)
{
    // lib/test_siphash.c, 64-bit: hsiphash_1u32(0x03020100) under the key 00 01 02 ... 0f.
    EXPECT_EQ(kernel_hsiphash_u32(0x03020100u, 0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL), 0x88d38328u);
}

TEST(KernelMh, TableSizesAreTheKernels)
{
    EXPECT_EQ(mh_table_size_problem(4093, 10, MhCompat::kernel), "");
    EXPECT_EQ(mh_table_size_problem(251, 251, MhCompat::kernel), "");
    EXPECT_EQ(mh_table_size_problem(131071, 3, MhCompat::kernel), "");
    EXPECT_NE(mh_table_size_problem(65537, 3, MhCompat::kernel), "");  // prime, but not the kernel's
    EXPECT_NE(mh_table_size_problem(4091, 3, MhCompat::kernel), "");
    EXPECT_NE(mh_table_size_problem(251, 252, MhCompat::kernel), "");
    // A size the checker would refuse falls back to the kernel's default.
    const Prepared p = prepare(Kind::mh, backends(3), {}, 65537, MhCompat::kernel);
    EXPECT_EQ(p.mh_table_size, 4093u);
    EXPECT_EQ(p.mh_table.size(), 4093u);
}

// Random services against the independent ip_vs_mh: every table size, 1 to 40 servers, weights
// from 1 to 65535 (so the shift applies), quiesced servers keeping their slots, overloaded ones,
// mh-port and mh-fallback; the whole table (digest) and 40 flows each.
TEST(KernelMh, TablesAndFlowsAgreeWithTheIndependentReference)
{
    std::mt19937 rng(2026);
    int cases = 0;
    int picks = 0;
    int unusable_first = 0;
    for (int c = 0; c < 36; ++c) {
        const uint32_t size = kernel_mh_table_sizes[c < 30 ? static_cast<size_t>(c % 5) : static_cast<size_t>(c % 10)];
        const size_t n = 1 + rng() % 40;
        const uint32_t max_weight = std::array<uint32_t, 4>{1, 10, 1000, 65535}[static_cast<size_t>(c % 4)];
        std::vector<Destination> d(n);
        for (size_t i = 0; i < n; ++i) {
            d[i].address = 0x0a000000u + static_cast<uint32_t>(rng() % 65536);
            d[i].port = static_cast<uint16_t>(rng() % 3 == 0 ? 80 : 1 + rng() % 65535);
            d[i].weight = 1 + rng() % max_weight;
            const uint32_t roll = rng() % 10;
            if (roll == 0) {
                d[i].last_weight = d[i].weight;  // quiesced: its slots stay, nobody is sent there
                d[i].weight = 0;
            } else if (roll == 1) {
                d[i].overloaded = true;
            } else if (roll == 2 && c % 7 == 0) {
                d[i].weight = 0;  // added with weight 0: no slots
            }
        }
        if (c % 3 == 1)  // some servers added later than the list says (a health check's return, a reload)
            for (Destination& x : d) x.added = rng() % 4;
        Flags flags;
        flags.mh_port = (c & 1) != 0;
        flags.mh_fallback = (c & 2) != 0;
        std::vector<FlowInput> flows(40);
        for (FlowInput& f : flows) {
            f.src_ip = static_cast<uint32_t>(rng());
            f.src_port = static_cast<uint16_t>(rng());
        }
        const Prepared p = prepare(Kind::mh, d, flags, size, MhCompat::kernel);
        const auto lines = reference(size, d, flows, true, flags);
        ASSERT_EQ(lines.size(), 1 + flows.size()) << "case " << c;
        // The reference numbers the servers in the order it was given them.
        const std::vector<uint32_t> order = addition_order(d);
        std::vector<uint32_t> position(n);
        for (uint32_t k = 0; k < n; ++k) position[order[k]] = k;
        std::vector<uint32_t> table(size, UINT32_MAX);
        for (size_t slot = 0; slot < p.mh_table.size(); ++slot) table[slot] = position[p.mh_table[slot]];
        EXPECT_EQ(lines[0], hex_digest(fnv1a(table))) << "case " << c << ": " << n << " servers, size " << size;
        for (size_t i = 0; i < flows.size(); ++i) {
            const int32_t chosen = pick_mh(p, d, flows[i]);
            const std::string where = chosen == no_destination ? "none"
                : dotted(d[static_cast<size_t>(chosen)].address) + ":" + std::to_string(d[static_cast<size_t>(chosen)].port);
            EXPECT_EQ(lines[1 + i], "flow " + dotted(flows[i].src_ip) + ":" + std::to_string(flows[i].src_port) + " " + where)
                << "case " << c;
            ++picks;
            if (!p.mh_table.empty()) {
                const uint32_t first = kernel_mh_hash(flows[i].src_ip, flags.mh_port ? flows[i].src_port : 0, false, 0) % size;
                if (d[p.mh_table[first]].weight == 0 || d[p.mh_table[first]].overloaded) ++unusable_first;
            }
        }
        ++cases;
    }
    EXPECT_EQ(cases, 36);
    EXPECT_EQ(picks, 36 * 40);
    // The fallback and the unusable slot were exercised, not only the first choice.
    EXPECT_GT(unusable_first, 50);
}

TEST(KernelMh, ServersAreWalkedNewestFirst)
{
    // Three servers added in list order, then the first one removed and added back (a failed
    // health check): the kernel's list is now first, third, second.
    std::vector<Destination> d = backends(3, {1, 2, 3});
    d[0].added = 4;
    d[1].added = 2;
    d[2].added = 3;
    const std::vector<Destination> as_added{d[1], d[2], d[0]};
    const Prepared moved = prepare(Kind::mh, d, {}, 4093, MhCompat::kernel);
    std::vector<Destination> plain = as_added;
    for (Destination& x : plain) x.added = 0;
    const Prepared listed = prepare(Kind::mh, plain, {}, 4093, MhCompat::kernel);
    EXPECT_EQ(owners(moved, d), owners(listed, plain));
}

TEST(KernelMh, OrderOfAdditionMattersAsInTheKernel)
{
    // The kernel adds each real server at the head of its list: the same servers added in another
    // order build another table (unlike Fulcrum's own table, which depends only on the set).
    std::vector<Destination> d = backends(6, {1, 2, 3, 1, 2, 3});
    std::vector<Destination> reversed(d.rbegin(), d.rend());
    const Prepared a = prepare(Kind::mh, d, {}, 4093, MhCompat::kernel);
    const Prepared b = prepare(Kind::mh, reversed, {}, 4093, MhCompat::kernel);
    EXPECT_NE(owners(a, d), owners(b, reversed));
    // Each server's share follows its turns: weights 1:2:3 (gcd 1, no shift) give slots in that
    // proportion, within a round of turns.
    const auto counts = slots_per_destination(a, d.size());
    EXPECT_EQ(std::accumulate(counts.begin(), counts.end(), 0u), 4093u);
    for (size_t i = 0; i < d.size(); ++i)
        EXPECT_NEAR(static_cast<double>(counts[i]), 4093.0 * d[i].weight / 12.0, 12.0) << i;
}

// ---- several directors behind ECMP (docs/ecmp.md) ---------------------------------------------

// Two directors configured alike, each with its own connection counts, cursors and, for
// Fulcrum's table, its own order of the real servers: a flow ECMP moves from one to the other
// lands on the same real server with mh (either table) and sh, also once both have lost the same
// server; rr, whose answer depends on what each director saw before, does not.
TEST(EcmpDirectors, DirectorsConfiguredAlikePickTheSameRealServer)
{
    std::mt19937 rng(14);
    std::vector<FlowInput> flows(10000);
    for (FlowInput& f : flows) {
        f.src_ip = static_cast<uint32_t>(rng());
        f.src_port = static_cast<uint16_t>(1024 + rng() % 60000);
    }
    struct Variant {
        const char* name;
        Kind kind;
        MhCompat compat;
        bool reorder;  // director B lists its real servers in another order
    };
    for (const Variant& v : {Variant{"mh", Kind::mh, MhCompat::fulcrum, true}, Variant{"mh kernel", Kind::mh, MhCompat::kernel, false},
                             Variant{"sh", Kind::sh, MhCompat::fulcrum, false}}) {
        for (bool one_lost : {false, true}) {
            std::vector<Destination> a = backends(12, {1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3});
            if (one_lost) a.erase(a.begin() + 4);  // both directors' health checks took it out
            std::vector<Destination> b = a;
            if (v.reorder) std::reverse(b.begin(), b.end());
            for (Destination& d : b) d.active = static_cast<uint32_t>(rng() % 100);  // B's own counts
            Flags flags;
            flags.mh_port = flags.sh_port = true;
            const uint32_t size = v.compat == MhCompat::kernel ? default_kernel_mh_table_size : M;
            const Prepared pa = prepare(v.kind, a, flags, size, v.compat);
            const Prepared pb = prepare(v.kind, b, flags, size, v.compat);
            SchedCursor ca, cb;
            int differ = 0;
            std::map<uint64_t, int> spread;
            for (const FlowInput& f : flows) {
                const int32_t ia = pick(pa, a, ca, f);
                const int32_t ib = pick(pb, b, cb, f);
                ASSERT_GE(ia, 0);
                ASSERT_GE(ib, 0);
                const uint64_t ka = endpoint_key(a[static_cast<size_t>(ia)].address, a[static_cast<size_t>(ia)].port);
                if (ka != endpoint_key(b[static_cast<size_t>(ib)].address, b[static_cast<size_t>(ib)].port)) ++differ;
                ++spread[ka];
            }
            EXPECT_EQ(differ, 0) << v.name << (one_lost ? ", one server lost" : "");
            EXPECT_EQ(spread.size(), a.size()) << v.name << ": every server gets flows";
        }
    }
    // rr: B has seen one connection more than A (another flow of its own): every pick differs.
    std::vector<Destination> d = backends(3);
    const Prepared p = prepare(Kind::rr, d);
    SchedCursor ca, cb;
    pick(p, d, cb, flows[0]);
    int differ = 0;
    for (const FlowInput& f : flows) differ += pick(p, d, ca, f) != pick(p, d, cb, f);
    EXPECT_EQ(differ, static_cast<int>(flows.size()));
}
