// ipvsadm-save's rules (`ipvsadm -S -n`, with or without a leading "ipvsadm" on each line) as
// Fulcrum services: each rule is made as the console's `ipvsadm -R` makes it
// (frontends/ipvsadm_rules.hpp), so the two read a file alike.
#include "control/config/edits.hpp"
#include "control/frontends/ipvsadm_rules.hpp"
#include "control/import/import.hpp"
#include "control/import/imported.hpp"

#include <fmt/format.h>

#include <map>
#include <tuple>

namespace fulcrum::control::migration {

ImportResult import_ipvsadm(std::string_view text, const std::string& file_name)
{
    ImportResult result;
    ImportedFile out;
    out.kind = "ipvsadm";
    out.source = file_name;
    Config config;
    config.services.clear();
    std::map<ServiceKey, std::string> origin;  // where each service was added
    size_t number = 0;
    for (size_t start = 0; start < text.size(); ++number) {
        size_t end = text.find('\n', start);
        if (end == std::string_view::npos) end = text.size();
        std::string_view line = text.substr(start, end - start);
        if (line.ends_with('\r')) line.remove_suffix(1);
        start = end + 1;
        const size_t services_before = config.services.size();
        const IpvsadmRuleOutcome outcome = apply_ipvsadm_rule(config, line);
        const std::string where = fmt::format("{}:{}", file_name, number + 1);
        if (outcome.status == 2) {
            // A line ipvsadm itself would not take: the file is not what it says it is.
            result.errors.push_back(ConfigError{file_name, static_cast<int>(number + 1), 1, outcome.problem});
            continue;
        }
        if (!outcome.problem.empty()) {
            out.notes.push_back(fmt::format("{}: \"{}\" not carried over: {}", where, line, outcome.problem));
            continue;
        }
        if (line.find("--set") != std::string_view::npos || line.find("-daemon") != std::string_view::npos)
            out.notes.push_back(fmt::format("{}: \"{}\" is not a service: write it in the file's timeouts: or sync: "
                                            "sections (docs/configuration.md)",
                                            where, line));
        if (config.services.size() > services_before)
            origin[config.services.back().key()] = fmt::format("{}: {}", where, line);
    }
    if (!result.errors.empty()) return result;
    for (const ServiceConfig& s : config.services) {
        ImportedService service;
        service.origin = origin.count(s.key()) ? origin[s.key()] : fmt::format("{}: {}", file_name, service_name(s.key()));
        service.config = s;
        service.config->real_servers.clear();
        for (const RealServerConfig& rs : s.real_servers) service.real_servers.push_back(ImportedRealServer{rs, {}});
        if (s.real_servers.empty()) service.note("no real server: add them here, or later with fulcrumadm -a");
        finish_service(service, "sorry server");
        out.services.push_back(std::move(service));
    }
    result.yaml = imported_yaml(out);
    return result;
}

}  // namespace fulcrum::control::migration
