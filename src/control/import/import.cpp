#include "control/import/import.hpp"

#include <array>

#include "control/import/imported.hpp"

namespace fulcrum::control::migration {

namespace {

// Every kind `fulcrum import` knows, in the order its usage lists them.
constexpr std::array kinds{
    ImportKind{"keepalived", "keepalived.conf: virtual_server and virtual_server_group blocks", import_keepalived},
    ImportKind{"ldirectord", "ldirectord.cf: virtual= sections and global settings", import_ldirectord},
    ImportKind{"ipvsadm", "ipvsadm-save's rules (ipvsadm -S -n), as ipvsadm -R reads them", import_ipvsadm},
};

}  // namespace

std::span<const ImportKind> import_kinds() { return kinds; }

const ImportKind* find_import_kind(std::string_view name)
{
    for (const ImportKind& k : kinds)
        if (k.name == name) return &k;
    return nullptr;
}

ImportResult import_file(const ImportKind& kind, const std::string& path)
{
    ImportResult result;
    if (auto text = read_text_file(path, result.errors)) return kind.import(*text, path);
    return result;
}

}  // namespace fulcrum::control::migration
