// What every importer builds: services in Fulcrum's own model, each with the notes that say what
// of the source could not be carried over, and the YAML they are written as. Internal to import/.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "control/config/config.hpp"

namespace fulcrum::control::migration {

struct ImportedRealServer {
    RealServerConfig config;          // health_check: the check this server gets, in full
    std::vector<std::string> notes;   // written as comments above it
};

struct ImportedService {
    std::string origin;                      // "FILE:LINE: what it was", the comment above it
    std::optional<ServiceConfig> config;     // nullopt: written as comments only
    std::vector<ImportedRealServer> real_servers;
    std::vector<std::string> notes;

    // Adds `text` once, however often a service's real servers bring it up.
    void note(std::string text);
};

struct ImportedFile {
    std::string kind;                        // "keepalived"
    std::string source;                      // the file's name, as given
    std::vector<std::string> notes;          // about the file as a whole, written at the top
    std::vector<ImportedService> services;
};

// What Fulcrum's checker would refuse, taken out with a note: a real server given twice (kept
// once), a sorry server that is also a real server (`sorry_name` is the source's word for it).
// Then the real servers' checks written once on the service when they are all the same, else on
// each real server that has one.
void finish_service(ImportedService& service, std::string_view sorry_name);

// `services:` and its comments, which parse_config reads once interfaces are added.
std::string imported_yaml(const ImportedFile& file);

// Why Fulcrum's checker would refuse this HTTP check setting ("" if it would not): the
// checker's own message, from a service written as imported_yaml writes it.
std::string http_check_problem(const HttpCheckConfig& http);

// 1000 -> "1", 1500 -> "1.5": seconds as the configuration writes them.
std::string seconds_text(uint32_t ms);
// A keepalived <TIMER> or ldirectord number of seconds ("3", "2.5", ".5") as milliseconds,
// rounded to the millisecond; nullopt when it is not a plain non-negative decimal.
std::optional<uint64_t> parse_seconds(std::string_view text);

// Fulcrum's bounds on a check's numbers, with a note when the source's value had to move.
uint32_t check_ms_within_limits(uint64_t ms, std::string_view what, ImportedService& service);
uint32_t count_within_limits(uint64_t count, std::string_view what, ImportedService& service);
// The check's timeout at most its interval, which Fulcrum requires.
void timeout_within_interval(HealthCheckConfig& check, ImportedService& service);

// The whole file, or an error "FILE: cannot read: REASON".
std::optional<std::string> read_text_file(const std::string& path, std::vector<ConfigError>& errors);

}  // namespace fulcrum::control::migration
