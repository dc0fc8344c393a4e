// interfaces:, routes: and neighbors:, and what the platform allows of them (DPDK ports, TAP and
// af_packet queues).
#include "control/config/checker.hpp"
#include "common/text.hpp"
#include "control/config/limits.hpp"

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>
#include <array>
#include <cstdlib>

namespace fulcrum::control::checking {

namespace {

bool valid_interface_name(std::string_view name)
{
    if (name.empty() || name.size() > limits::max_interface_name) return false;
    return std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '-';
    });
}

bool is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

// "DDDD:BB:DD.F" or "BB:DD.F" (hex; device <= 0x1f, function <= 7), normalised to the long form
// in lower case; nullopt when `text` is not a PCI address.
std::optional<std::string> normalise_pci(std::string_view text)
{
    std::string s(text);
    if (s.size() == 7) s = "0000:" + s;
    if (s.size() != 12 || s[4] != ':' || s[7] != ':' || s[10] != '.') return std::nullopt;
    constexpr std::array<size_t, 9> digits{0, 1, 2, 3, 5, 6, 8, 9, 11};
    for (size_t i : digits)
        if (!is_hex(s[i])) return std::nullopt;
    std::transform(s.begin(), s.end(), s.begin(),
                   [](char c) { return static_cast<char>(c >= 'A' && c <= 'F' ? c - 'A' + 'a' : c); });
    // Device numbers stop at 0x1f, functions at 7.
    if (s[8] > '1' || s[11] > '7') return std::nullopt;
    return s;
}

// The identity of a device for duplicate detection: EAL knows a vdev by its name (the text before
// the first ','), a PCI device by its address. nullopt when `spec` is neither.
std::optional<std::string> device_identity(std::string_view spec)
{
    const auto comma = spec.find(',');
    const std::string_view head = spec.substr(0, comma);
    const std::string_view args = comma == std::string_view::npos ? "" : spec.substr(comma + 1);
    if (comma != std::string_view::npos && args.empty()) return std::nullopt;
    if (std::any_of(args.begin(), args.end(), [](char c) { return c <= ' ' || c == 0x7f; }))
        return std::nullopt;
    if (auto pci = normalise_pci(head)) return pci;
    if (head.empty() || !((head[0] >= 'a' && head[0] <= 'z') || (head[0] >= 'A' && head[0] <= 'Z')))
        return std::nullopt;
    const bool name_ok = std::all_of(head.begin(), head.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    });
    if (!name_ok) return std::nullopt;
    return std::string(head);
}

// The subnet `p` is in, host bits cleared: "10.0.0.0/24".
std::string subnet_text(const IpPrefix& p) { return format_prefix(IpPrefix{p.network(), p.length}); }

// Why an interface's address is not a host's of its subnet ("network address"), or nullopt.
// IPv4: on a /31 or /32 every address is a host; below that the first and last are not. IPv6
// has no broadcast address, but the first of a subnet below /127 is its Subnet-Router anycast
// address (RFC 4291 section 2.6.1), which every router of the link answers.
std::optional<std::string_view> not_a_host(const IpPrefix& p)
{
    if (p.address.is_ipv6()) {
        if (p.length <= 126 && p.address == p.network()) return "Subnet-Router anycast address";
        return std::nullopt;
    }
    if (p.length > 30) return std::nullopt;
    const Ipv4 host_mask = ~uint32_t{0} >> p.length;
    const Ipv4 host = p.address.ipv4() & host_mask;
    if (host == 0) return "network address";
    if (host == host_mask) return "broadcast address";
    return std::nullopt;
}


}  // namespace

// --- cross-check helpers ---

std::string Checker::connected_list(Family family, std::string_view only_interface) const
{
    std::vector<std::string> subnets;  // two addresses in one subnet name it once
    for (const auto& c : connected_) {
        if (c.prefix.family() != family) continue;
        if (!only_interface.empty() && c.interface != only_interface) continue;
        std::string s = subnet_text(c.prefix);
        if (only_interface.empty()) s += " on " + c.interface;
        if (std::find(subnets.begin(), subnets.end(), s) == subnets.end()) subnets.push_back(std::move(s));
    }
    std::string out;
    for (const auto& s : subnets) out += (out.empty() ? "" : ", ") + s;
    return out.empty() ? fmt::format("no {} subnet is connected", family_name(family)) : out;
}

