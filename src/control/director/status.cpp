// What the front ends read through ControlApi: services, workers, connections, health rows, pools,
// and the traffic counters summed over workers.
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
#include <cstring>
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

std::vector<PoolStatus> Director::pools() const
{
    std::vector<PoolStatus> out;
    for (const rte_mempool* pool : {shared_.pool, shared_.indirect_pool})
        if (pool != nullptr) out.push_back({pool->name, pool->size, rte_mempool_in_use_count(pool)});
    return out;
}

void Director::count_templates(std::vector<ServiceStatus>& services) const
{
    if (!templates_) return;
    // Each real server id's service timeout, and the ids of the rows to fill.
    std::vector<uint32_t> timeout_of;
    std::vector<std::pair<RealServerStatus*, uint32_t>> rows;
    for (ServiceStatus& s : services) {
        if (s.config.persistence == 0) continue;
        for (RealServerStatus& rs : s.real_servers) {
            const auto id = ids_.find_real_server(RealServerKey{s.config.key(), rs.config.address, rs.config.port});
            if (!id) continue;
            if (*id >= timeout_of.size()) timeout_of.resize(*id + 1, 0);
            timeout_of[*id] = s.config.persistence;
            rows.emplace_back(&rs, *id);
        }
    }
    if (rows.empty()) return;
    std::vector<uint32_t> counts(timeout_of.size(), 0);
    // The workers' clock (worker.cpp): TSC ticks of the connection table, in seconds.
    const auto now_s = static_cast<uint32_t>(rte_rdtsc() / shared_.tsc_per_tick / ticks_per_second);
    templates_->count_by_real_server(now_s, timeout_of, counts);
    for (auto& [row, id] : rows) row->persistent = counts[id];
}

std::vector<InterfaceStatus> Director::interfaces() const
{
    std::vector<InterfaceStatus> out;
    for (const InterfaceConfig& iface : config_.interfaces) {
        const auto it = interface_ports_.find(iface.name);
        if (it == interface_ports_.end()) continue;
        InterfaceStatus s;
        s.config = iface;
        s.port = it->second;
        // An interface on a VLAN shows its device's link and counters.
        const uint16_t device = shared_.ports[s.port].device_port;
        rte_ether_addr mac{};
        if (rte_eth_macaddr_get(device, &mac) == 0) s.mac = format_mac(from_ether(mac));
        rte_eth_link link{};
        if (rte_eth_link_get_nowait(device, &link) == 0) {
            s.link_up = link.link_status == RTE_ETH_LINK_UP;
            if (link.link_speed != RTE_ETH_SPEED_NUM_NONE && link.link_speed != RTE_ETH_SPEED_NUM_UNKNOWN)
                s.speed_mbps = link.link_speed;
        }
        // The port's: ethdev's may be less for a PMD whose link carries the MTU (port_plan.hpp).
        s.mtu = shared_.ports[s.port].mtu;
        rte_eth_stats st{};
        if (rte_eth_stats_get(device, &st) == 0) {
            s.rx_packets = st.ipackets;
            s.rx_bytes = st.ibytes;
            s.rx_missed = st.imissed;
            s.rx_errors = st.ierrors;
            s.rx_no_mbuf = st.rx_nombuf;
            s.tx_packets = st.opackets;
            s.tx_bytes = st.obytes;
            s.tx_errors = st.oerrors;
        }
        out.push_back(std::move(s));
    }
    return out;
}

std::vector<NeighborRow> Director::neighbors() const
{
    std::vector<NeighborRow> out;
    if (!neighbors_ || !neighbors6_) return out;
    auto add = [&](const IpAddress& ip, const rte_ether_addr& mac, uint16_t port, bool is_static) {
        NeighborRow row;
        row.ip = ip;
        row.mac = format_mac(from_ether(mac));
        row.interface = fmt::format("port{}", port);
        for (const auto& [name, id] : interface_ports_)
            if (id == port) row.interface = name;
        row.is_static = is_static;
        out.push_back(std::move(row));
    };
    // IPv4 first, then IPv6, as `ip neigh` lists them.
    for (const NeighborTable::Row& r : neighbors_->rows()) add(rte_be_to_cpu_32(r.ip), r.mac, r.port, r.is_static);
    for (const Neighbor6Table::Row& r : neighbors6_->rows())
        add(IpAddress::ipv6(neighbor_address(r.ip).bytes), r.mac, r.port, r.is_static);
    return out;
}

