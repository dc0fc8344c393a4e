// The checker's reader: mappings, lists and scalars, each checked and reported with its place.
#include "control/config/checker.hpp"
#include "common/text.hpp"

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
#include <sstream>
#include <yaml-cpp/eventhandler.h>

namespace fulcrum::control::checking {

bool contains(std::span<const std::string_view> names, std::string_view name)
{
    return std::find(names.begin(), names.end(), name) != names.end();
}

// What a node is, for the "found ..." half of a message.
std::string describe(const YAML::Node& node)
{
    switch (node.Type()) {
    case YAML::NodeType::Null: return "an empty value";
    case YAML::NodeType::Sequence: return node.size() == 0 ? "an empty list" : "a list";
    case YAML::NodeType::Map: return node.size() == 0 ? "an empty mapping" : "a mapping";
    case YAML::NodeType::Scalar: return quote(node.Scalar());
    case YAML::NodeType::Undefined: break;
    }
    return "nothing";
}

// Why an address cannot be a host's unicast address, or nullopt when it can.
std::optional<std::string_view> not_unicast(const IpAddress& ip)
{
    if (ip.is_ipv6()) {
        const IpAddress::Bytes& b = ip.bytes();
        const bool first_80_zero = std::all_of(b.begin(), b.begin() + 10, [](uint8_t x) { return x == 0; });
        if (ip == IpAddress::ipv6({})) return "the unspecified address";
        if (first_80_zero && b[10] == 0 && b[11] == 0 && b[12] == 0 && b[13] == 0 && b[14] == 0 && b[15] == 1)
            return "a loopback address";
        if (is_ipv6_multicast(ip)) return "a multicast address";
        // ::ffff:0:0/96 is how a socket shows an IPv4 peer: the IPv4 address is meant.
        if (first_80_zero && b[10] == 0xff && b[11] == 0xff) return "an IPv4-mapped address (write the IPv4 address)";
        return std::nullopt;
    }
    const Ipv4 v4 = ip.ipv4();
    if ((v4 >> 24) == 0) return "an address in 0.0.0.0/8";
    if ((v4 >> 24) == 127) return "a loopback address";
    if (is_ipv4_multicast(v4)) return "a multicast address";
    if (v4 == 0xffffffff) return "the broadcast address";
    if ((v4 >> 28) == 0xf) return "a reserved address";
    return std::nullopt;
}

// Where each document of a stream starts, from the parser's events alone.
//
// yaml-cpp 0.7 cannot start a node at a stray ',' (",dataplane:" at the top level, or a ','
// line after a block list): it reports an empty document there without consuming the token,
// again and again, so YAML::LoadAll never returns and YAML::Load silently drops the rest of the
// file (jbeder/yaml-cpp#1040, fixed upstream after 0.8.0). Two documents starting at one place
// mean exactly that: `stuck_at` is set and the file is refused.
class DocumentStarts : public YAML::EventHandler {
public:
    std::vector<YAML::Mark> starts;

    void OnDocumentStart(const YAML::Mark& mark) override { starts.push_back(mark); }
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
    // A configuration has no use for aliases, and a few of them nested expand a small file
    // into millions of nodes ("billion laughs"): the first one is refused.
    std::optional<YAML::Mark> first_alias;
    void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override
    {
        if (!first_alias) first_alias = mark;
    }
    void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t, const std::string&) override {}
    void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
    void OnSequenceEnd() override {}
    void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
    void OnMapEnd() override {}
};

// Throws YAML::Exception (with a mark) on a syntax error.
DocumentScan scan_documents(std::string_view text)
{
    std::istringstream in{std::string(text)};
    YAML::Parser parser(in);
    DocumentStarts events;
    DocumentScan scan;
    while (parser.HandleNextDocument(events)) {
        const auto& s = events.starts;
        // Every real document consumes at least one token, so this bound is never reached by one.
        if ((s.size() >= 2 && s[s.size() - 1].pos == s[s.size() - 2].pos) || s.size() > text.size() + 1) {
            scan.stuck_at = s.back();
            break;
        }
    }
    scan.starts = std::move(events.starts);
    scan.first_alias = events.first_alias;
    return scan;
}

