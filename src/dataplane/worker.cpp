#include "dataplane/worker.hpp"

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_pause.h>
#include <rte_prefetch.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "dataplane/defense.hpp"
#include "dataplane/egress.hpp"
#include "dataplane/handoff.hpp"
#include "dataplane/pipeline.hpp"
#include "dataplane/sync.hpp"

namespace fulcrum::dataplane {

namespace {

// Connections the timer wheel may look at per loop iteration: expiry never takes a long bite
// out of one iteration, and a backlog (a million connections timing out in the same tick) is
// worked off over the following ones.
constexpr uint32_t expiry_budget = 256;

// Slots of the table "show conns" copies per loop iteration: about 10 us of work, so a table of
// 2^24 slots is copied in some 40 ms over 4096 iterations instead of one iteration of 30 ms.
constexpr uint32_t dump_budget = 4096;

// Received sync records a worker installs per loop iteration: a backup catching up with a
// master's full table spreads the work over iterations instead of stalling one.
constexpr unsigned sync_install_budget = 256;

// Idle back-off: spin for a while (traffic often comes in bursts), then pause, then sleep in
// growing steps up to max_sleep_us, so an idle director leaves the CPU to others on a small
// box; the first packet after a sleep waits at most that long.
constexpr unsigned spin_polls = 64;
constexpr unsigned pause_polls = 1024;
constexpr unsigned min_sleep_us = 10;
constexpr unsigned max_sleep_us = 200;

void back_off(unsigned idle_polls)
{
    if (idle_polls < spin_polls) return;
    if (idle_polls < pause_polls) {
        rte_pause();
        return;
    }
    const unsigned doublings = std::min(5u, (idle_polls - pause_polls) / 64);
    rte_delay_us_sleep(std::min(max_sleep_us, min_sleep_us << doublings));
}

uint16_t drain_from_control(WorkerContext& w)
{
    if (w.from_control == nullptr) return 0;
    rte_mbuf* frames[rx_burst_size];
    const unsigned n = rte_ring_sc_dequeue_burst(w.from_control, reinterpret_cast<void**>(frames),
                                                 rx_burst_size, nullptr);
    for (unsigned i = 0; i < n; ++i) egress_stage(w, frames[i]->port, frames[i]);
    return static_cast<uint16_t>(n);
}

}  // namespace

bool PortInfo::on_link(rte_be32_t ip) const
{
    const uint32_t host = rte_be_to_cpu_32(ip);
    for (const Ipv4Prefix& prefix : addresses)
        if (prefix.contains(host)) return true;
    return false;
}

rte_be32_t PortInfo::source_for(rte_be32_t target) const
{
    const uint32_t host = rte_be_to_cpu_32(target);
    for (size_t i = 0; i < addresses.size(); ++i)
        if (addresses[i].contains(host)) return local_ips[i];
    return local_ips.empty() ? 0 : local_ips.front();
}

bool DataplaneShared::is_local(rte_be32_t ip) const
{
    return std::binary_search(local_ips.begin(), local_ips.end(), ip);
}

namespace {

// By 64-bit halves, as the addresses' own comparison: a variable-length memcmp here cost a
// tunnelled IPv6 packet 2% of its time (its source is chosen per packet).
bool same_prefix(const Ipv6Address& a, const Ipv6Address& b, unsigned length)
{
    for (unsigned half = 0; half < 2; ++half) {
        const unsigned bits = length > 64 * half ? std::min(length - 64 * half, 64u) : 0;
        if (bits == 0) return true;
        uint64_t x, y;
        std::memcpy(&x, a.bytes.data() + 8 * half, sizeof x);
        std::memcpy(&y, b.bytes.data() + 8 * half, sizeof y);
        const uint64_t mask = rte_cpu_to_be_64(~uint64_t{0} << (64 - bits));
        if (((x ^ y) & mask) != 0) return false;
    }
    return true;
}

}  // namespace

bool PortInfo::on_link(const Ipv6Address& ip) const
{
    // fe80::/64 is on every link.
    if (same_prefix(ip, link_local, 64)) return true;
    for (size_t i = 0; i < local_ips6.size(); ++i)
        if (same_prefix(ip, local_ips6[i], prefix_lengths6[i])) return true;
    return false;
}

Ipv6Address PortInfo::source_for(const Ipv6Address& target) const
{
    if (!target.is_link_local())
        for (size_t i = 0; i < local_ips6.size(); ++i)
            if (same_prefix(target, local_ips6[i], prefix_lengths6[i])) return local_ips6[i];
    return link_local;
}

bool PortInfo::is_local(const Ipv6Address& ip) const
{
    return ip == link_local || std::find(local_ips6.begin(), local_ips6.end(), ip) != local_ips6.end();
}

bool DataplaneShared::is_local(const Ipv6Address& ip) const
{
    for (unsigned i = 0; i < port_count; ++i)
        if (ports[i].is_local(ip)) return true;
    return false;
}

std::string set_rate_limits(DataplaneShared& shared, uint32_t kernel_per_second, uint32_t icmp_per_second)
{
    rte_meter_srtcm_params kernel{kernel_per_second, std::max<uint64_t>(64, kernel_per_second / 10), 0};
    if (int rc = rte_meter_srtcm_profile_config(&shared.kernel_meter_profile, &kernel); rc != 0)
        return "dataplane.kernel_rate_limit: the meter refused it: " + std::string(rte_strerror(-rc));
    rte_meter_srtcm_params icmp{icmp_per_second, std::max<uint64_t>(50, icmp_per_second / 20), 0};
    if (int rc = rte_meter_srtcm_profile_config(&shared.icmp_meter_profile, &icmp); rc != 0)
        return "dataplane.icmp_rate_limit: the meter refused it: " + std::string(rte_strerror(-rc));
    return {};
}

std::string worker_prepare(WorkerContext& w, uint32_t conn_table_size, uint32_t conn_table_size6, int socket)
{
    rte_meter_srtcm_config(&w.kernel_meter, &w.shared->kernel_meter_profile);
    rte_meter_srtcm_config(&w.icmp_meter, &w.shared->icmp_meter_profile);
    if (!w.conns.init(conn_table_size, socket))
        return "cannot allocate the connection table of worker " + std::to_string(w.worker_id) + " (" +
               std::to_string(conn_table_size) + " connections): not enough memory given to EAL (-m)";
    if (!w.conns6.init(conn_table_size6, socket))
        return "cannot allocate the IPv6 connection table of worker " + std::to_string(w.worker_id) + " (" +
               std::to_string(conn_table_size6) + " connections): not enough memory given to EAL (-m)";
    w.cursors.assign(max_services_per_process, sched::SchedCursor{});
    // Each worker's random choices (twos) differ from the others'.
    for (sched::SchedCursor& cursor : w.cursors) sched::seed_cursor(cursor, w.worker_id + 1);
    w.sched_view.assign(max_real_servers_per_service, sched::Destination{});
    w.conn_counts = std::make_unique<ConnCounts[]>(max_real_servers_per_process);
    w.service_traffic = std::make_unique<TrafficCounters[]>(max_services_per_process);
    w.real_server_traffic = std::make_unique<TrafficCounters[]>(max_real_servers_per_process);
    return {};
}

void worker_process_burst(WorkerContext& w, rte_mbuf** mbufs, uint16_t count)
{
    process_burst(w, mbufs, count);
}

void worker_set_clock(WorkerContext& w, uint64_t tsc)
{
    w.now = tsc;
    w.now_tick = static_cast<Tick>(tsc / w.shared->tsc_per_tick);
}

void worker_expire_some(WorkerContext& w, uint32_t budget)
{
    const ServiceSnapshot& s = *w.snapshot;
    w.counters.connections_expired += w.conns.expire(
        w.now_tick, budget, [&](const Connection& c) { return connection_timeout(c, s); },
        [&](const Connection& c) { uncount_connection(w, c); });
    w.counters.connections_expired += w.conns6.expire(
        w.now_tick, budget, [&](const Connection6& c) { return connection_timeout(c, s); },
        [&](const Connection6& c) { uncount_connection(w, c); });
}

bool worker_dump_connections(WorkerContext& w, uint32_t budget)
{
    ConnectionDump& dump = w.dump;
    uint8_t phase = dump.phase.load(std::memory_order_acquire);
    if (phase == ConnectionDump::requested) {
        // The control core may withdraw a request the worker has not taken yet.
        if (!dump.phase.compare_exchange_strong(phase, ConnectionDump::working, std::memory_order_acquire))
            return false;
        dump.next_slot = dump.start_slot;
        phase = ConnectionDump::working;
    }
    if (phase != ConnectionDump::working) return false;
    const uint32_t capacity = dump_slots(w);
    const uint32_t ipv4_slots = w.conns.capacity();
    const uint32_t end = capacity - dump.next_slot < budget ? capacity : dump.next_slot + budget;
    for (; dump.next_slot < end && dump.rows.size() < dump.limit; ++dump.next_slot) {
        if (dump.next_slot < ipv4_slots) {
            const Connection& c = w.conns.slot(dump.next_slot);
            if (!c.in_use) continue;
            // An IPv4 connection tunnelled over IPv6 holds a handle, not its real server.
            const Ipv6Address real_ip6 = ServiceSnapshot::is_ipv6_tunnel_handle(c.real_ip)
                                             ? w.snapshot->ipv6_tunnel_end(c.real_ip)
                                             : Ipv6Address{};
            dump.rows.push_back({false, c.client_key, {}, c.real_ip, real_ip6, c.real_port,
                                 c.client_key.proto == IPPROTO_TCP ? c.tcp.state : TcpState::count,
                                 connection_time_left(c, *w.snapshot, w.now_tick)});
        } else {
            const Connection6& c = w.conns6.slot(dump.next_slot - ipv4_slots);
            if (!c.in_use) continue;
            dump.rows.push_back({true, {}, c.client_key, 0, c.real_ip, c.real_port,
                                 c.client_key.proto == IPPROTO_TCP ? c.tcp.state : TcpState::count,
                                 connection_time_left(c, *w.snapshot, w.now_tick)});
        }
    }
    if (dump.next_slot >= capacity || dump.rows.size() >= dump.limit)
        dump.phase.store(ConnectionDump::done, std::memory_order_release);
    return true;
}

int worker_main(void* worker_context)
{
    WorkerContext& w = *static_cast<WorkerContext*>(worker_context);
    DataplaneShared& shared = *w.shared;
    rte_rcu_qsbr_thread_register(shared.rcu, w.worker_id);
    rte_rcu_qsbr_thread_online(shared.rcu, w.worker_id);

    rte_mbuf* burst[rx_burst_size];
    unsigned idle_polls = 0;
    while (!shared.stop.load(std::memory_order_relaxed)) {
        // Nothing from the previous iteration's snapshot is held past this point.
        rte_rcu_qsbr_quiescent(shared.rcu, w.worker_id);
        w.snapshot = shared.snapshot.load(std::memory_order_acquire);
        worker_set_clock(w, rte_rdtsc());

        unsigned received = 0;
        for (const RxQueue& q : w.rx_queues) {
            const uint16_t n = rte_eth_rx_burst(q.port_id, q.queue_id, burst, rx_burst_size);
            w.counters.rx_packets += n;
            received += n;
            worker_process_burst(w, burst, n);
        }
        // What the kernel sends leaves as it is: it resolved its own next hop. An empty TAP queue
        // costs about 5 ns (net_tap reads only after the kernel has signalled; fulcrum-bench
        // --methods tap), so the queues are polled every iteration.
        for (const KernelQueue& k : w.kernel_queues) {
            const uint16_t n = rte_eth_rx_burst(k.kernel_port, k.queue_id, burst, rx_burst_size);
            for (uint16_t i = 0; i < n; ++i) egress_stage(w, k.port_id, burst[i]);
            w.counters.from_kernel += n;
            received += n;
        }
        const uint16_t handed = receive_handed_off(w, burst, rx_burst_size);
        process_burst(w, burst, handed, true);
        received += handed;
        received += drain_from_control(w);
        received += sync_install_some(w, sync_install_budget);
        sync_refresh_some(w);
        egress_retry_pending(w);
        egress_flush(w);
        worker_expire_some(w, expiry_budget);
        defense_run(w, expiry_budget);
        // A copy in progress counts as work: the loop does not back off until it is done.
        if (worker_dump_connections(w, dump_budget)) ++received;

        if (received > 0) {
            idle_polls = 0;
        } else {
            ++w.counters.idle_polls;
            back_off(++idle_polls);
        }
    }
    egress_release_pending(w);
    egress_flush(w);
    rte_rcu_qsbr_thread_offline(shared.rcu, w.worker_id);
    rte_rcu_qsbr_thread_unregister(shared.rcu, w.worker_id);
    return 0;
}

}  // namespace fulcrum::dataplane
