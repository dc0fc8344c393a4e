// The state of the dataplane: what all workers share (set up once, before they start) and the
// one struct of per-core state each worker owns.
#pragma once

#include <rte_common.h>
#include <rte_ether.h>
#include <rte_meter.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "dataplane/conn_table.hpp"
#include "common/counters.hpp"
#include "dataplane/defense.hpp"
#include "dataplane/neighbor.hpp"
#include "dataplane/persistence.hpp"
#include "dataplane/snapshot.hpp"
#include "common/types.hpp"
#include "sched/scheduler.hpp"

struct rte_mbuf;
struct rte_mempool;
struct rte_ring;
struct rte_rcu_qsbr;

namespace fulcrum::dataplane {

inline constexpr uint16_t no_port = UINT16_MAX;
inline constexpr uint16_t rx_burst_size = 32;
inline constexpr uint16_t tx_stage_size = 64;
inline constexpr unsigned max_pending_arp = 64;
inline constexpr unsigned neighbor_cache_size = 256;  // power of two
inline constexpr unsigned route_cache6_size = 256;     // power of two
// Upper bounds on stable ids handed out in one process: per-worker scheduler cursors and
// connection counts are indexed by them.
inline constexpr uint32_t max_services_per_process = 65536;
inline constexpr uint32_t max_real_servers_per_process = 65536;
inline constexpr uint32_t max_real_servers_per_service = 4096;

// Which hash of a client's address and port picks its owner: a CRC, or with hardware steering
// the NIC's symmetric Toeplitz hash (steering.hpp), so that the queue it picks is the owner's.
enum class OwnerHash : uint8_t { crc, toeplitz };

// One DPDK port as the dataplane sees it. Interfaces cannot change while running.
struct PortInfo {
    uint16_t port_id = 0;
    std::string name;
    rte_ether_addr mac{};
    std::vector<Ipv4Prefix> addresses;   // host order, as configured
    std::vector<rte_be32_t> local_ips;   // the same addresses, as on the wire
    // The IPv6 addresses configured, and the link-local address the kernel gives the TAP (from
    // the port's MAC), which the director answers for too.
    std::vector<Ipv6Address> local_ips6;
    Ipv6Address link_local;
    std::vector<uint8_t> prefix_lengths6;   // parallel to local_ips6: the subnet each one is on
    uint16_t mtu = 1500;
    // The device sends chained mbufs (tunnel fragments); else they are copied into one first.
    bool sends_chains = true;
    // The TAP port of the exception path: the kernel gets what is addressed to the director and
    // not handled here, and what it sends there goes out of this port. no_port = none.
    uint16_t kernel_port = no_port;
    // An interface on a VLAN of a device (vlan.hpp): its frames leave by `device_port` with this
    // VLAN id in their tag. 0 = untagged: the port is the device's own.
    uint16_t vlan = 0;
    uint16_t device_port = 0;
    // On a device's own port: the ports of the interfaces on its VLANs, as (VLAN id, port), few
    // enough to scan; and whether the device is an interface untagged too (else its untagged
    // frames are dropped).
    std::vector<std::pair<uint16_t, uint16_t>> vlan_ports;
    bool untagged = true;

    // The address to send ARP requests for `target` from: ours in the subnet holding it.
    rte_be32_t source_for(rte_be32_t target) const;
    bool on_link(rte_be32_t ip) const;
    // The address to send neighbour solicitations for `target` from: ours in the subnet holding
    // it, else the link-local one (RFC 4861 7.2.2 takes any of the interface's).
    Ipv6Address source_for(const Ipv6Address& target) const;
    bool on_link(const Ipv6Address& ip) const;
    bool is_local(const Ipv6Address& ip) const;
};

// Read by every worker; written only before workers start, except `snapshot` (published by
// the control core) and `stop`.
struct DataplaneShared {
    std::array<PortInfo, max_ports> ports;   // indexed by port id
    unsigned port_count = 0;
    // Some device carries interfaces on VLANs: frames are looked at for tags as they arrive and
    // leave (vlan.hpp). Without, a tagged frame is no protocol of ours, and nothing is tagged.
    bool vlans = false;
    std::vector<rte_be32_t> local_ips;       // all ports' addresses, sorted
    NeighborTable* neighbors = nullptr;
    Neighbor6Table* neighbors6 = nullptr;
    std::atomic<const ServiceSnapshot*> snapshot{nullptr};
    rte_rcu_qsbr* rcu = nullptr;
    rte_mempool* pool = nullptr;
    rte_mempool* indirect_pool = nullptr;    // fragments that point into the original (TUN)
    rte_ring* neighbor_updates = nullptr;    // workers -> control core, NeighborUpdate elements
    rte_ring* neighbor6_updates = nullptr;   // the same, Neighbor6Update elements
    unsigned worker_count = 1;
    // handoff_rings[from * worker_count + to]: packets worker `from` passes to their owner `to`
    // (nullptr on the diagonal). Single producer, single consumer.
    std::vector<rte_ring*> handoff_rings;
    // How a client's owner is computed (handoff.hpp): chosen at start, before any connection,
    // and never changed while the director runs, whatever becomes of the NIC's rules.
    OwnerHash owner_hash = OwnerHash::crc;
    // The NIC steers both directions of most connections to their owner's queue (rte_flow RSS
    // on the client's address and port, hashed as owner_hash toeplitz computes it). What it
    // cannot steer (ICMP errors, IPv6, VIPs whose rules failed) is still handed off.
    bool hardware_steering = false;
    // Real servers above their upper threshold (IPVS's IP_VS_DEST_F_OVERLOAD), by real server id:
    // the control core sets and clears them from connection counts summed over workers.
    std::unique_ptr<std::atomic<bool>[]> overloaded;
    PersistenceTable* templates = nullptr;   // shared by all workers (lock-free)
    uint64_t tsc_hz = 0;
    uint64_t tsc_per_tick = 0;               // tsc_hz / ticks_per_second
    // Frames to the kernel: a token bucket per worker, in frames (rte_meter counts "bytes").
    rte_meter_srtcm_profile kernel_meter_profile{};
    // ICMP a worker generates: a token bucket per worker, in messages (icmp.hpp).
    rte_meter_srtcm_profile icmp_meter_profile{};
    std::atomic<bool> stop{false};

