#include "control/config/edits.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "common/text.hpp"

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

std::string apply_settings(ServiceConfig& s, const ServiceSettings& settings)
{
    const uint8_t full = full_length(s.vip.family());
    if (settings.persistence_netmask.value_or(full) > full)
        return fmt::format("service {}: persistence netmask /{} is longer than an {} address", service_name(s.key()),
                           *settings.persistence_netmask, family_name(s.vip.family()));
    s.scheduler = settings.scheduler;
    s.scheduler_flags = settings.scheduler_flags;
    s.persistence = settings.persistence;
    s.persistence_netmask = settings.persistence_netmask.value_or(full);
    return {};
}

// NAT rewrites the header and DR hands the frame over whole: only a tunnel carries a service of
// one family to a real server of the other, as IPVS allows.
std::string apply_settings(RealServerConfig& rs, const ServiceConfig& service, const RealServerSettings& settings)
{
    const ForwardMethod forward = settings.forward.value_or(service.forward);
    if (forward != ForwardMethod::tun && rs.address.family() != service.vip.family())
        return fmt::format("real server {}: {} forwarding needs an {} address, as the service's (only tun may mix "
                           "families)",
                           format_endpoint(rs.address, rs.port), forward_method_name(forward),
                           family_name(service.vip.family()));
    rs.weight = settings.weight;
    rs.forward = settings.forward.value_or(service.forward);
    rs.upper_threshold = settings.upper_threshold;
    rs.lower_threshold = settings.lower_threshold;
    return {};
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
    ServiceConfig s;
    s.vip = key.vip;
    s.port = key.port;
    s.protocol = key.protocol;
    if (std::string problem = apply_settings(s, settings); !problem.empty()) return problem;
    config.services.push_back(std::move(s));
    return {};
}

std::string edit_service(Config& config, const ServiceKey& key, const ServiceSettings& settings)
{
    ServiceConfig* s = find_service(config, key);
    if (s == nullptr) return "no service " + service_name(key);
    return apply_settings(*s, settings);
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
    RealServerConfig rs;
    rs.address = key.address;
    rs.port = key.port;
    if (std::string problem = apply_settings(rs, *f.service, settings); !problem.empty()) return problem;
    rs.health_check = f.service->health_check;
    f.service->real_servers.push_back(rs);
    return {};
}

std::string edit_real_server(Config& config, const RealServerKey& key, const RealServerSettings& settings)
{
    Found f = find(config, key);
    if (!f.problem.empty()) return f.problem;
    return apply_settings(*f.real_server, *f.service, settings);
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


std::string start_sync_daemon(Config& config, bool master, const SyncDaemonSettings& settings)
{
    const std::string_view role = master ? "master" : "backup";
    if (master ? config.sync.master : config.sync.backup) return fmt::format("the {} sync daemon is already running", role);
    const InterfaceConfig* iface = nullptr;
    for (const InterfaceConfig& i : config.interfaces)
        if (i.name == settings.interface || (!i.kernel_interface.empty() && i.kernel_interface == settings.interface)) iface = &i;
    if (iface == nullptr) return fmt::format("no interface or kernel interface {}", quote(settings.interface));
    SyncConfig next = config.sync.enabled() ? config.sync : SyncConfig{};
    next.interface = iface->name;
    // As the file: left out, what one frame of the interface carries.
    if (!config.sync.enabled()) next.max_length = default_sync_length(iface->mtu);
    if (settings.syncid) next.syncid = *settings.syncid;
    if (settings.group) next.group = *settings.group;
    if (settings.port) next.port = *settings.port;
    if (settings.ttl) next.ttl = *settings.ttl;
    if (settings.max_length) next.max_length = *settings.max_length;
    (master ? next.master : next.backup) = true;
    if (config.sync.enabled()) {
        SyncConfig running = config.sync;
        running.master = next.master;
        running.backup = next.backup;
        if (running != next)
            return fmt::format("the {} sync daemon runs on {} with sync id {}, group {}:{}, ttl {}, maxlen {}: master "
                               "and backup share them (stop it first to change them)",
                               master ? "backup" : "master", config.sync.interface, config.sync.syncid,
                               format_ipv4(config.sync.group), config.sync.port, config.sync.ttl, config.sync.max_length);
    }
    config.sync = next;
    return "";
}

std::string stop_sync_daemon(Config& config, bool master)
{
    bool& running = master ? config.sync.master : config.sync.backup;
    if (!running) return fmt::format("no {} sync daemon is running", master ? "master" : "backup");
    running = false;
    return "";
}

}  // namespace fulcrum::control
