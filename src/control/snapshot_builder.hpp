// Turns a validated Config into the immutable ServiceSnapshot the workers read. Runs on the
// control core, off the fast path: everything the dataplane needs is computed here.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>

#include "control/config.hpp"
#include "dataplane/snapshot.hpp"

namespace fulcrum::control {

// Ids that stay the same for the same service or real server across every snapshot of this
// process, so that connections, counters and scheduler cursors survive a reload.
class StableIds {
public:
    uint32_t service(Protocol protocol, Ipv4 vip, uint16_t port);
    uint32_t real_server(uint32_t service_id, Ipv4 address, uint16_t port);

    // The ids already given, without giving new ones.
    std::optional<uint32_t> find_service(Protocol protocol, Ipv4 vip, uint16_t port) const;
    std::optional<uint32_t> find_real_server(uint32_t service_id, Ipv4 address, uint16_t port) const;

private:
    std::map<std::tuple<Protocol, Ipv4, uint16_t>, uint32_t> services_;
    std::map<std::tuple<uint32_t, Ipv4, uint16_t>, uint32_t> real_servers_;
    uint32_t next_service_ = 0;
    uint32_t next_real_server_ = 0;
};

// The DPDK port id of each configured interface, in config order.
using InterfacePorts = std::map<std::string, uint16_t>;

struct SnapshotResult {
    std::unique_ptr<dataplane::ServiceSnapshot> snapshot;
    std::string error;  // set when snapshot is null: what DPDK refused
};

SnapshotResult build_snapshot(const Config& config, const InterfacePorts& ports, StableIds& ids,
                              uint64_t generation);

}  // namespace fulcrum::control