std::optional<std::string> Checker::own_address(const IpAddress& ip) const
{
    for (const auto& c : connected_)
        if (c.prefix.address == ip) return c.interface;
    return std::nullopt;
}

bool Checker::in_connected_subnet(const IpAddress& ip) const
{
    return std::any_of(connected_.begin(), connected_.end(),
                       [&ip](const Connected& c) { return c.prefix.contains(ip); });
}

bool Checker::reachable(const IpAddress& ip) const
{
    return in_connected_subnet(ip) ||
           std::any_of(config_.routes.begin(), config_.routes.end(),
                       [&ip](const RouteConfig& r) { return r.dst.contains(ip); });
}

void Checker::check_interfaces(const Item& item)
{
    if (item.node.IsSequence() && item.node.size() == 0) {
        expected(item, "a list of at least one interface");
        return;
    }
    auto items = list(item, "a list of at least one interface", false);
    if (!items) return;
    names_complete_ = subnets_complete_ = true;
    const size_t errors_before = errors_.size();
    for (const Item& i : *items) check_interface(i);
    interfaces_clean_ = errors_.size() == errors_before;
}

void Checker::check_interface(const Item& item)
{
    auto m = mapping(item, interface_spec, false);
    if (!m) {
        names_complete_ = subnets_complete_ = false;
        return;
    }
    InterfaceConfig ic;
    size_t errors_before = errors_.size();
    if (auto* n = m->find("name")) {
        constexpr std::string_view what = "a name of 1 to 15 letters, digits, '_' or '-'";
        if (auto s = string(*n, what)) {
            if (!valid_interface_name(*s)) {
                expected(*n, what);
            } else if (auto [it, fresh] = interface_names_.emplace(*s, line_of(n->mark)); !fresh) {
                report(*n, fmt::format("duplicate interface name {} (first defined at line {})", quote(*s), it->second));
            }
            ic.name = *s;
        }
    }
    const bool name_ok = !ic.name.empty() && errors_.size() == errors_before;
    if (!name_ok) names_complete_ = false;
    if (auto* v = m->find("vlan"))
        if (auto id = integer(*v, 1, 4094)) ic.vlan = static_cast<uint16_t>(*id);
    if (auto* d = m->find("device")) {
        constexpr std::string_view what =
            "a vdev specification (like \"net_af_packet0,iface=veth10\") or a PCI address (like \"0000:03:00.0\")";
        if (auto s = string(*d, what)) {
            if (auto id = device_identity(*s)) {
                // One interface per VLAN of a device, and one untagged.
                const std::string vlan = ic.vlan == 0 ? "" : fmt::format(" VLAN {}", ic.vlan);
                if (auto [it, fresh] = devices_.emplace(*id + vlan, line_of(d->mark)); !fresh)
                    report(*d, fmt::format("duplicate device {}{} (first defined at line {})", quote(*id), vlan,
                                           it->second));
                ic.device = *s;
            } else {
                expected(*d, what);
            }
        }
    }
    errors_before = errors_.size();
    if (auto* a = m->find("address")) {
        constexpr std::string_view what = "an IPv4 address with a prefix length from 1 to 32 (like 10.0.0.1/24) or an "
                                          "IPv6 one from 1 to 128 (like 2001:db8::1/64)";
        std::vector<Item> addrs;
        if (a->node.IsSequence()) {
            if (a->node.size() == 0) expected(*a, "at least one address");
            addrs = *list(*a, "", false);
        } else if (a->node.IsScalar()) {
            addrs.push_back(*a);
        } else {
            expected(*a, fmt::format("{}, or a list of them", what));
        }
        for (const Item& ai : addrs) {
            auto s = string(ai, what);
            if (!s) continue;
            auto p = parse_prefix(*s, false);
            if (!p || p->length == 0) {
                expected(ai, what);
                continue;
            }
            if (auto why = not_unicast(p->address)) {
                expected(ai, fmt::format("a unicast {} address", family_name(p->family())), fmt::format("{}, {}", quote(*s), *why));
                continue;
            }
            if (is_ipv6_link_local(p->address)) {
                expected(ai, "a global IPv6 address",
                         fmt::format("{}, a link-local address (the director derives its own from the port's MAC)", quote(*s)));
                continue;
            }
            if (auto why = not_a_host(*p)) {
                expected(ai, fmt::format("a host address in {}", subnet_text(*p)),
                         fmt::format("{}, the {} of that subnet", quote(*s), *why));
                continue;
            }
            if (auto [it, fresh] = own_addresses_.emplace(p->address, line_of(ai.mark)); !fresh) {
                report(ai, fmt::format("duplicate address {} (first defined at line {})", format_ip(p->address),
                                       it->second));
                continue;
            }
            ic.addresses.push_back(*p);
            connected_.push_back(Connected{*p, ic.name});
        }
    }
    if (ic.addresses.empty() || errors_.size() != errors_before) subnets_complete_ = false;
    if (auto* u = m->find("mtu"))
        if (auto v = integer(*u, limits::min_mtu, limits::max_mtu)) ic.mtu = static_cast<uint16_t>(*v);
    if (auto* q = m->find("queues"))
        if (auto v = integer(*q, 1, limits::max_workers)) ic.queues = static_cast<uint16_t>(*v);
    if (auto* k = m->find("kernel_interface")) {
        constexpr std::string_view what = "a kernel interface name of 1 to 15 letters, digits, '_' or '-', or false";
        const bool plain = k->node.IsScalar() && k->node.Tag() != "!";
        if (plain && k->node.Scalar() == "false") {
            ic.kernel_interface.clear();
        } else if (plain && k->node.Scalar() == "true") {
            expected(*k, what, "true (the interface is named fl-NAME unless another name is given)");
        } else if (auto s = string(*k, what); s && valid_interface_name(*s)) {
            ic.kernel_interface = *s;
        } else if (s) {
            expected(*k, what);
        }
    } else if (name_ok) {
        // A kernel name has at most 15 characters: a long interface name is cut, so that a file
        // written before the exception path existed still loads.
        ic.kernel_interface = "fl-" + ic.name.substr(0, limits::max_interface_name - 3);
    }
    if (!ic.kernel_interface.empty()) {
        const bool named = m->find("kernel_interface") != nullptr;
        for (const InterfaceConfig& other : config_.interfaces)
            if (other.kernel_interface == ic.kernel_interface)
                report(named ? *m->find("kernel_interface") : item,
                       fmt::format("kernel interface {} is also interface {}'s{}", quote(ic.kernel_interface), other.name,
                                   named ? "" : " (the default, from the first 12 characters of the name): set "
                                                "kernel_interface"));
    }
    if (auto* d = m->find("device")) {
        interface_devices_.push_back({*d, config_.interfaces.size()});
        // The VLANs of one device are one port: one set of device arguments, MTU and queues.
        for (const InterfaceConfig& other : config_.interfaces) {
            // The same VLAN twice is a duplicate device, said above.
            if (ic.device.empty() || other.vlan == ic.vlan || device_identity(other.device) != device_identity(ic.device))
                continue;
            if (other.device != ic.device)
                report(*d, fmt::format("device {} is interface {}'s too, as {}: the interfaces of one device give "
                                       "the same device string",
                                       quote(ic.device), other.name, quote(other.device)));
            else if (other.mtu != ic.mtu || other.queues != ic.queues)
                report(*d, fmt::format("interface {} shares device {} with interface {}, whose mtu ({}) or queues ({}) "
                                       "differ from these ({}, {}): the VLANs of a device share its port",
                                       ic.name, quote(ic.device), other.name, other.mtu, other.queues, ic.mtu, ic.queues));
            break;
        }
    }
    interface_items_.push_back(item);
    config_.interfaces.push_back(std::move(ic));
}

