// The DPDK telemetry commands (/fulcrum/services, /fulcrum/workers, /fulcrum/memory,
// /fulcrum/health), read with dpdk-telemetry.py: the one front end that speaks DPDK, through
// <rte_telemetry.h> alone (tests/tools/check_includes.py allows it that header).
#include "control/frontends/metrics.hpp"

#include <rte_telemetry.h>

#include <string>

#include <fmt/format.h>

namespace fulcrum::control {

namespace {

Metrics* telemetry_target = nullptr;

}  // namespace

struct TelemetryAccess {
    // Adds `entry` as the dictionary `d`'s entry number `position` (from 0) of `total`, under
    // `name`. DPDK 22.11 takes at most RTE_TEL_MAX_DICT_ENTRIES: when more are to come, the last
    // place says how many did not fit ("truncated"), and false stops the caller. `entry` is
    // freed when it is not added (DPDK frees only what it holds).
    static bool add_entry(rte_tel_data* d, const std::string& name, rte_tel_data* entry, size_t position, size_t total)
    {
        const bool cut = total > RTE_TEL_MAX_DICT_ENTRIES && position == RTE_TEL_MAX_DICT_ENTRIES - 1;
        if (cut || rte_tel_data_add_dict_container(d, name.c_str(), entry, 0) != 0) {
            rte_tel_data_free(entry);
            rte_tel_data_add_dict_u64(d, "truncated", total - position);
            return false;
        }
        return true;
    }

    static int memory(const char*, const char*, rte_tel_data* d)
    {
        if (telemetry_target == nullptr) return -1;
        std::lock_guard lock(telemetry_target->mutex_);
        rte_tel_data_start_dict(d);
        for (const PoolStatus& p : telemetry_target->pools_) {
            rte_tel_data_add_dict_u64(d, (p.name + "_size").c_str(), p.size);
            rte_tel_data_add_dict_u64(d, (p.name + "_in_use").c_str(), p.in_use);
        }
        return 0;
    }

    static int services(const char*, const char*, rte_tel_data* d)
    {
        if (telemetry_target == nullptr) return -1;
        std::lock_guard lock(telemetry_target->mutex_);
        rte_tel_data_start_dict(d);
        size_t index = 0;
        for (const ServiceStatus& s : telemetry_target->services_) {
            rte_tel_data* c = rte_tel_data_alloc();
            rte_tel_data_start_dict(c);
            rte_tel_data_add_dict_string(c, "protocol", std::string(protocol_name(s.config.protocol)).c_str());
            rte_tel_data_add_dict_string(c, "service", format_endpoint(s.config.vip, s.config.port).c_str());
            rte_tel_data_add_dict_u64(c, "conns", s.stats.conns);
            rte_tel_data_add_dict_u64(c, "in_packets", s.stats.in_packets);
            rte_tel_data_add_dict_u64(c, "out_packets", s.stats.out_packets);
            rte_tel_data_add_dict_u64(c, "in_bytes", s.stats.in_bytes);
            rte_tel_data_add_dict_u64(c, "out_bytes", s.stats.out_bytes);
            rte_tel_data_add_dict_u64(c, "cps", s.rates.cps);
            uint64_t active = 0, inactive = 0;
            for (const RealServerStatus& r : s.real_servers) {
                active += r.active;
                inactive += r.inactive;
            }
            rte_tel_data_add_dict_u64(c, "active_conns", active);
            rte_tel_data_add_dict_u64(c, "inactive_conns", inactive);
            if (!add_entry(d, fmt::format("service_{}", index), c, index, telemetry_target->services_.size())) break;
            ++index;
        }
        return 0;
    }
    static int workers(const char*, const char*, rte_tel_data* d)
    {
        if (telemetry_target == nullptr) return -1;
        std::lock_guard lock(telemetry_target->mutex_);
        rte_tel_data_start_dict(d);
        for (const WorkerStatus& w : telemetry_target->workers_) {
            rte_tel_data* c = rte_tel_data_alloc();
            rte_tel_data_start_dict(c);
            // Every value under its one name (worker_values), and the drops' sum.
            for (const auto& [name, value] : worker_values(w))
                rte_tel_data_add_dict_u64(c, telemetry_name(name).c_str(), value);
            rte_tel_data_add_dict_u64(c, "drops", w.counters.drops_total());
            if (!add_entry(d, fmt::format("worker{}", w.worker), c, w.worker, telemetry_target->workers_.size())) break;
        }
        return 0;
    }

    // One dictionary per real server (and sorry server): protocol, service, real_server, check,
    // state, weight (-1: not in the table), last, reason. DPDK 22.11's telemetry refuses
    // dictionary names with anything but letters, digits, '_' and '/', and arrays of
    // dictionaries: entries are named by position ("real_server_0", as "worker0"), and the
    // addresses are values.
    static int health(const char*, const char*, rte_tel_data* d)
    {
        if (telemetry_target == nullptr) return -1;
        std::lock_guard lock(telemetry_target->mutex_);
        rte_tel_data_start_dict(d);
        size_t index = 0;
        for (const HealthRow& h : telemetry_target->health_) {
            rte_tel_data* c = rte_tel_data_alloc();
            rte_tel_data_start_dict(c);
            rte_tel_data_add_dict_string(c, "protocol", std::string(protocol_name(h.protocol)).c_str());
            rte_tel_data_add_dict_string(c, "service", format_endpoint(h.vip, h.vport).c_str());
            rte_tel_data_add_dict_string(c, "real_server", format_endpoint(h.address, h.port).c_str());
            rte_tel_data_add_dict_string(c, "check", h.check.c_str());
            rte_tel_data_add_dict_string(c, "state", std::string(health_state_name(h.state)).c_str());
            rte_tel_data_add_dict_int(c, "weight", h.weight ? static_cast<int>(*h.weight) : -1);
            rte_tel_data_add_dict_string(c, "last", h.last_result.c_str());
            rte_tel_data_add_dict_string(c, "reason", h.reason.substr(0, RTE_TEL_MAX_STRING_LEN - 1).c_str());
            if (!add_entry(d, fmt::format("real_server_{}", index), c, index, telemetry_target->health_.size())) break;
            ++index;
        }
        return 0;
    }
};

void Metrics::register_telemetry()
{
    telemetry_target = this;
    rte_telemetry_register_cmd("/fulcrum/services", TelemetryAccess::services,
                               "Per service: connections, packets and bytes each way, cps, ActiveConn, InActConn.");
    rte_telemetry_register_cmd("/fulcrum/workers", TelemetryAccess::workers,
                               "Per worker: packets, hand-offs, connections, drops, frames to and from the kernel.");
    rte_telemetry_register_cmd("/fulcrum/memory", TelemetryAccess::memory,
                               "Packet buffers: each pool's size and how many are in use.");
    rte_telemetry_register_cmd("/fulcrum/health", TelemetryAccess::health,
                               "Per real server and sorry server: check, state, weight in force, last result, reason.");
}

}  // namespace fulcrum::control
