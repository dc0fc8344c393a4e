// Turns a validated Config into the immutable ServiceSnapshot the workers read. Runs on the
// control core, off the fast path: everything the dataplane needs is computed here.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "control/config/config.hpp"
#include "dataplane/snapshot.hpp"

namespace fulcrum::control {

// Ids that stay the same for the same service or real server across every snapshot of this
// process, so that connections, counters and scheduler cursors survive a reload.
// An id is given back (release) once its service or real server has left the running
// configuration and no connection refers to it any more, and the lowest id given back is the next
// one given: the ids in use stay below the number of services and real servers that exist,
// however many have come and gone.
class StableIds {
public:
    uint32_t service(const ServiceKey& key);
    uint32_t real_server(const RealServerKey& key);

    // The ids already given, without giving new ones.
    std::optional<uint32_t> find_service(const ServiceKey& key) const;
    std::optional<uint32_t> find_real_server(const RealServerKey& key) const;

    struct Released {
        std::vector<uint32_t> services;
        std::vector<uint32_t> real_servers;
    };
    // Gives back the ids of real servers `running` (sorry servers included) does not have and
    // `referenced(id)` says no connection uses, then of services `running` does not have and
    // that have no real server id left. `running` must be what every worker already uses (the
    // snapshot built from it published), so that nothing new can refer to what is given back.
    Released release(const Config& running, const std::function<bool(uint32_t real_server_id)>& referenced);

    // What the kernel's destination list keeps of a real server, which ip_vs_mh builds its table
    // from: its last_weight (the latest non-zero weight, or the weight it was added with) and
    // when it was added (the kernel's list is newest first). A server counts as added when it
    // enters what is published, so one a health check removed and brought back, or a reload or
    // the console added, is newest, as when keepalived or ipvsadm adds it to the kernel's list.
    struct History {
        uint32_t last_weight = 0;
        uint64_t added = 0;
    };
    // While a snapshot is built: the history of `key`, published now with `weight`, also
    // written to `next`. Servers are met in list order, so those added together keep that order.
    History history(const RealServerKey& key, uint32_t weight, std::map<RealServerKey, History>& next);
    // Once that snapshot is built: `next` is what the following build starts from. A build that
    // fails leaves the history as it was, as a refused command leaves the kernel's list.
    void remember(std::map<RealServerKey, History> next) { history_ = std::move(next); }

    // Every id given so far is below these.
    uint32_t service_id_bound() const { return next_service_; }
    uint32_t real_server_id_bound() const { return next_real_server_; }

private:
    static uint32_t take(std::set<uint32_t>& free, uint32_t& next);

    std::map<ServiceKey, uint32_t> services_;
    std::map<RealServerKey, uint32_t> real_servers_;
    std::set<uint32_t> free_services_, free_real_servers_;
    std::map<RealServerKey, History> history_;
    uint64_t additions_ = 0;
    uint32_t next_service_ = 0;
    uint32_t next_real_server_ = 0;
};

// The DPDK port id of each configured interface, in config order.
using InterfacePorts = std::map<std::string, uint16_t>;

struct SnapshotResult {
    std::unique_ptr<dataplane::ServiceSnapshot> snapshot;
    std::string error;  // set when snapshot is null: what DPDK refused
};

// The addresses each configured interface's kernel interface holds (by interface name), as the
// kernel reports them: under vip_ownership kernel, the VIPs served and the addresses answered for.
using KernelAddresses = std::map<std::string, std::vector<IpAddress>>;

SnapshotResult build_snapshot(const Config& config, const InterfacePorts& ports, StableIds& ids,
                              uint64_t generation, const KernelAddresses& kernel_addresses = {});

}  // namespace fulcrum::control
