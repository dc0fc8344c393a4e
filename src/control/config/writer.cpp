#include "control/config/writer.hpp"

#include <yaml-cpp/yaml.h>

#include <string_view>

namespace fulcrum::control {

namespace {

// An address or prefix as a scalar: IPv6 text is double-quoted, as a plain scalar with ':' in
// it (and "::/0", which starts with one) is not read back as the same string in flow style.
struct AddressScalar {
    std::string text;
    bool quoted;
};
YAML::Emitter& operator<<(YAML::Emitter& out, const AddressScalar& a)
{
    if (a.quoted) out << YAML::DoubleQuoted;
    return out << a.text;
}
AddressScalar scalar(const IpAddress& a) { return {format_ip(a), a.is_ipv6()}; }
AddressScalar scalar(const IpPrefix& p) { return {format_prefix(p), p.address.is_ipv6()}; }

// Milliseconds as the seconds the file says: 1000 -> "1", 500 -> "0.5", 1250 -> "1.25".
std::string seconds_text(uint32_t ms)
{
    std::string text = std::to_string(ms / 1000);
    if (ms % 1000 == 0) return text;
    std::string fraction = std::to_string(1000 + ms % 1000).substr(1);
    while (fraction.back() == '0') fraction.pop_back();
    return text + "." + fraction;
}

std::string status_text(const std::vector<StatusRange>& ranges)
{
    std::string text;
    for (const StatusRange& r : ranges) {
        if (!text.empty()) text += ",";
        text += std::to_string(r.low);
        if (r.high != r.low) text += "-" + std::to_string(r.high);
    }
    return text;
}

// Every key, so that a real server's full check read back over its service's gives itself.
void emit_health_check(YAML::Emitter& out, const HealthCheckConfig& hc)
{
    out << YAML::Key << "health_check" << YAML::Value << YAML::Flow << YAML::BeginMap;
    out << YAML::Key << "type" << YAML::Value << std::string(health_check_type_name(hc.type));
    if (hc.port != 0) out << YAML::Key << "port" << YAML::Value << hc.port;
    out << YAML::Key << "interval" << YAML::Value << seconds_text(hc.interval_ms);
    out << YAML::Key << "timeout" << YAML::Value << seconds_text(hc.timeout_ms);
    out << YAML::Key << "rise" << YAML::Value << hc.rise;
    out << YAML::Key << "fall" << YAML::Value << hc.fall;
    out << YAML::Key << "on_failure" << YAML::Value << std::string(on_failure_name(hc.on_failure));
    if (hc.type == HealthCheckType::http) {
        out << YAML::Key << "http" << YAML::Value << YAML::BeginMap;
        out << YAML::Key << "path" << YAML::Value << YAML::DoubleQuoted << hc.http.path;
        if (!hc.http.host.empty()) out << YAML::Key << "host" << YAML::Value << YAML::DoubleQuoted << hc.http.host;
        if (!hc.http.expect_status.empty())
            out << YAML::Key << "expect_status" << YAML::Value << YAML::DoubleQuoted << status_text(hc.http.expect_status);
        if (!hc.http.expect_body.empty())
            out << YAML::Key << "expect_body" << YAML::Value << YAML::DoubleQuoted << hc.http.expect_body;
        out << YAML::EndMap;
    }
    out << YAML::EndMap;
}

}  // namespace

std::string config_to_yaml(const Config& c)
{
    YAML::Emitter out;
    out << YAML::BeginMap;
    out << YAML::Key << "dataplane" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "workers" << YAML::Value << c.dataplane.workers;
    out << YAML::Key << "eal" << YAML::Value << YAML::Flow << YAML::BeginSeq;
    for (const std::string& a : c.dataplane.eal) out << YAML::DoubleQuoted << a;
    out << YAML::EndSeq;
    out << YAML::Key << "conn_table_size" << YAML::Value << c.dataplane.conn_table_size;
    if (c.dataplane.conn_table_size_ipv6 != 0)
        out << YAML::Key << "conn_table_size_ipv6" << YAML::Value << c.dataplane.conn_table_size_ipv6;
    out << YAML::Key << "mbufs" << YAML::Value << c.dataplane.mbufs;
    if (c.dataplane.expire_nodest_conn) out << YAML::Key << "expire_nodest_conn" << YAML::Value << true;
    if (c.dataplane.sloppy_tcp) out << YAML::Key << "sloppy_tcp" << YAML::Value << true;
    out << YAML::Key << "kernel_rate_limit" << YAML::Value << c.dataplane.kernel_rate_limit;
    out << YAML::EndMap;
    out << YAML::Key << "console" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "socket" << YAML::Value << YAML::DoubleQuoted << c.console.socket;
    if (!c.console.group.empty()) out << YAML::Key << "group" << YAML::Value << c.console.group;
    out << YAML::Key << "listen" << YAML::Value << YAML::DoubleQuoted << c.console.listen;
    if (c.console.allow_remote) out << YAML::Key << "allow_remote" << YAML::Value << true;
    out << YAML::EndMap;
    if (!c.metrics_listen.empty())
        out << YAML::Key << "metrics" << YAML::Value << YAML::BeginMap << YAML::Key << "listen" << YAML::Value
            << YAML::DoubleQuoted << c.metrics_listen << YAML::EndMap;
    if (c.high_availability != HighAvailabilityConfig{})
        out << YAML::Key << "high_availability" << YAML::Value << YAML::BeginMap << YAML::Key << "vip_ownership"
            << YAML::Value << std::string(vip_ownership_name(c.high_availability.vip_ownership)) << YAML::EndMap;
    if (c.sync.enabled()) {
        out << YAML::Key << "sync" << YAML::Value << YAML::BeginMap;
        out << YAML::Key << "role" << YAML::Value << std::string(sync_role_name(c.sync));
        out << YAML::Key << "interface" << YAML::Value << c.sync.interface;
        out << YAML::Key << "syncid" << YAML::Value << static_cast<unsigned>(c.sync.syncid);
        out << YAML::Key << "group" << YAML::Value << format_ipv4(c.sync.group);
        out << YAML::Key << "port" << YAML::Value << c.sync.port;
        out << YAML::Key << "ttl" << YAML::Value << static_cast<unsigned>(c.sync.ttl);
        out << YAML::Key << "max_length" << YAML::Value << c.sync.max_length;
        out << YAML::Key << "full_refresh" << YAML::Value << c.sync.full_refresh;
        out << YAML::EndMap;
    }
    if (c.announce.enabled()) {
        out << YAML::Key << "announce" << YAML::Value << YAML::BeginMap;
        out << YAML::Key << "table" << YAML::Value << c.announce.table;
        out << YAML::Key << "quorum" << YAML::Value << c.announce.quorum;
        out << YAML::Key << "interface" << YAML::Value << c.announce.interface;
        out << YAML::EndMap;
    }

    out << YAML::Key << "interfaces" << YAML::Value << YAML::BeginSeq;
    for (const InterfaceConfig& i : c.interfaces) {
        out << YAML::BeginMap << YAML::Key << "name" << YAML::Value << i.name;
        out << YAML::Key << "device" << YAML::Value << YAML::DoubleQuoted << i.device;
        if (i.vlan != 0) out << YAML::Key << "vlan" << YAML::Value << i.vlan;
        out << YAML::Key << "address" << YAML::Value << YAML::Flow << YAML::BeginSeq;
        for (const IpPrefix& p : i.addresses) out << scalar(p);
        out << YAML::EndSeq;
        out << YAML::Key << "mtu" << YAML::Value << i.mtu;
        if (i.queues != 0) out << YAML::Key << "queues" << YAML::Value << i.queues;
        out << YAML::Key << "kernel_interface" << YAML::Value;
        if (i.kernel_interface.empty())
            out << false;
        else
            out << YAML::DoubleQuoted << i.kernel_interface;
        out << YAML::EndMap;
    }
    out << YAML::EndSeq;

    if (!c.routes.empty()) {
        out << YAML::Key << "routes" << YAML::Value << YAML::BeginSeq;
        for (const RouteConfig& r : c.routes) {
            out << YAML::Flow << YAML::BeginMap << YAML::Key << "dst" << YAML::Value << scalar(r.dst);
            out << YAML::Key << "via" << YAML::Value << scalar(r.via);
            if (!r.interface.empty()) out << YAML::Key << "interface" << YAML::Value << r.interface;
            out << YAML::EndMap;
        }
        out << YAML::EndSeq;
    }
    if (!c.neighbors.empty()) {
        out << YAML::Key << "neighbors" << YAML::Value << YAML::BeginSeq;
        for (const NeighborConfig& n : c.neighbors)
            out << YAML::Flow << YAML::BeginMap << YAML::Key << "ip" << YAML::Value << scalar(n.ip) << YAML::Key
                << "mac" << YAML::Value << YAML::DoubleQuoted << format_mac(n.mac) << YAML::EndMap;
        out << YAML::EndSeq;
    }

    out << YAML::Key << "services" << YAML::Value << YAML::BeginSeq;
    for (const ServiceConfig& s : c.services) {
        out << YAML::BeginMap;
        out << YAML::Key << "vip" << YAML::Value << scalar(s.vip);
        out << YAML::Key << "port" << YAML::Value << s.port;
        out << YAML::Key << "protocol" << YAML::Value << std::string(protocol_name(s.protocol));
        out << YAML::Key << "scheduler" << YAML::Value << s.scheduler;
        if (const std::string flags = sched::flags_text(s.scheduler_flags); !flags.empty()) {
            out << YAML::Key << "scheduler_flags" << YAML::Value << YAML::Flow << YAML::BeginSeq;
            for (size_t start = 0, end; start < flags.size(); start = end + 1) {
                end = flags.find(',', start);
                if (end == std::string::npos) end = flags.size();
                out << flags.substr(start, end - start);
            }
            out << YAML::EndSeq;
        }
        if (s.mh_compat != sched::MhCompat::fulcrum) {
            out << YAML::Key << "mh_compat" << YAML::Value
                << std::string(sched::mh_compat_names[static_cast<size_t>(s.mh_compat)]);
            if (s.mh_table_size != sched::default_kernel_mh_table_size)
                out << YAML::Key << "mh_table_size" << YAML::Value << s.mh_table_size;
        } else if (s.mh_table_size != sched::default_mh_table_size) {
            out << YAML::Key << "mh_table_size" << YAML::Value << s.mh_table_size;
        }
        out << YAML::Key << "forward" << YAML::Value << std::string(forward_method_name(s.forward));
        if (s.persistence != 0) {
            out << YAML::Key << "persistence" << YAML::Value << s.persistence;
            out << YAML::Key << "persistence_netmask" << YAML::Value << static_cast<unsigned>(s.persistence_netmask);
        }
        if (s.expire_quiescent_template) out << YAML::Key << "expire_quiescent_template" << YAML::Value << true;
        if (s.health_check != HealthCheckConfig{}) emit_health_check(out, s.health_check);
        if (s.sorry_server)
            out << YAML::Key << "sorry_server" << YAML::Value << YAML::Flow << YAML::BeginMap << YAML::Key << "address"
                << YAML::Value << scalar(s.sorry_server->address) << YAML::Key << "port" << YAML::Value
                << s.sorry_server->port << YAML::EndMap;
        out << YAML::Key << "real_servers" << YAML::Value << YAML::BeginSeq;
        for (const RealServerConfig& rs : s.real_servers) {
            out << YAML::Flow << YAML::BeginMap;
            out << YAML::Key << "address" << YAML::Value << scalar(rs.address);
            out << YAML::Key << "port" << YAML::Value << rs.port;
            out << YAML::Key << "weight" << YAML::Value << rs.weight;
            out << YAML::Key << "forward" << YAML::Value << std::string(forward_method_name(rs.forward));
            if (rs.upper_threshold != 0) out << YAML::Key << "upper_threshold" << YAML::Value << rs.upper_threshold;
            if (rs.lower_threshold != 0) out << YAML::Key << "lower_threshold" << YAML::Value << rs.lower_threshold;
            if (rs.health_check_overridden) emit_health_check(out, rs.health_check);
            out << YAML::EndMap;
        }
        out << YAML::EndSeq << YAML::EndMap;
    }
    out << YAML::EndSeq;

    const auto defaults_timeouts = dataplane::ConnTimeouts::ipvs_defaults();
    out << YAML::Key << "timeouts" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "tcp" << YAML::Value << c.timeouts.of(dataplane::TcpState::established);
    out << YAML::Key << "tcp_fin" << YAML::Value << c.timeouts.of(dataplane::TcpState::fin_wait);
    out << YAML::Key << "udp" << YAML::Value << c.timeouts.udp;
    for (size_t i = 0; i < dataplane::tcp_state_count; ++i) {
        const auto state = static_cast<dataplane::TcpState>(i);
        if (state == dataplane::TcpState::established || state == dataplane::TcpState::fin_wait) continue;
        if (c.timeouts.tcp[i] == defaults_timeouts.tcp[i]) continue;
        out << YAML::Key << std::string(dataplane::tcp_state_key(state)) << YAML::Value << c.timeouts.tcp[i];
    }
    out << YAML::EndMap;
    out << YAML::EndMap;
    return std::string(out.c_str()) + "\n";
}

std::vector<ConfigError> check_config(const Config& config, const std::string& what)
{
    return parse_config(config_to_yaml(config), what).errors;
}

}  // namespace fulcrum::control
