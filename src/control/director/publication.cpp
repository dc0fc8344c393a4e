// From a configuration to a published snapshot: reloads and console edits, the health checks'
// overlay, and what a publication tells the subscribers (runtime/events.hpp).
#include "control/director/director.hpp"
#include "control/director/internal.hpp"
#include "control/systemd_notify.hpp"

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

// lblc/lblcr: addresses remembered per worker and service, forgotten after a day unused
// (the kernel's default expiration).
constexpr uint32_t locality_entries = 16384;
constexpr uint64_t locality_expiry = 24ull * 3600 * ticks_per_second;

// What a reload may not change: it would need new ports, lcores or EAL memory.
std::vector<std::string> fixed_settings_changed(const Config& running, const Config& next)
{
    std::vector<std::string> changed;
    if (running.dataplane.workers != next.dataplane.workers) changed.push_back("dataplane.workers");
    if (running.dataplane.eal != next.dataplane.eal) changed.push_back("dataplane.eal");
    if (running.dataplane.conn_table_size != next.dataplane.conn_table_size)
        changed.push_back("dataplane.conn_table_size");
    // Derived when not given: IPv6 addresses appearing on a reload would want a larger table.
    if (ipv6_conn_table_size(running) != ipv6_conn_table_size(next))
        changed.push_back("dataplane.conn_table_size_ipv6");
    if (running.dataplane.mbufs != next.dataplane.mbufs) changed.push_back("dataplane.mbufs");
    if (running.dataplane.kernel_rate_limit != next.dataplane.kernel_rate_limit)
        changed.push_back("dataplane.kernel_rate_limit");
    if (running.dataplane.icmp_rate_limit != next.dataplane.icmp_rate_limit)
        changed.push_back("dataplane.icmp_rate_limit");
    bool interfaces_same = running.interfaces.size() == next.interfaces.size();
    for (size_t i = 0; interfaces_same && i < running.interfaces.size(); ++i) {
        const InterfaceConfig& a = running.interfaces[i];
        const InterfaceConfig& b = next.interfaces[i];
        interfaces_same = a.name == b.name && a.device == b.device && a.vlan == b.vlan && a.addresses == b.addresses &&
                          a.mtu == b.mtu && a.queues == b.queues && a.kernel_interface == b.kernel_interface;
    }
    if (!interfaces_same) changed.push_back("interfaces");
    return changed;
}

void next_health_check(rte_timer*, void* arg)
{
    auto* h = static_cast<HealthCheckTimer*>(arg);
    h->monitor->start_check(h->target, HealthMonitor::Clock::now());
}

void first_health_check(rte_timer* timer, void* arg)
{
    next_health_check(timer, arg);
    auto* h = static_cast<HealthCheckTimer*>(arg);
    if (rte_timer_reset(timer, h->interval_ms * rte_get_timer_hz() / 1000, PERIODICAL, rte_lcore_id(), next_health_check,
                        arg) != 0)
        log::error("health: cannot arm the check timer of {}", describe_target(h->target));
}

}  // namespace

std::string Director::publish(const Config& config)
{
    const Config effective = effective_config(config);
    SnapshotResult built = build_snapshot(effective, interface_ports_, ids_, ++generation_, kernel_addresses(config));
    if (!built.snapshot) return built.error;
    if (built.snapshot->vips_follow_kernel) announce_acquired(*built.snapshot);
    // lblc and lblcr remember addresses in a table of each worker's own. A service's cursor is
    // read by workers only once a snapshot naming the service is published, and the pointer is
    // a field no worker writes, so it can be set here, before the exchange that publishes it.
    for (const ServiceEntry& service : built.snapshot->services) {
        if (service.sched.kind != sched::Kind::lblc && service.sched.kind != sched::Kind::lblcr) continue;
        for (auto& w : workers_) {
            sched::SchedCursor& cursor = w->cursors[service.id];
            if (cursor.locality != nullptr) continue;
            locality_tables_.push_back(std::make_unique<sched::LocalityTable>(locality_entries, locality_expiry));
            cursor.locality = locality_tables_.back().get();
        }
    }
    // Never waits for the workers: the old snapshot is freed on a later tick, once each has
    // passed a quiescent state (SnapshotPublisher).
    publisher_->publish(std::move(built.snapshot));
    events_.raise(SnapshotPublished{generation_});
    // Announcing turned off goes before the events and turned on after them, so that no VIP is
    // announced for a moment by the other section's table or quorum.
    if (!config.announce.enabled()) configure_announce(config);
    std::map<IpAddress, bool> available = vip_availability(config, effective, config.announce.enabled() ? config.announce.quorum : 1);
    for (const VipAvailability& change : availability_changes(vip_available_, available)) events_.raise(change);
    if (config.announce.enabled()) configure_announce(config);
    vip_available_ = std::move(available);
    log::info("published configuration generation {}: {} service(s)", generation_, config.services.size());
    log_service_table(effective);
    std::erase_if(sorry_, [&](const auto& entry) {
        return std::none_of(config.services.begin(), config.services.end(), [&](const ServiceConfig& s) {
            return s.sorry_server && s.key() == entry.first;
        });
    });
    for (const ServiceConfig& s : config.services) {
        if (!s.sorry_server) continue;
        SorryState& sorry = sorry_[s.key()];
        const bool active = sorry_server_active(s);
        if (active == sorry.active) continue;
        sorry = {active, std::chrono::system_clock::now()};
        log::info("health: {} {} sorry server {} is {}", protocol_label(s.protocol), format_endpoint(s.vip, s.port),
                  format_endpoint(s.sorry_server->address, s.sorry_server->port),
                  active ? "active: none of the real servers is up" : "standing by: a real server is up");
    }
    return {};
}

