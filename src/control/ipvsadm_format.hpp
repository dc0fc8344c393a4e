// The service table in the layout of `ipvsadm -L -n`, from ipvsadm's own format strings, so an
// operator can compare the two line by line.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "control/config.hpp"

namespace fulcrum::control {

struct RealServerCounts {
    uint32_t active = 0;    // ActiveConn: ESTABLISHED connections
    uint32_t inactive = 0;  // InActConn: every other state
};

// Connection counts of one real server of one service.
using CountsLookup = std::function<RealServerCounts(const ServiceConfig&, const RealServerConfig&)>;

// Services sorted as ipvsadm sorts them (protocol, address, port), real servers by address and
// port. `table_size` is the connection table size shown in the title line.
std::string format_ipvsadm_list(const Config& config, uint32_t table_size, const CountsLookup& counts);

}  // namespace fulcrum::control
