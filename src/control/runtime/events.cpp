#include "control/runtime/events.hpp"

#include <algorithm>

namespace fulcrum::control {

std::map<Ipv4, bool> vip_availability(const Config& running, const Config& effective, uint32_t quorum)
{
    std::map<Ipv4, bool> out;
    // IPv4 VIPs only: the announcer's routes are IPv4 until the dataplane's IPv6 part lands.
    for (const ServiceConfig& s : running.services)
        if (s.vip.is_ipv4()) out.emplace(s.vip.ipv4(), false);
    for (const ServiceConfig& e : effective.services) {
        if (!e.vip.is_ipv4()) continue;
        const auto configured = std::find_if(running.services.begin(), running.services.end(), [&](const ServiceConfig& s) {
            return s.key() == e.key();
        });
        if (configured == running.services.end()) continue;
        uint32_t usable = 0;
        for (const RealServerConfig& rs : e.real_servers) {
            if (rs.weight == 0) continue;
            // A sorry server in `effective` is not one of the service's real servers.
            const bool real = std::any_of(configured->real_servers.begin(), configured->real_servers.end(),
                                          [&](const RealServerConfig& c) { return c.address == rs.address && c.port == rs.port; });
            if (real) ++usable;
        }
        if (usable >= quorum) out[e.vip.ipv4()] = true;
    }
    return out;
}

std::vector<VipAvailability> availability_changes(const std::map<Ipv4, bool>& before, const std::map<Ipv4, bool>& after)
{
    std::map<Ipv4, std::pair<bool, bool>> both;
    for (const auto& [vip, available] : before) both[vip].first = available;
    for (const auto& [vip, available] : after) both[vip].second = available;
    std::vector<VipAvailability> out;
    for (const auto& [vip, states] : both)
        if (states.first != states.second) out.push_back({vip, states.second});
    return out;
}

}  // namespace fulcrum::control
