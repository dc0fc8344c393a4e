// Route health injection: the director keeps a host route for each available VIP in the routing
// table `announce:` names, for BIRD to announce (docs/ecmp.md). The VIPs' availability comes
// from the director's events; this file only turns the configuration into the announcer's table
// and interface and reports what the kernel refused.
#include "control/director/director.hpp"

#include "control/log.hpp"

namespace fulcrum::control {

namespace {

// The kernel interface of the interface `announce:` names ("" when announce is off).
std::string announce_kernel_interface(const Config& config)
{
    for (const InterfaceConfig& iface : config.interfaces)
        if (iface.name == config.announce.interface) return iface.kernel_interface;
    return {};
}

}  // namespace

void Director::configure_announce(const Config& config)
{
    const std::string kernel_interface = announce_kernel_interface(config);
    const uint32_t before = announcer_.table();
    const std::string before_interface = announcer_.interface();
    note_announce_problem(announcer_.configure(config.announce.enabled() ? config.announce.table : 0, kernel_interface));
    if (before == announcer_.table() && before_interface == kernel_interface) return;
    if (config.announce.enabled())
        log::info("announce: available VIPs get a host route in table {} over {}", config.announce.table, kernel_interface);
    else
        log::info("announce: off; no VIP is announced");
}

AnnounceStatus Director::announce_status() const
{
    AnnounceStatus a;
    a.config = config_.announce;
    a.kernel_interface = announce_kernel_interface(config_);
    for (const auto& [vip, available] : vip_available_) a.vips.push_back({vip, available, announcer_.announced(vip)});
    a.problem = announce_problem_;
    return a;
}

void Director::note_announce_problem(const std::string& problem)
{
    if (problem == announce_problem_) return;
    if (!problem.empty())
        log::error("announce: {} (tried again every 2 s)", problem);
    else if (!announce_problem_.empty())
        log::info("announce: every route is where it belongs again");
    announce_problem_ = problem;
}

}  // namespace fulcrum::control
