// YAML → validated Config. Every key, default, range and message is listed in
// docs/configuration.md; keep the two in step.
//
// The checker never stops at the first problem: each section is checked as far as it can be, the
// cross-checks (routes against connected subnets, real servers against routes) run only when the
// sections they depend on were clean, so that one typo does not cascade into a page of errors.
#include "control/config.hpp"
#include "control/text.hpp"

#include "dataplane/persistence.hpp"

#include <algorithm>
#include <bit>
#include <charconv>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <map>
#include <regex>
#include <span>
#include <sstream>
#include <string_view>
#include <tuple>
#include <utility>

#include <fmt/format.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

namespace fulcrum::control {

namespace {

// The schedulers the dataplane implements, by their ipvsadm -s names. The one list the checker
// and its messages use; it grows with src/sched/.
// The names sched::kind_from_name knows, in the order error messages list them.
const std::array<std::string_view, sched::all_kinds.size()> known_schedulers = [] {
    std::array<std::string_view, sched::all_kinds.size()> names{};
    for (size_t i = 0; i < names.size(); ++i) names[i] = sched::kind_name(sched::all_kinds[i]);
    return names;
}();

constexpr std::array<std::string_view, 2> protocol_names{"tcp", "udp"};
constexpr auto forward_names = [] {
    std::array<std::string_view, forward_methods.size()> names{};
    for (size_t i = 0; i < names.size(); ++i) names[i] = forward_methods[i].name;
    return names;
}();

// Ranges (inclusive) of the numeric keys.
constexpr uint64_t max_workers = 64;
constexpr uint64_t min_conn_table_size = 1024;
constexpr uint64_t max_conn_table_size = 16777216;  // 2^24 per worker
constexpr uint64_t min_mbufs = 1024;
constexpr uint64_t max_mbufs = 1048576;
constexpr uint64_t min_kernel_rate = 100;           // frames per second and worker
constexpr uint64_t max_kernel_rate = 10000000;
constexpr uint64_t min_mtu = 68;                    // RFC 791's minimum
constexpr uint64_t max_mtu = 9000;
constexpr uint64_t max_timeout = 31536000;
constexpr uint64_t max_am_droprate = 1000000;
constexpr uint64_t min_icmp_rate = 10;
constexpr uint64_t max_icmp_rate = 10000000;          // one year, in seconds
constexpr size_t max_interface_name = 15;           // IFNAMSIZ - 1, so names fit kernel-style fields

// The keys each kind of mapping accepts, in the order the docs list them.
constexpr std::array<std::string_view, 8> top_keys{"dataplane", "interfaces", "routes",  "neighbors",
                                                    "services",  "timeouts",   "console", "metrics"};
constexpr std::array<std::string_view, 1> top_required{"interfaces"};
constexpr std::array<std::string_view, 13> dataplane_keys{
    "workers",    "eal",         "conn_table_size", "mbufs",      "expire_nodest_conn", "kernel_rate_limit",
    "drop_entry", "drop_packet", "secure_tcp",      "flood_mode", "amemthresh",         "am_droprate",
    "icmp_rate_limit"};
constexpr std::array<std::string_view, 1> listen_keys{"listen"};
constexpr std::array<std::string_view, 6> interface_keys{"name", "device", "address", "mtu", "queues",
                                                          "kernel_interface"};
constexpr std::array<std::string_view, 3> interface_required{"name", "device", "address"};
constexpr std::array<std::string_view, 3> route_keys{"dst", "via", "interface"};
constexpr std::array<std::string_view, 2> route_required{"dst", "via"};
constexpr std::array<std::string_view, 2> neighbor_keys{"ip", "mac"};
constexpr std::array<std::string_view, 2> neighbor_required{"ip", "mac"};
constexpr std::array<std::string_view, 13> service_keys{
    "vip",           "port",          "protocol",    "scheduler",           "forward",                  "real_servers",
    "scheduler_flags", "mh_table_size", "persistence", "persistence_netmask", "expire_quiescent_template",
    "health_check",  "sorry_server"};
constexpr std::array<std::string_view, 3> service_required{"vip", "port", "protocol"};
constexpr std::array<std::string_view, 7> real_server_keys{"address", "port", "weight", "forward",
                                                           "upper_threshold", "lower_threshold", "health_check"};
constexpr std::array<std::string_view, 8> health_check_keys{"type", "port", "interval", "timeout",
                                                            "rise", "fall", "on_failure", "http"};
constexpr std::array<std::string_view, 4> http_check_keys{"path", "host", "expect_status", "expect_body"};
constexpr std::array<std::string_view, 2> sorry_server_keys{"address", "port"};
constexpr std::array<std::string_view, 1> sorry_server_required{"address"};
constexpr std::array<std::string_view, 3> health_check_type_names{"none", "tcp", "http"};
constexpr std::array<std::string_view, 2> on_failure_names{"remove", "quiesce"};
constexpr uint64_t min_check_ms = 10;
constexpr uint64_t max_check_ms = 3600 * 1000;
constexpr uint64_t max_rise_fall = 1000;
constexpr size_t max_body_regex_length = 64;
constexpr uint64_t max_body_regex_repeat = 32;

// The product of the bounds (n, or m when given) of the counted repeats {n}, {n,} and {n,m} in
// an ECMAScript regex (1 for none): nested repeats multiply the automaton's states, and counting
// every repeat as if nested is the safe side. Escaped braces and braces inside [...] are literal.
uint64_t repeat_bound_product(std::string_view regex)
{
    uint64_t product = 1;
    bool in_class = false;
    for (size_t i = 0; i < regex.size(); ++i) {
        const char c = regex[i];
        if (c == '\\') {
            ++i;
            continue;
        }
        if (in_class) {
            in_class = c != ']';
            continue;
        }
        if (c == '[') {
            in_class = true;
            continue;
        }
        if (c != '{') continue;
        uint64_t bound = 0;
        for (size_t j = i + 1; j < regex.size() && regex[j] != '}'; ++j) {
            uint64_t n = 0;
            bool digits = false;
            while (j < regex.size() && regex[j] >= '0' && regex[j] <= '9') {
                n = std::min<uint64_t>(n * 10 + static_cast<uint64_t>(regex[j] - '0'), 1u << 30);
                digits = true;
                ++j;
            }
            if (digits) bound = std::max(bound, n);
            if (j >= regex.size() || regex[j] != ',') break;
        }
        product = std::min<uint64_t>(product * std::max<uint64_t>(bound, 1), 1u << 30);
    }
    return product;
}
constexpr std::array<std::string_view, 1> real_server_required{"address"};
// tcp, tcp_fin, udp (ipvsadm --set), then every TCP state by its lower-case name.
const auto& timeout_keys = dataplane::timeout_key_names();

struct MapSpec {
    std::string_view where;  // "in service": completes "unknown key ... / missing required key ..."
    std::span<const std::string_view> keys;
    std::span<const std::string_view> required;
};

constexpr MapSpec top_spec{"at the top level", top_keys, top_required};
constexpr MapSpec dataplane_spec{"in dataplane", dataplane_keys, {}};
constexpr MapSpec console_spec{"in console", listen_keys, {}};
constexpr MapSpec metrics_spec{"in metrics", listen_keys, {}};
constexpr MapSpec interface_spec{"in interface", interface_keys, interface_required};
constexpr MapSpec route_spec{"in route", route_keys, route_required};
constexpr MapSpec neighbor_spec{"in neighbor", neighbor_keys, neighbor_required};
constexpr MapSpec service_spec{"in service", service_keys, service_required};
constexpr MapSpec real_server_spec{"in real server", real_server_keys, real_server_required};
const MapSpec timeouts_spec{"in timeouts", timeout_keys, {}};
constexpr MapSpec health_check_spec{"in health_check", health_check_keys, {}};
constexpr MapSpec http_check_spec{"in health_check.http", http_check_keys, {}};
constexpr MapSpec sorry_server_spec{"in sorry_server", sorry_server_keys, sorry_server_required};

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

bool is_power_of_two(uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }

// Why an address cannot be a host's unicast address, or nullopt when it can.
std::optional<std::string_view> not_unicast(Ipv4 ip)
{
    if ((ip >> 24) == 0) return "an address in 0.0.0.0/8";
    if ((ip >> 24) == 127) return "a loopback address";
    if ((ip >> 28) == 0xe) return "a multicast address";
    if (ip == 0xffffffff) return "the broadcast address";
    if ((ip >> 28) == 0xf) return "a reserved address";
    return std::nullopt;
}

bool valid_interface_name(std::string_view name)
{
    if (name.empty() || name.size() > max_interface_name) return false;
    return std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '-';
    });
}