void Checker::check_routes(const Item& item)
{
    auto items = list(item, "a list of routes", true);
    if (!items) return;
    routes_complete_ = true;
    std::map<std::pair<IpAddress, uint8_t>, int> seen;  // dst → line
    for (const Item& ri : *items) {
        auto m = mapping(ri, route_spec, false);
        if (!m) {
            routes_complete_ = false;
            continue;
        }
        RouteConfig rc;
        bool dst_ok = false;
        bool via_ok = false;
        if (auto* d = m->find("dst")) {
            constexpr std::string_view what = "an IPv4 or IPv6 prefix (like 192.0.2.0/24 or 2001:db8::/32)";
            if (auto s = string(*d, what)) {
                auto p = parse_prefix(*s, false);
                if (!p) {
                    expected(*d, what);
                } else if (p->address != p->network()) {
                    expected(*d, fmt::format("a network address with no host bits set ({})", subnet_text(*p)));
                } else {
                    rc.dst = *p;
                    dst_ok = true;
                    auto [it, fresh] = seen.emplace(std::pair{p->address, p->length}, line_of(d->mark));
                    if (!fresh)
                        report(*d, fmt::format("duplicate route {} (first defined at line {})", format_prefix(*p),
                                               it->second));
                }
            }
        }
        if (auto* v = m->find("via")) {
            if (auto ip = unicast_address(*v, true)) {
                rc.via = *ip;
                via_ok = true;
                if (dst_ok && ip->family() != rc.dst.family()) {
                    expected(*v, fmt::format("an {} next hop, as dst is {}", family_name(rc.dst.family()),
                                             format_prefix(rc.dst)),
                             fmt::format("{}, an {} address", describe(v->node), family_name(ip->family())));
                    via_ok = false;
                }
            }
        }
        const Item* ifc = m->find("interface");
        bool ifc_known = false;
        if (ifc) {
            if (auto s = string(*ifc, "an interface name")) {
                rc.interface = *s;
                if (names_complete_) {
                    ifc_known = interface_names_.contains(*s);
                    if (!ifc_known) {
                        std::vector<std::string_view> names;
                        for (const auto& i : config_.interfaces) names.push_back(i.name);
                        report(*ifc, fmt::format("unknown interface {} (expected one of: {})", quote(*s), join(names, ", ")));
                    }
                }
            }
        }
        if (!dst_ok) routes_complete_ = false;
        // Every link has fe80::/64, so a link-local next hop is on whichever link `interface` names.
        const bool link_local = via_ok && is_ipv6_link_local(rc.via);
        if (link_local && !ifc)
            report(*m->find("via"), "a link-local next hop (fe80::/10) needs `interface:` to name its link");
        if (via_ok && !link_local && subnets_complete_ && (!ifc || names_complete_)) {
            const Item& v = *m->find("via");
            if (auto owner = own_address(rc.via)) {
                expected(v, "the address of a next-hop router",
                         fmt::format("{}, this director's own address on interface {}", describe(v.node), *owner));
            } else if (ifc_known) {
                const bool held = std::any_of(connected_.begin(), connected_.end(), [&](const Connected& c) {
                    return c.interface == rc.interface && c.prefix.contains(rc.via);
                });
                if (!held)
                    expected(v, fmt::format("an address in a connected subnet of interface {} ({})", rc.interface,
                                            connected_list(rc.via.family(), rc.interface)));
            } else if (!ifc && !in_connected_subnet(rc.via)) {
                expected(v, fmt::format("an address in a connected subnet ({})", connected_list(rc.via.family())));
            }
        }
        config_.routes.push_back(std::move(rc));
    }
}