std::vector<HealthRow> Director::health() const
{
    std::vector<HealthRow> rows;
    for (const ServiceConfig& s : config_.services) {
        for (const RealServerConfig& rs : s.real_servers) {
            HealthRow row{s.protocol, s.vip, s.port, rs.address, rs.port};
            const auto it = health_.statuses().find(key_of(s, rs));
            row.check = health_check_type_name(it != health_.statuses().end() ? it->second.check.type : HealthCheckType::none);
            row.state = health_state(s, rs);
            if (row.state == HealthState::up) row.weight = rs.weight;
            if (row.state == HealthState::quiesced) row.weight = 0;
            if (it != health_.statuses().end()) {
                row.changed = it->second.changed;
                row.last_result = it->second.last_result;
                row.reason = it->second.reason;
            }
            rows.push_back(std::move(row));
        }
        if (s.sorry_server) {
            HealthRow row{s.protocol, s.vip, s.port, s.sorry_server->address, s.sorry_server->port};
            row.check = "sorry";
            const bool active = sorry_server_active(s);
            row.state = active ? HealthState::sorry_active : HealthState::sorry_standby;
            if (active) row.weight = 1;
            if (auto it = sorry_.find(s.key()); it != sorry_.end()) row.changed = it->second.changed;
            row.reason = active ? "none of the real servers is up" : "a real server is up";
            rows.push_back(std::move(row));
        }
    }
    return rows;
}

RealServerCounts Director::connection_counts(const ServiceConfig& s, const RealServerConfig& rs) const
{
    // Each worker's counts, summed: a total may be a packet behind, never torn.
    RealServerCounts total;
    const auto service_id = ids_.find_service(s.key());
    if (!service_id) return total;
    const auto id = ids_.find_real_server(key_of(s, rs));
    if (!id) return total;
    for (const auto& w : workers_) {
        total.active += w->conn_counts[*id].active.load(std::memory_order_relaxed);
        total.inactive += w->conn_counts[*id].inactive.load(std::memory_order_relaxed);
    }
    return total;
}

uint32_t Director::dataplane_seconds() const
{
    // As the workers count: connection-table ticks of the TSC, then seconds.
    return static_cast<Tick>(rte_rdtsc() / shared_.tsc_per_tick) / ticks_per_second;
}

uint32_t Director::table_size() const { return config_.dataplane.conn_table_size; }

TrafficStats Director::summed(std::unique_ptr<TrafficCounters[]> WorkerContext::*table, uint32_t id) const
{
    TrafficStats total;
    for (const auto& w : workers_) {
        const TrafficCounters& c = ((*w).*table)[id];
        total.conns += c.conns.load(std::memory_order_relaxed);
        total.in_packets += c.in_packets.load(std::memory_order_relaxed);
        total.out_packets += c.out_packets.load(std::memory_order_relaxed);
        total.in_bytes += c.in_bytes.load(std::memory_order_relaxed);
        total.out_bytes += c.out_bytes.load(std::memory_order_relaxed);
    }
    return total;
}

TrafficStats Director::service_totals(uint32_t id) const { return summed(&WorkerContext::service_traffic, id); }

TrafficStats Director::real_server_totals(uint32_t id) const { return summed(&WorkerContext::real_server_traffic, id); }

TrafficStats Director::since_zero(const TrafficStats& totals, const std::map<uint32_t, TrafficStats>& zero, uint32_t id)
{
    TrafficStats total = totals;
    // ipvsadm -Z moves the zero, not the workers' counters (only their workers write those).
    if (auto it = zero.find(id); it != zero.end()) {
        total.conns -= it->second.conns;
        total.in_packets -= it->second.in_packets;
        total.out_packets -= it->second.out_packets;
        total.in_bytes -= it->second.in_bytes;
        total.out_bytes -= it->second.out_bytes;
    }
    return total;
}

std::vector<ServiceStatus> Director::services() const
{
    // As ipvsadm shows the table ldirectord keeps: failed servers out or at weight 0, sorry
    // servers in while they stand in.
    std::vector<ServiceStatus> out;
    for (const ServiceConfig& s : effective_config(config_).services) {
        ServiceStatus status;
        status.config = s;
        status.config.real_servers.clear();
        const auto service_id = ids_.find_service(s.key());
        if (service_id) {
            status.stats = since_zero(service_totals(*service_id), service_zero_, *service_id);
            if (auto r = service_rates_.find(*service_id); r != service_rates_.end()) status.rates = r->second.rates;
        }
        for (const RealServerConfig& rs : s.real_servers) {
            RealServerStatus r;
            r.config = rs;
            const RealServerCounts counts = connection_counts(s, rs);
            r.active = counts.active;
            r.inactive = counts.inactive;
            if (service_id) {
                if (const auto id = ids_.find_real_server(key_of(s, rs))) {
                    r.overloaded = shared_.overloaded[*id].load(std::memory_order_relaxed);
                    r.stats = since_zero(real_server_totals(*id), real_server_zero_, *id);
                    if (auto e = real_server_rates_.find(*id); e != real_server_rates_.end()) r.rates = e->second.rates;
                }
            }
            status.real_servers.push_back(r);
        }
        out.push_back(std::move(status));
    }
    return out;
}