// yaml-cpp marks an empty value ("key:" or "-" with nothing after it) at the next token, which may
// be lines further down. Point instead at the ':' or '-' that introduced it: the last character
// before the mark that is not blank and not in a comment.
YAML::Mark Checker::empty_value_mark(const YAML::Mark& m) const
{
    size_t end = (m.pos < 0 || static_cast<size_t>(m.pos) > text_.size()) ? text_.size()
                                                                          : static_cast<size_t>(m.pos);
    const std::string_view at = text_.substr(end);
    for (std::string_view word : {"~", "null", "Null", "NULL"})
        if (at.starts_with(word)) return m;  // an explicit null is marked where it is
    while (end > 0) {
        const size_t nl = text_.rfind('\n', end - 1);
        const size_t start = nl == std::string_view::npos ? 0 : nl + 1;
        std::string_view seg = text_.substr(start, end - start);
        for (size_t i = 0; i < seg.size(); ++i) {
            if (seg[i] == '#' && (i == 0 || seg[i - 1] == ' ' || seg[i - 1] == '\t')) {
                seg = seg.substr(0, i);
                break;
            }
        }
        while (!seg.empty() && (seg.back() == ' ' || seg.back() == '\t' || seg.back() == '\r'))
            seg.remove_suffix(1);
        if (!seg.empty()) {
            const size_t pos = start + seg.size() - 1;
            YAML::Mark r;
            r.pos = static_cast<int>(pos);
            r.line = static_cast<int>(std::count(text_.begin(), text_.begin() + static_cast<long>(pos), '\n'));
            r.column = static_cast<int>(pos - start);
            return r;
        }
        if (start == 0) break;
        end = start - 1;
    }
    return m;
}

Item Checker::child(const Item& parent, const YAML::Node& key, const YAML::Node& value,
                    const std::string& name)
{
    // An empty value is best shown at its key.
    return Item{value, value.IsNull() ? key.Mark() : value.Mark(),
                parent.path.empty() ? name : parent.path + "." + name};
}

Item Checker::element(const Item& list, const YAML::Node& node, size_t index)
{
    return Item{node, node.IsNull() ? empty_value_mark(node.Mark()) : node.Mark(),
                fmt::format("{}[{}]", list.path, index)};
}

std::optional<Mapping> Checker::mapping(const Item& item, const MapSpec& spec, bool null_is_empty)
{
    if (item.node.IsNull() && null_is_empty) return Mapping{};
    if (!item.node.IsMap()) {
        expected(item, fmt::format("a mapping (keys: {})", join(spec.keys, ", ")));
        return std::nullopt;
    }
    Mapping m;
    for (const auto& pair : item.node) {
        // Copies: a map iterator's pair is a temporary, and references into it dangle.
        const YAML::Node key = pair.first;
        const YAML::Node value = pair.second;
        if (!key.IsScalar()) {
            report(key.Mark(), prefixed(item.path, fmt::format("expected a key name, found {}", describe(key))));
            continue;
        }
        const std::string& name = key.Scalar();
        if (!contains(spec.keys, name)) {
            report(key.Mark(), prefixed(item.path, fmt::format("unknown key {} {} (expected one of: {})",
                                                               quote(name), spec.where, join(spec.keys, ", "))));
            continue;
        }
        // yaml-cpp keeps the first of two equal keys without a word: find the second ourselves.
        if (const Field* first = m.field(name)) {
            report(key.Mark(), prefixed(item.path, fmt::format("key {} given twice in this mapping (first at line {})",
                                                               quote(name), line_of(first->key_mark))));
            continue;
        }
        m.fields.push_back(Field{name, key.Mark(), child(item, key, value, name)});
    }
    for (auto req : spec.required) {
        if (!m.find(req))
            report(item, fmt::format("missing required key \"{}\" {}", req, spec.where));
    }
    return m;
}

