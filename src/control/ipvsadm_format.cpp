#include "control/ipvsadm_format.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <tuple>
#include <vector>

namespace fulcrum::control {

std::string format_ipvsadm_list(const Config& config, uint32_t table_size, const CountsLookup& counts)
{
    std::string out = fmt::format("IP Virtual Server version 1.2.1 (size={})\n", table_size);
    out += "Prot LocalAddress:Port Scheduler Flags\n";
    out += "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n";

    std::vector<const ServiceConfig*> services;
    for (const ServiceConfig& s : config.services) services.push_back(&s);
    std::sort(services.begin(), services.end(), [](const ServiceConfig* a, const ServiceConfig* b) {
        return std::tuple(a->protocol, a->vip, a->port) < std::tuple(b->protocol, b->vip, b->port);
    });
    for (const ServiceConfig* s : services) {
        // ipvsadm: sprintf(svc_name, "%s  %s", proto, vname); printf("%s %s", svc_name, sched)
        out += fmt::format("{}  {}:{} {}\n", s->protocol == Protocol::tcp ? "TCP" : "UDP",
                           format_ipv4(s->vip), s->port, s->scheduler);
        std::vector<const RealServerConfig*> real_servers;
        for (const RealServerConfig& rs : s->real_servers) real_servers.push_back(&rs);
        std::sort(real_servers.begin(), real_servers.end(), [](auto* a, auto* b) {
            return std::tuple(a->address, a->port) < std::tuple(b->address, b->port);
        });
        for (const RealServerConfig* rs : real_servers) {
            const RealServerCounts c = counts(*s, *rs);
            std::string name = fmt::format("{}:{}", format_ipv4(rs->address), rs->port);
            name.resize(std::min<size_t>(name.size(), 28));  // ipvsadm cuts dname at 28
            out += fmt::format("  -> {:<28} {:<7} {:<6} {:<10} {:<10}\n", name,
                               ipvsadm_forward_name(rs->forward), rs->weight, c.active, c.inactive);
        }
    }
    return out;
}

}  // namespace fulcrum::control
