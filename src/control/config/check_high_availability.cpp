// high_availability:, sync: and announce:, and their cross-checks against the interfaces.
#include "control/config/checker.hpp"
#include "common/text.hpp"
#include "control/config/limits.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace fulcrum::control::checking {

void Checker::check_high_availability(const Item& item)
{
    auto m = mapping(item, high_availability_spec, true);
    if (!m) return;
    if (auto* o = m->find("vip_ownership")) {
        if (auto i = choice(*o, "vip_ownership", vip_ownership_names)) {
            config_.high_availability.vip_ownership = static_cast<VipOwnership>(*i);
            vip_ownership_item_ = *o;
        }
    }
}

void Checker::check_sync(const Item& item)
{
    auto m = mapping(item, sync_spec, false);
    if (!m) return;
    SyncConfig& sync = config_.sync;
    if (auto* r = m->find("role")) {
        if (auto i = choice(*r, "sync role", sync_role_names)) {
            sync.master = *i != 1;  // master or both
            sync.backup = *i != 0;  // backup or both
        }
    }
    if (auto* i = m->find("interface")) {
        if (auto s = string(*i, "the name of an interface")) {
            sync.interface = *s;
            sync_interface_item_ = *i;
        }
    }
    if (auto* x = m->find("syncid"))
        if (auto v = integer(*x, 0, 255)) sync.syncid = static_cast<uint8_t>(*v);
    if (auto* g = m->find("group")) {
        if (auto ip = ipv4_address(*g)) {
            if (is_ipv4_multicast(*ip))
                sync.group = *ip;
            else
                expected(*g, "an IPv4 multicast address (224.0.0.0/4), like 224.0.0.81", format_ipv4(*ip));
        }
    }
    if (auto* p = m->find("port"))
        if (auto v = integer(*p, 1, limits::max_port)) sync.port = static_cast<uint16_t>(*v);
    if (auto* t = m->find("ttl"))
        if (auto v = integer(*t, 1, 255)) sync.ttl = static_cast<uint8_t>(*v);
    if (auto* l = m->find("max_length")) {
        if (auto v = integer(*l, limits::min_sync_length, limits::max_sync_length)) {
            sync.max_length = static_cast<uint16_t>(*v);
            sync_length_item_ = *l;
        }
    }
    if (auto* f = m->find("full_refresh"))
        if (auto v = integer(*f, 0, limits::max_full_refresh)) sync.full_refresh = static_cast<uint32_t>(*v);
}

// Sync and VRRP speak through the kernel interfaces: the interface sync names must have one,
// and one frame of it must carry a whole datagram (IP and UDP headers take 28 bytes).
void Checker::check_sync_interface()
{
    if (!interfaces_clean_) return;
    if (vip_ownership_item_ && config_.high_availability.vip_ownership == VipOwnership::kernel) {
        bool any = false;
        for (const InterfaceConfig& ic : config_.interfaces) any = any || !ic.kernel_interface.empty();
        if (!any)
            report(*vip_ownership_item_, "vip_ownership kernel follows the addresses of the kernel interfaces, and "
                                         "every interface has kernel_interface: false");
    }
    if (!sync_interface_item_) return;
    const SyncConfig& sync = config_.sync;
    const InterfaceConfig* iface =
        interface_with_kernel(*sync_interface_item_, sync.interface, "sync is sent and received by the kernel interface");
    if (iface == nullptr) return;
    const unsigned carried = sync_length_carried(iface->mtu);
    if (!sync_length_item_) config_.sync.max_length = default_sync_length(iface->mtu);
    else if (sync.max_length > carried)
        report(*sync_length_item_, fmt::format("{} bytes do not fit one frame of interface {} (MTU {}): at most {}",
                                               sync.max_length, iface->name, iface->mtu, carried));
}

