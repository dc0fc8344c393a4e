// What is published, as a pure function: the configuration with the health checks' verdicts
// applied (as ldirectord edits IPVS's table) and sorry servers standing in for services that
// have no real server up.
#pragma once

#include <functional>

#include "control/config/config.hpp"

namespace fulcrum::control {

// Whether a real server's checks say it is up (a server without checks is always up).
using IsUp = std::function<bool(const RealServerKey&)>;

// `config` as the workers schedule it: a real server that is down leaves its service, or stays
// at weight 0 when its check says on_failure: quiesce (ldirectord's quiescent); a service none
// of whose real servers is up gets its sorry server as its one real server, by NAT, weight 1.
Config effective_config(const Config& config, const IsUp& is_up);

// Whether `s` has a sorry server and none of its real servers is up.
bool sorry_server_active(const ServiceConfig& s, const IsUp& is_up);

// `config` with every sorry server among its service's real servers, whether active or not:
// everything a counter or an id may belong to.
Config with_sorry_servers(const Config& config);

}  // namespace fulcrum::control