    bool is_local(rte_be32_t ip) const;
    bool is_local(const Ipv6Address& ip) const;
};

// A worker's share of one real server's connections, as ipvsadm's ActiveConn and InActConn.
// Written only by the worker that owns it; the control core sums them across workers (relaxed
// loads: a total may be a packet behind, never torn).
struct ConnCounts {
    std::atomic<uint32_t> active{0};
    std::atomic<uint32_t> inactive{0};
};

// A worker's share of one service's or real server's traffic, as ipvsadm --stats counts it.
// Written only by its worker (relaxed stores); the control core sums and subtracts.
struct TrafficCounters {
    std::atomic<uint64_t> conns{0};
    std::atomic<uint64_t> in_packets{0};
    std::atomic<uint64_t> out_packets{0};
    std::atomic<uint64_t> in_bytes{0};
    std::atomic<uint64_t> out_bytes{0};
};

inline void bump(std::atomic<uint64_t>& counter, uint64_t by)
{
    counter.store(counter.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
}

// Only its worker writes a count: a plain read-modify-write, published with a relaxed store.
inline void count_add(std::atomic<uint32_t>& counter, int delta)
{
    counter.store(counter.load(std::memory_order_relaxed) + static_cast<uint32_t>(delta), std::memory_order_relaxed);
}

// A request from the control core for a copy of some of a worker's connections (the console's
// "show conns"). The worker copies a slice of its tables per loop iteration (worker.hpp), so a
// table of 2^24 slots never stalls one iteration. Slots number the IPv4 table's first, then the
// IPv6 table's (dump_slots). `phase` says who owns `limit` and `rows`:
// the control core while idle or done, the worker while requested or working.
struct ConnectionDump {
    struct Row {
        bool is_ipv6;
        FlowKey client_key;      // an IPv4 connection's
        FlowKey6 client_key6;    // an IPv6 connection's
        rte_be32_t real_ip;      // an IPv4 connection's
        Ipv6Address real_ip6;    // an IPv6 connection's (IPv4-mapped for an IPv4 tunnel server), or an IPv4
                                 // one's IPv6 tunnel server
        rte_be16_t real_port;
        TcpState state;
        Tick expires_in;
    };
    enum Phase : uint8_t { idle, requested, working, done };
    std::atomic<uint8_t> phase{idle};
    size_t limit = 0;
    uint32_t start_slot = 0; // where the control core asks the worker to begin
    uint32_t next_slot = 0;  // the worker's place in its table: once done, where a next request goes on
    std::vector<Row> rows;   // reserved by the control core before it asks

    // Control core: asks for up to `limit` rows from slot `from` on. False while the worker still
    // has an earlier request (one the control core gave up waiting for); a finished one is discarded.
    bool request(size_t row_limit, uint32_t from = 0)
    {
        uint8_t expected = done;
        phase.compare_exchange_strong(expected, idle, std::memory_order_acquire);
        if (phase.load(std::memory_order_acquire) != idle) return false;
        rows.clear();
        rows.reserve(row_limit);
        limit = row_limit;
        start_slot = from;
        phase.store(requested, std::memory_order_release);
        return true;
    }
    // Control core: the rows are complete and its own until release().
    bool ready() const { return phase.load(std::memory_order_acquire) == done; }
    void release() { phase.store(idle, std::memory_order_release); }
    // Control core: withdraws a request the worker has not started; one it has started is
    // finished by the worker and discarded by the next request.
    void cancel()
    {
        uint8_t expected = requested;
        phase.compare_exchange_strong(expected, idle, std::memory_order_acq_rel);
    }
};

struct RxQueue {
    uint16_t port_id;
    uint16_t queue_id;
};

// A queue of frames the kernel sent out of a TAP interface, and the port they leave by.
struct KernelQueue {
    uint16_t kernel_port;
    uint16_t queue_id;
    uint16_t port_id;
};

// A packet waiting for its next hop to answer ARP or a neighbour solicitation.
template <typename Address>
struct BasicPendingPacket {
    rte_mbuf* mbuf;
    Address next_hop;
    uint16_t port_id;
    uint64_t since;          // TSC when it was held
};
using PendingPacket = BasicPendingPacket<rte_be32_t>;
using PendingPacket6 = BasicPendingPacket<Ipv6Address>;

// Next hops a worker sent to recently, so that most packets skip the shared hash table.
template <typename Address>
struct NeighborCacheSlot {
    Address ip{};
    const typename BasicNeighborTable<Address>::Entry* entry = nullptr;
};

// What a worker keeps for resolving one family's next hops: the cache above, and the packets
// waiting for an answer.
template <typename Address>
struct NextHopState {
    std::array<NeighborCacheSlot<Address>, neighbor_cache_size> cache{};
    std::array<BasicPendingPacket<Address>, max_pending_arp> pending{};
    unsigned pending_count = 0;
    uint64_t last_retry = 0;
};

struct alignas(RTE_CACHE_LINE_SIZE) WorkerContext {
    unsigned worker_id = 0;
    DataplaneShared* shared = nullptr;
    std::vector<RxQueue> rx_queues;
    std::vector<KernelQueue> kernel_queues;
    rte_meter_srtcm kernel_meter{};
    rte_meter_srtcm icmp_meter{};
    uint16_t tx_queue = 0;                    // this worker's TX queue on every port
    rte_ring* from_control = nullptr;         // frames the control core wants sent (GARP)
    // Connection sync (sync.hpp): records this worker sends (to the control thread) and those
    // received for connections it owns (from it). SyncRecord elements; single producer and
    // consumer each.
    rte_ring* sync_out = nullptr;
    rte_ring* sync_in = nullptr;

    // Refreshed once per loop iteration: the snapshot and the clock every stage uses.
    const ServiceSnapshot* snapshot = nullptr;
    uint64_t now = 0;   // TSC
    Tick now_tick = 0;  // the same, in connection-table ticks

    ConnTable conns;
    ConnTable6 conns6;
    // A burst's IPv6 flow keys and what the bulk lookup found for them (process_burst): kept
    // here, not on the stack, so that a burst of IPv4 only does not pay for clearing them.
    std::array<FlowKey6, rx_burst_size> burst_keys6{};
    std::array<ConnTable6::Hit, rx_burst_size> burst_hits6{};
    bool connection_created_in_burst = false;  // misses of the burst's bulk lookup may be stale
    // Each table's search for a connection to evict (conn_pressure.hpp).
    EvictionSearch eviction;
    EvictionSearch eviction6;
    DefenseState defense;
    // The full refresh's place in the table, and the tick whose share of slots it has sent.
    uint32_t sync_refresh_cursor = 0;
    Tick sync_refresh_tick = 0;
    std::vector<sched::SchedCursor> cursors;  // indexed by service id
    std::unique_ptr<ConnCounts[]> conn_counts;  // indexed by real server id
    std::unique_ptr<TrafficCounters[]> service_traffic;      // indexed by service id
    std::unique_ptr<TrafficCounters[]> real_server_traffic;  // indexed by real server id
    ConnectionDump dump;
    // A service's destinations with this worker's live counts and the overload flags, for the
    // schedulers that read them (max_real_servers_per_service entries, allocated once).
    std::vector<sched::Destination> sched_view;

    NextHopState<rte_be32_t> next_hops;
    NextHopState<Ipv6Address> next_hops6;
    // IPv6 destinations routed recently, direct-mapped, each valid for the snapshot generation
    // that routed it: rte_fib6's trie costs an established IPv6 packet more than the rest of its
    // routing (fulcrum-bench, docs/performance.md). IPv4's dir24_8 needs no such cache.
    struct RouteCacheSlot6 {
        Ipv6Address destination;
        const NextHop6* hop = nullptr;
        uint64_t generation = 0;
    };
    std::array<RouteCacheSlot6, route_cache6_size> route_cache6{};

    // Frames ready to send, per port id, flushed at the end of each burst.
    std::array<std::array<rte_mbuf*, tx_stage_size>, max_ports> tx{};
    std::array<uint16_t, max_ports> tx_count{};

    uint32_t next_ip_id = 0;                  // outer IP ids of the tunnel packets this worker sends

    WorkerCounters counters;
};

// The slots a connection dump walks: the IPv4 table's, then the IPv6 table's.
inline uint32_t dump_slots(const WorkerContext& w) { return w.conns.capacity() + w.conns6.capacity(); }

}  // namespace fulcrum::dataplane
