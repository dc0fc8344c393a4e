#include "control/console_config.hpp"

#include <fmt/format.h>

#include <array>
#include <cctype>

namespace fulcrum::control {

namespace {

bool equal_ignoring_case(std::string_view a, std::string_view b)
{
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
            return false;
    return true;
}

// A string as a YAML scalar: plain when nothing in it could be read as anything but that string
// (a letter or '_' first, then letters, digits and "_-./", and not a word YAML 1.1 or 1.2 reads
// as a boolean or null); double-quoted with escapes otherwise.
std::string yaml_string(std::string_view s)
{
    bool plain = !s.empty() && (std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_');
    for (char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (!(std::isalnum(u) || c == '_' || c == '-' || c == '.' || c == '/')) plain = false;
    }
    for (std::string_view word : {"y", "n", "yes", "no", "on", "off", "true", "false", "null"})
        if (equal_ignoring_case(s, word)) plain = false;
    if (plain) return std::string(s);
    std::string out = "\"";
    for (char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (u < 0x20 || u == 0x7f) {
            out += fmt::format("\\x{:02x}", u);
        } else {
            out += c;
        }
    }
    out += '"';
    return out;
}

std::string prefix_text(const Ipv4Prefix& p) { return fmt::format("{}/{}", format_ipv4(p.address), p.length); }

template <typename Range, typename Format>
std::string flow_list(const Range& items, Format format)
{
    std::string out = "[";
    bool first = true;
    for (const auto& item : items) {
        if (!first) out += ", ";
        out += format(item);
        first = false;
    }
    return out + "]";
}

void write_real_server(std::string& out, const ServiceConfig& s, const RealServerConfig& rs)
{
    out += fmt::format("      - {{ address: {}", format_ipv4(rs.address));
    if (rs.port != s.port) out += fmt::format(", port: {}", rs.port);
    out += fmt::format(", weight: {}", rs.weight);
    if (rs.forward != s.forward) out += fmt::format(", forward: {}", forward_method_name(rs.forward));
    if (rs.upper_threshold != 0) out += fmt::format(", upper_threshold: {}", rs.upper_threshold);
    if (rs.lower_threshold != 0) out += fmt::format(", lower_threshold: {}", rs.lower_threshold);
    out += " }\n";
}

void write_service(std::string& out, const ServiceConfig& s)
{
    out += fmt::format("  - vip: {}\n", format_ipv4(s.vip));
    out += fmt::format("    port: {}\n", s.port);
    out += fmt::format("    protocol: {}\n", protocol_name(s.protocol));
    out += fmt::format("    scheduler: {}\n", yaml_string(s.scheduler));
    const sched::Flags& f = s.scheduler_flags;
    if (f.sh_port || f.sh_fallback || f.mh_port || f.mh_fallback) {
        std::vector<std::string_view> names;
        if (f.sh_fallback) names.push_back("sh-fallback");
        if (f.sh_port) names.push_back("sh-port");
        if (f.mh_fallback) names.push_back("mh-fallback");
        if (f.mh_port) names.push_back("mh-port");
        out += fmt::format("    scheduler_flags: {}\n", flow_list(names, [](std::string_view n) { return std::string(n); }));
    }
    if (s.mh_table_size != sched::default_mh_table_size) out += fmt::format("    mh_table_size: {}\n", s.mh_table_size);
    if (s.persistence != 0) out += fmt::format("    persistence: {}\n", s.persistence);
    if (s.persistence_netmask != 32) out += fmt::format("    persistence_netmask: {}\n", s.persistence_netmask);
    if (s.expire_quiescent_template) out += "    expire_quiescent_template: true\n";
    out += fmt::format("    forward: {}\n", forward_method_name(s.forward));
    if (!s.real_servers.empty()) {
        out += "    real_servers:\n";
        for (const RealServerConfig& rs : s.real_servers) write_real_server(out, s, rs);
    }
}

void write_timeouts(std::string& out, const dataplane::ConnTimeouts& t)
{
    using dataplane::TcpState;
    const dataplane::ConnTimeouts defaults = dataplane::ConnTimeouts::ipvs_defaults();
    out += "timeouts:\n";
    out += fmt::format("  tcp: {}\n", t.of(TcpState::established));
    out += fmt::format("  tcp_fin: {}\n", t.of(TcpState::fin_wait));
    out += fmt::format("  udp: {}\n", t.udp);
    for (size_t i = 0; i < dataplane::tcp_state_count; ++i) {
        const auto state = static_cast<TcpState>(i);
        // established and fin_wait are tcp and tcp_fin above; a file may name each only once.
        if (state == TcpState::established || state == TcpState::fin_wait) continue;
        if (t.of(state) != defaults.of(state))
            out += fmt::format("  {}: {}\n", dataplane::tcp_state_key(state), t.of(state));
    }
}

}  // namespace

std::string format_config_yaml(const Config& c)
{
    std::string out;
    out += "# Fulcrum's running configuration";
    if (!c.source_file.empty()) out += fmt::format(": {}, with the console's changes", c.source_file);
    out += "\n";

    out += "dataplane:\n";
    out += fmt::format("  workers: {}\n", c.dataplane.workers);
    if (!c.dataplane.eal.empty())
        out += fmt::format("  eal: {}\n", flow_list(c.dataplane.eal, [](const std::string& a) { return yaml_string(a); }));
    out += fmt::format("  conn_table_size: {}\n", c.dataplane.conn_table_size);
    out += fmt::format("  mbufs: {}\n", c.dataplane.mbufs);

    out += c.interfaces.empty() ? "interfaces: []\n" : "interfaces:\n";
    for (const InterfaceConfig& i : c.interfaces) {
        out += fmt::format("  - name: {}\n", yaml_string(i.name));
        out += fmt::format("    device: {}\n", yaml_string(i.device));
        if (i.addresses.size() == 1)
            out += fmt::format("    address: {}\n", prefix_text(i.addresses[0]));
        else
            out += fmt::format("    address: {}\n", flow_list(i.addresses, prefix_text));
        if (i.mtu != 1500) out += fmt::format("    mtu: {}\n", i.mtu);
        if (i.queues != 0) out += fmt::format("    queues: {}\n", i.queues);
    }

    if (!c.routes.empty()) {
        out += "routes:\n";
        for (const RouteConfig& r : c.routes) {
            out += fmt::format("  - {{ dst: {}, via: {}", prefix_text(r.dst), format_ipv4(r.via));
            if (!r.interface.empty()) out += fmt::format(", interface: {}", yaml_string(r.interface));
            out += " }\n";
        }
    }

    if (!c.neighbors.empty()) {
        out += "neighbors:\n";
        for (const NeighborConfig& n : c.neighbors)
            out += fmt::format("  - {{ ip: {}, mac: \"{}\" }}\n", format_ipv4(n.ip), format_mac(n.mac));
    }

    if (!c.services.empty()) {
        out += "services:\n";
        for (const ServiceConfig& s : c.services) write_service(out, s);
    }

    write_timeouts(out, c.timeouts);
    return out;
}

std::vector<std::string> check_config(const Config& config)
{
    const ConfigResult result = parse_config(format_config_yaml(config), "running configuration");
    std::vector<std::string> problems;
    problems.reserve(result.errors.size());
    for (const ConfigError& e : result.errors) problems.push_back(e.message);
    return problems;
}

}  // namespace fulcrum::control
