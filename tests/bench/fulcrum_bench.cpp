// fulcrum-bench: the real worker code (worker_process_burst, egress_flush) on one core, fed with
// prepared packets, against a baseline that runs the same loop over the same I/O but only
// swaps MACs (testpmd's macswap). Prints Mpps, ns per packet and the ratio to the baseline.
//
// I/O path, the same for both: "receive" = rte_pktmbuf_alloc_bulk + write a 64-byte frame for
// the flow (as a NIC's DMA would) ; "transmit" = rte_eth_tx_burst to a net_null port, which
// frees the mbufs. Usage: fulcrum-bench [options] [-- EAL arguments]
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_pause.h>
#include <rte_timer.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_prefetch.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring_elem.h>

#include <algorithm>
#include <boost/program_options.hpp>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <random>
#include <string>
#include <vector>

#include "control/runtime/snapshot_builder.hpp"
#include "dataplane/egress.hpp"
#include "dataplane/flow_index.hpp"
#include "dataplane/pipeline.hpp"
#include "dataplane/port.hpp"
#include "dataplane/worker.hpp"
#include "fixtures/table.hpp"

namespace po = boost::program_options;
using namespace fulcrum;
using namespace fulcrum::dataplane;

namespace {

constexpr uint16_t burst = rx_burst_size;
constexpr Ipv4 ext_ip = 0xC6120001;     // 198.18.0.1
constexpr Ipv4 int_ip = 0xC6130001;     // 198.19.0.1
constexpr Ipv4 vip = 0xC6120064;        // 198.18.0.100
constexpr Ipv4 real_base = 0xC613000B;  // 198.19.0.11..
constexpr unsigned real_servers = 8;
constexpr uint16_t nat_port = 80, dr_port = 81, tun_port = 82;
// The same services over IPv6: ext 2001:db8::/64 (the VIP 2001:db8::100, clients in
// 2001:db8::8000:0/96), int 2001:db8:1::/64 (real servers 2001:db8:1::11..).
constexpr IpAddress::Bytes ext_ip6{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
constexpr IpAddress::Bytes int_ip6{0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
constexpr IpAddress::Bytes vip6{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0};

IpAddress::Bytes real_server6(unsigned i)
{
    IpAddress::Bytes a = int_ip6;
    a[15] = static_cast<uint8_t>(0x11 + i);
    return a;
}

// Client i: 10 000 ports per address over 198.18.128.0/17 ... wrapping into 198.19.128.0/17;
// over IPv6, 2001:db8::8000:0 and on.
uint32_t client_number(uint32_t i) { return i / 50000u; }
rte_be16_t client_port(uint32_t i) { return rte_cpu_to_be_16(static_cast<uint16_t>(10000 + i % 50000)); }

// A minimal client -> VIP TCP frame (64 bytes over IPv4, 78 over IPv6, with the FCS) with a
// valid IPv4 header checksum; only the client address, port and flags vary, so the checksum is
// patched rather than computed per packet.
struct Template {
    uint8_t bytes[80];
    uint16_t length;  // without the FCS
    bool ipv6;
    rte_be16_t base_checksum = 0;

    Template(const rte_ether_addr& dst_mac, uint16_t dport, uint8_t flags, bool over_ipv6 = false)
        : length(over_ipv6 ? 74 : 60), ipv6(over_ipv6)
    {
        std::memset(bytes, 0, sizeof bytes);
        auto* eth = reinterpret_cast<rte_ether_hdr*>(bytes);
        eth->dst_addr = dst_mac;
        eth->src_addr = {{0x02, 0xcc, 0, 0, 0, 0x02}};
        rte_tcp_hdr* tcp;
        if (ipv6) {
            eth->ether_type = RTE_BE16(RTE_ETHER_TYPE_IPV6);
            auto* ip = reinterpret_cast<rte_ipv6_hdr*>(eth + 1);
            ip->vtc_flow = RTE_BE32(0x60000000);
            ip->payload_len = rte_cpu_to_be_16(sizeof(rte_tcp_hdr));
            ip->proto = IPPROTO_TCP;
            ip->hop_limits = 64;
            ip->src_addr[0] = 0x20;
            ip->src_addr[1] = 0x01;
            ip->src_addr[2] = 0x0d;
            ip->src_addr[3] = 0xb8;
            ip->src_addr[11] = 0x80;
            std::memcpy(ip->dst_addr, vip6.data(), 16);
            tcp = reinterpret_cast<rte_tcp_hdr*>(ip + 1);
        } else {
            tcp = write_ipv4(eth);
        }
        tcp->dst_port = rte_cpu_to_be_16(dport);
        tcp->data_off = 5 << 4;
        tcp->tcp_flags = flags;
    }

    rte_tcp_hdr* write_ipv4(rte_ether_hdr* eth)
    {
        eth->ether_type = RTE_BE16(RTE_ETHER_TYPE_IPV4);
        auto* ip = reinterpret_cast<rte_ipv4_hdr*>(eth + 1);
        ip->version_ihl = RTE_IPV4_VHL_DEF;
        ip->total_length = rte_cpu_to_be_16(64 - 14 - 4);  // a 64-byte frame less the FCS
        ip->fragment_offset = RTE_BE16(RTE_IPV4_HDR_DF_FLAG);
        ip->time_to_live = 64;
        ip->next_proto_id = IPPROTO_TCP;
        ip->dst_addr = rte_cpu_to_be_32(vip);
        ip->hdr_checksum = rte_ipv4_cksum(ip);
        base_checksum = ip->hdr_checksum;
        return reinterpret_cast<rte_tcp_hdr*>(ip + 1);
    }

    // The frame of flow `i` at `out`.
    void write(uint8_t* out, uint32_t i) const
    {
        std::memcpy(out, bytes, length);
        const rte_be32_t client = rte_cpu_to_be_32(ipv6 ? client_number(i) : 0xC6128000u + client_number(i));
        if (ipv6) {
            auto* ip = reinterpret_cast<rte_ipv6_hdr*>(out + 14);
            std::memcpy(&ip->src_addr[12], &client, sizeof client);
            reinterpret_cast<rte_tcp_hdr*>(ip + 1)->src_port = client_port(i);
            return;
        }
        auto* ip = reinterpret_cast<rte_ipv4_hdr*>(out + 14);
        ip->src_addr = client;
        ip->hdr_checksum = checksum_adjust32(base_checksum, 0, client);
        reinterpret_cast<rte_tcp_hdr*>(ip + 1)->src_port = client_port(i);
    }
};

struct Bench {
    DataplaneShared shared;
    std::unique_ptr<NeighborTable> neighbors;
    std::unique_ptr<Neighbor6Table> neighbors6;
    std::unique_ptr<ServiceSnapshot> snapshot;
    uint16_t ext_port_id = 0, int_port_id = 1;
};

control::Config bench_config()
{
    control::Config c;
    c.interfaces.push_back({"ext", "net_null0", {{ext_ip, 16}, {IpAddress::ipv6(ext_ip6), 64}}, 1500});
    c.interfaces.push_back({"int", "net_null1", {{int_ip, 16}, {IpAddress::ipv6(int_ip6), 64}}, 1500});
    auto service = [](uint16_t port, ForwardMethod method, bool ipv6) {
        control::ServiceConfig s{ipv6 ? IpAddress::ipv6(vip6) : IpAddress(vip), port, Protocol::tcp, "rr", method, {}};
        for (unsigned i = 0; i < real_servers; ++i)
            s.real_servers.push_back(
                {ipv6 ? IpAddress::ipv6(real_server6(i)) : IpAddress(real_base + i), port, 1, method});
        if (ipv6) s.persistence_netmask = 128;
        return s;
    };
    for (bool ipv6 : {false, true})
        for (const auto& [port, method] : {std::pair{nat_port, ForwardMethod::nat}, {dr_port, ForwardMethod::dr},
                                            {tun_port, ForwardMethod::tun}})
            c.services.push_back(service(port, method, ipv6));
    return c;
}

void setup(Bench& b, uint32_t mbufs)
{
    b.shared.tsc_hz = rte_get_tsc_hz();
    b.shared.tsc_per_tick = b.shared.tsc_hz / ticks_per_second;
    b.shared.pool = rte_pktmbuf_pool_create("bench_pool", mbufs, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
    b.shared.indirect_pool = rte_pktmbuf_pool_create("bench_indirect", 1024, 32, 0, 0, 0);
    if (b.shared.pool == nullptr || b.shared.indirect_pool == nullptr) rte_exit(1, "mbuf pools: %s\n", rte_strerror(rte_errno));
    const char* names[2] = {"net_null0", "net_null1"};
    const Ipv4 addresses[2] = {ext_ip, int_ip};
    for (int i = 0; i < 2; ++i) {
        auto id = find_port(names[i]);
        if (!id) rte_exit(1, "no port %s: pass --vdev net_null0 --vdev net_null1\n", names[i]);
        if (auto e = port_start(*id, PortRequest{}, b.shared.pool); !e.empty()) rte_exit(1, "%s: %s\n", names[i], e.c_str());
        PortInfo& p = b.shared.ports[*id];
        p.port_id = *id;
        p.name = i == 0 ? "ext" : "int";
        rte_eth_macaddr_get(*id, &p.mac);
        p.addresses = {{addresses[i], 16}};
        p.local_ips = {rte_cpu_to_be_32(addresses[i])};
        p.local_ips6 = {Ipv6Address{i == 0 ? ext_ip6 : int_ip6}};
        p.prefix_lengths6 = {64};
        p.link_local = link_local_of(p.mac);
        b.shared.local_ips.push_back(rte_cpu_to_be_32(addresses[i]));
        b.shared.port_count = std::max<unsigned>(b.shared.port_count, *id + 1u);
        (i == 0 ? b.ext_port_id : b.int_port_id) = *id;
    }
    std::sort(b.shared.local_ips.begin(), b.shared.local_ips.end());
    b.neighbors = NeighborTable::create("bench_neighbors", 64, 0);
    for (unsigned i = 0; i < real_servers; ++i)
        b.neighbors->update(rte_cpu_to_be_32(real_base + i), {{0x02, 0x55, 0, 0, 0, static_cast<uint8_t>(i)}}, b.int_port_id, true);
    b.shared.neighbors = b.neighbors.get();
    b.shared.neighbor_updates = rte_ring_create_elem("bench_nbr", sizeof(NeighborUpdate), 1024, 0, 0);
    b.neighbors6 = Neighbor6Table::create("bench_neighbors6", 64, 0);
    for (unsigned i = 0; i < real_servers; ++i)
        b.neighbors6->update(Ipv6Address{real_server6(i)}, {{0x02, 0x55, 0, 0, 0, static_cast<uint8_t>(i)}},
                             b.int_port_id, true);
    b.shared.neighbors6 = b.neighbors6.get();
    b.shared.neighbor6_updates = rte_ring_create_elem("bench_nbr6", sizeof(Neighbor6Update), 1024, 0, 0);
    control::StableIds ids;
    auto built = control::build_snapshot(bench_config(), {{"ext", b.ext_port_id}, {"int", b.int_port_id}}, ids, 1);
    if (!built.snapshot) rte_exit(1, "snapshot: %s\n", built.error.c_str());
    b.snapshot = std::move(built.snapshot);
    b.shared.snapshot.store(b.snapshot.get());
}

// Fills `mbufs` with frames of the flows at order[next...], as a NIC's receive would.
bool receive(Bench& b, rte_mbuf** mbufs, const Template& t, const std::vector<uint32_t>& order, size_t& next)
{
    if (rte_pktmbuf_alloc_bulk(b.shared.pool, mbufs, burst) != 0) return false;
    for (uint16_t i = 0; i < burst; ++i) {
        rte_mbuf* m = mbufs[i];
        t.write(rte_pktmbuf_mtod(m, uint8_t*), order[next]);
        if (++next == order.size()) next = 0;
        m->data_len = m->pkt_len = t.length;
        m->port = b.ext_port_id;
    }
    return true;
}

struct Result {
    double mpps;
    double ns_per_packet;
};

template <typename Process>
Result run_loop(Bench& b, WorkerContext& w, const Template& t, const std::vector<uint32_t>& order, uint64_t packets, Process&& process)
{
    rte_mbuf* mbufs[burst];
    size_t next = 0;
    uint64_t done = 0;
    const uint64_t start = rte_rdtsc_precise();
    while (done < packets) {
        worker_set_clock(w, rte_rdtsc());
        if (!receive(b, mbufs, t, order, next)) rte_exit(1, "mbuf pool exhausted\n");
        process(mbufs);
        egress_flush(w);
        done += burst;
    }
    const double seconds = static_cast<double>(rte_rdtsc_precise() - start) / static_cast<double>(b.shared.tsc_hz);
    return {static_cast<double>(done) / seconds / 1e6, seconds * 1e9 / static_cast<double>(done)};
}

Result run_fulcrum(Bench& b, WorkerContext& w, const Template& t, const std::vector<uint32_t>& order, uint64_t packets)
{
    return run_loop(b, w, t, order, packets, [&](rte_mbuf** mbufs) { worker_process_burst(w, mbufs, burst); });
}

Result run_macswap(Bench& b, WorkerContext& w, const Template& t, const std::vector<uint32_t>& order, uint64_t packets)
{
    return run_loop(b, w, t, order, packets, [&](rte_mbuf** mbufs) {
        for (uint16_t i = 0; i < burst; ++i) {
            auto* eth = rte_pktmbuf_mtod(mbufs[i], rte_ether_hdr*);
            const rte_ether_addr d = eth->dst_addr;
            eth->dst_addr = eth->src_addr;
            eth->src_addr = d;
            egress_stage(w, b.int_port_id, mbufs[i]);
        }
    });
}

std::unique_ptr<WorkerContext> make_worker(Bench& b, uint32_t capacity, size_t& conn_bytes, size_t& conn_bytes6)
{
    auto w = std::make_unique<WorkerContext>();
    static unsigned id = 0;
    w->worker_id = 100 + id++;
    w->shared = &b.shared;
    w->snapshot = b.snapshot.get();
    if (auto e = set_rate_limits(b.shared, 20000, 1000); !e.empty()) rte_exit(1, "%s\n", e.c_str());
    if (auto e = worker_prepare(*w, capacity, capacity, 0); !e.empty()) rte_exit(1, "%s\n", e.c_str());
    conn_bytes = static_cast<size_t>(w->conns.bytes_per_connection() * capacity);
    conn_bytes6 = static_cast<size_t>(w->conns6.bytes_per_connection() * capacity);
    return w;
}

// Whether `name` is one of the comma-separated `list`.
bool listed(const std::string& list, const std::string& name)
{
    std::stringstream items(list);
    for (std::string item; std::getline(items, item, ',');)
        if (item == name) return true;
    return false;
}

uint32_t table_size_for(uint32_t flows)
{
    uint32_t size = 1024;
    while (size < flows + flows / 8) size <<= 1;
    return size;
}

void print_row(const char* what, uint32_t flows, const Result& r, const Result& base)
{
    std::printf("%-26s %10u %9.2f %9.1f %12.2f %9.1f %7.0f%%\n", what, flows, r.mpps, r.ns_per_packet, base.mpps,
                base.ns_per_packet, 100.0 * r.mpps / base.mpps);
    std::fflush(stdout);
}

void run_all(const std::vector<uint32_t>& flow_counts, uint64_t packets, unsigned repeat, const std::string& methods);
void compare_indexes(const std::vector<uint32_t>& flow_counts, unsigned repeat);
void compare_expiry(const std::vector<uint32_t>& flow_counts);
void measure_kernel_poll(unsigned repeat);
int run_fixture(const std::string& name, uint64_t packets, unsigned repeat);

}  // namespace

int main(int argc, char** argv)
{
    po::options_description options("Usage: fulcrum-bench [options] [-- EAL arguments]\nOptions");
    std::vector<uint32_t> flow_counts;
    uint64_t packets = 0;
    unsigned repeat = 0;
    std::string methods;
    std::string fixture_name;
    options.add_options()
        ("flows", po::value<std::vector<uint32_t>>(&flow_counts)->multitoken()->default_value({1000, 1000000}, "1000 1000000"),
         "live connections for the established-flow runs")
        ("packets", po::value<uint64_t>(&packets)->default_value(20000000), "packets per measurement")
        ("repeat", po::value<unsigned>(&repeat)->default_value(3), "measurements per figure; the median is printed")
        ("methods", po::value<std::string>(&methods)->default_value("index,expiry,nat,dr,tun,nat6,dr6,tun6"),
         "what to measure: index (rte_hash against FlowIndex), expiry (the timer wheel against rte_timer), nat, dr, tun, "
         "tap (an empty poll of an exception-path TAP queue; creates a kernel interface)")
        ("fixture", po::value<std::string>(&fixture_name),
         "instead: run the packet table NAME of tests/fixtures/ (nat, dr, tun, icmp, arp, kernel, persistence), checking "
         "every step, then replay its steady steps")
        ("help,h", "show this help");
    int own_argc = argc;
    std::vector<std::string> eal_args{"fulcrum-bench"};
    for (int i = 1; i < argc; ++i)
        if (std::string(argv[i]) == "--") {
            own_argc = i;
            eal_args.insert(eal_args.end(), argv + i + 1, argv + argc);
            break;
        }
    po::variables_map vm;
    try {
        po::store(po::command_line_parser(own_argc, argv).options(options).run(), vm);
        po::notify(vm);
    } catch (const po::error& e) {
        std::fprintf(stderr, "fulcrum-bench: %s\n", e.what());
        return 2;
    }
    if (vm.count("help")) {
        std::printf("%s", (std::ostringstream() << options).str().c_str());
        return 0;
    }
    if (eal_args.size() == 1)
        eal_args.insert(eal_args.end(), {"--no-huge", "-m", "4096", "--no-pci", "--file-prefix", "fulcrum-bench",
                                         "--vdev", "net_null0", "--vdev", "net_null1", "--lcores", "0@0", "--log-level", "error"});
    std::vector<char*> eal_argv;
    for (std::string& a : eal_args) eal_argv.push_back(a.data());
    if (rte_eal_init(static_cast<int>(eal_argv.size()), eal_argv.data()) < 0) rte_exit(1, "EAL: %s\n", rte_strerror(rte_errno));

    if (!fixture_name.empty()) {
        const int status = run_fixture(fixture_name, packets, repeat);
        rte_eal_cleanup();
        return status;
    }
    if (listed(methods, "index")) compare_indexes(flow_counts, repeat);
    if (listed(methods, "expiry")) compare_expiry(flow_counts);
    if (listed(methods, "tap")) measure_kernel_poll(repeat);
    run_all(flow_counts, packets, repeat, methods);
    rte_eal_cleanup();
    return 0;
}

namespace {

// The connection index alone: rte_hash (bulk lookup, as DPDK offers it) against FlowIndex (the
// same bulk pattern ConnTable uses), same keys, same random order, same core.
void compare_indexes(const std::vector<uint32_t>& flow_counts, unsigned repeat)
{
    std::printf("%-26s %10s %12s %12s %10s %12s %12s %10s\n", "index (lookups of 32)", "keys", "rte_hash ns",
                "FlowIndex ns", "speed-up", "rte_hash ins", "FlowIdx ins", "B/key r/F");
    for (uint32_t keys : flow_counts) {
        std::vector<FlowKey> all(keys);
        for (uint32_t i = 0; i < keys; ++i) {
            all[i] = {rte_cpu_to_be_32(0xC6128000u + client_number(i)), rte_cpu_to_be_32(vip), client_port(i), RTE_BE16(80),
                      IPPROTO_TCP, {0, 0, 0}};
        }
        std::vector<uint32_t> order(std::min<uint32_t>(keys * 4, 4u << 20));
        std::mt19937 rng(7);
        for (auto& x : order) x = rng() % keys;
        const double hz = static_cast<double>(rte_get_tsc_hz());

        rte_malloc_socket_stats before{}, after{};
        rte_malloc_get_socket_stats(0, &before);
        rte_hash_parameters params{};
        params.name = "bench_rte_hash";
        params.entries = keys + keys / 8 + 1024;
        params.key_len = sizeof(FlowKey);
        params.hash_func = rte_hash_crc;
        rte_hash* h = rte_hash_create(&params);
        if (h == nullptr) rte_exit(1, "rte_hash_create: %s\n", rte_strerror(rte_errno));
        uint64_t t0 = rte_rdtsc_precise();
        for (uint32_t i = 0; i < keys; ++i) rte_hash_add_key_data(h, &all[i], reinterpret_cast<void*>(uintptr_t{i}));
        const double rte_insert_ns = static_cast<double>(rte_rdtsc_precise() - t0) / hz * 1e9 / keys;
        rte_malloc_get_socket_stats(0, &after);
        const double rte_bytes = static_cast<double>(after.heap_allocsz_bytes - before.heap_allocsz_bytes) / keys;

        FlowIndex index;
        if (!index.init(keys + keys / 8 + 1024, 0)) rte_exit(1, "FlowIndex: no memory\n");
        t0 = rte_rdtsc_precise();
        for (uint32_t i = 0; i < keys; ++i) index.insert(FlowIndex::hash(all[i]), i);
        const double flow_insert_ns = static_cast<double>(rte_rdtsc_precise() - t0) / hz * 1e9 / keys;
        // FlowIndex keeps hashes only; the key lives with the value (the connection), as in ConnTable.
        const double flow_bytes = static_cast<double>(index.memory_bytes()) / keys + sizeof(FlowKey);

        auto measure = [&](auto&& lookup32) {
            std::vector<double> ns;
            for (unsigned r = 0; r < repeat; ++r) {
                uint64_t found = 0;
                const uint64_t start = rte_rdtsc_precise();
                for (size_t i = 0; i + 32 <= order.size(); i += 32) found += lookup32(&order[i]);
                ns.push_back(static_cast<double>(rte_rdtsc_precise() - start) / hz * 1e9 / static_cast<double>(order.size() / 32 * 32));
                if (found != order.size() / 32 * 32) rte_exit(1, "index lookups missed keys\n");
            }
            std::sort(ns.begin(), ns.end());
            return ns[ns.size() / 2];
        };
        const double rte_ns = measure([&](const uint32_t* idx) {
            const void* k[32];
            void* data[32];
            uint64_t hits = 0;
            for (int j = 0; j < 32; ++j) k[j] = &all[idx[j]];
            rte_hash_lookup_bulk_data(h, k, 32, &hits, data);
            return static_cast<uint64_t>(__builtin_popcountll(hits));
        });
        const double flow_ns = measure([&](const uint32_t* idx) {
            uint32_t hashes[32], cand[32];
            uint64_t hits = 0;
            for (int j = 0; j < 32; ++j) {
                hashes[j] = FlowIndex::hash(all[idx[j]]);
                index.prefetch(hashes[j]);
            }
            for (int j = 0; j < 32; ++j) {
                cand[j] = index.first_candidate(hashes[j]);
                if (cand[j] != FlowIndex::none) rte_prefetch0(&all[cand[j]]);
            }
            for (int j = 0; j < 32; ++j) {
                const FlowKey& key = all[idx[j]];
                uint32_t v = cand[j];
                if (v == FlowIndex::none || !(all[v] == key))
                    v = index.find(hashes[j], [&](uint32_t value) { return all[value] == key; });
                hits += v != FlowIndex::none;
            }
            return hits;
        });
        std::printf("%-26s %10u %12.1f %12.1f %9.2fx %12.1f %12.1f %5.0f/%-4.0f\n", "", keys, rte_ns, flow_ns, rte_ns / flow_ns,
                    rte_insert_ns, flow_insert_ns, rte_bytes, flow_bytes);
        std::fflush(stdout);
        rte_hash_free(h);
    }
}

// Connection expiry: ConnTable's timer wheel against one rte_timer per connection, the same
// number of timers armed and then all fired. The wheel's expiry includes removing each
// connection from the index and the table; rte_timer's only calls an empty callback.
void compare_expiry(const std::vector<uint32_t>& flow_counts)
{
    std::printf("%-26s %10s %12s %12s %12s %12s %14s\n", "expiry (ns per timer)", "timers", "wheel arm", "wheel fire",
                "rte_timer arm", "rte_timer fire", "bytes wheel/rt");
    static bool timer_init = false;
    if (!timer_init) {
        rte_timer_subsystem_init();
        timer_init = true;
    }
    const double hz = static_cast<double>(rte_get_tsc_hz());
    for (uint32_t n : flow_counts) {
        ConnTable table;
        if (!table.init(n, 0)) rte_exit(1, "ConnTable: no memory\n");
        std::vector<Connection*> conns(n);
        for (uint32_t i = 0; i < n; ++i) {
            const FlowKey key{rte_cpu_to_be_32(0xC6128000u + client_number(i)), rte_cpu_to_be_32(vip), client_port(i),
                              RTE_BE16(80), IPPROTO_TCP, {0, 0, 0}};
            if (table.insert(key, 1, 1, ForwardMethod::dr, 0, 1000, &conns[i]) != ConnTable::InsertResult::ok)
                rte_exit(1, "ConnTable insert failed\n");
        }
        // Arm: every connection to a deadline spread over 10 s of ticks.
        uint64_t t0 = rte_rdtsc_precise();
        for (uint32_t i = 0; i < n; ++i) table.reschedule(conns[i], 64 + i % 640);
        const double wheel_arm = static_cast<double>(rte_rdtsc_precise() - t0) / hz * 1e9 / n;
        t0 = rte_rdtsc_precise();
        const uint32_t fired = table.expire(10000, UINT32_MAX, [](const Connection&) { return Tick{1}; }, [](const Connection&) {});
        const double wheel_fire = static_cast<double>(rte_rdtsc_precise() - t0) / hz * 1e9 / n;
        if (fired != n) rte_exit(1, "wheel fired %u of %u\n", fired, n);

        std::vector<rte_timer> timers(n);
        static uint64_t rte_fired;
        rte_fired = 0;
        const uint64_t spread = rte_get_tsc_hz() / 100;  // 10 ms, so the test ends quickly
        t0 = rte_rdtsc_precise();
        for (uint32_t i = 0; i < n; ++i) {
            rte_timer_init(&timers[i]);
            rte_timer_reset(&timers[i], 1 + spread * (i % 640) / 640, SINGLE, rte_lcore_id(),
                            [](rte_timer*, void*) { ++rte_fired; }, nullptr);
        }
        const double rte_arm = static_cast<double>(rte_rdtsc_precise() - t0) / hz * 1e9 / n;
        while (rte_rdtsc() < t0 + spread * 2) rte_pause();
        t0 = rte_rdtsc_precise();
        while (rte_fired < n) rte_timer_manage();
        const double rte_fire = static_cast<double>(rte_rdtsc_precise() - t0) / hz * 1e9 / n;
        std::printf("%-26s %10u %12.1f %12.1f %12.1f %12.1f %8zu/%-5zu\n", "", n, wheel_arm, wheel_fire, rte_arm, rte_fire,
                    sizeof(uint32_t) * 2 + sizeof(uint16_t), sizeof(rte_timer));
        std::fflush(stdout);
    }
}

// What the worker pays, every loop iteration, to look at an exception-path TAP queue with
// nothing in it, against an empty poll of a hand-off ring (which it also does every iteration).
void measure_kernel_poll(unsigned repeat)
{
    rte_mempool* pool = rte_pktmbuf_pool_create("tap_bench_pool", 4096, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
    const MacAddress mac{0x02, 0, 0, 0, 0, 0x42};
    uint16_t tap = 0;
    if (auto e = port_create_tap("net_tap_bench0", "flbench0", mac, tap); !e.empty()) {
        std::printf("tap: cannot create a TAP port: %s\n", e.c_str());
        return;
    }
    if (auto e = port_start(tap, PortRequest{}, pool); !e.empty()) {
        std::printf("tap: cannot start the TAP port: %s\n", e.c_str());
        return;
    }
    rte_ring* ring = rte_ring_create("tap_bench_ring", 4096, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
    constexpr unsigned polls = 200000;
    auto ns_per_poll = [&](auto&& poll) {
        std::vector<double> runs;
        for (unsigned r = 0; r < std::max(1u, repeat); ++r) {
            const uint64_t start = rte_rdtsc();
            for (unsigned i = 0; i < polls; ++i) poll();
            runs.push_back(static_cast<double>(rte_rdtsc() - start) * 1e9 / static_cast<double>(rte_get_tsc_hz()) / polls);
        }
        std::sort(runs.begin(), runs.end());
        return runs[runs.size() / 2];
    };
    rte_mbuf* frames[32];
    const double tap_ns = ns_per_poll([&] {
        if (uint16_t n = rte_eth_rx_burst(tap, 0, frames, 32); n != 0) rte_pktmbuf_free_bulk(frames, n);
    });
    const double ring_ns = ns_per_poll([&] {
        if (unsigned n = rte_ring_sc_dequeue_burst(ring, reinterpret_cast<void**>(frames), 32, nullptr); n != 0)
            rte_pktmbuf_free_bulk(frames, n);
    });
    std::printf("%-26s %12s %12s %10s\n", "kernel poll (empty)", "TAP ns", "ring ns", "ratio");
    std::printf("%-26s %12.1f %12.1f %9.1fx\n", "", tap_ns, ring_ns, tap_ns / ring_ns);
    port_stop(tap);
    rte_ring_free(ring);
    rte_mempool_free(pool);
}

void run_all(const std::vector<uint32_t>& flow_counts, uint64_t packets, unsigned repeat, const std::string& methods)
{
    Bench b;
    setup(b, 16384);
    std::printf("fulcrum-bench: one core, %u-packet bursts, 64-byte frames, TSC %.2f GHz, %llu packets per run, median of %u\n",
                burst, static_cast<double>(b.shared.tsc_hz) / 1e9, static_cast<unsigned long long>(packets), repeat);
    std::printf("%-26s %10s %9s %9s %12s %9s %8s\n", "test", "flows", "Mpps", "ns/pkt", "base Mpps", "base ns", "ratio");

    auto median = [&](auto&& measure) {
        std::vector<Result> rs;
        for (unsigned i = 0; i < repeat; ++i) rs.push_back(measure());
        std::sort(rs.begin(), rs.end(), [](const Result& x, const Result& y) { return x.mpps < y.mpps; });
        return rs[rs.size() / 2];
    };

    const rte_ether_addr ext_mac = b.shared.ports[b.ext_port_id].mac;
    for (uint32_t flows : flow_counts) {
        std::vector<uint32_t> sequential(flows);
        for (uint32_t i = 0; i < flows; ++i) sequential[i] = i;
        // Established flows are visited in random order, so that the table is not walked in
        // cache order.
        std::vector<uint32_t> random_order(std::min<uint32_t>(flows * 4, 4u << 20));
        std::mt19937 rng(42);
        for (auto& x : random_order) x = rng() % flows;
        const Result base = median([&] {
            size_t unused = 0, unused6 = 0;
            auto w = make_worker(b, 1024, unused, unused6);
            return run_macswap(b, *w, Template(ext_mac, nat_port, RTE_TCP_ACK_FLAG), random_order, packets);
        });

        struct Method {
            const char* name;
            uint16_t port;
            bool ipv6;
        };
        for (Method method : {Method{"NAT", nat_port, false}, Method{"DR", dr_port, false}, Method{"TUN", tun_port, false},
                              Method{"NAT6", nat_port, true}, Method{"DR6", dr_port, true}, Method{"TUN6", tun_port, true}}) {
            std::string lower(method.name);
            std::transform(lower.begin(), lower.end(), lower.begin(), [](char c) { return static_cast<char>(std::tolower(c)); });
            if (!listed(methods, lower)) continue;
            size_t conn_bytes = 0, conn_bytes6 = 0;
            const uint32_t capacity = table_size_for(flows);
            auto w = make_worker(b, capacity, conn_bytes, conn_bytes6);
            // New connections: one SYN per flow, each creating a connection (the last burst
            // may repeat a few SYNs of the first flows, which find their connection).
            const Template syn(ext_mac, method.port, RTE_TCP_SYN_FLAG, method.ipv6);
            const uint64_t syn_packets = (flows + burst - 1) / burst * burst;
            const Result created = run_fulcrum(b, *w, syn, sequential, syn_packets);
            std::printf("%-26s %10u %9.2f %9.1f %12s %9s %8s   %u connections, %.0f bytes per slot (table of %u)\n",
                        (std::string(method.name) + " new connections").c_str(), flows, created.mpps, created.ns_per_packet,
                        "-", "-", "-", method.ipv6 ? w->conns6.size() : w->conns.size(),
                        static_cast<double>(method.ipv6 ? conn_bytes6 : conn_bytes) / capacity, capacity);
            const Template ack(ext_mac, method.port, RTE_TCP_ACK_FLAG, method.ipv6);
            print_row((std::string(method.name) + " established").c_str(), flows,
                      median([&] { return run_fulcrum(b, *w, ack, random_order, packets); }), base);
            const uint64_t drops = w->counters.drops_total();
            if (drops != 0) {
                std::printf("error: %llu packets dropped:", static_cast<unsigned long long>(drops));
                for (size_t r = 0; r < drop_reason_count; ++r)
                    if (w->counters.drops[r]) std::printf(" %s=%llu", drop_reason_names[r].data(), static_cast<unsigned long long>(w->counters.drops[r]));
                std::printf("\n");
            }
        }
    }
    for (unsigned p = 0; p < b.shared.port_count; ++p) port_stop(static_cast<uint16_t>(p));
}

}  // namespace

namespace {

// A packet table as a benchmark: its steps run once in a World and are checked as the unit
// tests check them; then its steady steps (packets of flows the first steps opened) are
// replayed in bursts of 32: each burst writes the steps' frames into fresh mbufs, as a NIC's
// receive would, runs process_burst, and frees what the worker staged (where the poll loop
// would transmit). The World's ports are never started, so there is no PMD in the figure.
int run_fixture(const std::string& name, uint64_t packets, unsigned repeat)
{
    const fixture::Table* table = fixture::find_table(name);
    if (table == nullptr) {
        std::fprintf(stderr, "fulcrum-bench: no packet table %s\n", name.c_str());
        return 2;
    }
    std::vector<const fixture::Step*> steady;
    for (const fixture::Step& step : table->steps)
        if (step.steady) steady.push_back(&step);
    if (steady.empty()) {
        std::fprintf(stderr, "fulcrum-bench: table %s has no steady step to replay\n", name.c_str());
        return 2;
    }
    fixture::World world;
    if (const auto problems = fixture::run_table(world, *table); !problems.empty()) {
        for (const std::string& p : problems) std::fprintf(stderr, "fulcrum-bench: %s\n", p.c_str());
        return 1;
    }
    WorkerContext& w = *world.w_;
    std::vector<double> ns;
    uint64_t transmitted = 0, other = 0;
    for (unsigned run = 0; run < std::max(1u, repeat); ++run) {
        rte_mbuf* mbufs[burst];
        Verdict verdicts[burst];
        size_t next = 0;
        uint64_t done = 0, cycles = 0;
        while (done < packets) {
            if (rte_pktmbuf_alloc_bulk(world.shared_->pool, mbufs, burst) != 0) rte_exit(1, "mbuf pool exhausted\n");
            for (uint16_t i = 0; i < burst; ++i) {
                const fixture::Step& step = *steady[next];
                if (++next == steady.size()) next = 0;
                std::memcpy(rte_pktmbuf_append(mbufs[i], static_cast<uint16_t>(step.input.size())), step.input.data(),
                            step.input.size());
                mbufs[i]->port = step.in_port;
            }
            const uint64_t start = rte_rdtsc();
            worker_set_clock(w, start);
            process_burst(w, mbufs, burst, false, verdicts);
            cycles += rte_rdtsc() - start;
            for (const Verdict& v : verdicts) ++(v.kind == Verdict::Kind::transmit ? transmitted : other);
            for (unsigned port = 0; port < max_ports; ++port) {
                rte_pktmbuf_free_bulk(w.tx[port].data(), w.tx_count[port]);
                w.tx_count[port] = 0;
            }
            done += burst;
        }
        ns.push_back(static_cast<double>(cycles) * 1e9 / static_cast<double>(world.shared_->tsc_hz) / static_cast<double>(done));
    }
    std::sort(ns.begin(), ns.end());
    const double median = ns[ns.size() / 2];
    std::printf("fixture %s (%s): %zu steady step(s), %lu packets a run, median of %zu: %.1f ns/packet, %.2f Mpps; "
                "%lu transmitted, %lu not\n",
                table->name.c_str(), table->about.c_str(), steady.size(), static_cast<unsigned long>(packets), ns.size(),
                median, 1e3 / median, static_cast<unsigned long>(transmitted), static_cast<unsigned long>(other));
    return 0;
}

}  // namespace
