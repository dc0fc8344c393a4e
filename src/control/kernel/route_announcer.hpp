// Route health injection: a host route for each available VIP (/32 or /128, IPv4 and IPv6 alike)
// in a routing table of the director's own network namespace, for a routing daemon to announce (BIRD learns the table and
// exports it by BGP; docs/ecmp.md). A route goes when its VIP stops being available or the
// director stops; when the director dies, the kernel removes it with the TAP it goes over.
#pragma once

#include <cstdint>
#include <functional>
#include <set>
#include <string>

#include "common/types.hpp"

namespace fulcrum::control {

class RouteAnnouncer {
public:
    // Puts (present) or removes a host route; "" or what the kernel refused. kernel_host_route
    // by default; the tests put their own.
    using RouteChange = std::function<std::string(const IpAddress& vip, uint32_t table, const std::string& interface, bool present)>;
    explicit RouteAnnouncer(RouteChange change = {});

    // Where the routes go: `table` over kernel interface `interface`; table 0 announces nothing.
    // A change moves every route there. Returns what the kernel refused ("" if nothing).
    std::string configure(uint32_t table, const std::string& interface);
    // A VIP became available or unavailable. Returns what the kernel refused ("" if nothing).
    std::string set_available(const IpAddress& vip, bool available);
    // Tries again what the kernel refused earlier (the control loop calls it every 2 s);
    // returns what it still refuses.
    std::string retry();
    // Takes every route away (the director stops) and forgets the VIPs; returns what the kernel
    // refused ("" if nothing).
    std::string withdraw_all();

    struct Route {
        IpAddress vip;
        uint32_t table = 0;
        std::string interface;
        auto operator<=>(const Route&) const = default;
    };
    // The routes the kernel has now (some may be left in an old table the kernel refused to
    // delete them from, until retry() does).
    const std::set<Route>& installed() const { return installed_; }
    // Whether the kernel has `vip`'s route where it belongs.
    bool announced(const IpAddress& vip) const { return installed_.count({vip, table_, interface_}) != 0; }
    uint32_t table() const { return table_; }
    const std::string& interface() const { return interface_; }

private:
    std::string converge();

    RouteChange change_;
    uint32_t table_ = 0;
    std::string interface_;
    std::set<IpAddress> wanted_;  // available VIPs
    std::set<Route> installed_;   // what the kernel has
};

}  // namespace fulcrum::control
