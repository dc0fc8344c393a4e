// The configuration checker: one Checker per file, whose sections are checked in their own files
// (check_dataplane, check_network, check_services, check_health) and whose reader is reader.cpp.
// Internal to src/control/config/; the rest of the program calls parse_config.
//
// The checker never stops at the first problem: each section is checked as far as it can be, the
// cross-checks (routes against connected subnets, real servers against routes) run only when the
// sections they depend on were clean, so that one typo does not cascade into a page of errors.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "control/config/config.hpp"
#include "control/config/reader.hpp"

namespace fulcrum::control::checking {

// Why an address cannot be a host's unicast address, or nullopt when it can. IPv6 link-local
// addresses are unicast; the callers that refuse them say why themselves.
std::optional<std::string_view> not_unicast(const IpAddress& ip);

// A subnet the director is attached to, and the interface it is on.
struct Connected {
    IpPrefix prefix;
    std::string interface;
};

class Checker {
public:
    Checker(std::string_view text, std::string file) : text_(text), file_(std::move(file)) {}

    ConfigResult run();

private:
    // --- reporting ---
    void report(const YAML::Mark& at, std::string message)
    {
        ConfigError e;
        e.file = file_;
        if (at.line >= 0 && at.column >= 0) {
            e.line = at.line + 1;
            e.column = at.column + 1;
        }
        e.message = std::move(message);
        errors_.push_back(std::move(e));
    }
    void report(const Item& at, std::string_view message) { report(at.mark, prefixed(at.path, message)); }
    void expected(const Item& item, std::string_view what)
    {
        report(item, fmt::format("expected {}, found {}", what, describe(item.node)));
    }
    void expected(const Item& item, std::string_view what, std::string_view found)
    {
        report(item, fmt::format("expected {}, found {}", what, found));
    }

    // --- structure ---
    YAML::Mark empty_value_mark(const YAML::Mark& m) const;
    Item child(const Item& parent, const YAML::Node& key, const YAML::Node& value, const std::string& name);
    Item element(const Item& list, const YAML::Node& node, size_t index);
    std::optional<Mapping> mapping(const Item& item, const MapSpec& spec, bool null_is_empty);
    std::optional<std::vector<Item>> list(const Item& item, std::string_view what, bool null_is_empty);

    // --- scalars ---
    std::optional<std::string> string(const Item& item, std::string_view what);
    std::optional<uint64_t> integer(const Item& item, uint64_t lo, uint64_t hi, std::string_view what = {});
    // A plain YAML true or false (not quoted, not tagged).
    std::optional<bool> boolean(const Item& item);
    std::optional<size_t> choice(const Item& item, std::string_view noun,
                                 std::span<const std::string_view> names);
    std::optional<IpAddress> address(const Item& item);
    std::optional<Ipv4> ipv4_address(const Item& item);
    // A unicast address of either family; an IPv6 link-local one only when `link_local` is set.
    std::optional<IpAddress> unicast_address(const Item& item, bool link_local = false);

    // --- sections ---
    void check_dataplane(const Item& item);
    bool listen_address(const Item& item, std::string& listen);
    void check_console(const Item& item);
    void check_metrics(const Item& item);
    void check_interfaces(const Item& item);
    void check_interface(const Item& item);
    void check_routes(const Item& item);
    void check_neighbors(const Item& item);
    void check_services(const Item& item);
    bool check_service(const Item& item);
    void check_real_server(const Item& item, ServiceConfig& svc, bool svc_forward_ok,
                           std::map<std::pair<IpAddress, uint16_t>, int>& seen);
    // ipvsadm -M: a prefix length within the service's family (or a dotted mask for IPv4).
    void check_persistence_netmask(const Item& item, ServiceConfig& svc);
    // Whether `ip` is of the service's family (true while its vip is unknown); reports at `item`
    // when not, naming `what` ("a sorry server").
    bool of_service_family(const Item& item, const IpAddress& ip, const ServiceConfig& svc, std::string_view what);
    void check_timeouts(const Item& item);
    void check_high_availability(const Item& item);
    void check_announce(const Item& item);
    void check_announce_interface();
    // The configured interface called `name` if it has a kernel interface; otherwise reports
    // at `item` why not (`what` says what needs the kernel interface) and returns nullptr.
    const InterfaceConfig* interface_with_kernel(const Item& item, const std::string& name, std::string_view what);
    void check_sync(const Item& item);
    void check_sync_interface();
    // `base` with the keys `item` gives applied over it (a real server's override of its service's).
    // `timeout_given`: whether a timeout was given (here or, for a real server, by its service).
    HealthCheckConfig check_health_check(const Item& item, const HealthCheckConfig& base, bool& timeout_given);
    void check_http_check(const Item& item, HttpCheckConfig& http);
    std::optional<std::vector<StatusRange>> status_ranges(const Item& item);
    std::optional<uint32_t> milliseconds(const Item& item, uint64_t lo, uint64_t hi);
    void check_sorry_servers();
    void check_kernel_interfaces();
    void check_health_paths();
    const InterfaceConfig* interface_reaching(const IpAddress& ip) const;
    void check_queue_pairs();
    void check_mh_table_sizes();

    // --- cross-checks ---
    // The connected subnets of `family` ("172.16.0.0/24 on int, ..."), of one interface when given.
    std::string connected_list(Family family, std::string_view only_interface = {}) const;
    std::optional<std::string> own_address(const IpAddress& ip) const;
    bool in_connected_subnet(const IpAddress& ip) const;
    bool reachable(const IpAddress& ip) const;

    std::string_view text_;
    std::string file_;
    std::vector<ConfigError> errors_;
    Config config_;

    // Cross-checks run only against complete data: a route's `interface` only when every interface
    // has a valid, unique name; subnet checks only when every interface address was read; the
    // reachability of real servers only when, in addition, every route's dst was read.
    bool names_complete_ = false;
    std::vector<std::pair<Item, size_t>> interface_devices_;  // each interface's device node and index
    std::vector<std::pair<Item, size_t>> mh_size_items_;      // each mh_table_size node and its service
    std::vector<std::pair<Item, size_t>> sorry_items_;        // each sorry_server address node and its service
    bool service_timeout_given_ = false;                      // the service being checked gave a check timeout
    bool service_vip_ok_ = false;                             // the service being checked has a valid vip
    std::vector<Item> interface_items_;                       // each interface's mapping
    bool interfaces_clean_ = false;                           // `interfaces` had no problem at all
    std::vector<std::pair<Item, IpAddress>> checked_real_servers_; // each health-checked real server
    std::optional<Item> sync_interface_item_;                 // sync.interface, checked against interfaces
    std::optional<Item> sync_length_item_;                    // sync.max_length, checked against its MTU
    std::optional<Item> vip_ownership_item_;
    std::optional<Item> announce_item_;            // announce:, and its interface when given
    std::optional<Item> announce_interface_item_;
    bool subnets_complete_ = false;
    bool routes_complete_ = false;
    std::vector<Connected> connected_;
    std::map<std::string, int> interface_names_;     // name → line
    std::map<std::string, int> devices_;             // device identity → line
    std::map<IpAddress, int> own_addresses_;         // interface address → line
};

}  // namespace fulcrum::control::checking
