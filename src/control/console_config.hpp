// The running configuration as YAML (the console's `show config`), and a check of a Config built in
// memory by the same checker that reads files. No DPDK.
#pragma once

#include <string>
#include <vector>

#include "control/config.hpp"

namespace fulcrum::control {

// YAML in the layout of docs/configuration.md that parse_config reads back to an equal Config
// (every field but source_file). Keys at their default are left out where the documentation
// calls them optional (an interface's mtu 1500 and queues, a real server's port when it is the
// virtual port and its forward when it is the service's, thresholds 0, persistence 0, netmask
// 32, no scheduler flags, the default mh_table_size, and the TCP state timeouts other than
// tcp and tcp_fin while they keep IPVS's defaults); dataplane, tcp, tcp_fin and udp are always
// written.
std::string format_config_yaml(const Config& config);

// Every problem the file checker (parse_config) finds in `config`, in configuration order, as
// "PATH: MESSAGE" (services[0].real_servers[1].port: real server port 8080 differs ...): the
// line and column would point into generated text, so they are left out. Empty when valid.
// Use before publishing a Config that did not come from a file (the console's edits).
std::vector<std::string> check_config(const Config& config);

}  // namespace fulcrum::control
