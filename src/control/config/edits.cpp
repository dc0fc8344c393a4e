#include "control/config/edits.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace fulcrum::control {

namespace {

// The service and, within it, the real server `key` names; a message when either is missing.
struct Found {
    ServiceConfig* service = nullptr;
    std::vector<RealServerConfig>::iterator real_server;
    std::string problem;
};

Found find(Config& config, const RealServerKey& key)
{
    Found f;
    f.service = find_service(config, key.service);
    if (f.service == nullptr) {
        f.problem = "no service " + service_name(key.service);
        return f;
    }
    f.real_server = std::find_if(f.service->real_servers.begin(), f.service->real_servers.end(),
                                 [&](const RealServerConfig& rs) { return rs.address == key.address && rs.port == key.port; });
    if (f.real_server == f.service->real_servers.end())
        f.problem = fmt::format("{} has no real server {}", service_name(key.service), format_endpoint(key.address, key.port));
    return f;
}

void apply_settings(ServiceConfig& s, const ServiceSettings& settings)
{
    s.scheduler = settings.scheduler;
    s.scheduler_flags = settings.scheduler_flags;
    s.persistence = settings.persistence;
    s.persistence_netmask = settings.persistence_netmask;
}

void apply_settings(RealServerConfig& rs, const ServiceConfig& service, const RealServerSettings& settings)
{
    rs.weight = settings.weight;
    rs.forward = settings.forward.value_or(service.forward);
    rs.upper_threshold = settings.upper_threshold;
    rs.lower_threshold = settings.lower_threshold;
}

}  // namespace

ServiceConfig* find_service(Config& config, const ServiceKey& key)
{
    for (ServiceConfig& s : config.services)
        if (s.key() == key) return &s;
    return nullptr;
}

const ServiceConfig* find_service(const Config& config, const ServiceKey& key)
{
    return find_service(const_cast<Config&>(config), key);
}

std::string service_name(const ServiceKey& key)
{
    return fmt::format("{} {}", protocol_name(key.protocol), format_endpoint(key.vip, key.port));
}

std::string add_service(Config& config, const ServiceKey& key, const ServiceSettings& settings)
{
    if (find_service(config, key) != nullptr) return fmt::format("service {} already exists", service_name(key));
    if (!key.vip.is_ipv4()) return fmt::format("service {}: IPv6 is not supported yet", service_name(key));
    ServiceConfig s;
    s.vip = key.vip.ipv4();
    s.port = key.port;
    s.protocol = key.protocol;
    apply_settings(s, settings);
    config.services.push_back(std::move(s));
    return {};
}

std::string edit_service(Config& config, const ServiceKey& key, const ServiceSettings& settings)
{
    ServiceConfig* s = find_service(config, key);
    if (s == nullptr) return "no service " + service_name(key);
    apply_settings(*s, settings);
    return {};
}

std::string delete_service(Config& config, const ServiceKey& key)
{
    ServiceConfig* s = find_service(config, key);
    if (s == nullptr) return "no service " + service_name(key);
    config.services.erase(config.services.begin() + (s - config.services.data()));
    return {};
}

std::string add_real_server(Config& config, const RealServerKey& key, const RealServerSettings& settings)
{
    Found f = find(config, key);
    if (f.service == nullptr) return f.problem;
    if (f.problem.empty())
        return fmt::format("{} already has real server {}", service_name(key.service), format_endpoint(key.address, key.port));
    if (!key.address.is_ipv4())
        return fmt::format("real server {}: IPv6 is not supported yet", format_endpoint(key.address, key.port));
    RealServerConfig rs;
    rs.address = key.address.ipv4();
    rs.port = key.port;
    apply_settings(rs, *f.service, settings);
    rs.health_check = f.service->health_check;
    f.service->real_servers.push_back(rs);
    return {};
}

std::string edit_real_server(Config& config, const RealServerKey& key, const RealServerSettings& settings)
{
    Found f = find(config, key);
    if (!f.problem.empty()) return f.problem;
    apply_settings(*f.real_server, *f.service, settings);
    return {};
}

std::string delete_real_server(Config& config, const RealServerKey& key)
{
    Found f = find(config, key);
    if (!f.problem.empty()) return f.problem;
    f.service->real_servers.erase(f.real_server);
    return {};
}

std::string set_weight(Config& config, const RealServerKey& key, uint32_t weight)
{
    Found f = find(config, key);
    if (!f.problem.empty()) return f.problem;
    f.real_server->weight = weight;
    return {};
}

}  // namespace fulcrum::control
