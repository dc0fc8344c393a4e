// The edits a front end makes to a configuration (the console's `set weight`, its ipvsadm
// commands, and whatever comes next), as pure functions on a Config. Each returns "" once it
// has changed `config`, or says why it cannot ("no service tcp 198.18.0.100:80") and changes
// nothing; the front end prefixes its own command and passes the result to ControlApi::apply,
// which checks it as it checks a file.
#pragma once

#include <optional>
#include <string>

#include "control/config/config.hpp"

namespace fulcrum::control {

ServiceConfig* find_service(Config& config, const ServiceKey& key);
const ServiceConfig* find_service(const Config& config, const ServiceKey& key);

// "tcp 198.18.0.100:80", as the edits' messages name a service.
std::string service_name(const ServiceKey& key);

// What ipvsadm -A and -E set; -E, as ipvsadm, sets all of it (what is not given is the default).
struct ServiceSettings {
    std::string scheduler = "wlc";
    sched::Flags scheduler_flags;
    uint32_t persistence = 0;
    // A prefix length within the service's family; not given: the family's full length (32, 128).
    std::optional<uint8_t> persistence_netmask;
};

// What ipvsadm -a and -e set; -e, as ipvsadm, sets all of it. Without `forward`, the service's
// method (the configuration file's rule; ipvsadm's own default would be -g).
// The real server's family must be its service's unless it is tunnelled (as IPVS and the checker).
struct RealServerSettings {
    uint32_t weight = 1;
    std::optional<ForwardMethod> forward;
    uint32_t upper_threshold = 0;
    uint32_t lower_threshold = 0;
};

std::string add_service(Config& config, const ServiceKey& key, const ServiceSettings& settings);
std::string edit_service(Config& config, const ServiceKey& key, const ServiceSettings& settings);
std::string delete_service(Config& config, const ServiceKey& key);
// A new real server is health-checked as its service's others are.
std::string add_real_server(Config& config, const RealServerKey& key, const RealServerSettings& settings);
std::string edit_real_server(Config& config, const RealServerKey& key, const RealServerSettings& settings);
std::string delete_real_server(Config& config, const RealServerKey& key);
std::string set_weight(Config& config, const RealServerKey& key, uint32_t weight);

// What ipvsadm --start-daemon sets. `interface` names a configured interface or its kernel
// interface (ipvsadm's --mcast-interface names the kernel's); what is not given keeps the
// configuration's value, or the default when sync was off.
struct SyncDaemonSettings {
    std::string interface;
    std::optional<uint8_t> syncid;
    std::optional<Ipv4> group;
    std::optional<uint16_t> port;
    std::optional<uint8_t> ttl;
    std::optional<uint16_t> max_length;
};
// `master`: the master daemon, else the backup one. Master and backup share the interface and
// the other settings: starting one while the other runs with different ones is refused.
std::string start_sync_daemon(Config& config, bool master, const SyncDaemonSettings& settings);
std::string stop_sync_daemon(Config& config, bool master);

}  // namespace fulcrum::control
