// Connection sync's path through the director: the rings between the workers and the sync
// daemon (control/sync/daemon.hpp), which the control loop moves records along.
#include "control/director/director.hpp"
#include "control/director/internal.hpp"

#include <rte_byteorder.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "control/log.hpp"
#include "dataplane/handoff.hpp"

namespace fulcrum::control {

using namespace fulcrum::dataplane;

namespace {

// Records each way per worker. A master's workers fill theirs at most a few hundred per
// millisecond (state changes, every 50th packet, the paced refresh) and the control loop empties
// it every millisecond; a backup's fill at the rate datagrams arrive.
constexpr unsigned sync_ring_size = 8192;
constexpr unsigned sync_drain_per_worker = 1024;

}  // namespace

std::string Director::create_sync_rings(WorkerContext& w, int socket)
{
    const unsigned flags = RING_F_SP_ENQ | RING_F_SC_DEQ;
    const std::string out = fmt::format("sync_out_{}", w.worker_id);
    const std::string in = fmt::format("sync_in_{}", w.worker_id);
    w.sync_out = rte_ring_create_elem(out.c_str(), sizeof(SyncRecord), sync_ring_size, socket, flags);
    if (w.sync_out == nullptr) return dpdk_failure("cannot create ring " + out);
    w.sync_in = rte_ring_create_elem(in.c_str(), sizeof(SyncRecord), sync_ring_size, socket, flags);
    if (w.sync_in == nullptr) return dpdk_failure("cannot create ring " + in);
    return {};
}

void Director::configure_sync(const Config& config)
{
    std::string ifname;
    for (const InterfaceConfig& iface : config.interfaces)
        if (iface.name == config.sync.interface) ifname = iface.kernel_interface;
    const bool was_on = sync_.sending() || sync_.receiving();
    if (auto e = sync_.configure(config.sync, ifname); !e.empty()) {
        log::error("{}; connection sync is off", e);
        return;
    }
    if (sync_.sending() || sync_.receiving())
        log::info("connection sync: {} on {} (group {}:{}, sync id {}, up to {} bytes a datagram, full refresh {} s)",
                  sync_role_name(config.sync), ifname, format_ipv4(config.sync.group), config.sync.port,
                  config.sync.syncid, config.sync.max_length, config.sync.full_refresh);
    else if (was_on)
        log::info("connection sync: off");
}

void Director::poll_sync()
{
    const auto now = sync::SyncDaemon::Clock::now();
    // What the workers handed over goes out (or, when no longer master, is let go).
    SyncRecord records[64];
    for (auto& w : workers_) {
        for (unsigned taken = 0; taken < sync_drain_per_worker;) {
            const unsigned n = rte_ring_sc_dequeue_burst_elem(w->sync_out, records, sizeof(SyncRecord), 64, nullptr);
            if (n == 0) break;
            for (unsigned i = 0; i < n; ++i) sync_.queue(records[i], now);
            taken += n;
        }
    }
    sync_.flush_due(now);
    // Each received connection goes to the worker that will see its packets (handoff.hpp's
    // owner, for either family).
    const unsigned worker_count = static_cast<unsigned>(workers_.size());
    sync_.receive([&](const SyncRecord& r) {
        const rte_be16_t port = rte_cpu_to_be_16(r.client_port);
        const unsigned owner = r.is_ipv6()
                                   ? owner_of_client6(Ipv6Address{r.client_ip.bytes()}, port, worker_count, shared_.owner_hash)
                                   : owner_of_client(rte_cpu_to_be_32(r.client_ip.ipv4()), port, worker_count,
                                                     shared_.owner_hash);
        SyncRecord copy = r;
        return rte_ring_sp_enqueue_elem(workers_[owner]->sync_in, &copy, sizeof copy) == 0;
    });
}

SyncStatus Director::sync_status() const
{
    SyncStatus s;
    s.config = config_.sync;
    s.sending = sync_.sending();
    s.receiving = sync_.receiving();
    s.kernel_interface = sync_.interface();
    s.counters = sync_.counters();
    return s;
}

}  // namespace fulcrum::control
