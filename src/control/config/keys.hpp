// The keys each kind of mapping accepts, in the order docs/configuration.md lists them, and the
// names the file uses for enumerations. Internal to the checker.
#pragma once

#include <array>
#include <span>
#include <string_view>

#include "common/tcp_state.hpp"

namespace fulcrum::control::checking {

// A mapping's keys, for "unknown key ... in service" and "missing required key ...".
struct MapSpec {
    std::string_view where;  // "in service": completes "unknown key ... / missing required key ..."
    std::span<const std::string_view> keys;
    std::span<const std::string_view> required;
};

inline constexpr std::array<std::string_view, 11> top_keys{"dataplane", "interfaces", "routes",  "neighbors",
                                                     "services",  "timeouts",   "console", "metrics",
                                                     "high_availability", "sync", "announce"};
inline constexpr std::array<std::string_view, 1> top_required{"interfaces"};
inline constexpr std::array<std::string_view, 15> dataplane_keys{
    "workers",    "eal",         "conn_table_size", "mbufs",      "expire_nodest_conn", "kernel_rate_limit",
    "drop_entry", "drop_packet", "secure_tcp",      "flood_mode", "amemthresh",         "am_droprate",
    "icmp_rate_limit", "sloppy_tcp", "conn_table_size_ipv6"};
inline constexpr std::array<std::string_view, 1> listen_keys{"listen"};
inline constexpr std::array<std::string_view, 4> console_keys{"socket", "group", "listen", "allow_remote"};
inline constexpr std::array<std::string_view, 7> interface_keys{"name", "device", "vlan", "address", "mtu", "queues",
                                                          "kernel_interface"};
inline constexpr std::array<std::string_view, 3> interface_required{"name", "device", "address"};
inline constexpr std::array<std::string_view, 3> route_keys{"dst", "via", "interface"};
inline constexpr std::array<std::string_view, 2> route_required{"dst", "via"};
inline constexpr std::array<std::string_view, 2> neighbor_keys{"ip", "mac"};
inline constexpr std::array<std::string_view, 2> neighbor_required{"ip", "mac"};
inline constexpr std::array<std::string_view, 14> service_keys{
    "vip",           "port",          "protocol",    "scheduler",           "forward",                  "real_servers",
    "scheduler_flags", "mh_table_size", "mh_compat", "persistence", "persistence_netmask",
    "expire_quiescent_template", "health_check",  "sorry_server"};
inline constexpr std::array<std::string_view, 3> service_required{"vip", "port", "protocol"};
inline constexpr std::array<std::string_view, 7> real_server_keys{"address", "port", "weight", "forward",
                                                           "upper_threshold", "lower_threshold", "health_check"};
inline constexpr std::array<std::string_view, 8> health_check_keys{"type", "port", "interval", "timeout",
                                                            "rise", "fall", "on_failure", "http"};
inline constexpr std::array<std::string_view, 4> http_check_keys{"path", "host", "expect_status", "expect_body"};
inline constexpr std::array<std::string_view, 2> sorry_server_keys{"address", "port"};
inline constexpr std::array<std::string_view, 1> sorry_server_required{"address"};
inline constexpr std::array<std::string_view, 1> real_server_required{"address"};
inline constexpr std::array<std::string_view, 1> high_availability_keys{"vip_ownership"};
inline constexpr std::array<std::string_view, 3> announce_keys{"table", "quorum", "interface"};
inline constexpr std::array<std::string_view, 1> announce_required{"table"};
inline constexpr std::array<std::string_view, 2> vip_ownership_names{"always", "kernel"};
inline constexpr std::array<std::string_view, 8> sync_keys{"role", "interface", "syncid", "group",
                                                       "port", "ttl",       "max_length", "full_refresh"};
inline constexpr std::array<std::string_view, 2> sync_required{"role", "interface"};
inline constexpr std::array<std::string_view, 3> sync_role_names{"master", "backup", "both"};
inline constexpr std::array<std::string_view, 3> health_check_type_names{"none", "tcp", "http"};
inline constexpr std::array<std::string_view, 2> on_failure_names{"remove", "quiesce"};
// tcp, tcp_fin, udp (ipvsadm --set), then every TCP state by its lower-case name.
inline const auto& timeout_keys = dataplane::timeout_key_names();

inline constexpr MapSpec top_spec{"at the top level", top_keys, top_required};
inline constexpr MapSpec dataplane_spec{"in dataplane", dataplane_keys, {}};
inline constexpr MapSpec console_spec{"in console", console_keys, {}};
inline constexpr MapSpec metrics_spec{"in metrics", listen_keys, {}};
inline constexpr MapSpec high_availability_spec{"in high_availability", high_availability_keys, {}};
inline constexpr MapSpec announce_spec{"in announce", announce_keys, announce_required};
inline constexpr MapSpec sync_spec{"in sync", sync_keys, sync_required};
inline constexpr MapSpec interface_spec{"in interface", interface_keys, interface_required};
inline constexpr MapSpec route_spec{"in route", route_keys, route_required};
inline constexpr MapSpec neighbor_spec{"in neighbor", neighbor_keys, neighbor_required};
inline constexpr MapSpec service_spec{"in service", service_keys, service_required};
inline constexpr MapSpec real_server_spec{"in real server", real_server_keys, real_server_required};
inline const MapSpec timeouts_spec{"in timeouts", timeout_keys, {}};
inline constexpr MapSpec health_check_spec{"in health_check", health_check_keys, {}};
inline constexpr MapSpec http_check_spec{"in health_check.http", http_check_keys, {}};
inline constexpr MapSpec sorry_server_spec{"in sorry_server", sorry_server_keys, sorry_server_required};

}  // namespace fulcrum::control::checking