std::optional<std::vector<Item>> Checker::list(const Item& item, std::string_view what, bool null_is_empty)
{
    if (item.node.IsNull() && null_is_empty) return std::vector<Item>{};
    if (!item.node.IsSequence()) {
        expected(item, what);
        return std::nullopt;
    }
    std::vector<Item> items;
    size_t i = 0;
    for (const auto& n : item.node) items.push_back(element(item, n, i++));
    return items;
}

std::optional<std::string> Checker::string(const Item& item, std::string_view what)
{
    if (!item.node.IsScalar()) {
        expected(item, what);
        return std::nullopt;
    }
    return item.node.Scalar();
}

std::optional<bool> Checker::boolean(const Item& item)
{
    if (item.node.IsScalar() && (item.node.Scalar() == "true" || item.node.Scalar() == "false") && item.node.Tag() != "!")
        return item.node.Scalar() == "true";
    expected(item, "true or false");
    return std::nullopt;
}

std::optional<uint64_t> Checker::integer(const Item& item, uint64_t lo, uint64_t hi, std::string_view what)
{
    const std::string expectation = what.empty() ? fmt::format("an integer from {} to {}", lo, hi) : std::string(what);
    const YAML::Node& n = item.node;
    if (n.IsScalar()) {
        // "8080" in quotes is a string in YAML; say so, or the message would look self-contradictory.
        if (n.Tag() == "!") {
            expected(item, expectation, "a quoted string " + quote(n.Scalar()));
            return std::nullopt;
        }
        auto v = parse_decimal(n.Scalar());
        if (v && *v >= lo && *v <= hi) return v;
    }
    expected(item, expectation);
    return std::nullopt;
}

std::optional<size_t> Checker::choice(const Item& item, std::string_view noun,
                                      std::span<const std::string_view> names)
{
    if (!item.node.IsScalar()) {
        expected(item, fmt::format("a {} (one of: {})", noun, join(names, ", ")));
        return std::nullopt;
    }
    const std::string& s = item.node.Scalar();
    for (size_t i = 0; i < names.size(); ++i)
        if (names[i] == s) return i;
    report(item, fmt::format("unknown {} {} (expected one of: {})", noun, quote(s), join(names, ", ")));
    return std::nullopt;
}

std::optional<IpAddress> Checker::address(const Item& item)
{
    constexpr std::string_view what = "an IPv4 or IPv6 address (like 10.0.0.1 or 2001:db8::1)";
    auto s = string(item, what);
    if (!s) return std::nullopt;
    auto ip = parse_ip(*s);
    if (!ip) expected(item, what);
    return ip;
}

std::optional<Ipv4> Checker::ipv4_address(const Item& item)
{
    constexpr std::string_view what = "an IPv4 address (like 10.0.0.1)";
    auto s = string(item, what);
    if (!s) return std::nullopt;
    auto ip = parse_ipv4(*s);
    if (!ip) expected(item, what);
    return ip;
}

std::optional<IpAddress> Checker::unicast_address(const Item& item, bool link_local)
{
    auto ip = address(item);
    if (!ip) return std::nullopt;
    const std::string_view unicast = ip->is_ipv4() ? "a unicast IPv4 address" : "a unicast IPv6 address";
    if (auto why = not_unicast(*ip)) {
        expected(item, unicast, fmt::format("{}, {}", describe(item.node), *why));
        return std::nullopt;
    }
    if (!link_local && is_ipv6_link_local(*ip)) {
        expected(item, "a global IPv6 address", fmt::format("{}, a link-local address", describe(item.node)));
        return std::nullopt;
    }
    return ip;
}

}  // namespace fulcrum::control::checking
