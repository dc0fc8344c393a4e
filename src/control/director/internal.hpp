// What the director's files share: conversions between the configuration's values and DPDK's.
#pragma once

#include <rte_errno.h>
#include <rte_ether.h>

#include <sys/types.h>

#include <algorithm>
#include <optional>
#include <string>

#include <fmt/format.h>

#include "control/config/config.hpp"

namespace fulcrum::control {

inline std::string dpdk_failure(const std::string& what) { return what + ": " + rte_strerror(rte_errno); }

inline rte_ether_addr to_ether(const MacAddress& mac)
{
    rte_ether_addr e;
    std::copy(mac.begin(), mac.end(), e.addr_bytes);
    return e;
}

inline MacAddress from_ether(const rte_ether_addr& e)
{
    MacAddress mac;
    std::copy(e.addr_bytes, e.addr_bytes + RTE_ETHER_ADDR_LEN, mac.begin());
    return mac;
}

// "TCP 198.18.0.100:80 real server 198.19.0.11:80", for the health checks' log lines.
inline std::string describe_target(const HealthTarget& t)
{
    return fmt::format("{} {} real server {}", protocol_label(t.service.protocol), format_endpoint(t.service.vip, t.service.port),
                       format_endpoint(t.address, t.port));
}

// The id of group `name` (console.group), or nullopt when the host has none by that name.
std::optional<gid_t> console_group_id(const std::string& name);

}  // namespace fulcrum::control
