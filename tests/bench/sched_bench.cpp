// Nanoseconds per pick of every scheduler with 1, 10, 100 and 1000 real servers, one core.
// Prints a markdown table for docs/performance.md.
//
//   sched-bench [--min-ms N]    (default 100 ms of picks per cell)
//
// Each pick is for a new random flow (4096 precomputed: source address and port, destination
// address among 1024), and the picked server's inactive count goes up by one, as the dataplane's
// would, so the count-based schedulers do not see the same answer every time. Weights are
// 1..5, counts random. lblc/lblcr use a 16384-entry LocalityTable.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "sched/scheduler.hpp"

using namespace fulcrum::sched;

namespace {

std::string cpu_model()
{
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
    return "unknown CPU";
}

volatile int64_t sink;

double ns_per_pick(Kind kind, size_t n, double min_ms, MhCompat compat = MhCompat::fulcrum)
{
    std::mt19937_64 rng(n * 131 + static_cast<unsigned>(kind));
    std::vector<Destination> dests(n);
    for (size_t i = 0; i < n; ++i) {
        Destination& d = dests[i];
        d.weight = 1 + static_cast<uint32_t>(i % 5);
        d.active = static_cast<uint32_t>(rng() % 50);
        d.inactive = static_cast<uint32_t>(rng() % 200);
        d.address = 0x0a000000u + static_cast<uint32_t>(i) + 1;
        d.port = 80;
    }
    const Prepared prepared = compat == MhCompat::kernel
        ? prepare(kind, dests, {}, default_kernel_mh_table_size, compat) : prepare(kind, dests);

    constexpr size_t flow_count = 4096;
    std::vector<FlowInput> flows(flow_count);
    for (FlowInput& f : flows) {
        f.src_ip = static_cast<uint32_t>(rng());
        f.src_port = static_cast<uint16_t>(rng());
        f.dst_ip = 0xc0a80000u + static_cast<uint32_t>(rng() % 1024);
        f.dst_port = 80;
    }

    LocalityTable locality(16384, 24 * 3600);
    SchedCursor cursor;
    seed_cursor(cursor, 1);
    cursor.locality = &locality;

    int64_t total = 0;
    uint64_t now = 0;
    auto run = [&](size_t picks) {
        for (size_t i = 0; i < picks; ++i) {
            FlowInput f = flows[i % flow_count];
            f.now = now;
            const int32_t p = pick(prepared, dests, cursor, f);
            if (p >= 0) ++dests[static_cast<size_t>(p)].inactive;
            total += p;
        }
        ++now;
    };

    run(20000);  // warm the caches, the LocalityTable and the branch predictors
    using clock = std::chrono::steady_clock;
    size_t picks = 0;
    size_t batch = 4096;
    const auto start = clock::now();
    double elapsed_ns = 0;
    while (elapsed_ns < min_ms * 1e6) {
        run(batch);
        picks += batch;
        elapsed_ns = std::chrono::duration<double, std::nano>(clock::now() - start).count();
        if (batch < (1u << 20)) batch *= 2;
    }
    sink = total;
    return elapsed_ns / static_cast<double>(picks);
}

}  // namespace

int main(int argc, char** argv)
{
    double min_ms = 100;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--min-ms") == 0 && i + 1 < argc) {
            min_ms = std::atof(argv[++i]);
        } else {
            std::fprintf(stderr, "usage: %s [--min-ms N]\n", argv[0]);
            return 2;
        }
    }
    const size_t sizes[] = {1, 10, 100, 1000};
    std::printf("Scheduler pick cost, ns per pick (%s, one core)\n\n", cpu_model().c_str());
    std::printf("| scheduler | 1 server | 10 servers | 100 servers | 1000 servers |\n");
    std::printf("|---|---:|---:|---:|---:|\n");
    for (Kind kind : all_kinds) {
        std::printf("| %-5s |", std::string(kind_name(kind)).c_str());
        for (size_t n : sizes) std::printf(" %8.1f |", ns_per_pick(kind, n, min_ms));
        std::printf("\n");
        std::fflush(stdout);
    }
    // mh_compat: kernel, the kernel's own table (4093 slots) and hsiphash.
    std::printf("| mh (kernel) |");
    for (size_t n : sizes) std::printf(" %8.1f |", ns_per_pick(Kind::mh, n, min_ms, MhCompat::kernel));
    std::printf("\n");
    return 0;
}