void Checker::check_neighbors(const Item& item)
{
    auto items = list(item, "a list of neighbors", true);
    if (!items) return;
    std::map<IpAddress, int> seen;
    for (const Item& ni : *items) {
        auto m = mapping(ni, neighbor_spec, false);
        if (!m) continue;
        NeighborConfig nc;
        if (auto* i = m->find("ip")) {
            if (auto ip = unicast_address(*i)) {
                nc.ip = *ip;
                if (auto [it, fresh] = seen.emplace(*ip, line_of(i->mark)); !fresh) {
                    report(*i, fmt::format("duplicate neighbor {} (first defined at line {})", format_ip(*ip),
                                           it->second));
                } else if (subnets_complete_) {
                    if (auto owner = own_address(*ip))
                        expected(*i, "a neighbor's address",
                                 fmt::format("{}, this director's own address on interface {}", describe(i->node),
                                             *owner));
                    else if (!in_connected_subnet(*ip))
                        expected(*i, fmt::format("an address in a connected subnet ({})", connected_list(ip->family())));
                }
            }
        }
        if (auto* mi = m->find("mac")) {
            constexpr std::string_view what = "a MAC address (like \"02:00:00:00:00:02\")";
            if (auto s = string(*mi, what)) {
                auto mac = parse_mac(*s);
                if (!mac) {
                    expected(*mi, what);
                } else if ((*mac)[0] & 1) {
                    expected(*mi, "a unicast MAC address", describe(mi->node) + ", a multicast address");
                } else if (*mac == MacAddress{}) {
                    expected(*mi, "a unicast MAC address", describe(mi->node) + ", the all-zero address");
                } else {
                    nc.mac = *mac;
                }
            }
        }
        config_.neighbors.push_back(nc);
    }
}