bool Director::sorry_server_active(const ServiceConfig& s) const { return control::sorry_server_active(s, is_up()); }

HealthState Director::health_state(const ServiceConfig& s, const RealServerConfig& rs) const
{
    if (health_.is_up(key_of(s, rs))) return HealthState::up;
    // ldirectord's quiescent: the server stays, with its connections, at weight 0.
    return rs.health_check.on_failure == OnFailure::quiesce ? HealthState::quiesced : HealthState::down;
}

Config Director::effective_config(const Config& config) const { return control::effective_config(config, is_up()); }

IsUp Director::is_up() const
{
    return [this](const RealServerKey& rs) { return health_.is_up(rs); };
}

void Director::configure_health(const Config& config)
{
    health_.configure(config);
    std::map<HealthTarget, std::unique_ptr<HealthCheckTimer>> kept;
    for (const auto& [target, status] : health_.statuses()) {
        if (status.check.type == HealthCheckType::none) continue;
        auto it = health_timers_.find(target);
        if (it != health_timers_.end() && it->second->interval_ms == status.check.interval_ms) {
            kept.emplace(target, std::move(it->second));
            continue;
        }
        auto timer = std::make_unique<HealthCheckTimer>();
        rte_timer_init(&timer->timer);
        timer->monitor = &health_;
        timer->target = target;
        timer->interval_ms = status.check.interval_ms;
        // The first check comes after a tenth of the interval, the next ones every interval.
        const uint64_t first = std::max<uint64_t>(1, timer->interval_ms * rte_get_timer_hz() / 10000);
        if (rte_timer_reset(&timer->timer, first, SINGLE, rte_lcore_id(), first_health_check, timer.get()) != 0)
            log::error("health: cannot arm the check timer of {}", describe_target(target));
        kept.emplace(target, std::move(timer));
    }
    // Those not kept (gone, or with a new interval); moved-from entries are null.
    for (auto& [target, timer] : health_timers_)
        if (timer) rte_timer_stop_sync(&timer->timer);
    health_timers_ = std::move(kept);
}

void Director::poll_health()
{
    const std::vector<HealthChange> changes = health_.poll(HealthMonitor::Clock::now());
    if (changes.empty()) return;
    for (const HealthChange& c : changes) {
        const auto status = health_.statuses().find(c.target);
        const bool quiesce = status != health_.statuses().end() && status->second.check.on_failure == OnFailure::quiesce;
        const std::string_view action = c.up ? "back in the table" : quiesce ? "quiesced: weight 0" : "removed";
        log::info("health: {} is {} ({}): {}", describe_target(c.target), c.up ? "up" : "down", action, c.reason);
    }
    // The same path as every other change: a new snapshot, published through RCU.
    if (auto e = publish(config_); !e.empty()) log::error("health: cannot publish the change: {}", e);
    for (const HealthChange& c : changes) events_.raise(HealthChanged{c.target, c.up, c.reason});
    metrics_.update(services(), workers(), health(), pools(), sync_status(), announce_status());
}

void Director::log_service_table(const Config& config) const
{
    // A big table is the console's to show ("show services"), not the log's.
    constexpr size_t max_logged_services = 50;
    if (config.services.size() > max_logged_services) {
        log::info("{} services, {} real servers (the table is in the console: show services)", config.services.size(),
                  std::accumulate(config.services.begin(), config.services.end(), size_t{0},
                                  [](size_t n, const ServiceConfig& s) { return n + s.real_servers.size(); }));
        return;
    }
    const std::string table = format_ipvsadm_list(config, config.dataplane.conn_table_size,
                                                  [this](const ServiceConfig& s, const RealServerConfig& rs) {
                                                      return connection_counts(s, rs);
                                                  });
    for (size_t start = 0, end; start < table.size(); start = end + 1) {
        end = table.find('\n', start);
        log::info("{}", std::string_view(table).substr(start, end - start));
    }
}