const InterfaceConfig* Checker::interface_with_kernel(const Item& item, const std::string& name, std::string_view what)
{
    for (const InterfaceConfig& ic : config_.interfaces) {
        if (ic.name != name) continue;
        if (!ic.kernel_interface.empty()) return &ic;
        report(item, fmt::format("interface {} has kernel_interface: false; {}", ic.name, what));
        return nullptr;
    }
    std::vector<std::string_view> names;
    for (const InterfaceConfig& ic : config_.interfaces) names.push_back(ic.name);
    report(item, fmt::format("unknown interface {} (interfaces: {})", quote(name), join(names, ", ")));
    return nullptr;
}

void Checker::check_announce(const Item& item)
{
    auto m = mapping(item, announce_spec, false);
    if (!m) return;
    announce_item_ = item;
    AnnounceConfig& announce = config_.announce;
    if (auto* t = m->find("table")) {
        // 253, 254 and 255 are the kernel's default, main and local tables; 0 is none.
        if (auto v = integer(*t, 1, UINT32_MAX, "a routing table number from 1 to 4294967295, other than 253, 254 "
                                                "and 255 (the kernel's own), like 100")) {
            if (*v >= 253 && *v <= 255)
                expected(*t, "a routing table of the director's own, not 253 (default), 254 (main) or 255 (local)",
                         std::to_string(*v));
            else
                announce.table = static_cast<uint32_t>(*v);
        }
    }
    if (auto* q = m->find("quorum"))
        if (auto v = integer(*q, 1, limits::max_quorum)) announce.quorum = static_cast<uint32_t>(*v);
    if (auto* i = m->find("interface")) {
        if (auto s = string(*i, "the name of an interface")) {
            announce.interface = *s;
            announce_interface_item_ = *i;
        }
    }
}

// The routes go over a kernel interface: the one of the interface named, or of the first that
// has one.
void Checker::check_announce_interface()
{
    if (!interfaces_clean_ || !announce_item_ || !config_.announce.enabled()) return;
    const InterfaceConfig* iface = nullptr;
    if (announce_interface_item_) {
        iface = interface_with_kernel(*announce_interface_item_, config_.announce.interface,
                                      "the announced routes go over the kernel interface");
    } else {
        for (const InterfaceConfig& ic : config_.interfaces) {
            if (ic.kernel_interface.empty()) continue;
            config_.announce.interface = ic.name;
            iface = &ic;
            break;
        }
        if (iface == nullptr)
            report(*announce_item_, "announce puts its routes over a kernel interface, and every interface has "
                                    "kernel_interface: false");
    }
    if (iface == nullptr) return;
    // The kernel refuses an IPv6 route over an interface whose IPv6 is off (EACCES), and the
    // director turns it off on a kernel interface whose interface has no IPv6 address: an IPv6
    // VIP would never be announced, its route refused every 2 s.
    const auto ipv6_vip = std::find_if(config_.services.begin(), config_.services.end(),
                                       [](const ServiceConfig& s) { return s.vip.is_ipv6(); });
    const bool has_ipv6 = std::any_of(iface->addresses.begin(), iface->addresses.end(),
                                      [](const IpPrefix& p) { return p.address.is_ipv6(); });
    if (ipv6_vip != config_.services.end() && !has_ipv6)
        report(announce_interface_item_ ? *announce_interface_item_ : *announce_item_,
               fmt::format("the route to IPv6 VIP {} needs IPv6 on kernel interface {}, and interface {} has no "
                           "IPv6 address (the director keeps IPv6 off there): give it one, or announce over an "
                           "interface that has one",
                           format_ip(ipv6_vip->vip), iface->kernel_interface, iface->name));
}

}  // namespace fulcrum::control::checking

namespace fulcrum::control {

std::string_view vip_ownership_name(VipOwnership ownership)
{
    return checking::vip_ownership_names[static_cast<size_t>(ownership)];
}

std::string_view sync_role_name(const SyncConfig& sync)
{
    if (sync.master && sync.backup) return checking::sync_role_names[2];
    if (sync.master) return checking::sync_role_names[0];
    if (sync.backup) return checking::sync_role_names[1];
    return {};
}

}  // namespace fulcrum::control
