#include "control/console_commands.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <charconv>
#include <chrono>
#include <ctime>
#include <map>
#include <optional>
#include <span>

#include "control/config_yaml.hpp"
#include "control/text.hpp"
#include "control/ipvsadm_format.hpp"
#include "dataplane/persistence.hpp"

namespace fulcrum::control {

namespace {

using Words = std::vector<std::string_view>;

constexpr uint32_t max_threshold = 1u << 30;              // as the configuration's upper_threshold
constexpr uint32_t max_timeout = 31536000;                // as the configuration's timeouts
constexpr uint32_t max_persistence = dataplane::PersistenceTable::max_timeout_seconds;

Words split_words(std::string_view line)
{
    Words words;
    size_t i = 0;
    while (i < line.size()) {
        while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
        const size_t start = i;
        while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
        if (i > start) words.push_back(line.substr(start, i - start));
    }
    return words;
}

// The words from `from` on, as the user typed them (one space between).
std::string join(const Words& words, size_t from = 0)
{
    return control::join(std::span(words).subspan(std::min(from, words.size())), " ");
}

CommandOutput error(std::string message) { return CommandOutput{{"error: " + std::move(message)}, false}; }

CommandOutput ok() { return CommandOutput{{"ok"}, false}; }

void add_text(CommandOutput& out, std::string_view text)
{
    size_t start = 0;
    while (start < text.size()) {
        size_t end = text.find('\n', start);
        if (end == std::string_view::npos) end = text.size();
        out.lines.emplace_back(text.substr(start, end - start));
        start = end + 1;
    }
}

// Several lines of a refusal as one: the console answers a command with one error line.
std::string one_line(std::string_view text)
{
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
    std::string out;
    for (char c : text) {
        if (c == '\n')
            out += "; ";
        else if (c != '\r')
            out += c;
    }
    return out;
}

struct Endpoint {
    Ipv4 ip = 0;
    std::optional<uint16_t> port;
};

// "a.b.c.d" or "a.b.c.d:port" with a port from 1 to 65535.
std::optional<Endpoint> parse_endpoint(std::string_view s)
{
    Endpoint e;
    const size_t colon = s.find(':');
    auto ip = parse_ipv4(s.substr(0, colon));
    if (!ip) return std::nullopt;
    e.ip = *ip;
    if (colon != std::string_view::npos) {
        e.port = parse_number<uint16_t>(s.substr(colon + 1), 1, 65535);
        if (!e.port) return std::nullopt;
    }
    return e;
}

std::string service_name(Protocol p, Ipv4 vip, uint16_t port)
{
    return fmt::format("{} {}:{}", protocol_name(p), format_ipv4(vip), port);
}

std::string service_name(const ServiceConfig& s) { return service_name(s.protocol, s.vip, s.port); }

ServiceConfig* find_service(Config& c, const ServiceKey& key)
{
    for (ServiceConfig& s : c.services)
        if (s.key() == key) return &s;
    return nullptr;
}

std::vector<RealServerConfig>::iterator find_real_server(ServiceConfig& s, Ipv4 address, uint16_t port)
{
    return std::find_if(s.real_servers.begin(), s.real_servers.end(),
                        [&](const RealServerConfig& rs) { return rs.address == address && rs.port == port; });
}

CommandOutput apply_change(ControlApi& api, const Config& next, const Words& words)
{
    const std::string why = api.apply(next, "console: " + join(words));
    if (why.empty()) return ok();
    return error(one_line(why));
}

std::string scheduler_names()
{
    std::string out;
    for (sched::Kind k : sched::all_kinds) {
        if (!out.empty()) out += ", ";
        out += sched::kind_name(k);
    }
    return out;
}

std::string flag_names()
{
    std::string out;
    for (std::string_view f : sched::flag_names) {
        if (!out.empty()) out += ", ";
        out += f;
    }
    return out;
}

// ---------------------------------------------------------------------------------------------
// show

std::optional<size_t> parse_limit(const Words& w, size_t at, std::string& problem, std::string_view command)
{
    if (w.size() <= at) return default_connection_limit;
    if (w.size() > at + 1) {
        problem = fmt::format("{}: expected at most one LIMIT, found {}", command, quote(join(w, at)));
        return std::nullopt;
    }
    auto n = parse_number<size_t>(w[at], 1, max_connection_limit);
    if (!n)
        problem = fmt::format("{}: expected a number of connections from 1 to {}, found {}", command,
                              max_connection_limit, quote(w[at]));
    return n;
}

CommandOutput show_connections(ControlApi& api, size_t limit)
{
    const std::vector<ConnectionRow> rows = api.connections(limit);
    CommandOutput out;
    add_text(out, format_ipvsadm_connections(rows));
    if (rows.size() >= limit)
        out.lines.push_back(fmt::format("(the first {} connections; \"show conns LIMIT\" shows up to {})", limit,
                                        max_connection_limit));
    return out;
}

CommandOutput show_workers(ControlApi& api)
{
    const std::vector<WorkerStatus> workers = api.workers();
    constexpr int label = 24;  // "  unsupported_ethertype" and a space
    constexpr int column = 14;
    CommandOutput out;
    std::string header = fmt::format("{:<{}}", "", label);
    for (const WorkerStatus& w : workers) header += fmt::format("{:>{}}", fmt::format("worker {}", w.worker), column);
    header += fmt::format("{:>{}}", "total", column);
    out.lines.push_back(std::move(header));

    auto row = [&](std::string_view name, auto value_of, bool with_total) {
        std::string line = fmt::format("{:<{}}", name, label);
        uint64_t total = 0;
        for (const WorkerStatus& w : workers) {
            const uint64_t v = value_of(w);
            total += v;
            line += fmt::format("{:>{}}", v, column);
        }
        if (with_total) line += fmt::format("{:>{}}", total, column);
        out.lines.push_back(std::move(line));
    };
    row("lcore", [](const WorkerStatus& w) -> uint64_t { return w.lcore; }, false);
    for (size_t i = 0; i < dataplane::worker_counter_count; ++i)
        row(dataplane::worker_counter_names[i],
            [i](const WorkerStatus& w) { return w.counters.*dataplane::worker_counter_fields[i]; }, true);
    for (const WorkerGauge& g : worker_gauges) row(g.name, [&g](const WorkerStatus& w) { return w.*g.field; }, g.summed);
    // The drops' sum, then each reason some worker has counted, in the list's order.
    row("drops", [](const WorkerStatus& w) { return w.counters.drops_total(); }, true);
    for (size_t r = 0; r < dataplane::drop_reason_count; ++r) {
        uint64_t total = 0;
        for (const WorkerStatus& w : workers) total += w.counters.drops[r];
        if (total != 0)
            row("  " + std::string(dataplane::drop_reason_names[r]), [r](const WorkerStatus& w) { return w.counters.drops[r]; },
                true);
    }
    return out;
}

// One line per real server (and sorry server): its check, state, weight in force, the time of the
// last change and the last check's result. Whitespace-separated columns up to the reason, which
// is free text.
CommandOutput show_health(ControlApi& api)
{
    CommandOutput out;
    out.lines.push_back(fmt::format("{:<4} {:<21} {:<21} {:<5} {:<9} {:<6} {:<19} {:<6} {}", "Prot",
                                    "LocalAddress:Port", "RemoteAddress:Port", "Check", "State", "Weight", "Changed",
                                    "Last", "Reason"));
    for (const HealthRow& row : api.health()) {
        std::string changed = "-";
        if (row.changed.time_since_epoch().count() != 0) {
            const std::time_t t = std::chrono::system_clock::to_time_t(row.changed);
            std::tm local{};
            localtime_r(&t, &local);
            char text[32];
            std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S", &local);
            changed = text;
        }
        out.lines.push_back(fmt::format("{:<4} {:<21} {:<21} {:<5} {:<9} {:<6} {:<19} {:<6} {}", protocol_label(row.protocol),
                                        format_ipv4_port(row.vip, row.vport), format_ipv4_port(row.address, row.port),
                                        row.check, health_state_name(row.state),
                                        row.weight ? std::to_string(*row.weight) : "-", changed,
                                        row.last_result.empty() ? "-" : row.last_result,
                                        row.reason.empty() ? "-" : row.reason));
    }
    return out;
}

CommandOutput show(const Words& w, ControlApi& api)
{
    constexpr std::string_view expected =
        "expected one of: services, stats, rate, conns [LIMIT], workers, health, config";
    if (w.size() < 2) return error(fmt::format("show: {}", expected));
    const std::string_view what = w[1];
    if (what == "conns") {
        std::string problem;
        auto limit = parse_limit(w, 2, problem, "show conns");
        if (!limit) return error(problem);
        return show_connections(api, *limit);
    }
    const bool known = what == "services" || what == "stats" || what == "rate" || what == "workers" ||
                       what == "health" || what == "config";
    if (!known) return error(fmt::format("show: unknown {} ({})", quote(what), expected));
    if (w.size() > 2) return error(fmt::format("show {}: expected nothing after it, found {}", what, quote(join(w, 2))));

    CommandOutput out;
    if (what == "workers") return show_workers(api);
    if (what == "health") return show_health(api);
    if (what == "config") {
        const Config& c = api.running_config();
        out.lines.push_back(c.source_file.empty()
                                ? "# Fulcrum's running configuration"
                                : fmt::format("# Fulcrum's running configuration: {} with the console's changes",
                                              c.source_file));
        add_text(out, config_to_yaml(c));
        return out;
    }
    IpvsadmOptions o;
    o.table = what == "stats" ? IpvsadmTable::stats : what == "rate" ? IpvsadmTable::rate : IpvsadmTable::list;
    add_text(out, format_ipvsadm_table(api.services(), api.table_size(), o));
    return out;
}

// ---------------------------------------------------------------------------------------------
// set weight [tcp|udp] VIP:PORT RIP[:PORT] WEIGHT

CommandOutput set_weight(const Words& w, ControlApi& api)
{
    constexpr std::string_view usage = "expected [tcp|udp] VIP:PORT RIP[:PORT] WEIGHT";
    if (w.size() < 2 || w[1] != "weight")
        return error(fmt::format("set: expected \"set weight [tcp|udp] VIP:PORT RIP[:PORT] WEIGHT\"{}",
                                 w.size() < 2 ? "" : fmt::format(", found {}", quote(join(w, 1)))));
    if (w.size() != 5 && w.size() != 6) return error(fmt::format("set weight: {}", usage));
    size_t at = 2;
    std::optional<Protocol> protocol;
    if (w.size() == 6) {
        if (w[2] == "tcp")
            protocol = Protocol::tcp;
        else if (w[2] == "udp")
            protocol = Protocol::udp;
        else
            return error(fmt::format("set weight: expected tcp or udp, found {}", quote(w[2])));
        at = 3;
    }
    auto vip = parse_endpoint(w[at]);
    if (!vip || !vip->port)
        return error(fmt::format("set weight: expected VIP:PORT (like 203.0.113.10:80), found {}", quote(w[at])));
    auto rip = parse_endpoint(w[at + 1]);
    if (!rip) return error(fmt::format("set weight: expected RIP[:PORT] (like 172.16.0.2:8080), found {}", quote(w[at + 1])));
    auto weight = parse_number<uint32_t>(w[at + 2], 0, 65535);
    if (!weight) return error(fmt::format("set weight: expected a weight from 0 to 65535, found {}", quote(w[at + 2])));

    Config next = api.running_config();
    ServiceConfig* service = nullptr;
    if (protocol) {
        service = find_service(next, {*protocol, vip->ip, *vip->port});
        if (!service) return error(fmt::format("set weight: no service {}", service_name(*protocol, vip->ip, *vip->port)));
    } else {
        ServiceConfig* tcp = find_service(next, {Protocol::tcp, vip->ip, *vip->port});
        ServiceConfig* udp = find_service(next, {Protocol::udp, vip->ip, *vip->port});
        if (tcp && udp)
            return error(fmt::format("set weight: both a tcp and a udp service listen on {}:{}; say which: "
                                     "set weight tcp|udp {}",
                                     format_ipv4(vip->ip), *vip->port, join(w, 2)));
        service = tcp ? tcp : udp;
        if (!service) return error(fmt::format("set weight: no service on {}:{}", format_ipv4(vip->ip), *vip->port));
    }
    const uint16_t port = rip->port.value_or(service->port);
    auto rs = find_real_server(*service, rip->ip, port);
    if (rs == service->real_servers.end())
        return error(fmt::format("set weight: {} has no real server {}:{}", service_name(*service), format_ipv4(rip->ip),
                                 port));
    rs->weight = *weight;
    return apply_change(api, next, w);
}

// ---------------------------------------------------------------------------------------------
// ipvsadm ARGS: ipvsadm's own command line (ipvsadm.c's option table), parsed as popt does:
// short options may be bundled (-Ln, -At VIP:PORT), an option's value may follow attached
// (-w3, --weight=3) or as the next word, and -p takes the next word only if it does not start
// with '-'.

enum class Cmd { none, add_service, edit_service, delete_service, clear, list, zero, add_server, edit_server,
                 delete_server, set_timeouts, save, help };

struct CmdSpec {
    Cmd cmd;
    char short_name;  // 0: long form only
    std::string_view long_name;
};

constexpr CmdSpec command_specs[] = {
    {Cmd::add_service, 'A', "add-service"}, {Cmd::edit_service, 'E', "edit-service"},
    {Cmd::delete_service, 'D', "delete-service"}, {Cmd::clear, 'C', "clear"},
    {Cmd::list, 'L', "list"}, {Cmd::list, 'l', "list"}, {Cmd::zero, 'Z', "zero"},
    {Cmd::add_server, 'a', "add-server"}, {Cmd::edit_server, 'e', "edit-server"},
    {Cmd::delete_server, 'd', "delete-server"}, {Cmd::set_timeouts, 0, "set"}, {Cmd::save, 'S', "save"},
    {Cmd::help, 'h', "help"},
};

namespace opt {
constexpr uint32_t service = 1u << 0, scheduler = 1u << 1, persistent = 1u << 2, netmask = 1u << 3,
                   server = 1u << 4, forward = 1u << 5, weight = 1u << 6, uthreshold = 1u << 7,
                   lthreshold = 1u << 8, numeric = 1u << 9, connection = 1u << 10, timeout = 1u << 11,
                   stats = 1u << 12, rate = 1u << 13, exact = 1u << 14, sched_flags = 1u << 15, sort = 1u << 16;
}

enum class ArgKind { none, required, optional };

struct OptSpec {
    uint32_t opt;
    char short_name;
    std::string_view long_name;
    ArgKind arg;
};

constexpr OptSpec option_specs[] = {
    {opt::service, 't', "tcp-service", ArgKind::required},
    {opt::service, 'u', "udp-service", ArgKind::required},
    {opt::scheduler, 's', "scheduler", ArgKind::required},
    {opt::persistent, 'p', "persistent", ArgKind::optional},
    {opt::netmask, 'M', "netmask", ArgKind::required},
    {opt::server, 'r', "real-server", ArgKind::required},
    {opt::forward, 'g', "gatewaying", ArgKind::none},
    {opt::forward, 'i', "ipip", ArgKind::none},
    {opt::forward, 'm', "masquerading", ArgKind::none},
    {opt::weight, 'w', "weight", ArgKind::required},
    {opt::uthreshold, 'x', "u-threshold", ArgKind::required},
    {opt::lthreshold, 'y', "l-threshold", ArgKind::required},
    {opt::numeric, 'n', "numeric", ArgKind::none},
    {opt::connection, 'c', "connection", ArgKind::none},
    {opt::timeout, 0, "timeout", ArgKind::none},
    {opt::stats, 0, "stats", ArgKind::none},
    {opt::rate, 0, "rate", ArgKind::none},
    {opt::exact, 'X', "exact", ArgKind::none},
    {opt::sched_flags, 'b', "sched-flags", ArgKind::required},
    {opt::sort, 0, "sort", ArgKind::none},
};

// ipvsadm's options that Fulcrum has no use for, and why.
struct Unsupported {
    char short_name;
    std::string_view long_name;
    std::string_view why;
};
constexpr Unsupported unsupported_specs[] = {
    {'f', "fwmark-service", "firewall-mark services do not exist here (no netfilter)"},
    {'6', "ipv6", "Fulcrum is IPv4 only"},
    {'o', "ops", "one-packet scheduling is not implemented"},
    {'R', "restore", "the console reads no rules from stdin; type the commands instead"},
    {'v', "version", "this is Fulcrum's console, not ipvsadm"},
    {0, "start-daemon", "there is no connection synchronisation daemon"},
    {0, "stop-daemon", "there is no connection synchronisation daemon"},
    {0, "mcast-interface", "there is no connection synchronisation daemon"},
    {0, "syncid", "there is no connection synchronisation daemon"},
    {0, "daemon", "there is no connection synchronisation daemon"},
    {0, "thresholds", "use show config for thresholds"},
    {0, "persistent-conn", "persistence templates are not listed"},
    {0, "nosort", "tables are always sorted"},
    {0, "pe", "persistence engines are not implemented"},
};

// How the option table names an option in messages: "-w (--weight)".
std::string option_label(uint32_t o)
{
    std::string shorts;
    std::string_view long_name;
    for (const OptSpec& s : option_specs) {
        if (s.opt != o) continue;
        if (s.short_name) shorts += fmt::format("{}-{}", shorts.empty() ? "" : "|", s.short_name);
        if (long_name.empty()) long_name = s.long_name;
    }
    if (shorts.empty()) return fmt::format("--{}", long_name);
    return fmt::format("{} (--{})", shorts, long_name);
}

std::string command_label(Cmd c)
{
    for (const CmdSpec& s : command_specs)
        if (s.cmd == c) return s.short_name ? fmt::format("-{} (--{})", s.short_name, s.long_name)
                                            : fmt::format("--{}", s.long_name);
    return "?";
}

struct Ipvsadm {
    Cmd cmd = Cmd::none;
    uint32_t options = 0;
    Protocol protocol = Protocol::tcp;
    Endpoint service;
    std::string scheduler;
    uint32_t persistence = 0;
    uint8_t netmask = 32;
    Endpoint server;
    ForwardMethod forward = ForwardMethod::nat;
    uint32_t weight = 1;
    uint32_t upper = 0;
    uint32_t lower = 0;
    sched::Flags flags;
    std::vector<std::string_view> arguments;  // positional: --set's three timeouts
};

// Records one option and its value; returns "" or the problem.
std::string take_option(Ipvsadm& c, const OptSpec& spec, std::optional<std::string_view> value)
{
    if (c.options & spec.opt) return fmt::format("{} given twice", option_label(spec.opt));
    c.options |= spec.opt;
    const std::string_view v = value.value_or("");
    switch (spec.short_name) {
    case 't':
    case 'u': {
        c.protocol = spec.short_name == 't' ? Protocol::tcp : Protocol::udp;
        auto e = parse_endpoint(v);
        if (!e || !e->port)
            return fmt::format("-{}: expected VIP:PORT with a port from 1 to 65535 (like 203.0.113.10:80), found {}",
                               spec.short_name, quote(v));
        c.service = *e;
        return "";
    }
    case 's':
        if (!sched::kind_from_name(v))
            return fmt::format("-s: unknown scheduler {} (expected one of: {})", quote(v), scheduler_names());
        c.scheduler = std::string(v);
        return "";
    case 'p':
        if (!value) {
            c.persistence = 360;  // ipvsadm's IPVS_SVC_PERSISTENT_TIMEOUT
            return "";
        }
        if (auto n = parse_number<uint32_t>(v, 1, max_persistence)) {
            c.persistence = *n;
            return "";
        }
        return fmt::format("-p: expected a timeout from 1 to {} seconds, found {}", max_persistence, quote(v));
    case 'M':
        if (auto mask = parse_ipv4(v)) {
            const uint32_t inverted = ~*mask;
            if ((inverted & (inverted + 1)) == 0) {
                c.netmask = static_cast<uint8_t>(32 - std::popcount(inverted));
                return "";
            }
        } else if (auto len = parse_number<uint8_t>(v.starts_with('/') ? v.substr(1) : v, 0, 32)) {
            c.netmask = *len;
            return "";
        }
        return fmt::format("-M: expected a netmask like 255.255.255.0 or a prefix length from 0 to 32, found {}",
                           quote(v));
    case 'r':
        if (auto e = parse_endpoint(v)) {
            c.server = *e;
            return "";
        }
        return fmt::format("-r: expected RIP[:PORT] (like 172.16.0.2:8080), found {}", quote(v));
    case 'g':
    case 'i':
    case 'm': c.forward = *forward_method_of_flag(spec.short_name); return "";
    case 'w':
        if (auto n = parse_number<uint32_t>(v, 0, 65535)) {
            c.weight = *n;
            return "";
        }
        return fmt::format("-w: expected a weight from 0 to 65535, found {}", quote(v));
    case 'x':
    case 'y':
        if (auto n = parse_number<uint32_t>(v, 0, max_threshold)) {
            (spec.short_name == 'x' ? c.upper : c.lower) = *n;
            return "";
        }
        return fmt::format("-{}: expected a number of connections from 0 to {}, found {}", spec.short_name,
                           max_threshold, quote(v));
    case 'b': {
        sched::Flags flags;
        size_t start = 0;
        while (start <= v.size()) {
            size_t end = v.find(',', start);
            if (end == std::string_view::npos) end = v.size();
            const std::string_view name = v.substr(start, end - start);
            if (!sched::set_flag(flags, name))
                return fmt::format("-b: unknown scheduler flag {} (expected a comma-separated list of: {})",
                                   quote(name), flag_names());
            start = end + 1;
        }
        c.flags = flags;
        return "";
    }
    default:
        return "";  // flags without a value: -n, -c, --timeout, --stats, --rate, --exact, --sort
    }
}

std::string set_command(Ipvsadm& c, Cmd cmd)
{
    if (c.cmd != Cmd::none)
        return fmt::format("more than one command given ({} and {})", command_label(c.cmd), command_label(cmd));
    c.cmd = cmd;
    return "";
}

// Parses the words after "ipvsadm"; returns "" or the problem.
std::string parse_ipvsadm(const Words& args, Ipvsadm& c)
{
    for (size_t i = 0; i < args.size(); ++i) {
        const std::string_view word = args[i];
        if (word.starts_with("--") && word.size() > 2) {
            std::string_view name = word.substr(2);
            std::optional<std::string_view> value;
            if (const size_t eq = name.find('='); eq != std::string_view::npos) {
                value = name.substr(eq + 1);
                name = name.substr(0, eq);
            }
            if (auto cmd = std::find_if(std::begin(command_specs), std::end(command_specs),
                                        [&](const CmdSpec& s) { return s.long_name == name; });
                cmd != std::end(command_specs)) {
                if (value) return fmt::format("--{} takes no value", name);
                if (auto why = set_command(c, cmd->cmd); !why.empty()) return why;
                continue;
            }
            auto spec = std::find_if(std::begin(option_specs), std::end(option_specs),
                                     [&](const OptSpec& s) { return s.long_name == name; });
            if (spec == std::end(option_specs)) {
                for (const Unsupported& u : unsupported_specs)
                    if (u.long_name == name) return fmt::format("--{} is not supported: {}", name, u.why);
                return fmt::format("unknown option {}", quote(word));
            }
            if (spec->arg == ArgKind::none && value) return fmt::format("--{} takes no value", name);
            if (spec->arg == ArgKind::required && !value) {
                if (i + 1 >= args.size()) return fmt::format("--{} needs a value", name);
                value = args[++i];
            }
            if (spec->arg == ArgKind::optional && !value && i + 1 < args.size() && !args[i + 1].starts_with('-'))
                value = args[++i];
            if (auto why = take_option(c, *spec, value); !why.empty()) return why;
            continue;
        }
        if (word.starts_with('-') && word.size() > 1 && word != "--") {
            for (size_t j = 1; j < word.size(); ++j) {
                const char ch = word[j];
                if (auto cmd = std::find_if(std::begin(command_specs), std::end(command_specs),
                                            [&](const CmdSpec& s) { return s.short_name == ch; });
                    cmd != std::end(command_specs)) {
                    if (auto why = set_command(c, cmd->cmd); !why.empty()) return why;
                    continue;
                }
                auto spec = std::find_if(std::begin(option_specs), std::end(option_specs),
                                         [&](const OptSpec& s) { return s.short_name == ch; });
                if (spec == std::end(option_specs)) {
                    for (const Unsupported& u : unsupported_specs)
                        if (u.short_name == ch) return fmt::format("-{} is not supported: {}", ch, u.why);
                    return fmt::format("unknown option {}", quote(std::string("-") + ch));
                }
                std::optional<std::string_view> value;
                const std::string_view rest = word.substr(j + 1);
                if (spec->arg == ArgKind::required) {
                    if (!rest.empty())
                        value = rest;
                    else if (i + 1 < args.size())
                        value = args[++i];
                    else
                        return fmt::format("-{} needs a value", ch);
                } else if (spec->arg == ArgKind::optional) {
                    if (!rest.empty())
                        value = rest;
                    else if (i + 1 < args.size() && !args[i + 1].starts_with('-'))
                        value = args[++i];
                }
                if (auto why = take_option(c, *spec, value); !why.empty()) return why;
                if (spec->arg != ArgKind::none) break;  // the rest of the word was its value
            }
            continue;
        }
        c.arguments.push_back(word);
    }
    return "";
}

struct CommandRules {
    Cmd cmd;
    uint32_t required;
    uint32_t allowed;  // besides the required ones
};

constexpr CommandRules command_rules[] = {
    {Cmd::add_service, opt::service, opt::scheduler | opt::persistent | opt::netmask | opt::sched_flags},
    {Cmd::edit_service, opt::service, opt::scheduler | opt::persistent | opt::netmask | opt::sched_flags},
    {Cmd::delete_service, opt::service, 0},
    {Cmd::clear, 0, 0},
    {Cmd::list, 0, opt::numeric | opt::connection | opt::service | opt::timeout | opt::stats | opt::rate | opt::exact |
                       opt::sort},
    {Cmd::zero, 0, opt::service},
    {Cmd::add_server, opt::service | opt::server, opt::forward | opt::weight | opt::uthreshold | opt::lthreshold},
    {Cmd::edit_server, opt::service | opt::server, opt::forward | opt::weight | opt::uthreshold | opt::lthreshold},
    {Cmd::delete_server, opt::service | opt::server, 0},
    {Cmd::set_timeouts, 0, 0},
    {Cmd::save, 0, opt::numeric},
    {Cmd::help, 0, 0},
};

std::string check_rules(const Ipvsadm& c)
{
    const CommandRules* rules = nullptr;
    for (const CommandRules& r : command_rules)
        if (r.cmd == c.cmd) rules = &r;
    const std::string cmd = command_label(c.cmd);
    for (uint32_t bit = 1; bit <= opt::sort; bit <<= 1) {
        if ((rules->required & bit) && !(c.options & bit)) {
            const std::string_view what = bit == opt::service ? "-t|-u VIP:PORT" : "-r RIP[:PORT]";
            return fmt::format("{}: expected {}", cmd, what);
        }
        if ((c.options & bit) && !((rules->required | rules->allowed) & bit))
            return fmt::format("{}: {} does not apply to this command", cmd, option_label(bit));
    }
    if (c.cmd == Cmd::list) {
        const uint32_t exclusive = c.options & (opt::connection | opt::service | opt::timeout);
        if (std::popcount(exclusive) > 1) return fmt::format("{}: -c, -t|-u and --timeout exclude each other", cmd);
        if ((c.options & (opt::connection | opt::timeout)) && (c.options & (opt::stats | opt::rate)))
            return fmt::format("{}: --stats and --rate list services, not connections or timeouts", cmd);
        if ((c.options & opt::stats) && (c.options & opt::rate))
            return fmt::format("{}: give --stats or --rate, not both", cmd);
    }
    if (c.cmd == Cmd::set_timeouts) {
        if (c.arguments.size() != 3)
            return "--set: expected three timeouts, TCP TCPFIN UDP, in seconds (0 leaves one as it is)";
    } else if (!c.arguments.empty()) {
        return fmt::format("{}: unexpected argument {}", cmd, quote(c.arguments.front()));
    }
    return "";
}

CommandOutput ipvsadm_list(const Ipvsadm& c, ControlApi& api)
{
    CommandOutput out;
    if (c.options & opt::connection) return show_connections(api, default_connection_limit);
    if (c.options & opt::timeout) {
        add_text(out, format_ipvsadm_timeouts(api.running_config().timeouts));
        return out;
    }
    IpvsadmOptions o;
    o.table = (c.options & opt::stats) ? IpvsadmTable::stats : (c.options & opt::rate) ? IpvsadmTable::rate
                                                                                        : IpvsadmTable::list;
    o.exact = (c.options & opt::exact) != 0;
    std::vector<ServiceStatus> services = api.services();
    if (c.options & opt::service) {
        std::erase_if(services, [&](const ServiceStatus& s) {
            return s.config.key() != ServiceKey{c.protocol, c.service.ip, *c.service.port};
        });
        if (services.empty())
            return error(
                fmt::format("ipvsadm -L: no service {}", service_name(c.protocol, c.service.ip, *c.service.port)));
        o.version_line = false;  // as ipvsadm's list_service
    }
    add_text(out, format_ipvsadm_table(services, api.table_size(), o));
    return out;
}

CommandOutput ipvsadm_help()
{
    CommandOutput out;
    for (const std::string& line : console_help())
        if (line.starts_with("  ipvsadm")) out.lines.push_back(line);
    return out;
}

CommandOutput ipvsadm(const Words& w, ControlApi& api)
{
    const Words args(w.begin() + 1, w.end());
    Ipvsadm c;
    if (auto why = parse_ipvsadm(args, c); !why.empty()) return error("ipvsadm: " + why);
    if (c.cmd == Cmd::none) {
        if (args.empty()) c.cmd = Cmd::list;  // ipvsadm alone lists the table
        else
            return error("ipvsadm: expected a command: -A, -E, -D, -C, -a, -e, -d, -L, -Z, -S or --set; try \"help\"");
    }
    if (auto why = check_rules(c); !why.empty()) return error("ipvsadm " + why);

    switch (c.cmd) {
    case Cmd::list: return ipvsadm_list(c, api);
    case Cmd::help: return ipvsadm_help();
    case Cmd::save: {
        CommandOutput out;
        add_text(out, format_ipvsadm_rules(api.services()));
        return out;
    }
    case Cmd::zero: {
        if (c.options & opt::service) {
            Config current = api.running_config();
            const ServiceConfig* service = find_service(current, {c.protocol, c.service.ip, *c.service.port});
            if (!service)
                return error(fmt::format("ipvsadm -Z: no service {}",
                                         service_name(c.protocol, c.service.ip, *c.service.port)));
            api.zero_counters(service);
            return ok();
        }
        api.zero_counters();
        return ok();
    }
    default: break;
    }

    // The edits: a changed copy of the running configuration, published through apply().
    Config next = api.running_config();
    const std::string cmd = command_label(c.cmd);
    if (c.cmd == Cmd::clear) {
        next.services.clear();
        return apply_change(api, next, w);
    }
    if (c.cmd == Cmd::set_timeouts) {
        uint32_t v[3] = {};
        for (size_t i = 0; i < 3; ++i) {
            auto n = parse_number<uint32_t>(c.arguments[i], 0, max_timeout);
            if (!n)
                return error(fmt::format("ipvsadm --set: expected a timeout from 0 to {} seconds, found {}", max_timeout,
                                         quote(c.arguments[i])));
            v[i] = *n;
        }
        next.timeouts.set_like_ipvsadm(v[0], v[1], v[2]);
        return apply_change(api, next, w);
    }

    const uint16_t vport = *c.service.port;
    const std::string name = service_name(c.protocol, c.service.ip, vport);
    // The netmask only groups the clients of a persistent service (ipvsadm prints it only then).
    if ((c.options & opt::netmask) && !(c.options & opt::persistent))
        return error(fmt::format("ipvsadm {}: -M (--netmask) needs -p: it groups the clients of a persistent service",
                                 cmd));
    ServiceConfig* service = find_service(next, {c.protocol, c.service.ip, vport});
    switch (c.cmd) {
    case Cmd::add_service: {
        if (service) return error(fmt::format("ipvsadm {}: service {} already exists", cmd, name));
        ServiceConfig s;
        s.vip = c.service.ip;
        s.port = vport;
        s.protocol = c.protocol;
        s.scheduler = c.scheduler.empty() ? "wlc" : c.scheduler;
        s.scheduler_flags = c.flags;
        s.persistence = c.persistence;
        s.persistence_netmask = c.netmask;
        next.services.push_back(std::move(s));
        return apply_change(api, next, w);
    }
    case Cmd::edit_service:
        if (!service) return error(fmt::format("ipvsadm {}: no service {}", cmd, name));
        // As ipvsadm -E: what is not given goes back to its default (wlc, no persistence, /32,
        // no flags), because ipvsadm sends the kernel the whole service.
        service->scheduler = c.scheduler.empty() ? "wlc" : c.scheduler;
        service->scheduler_flags = c.flags;
        service->persistence = c.persistence;
        service->persistence_netmask = c.netmask;
        return apply_change(api, next, w);
    case Cmd::delete_service:
        if (!service) return error(fmt::format("ipvsadm {}: no service {}", cmd, name));
        next.services.erase(next.services.begin() + (service - next.services.data()));
        return apply_change(api, next, w);
    default: break;
    }

    if (!service) return error(fmt::format("ipvsadm {}: no service {}", cmd, name));
    const uint16_t rport = c.server.port.value_or(vport);
    const std::string rs_name = format_ipv4_port(c.server.ip, rport);
    auto rs = find_real_server(*service, c.server.ip, rport);
    // A real server without -g|-i|-m takes the service's forwarding method, as in the
    // configuration file (ipvsadm's default would be -g).
    const ForwardMethod forward = (c.options & opt::forward) ? c.forward : service->forward;
    switch (c.cmd) {
    case Cmd::add_server: {
        if (rs != service->real_servers.end())
            return error(fmt::format("ipvsadm {}: {} already has real server {}", cmd, name, rs_name));
        RealServerConfig r;
        r.address = c.server.ip;
        r.port = rport;
        r.weight = c.weight;
        r.forward = forward;
        r.upper_threshold = c.upper;
        r.lower_threshold = c.lower;
        r.health_check = service->health_check;  // checked as the service's others
        service->real_servers.push_back(r);
        return apply_change(api, next, w);
    }
    case Cmd::edit_server:
        if (rs == service->real_servers.end())
            return error(fmt::format("ipvsadm {}: {} has no real server {}", cmd, name, rs_name));
        // As ipvsadm -e: weight 1 and no thresholds unless given.
        rs->weight = c.weight;
        rs->forward = forward;
        rs->upper_threshold = c.upper;
        rs->lower_threshold = c.lower;
        return apply_change(api, next, w);
    case Cmd::delete_server:
        if (rs == service->real_servers.end())
            return error(fmt::format("ipvsadm {}: {} has no real server {}", cmd, name, rs_name));
        service->real_servers.erase(rs);
        return apply_change(api, next, w);
    default: break;
    }
    return error("ipvsadm: unhandled command");  // not reached: every Cmd is handled above
}

CommandOutput reload(const Words& w, ControlApi& api)
{
    if (w.size() > 1) return error(fmt::format("reload: expected nothing after it, found {}", quote(join(w, 1))));
    const std::string problems = api.reload();
    if (problems.empty()) return ok();
    CommandOutput out;
    out.lines.push_back("error: reload refused, the running configuration stays:");
    std::string_view rest = problems;
    while (!rest.empty()) {
        const size_t nl = rest.find('\n');
        const std::string_view line = rest.substr(0, nl);
        if (!line.empty()) out.lines.push_back("  " + std::string(line));
        if (nl == std::string_view::npos) break;
        rest.remove_prefix(nl + 1);
    }
    return out;
}

}  // namespace

const std::vector<std::string>& console_help()
{
    static const std::vector<std::string> lines = {
        "commands:",
        "  help                        this list",
        "  quit | exit                 close the session",
        "  show services               the table, as ipvsadm -L -n",
        "  show stats                  traffic counters, as ipvsadm -L -n --stats",
        "  show rate                   traffic rates, as ipvsadm -L -n --rate",
        fmt::format("  show conns [LIMIT]          connections, as ipvsadm -L -n -c (the first {}, at most {})",
                    default_connection_limit, max_connection_limit),
        "  show workers                packets, drops by reason, hand-offs, idle polls, connections per worker",
        "  show health                 each real server's check, state, weight in force and last result",
        "  show config                 the running configuration as YAML",
        "  set weight [tcp|udp] VIP:PORT RIP[:PORT] WEIGHT",
        "  ipvsadm -A|-E -t|-u VIP:PORT [-s SCHED] [-p [TIMEOUT]] [-M NETMASK] [-b FLAGS]",
        "  ipvsadm -D -t|-u VIP:PORT",
        "  ipvsadm -a|-e -t|-u VIP:PORT -r RIP[:PORT] [-g|-i|-m] [-w WEIGHT] [-x UPPER] [-y LOWER]",
        "  ipvsadm -d -t|-u VIP:PORT -r RIP[:PORT]",
        "  ipvsadm -C | -Z | --set TCP TCPFIN UDP",
        "  ipvsadm -L|-l [-n] [-c | --timeout | --stats | --rate [--exact]] [-t|-u VIP:PORT]",
        "  ipvsadm -S [-n]",
        "  reload                      read the configuration file again (as SIGHUP)",
        "Changes made here last until the next reload.",
    };
    return lines;
}

CommandOutput run_console_command(std::string_view line, ControlApi& api)
{
    const Words w = split_words(line);
    if (w.empty() || w[0].starts_with('#')) return {};
    const std::string_view command = w[0];
    if (command == "help" || command == "?") {
        if (w.size() > 1) return error(fmt::format("help: expected nothing after it, found {}", quote(join(w, 1))));
        return CommandOutput{console_help(), false};
    }
    if (command == "quit" || command == "exit") return CommandOutput{{}, true};
    if (command == "show") return show(w, api);
    if (command == "set") return set_weight(w, api);
    if (command == "ipvsadm") return ipvsadm(w, api);
    if (command == "reload") return reload(w, api);
    return error(fmt::format("unknown command {}; try \"help\"", quote(command)));
}

}  // namespace fulcrum::control