std::string Director::apply(const Config& next, std::string_view what)
{
    // The same validator as files, through a round trip: a console edit is held to every rule.
    if (const auto problems = check_config(next, std::string(what)); !problems.empty()) {
        std::vector<std::string> messages;
        for (const ConfigError& e : problems) messages.push_back(e.message);
        return fmt::format("{}", fmt::join(messages, "; "));
    }
    return apply_checked(next, what);
}

std::string Director::apply_checked(const Config& next, std::string_view what)
{
    if (auto changed = fixed_settings_changed(config_, next); !changed.empty())
        return fmt::format("{} cannot change while running (restart to change them)", fmt::join(changed, ", "));
    // Refused here, not when the listeners reopen: the console must not be lost to a typo.
    if (!next.console.group.empty() && !console_group_id(next.console.group))
        return fmt::format("console.group {}: no such group on this host", next.console.group);
    // Real servers that remain keep their health; new ones start up and are checked from now.
    // Before the snapshot is built: a server whose check the change removes is up in it.
    configure_health(next);
    if (auto e = publish(next); !e.empty()) {
        configure_health(config_);
        return e;
    }
    sync_kernel_routes(next);
    // New listen addresses take effect once the current console command has finished: the
    // console may be the one asking.
    listeners_changed_ = next.console != config_.console || next.metrics_listen != config_.metrics_listen;
    // The rules name the VIPs: a change may have changed them.
    if (shared_.hardware_steering) resteer_vips();
    for (const NeighborConfig& n : next.neighbors)
        add_static_neighbor(n);
    config_ = next;
    configure_sync(next);
    list_multicast();
    announce_addresses();
    log::info("applied configuration from {}", what);
    return {};
}

std::string Director::reload()
{
    log::info("reloading {}", config_path_);
    notify_systemd_reloading();
    // READY=1 again however the reload ends: a refused file leaves the old configuration serving.
    struct Ready {
        ~Ready() { notify_systemd("READY=1"); }
    } ready_again;
    const auto started = std::chrono::steady_clock::now();
    ConfigResult result = load_config_file(config_path_);
    const auto validated = std::chrono::steady_clock::now();
    if (!result.config) {
        std::vector<std::string> lines;
        for (const ConfigError& e : result.errors) {
            log::error("{}", e.to_string());
            lines.push_back(e.to_string());
        }
        log::error("reload refused: {} problem(s) in {}; the running configuration is unchanged",
                   result.errors.size(), config_path_);
        return fmt::format("{}", fmt::join(lines, "\n"));
    }
    if (auto e = apply_checked(*result.config, config_path_); !e.empty()) {
        log::error("reload refused: {}; the running configuration is unchanged", e);
        return e;
    }
    using ms = std::chrono::duration<double, std::milli>;
    const auto done = std::chrono::steady_clock::now();
    log::info("reload of {} published in {:.1f} ms ({:.1f} ms reading and validating the file, {:.1f} ms "
              "building and publishing the snapshot)",
              config_path_, ms(done - started).count(), ms(validated - started).count(), ms(done - validated).count());
    return {};
}

void Director::release_unused_ids()
{
    // config_ is what the published snapshot was built from; once no worker holds an older one,
    // nothing can start using an id that is given back here.
    if (!publisher_->settled()) return;
    const StableIds::Released released = ids_.release(with_sorry_servers(config_), [&](uint32_t id) {
        for (const auto& w : workers_)
            if (w->conn_counts[id].active.load(std::memory_order_relaxed) + w->conn_counts[id].inactive.load(std::memory_order_relaxed) != 0)
                return true;
        return false;
    });
    // An id given to a newcomer starts from zero: what the workers counted under it so far
    // becomes its baseline.
    for (uint32_t id : released.services) {
        service_zero_[id] = service_totals(id);
        service_rates_.erase(id);
    }
    for (uint32_t id : released.real_servers) {
        real_server_zero_[id] = real_server_totals(id);
        real_server_rates_.erase(id);
        shared_.overloaded[id].store(false, std::memory_order_relaxed);
    }
    if (!released.services.empty() || !released.real_servers.empty())
        log::debug("gave back the ids of {} service(s) and {} real server(s) no longer in use", released.services.size(),
                   released.real_servers.size());
}

}  // namespace fulcrum::control