bool is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

// "DDDD:BB:DD.F" or "BB:DD.F" (hex; device <= 0x1f, function <= 7), normalised to the long form
// in lower case; nullopt when `text` is not a PCI address.
std::optional<std::string> normalise_pci(std::string_view text)
{
    std::string s(text);
    if (s.size() == 7) s = "0000:" + s;
    if (s.size() != 12 || s[4] != ':' || s[7] != ':' || s[10] != '.') return std::nullopt;
    constexpr std::array<size_t, 9> digits{0, 1, 2, 3, 5, 6, 8, 9, 11};
    for (size_t i : digits)
        if (!is_hex(s[i])) return std::nullopt;
    std::transform(s.begin(), s.end(), s.begin(),
                   [](char c) { return static_cast<char>(c >= 'A' && c <= 'F' ? c - 'A' + 'a' : c); });
    // Device numbers stop at 0x1f, functions at 7.
    if (s[8] > '1' || s[11] > '7') return std::nullopt;
    return s;
}

// The identity of a device for duplicate detection: EAL knows a vdev by its name (the text before
// the first ','), a PCI device by its address. nullopt when `spec` is neither.
std::optional<std::string> device_identity(std::string_view spec)
{
    const auto comma = spec.find(',');
    const std::string_view head = spec.substr(0, comma);
    const std::string_view args = comma == std::string_view::npos ? "" : spec.substr(comma + 1);
    if (comma != std::string_view::npos && args.empty()) return std::nullopt;
    if (std::any_of(args.begin(), args.end(), [](char c) { return c <= ' ' || c == 0x7f; }))
        return std::nullopt;
    if (auto pci = normalise_pci(head)) return pci;
    if (head.empty() || !((head[0] >= 'a' && head[0] <= 'z') || (head[0] >= 'A' && head[0] <= 'Z')))
        return std::nullopt;
    const bool name_ok = std::all_of(head.begin(), head.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    });
    if (!name_ok) return std::nullopt;
    return std::string(head);
}

std::string format_prefix(const Ipv4Prefix& p) { return fmt::format("{}/{}", format_ipv4(p.address), p.length); }

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

std::string prefixed(const std::string& path, std::string_view message)
{
    return path.empty() ? std::string(message) : fmt::format("{}: {}", path, message);
}

int line_of(const YAML::Mark& m) { return m.line + 1; }

// A subnet the director is attached to, and the interface it is on.
struct Connected {
    Ipv4Prefix prefix;
    std::string interface;
};

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

struct DocumentScan {
    std::vector<YAML::Mark> starts;
    std::optional<YAML::Mark> stuck_at;
    std::optional<YAML::Mark> first_alias;
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

class Checker {
public:
    Checker(std::string_view text, std::string file) : text_(text), file_(std::move(file)) {}

    ConfigResult run();

private:
    // --- reporting ---
    void report(const YAML::Mark& at, std::string message)
    {
        ConfigError e;
        e.file = file_;
        if (at.line >= 0 && at.column >= 0) {
            e.line = at.line + 1;
            e.column = at.column + 1;
        }
        e.message = std::move(message);
        errors_.push_back(std::move(e));
    }
    void report(const Item& at, std::string_view message) { report(at.mark, prefixed(at.path, message)); }
    void expected(const Item& item, std::string_view what)
    {
        report(item, fmt::format("expected {}, found {}", what, describe(item.node)));
    }
    void expected(const Item& item, std::string_view what, std::string_view found)
    {
        report(item, fmt::format("expected {}, found {}", what, found));
    }

    // --- structure ---
    YAML::Mark empty_value_mark(const YAML::Mark& m) const;
    Item child(const Item& parent, const YAML::Node& key, const YAML::Node& value, const std::string& name);
    Item element(const Item& list, const YAML::Node& node, size_t index);
    std::optional<Mapping> mapping(const Item& item, const MapSpec& spec, bool null_is_empty);
    std::optional<std::vector<Item>> list(const Item& item, std::string_view what, bool null_is_empty);

    // --- scalars ---
    std::optional<std::string> string(const Item& item, std::string_view what);
    std::optional<uint64_t> integer(const Item& item, uint64_t lo, uint64_t hi, std::string_view what = {});
    std::optional<size_t> choice(const Item& item, std::string_view noun,
                                 std::span<const std::string_view> names);
    std::optional<Ipv4> address(const Item& item);
    std::optional<Ipv4> unicast_address(const Item& item);

    // --- sections ---
    void check_dataplane(const Item& item);
    void check_listener(const Item& item, const MapSpec& spec, std::string& listen);
    void check_interfaces(const Item& item);
    void check_interface(const Item& item);
    void check_routes(const Item& item);
    void check_neighbors(const Item& item);
    void check_services(const Item& item);
    bool check_service(const Item& item);
    void check_real_server(const Item& item, ServiceConfig& svc, bool svc_forward_ok,
                           std::map<std::pair<Ipv4, uint16_t>, int>& seen);
    void check_timeouts(const Item& item);
    // `base` with the keys `item` gives applied over it (a real server's override of its service's).
    // `timeout_given`: whether a timeout was given (here or, for a real server, by its service).
    HealthCheckConfig check_health_check(const Item& item, const HealthCheckConfig& base, bool& timeout_given);
    void check_http_check(const Item& item, HttpCheckConfig& http);
    std::optional<std::vector<StatusRange>> status_ranges(const Item& item);
    std::optional<uint32_t> milliseconds(const Item& item, uint64_t lo, uint64_t hi);
    void check_sorry_servers();
    void check_kernel_interfaces();
    void check_health_paths();
    const InterfaceConfig* interface_reaching(Ipv4 ip) const;
    void check_queue_pairs();
    void check_mh_table_sizes();

