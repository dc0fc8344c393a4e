// Frames from any side into the real packet path (process_burst), against a snapshot with NAT,
// DR and TUN services, persistence and live connections, built by the control plane's builder.
//
// Input: records of [port byte][length, 2 bytes][frame], one burst per input, received by worker
// 0 of two. Invariants: nothing crashes or reads out of bounds (each frame lies in a malloc'd buffer of exactly its
// size, attached to its mbuf as an external buffer, so AddressSanitizer sees one byte too far;
// Debian's DPDK is not instrumented); every frame is transmitted, dropped with a reason, held
// for ARP, handed off or consumed in favour of an answer; and once the staged, handed-off and
// held packets are freed, no mbuf is left in use.
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "control/runtime/snapshot_builder.hpp"
#include "dataplane/egress.hpp"
#include "dataplane/persistence.hpp"
#include "dataplane/pipeline.hpp"
#include "dataplane/worker.hpp"

using namespace fulcrum;
using namespace fulcrum::dataplane;

namespace {

constexpr uint16_t ext_port = 0, int_port = 1;
constexpr uint32_t ext_ip = 0xC6120001;  // 198.18.0.1/24
constexpr uint32_t int_ip = 0xC6130001;  // 198.19.0.1/24
constexpr uint32_t vip = 0xC6120064;     // 198.18.0.100
constexpr uint32_t rs_ip[3] = {0xC613000B, 0xC613000C, 0xC613000D};

struct Harness {
    std::unique_ptr<DataplaneShared> shared;
    std::unique_ptr<NeighborTable> neighbors;
    std::unique_ptr<PersistenceTable> templates;
    std::unique_ptr<ServiceSnapshot> snapshot;
    std::unique_ptr<WorkerContext> w;
};

Harness* harness = nullptr;

[[noreturn]] void fail(const char* what)
{
    std::fprintf(stderr, "fuzz_pipeline: %s\n", what);
    std::abort();
}

rte_ether_addr mac(uint8_t last)
{
    return rte_ether_addr{{0x02, 0x55, 0, 0, 0, last}};
}

control::Config lab_config()
{
    using control::ServiceConfig;
    control::Config c;
    c.interfaces.push_back({"ext", "net_null0", {{ext_ip, 24}}, 1500});
    c.interfaces.push_back({"int", "net_null1", {{int_ip, 24}}, 1500});
    ServiceConfig http{vip, 80, Protocol::tcp, "wrr", ForwardMethod::nat, {}};
    ServiceConfig dns{vip, 53, Protocol::udp, "mh", ForwardMethod::nat, {}};
    for (int i = 0; i < 3; ++i) {
        http.real_servers.push_back({rs_ip[i], 8080, static_cast<uint32_t>(i + 1), ForwardMethod::nat});
        dns.real_servers.push_back({rs_ip[i], 53, 1, ForwardMethod::nat});
    }
    http.persistence = 60;
    http.persistence_netmask = 24;
    ServiceConfig mixed{vip, 8000, Protocol::tcp, "rr", ForwardMethod::nat,
                        {{rs_ip[0], 8000, 1, ForwardMethod::nat},
                         {rs_ip[1], 8000, 1, ForwardMethod::dr},
                         {rs_ip[2], 8000, 1, ForwardMethod::tun}}};
    ServiceConfig tun_udp{vip, 8002, Protocol::udp, "sh", ForwardMethod::tun, {{rs_ip[2], 8002, 1, ForwardMethod::tun}}};
    c.services = {http, dns, mixed, tun_udp};
    return c;
}

// The frame at the very end of a malloc'd buffer, after the usual headroom (the tunnel's outer
// header goes there), freed with the last mbuf that refers to it.
void free_frame(void* address, void* shared_info)
{
    std::free(address);
    std::free(shared_info);
}

rte_mbuf* mbuf_of(const uint8_t* bytes, uint16_t length, uint16_t port)
{
    rte_mbuf* m = rte_pktmbuf_alloc(harness->shared->pool);
    if (m == nullptr) fail("mbuf pool empty: a leak");
    const uint16_t room = static_cast<uint16_t>(RTE_PKTMBUF_HEADROOM + length);
    auto* buffer = static_cast<uint8_t*>(std::malloc(room));
    auto* info = static_cast<rte_mbuf_ext_shared_info*>(std::malloc(sizeof(rte_mbuf_ext_shared_info)));
    std::memcpy(buffer + RTE_PKTMBUF_HEADROOM, bytes, length);
    info->free_cb = free_frame;
    info->fcb_opaque = info;
    rte_mbuf_ext_refcnt_set(info, 1);
    rte_pktmbuf_attach_extbuf(m, buffer, rte_mem_virt2iova(buffer), room, info);
    m->data_off = RTE_PKTMBUF_HEADROOM;
    m->data_len = length;
    m->pkt_len = length;
    m->port = port;
    return m;
}

// Frees what the worker staged for transmission and what it handed to worker 1; returns how
// many frames that was.
unsigned drain()
{
    WorkerContext& w = *harness->w;
    unsigned n = 0;
    void* handed;
    while (rte_ring_sc_dequeue(harness->shared->handoff_rings[1], &handed) == 0) {
        rte_pktmbuf_free(static_cast<rte_mbuf*>(handed));
        ++n;
    }
    for (unsigned p = 0; p < max_ports; ++p) {
        for (uint16_t i = 0; i < w.tx_count[p]; ++i) rte_pktmbuf_free(w.tx[p][i]);
        n += w.tx_count[p];
        w.tx_count[p] = 0;
    }
    NeighborUpdate update;
    while (rte_ring_dequeue_elem(harness->shared->neighbor_updates, &update, sizeof update) == 0) {}
    return n;
}

void set_up()
{
    auto h = std::make_unique<Harness>();
    h->shared = std::make_unique<DataplaneShared>();
    DataplaneShared& s = *h->shared;
    s.tsc_hz = rte_get_tsc_hz();
    s.tsc_per_tick = s.tsc_hz / ticks_per_second;
    s.overloaded = std::make_unique<std::atomic<bool>[]>(max_real_servers_per_process);
    s.pool = rte_pktmbuf_pool_create("fuzz_pool", 4095, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
    s.indirect_pool = rte_pktmbuf_pool_create("fuzz_indirect", 1023, 0, 0, 0, 0);
    if (s.pool == nullptr || s.indirect_pool == nullptr) fail("cannot create the mbuf pools");
    auto port = [&](uint16_t id, const char* name, uint8_t mac_last, uint32_t address) {
        PortInfo& p = s.ports[id];
        p.port_id = id;
        p.name = name;
        p.mac = mac(mac_last);
        p.addresses = {{address, 24}};
        p.local_ips = {rte_cpu_to_be_32(address)};
        s.local_ips.push_back(rte_cpu_to_be_32(address));
    };
    port(ext_port, "ext", 0x01, ext_ip);
    port(int_port, "int", 0x02, int_ip);
    s.port_count = 2;
    std::sort(s.local_ips.begin(), s.local_ips.end());
    // Two workers, so that every frame's owner is worked out (packet_owner reads ICMP quotes);
    // this one is worker 0, and what it hands to worker 1 is taken from the ring and freed.
    s.worker_count = 2;
    s.handoff_rings.assign(4, nullptr);
    s.handoff_rings[1] = rte_ring_create("fuzz_handoff", 1024, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
    if (s.handoff_rings[1] == nullptr) fail("cannot create the hand-off ring");
    h->neighbors = NeighborTable::create("fuzz_neighbors", 64, 0);
    if (!h->neighbors) fail("cannot create the neighbour table");
    s.neighbors = h->neighbors.get();
    // rs3 stays unresolved: some packets are held for ARP.
    for (int i = 0; i < 2; ++i) h->neighbors->update(rte_cpu_to_be_32(rs_ip[i]), mac(0x11 + i), int_port, true);
    h->neighbors->update(rte_cpu_to_be_32(0xC6120002), mac(0x20), ext_port, true);
    s.neighbor_updates = rte_ring_create_elem("fuzz_neighbor_updates", sizeof(NeighborUpdate), 64, 0, 0);
    h->templates = std::make_unique<PersistenceTable>();
    if (!h->templates->init(256, 0)) fail("cannot create the persistence table");
    s.templates = h->templates.get();
    control::StableIds ids;
    auto built = control::build_snapshot(lab_config(), {{"ext", ext_port}, {"int", int_port}}, ids, 1);
    if (!built.snapshot) fail(built.error.c_str());
    h->snapshot = std::move(built.snapshot);
    s.snapshot.store(h->snapshot.get());
    h->w = std::make_unique<WorkerContext>();
    h->w->shared = &s;
    // The defaults: a fuzzer's inputs are as fast as a flood.
    if (!set_rate_limits(s, 20000, 1000).empty()) fail("set_rate_limits failed");
    if (!worker_prepare(*h->w, 1024, 1024, 0).empty()) fail("worker_prepare failed");
    h->w->snapshot = h->snapshot.get();
    worker_set_clock(*h->w, rte_rdtsc());
    harness = h.release();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***)
{
    const char* args[] = {"fuzz_pipeline", "--no-huge", "-m", "256", "--no-pci", "--no-shconf",
                          "--lcores", "0@0", "--log-level", "error"};
    if (rte_eal_init(static_cast<int>(std::size(args)), const_cast<char**>(args)) < 0) fail("rte_eal_init failed");
    set_up();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    WorkerContext& w = *harness->w;
    rte_mbuf* burst[rx_burst_size];
    uint16_t count = 0;
    while (size >= 3 && count < rx_burst_size) {
        const uint16_t port = data[0] & 1;
        const uint16_t length = static_cast<uint16_t>(std::min<size_t>((data[1] << 8 | data[2]) & 0x7ff, size - 3));
        burst[count++] = mbuf_of(data + 3, length, port);
        data += 3 + length;
        size -= 3 + length;
    }
    if (count == 0) return 0;

    const uint64_t drops_before = w.counters.drops_total();
    const unsigned pending_before = w.next_hops.pending_count;
    w.counters.rx_packets += count;
    process_burst(w, burst, count);
    const unsigned sent = drain();
    const uint64_t dropped = w.counters.drops_total() - drops_before;
    const unsigned held = w.next_hops.pending_count > pending_before ? w.next_hops.pending_count - pending_before : 0;
    // A frame may be answered (ICMP, ARP) or bring an ARP request along, so more can leave than
    // came in, but none may vanish uncounted.
    if (dropped + sent + held < count) fail("a frame was neither sent, dropped, handed off nor held");

    // Time passes a little with every input, so that held packets and connections expire.
    worker_set_clock(w, w.now + w.shared->tsc_hz / 8);
    egress_retry_pending(w);
    worker_expire_some(w, 64);
    drain();
    if (rte_mempool_in_use_count(w.shared->pool) != w.next_hops.pending_count) fail("an mbuf was leaked");
    return 0;
}
