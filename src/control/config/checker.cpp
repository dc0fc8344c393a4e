// YAML → validated Config. Every key, default, range and message is listed in
// docs/configuration.md; keep the two in step.
// The checker's sections are in check_*.cpp; this file runs them in order and holds the
// configuration's public functions.
#include "control/config/checker.hpp"
#include "common/text.hpp"
#include "control/config/limits.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>

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

namespace fulcrum::control::checking {

ConfigResult Checker::run()
{
    ConfigResult result;
    DocumentScan scan;
    YAML::Node doc;
    try {
        scan = scan_documents(text_);
        if (!scan.stuck_at && !scan.first_alias && !scan.starts.empty()) doc = YAML::Load(std::string(text_));
    } catch (const YAML::Exception& e) {
        report(e.mark, "YAML syntax error: " + e.msg);
        result.errors = std::move(errors_);
        return result;
    }
    if (scan.stuck_at) {
        const auto pos = static_cast<size_t>(scan.stuck_at->pos);
        const std::string what = pos < text_.size() ? quote(text_.substr(pos, 1)) : "end of file";
        report(*scan.stuck_at, fmt::format("YAML syntax error: unexpected {}", what));
        result.errors = std::move(errors_);
        return result;
    }
    if (scan.first_alias) {
        report(*scan.first_alias, "YAML aliases (*name) are not accepted: write the value out where it is used");
        result.errors = std::move(errors_);
        return result;
    }

    const std::string expectation = fmt::format("a mapping (keys: {})", join(top_keys, ", "));
    if (scan.starts.empty()) {
        YAML::Mark start;
        start.line = 0;
        start.column = 0;
        report(start, fmt::format("expected {}, found an empty file", expectation));
    } else {
        if (scan.starts.size() > 1)
            report(scan.starts[1], "expected a single YAML document, found another one here");
        Item root{doc, doc.Mark(), ""};
        if (doc.IsNull()) {
            root.mark.line = 0;
            root.mark.column = 0;
        }
        if (auto m = mapping(root, top_spec, false)) {
            // Interfaces first, then routes: the later sections are checked against them.
            if (auto* i = m->find("dataplane")) check_dataplane(*i);
            if (auto* i = m->find("interfaces")) check_interfaces(*i);
            if (auto* i = m->find("routes"))
                check_routes(*i);
            else
                routes_complete_ = true;
            if (auto* i = m->find("neighbors")) check_neighbors(*i);
            if (auto* i = m->find("services")) check_services(*i);
            if (auto* i = m->find("timeouts")) check_timeouts(*i);
            if (auto* i = m->find("console")) check_console(*i);
            if (auto* i = m->find("metrics")) check_metrics(*i);
            if (auto* i = m->find("high_availability")) check_high_availability(*i);
            if (auto* i = m->find("sync")) check_sync(*i);
            if (auto* i = m->find("announce")) check_announce(*i);
            check_queue_pairs();
            check_mh_table_sizes();
            check_sorry_servers();
            check_kernel_interfaces();
            check_health_paths();
            check_sync_interface();
            check_announce_interface();
        }
    }

    std::stable_sort(errors_.begin(), errors_.end(), [](const ConfigError& a, const ConfigError& b) {
        return std::tie(a.line, a.column) < std::tie(b.line, b.column);
    });
    result.errors = std::move(errors_);
    if (result.errors.empty()) {
        config_.source_file = file_;
        result.config = std::move(config_);
    }
    return result;
}

}  // namespace fulcrum::control::checking

namespace fulcrum::control {

using checking::Checker;

std::string ConfigError::to_string() const
{
    if (line == 0) return fmt::format("{}: {}", file, message);
    return fmt::format("{}:{}:{}: {}", file, line, column, message);
}

ConfigResult parse_config(const std::string& yaml_text, const std::string& file_name)
{
    try {
        return Checker(yaml_text, file_name).run();
    } catch (const std::exception& e) {
        // Not expected (the checker only reads nodes it has type-checked), but no exception may
        // leave this API.
        ConfigResult r;
        r.errors.push_back(ConfigError{file_name, 0, 0, fmt::format("internal error while checking: {}", e.what())});
        return r;
    }
}

const InterfaceConfig* interface_holding(const Config& config, const IpAddress& ip, std::string_view only)
{
    const InterfaceConfig* holder = nullptr;
    for (const InterfaceConfig& iface : config.interfaces) {
        if (!only.empty() && iface.name != only) continue;
        if (is_ipv6_link_local(ip) && !only.empty()) return &iface;
        for (const IpPrefix& prefix : iface.addresses)
            if (prefix.contains(ip)) holder = &iface;
    }
    return holder;
}

uint32_t ipv6_conn_table_size(const Config& config)
{
    if (config.dataplane.conn_table_size_ipv6 != 0) return config.dataplane.conn_table_size_ipv6;
    for (const InterfaceConfig& iface : config.interfaces)
        for (const IpPrefix& prefix : iface.addresses)
            if (!prefix.address.is_ipv4()) return config.dataplane.conn_table_size;
    return static_cast<uint32_t>(limits::min_conn_table_size);
}

std::vector<Ipv4Prefix> ipv4_addresses(const InterfaceConfig& iface)
{
    std::vector<Ipv4Prefix> out;
    for (const IpPrefix& p : iface.addresses)
        if (p.address.is_ipv4()) out.push_back(Ipv4Prefix{p.address.ipv4(), p.length});
    return out;
}

std::string_view health_check_type_name(HealthCheckType type) { return checking::health_check_type_names[static_cast<size_t>(type)]; }

std::string_view on_failure_name(OnFailure action) { return checking::on_failure_names[static_cast<size_t>(action)]; }

ConfigResult load_config_file(const std::string& path)
{
    ConfigResult r;
    try {
        std::FILE* f = std::fopen(path.c_str(), "rb");
        if (!f) {
            r.errors.push_back(ConfigError{path, 0, 0, fmt::format("cannot read: {}", std::strerror(errno))});
            return r;
        }
        std::string text;
        char buf[65536];
        size_t n;
        while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
        const bool failed = std::ferror(f);
        const int err = errno;
        std::fclose(f);
        if (failed) {
            r.errors.push_back(ConfigError{path, 0, 0, fmt::format("cannot read: {}", std::strerror(err))});
            return r;
        }
        return parse_config(text, path);
    } catch (const std::exception& e) {
        r.errors.push_back(ConfigError{path, 0, 0, fmt::format("cannot read: {}", e.what())});
        return r;
    }
}

}  // namespace fulcrum::control
