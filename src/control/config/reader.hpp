// The YAML reader under the checker: a node with where it is and how to name it, checked
// mappings, and the scan that finds where a stream's documents start. Internal to the checker.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "control/config/keys.hpp"

namespace fulcrum::control::checking {

bool contains(std::span<const std::string_view> names, std::string_view name);

// What a node is, for the "found ..." half of a message.
std::string describe(const YAML::Node& node);

// A node together with where to point at it and how to name it ("services[0].port").
struct Item {
    YAML::Node node;
    YAML::Mark mark;
    std::string path;
};

struct Field {
    std::string key;
    YAML::Mark key_mark;
    Item value;
};

// A checked mapping: the first value of each known key.
struct Mapping {
    std::vector<Field> fields;

    const Field* field(std::string_view key) const
    {
        for (const auto& f : fields)
            if (f.key == key) return &f;
        return nullptr;
    }
    const Item* find(std::string_view key) const
    {
        const Field* f = field(key);
        return f ? &f->value : nullptr;
    }
};

inline std::string prefixed(const std::string& path, std::string_view message)
{
    return path.empty() ? std::string(message) : fmt::format("{}: {}", path, message);
}

inline int line_of(const YAML::Mark& m) { return m.line + 1; }

struct DocumentScan {
    std::vector<YAML::Mark> starts;
    std::optional<YAML::Mark> stuck_at;
    std::optional<YAML::Mark> first_alias;
};

// Throws YAML::Exception (with a mark) on a syntax error.
DocumentScan scan_documents(std::string_view text);

}  // namespace fulcrum::control::checking