std::vector<WorkerStatus> Director::workers() const
{
    std::vector<WorkerStatus> out;
    for (size_t i = 0; i < workers_.size(); ++i) {
        const WorkerContext& w = *workers_[i];
        WorkerStatus s;
        s.worker = w.worker_id;
        s.lcore = worker_lcores_[i];
        // Each 64-bit counter is written by its worker alone and read whole: a copy may be a
        // packet behind, never torn.
        s.counters = w.counters;
        s.connections = w.conns.size();
        s.level_drop_entry = w.defense.drop_entry.load(std::memory_order_relaxed);
        s.level_drop_packet = w.defense.drop_packet.load(std::memory_order_relaxed);
        s.level_secure_tcp = w.defense.secure_tcp.load(std::memory_order_relaxed);
        s.level_flood_mode = w.defense.flood_mode.load(std::memory_order_relaxed);
        out.push_back(std::move(s));
    }
    return out;
}

namespace {

ConnectionRow connection_row(const ConnectionDump::Row& row)
{
    ConnectionRow c;
    const uint8_t proto = row.is_ipv6 ? row.client_key6.proto : row.client_key.proto;
    c.protocol = proto == IPPROTO_TCP ? Protocol::tcp : Protocol::udp;
    c.expires_in_seconds = row.expires_in / ticks_per_second;
    c.state = row.state == TcpState::count ? "UDP" : std::string(tcp_state_name(row.state));
    c.real_port = rte_be_to_cpu_16(row.real_port);
    if (row.is_ipv6) {
        c.client = ip_address_of(row.client_key6.src_ip);
        c.client_port = rte_be_to_cpu_16(row.client_key6.src_port);
        c.vip = ip_address_of(row.client_key6.dst_ip);
        c.vport = rte_be_to_cpu_16(row.client_key6.dst_port);
        c.real_server = ip_address_of(row.real_ip6);
    } else {
        c.client = rte_be_to_cpu_32(row.client_key.src_ip);
        c.client_port = rte_be_to_cpu_16(row.client_key.src_port);
        c.vip = rte_be_to_cpu_32(row.client_key.dst_ip);
        c.vport = rte_be_to_cpu_16(row.client_key.dst_port);
        c.real_server = dataplane::ServiceSnapshot::is_ipv6_tunnel_handle(row.real_ip) ? ip_address_of(row.real_ip6)
                                                                                               : IpAddress(rte_be_to_cpu_32(row.real_ip));
    }
    return c;
}

}  // namespace

std::vector<ConnectionRow> Director::connections(size_t limit)
{
    ConnectionCursor cursor;
    std::vector<ConnectionRow> out;
    while (out.size() < limit && !cursor.end) {
        std::vector<ConnectionRow> page = connections_from(cursor, limit - out.size());
        out.insert(out.end(), page.begin(), page.end());
    }
    return out;
}

std::vector<ConnectionRow> Director::connections_from(ConnectionCursor& cursor, size_t limit)
{
    std::vector<ConnectionRow> out;
    while (out.empty() && !cursor.end) {
        if (cursor.worker >= workers_.size()) {
            cursor.end = true;
            break;
        }
        WorkerContext& w = *workers_[cursor.worker];
        ConnectionDump& dump = w.dump;
        const auto next_worker = [&] {
            ++cursor.worker;
            cursor.slot = 0;
        };
        // A worker still busy with a request given up on is skipped (it finishes that one).
        if (cursor.slot >= dump_slots(w) || !dump.request(limit, cursor.slot)) {
            next_worker();
            continue;
        }
        // A worker copies 4096 slots per loop iteration and does not sleep meanwhile: a table
        // of 2^24 slots takes some 40 ms.
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
        while (!dump.ready() && std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(std::chrono::microseconds(100));
        if (!dump.ready()) {
            dump.cancel();
            next_worker();
            continue;
        }
        for (const ConnectionDump::Row& row : dump.rows) out.push_back(connection_row(row));
        // The worker's place moves on, or this worker is done: a listing always ends.
        const bool moved = dump.next_slot > cursor.slot;
        cursor.slot = dump.next_slot;
        dump.release();
        if (!moved || cursor.slot >= dump_slots(w)) next_worker();
    }
    return out;
}

void Director::zero_counters(const ServiceConfig* only)
{
    if (only == nullptr) {
        // Every id, in the configuration or not (and given back or not): one that comes back, or
        // is given to a newcomer, shows what it did since the zeroing.
        for (uint32_t id = 0; id < ids_.service_id_bound(); ++id) service_zero_[id] = service_totals(id);
        for (uint32_t id = 0; id < ids_.real_server_id_bound(); ++id) real_server_zero_[id] = real_server_totals(id);
    }
    // Every real server and sorry server of the service, in the table now or not.
    for (const ServiceConfig& s : with_sorry_servers(config_).services) {
        if (only != nullptr && s.key() != only->key()) continue;
        const auto service_id = ids_.find_service(s.key());
        if (!service_id) continue;
        service_zero_[*service_id] = service_totals(*service_id);
        for (const RealServerConfig& rs : s.real_servers)
            if (const auto id = ids_.find_real_server(key_of(s, rs)))
                real_server_zero_[*id] = real_server_totals(*id);
    }
    log::info("traffic counters zeroed{}", only == nullptr ? "" : fmt::format(" for {} {}", protocol_name(only->protocol),
                                                                            format_endpoint(only->vip, only->port)));
}

}  // namespace fulcrum::control
