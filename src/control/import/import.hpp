// `fulcrum import KIND FILE`: another director's configuration turned into Fulcrum's `services:`
// (docs/migration.md). The interfaces and routes stay the operator's to write; what could not be
// carried over is said in a YAML comment where it stood.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "control/config/config.hpp"

namespace fulcrum::control::migration {

struct ImportResult {
    std::string yaml;                  // `services:` with comments; set only when errors is empty
    std::vector<ConfigError> errors;   // FILE:LINE:COLUMN: message, in the order found
};

// keepalived.conf: virtual_server and virtual_server_group blocks. `include` directives are
// followed, relative to the including file's directory, as keepalived does.
ImportResult import_keepalived(std::string_view text, const std::string& file_name);
// ldirectord.cf: virtual= sections and the global settings that apply to all of them, with
// ldirectord's defaults written out.
ImportResult import_ldirectord(std::string_view text, const std::string& file_name);
// ipvsadm-save's rules, made as the console's ipvsadm -R makes them; a rule ipvsadm would not take
// is an error, one the table refuses (an IPv6 service, a real server of no service) a comment.
ImportResult import_ipvsadm(std::string_view text, const std::string& file_name);

// One kind of file `fulcrum import` reads. To add one (ipvsadm-save files, say): a function of
// this shape in its own file beside keepalived.cpp, and a row in import_kinds (import.cpp).
struct ImportKind {
    std::string_view name;          // the KIND argument
    std::string_view description;   // for the usage text
    ImportResult (*import)(std::string_view text, const std::string& file_name);
};

std::span<const ImportKind> import_kinds();
const ImportKind* find_import_kind(std::string_view name);  // nullptr when there is none
// Reads `path` and imports it; an unreadable file gives "PATH: cannot read: REASON".
ImportResult import_file(const ImportKind& kind, const std::string& path);

}  // namespace fulcrum::control::migration
