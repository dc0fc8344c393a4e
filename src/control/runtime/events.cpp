#include "control/runtime/events.hpp"

#include <algorithm>

namespace fulcrum::control {

std::map<IpAddress, bool> vip_availability(const Config& running, const Config& effective, uint32_t quorum)
{
    std::map<IpAddress, bool> out;
    for (const ServiceConfig& s : running.services) out.emplace(s.vip, false);
    for (const ServiceConfig& e : effective.services) {
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
        if (usable >= quorum) out[e.vip] = true;
    }
    return out;
}

std::vector<VipAvailability> availability_changes(const std::map<IpAddress, bool>& before,
                                                  const std::map<IpAddress, bool>& after)
{
    std::map<IpAddress, std::pair<bool, bool>> both;
    for (const auto& [vip, available] : before) both[vip].first = available;
    for (const auto& [vip, available] : after) both[vip].second = available;
    std::vector<VipAvailability> out;
    for (const auto& [vip, states] : both)
        if (states.first != states.second) out.push_back({vip, states.second});
    return out;
}

}  // namespace fulcrum::control
