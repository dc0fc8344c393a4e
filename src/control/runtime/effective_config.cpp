#include "control/runtime/effective_config.hpp"

#include <algorithm>

namespace fulcrum::control {

namespace {

RealServerConfig sorry_server_entry(const SorryServerConfig& sorry)
{
    RealServerConfig stand_in;
    stand_in.address = sorry.address;
    stand_in.port = sorry.port;
    stand_in.weight = 1;
    stand_in.forward = ForwardMethod::nat;
    return stand_in;
}

}  // namespace

bool sorry_server_active(const ServiceConfig& s, const IsUp& is_up)
{
    return s.sorry_server && std::none_of(s.real_servers.begin(), s.real_servers.end(),
                                          [&](const RealServerConfig& rs) { return is_up(key_of(s, rs)); });
}

Config effective_config(const Config& config, const IsUp& is_up)
{
    Config effective = config;
    for (ServiceConfig& s : effective.services) {
        const bool sorry = sorry_server_active(s, is_up);
        std::erase_if(s.real_servers, [&](RealServerConfig& rs) {
            if (is_up(key_of(s, rs))) return false;
            if (rs.health_check.on_failure == OnFailure::quiesce) {
                rs.weight = 0;
                return false;
            }
            return true;
        });
        if (sorry) s.real_servers.push_back(sorry_server_entry(*s.sorry_server));
    }
    return effective;
}

Config with_sorry_servers(const Config& config)
{
    Config all = config;
    for (ServiceConfig& s : all.services)
        if (s.sorry_server) s.real_servers.push_back(sorry_server_entry(*s.sorry_server));
    return all;
}

}  // namespace fulcrum::control
