#include "control/import/imported.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <sys/stat.h>

#include <fstream>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "common/text.hpp"
#include "control/config/limits.hpp"

namespace fulcrum::control::migration {

namespace {

// A double-quoted YAML scalar: backslash, quote and control bytes escaped.
std::string quoted(std::string_view text)
{
    std::string out = "\"";
    for (const char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\')
            out += fmt::format("\\{}", c);
        else if (byte < 0x20 || byte == 0x7f)
            out += fmt::format("\\x{:02x}", byte);
        else
            out += c;
    }
    return out + "\"";
}

std::string status_text(const std::vector<StatusRange>& ranges)
{
    std::vector<std::string> parts;
    for (const StatusRange& r : ranges)
        parts.push_back(r.low == r.high ? std::to_string(r.low) : fmt::format("{}-{}", r.low, r.high));
    return join(parts, ",");
}

void comment(std::string& out, std::string_view indent, std::string_view text)
{
    std::string line(text);
    std::replace_if(line.begin(), line.end(), [](char c) { return c == '\n' || c == '\r'; }, ' ');
    out += fmt::format("{}# {}\n", indent, line);
}

// Every key, in block style, so the file shows what runs (the source's defaults included).
void write_health_check(std::string& out, std::string_view indent, const HealthCheckConfig& hc)
{
    out += fmt::format("{}health_check:\n", indent);
    const std::string in = std::string(indent) + "  ";
    out += fmt::format("{}type: {}\n", in, health_check_type_name(hc.type));
    if (hc.type == HealthCheckType::none) return;
    if (hc.port != 0) out += fmt::format("{}port: {}\n", in, hc.port);
    out += fmt::format("{}interval: {}\n", in, seconds_text(hc.interval_ms));
    out += fmt::format("{}timeout: {}\n", in, seconds_text(hc.timeout_ms));
    out += fmt::format("{}rise: {}\n", in, hc.rise);
    out += fmt::format("{}fall: {}\n", in, hc.fall);
    out += fmt::format("{}on_failure: {}\n", in, on_failure_name(hc.on_failure));
    if (hc.type != HealthCheckType::http) return;
    out += fmt::format("{}http:\n", in);
    out += fmt::format("{}  path: {}\n", in, quoted(hc.http.path));
    if (!hc.http.host.empty()) out += fmt::format("{}  host: {}\n", in, quoted(hc.http.host));
    if (!hc.http.expect_status.empty())
        out += fmt::format("{}  expect_status: {}\n", in, quoted(status_text(hc.http.expect_status)));
    if (!hc.http.expect_body.empty()) out += fmt::format("{}  expect_body: {}\n", in, quoted(hc.http.expect_body));
}

// An address as the file writes it: IPv6 in double quotes, as a ':' in a flow mapping's plain
// scalar is not read back as one string.
std::string address_text(const IpAddress& a) { return a.is_ipv4() ? format_ip(a) : quoted(format_ip(a)); }

void write_real_server(std::string& out, const ImportedRealServer& imported)
{
    for (const std::string& n : imported.notes) comment(out, "      ", n);
    const RealServerConfig& rs = imported.config;
    std::string fields = fmt::format("address: {}, port: {}, weight: {}, forward: {}", address_text(rs.address), rs.port,
                                     rs.weight, forward_method_name(rs.forward));
    if (rs.upper_threshold != 0) fields += fmt::format(", upper_threshold: {}", rs.upper_threshold);
    if (rs.lower_threshold != 0) fields += fmt::format(", lower_threshold: {}", rs.lower_threshold);
    if (!rs.health_check_overridden) {
        out += fmt::format("      - {{ {} }}\n", fields);
        return;
    }
    // Block style for a server with a check of its own: one key per line.
    std::string block = fields;
    for (size_t at; (at = block.find(", ")) != std::string::npos;) block.replace(at, 2, "\n        ");
    out += fmt::format("      - {}\n", block);
    write_health_check(out, "        ", rs.health_check);
}

void write_service(std::string& out, const ImportedService& imported)
{
    const ServiceConfig& s = *imported.config;
    out += fmt::format("  - vip: {}\n", address_text(s.vip));
    out += fmt::format("    port: {}\n", s.port);
    out += fmt::format("    protocol: {}\n", protocol_name(s.protocol));
    out += fmt::format("    scheduler: {}\n", s.scheduler);
    if (const std::string flags = sched::flags_text(s.scheduler_flags); !flags.empty())
        out += fmt::format("    scheduler_flags: [{}]\n", flags);
    out += fmt::format("    forward: {}\n", forward_method_name(s.forward));
    if (s.persistence != 0) {
        out += fmt::format("    persistence: {}\n", s.persistence);
        out += fmt::format("    persistence_netmask: {}\n", static_cast<unsigned>(s.persistence_netmask));
    }
    if (s.health_check.type != HealthCheckType::none) write_health_check(out, "    ", s.health_check);
    if (s.sorry_server) {
        out += fmt::format("    sorry_server: {{ address: {}", address_text(s.sorry_server->address));
        if (s.sorry_server->port != 0) out += fmt::format(", port: {}", s.sorry_server->port);
        out += " }\n";
    }
    if (imported.real_servers.empty()) {
        out += "    real_servers: []\n";
        return;
    }
    out += "    real_servers:\n";
    for (const ImportedRealServer& rs : imported.real_servers) write_real_server(out, rs);
}

}  // namespace

void ImportedService::note(std::string text)
{
    if (std::find(notes.begin(), notes.end(), text) == notes.end()) notes.push_back(std::move(text));
}

void finish_service(ImportedService& service, std::string_view sorry_name)
{
    if (!service.config) return;
    ServiceConfig& svc = *service.config;
    std::set<std::pair<IpAddress, uint16_t>> seen;
    std::vector<ImportedRealServer> kept;
    for (ImportedRealServer& rs : service.real_servers) {
        if (seen.insert({rs.config.address, rs.config.port}).second)
            kept.push_back(std::move(rs));
        else
            service.note(fmt::format("real server {} given twice: kept once",
                                     format_endpoint(rs.config.address, rs.config.port)));
    }
    service.real_servers = std::move(kept);
    if (svc.sorry_server) {
        const uint16_t port = svc.sorry_server->port != 0 ? svc.sorry_server->port : svc.port;
        if (seen.count({svc.sorry_server->address, port})) {
            service.note(fmt::format("{} {} not carried over: it is also a real server here, which Fulcrum refuses",
                                     sorry_name, format_endpoint(svc.sorry_server->address, port)));
            svc.sorry_server.reset();
        }
    }
    auto& reals = service.real_servers;
    const bool same = !reals.empty() && std::all_of(reals.begin(), reals.end(), [&](const ImportedRealServer& r) {
        return r.config.health_check == reals.front().config.health_check;
    });
    service.config->health_check = same ? reals.front().config.health_check : HealthCheckConfig{};
    for (ImportedRealServer& r : reals)
        r.config.health_check_overridden = !same && r.config.health_check.type != HealthCheckType::none;
}

std::string imported_yaml(const ImportedFile& file)
{
    std::string out = fmt::format("# Fulcrum services imported by `fulcrum import {} {}`.\n", file.kind, file.source);
    out += "# Add the interfaces (and routes) that reach these addresses, then check the file with\n"
           "# `fulcrum --check --config FILE`. Comments say what could not be carried over, and why.\n";
    for (const std::string& n : file.notes) comment(out, "", n);
    const bool any = std::any_of(file.services.begin(), file.services.end(),
                                 [](const ImportedService& s) { return s.config.has_value(); });
    out += any ? "services:\n" : "services: []\n";
    for (const ImportedService& s : file.services) {
        out += "\n";
        comment(out, "  ", s.origin);
        for (const std::string& n : s.notes) comment(out, "  ", n);
        if (s.config) write_service(out, s);
    }
    return out;
}

std::string http_check_problem(const HttpCheckConfig& http)
{
    ImportedFile probe;
    ImportedService service;
    service.config.emplace();
    service.config->vip = 0x0a000064;  // 10.0.0.100, behind the probe's interface
    service.config->port = 80;
    service.config->health_check.type = HealthCheckType::http;
    service.config->health_check.http = http;
    probe.services.push_back(service);
    const std::string yaml = "interfaces: [{ name: probe, device: \"net_null0\", address: 10.0.0.1/24 }]\n" +
                             imported_yaml(probe);
    const ConfigResult result = parse_config(yaml, "probe");
    if (result.errors.empty()) return "";
    // "services[0].health_check.http.path: expected ...": the message without its path.
    const std::string& message = result.errors.front().message;
    const size_t colon = message.find(": ");
    return colon == std::string::npos ? message : message.substr(colon + 2);
}

std::string seconds_text(uint32_t ms)
{
    std::string text = std::to_string(ms / 1000);
    if (ms % 1000 == 0) return text;
    std::string fraction = fmt::format("{:03}", ms % 1000);
    while (fraction.back() == '0') fraction.pop_back();
    return text + "." + fraction;
}

std::optional<uint64_t> parse_seconds(std::string_view text)
{
    const size_t dot = text.find('.');
    const std::string_view whole_text = text.substr(0, dot);
    const std::string_view fraction = dot == std::string_view::npos ? std::string_view{} : text.substr(dot + 1);
    if (whole_text.empty() && fraction.empty()) return std::nullopt;
    const auto whole = whole_text.empty() ? std::optional<uint64_t>(0) : parse_decimal(whole_text);
    if (!whole || *whole > 100'000'000) return std::nullopt;
    uint64_t micro = 0;
    uint64_t scale = 100000;  // digits past the sixth (keepalived's microseconds) count for nothing
    for (const char c : fraction) {
        if (c < '0' || c > '9') return std::nullopt;
        micro += static_cast<uint64_t>(c - '0') * scale;
        scale /= 10;
    }
    return *whole * 1000 + (micro + 500) / 1000;
}

uint32_t check_ms_within_limits(uint64_t ms, std::string_view what, ImportedService& service)
{
    const uint64_t bounded = std::clamp<uint64_t>(ms, limits::min_check_ms, limits::max_check_ms);
    if (bounded != ms)
        service.note(fmt::format("{} {} s is outside Fulcrum's {}..{} s: {} s here", what, seconds_text(static_cast<uint32_t>(std::min<uint64_t>(ms, UINT32_MAX))),
                                 seconds_text(limits::min_check_ms), seconds_text(limits::max_check_ms),
                                 seconds_text(static_cast<uint32_t>(bounded))));
    return static_cast<uint32_t>(bounded);
}

uint32_t count_within_limits(uint64_t count, std::string_view what, ImportedService& service)
{
    const uint64_t bounded = std::clamp<uint64_t>(count, 1, limits::max_rise_fall);
    if (bounded != count)
        service.note(fmt::format("{} {} is outside Fulcrum's 1..{}: {} here", what, count, limits::max_rise_fall, bounded));
    return static_cast<uint32_t>(bounded);
}

void timeout_within_interval(HealthCheckConfig& check, ImportedService& service)
{
    if (check.type == HealthCheckType::none || check.timeout_ms <= check.interval_ms) return;
    service.note(fmt::format("check timeout {} s is longer than its interval {} s, which Fulcrum refuses (a check "
                             "would overlap the next): timeout {} s here",
                             seconds_text(check.timeout_ms), seconds_text(check.interval_ms),
                             seconds_text(check.interval_ms)));
    check.timeout_ms = check.interval_ms;
}

std::optional<std::string> read_text_file(const std::string& path, std::vector<ConfigError>& errors)
{
    // A folder opens as a stream that reads nothing: it would pass for an empty file.
    struct stat st{};
    if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
        errors.push_back({path, 0, 0, "cannot read: Is a directory"});
        return std::nullopt;
    }
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    if (in) text << in.rdbuf();
    if (!in || in.bad()) {
        errors.push_back({path, 0, 0, fmt::format("cannot read: {}", std::strerror(errno))});
        return std::nullopt;
    }
    return text.str();
}

}  // namespace fulcrum::control::migration
