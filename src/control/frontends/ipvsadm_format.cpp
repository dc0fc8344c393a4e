#include "control/frontends/ipvsadm_format.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <tuple>

namespace fulcrum::control {

namespace {

std::string protocol_switch(Protocol p) { return std::string("-") + protocol_flag(p); }

std::string forward_switch(ForwardMethod m) { return {'-', forward_methods[static_cast<size_t>(m)].flag}; }


// ipvsadm cuts the service name ("TCP  a.b.c.d:p") at 33 characters and a real server's at 28,
// for an IPv4 service only (`if (se->af != AF_INET6) svc_name[33] = '\0'`, and dname[28] the
// same): IPv4 names never reach either, the cuts are kept for the record; IPv6 names stay whole
// and push the columns after them to the right.
std::string cut(std::string s, size_t n, Family service_family)
{
    if (service_family == Family::ipv4 && s.size() > n) s.resize(n);
    return s;
}

// ipvsadm's persistent netmask after "mask" (-L) or "-M" (-S): an IPv4 service's as a dotted
// mask when not 255.255.255.255, an IPv6 service's as its prefix length when not 128 ("%i");
// "" when it is the family's full length.
std::string netmask_text(const ServiceConfig& s)
{
    if (s.persistence_netmask == full_length(s.vip.family())) return "";
    return s.vip.is_ipv4() ? format_netmask(s.persistence_netmask) : std::to_string(s.persistence_netmask);
}

std::vector<const ServiceStatus*> sorted_services(const std::vector<ServiceStatus>& services, bool sorted = true)
{
    std::vector<const ServiceStatus*> out;
    out.reserve(services.size());
    for (const ServiceStatus& s : services) out.push_back(&s);
    if (sorted) std::sort(out.begin(), out.end(), [](const ServiceStatus* a, const ServiceStatus* b) {
        return a->config.key() < b->config.key();
    });
    return out;
}

std::vector<const RealServerStatus*> sorted_real_servers(const ServiceStatus& s, bool sorted = true)
{
    std::vector<const RealServerStatus*> out;
    out.reserve(s.real_servers.size());
    for (const RealServerStatus& rs : s.real_servers) out.push_back(&rs);
    if (sorted) std::sort(out.begin(), out.end(), [](const RealServerStatus* a, const RealServerStatus* b) {
        return std::tuple(a->config.address, a->config.port) < std::tuple(b->config.address, b->config.port);
    });
    return out;
}

void title(std::string& out, IpvsadmTable table)
{
    switch (table) {
    case IpvsadmTable::list:
        out += "Prot LocalAddress:Port Scheduler Flags\n"
               "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n";
        break;
    case IpvsadmTable::stats:
        out += fmt::format("{:<33} {:>8} {:>8} {:>8} {:>8} {:>8}\n  -> RemoteAddress:Port\n",
                           "Prot LocalAddress:Port", "Conns", "InPkts", "OutPkts", "InBytes", "OutBytes");
        break;
    case IpvsadmTable::rate:
        out += fmt::format("{:<33} {:>8} {:>8} {:>8} {:>8} {:>8}\n  -> RemoteAddress:Port\n",
                           "Prot LocalAddress:Port", "CPS", "InPPS", "OutPPS", "InBPS", "OutBPS");
        break;
    case IpvsadmTable::thresholds:
        out += fmt::format("{:<33} {:<10} {:<10} {:<10} {:<10}\n  -> RemoteAddress:Port\n", "Prot LocalAddress:Port",
                           "Uthreshold", "Lthreshold", "ActiveConn", "InActConn");
        break;
    case IpvsadmTable::persistent_conn:
        out += fmt::format("{:<33} {:<9} {:<11} {:<10} {:<10}\n  -> RemoteAddress:Port\n", "Prot LocalAddress:Port",
                           "Weight", "PersistConn", "ActiveConn", "InActConn");
        break;
    }
}

// The flags in parentheses after the scheduler, as ipvsadm 1.28 and later print IP_VS_SVC_F_SCHED*.
std::string flags_suffix(const sched::Flags& flags)
{
    const std::string text = sched::flags_text(flags);
    return text.empty() ? "" : fmt::format(" ({})", text);
}

void service_line(std::string& out, const ServiceConfig& s, const IpvsadmOptions& o, const TrafficStats& st,
                  const TrafficRates& r)
{
    const std::string name =
        cut(fmt::format("{}  {}", protocol_label(s.protocol), format_endpoint(s.vip, s.port)), 33, s.vip.family());
    switch (o.table) {
    case IpvsadmTable::list:
    case IpvsadmTable::thresholds:  // ipvsadm prints the service as in the plain list
    case IpvsadmTable::persistent_conn:
        out += fmt::format("{} {}{}", name, s.scheduler, flags_suffix(s.scheduler_flags));
        if (s.persistence != 0) {
            out += fmt::format(" persistent {}", s.persistence);
            if (const std::string mask = netmask_text(s); !mask.empty()) out += " mask " + mask;
        }
        break;
    case IpvsadmTable::stats:
        out += fmt::format("{:<33}{}{}{}{}{}", name, format_ipvsadm_number(st.conns, o.exact),
                           format_ipvsadm_number(st.in_packets, o.exact), format_ipvsadm_number(st.out_packets, o.exact),
                           format_ipvsadm_number(st.in_bytes, o.exact), format_ipvsadm_number(st.out_bytes, o.exact));
        break;
    case IpvsadmTable::rate:
        out += fmt::format("{:<33}{}{}{}{}{}", name, format_ipvsadm_number(r.cps, o.exact),
                           format_ipvsadm_number(r.in_pps, o.exact), format_ipvsadm_number(r.out_pps, o.exact),
                           format_ipvsadm_number(r.in_bps, o.exact), format_ipvsadm_number(r.out_bps, o.exact));
        break;
    }
    out += '\n';
}

void real_server_line(std::string& out, const RealServerStatus& rs, Family service_family, const IpvsadmOptions& o)
{
    const std::string name = cut(format_endpoint(rs.config.address, rs.config.port), 28, service_family);
    switch (o.table) {
    case IpvsadmTable::list:
        // "  -> %-28s %-7s %-6d %-10u %-10u\n"
        out += fmt::format("  -> {:<28} {:<7} {:<6} {:<10} {:<10}\n", name, ipvsadm_forward_name(rs.config.forward),
                           rs.config.weight, rs.active, rs.inactive);
        break;
    case IpvsadmTable::stats:
        out += fmt::format("  -> {:<28}{}{}{}{}{}\n", name, format_ipvsadm_number(rs.stats.conns, o.exact),
                           format_ipvsadm_number(rs.stats.in_packets, o.exact),
                           format_ipvsadm_number(rs.stats.out_packets, o.exact),
                           format_ipvsadm_number(rs.stats.in_bytes, o.exact),
                           format_ipvsadm_number(rs.stats.out_bytes, o.exact));
        break;
    case IpvsadmTable::rate:
        // "  -> %-28s %8u %8u %8u", then print_largenum for the two byte rates: ipvsadm abbreviates
        // only those on a real server's line.
        out += fmt::format("  -> {:<28} {:>8} {:>8} {:>8}{}{}\n", name, rs.rates.cps, rs.rates.in_pps,
                           rs.rates.out_pps, format_ipvsadm_number(rs.rates.in_bps, o.exact),
                           format_ipvsadm_number(rs.rates.out_bps, o.exact));
        break;
    case IpvsadmTable::thresholds:
        // "  -> %-28s %-10u %-10u %-10u %-10u\n"
        out += fmt::format("  -> {:<28} {:<10} {:<10} {:<10} {:<10}\n", name, rs.config.upper_threshold,
                           rs.config.lower_threshold, rs.active, rs.inactive);
        break;
    case IpvsadmTable::persistent_conn:
        // "  -> %-28s %-9u %-11u %-10u %-10u\n"
        out += fmt::format("  -> {:<28} {:<9} {:<11} {:<10} {:<10}\n", name, rs.config.weight, rs.persistent, rs.active,
                           rs.inactive);
        break;
    }
}

}  // namespace

std::string format_netmask(uint8_t prefix_length)
{
    const Ipv4 mask = prefix_length == 0 ? 0 : ~Ipv4{0} << (32 - std::min<uint8_t>(prefix_length, 32));
    return format_ipv4(mask);
}

std::string format_ipvsadm_number(uint64_t n, bool exact)
{
    if (exact) {
        const size_t digits = fmt::formatted_size("{}", n);
        return fmt::format("{:>{}}", n, digits <= 8 ? 9 : digits + 1);
    }
    if (n < 100'000'000ULL) return fmt::format("{:>9}", n);
    if (n < 1'000'000'000ULL) return fmt::format("{:>8}K", n / 1'000ULL);
    if (n < 100'000'000'000ULL) return fmt::format("{:>8}M", n / 1'000'000ULL);
    if (n < 100'000'000'000'000ULL) return fmt::format("{:>8}G", n / 1'000'000'000ULL);
    return fmt::format("{:>8}T", n / 1'000'000'000'000ULL);
}

std::string format_ipvsadm_table(const std::vector<ServiceStatus>& services, uint32_t table_size,
                                 const IpvsadmOptions& options)
{
    std::string out;
    if (options.version_line) out += fmt::format("IP Virtual Server version 1.2.1 (size={})\n", table_size);
    title(out, options.table);
    for (const ServiceStatus* s : sorted_services(services, options.sorted)) {
        service_line(out, s->config, options, s->stats, s->rates);
        for (const RealServerStatus* rs : sorted_real_servers(*s, options.sorted))
            real_server_line(out, *rs, s->config.vip.family(), options);
    }
    return out;
}

std::string format_ipvsadm_list(const Config& config, uint32_t table_size, const CountsLookup& counts)
{
    std::vector<ServiceStatus> services;
    services.reserve(config.services.size());
    for (const ServiceConfig& s : config.services) {
        ServiceStatus status;
        status.config = s;
        status.config.real_servers.clear();
        for (const RealServerConfig& rs : s.real_servers) {
            const RealServerCounts c = counts(s, rs);
            RealServerStatus r;
            r.config = rs;
            r.active = c.active;
            r.inactive = c.inactive;
            status.real_servers.push_back(r);
        }
        services.push_back(std::move(status));
    }
    return format_ipvsadm_table(services, table_size);
}

std::string format_ipvsadm_connections(const std::vector<ConnectionRow>& rows)
{
    std::string out = "IPVS connection entries\n";
    out += fmt::format("pro expire {:<11} {:<18} {:<18} {}\n", "state", "source", "virtual", "destination");
    return out + format_ipvsadm_connection_rows(rows);
}

std::string format_ipvsadm_connection_rows(const std::vector<ConnectionRow>& rows)
{
    std::string out;
    for (const ConnectionRow& c : rows) {
        const std::string expire =
            fmt::format("{:02}:{:02}", c.expires_in_seconds / 60, c.expires_in_seconds % 60);
        out += fmt::format("{:<3} {:<6} {:<11} {:<18} {:<18} {}\n", protocol_label(c.protocol), expire, c.state,
                           format_endpoint(c.client, c.client_port), format_endpoint(c.vip, c.vport),
                           format_endpoint(c.real_server, c.real_port));
    }
    return out;
}

std::string format_ipvsadm_daemons(const SyncConfig& sync, std::string_view kernel_interface)
{
    std::string out;
    for (const auto& [running, role] : {std::pair{sync.master, "master"}, std::pair{sync.backup, "backup"}})
        if (running)
            out += fmt::format("{} sync daemon (mcast={}, syncid={}, maxlen={}, group={}, port={}, ttl={})\n", role,
                               kernel_interface, sync.syncid, sync.max_length, format_ipv4(sync.group), sync.port, sync.ttl);
    return out;
}

std::string format_ipvsadm_timeouts(const dataplane::ConnTimeouts& t)
{
    return fmt::format("Timeout (tcp tcpfin udp): {} {} {}\n", t.of(dataplane::TcpState::established),
                       t.of(dataplane::TcpState::fin_wait), t.udp);
}

std::string format_ipvsadm_rules(const std::vector<ServiceStatus>& services)
{
    std::string out;
    for (const ServiceStatus* s : sorted_services(services)) {
        const ServiceConfig& c = s->config;
        const std::string name = fmt::format("{} {}", protocol_switch(c.protocol), format_endpoint(c.vip, c.port));
        out += fmt::format("-A {} -s {}", name, c.scheduler);
        if (c.persistence != 0) {
            out += fmt::format(" -p {}", c.persistence);
            if (const std::string mask = netmask_text(c); !mask.empty()) out += " -M " + mask;
        }
        if (const std::string flags = sched::flags_text(c.scheduler_flags); !flags.empty())
            out += fmt::format(" -b {}", flags);
        out += '\n';
        for (const RealServerStatus* rs : sorted_real_servers(*s)) {
            out += fmt::format("-a {} -r {} {} -w {}", name, format_endpoint(rs->config.address, rs->config.port),
                               forward_switch(rs->config.forward), rs->config.weight);
            out += '\n';
        }
    }
    return out;
}

}  // namespace fulcrum::control
