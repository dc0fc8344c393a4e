// services:, their real servers, sorry servers and Maglev table sizes.
#include "control/config/checker.hpp"
#include "common/text.hpp"
#include "control/config/limits.hpp"
#include "sched/scheduler.hpp"

#include <algorithm>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>
#include <array>

namespace fulcrum::control::checking {

namespace {


// The schedulers the dataplane implements, by their ipvsadm -s names. The one list the checker
// and its messages use; it grows with src/sched/.
// The names sched::kind_from_name knows, in the order error messages list them.
const std::array<std::string_view, sched::all_kinds.size()> known_schedulers = [] {
    std::array<std::string_view, sched::all_kinds.size()> names{};
    for (size_t i = 0; i < names.size(); ++i) names[i] = sched::kind_name(sched::all_kinds[i]);
    return names;
}();

constexpr auto protocol_names = [] {
    std::array<std::string_view, protocols.size()> names{};
    for (size_t i = 0; i < names.size(); ++i) names[i] = protocols[i].name;
    return names;
}();
constexpr auto forward_names = [] {
    std::array<std::string_view, forward_methods.size()> names{};
    for (size_t i = 0; i < names.size(); ++i) names[i] = forward_methods[i].name;
    return names;
}();

}  // namespace

void Checker::check_services(const Item& item)
{
    auto items = list(item, "a list of services", true);
    if (!items) return;
    std::map<ServiceKey, int> seen;  // service → line
    for (const Item& si : *items) {
        if (!check_service(si)) continue;
        const ServiceConfig& svc = config_.services.back();
        if (auto [it, fresh] = seen.emplace(svc.key(), line_of(si.mark)); !fresh)
            report(si, fmt::format("duplicate service {} {} (first defined at line {})", protocol_name(svc.protocol),
                                   format_endpoint(svc.vip, svc.port), it->second));
    }
}

// Returns whether the service's identity (vip, port, protocol) could be read; the service is
// appended to config_.services whenever it is a mapping at all.
bool Checker::check_service(const Item& item)
{
    auto m = mapping(item, service_spec, false);
    if (!m) return false;
    ServiceConfig svc;
    bool vip_ok = false;
    bool protocol_ok = false;
    if (auto* v = m->find("vip")) {
        if (auto ip = unicast_address(*v)) {
            svc.vip = *ip;
            svc.persistence_netmask = full_length(ip->family());
            vip_ok = true;
            // The director's own address answers for its kernel (health checks, BGP): as a VIP
            // its traffic would be the service's, and the kernel's replies taken for clients'.
            if (subnets_complete_)
                if (auto owner = own_address(*ip))
                    expected(*v, "a virtual address",
                             fmt::format("{}, this director's own address on interface {}", describe(v->node), *owner));
        }
    }
    if (auto* p = m->find("port"))
        if (auto v = integer(*p, 1, limits::max_port)) svc.port = static_cast<uint16_t>(*v);
    if (auto* p = m->find("protocol")) {
        if (auto i = choice(*p, "protocol", protocol_names)) {
            svc.protocol = protocols[*i].protocol;
            protocol_ok = true;
        }
    }
    if (auto* s = m->find("scheduler"))
        if (auto i = choice(*s, "scheduler", known_schedulers)) svc.scheduler = known_schedulers[*i];
    if (auto* f = m->find("scheduler_flags")) {
        const std::string what = fmt::format("a flag name ({})", join(sched::flag_names, ", "));
        if (auto items = list(*f, "a list of scheduler flags", true))
            for (const Item& fi : *items)
                if (auto name = string(fi, what); name && !sched::set_flag(svc.scheduler_flags, *name)) expected(fi, what);
    }
    if (auto* p = m->find("persistence")) {
        // ipvsadm -p without a value means 360 s; a YAML boolean says the same.
        const std::string what = fmt::format("a number of seconds from 0 to {}, or true (360) or false",
                                             limits::max_persistence_seconds);
        if (p->node.IsScalar() && (p->node.Scalar() == "true" || p->node.Scalar() == "false") && p->node.Tag() != "!") {
            svc.persistence = p->node.Scalar() == "true" ? 360 : 0;
        } else if (auto v = integer(*p, 0, limits::max_persistence_seconds, what)) {
            svc.persistence = static_cast<uint32_t>(*v);
        }
    }
    service_vip_ok_ = vip_ok;
    if (auto* n = m->find("persistence_netmask")) check_persistence_netmask(*n, svc);
    if (auto* q = m->find("expire_quiescent_template"))
        if (auto v = boolean(*q)) svc.expire_quiescent_template = *v;
    const Item* compat = m->find("mh_compat");
    if (compat != nullptr) {
        if (auto i = choice(*compat, "Maglev table", sched::mh_compat_names)) {
            svc.mh_compat = static_cast<sched::MhCompat>(*i);
            if (svc.mh_compat == sched::MhCompat::kernel) svc.mh_table_size = sched::default_kernel_mh_table_size;
        }
    }
    // Checked against the real servers below, once they are known.
    if (auto* t = m->find("mh_table_size")) {
        if (auto v = integer(*t, 1, sched::max_mh_table_size)) {
            svc.mh_table_size = static_cast<uint32_t>(*v);
            mh_size_items_.push_back({*t, config_.services.size()});
        }
    } else if (svc.mh_compat == sched::MhCompat::kernel) {
        mh_size_items_.push_back({*compat, config_.services.size()});
    }
    bool forward_ok = true;
    if (auto* f = m->find("forward")) {
        auto i = choice(*f, "forwarding method", forward_names);
        if (i)
            svc.forward = static_cast<ForwardMethod>(*i);
        else
            forward_ok = false;
    }
    service_timeout_given_ = false;
    if (auto* h = m->find("health_check")) {
        svc.health_check = check_health_check(*h, HealthCheckConfig{}, service_timeout_given_);
        if (protocol_ok && svc.protocol == Protocol::udp && svc.health_check.type != HealthCheckType::none &&
            svc.health_check.port == 0)
            report(*h, "the checks are made over TCP: a UDP service's health_check needs a port");
    }
    if (auto* ss = m->find("sorry_server")) {
        if (auto sm = mapping(*ss, sorry_server_spec, false)) {
            SorryServerConfig sorry;
            if (auto* a = sm->find("address"))
                if (auto ip = unicast_address(*a); ip && of_service_family(*a, *ip, svc, "a sorry server")) {
                    sorry.address = *ip;
                    sorry_items_.push_back({*a, config_.services.size()});
                }
            if (auto* p = sm->find("port"))
                if (auto v = integer(*p, 1, limits::max_port)) sorry.port = static_cast<uint16_t>(*v);
            svc.sorry_server = sorry;
        }
    }
    if (auto* r = m->find("real_servers")) {
        if (auto items = list(*r, "a list of real servers", true)) {
            std::map<std::pair<IpAddress, uint16_t>, int> seen;
            for (const Item& ri : *items) check_real_server(ri, svc, forward_ok, seen);
        }
    }
    const bool identity_ok = vip_ok && svc.port != 0 && protocol_ok;
    config_.services.push_back(std::move(svc));
    return identity_ok;
}

void Checker::check_persistence_netmask(const Item& item, ServiceConfig& svc)
{
    // Until the vip is known, any length of either family is taken, so that one bad vip is one error.
    const Family family = service_vip_ok_ ? svc.vip.family() : Family::ipv6;
    const bool v4 = service_vip_ok_ && family == Family::ipv4;
    // A prefix length (24) or, for IPv4, a dotted mask ("255.255.255.0"), as ipvsadm -M.
    const std::string what = v4 ? "a prefix length from 0 to 32 or a contiguous netmask like \"255.255.255.0\""
                                : fmt::format("a prefix length from 0 to {} (the service's vip is {})",
                                              full_length(family), family_name(family));
    if (item.node.IsScalar()) {
        const std::string text = item.node.Scalar();
        if (auto mask = parse_ipv4(text); mask && v4) {
            const uint32_t inverted = ~*mask;
            if ((inverted & (inverted + 1)) == 0) {
                svc.persistence_netmask = static_cast<uint8_t>(32 - std::popcount(inverted));
                return;
            }
        } else if (item.node.Tag() != "!") {
            if (auto len = parse_number<uint8_t>(text, 0, full_length(family))) {
                svc.persistence_netmask = *len;
                return;
            }
        }
    }
    expected(item, what);
}

bool Checker::of_service_family(const Item& item, const IpAddress& ip, const ServiceConfig& svc, std::string_view what)
{
    if (!service_vip_ok_ || ip.family() == svc.vip.family()) return true;
    expected(item, fmt::format("an {} address for {}, as the service's vip {} is", family_name(svc.vip.family()), what,
                               format_ip(svc.vip)),
             fmt::format("{}, an {} address", describe(item.node), family_name(ip.family())));
    return false;
}

void Checker::check_real_server(const Item& item, ServiceConfig& svc, bool svc_forward_ok,
                                std::map<std::pair<IpAddress, uint16_t>, int>& seen)
{
    auto m = mapping(item, real_server_spec, false);
    if (!m) return;
    RealServerConfig rs;
    bool address_ok = false;
    bool port_ok = svc.port != 0;
    bool forward_ok = svc_forward_ok;
    rs.port = svc.port;  // as ipvsadm: no port means the virtual port
    rs.forward = svc.forward;
    if (auto* a = m->find("address")) {
        if (auto ip = unicast_address(*a)) {
            rs.address = *ip;
            address_ok = true;
        }
    }
    const Item* port_item = m->find("port");
    if (port_item) {
        auto v = integer(*port_item, 1, limits::max_port);
        port_ok = v.has_value();
        if (v) rs.port = static_cast<uint16_t>(*v);
    }
    if (auto* w = m->find("weight"))
        if (auto v = integer(*w, 0, limits::max_weight)) rs.weight = static_cast<uint32_t>(*v);
    if (auto* u = m->find("upper_threshold"))
        if (auto v = integer(*u, 0, limits::max_threshold)) rs.upper_threshold = static_cast<uint32_t>(*v);
    if (auto* l = m->find("lower_threshold")) {
        if (auto v = integer(*l, 0, limits::max_threshold)) {
            rs.lower_threshold = static_cast<uint32_t>(*v);
            if (rs.upper_threshold != 0 && rs.lower_threshold >= rs.upper_threshold)
                expected(*l, fmt::format("a number below upper_threshold ({})", rs.upper_threshold));
        }
    }
    if (auto* f = m->find("forward")) {
        auto i = choice(*f, "forwarding method", forward_names);
        forward_ok = i.has_value();
        if (i) rs.forward = static_cast<ForwardMethod>(*i);
    }
    rs.health_check = svc.health_check;
    if (auto* h = m->find("health_check")) {
        bool timeout_given = service_timeout_given_;
        const size_t errors_before = errors_.size();
        rs.health_check = check_health_check(*h, svc.health_check, timeout_given);
        rs.health_check_overridden = true;
        if (svc.protocol == Protocol::udp && rs.health_check.type != HealthCheckType::none &&
            rs.health_check.port == 0 && svc.health_check.type == HealthCheckType::none && errors_.size() == errors_before)
            report(*h, "the checks are made over TCP: a UDP service's health_check needs a port");
    }
    if (rs.health_check.type != HealthCheckType::none && address_ok) checked_real_servers_.push_back({item, rs.address});

    if (address_ok && port_ok) {
        if (auto [it, fresh] = seen.emplace(std::pair{rs.address, rs.port}, line_of(item.mark)); !fresh)
            report(item, fmt::format("duplicate real server {} (first defined at line {})",
                                     format_endpoint(rs.address, rs.port), it->second));
    }
    // DR rewrites only the MAC and TUN wraps the packet whole: neither touches the port.
    if (forward_ok && rs.forward != ForwardMethod::nat && port_item && port_ok && svc.port != 0 &&
        rs.port != svc.port) {
        report(*port_item, fmt::format("real server port {} differs from the virtual port {}; {} forwarding cannot "
                                       "change the port",
                                       rs.port, svc.port, forward_method_name(rs.forward)));
    }
    // IPVS mixes families only in tunnelling: NAT rewrites the header and DR hands the frame
    // over whole, so either needs the real server in the VIP's family; an IPIP or IPv6-in-IPv6
    // tunnel carries either family inside either.
    if (address_ok && forward_ok && rs.forward != ForwardMethod::tun &&
        !of_service_family(*m->find("address"), rs.address, svc,
                           fmt::format("a real server with {} forwarding (only tun may mix families)",
                                       forward_method_name(rs.forward))))
        address_ok = false;
    if (address_ok && forward_ok && subnets_complete_) {
        const Item& a = *m->find("address");
        if (auto owner = own_address(rs.address)) {
            expected(a, "a real server's address",
                     fmt::format("{}, this director's own address on interface {}", describe(a.node), *owner));
        } else if (rs.forward == ForwardMethod::dr) {
            // DR hands the frame to the real server's MAC: it must share a link with the director.
            if (!in_connected_subnet(rs.address))
                expected(a, fmt::format("an address in a connected subnet ({}) for dr forwarding",
                                        connected_list(rs.address.family())));
        } else if (routes_complete_ && !reachable(rs.address)) {
            expected(a, "an address in a connected subnet or covered by a route",
                     describe(a.node) + ", which no interface or route reaches");
        }
    }
    svc.real_servers.push_back(rs);
}

// A sorry server takes the service's connections by NAT: it needs a path from the director, and
// must not be one of the real servers it stands in for.
void Checker::check_sorry_servers()
{
    for (const auto& [item, index] : sorry_items_) {
        ServiceConfig& s = config_.services[index];
        SorryServerConfig& sorry = *s.sorry_server;
        if (sorry.port == 0) sorry.port = s.port;
        if (auto owner = own_address(sorry.address)) {
            expected(item, "a sorry server's address",
                     fmt::format("{}, this director's own address on interface {}", describe(item.node), *owner));
        } else if (subnets_complete_ && routes_complete_ && !reachable(sorry.address)) {
            expected(item, "an address in a connected subnet or covered by a route",
                     describe(item.node) + ", which no interface or route reaches");
        }
        for (const RealServerConfig& rs : s.real_servers)
            if (rs.address == sorry.address && rs.port == sorry.port)
                report(item, fmt::format("sorry server {} is also a real server of this service",
                                         format_endpoint(sorry.address, sorry.port)));
    }
}

// Maglev needs a prime table size, comfortably larger than the number of real servers.
void Checker::check_mh_table_sizes()
{
    for (const auto& [item, index] : mh_size_items_) {
        const ServiceConfig& s = config_.services[index];
        const std::string problem = sched::mh_table_size_problem(s.mh_table_size, s.real_servers.size(), s.mh_compat);
        if (!problem.empty()) report(item, problem);
    }
}

}  // namespace fulcrum::control::checking
