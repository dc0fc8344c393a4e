#include "control/kernel/route_announcer.hpp"

#include "control/kernel/kernel_interface.hpp"

namespace fulcrum::control {

RouteAnnouncer::RouteAnnouncer(RouteChange change) : change_(change ? std::move(change) : RouteChange(kernel_host_route)) {}

std::string RouteAnnouncer::configure(uint32_t table, const std::string& interface)
{
    table_ = table;
    interface_ = interface;
    return converge();
}

std::string RouteAnnouncer::set_available(const IpAddress& vip, bool available)
{
    if (available)
        wanted_.insert(vip);
    else
        wanted_.erase(vip);
    return converge();
}

std::string RouteAnnouncer::retry() { return converge(); }

std::string RouteAnnouncer::withdraw_all()
{
    wanted_.clear();
    return converge();
}

// Every route the kernel has that is not wanted where it is goes first, then every wanted one
// that is missing is added: after a move of table or interface, BIRD briefly announces none of
// them rather than two paths it would not tell apart.
std::string RouteAnnouncer::converge()
{
    std::string problems;
    auto note = [&](const std::string& e) {
        if (!e.empty()) problems += (problems.empty() ? "" : "; ") + e;
    };
    for (auto it = installed_.begin(); it != installed_.end();) {
        const bool belongs = table_ != 0 && it->table == table_ && it->interface == interface_ && wanted_.count(it->vip) != 0;
        if (belongs) {
            ++it;
            continue;
        }
        const std::string e = change_(it->vip, it->table, it->interface, false);
        note(e);
        it = e.empty() ? installed_.erase(it) : std::next(it);
    }
    if (table_ == 0) return problems;
    for (const IpAddress& vip : wanted_) {
        const Route route{vip, table_, interface_};
        if (installed_.count(route) != 0) continue;
        const std::string e = change_(vip, table_, interface_, true);
        note(e);
        if (e.empty()) installed_.insert(route);
    }
    return problems;
}

}  // namespace fulcrum::control