// A TAP port offers at most 16 queue pairs (one per worker), and EAL's ports here are counted
// with the kernel interfaces among them.
void Checker::check_kernel_interfaces()
{
    constexpr unsigned max_tap_queues = 16;
    if (!interfaces_clean_) return;  // the interfaces' own problems come first
    size_t ports = 0, vlans = 0;
    std::set<std::string> devices;
    for (size_t i = 0; i < config_.interfaces.size() && i < interface_items_.size(); ++i) {
        const InterfaceConfig& ic = config_.interfaces[i];
        ports += devices.insert(ic.device).second + !ic.kernel_interface.empty();
        if (ports > max_device_ports) {
            report(interface_items_[i], fmt::format("the devices and the kernel interfaces need {} or more ports; "
                                                    "at most {} are supported (kernel_interface: false saves one)",
                                                    ports, max_device_ports));
            break;
        }
        if (ic.vlan != 0 && ++vlans > max_vlan_interfaces) {
            report(interface_items_[i], fmt::format("at most {} interfaces on VLANs are supported", max_vlan_interfaces));
            break;
        }
        if (!ic.kernel_interface.empty() && config_.dataplane.workers > max_tap_queues)
            report(interface_items_[i], fmt::format("kernel interface {} would need a queue per worker ({}); a TAP "
                                                    "interface has at most {}",
                                                    ic.kernel_interface, config_.dataplane.workers, max_tap_queues));
    }
}

// The interface packets to `ip` leave by: a connected subnet's, else the most specific route's.
const InterfaceConfig* Checker::interface_reaching(const IpAddress& ip) const
{
    if (const InterfaceConfig* i = interface_holding(config_, ip)) return i;
    const RouteConfig* best = nullptr;
    for (const RouteConfig& r : config_.routes)
        if (r.dst.contains(ip) && (best == nullptr || r.dst.length > best->dst.length)) best = &r;
    return best == nullptr ? nullptr : interface_holding(config_, best->via, best->interface);
}

// af_packet offers `qpairs` RX/TX queue pairs (1 unless the device string says more); the
// director needs one TX queue per worker and the configured RX queues.
void Checker::check_queue_pairs()
{
    const unsigned workers = config_.dataplane.workers;
    for (const auto& [item, index] : interface_devices_) {
        const InterfaceConfig& ic = config_.interfaces[index];
        if (ic.device.rfind("net_af_packet", 0) != 0) continue;
        unsigned qpairs = 1;
        const size_t at = ic.device.find(",qpairs=");
        if (at != std::string::npos) qpairs = static_cast<unsigned>(std::strtoul(ic.device.c_str() + at + 8, nullptr, 10));
        const unsigned needed = std::max<unsigned>(workers, ic.queues);
        if (qpairs < needed)
            report(item, fmt::format("af_packet device has {} queue pair(s) but {} are needed ({} worker(s), {} RX "
                                     "queue(s)): add \",qpairs={}\" to the device string",
                                     qpairs, needed, workers, ic.queues == 0 ? workers : ic.queues, needed));
    }
}

}  // namespace fulcrum::control::checking