    // --- cross-checks ---
    std::string connected_list(std::string_view only_interface = {}) const;
    std::optional<std::string> own_address(Ipv4 ip) const;
    bool in_connected_subnet(Ipv4 ip) const;
    bool reachable(Ipv4 ip) const;

    std::string_view text_;
    std::string file_;
    std::vector<ConfigError> errors_;
    Config config_;

    // Cross-checks run only against complete data: a route's `interface` only when every interface
    // has a valid, unique name; subnet checks only when every interface address was read; the
    // reachability of real servers only when, in addition, every route's dst was read.
    bool names_complete_ = false;
    std::vector<std::pair<Item, size_t>> interface_devices_;  // each interface's device node and index
    std::vector<std::pair<Item, size_t>> mh_size_items_;      // each mh_table_size node and its service
    std::vector<std::pair<Item, size_t>> sorry_items_;        // each sorry_server address node and its service
    bool service_timeout_given_ = false;                      // the service being checked gave a check timeout
    std::vector<Item> interface_items_;                       // each interface's mapping
    bool interfaces_clean_ = false;                           // `interfaces` had no problem at all
    std::vector<std::pair<Item, Ipv4>> checked_real_servers_; // each health-checked real server
    bool subnets_complete_ = false;
    bool routes_complete_ = false;
    std::vector<Connected> connected_;
    std::map<std::string, int> interface_names_;     // name → line
    std::map<std::string, int> devices_;             // device identity → line
    std::map<Ipv4, int> own_addresses_;              // interface address → line
};

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

std::optional<Ipv4> Checker::address(const Item& item)
{
    constexpr std::string_view what = "an IPv4 address (like 10.0.0.1)";
    auto s = string(item, what);
    if (!s) return std::nullopt;
    auto ip = parse_ipv4(*s);
    if (!ip) expected(item, what);
    return ip;
}

std::optional<Ipv4> Checker::unicast_address(const Item& item)
{
    auto ip = address(item);
    if (!ip) return std::nullopt;
    if (auto why = not_unicast(*ip)) {
        expected(item, "a unicast IPv4 address", fmt::format("{}, {}", describe(item.node), *why));
        return std::nullopt;
    }
    return ip;
}

// --- cross-check helpers ---

std::string Checker::connected_list(std::string_view only_interface) const
{
    std::vector<std::string> subnets;  // two addresses in one subnet name it once
    for (const auto& c : connected_) {
        if (!only_interface.empty() && c.interface != only_interface) continue;
        std::string s = format_prefix(Ipv4Prefix{c.prefix.network(), c.prefix.length});
        if (only_interface.empty()) s += " on " + c.interface;
        if (std::find(subnets.begin(), subnets.end(), s) == subnets.end()) subnets.push_back(std::move(s));
    }
    std::string out;
    for (const auto& s : subnets) out += (out.empty() ? "" : ", ") + s;
    return out;
}

std::optional<std::string> Checker::own_address(Ipv4 ip) const
{
    for (const auto& c : connected_)
        if (c.prefix.address == ip) return c.interface;
    return std::nullopt;
}

bool Checker::in_connected_subnet(Ipv4 ip) const
{
    return std::any_of(connected_.begin(), connected_.end(),
                       [ip](const Connected& c) { return c.prefix.contains(ip); });
}

bool Checker::reachable(Ipv4 ip) const
{
    return in_connected_subnet(ip) ||
           std::any_of(config_.routes.begin(), config_.routes.end(),
                       [ip](const RouteConfig& r) { return r.dst.contains(ip); });
}

// --- sections ---

// `listen: "ADDRESS:PORT"`, or `listen: ""` for off.
void Checker::check_listener(const Item& item, const MapSpec& spec, std::string& listen)
{
    auto m = mapping(item, spec, true);
    if (!m) return;
    auto* l = m->find("listen");
    if (l == nullptr) return;
    constexpr std::string_view what = "an IPv4 address and port like \"127.0.0.1:9023\", or \"\" for off";
    auto s = string(*l, what);
    if (!s) return;
    if (s->empty()) {
        listen.clear();
        return;
    }
    const size_t colon = s->rfind(':');
    if (colon == std::string::npos || !parse_ipv4(std::string_view(*s).substr(0, colon)) ||
        !parse_number<uint16_t>(std::string_view(*s).substr(colon + 1), 1, 65535)) {
        expected(*l, what);
        return;
    }
    listen = *s;
}

void Checker::check_dataplane(const Item& item)
{
    auto m = mapping(item, dataplane_spec, true);
    if (!m) return;
    DataplaneConfig& dp = config_.dataplane;
    if (auto* x = m->find("expire_nodest_conn")) {
        if (x->node.IsScalar() && (x->node.Scalar() == "true" || x->node.Scalar() == "false") && x->node.Tag() != "!")
            dp.expire_nodest_conn = x->node.Scalar() == "true";
        else
            expected(*x, "true or false");
    }
    if (auto* w = m->find("workers"))
        if (auto v = integer(*w, 1, max_workers)) dp.workers = static_cast<unsigned>(*v);
    if (auto* e = m->find("eal")) {
        if (auto args = list(*e, "a list of strings", true)) {
            for (const Item& a : *args) {
                auto s = string(a, "a non-empty string");
                if (!s) continue;
                if (s->empty())
                    expected(a, "a non-empty string");
                else
                    dp.eal.push_back(*s);
            }
        }
    }
    if (auto* c = m->find("conn_table_size")) {
        const std::string what = fmt::format("a power of two from {} to {}", min_conn_table_size, max_conn_table_size);
        if (auto v = integer(*c, min_conn_table_size, max_conn_table_size, what)) {
            if (is_power_of_two(*v))
                dp.conn_table_size = static_cast<uint32_t>(*v);
            else
                expected(*c, what);
        }
    }
    if (auto* b = m->find("mbufs"))
        if (auto v = integer(*b, min_mbufs, max_mbufs)) dp.mbufs = static_cast<uint32_t>(*v);
    if (auto* k = m->find("kernel_rate_limit"))
        if (auto v = integer(*k, min_kernel_rate, max_kernel_rate)) dp.kernel_rate_limit = static_cast<uint32_t>(*v);
    if (auto* i = m->find("icmp_rate_limit"))
        if (auto v = integer(*i, min_icmp_rate, max_icmp_rate)) dp.icmp_rate_limit = static_cast<uint32_t>(*v);
    // IPVS's levels: 0 never, 1 and 2 automatic, 3 always.
    for (auto [key, level] : {std::pair{"drop_entry", &dp.defense.drop_entry}, std::pair{"drop_packet", &dp.defense.drop_packet},
                              std::pair{"secure_tcp", &dp.defense.secure_tcp}, std::pair{"flood_mode", &dp.defense.flood_mode}})
        if (auto* x = m->find(key))
            if (auto v = integer(*x, 0, 3)) *level = static_cast<uint8_t>(*v);
    if (auto* a = m->find("amemthresh")) {
        // Free slots of a worker's table: below the table's size, or the defences are always on.
        const uint64_t most = dp.conn_table_size - 1;
        if (auto v = integer(*a, 1, most, fmt::format("free connection slots, from 1 to {} (conn_table_size - 1)", most)))
            dp.defense.amemthresh = static_cast<uint32_t>(*v);
    }
    if (auto* r = m->find("am_droprate"))
        if (auto v = integer(*r, 1, max_am_droprate)) dp.defense.am_droprate = static_cast<uint32_t>(*v);
}

void Checker::check_interfaces(const Item& item)
{
    if (item.node.IsSequence() && item.node.size() == 0) {
        expected(item, "a list of at least one interface");
        return;
    }
    auto items = list(item, "a list of at least one interface", false);
    if (!items) return;
    names_complete_ = subnets_complete_ = true;
    const size_t errors_before = errors_.size();
    for (const Item& i : *items) check_interface(i);
    interfaces_clean_ = errors_.size() == errors_before;
}

void Checker::check_interface(const Item& item)
{
    auto m = mapping(item, interface_spec, false);
    if (!m) {
        names_complete_ = subnets_complete_ = false;
        return;
    }
    InterfaceConfig ic;
    size_t errors_before = errors_.size();
    if (auto* n = m->find("name")) {
        constexpr std::string_view what = "a name of 1 to 15 letters, digits, '_' or '-'";
        if (auto s = string(*n, what)) {
            if (!valid_interface_name(*s)) {
                expected(*n, what);
            } else if (auto [it, fresh] = interface_names_.emplace(*s, line_of(n->mark)); !fresh) {
                report(*n, fmt::format("duplicate interface name {} (first defined at line {})", quote(*s), it->second));
            }
            ic.name = *s;
        }
    }
    const bool name_ok = !ic.name.empty() && errors_.size() == errors_before;
    if (!name_ok) names_complete_ = false;
    if (auto* d = m->find("device")) {
        constexpr std::string_view what =
            "a vdev specification (like \"net_af_packet0,iface=veth10\") or a PCI address (like \"0000:03:00.0\")";
        if (auto s = string(*d, what)) {
            if (auto id = device_identity(*s)) {
                if (auto [it, fresh] = devices_.emplace(*id, line_of(d->mark)); !fresh)
                    report(*d, fmt::format("duplicate device {} (first defined at line {})", quote(*id), it->second));
                ic.device = *s;
            } else {
                expected(*d, what);
            }
        }
    }
    errors_before = errors_.size();
    if (auto* a = m->find("address")) {
        constexpr std::string_view what = "an IPv4 address with a prefix length from 1 to 32 (like 10.0.0.1/24)";
        std::vector<Item> addrs;
        if (a->node.IsSequence()) {
            if (a->node.size() == 0) expected(*a, "at least one address");
            addrs = *list(*a, "", false);
        } else if (a->node.IsScalar()) {
            addrs.push_back(*a);
        } else {
            expected(*a, fmt::format("{}, or a list of them", what));
        }
        for (const Item& ai : addrs) {
            auto s = string(ai, what);
            if (!s) continue;
            auto p = parse_ipv4_prefix(*s, false);
            if (!p || p->length == 0) {
                expected(ai, what);
                continue;
            }
            if (auto why = not_unicast(p->address)) {
                expected(ai, "a unicast IPv4 address", fmt::format("{}, {}", quote(*s), *why));
                continue;
            }
            // On a /31 or /32 every address is a host; below that the first and last are not.
            if (p->length <= 30) {
                const Ipv4 host_mask = ~uint32_t{0} >> p->length;
                const Ipv4 host = p->address & host_mask;
                const std::string subnet = format_prefix(Ipv4Prefix{p->network(), p->length});
                if (host == 0 || host == host_mask) {
                    expected(ai, fmt::format("a host address in {}", subnet),
                             fmt::format("{}, the {} address of that subnet", quote(*s),
                                         host == 0 ? "network" : "broadcast"));
                    continue;
                }
            }
            if (auto [it, fresh] = own_addresses_.emplace(p->address, line_of(ai.mark)); !fresh) {
                report(ai, fmt::format("duplicate address {} (first defined at line {})", format_ipv4(p->address),
                                       it->second));
                continue;
            }
            ic.addresses.push_back(*p);
            connected_.push_back(Connected{*p, ic.name});
        }
    }
    if (ic.addresses.empty() || errors_.size() != errors_before) subnets_complete_ = false;
    if (auto* u = m->find("mtu"))
        if (auto v = integer(*u, min_mtu, max_mtu)) ic.mtu = static_cast<uint16_t>(*v);
    if (auto* q = m->find("queues"))
        if (auto v = integer(*q, 1, max_workers)) ic.queues = static_cast<uint16_t>(*v);
    if (auto* k = m->find("kernel_interface")) {
        constexpr std::string_view what = "a kernel interface name of 1 to 15 letters, digits, '_' or '-', or false";
        const bool plain = k->node.IsScalar() && k->node.Tag() != "!";
        if (plain && k->node.Scalar() == "false") {
            ic.kernel_interface.clear();
        } else if (plain && k->node.Scalar() == "true") {
            expected(*k, what, "true (the interface is named fl-NAME unless another name is given)");
        } else if (auto s = string(*k, what); s && valid_interface_name(*s)) {
            ic.kernel_interface = *s;
        } else if (s) {
            expected(*k, what);
        }
    } else if (name_ok) {
        // A kernel name has at most 15 characters: a long interface name is cut, so that a file
        // written before the exception path existed still loads.
        ic.kernel_interface = "fl-" + ic.name.substr(0, max_interface_name - 3);
    }
    if (!ic.kernel_interface.empty()) {
        const bool named = m->find("kernel_interface") != nullptr;
        for (const InterfaceConfig& other : config_.interfaces)
            if (other.kernel_interface == ic.kernel_interface)
                report(named ? *m->find("kernel_interface") : item,
                       fmt::format("kernel interface {} is also interface {}'s{}", quote(ic.kernel_interface), other.name,
                                   named ? "" : " (the default, from the first 12 characters of the name): set "
                                                "kernel_interface"));
    }
    if (auto* d = m->find("device")) interface_devices_.push_back({*d, config_.interfaces.size()});
    interface_items_.push_back(item);
    config_.interfaces.push_back(std::move(ic));
}

void Checker::check_routes(const Item& item)
{
    auto items = list(item, "a list of routes", true);
    if (!items) return;
    routes_complete_ = true;
    std::map<std::pair<Ipv4, uint8_t>, int> seen;  // dst → line
    for (const Item& ri : *items) {
        auto m = mapping(ri, route_spec, false);
        if (!m) {
            routes_complete_ = false;
            continue;
        }
        RouteConfig rc;
        bool dst_ok = false;
        bool via_ok = false;
        if (auto* d = m->find("dst")) {
            constexpr std::string_view what = "an IPv4 prefix (like 192.0.2.0/24)";
            if (auto s = string(*d, what)) {
                auto p = parse_ipv4_prefix(*s, false);
                if (!p) {
                    expected(*d, what);
                } else if (p->address != p->network()) {
                    expected(*d, fmt::format("a network address with no host bits set ({})",
                                             format_prefix(Ipv4Prefix{p->network(), p->length})));
                } else {
                    rc.dst = *p;
                    dst_ok = true;
                    auto [it, fresh] = seen.emplace(std::pair{p->address, p->length}, line_of(d->mark));
                    if (!fresh)
                        report(*d, fmt::format("duplicate route {} (first defined at line {})", format_prefix(*p),
                                               it->second));
                }
            }
        }
        if (auto* v = m->find("via")) {
            if (auto ip = unicast_address(*v)) {
                rc.via = *ip;
                via_ok = true;
            }
        }
        const Item* ifc = m->find("interface");
        bool ifc_known = false;
        if (ifc) {
            if (auto s = string(*ifc, "an interface name")) {
                rc.interface = *s;
                if (names_complete_) {
                    ifc_known = interface_names_.contains(*s);
                    if (!ifc_known) {
                        std::vector<std::string_view> names;
                        for (const auto& i : config_.interfaces) names.push_back(i.name);
                        report(*ifc, fmt::format("unknown interface {} (expected one of: {})", quote(*s), join(names, ", ")));
                    }
                }
            }
        }
        if (!dst_ok) routes_complete_ = false;
        if (via_ok && subnets_complete_ && (!ifc || names_complete_)) {
            const Item& v = *m->find("via");
            if (auto owner = own_address(rc.via)) {
                expected(v, "the address of a next-hop router",
                         fmt::format("{}, this director's own address on interface {}", describe(v.node), *owner));
            } else if (ifc_known) {
                const bool held = std::any_of(connected_.begin(), connected_.end(), [&](const Connected& c) {
                    return c.interface == rc.interface && c.prefix.contains(rc.via);
                });
                if (!held)
                    expected(v, fmt::format("an address in a connected subnet of interface {} ({})", rc.interface,
                                            connected_list(rc.interface)));
            } else if (!ifc && !in_connected_subnet(rc.via)) {
                expected(v, fmt::format("an address in a connected subnet ({})", connected_list()));
            }
        }
        config_.routes.push_back(std::move(rc));
    }
}

void Checker::check_neighbors(const Item& item)
{
    auto items = list(item, "a list of neighbors", true);
    if (!items) return;
    std::map<Ipv4, int> seen;
    for (const Item& ni : *items) {
        auto m = mapping(ni, neighbor_spec, false);
        if (!m) continue;
        NeighborConfig nc;
        if (auto* i = m->find("ip")) {
            if (auto ip = unicast_address(*i)) {
                nc.ip = *ip;
                if (auto [it, fresh] = seen.emplace(*ip, line_of(i->mark)); !fresh) {
                    report(*i, fmt::format("duplicate neighbor {} (first defined at line {})", format_ipv4(*ip),
                                           it->second));
                } else if (subnets_complete_) {
                    if (auto owner = own_address(*ip))
                        expected(*i, "a neighbor's address",
                                 fmt::format("{}, this director's own address on interface {}", describe(i->node),
                                             *owner));
                    else if (!in_connected_subnet(*ip))
                        expected(*i, fmt::format("an address in a connected subnet ({})", connected_list()));
                }
            }
        }
        if (auto* mi = m->find("mac")) {
            constexpr std::string_view what = "a MAC address (like \"02:00:00:00:00:02\")";
            if (auto s = string(*mi, what)) {
                auto mac = parse_mac(*s);
                if (!mac) {
                    expected(*mi, what);
                } else if ((*mac)[0] & 1) {
                    expected(*mi, "a unicast MAC address", describe(mi->node) + ", a multicast address");
                } else if (*mac == MacAddress{}) {
                    expected(*mi, "a unicast MAC address", describe(mi->node) + ", the all-zero address");
                } else {
                    nc.mac = *mac;
                }
            }
        }
        config_.neighbors.push_back(nc);
    }
}

void Checker::check_services(const Item& item)
{
    auto items = list(item, "a list of services", true);
    if (!items) return;
    std::map<ServiceKey, int> seen;  // service → line
    for (const Item& si : *items) {
        if (!check_service(si)) continue;
        const ServiceConfig& svc = config_.services.back();
        if (auto [it, fresh] = seen.emplace(svc.key(), line_of(si.mark)); !fresh)
            report(si, fmt::format("duplicate service {} {}:{} (first defined at line {})",
                                   protocol_name(svc.protocol), format_ipv4(svc.vip), svc.port, it->second));
    }
}

// Returns whether the service's identity (vip, port, protocol) could be read; the service is
// appended to config_.services whenever it is a mapping at all.
bool Checker::check_service(const Item& item)
{
    auto m = mapping(item, service_spec, false);
    if (!m) return false;
    ServiceConfig svc;
    bool vip_ok = false;
    bool protocol_ok = false;
    if (auto* v = m->find("vip")) {
        if (auto ip = unicast_address(*v)) {
            svc.vip = *ip;
            vip_ok = true;
            // The director's own address answers for its kernel (health checks, BGP): as a VIP
            // its traffic would be the service's, and the kernel's replies taken for clients'.
            if (subnets_complete_)
                if (auto owner = own_address(*ip))
                    expected(*v, "a virtual address",
                             fmt::format("{}, this director's own address on interface {}", describe(v->node), *owner));
        }
    }
    if (auto* p = m->find("port"))
        if (auto v = integer(*p, 1, 65535)) svc.port = static_cast<uint16_t>(*v);
    if (auto* p = m->find("protocol")) {
        if (auto i = choice(*p, "protocol", protocol_names)) {
            svc.protocol = *i == 0 ? Protocol::tcp : Protocol::udp;
            protocol_ok = true;
        }
    }
    if (auto* s = m->find("scheduler"))
        if (auto i = choice(*s, "scheduler", known_schedulers)) svc.scheduler = known_schedulers[*i];
    if (auto* f = m->find("scheduler_flags")) {
        const std::string what = fmt::format("a flag name ({})", join(sched::flag_names, ", "));
        if (auto items = list(*f, "a list of scheduler flags", true))
            for (const Item& fi : *items)
                if (auto name = string(fi, what); name && !sched::set_flag(svc.scheduler_flags, *name)) expected(fi, what);
    }
    if (auto* p = m->find("persistence")) {
        // ipvsadm -p without a value means 360 s; a YAML boolean says the same.
        const std::string what = fmt::format("a number of seconds from 0 to {}, or true (360) or false",
                                             dataplane::PersistenceTable::max_timeout_seconds);
        if (p->node.IsScalar() && (p->node.Scalar() == "true" || p->node.Scalar() == "false") && p->node.Tag() != "!") {
            svc.persistence = p->node.Scalar() == "true" ? 360 : 0;
        } else if (auto v = integer(*p, 0, dataplane::PersistenceTable::max_timeout_seconds, what)) {
            svc.persistence = static_cast<uint32_t>(*v);
        }
    }
    if (auto* n = m->find("persistence_netmask")) {
        // A prefix length (24) or a dotted mask ("255.255.255.0"), as ipvsadm -M.
        constexpr std::string_view what = "a prefix length from 0 to 32 or a contiguous netmask like \"255.255.255.0\"";
        bool ok = false;
        if (n->node.IsScalar()) {
            const std::string text = n->node.Scalar();
            if (auto mask = parse_ipv4(text)) {
                const uint32_t inverted = ~*mask;
                if ((inverted & (inverted + 1)) == 0) {
                    svc.persistence_netmask = static_cast<uint8_t>(32 - std::popcount(inverted));
                    ok = true;
                }
            } else if (n->node.Tag() != "!") {
                if (auto len = parse_number<uint8_t>(text, 0, 32)) {
                    svc.persistence_netmask = *len;
                    ok = true;
                }
            }
        }
        if (!ok) expected(*n, what);
    }
    if (auto* q = m->find("expire_quiescent_template")) {
        if (q->node.IsScalar() && (q->node.Scalar() == "true" || q->node.Scalar() == "false") && q->node.Tag() != "!")
            svc.expire_quiescent_template = q->node.Scalar() == "true";
        else
            expected(*q, "true or false");
    }
    if (auto* t = m->find("mh_table_size")) {
        if (auto v = integer(*t, 1, sched::max_mh_table_size)) {
            // Checked against the real servers below, once they are known.
            svc.mh_table_size = static_cast<uint32_t>(*v);
            mh_size_items_.push_back({*t, config_.services.size()});
        }
    }
    bool forward_ok = true;
    if (auto* f = m->find("forward")) {
        auto i = choice(*f, "forwarding method", forward_names);
        if (i)
            svc.forward = static_cast<ForwardMethod>(*i);
        else
            forward_ok = false;
    }
    service_timeout_given_ = false;
    if (auto* h = m->find("health_check")) {
        svc.health_check = check_health_check(*h, HealthCheckConfig{}, service_timeout_given_);
        if (protocol_ok && svc.protocol == Protocol::udp && svc.health_check.type != HealthCheckType::none &&
            svc.health_check.port == 0)
            report(*h, "the checks are made over TCP: a UDP service's health_check needs a port");
    }
    if (auto* ss = m->find("sorry_server")) {
        if (auto sm = mapping(*ss, sorry_server_spec, false)) {
            SorryServerConfig sorry;
            if (auto* a = sm->find("address"))
                if (auto ip = unicast_address(*a)) {
                    sorry.address = *ip;
                    sorry_items_.push_back({*a, config_.services.size()});
                }
            if (auto* p = sm->find("port"))
                if (auto v = integer(*p, 1, 65535)) sorry.port = static_cast<uint16_t>(*v);
            svc.sorry_server = sorry;
        }
    }
    if (auto* r = m->find("real_servers")) {
        if (auto items = list(*r, "a list of real servers", true)) {
            std::map<std::pair<Ipv4, uint16_t>, int> seen;
            for (const Item& ri : *items) check_real_server(ri, svc, forward_ok, seen);
        }
    }
    const bool identity_ok = vip_ok && svc.port != 0 && protocol_ok;
    config_.services.push_back(std::move(svc));
    return identity_ok;
}

void Checker::check_real_server(const Item& item, ServiceConfig& svc, bool svc_forward_ok,
                                std::map<std::pair<Ipv4, uint16_t>, int>& seen)
{
    auto m = mapping(item, real_server_spec, false);
    if (!m) return;
    RealServerConfig rs;
    bool address_ok = false;
    bool port_ok = svc.port != 0;
    bool forward_ok = svc_forward_ok;
    rs.port = svc.port;  // as ipvsadm: no port means the virtual port
    rs.forward = svc.forward;
    if (auto* a = m->find("address")) {
        if (auto ip = unicast_address(*a)) {
            rs.address = *ip;
            address_ok = true;
        }
    }
    const Item* port_item = m->find("port");
    if (port_item) {
        auto v = integer(*port_item, 1, 65535);
        port_ok = v.has_value();
        if (v) rs.port = static_cast<uint16_t>(*v);
    }
    if (auto* w = m->find("weight"))
        if (auto v = integer(*w, 0, 65535)) rs.weight = static_cast<uint32_t>(*v);
    if (auto* u = m->find("upper_threshold"))
        if (auto v = integer(*u, 0, 1u << 30)) rs.upper_threshold = static_cast<uint32_t>(*v);
    if (auto* l = m->find("lower_threshold")) {
        if (auto v = integer(*l, 0, 1u << 30)) {
            rs.lower_threshold = static_cast<uint32_t>(*v);
            if (rs.upper_threshold != 0 && rs.lower_threshold >= rs.upper_threshold)
                expected(*l, fmt::format("a number below upper_threshold ({})", rs.upper_threshold));
        }
    }
    if (auto* f = m->find("forward")) {
        auto i = choice(*f, "forwarding method", forward_names);
        forward_ok = i.has_value();
        if (i) rs.forward = static_cast<ForwardMethod>(*i);
    }
    rs.health_check = svc.health_check;
    if (auto* h = m->find("health_check")) {
        bool timeout_given = service_timeout_given_;
        const size_t errors_before = errors_.size();
        rs.health_check = check_health_check(*h, svc.health_check, timeout_given);
        rs.health_check_overridden = true;
        if (svc.protocol == Protocol::udp && rs.health_check.type != HealthCheckType::none &&
            rs.health_check.port == 0 && svc.health_check.type == HealthCheckType::none && errors_.size() == errors_before)
            report(*h, "the checks are made over TCP: a UDP service's health_check needs a port");
    }
    if (rs.health_check.type != HealthCheckType::none && address_ok) checked_real_servers_.push_back({item, rs.address});

    if (address_ok && port_ok) {
        if (auto [it, fresh] = seen.emplace(std::pair{rs.address, rs.port}, line_of(item.mark)); !fresh)
            report(item, fmt::format("duplicate real server {}:{} (first defined at line {})", format_ipv4(rs.address),
                                     rs.port, it->second));
    }
    // DR rewrites only the MAC and TUN wraps the packet whole: neither touches the port.
    if (forward_ok && rs.forward != ForwardMethod::nat && port_item && port_ok && svc.port != 0 &&
        rs.port != svc.port) {
        report(*port_item, fmt::format("real server port {} differs from the virtual port {}; {} forwarding cannot "
                                       "change the port",
                                       rs.port, svc.port, forward_method_name(rs.forward)));
    }
    if (address_ok && forward_ok && subnets_complete_) {
        const Item& a = *m->find("address");
        if (auto owner = own_address(rs.address)) {
            expected(a, "a real server's address",
                     fmt::format("{}, this director's own address on interface {}", describe(a.node), *owner));
        } else if (rs.forward == ForwardMethod::dr) {
            // DR hands the frame to the real server's MAC: it must share a link with the director.
            if (!in_connected_subnet(rs.address))
                expected(a, fmt::format("an address in a connected subnet ({}) for dr forwarding", connected_list()));
        } else if (routes_complete_ && !reachable(rs.address)) {
            expected(a, "an address in a connected subnet or covered by a route",
                     describe(a.node) + ", which no interface or route reaches");
        }
    }
    svc.real_servers.push_back(rs);
}

// Seconds as written ("1", "0.5", "2.25"), to whole milliseconds.
std::optional<uint32_t> Checker::milliseconds(const Item& item, uint64_t lo, uint64_t hi)
{
    const std::string what = fmt::format("a number of seconds from {:g} to {:g} (like 1 or 0.5)", lo / 1000.0, hi / 1000.0);
    if (item.node.IsScalar() && item.node.Tag() == "!") {
        expected(item, what, "a quoted string " + quote(item.node.Scalar()));
        return std::nullopt;
    }
    if (!item.node.IsScalar()) {
        expected(item, what);
        return std::nullopt;
    }
    const std::string& text = item.node.Scalar();
    const size_t dot = text.find('.');
    // ".5" is half a second too.
    auto whole = dot == 0 && text.size() > 1 ? std::optional<uint64_t>(0) : parse_decimal(std::string_view(text).substr(0, dot));
    std::string fraction = dot == std::string::npos ? "" : text.substr(dot + 1);
    const bool fraction_ok = fraction.size() <= 3 && std::all_of(fraction.begin(), fraction.end(), [](char c) {
                                 return c >= '0' && c <= '9';
                             }) && (dot == std::string::npos || !fraction.empty());
    if (!whole || !fraction_ok || *whole > hi / 1000) {
        expected(item, what);
        return std::nullopt;
    }
    fraction.resize(3, '0');
    const uint64_t ms = *whole * 1000 + *parse_decimal(fraction);
    if (ms < lo || ms > hi) {
        expected(item, what);
        return std::nullopt;
    }
    return static_cast<uint32_t>(ms);
}

// 200, "200-299", "200,301-302", or a list of such.
std::optional<std::vector<StatusRange>> Checker::status_ranges(const Item& item)
{
    constexpr std::string_view what =
        "an HTTP status (100 to 599), a range like \"200-299\", or a list of them";
    std::vector<Item> parts;
    if (item.node.IsSequence() && item.node.size() > 0)
        parts = *list(item, what, false);
    else
        parts.push_back(item);
    std::vector<StatusRange> ranges;
    for (const Item& part : parts) {
        if (!part.node.IsScalar()) {
            expected(part, what);
            return std::nullopt;
        }
        std::string_view text = part.node.Scalar();
        if (text.empty() || text.back() == ',') {
            expected(part, what);
            return std::nullopt;
        }
        while (!text.empty()) {
            const size_t comma = text.find(',');
            std::string_view one = text.substr(0, comma);
            text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
            while (!one.empty() && one.front() == ' ') one.remove_prefix(1);
            while (!one.empty() && one.back() == ' ') one.remove_suffix(1);
            const size_t dash = one.find('-');
            auto low = parse_decimal(one.substr(0, dash));
            auto high = dash == std::string_view::npos ? low : parse_decimal(one.substr(dash + 1));
            if (!low || !high || *low < 100 || *high > 599 || *low > *high) {
                expected(part, what);
                return std::nullopt;
            }
            ranges.push_back({static_cast<uint16_t>(*low), static_cast<uint16_t>(*high)});
        }
    }
    if (ranges.empty()) {
        expected(item, what);
        return std::nullopt;
    }
    return ranges;
}

void Checker::check_http_check(const Item& item, HttpCheckConfig& http)
{
    auto m = mapping(item, http_check_spec, true);
    if (!m) return;
    if (auto* p = m->find("path")) {
        constexpr std::string_view what = "a path starting with '/' without spaces (like /health)";
        if (auto s = string(*p, what)) {
            if (s->empty() || s->front() != '/' ||
                std::any_of(s->begin(), s->end(), [](char c) { return c <= ' ' || c == 0x7f; }))
                expected(*p, what);
            else
                http.path = *s;
        }
    }
    if (auto* h = m->find("host")) {
        constexpr std::string_view what = "a host name for the Host header (no spaces)";
        if (auto s = string(*h, what)) {
            if (std::any_of(s->begin(), s->end(), [](char c) { return c <= ' ' || c == 0x7f; }))
                expected(*h, what);
            else
                http.host = *s;
        }
    }
    if (auto* e = m->find("expect_status"))
        if (auto ranges = status_ranges(*e)) http.expect_status = *ranges;
    if (auto* b = m->find("expect_body")) {
        if (auto s = string(*b, "a regular expression (ECMAScript)")) {
            // The check's cost grows with the pattern's states: these bounds keep one check of
            // the 8 KB it searches within tens of milliseconds on the control core.
            if (s->size() > max_body_regex_length) {
                expected(*b, fmt::format("a regular expression of at most {} characters", max_body_regex_length),
                         fmt::format("{} characters", s->size()));
                return;
            }
            if (auto bound = repeat_bound_product(*s); bound > max_body_regex_repeat) {
                expected(*b, fmt::format("a regular expression whose counted repeats ({{n,m}}) multiply to at most {}",
                                         max_body_regex_repeat),
                         fmt::format("{}, whose repeats multiply to {}", describe(b->node), bound));
                return;
            }
            try {
                // As the checker runs it (health.cpp): the linear-time engine, which has no
                // back-references, so that a file with one is refused here, not at its first check.
                std::regex compiled(*s, std::regex::ECMAScript | std::regex::nosubs | std::regex_constants::__polynomial);
                http.expect_body = *s;
            } catch (const std::regex_error& error) {
                expected(*b, "a regular expression (ECMAScript)", fmt::format("{}: {}", describe(b->node), error.what()));
            }
        }
    }
}

HealthCheckConfig Checker::check_health_check(const Item& item, const HealthCheckConfig& base, bool& timeout_given)
{
    HealthCheckConfig hc = base;
    auto m = mapping(item, health_check_spec, true);
    if (!m) return hc;
    // Asking for a check without naming its kind means a TCP connect, as ldirectord's default.
    if (hc.type == HealthCheckType::none && !m->fields.empty()) hc.type = HealthCheckType::tcp;
    if (auto* t = m->find("type"))
        if (auto i = choice(*t, "health check type", health_check_type_names)) hc.type = static_cast<HealthCheckType>(*i);
    if (auto* p = m->find("port"))
        if (auto v = integer(*p, 1, 65535)) hc.port = static_cast<uint16_t>(*v);
    const Item* interval = m->find("interval");
    bool times_readable = true;
    if (interval) {
        if (auto v = milliseconds(*interval, min_check_ms, max_check_ms))
            hc.interval_ms = *v;
        else
            times_readable = false;
    }
    const Item* timeout = m->find("timeout");
    if (timeout) {
        timeout_given = true;
        if (auto v = milliseconds(*timeout, min_check_ms, max_check_ms))
            hc.timeout_ms = *v;
        else
            times_readable = false;
    } else if (!timeout_given) {
        // The default timeout never outlasts a short interval.
        hc.timeout_ms = std::min(HealthCheckConfig{}.timeout_ms, hc.interval_ms);
    }
    if (auto* r = m->find("rise"))
        if (auto v = integer(*r, 1, max_rise_fall)) hc.rise = static_cast<uint32_t>(*v);
    if (auto* f = m->find("fall"))
        if (auto v = integer(*f, 1, max_rise_fall)) hc.fall = static_cast<uint32_t>(*v);
    if (auto* o = m->find("on_failure"))
        if (auto i = choice(*o, "on_failure action", on_failure_names)) hc.on_failure = static_cast<OnFailure>(*i);
    if (auto* h = m->find("http")) {
        check_http_check(*h, hc.http);
        if (hc.type != HealthCheckType::http)
            report(*h, fmt::format("http settings for a health check of type {}; say type: http",
                                   health_check_type_names[static_cast<size_t>(hc.type)]));
    }
    // A check still running when the next is due would overlap it. Said once, where the times are.
    if (hc.type != HealthCheckType::none && (interval || timeout) && times_readable && hc.timeout_ms > hc.interval_ms)
        report(timeout ? *timeout : item, fmt::format("health check timeout {:g} s is longer than its interval {:g} s",
                                                      hc.timeout_ms / 1000.0, hc.interval_ms / 1000.0));
    return hc;
}

// A sorry server takes the service's connections by NAT: it needs a path from the director, and
// must not be one of the real servers it stands in for.
void Checker::check_sorry_servers()
{
    for (const auto& [item, index] : sorry_items_) {
        ServiceConfig& s = config_.services[index];
        SorryServerConfig& sorry = *s.sorry_server;
        if (sorry.port == 0) sorry.port = s.port;
        if (auto owner = own_address(sorry.address)) {
            expected(item, "a sorry server's address",
                     fmt::format("{}, this director's own address on interface {}", describe(item.node), *owner));
        } else if (subnets_complete_ && routes_complete_ && !reachable(sorry.address)) {
            expected(item, "an address in a connected subnet or covered by a route",
                     describe(item.node) + ", which no interface or route reaches");
        }
        for (const RealServerConfig& rs : s.real_servers)
            if (rs.address == sorry.address && rs.port == sorry.port)
                report(item, fmt::format("sorry server {}:{} is also a real server of this service",
                                         format_ipv4(sorry.address), sorry.port));
    }
}

// A TAP port offers at most 16 queue pairs (one per worker), and EAL's ports here are counted
// with the kernel interfaces among them.
void Checker::check_kernel_interfaces()
{
    constexpr unsigned max_tap_queues = 16;
    if (!interfaces_clean_) return;  // the interfaces' own problems come first
    size_t ports = 0;
    for (size_t i = 0; i < config_.interfaces.size() && i < interface_items_.size(); ++i) {
        const InterfaceConfig& ic = config_.interfaces[i];
        ports += ic.kernel_interface.empty() ? 1 : 2;
        if (ports > max_ports) {
            report(interface_items_[i], fmt::format("the interfaces and their kernel interfaces need {} or more ports; "
                                                    "at most {} are supported (kernel_interface: false saves one)",
                                                    ports, max_ports));
            break;
        }
        if (!ic.kernel_interface.empty() && config_.dataplane.workers > max_tap_queues)
            report(interface_items_[i], fmt::format("kernel interface {} would need a queue per worker ({}); a TAP "
                                                    "interface has at most {}",
                                                    ic.kernel_interface, config_.dataplane.workers, max_tap_queues));
    }
}

// The interface packets to `ip` leave by: a connected subnet's, else the most specific route's.
const InterfaceConfig* Checker::interface_reaching(Ipv4 ip) const
{
    if (const InterfaceConfig* i = interface_holding(config_, ip)) return i;
    const RouteConfig* best = nullptr;
    for (const RouteConfig& r : config_.routes)
        if (r.dst.contains(ip) && (best == nullptr || r.dst.length > best->dst.length)) best = &r;
    return best == nullptr ? nullptr : interface_holding(config_, best->via, best->interface);
}

// Checks are the kernel's own connections: they leave through the exception path, so a checked
// real server must lie behind an interface that has a kernel interface.
void Checker::check_health_paths()
{
    if (!subnets_complete_ || !routes_complete_) return;
    for (const auto& [item, address] : checked_real_servers_) {
        const InterfaceConfig* i = interface_reaching(address);
        if (i == nullptr || !i->kernel_interface.empty()) continue;
        report(item, fmt::format("real server {} is health-checked, but interface {}, which reaches it, has "
                                 "kernel_interface: false: the checks could not reach it",
                                 format_ipv4(address), i->name));
    }
}

// af_packet offers `qpairs` RX/TX queue pairs (1 unless the device string says more); the
// director needs one TX queue per worker and the configured RX queues.
void Checker::check_queue_pairs()
{
    const unsigned workers = config_.dataplane.workers;
    for (const auto& [item, index] : interface_devices_) {
        const InterfaceConfig& ic = config_.interfaces[index];
        if (ic.device.rfind("net_af_packet", 0) != 0) continue;
        unsigned qpairs = 1;
        const size_t at = ic.device.find(",qpairs=");
        if (at != std::string::npos) qpairs = static_cast<unsigned>(std::strtoul(ic.device.c_str() + at + 8, nullptr, 10));
        const unsigned needed = std::max<unsigned>(workers, ic.queues);
        if (qpairs < needed)
            report(item, fmt::format("af_packet device has {} queue pair(s) but {} are needed ({} worker(s), {} RX "
                                     "queue(s)): add \",qpairs={}\" to the device string",
                                     qpairs, needed, workers, ic.queues == 0 ? workers : ic.queues, needed));
    }
}

// Maglev needs a prime table size, comfortably larger than the number of real servers.
void Checker::check_mh_table_sizes()
{
    for (const auto& [item, index] : mh_size_items_) {
        const ServiceConfig& s = config_.services[index];
        const std::string problem = sched::mh_table_size_problem(s.mh_table_size, s.real_servers.size());
        if (!problem.empty()) report(item, problem);
    }
}

void Checker::check_timeouts(const Item& item)
{
    auto m = mapping(item, timeouts_spec, true);
    if (!m) return;
    // `tcp` and `established` set the same timeout, as do `tcp_fin` and `fin_wait`: one file
    // may say it once.
    std::vector<std::pair<dataplane::TimeoutKey, const Field*>> seen;
    for (const Field& f : m->fields) {
        const auto key = dataplane::timeout_key_from_name(f.key);
        if (!key) continue;
        const auto same = std::find_if(seen.begin(), seen.end(), [&](const auto& s) { return s.first == *key; });
        if (same != seen.end()) {
            report(f.value, fmt::format("sets the same timeout as \"{}\" (line {}); give only one of them",
                                        same->second->key, line_of(same->second->key_mark)));
            continue;
        }
        seen.emplace_back(*key, &f);
        if (auto v = integer(f.value, 1, max_timeout)) config_.timeouts.entry(*key) = static_cast<uint32_t>(*v);
    }
}

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
            if (auto* i = m->find("console")) check_listener(*i, console_spec, config_.console_listen);
            if (auto* i = m->find("metrics")) check_listener(*i, metrics_spec, config_.metrics_listen);
            check_queue_pairs();
            check_mh_table_sizes();
            check_sorry_servers();
            check_kernel_interfaces();
            check_health_paths();
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

}  // namespace

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

const InterfaceConfig* interface_holding(const Config& config, Ipv4 ip, std::string_view only)
{
    const InterfaceConfig* holder = nullptr;
    for (const InterfaceConfig& iface : config.interfaces) {
        if (!only.empty() && iface.name != only) continue;
        for (const Ipv4Prefix& prefix : iface.addresses)
            if (prefix.contains(ip)) holder = &iface;
    }
    return holder;
}

std::string_view health_check_type_name(HealthCheckType type) { return health_check_type_names[static_cast<size_t>(type)]; }

std::string_view on_failure_name(OnFailure action) { return on_failure_names[static_cast<size_t>(action)]; }

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
