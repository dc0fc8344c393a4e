// The control loop's schedule: what runs every millisecond, every 100 ms and every 2 s.
#include "control/director/director.hpp"
#include "control/director/internal.hpp"

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>
#include <rte_timer.h>

#include <algorithm>
#include <numeric>
#include <chrono>
#include <thread>

#include "control/config/writer.hpp"
#include "control/frontends/ipvsadm_format.hpp"
#include "control/log.hpp"
#include "dataplane/arp.hpp"
#include "dataplane/port.hpp"
#include "dataplane/steering.hpp"
#include "dataplane/worker.hpp"

namespace fulcrum::control {

using namespace fulcrum::dataplane;

namespace {

// The kernel's gc_stale_time: a learned neighbour unused and unheard for this long is forgotten.
constexpr uint32_t neighbor_stale_seconds = 60;
constexpr auto control_period = std::chrono::milliseconds(1);
constexpr auto overload_period = std::chrono::milliseconds(100);
constexpr auto estimator_period = std::chrono::seconds(2);

}  // namespace

void Director::run(ControlSignals& signals)
{
    auto next_overload_check = std::chrono::steady_clock::now();
    auto next_estimate = next_overload_check + estimator_period;
    while (!signals.stop.load()) {
        publisher_->tick();
        learn_neighbors();
        if (signals.reload.exchange(false)) reload();
        rte_timer_manage();
        poll_health();
        poll_sync();
        follow_kernel_addresses();
        const auto now = std::chrono::steady_clock::now();
        if (now >= next_overload_check) {
            update_overload();
            next_overload_check += overload_period;
        }
        if (now >= next_estimate) {
            // Learned neighbours neither used nor heard from for a minute are forgotten.
            const uint32_t forgotten = neighbors_->collect(dataplane_seconds(), neighbor_stale_seconds, shared_.rcu) +
                                       neighbors6_->collect(dataplane_seconds(), neighbor_stale_seconds, shared_.rcu);
            if (forgotten > 0) log::debug("forgot {} neighbours unused for {} s", forgotten, neighbor_stale_seconds);
            release_unused_ids();
            if (!announce_problem_.empty()) note_announce_problem(announcer_.retry());
            estimate_rates();
            metrics_.update(services(), workers(), health(), pools(), sync_status(), announce_status());
            next_estimate += estimator_period;
        }
        metrics_server_->poll_once(metrics_);
        if (console_) console_->poll_once();
        if (listeners_changed_) {
            listeners_changed_ = false;
            if (auto e = open_listeners(config_); !e.empty()) log::error("{}", e);
        }
        std::this_thread::sleep_for(control_period);
    }
}

void Director::update_overload()
{
    // IPVS marks a real server overloaded when its connections reach the upper threshold and
    // clears it below the lower one (or 3/4 of the upper); here from the counts summed over
    // workers, every 100 ms.
    for (const ServiceConfig& s : config_.services) {
        const auto service_id = ids_.find_service(s.key());
        if (!service_id) continue;
        for (const RealServerConfig& rs : s.real_servers) {
            const auto id = ids_.find_real_server(key_of(s, rs));
            if (!id) continue;
            std::atomic<bool>& flag = shared_.overloaded[*id];
            if (rs.upper_threshold == 0) {
                flag.store(false, std::memory_order_relaxed);
                continue;
            }
            const RealServerCounts c = connection_counts(s, rs);
            const bool was = flag.load(std::memory_order_relaxed);
            const bool now = sched::overloaded_after(was, uint64_t{c.active} + c.inactive, rs.upper_threshold, rs.lower_threshold);
            if (now != was) {
                flag.store(now, std::memory_order_relaxed);
                log::info("real server {} of {} {} {} ({} connections, thresholds {}/{})",
                          format_endpoint(rs.address, rs.port), protocol_name(s.protocol), format_endpoint(s.vip, s.port),
                          now ? "is overloaded" : "is no longer overloaded", c.active + c.inactive, rs.upper_threshold,
                          rs.lower_threshold);
            }
        }
    }
}

void Director::estimate_rates()
{
    // IPVS's estimator: every 2 s the difference over the period, smoothed with weight 1/4.
    auto step = [](RateEstimate& e, const TrafficStats& now) {
        auto rate = [](uint64_t later, uint64_t earlier) { return later >= earlier ? (later - earlier) / 2 : 0; };
        auto smooth = [](uint64_t& avg, uint64_t sample) {
            avg = sample >= avg ? avg + (sample - avg + 3) / 4 : avg - (avg - sample) / 4;
        };
        if (e.primed) {
            smooth(e.rates.cps, rate(now.conns, e.last.conns));
            smooth(e.rates.in_pps, rate(now.in_packets, e.last.in_packets));
            smooth(e.rates.out_pps, rate(now.out_packets, e.last.out_packets));
            smooth(e.rates.in_bps, rate(now.in_bytes, e.last.in_bytes));
            smooth(e.rates.out_bps, rate(now.out_bytes, e.last.out_bytes));
        }
        e.last = now;
        e.primed = true;
    };
    for (const ServiceConfig& s : with_sorry_servers(config_).services) {
        const auto service_id = ids_.find_service(s.key());
        if (!service_id) continue;
        step(service_rates_[*service_id], service_totals(*service_id));
        for (const RealServerConfig& rs : s.real_servers)
            if (const auto id = ids_.find_real_server(key_of(s, rs)))
                step(real_server_rates_[*id], real_server_totals(*id));
    }
}

}  // namespace fulcrum::control
