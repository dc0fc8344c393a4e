// Tables in the layouts of ipvsadm (-L -n, --stats, --rate, -c, --timeout, -S), from ipvsadm's own
// format strings, so an operator can compare the two line by line. Pure text: no DPDK, no I/O.
//
// Order: services by (protocol, address, port), real servers by (address, port), as ipvsadm sorts
// with ipvs_cmp_services / ipvs_cmp_dests. (Those compare addresses by subtracting them into an
// int, which wraps for addresses 2^31 or more apart, 10.0.0.1 and 198.18.0.1 say, where
// ipvsadm's order is then not even consistent; here it is always the numeric order, which agrees
// with ipvsadm's wherever that is well defined.)
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "control/config/config.hpp"
#include "control/frontends/control_api.hpp"

namespace fulcrum::control {

struct RealServerCounts {
    uint32_t active = 0;    // ActiveConn: ESTABLISHED connections
    uint32_t inactive = 0;  // InActConn: every other state
};

// Connection counts of one real server of one service.
using CountsLookup = std::function<RealServerCounts(const ServiceConfig&, const RealServerConfig&)>;

// `ipvsadm -L -n` of a configuration: the title line with `table_size`, the two header lines,
// then each service and its real servers.
std::string format_ipvsadm_list(const Config& config, uint32_t table_size, const CountsLookup& counts);

enum class IpvsadmTable {
    list,   // ipvsadm -L -n: scheduler, flags, persistence; Forward Weight ActiveConn InActConn
    stats,  // ipvsadm -L -n --stats: Conns InPkts OutPkts InBytes OutBytes
    rate,   // ipvsadm -L -n --rate: CPS InPPS OutPPS InBPS OutBPS
    thresholds,  // ipvsadm -L -n --thresholds: Uthreshold Lthreshold ActiveConn InActConn
    persistent_conn,  // ipvsadm -L -n --persistent-conn: Weight PersistConn ActiveConn InActConn
};

struct IpvsadmOptions {
    IpvsadmTable table = IpvsadmTable::list;
    bool exact = false;         // --exact: numbers in full instead of K/M/G/T (stats and rate)
    bool version_line = true;   // false as `ipvsadm -L -t VIP:PORT`, which prints no title line
    bool sorted = true;         // false as --nosort: services and real servers in the order given
};

// The same tables from the director's live status (ServiceStatus::real_servers, not
// ServiceStatus::config.real_servers, supplies the real servers).
std::string format_ipvsadm_table(const std::vector<ServiceStatus>& services, uint32_t table_size,
                                 const IpvsadmOptions& options = {});

// ipvsadm's print_largenum: 9 characters, right-aligned; from 10^8 on, a unit in the last column
// (K below 10^9, M below 10^11, G below 10^14, T beyond), the number divided and truncated.
// `exact` prints the number whole, in 9 characters or one more than its digits.
std::string format_ipvsadm_number(uint64_t n, bool exact = false);

// `ipvsadm -L -n -c`: "IPVS connection entries", the header, then one line per row, in the order
// given; expiry as mm:ss (minutes may exceed 99).
std::string format_ipvsadm_connections(const std::vector<ConnectionRow>& rows);
// The rows alone, for an answer given in pages.
std::string format_ipvsadm_connection_rows(const std::vector<ConnectionRow>& rows);

// `ipvsadm -L --timeout`: "Timeout (tcp tcpfin udp): 900 120 300".
std::string format_ipvsadm_timeouts(const dataplane::ConnTimeouts& timeouts);

// ipvsadm -L --daemon (1.31, from what a current kernel reports): a line per running daemon,
// master first, "master sync daemon (mcast=fl-int, syncid=0, maxlen=1472, group=224.0.0.81,
// port=8848, ttl=1)"; `kernel_interface` is what mcast= names. Empty when sync is off.
std::string format_ipvsadm_daemons(const SyncConfig& sync, std::string_view kernel_interface);

// `ipvsadm -S -n`: the rules that rebuild the table ("-A -t VIP:PORT -s SCHED -p T -M MASK -b FLAGS",
// "-a -t VIP:PORT -r RIP:PORT -m -w W"), as ipvsadm 1.31 writes them: without thresholds
// (-x, -y), which ipvsadm's save leaves out.
std::string format_ipvsadm_rules(const std::vector<ServiceStatus>& services);

// "255.255.255.0" for 24.
std::string format_netmask(uint8_t prefix_length);

}  // namespace fulcrum::control
