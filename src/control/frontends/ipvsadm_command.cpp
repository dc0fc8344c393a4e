// The console's `ipvsadm ARGS`: ipvsadm's own command line, parsed as ipvsadm parses it, and its
// edits made through config/edits.hpp.
#include "control/frontends/command_line.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <charconv>
#include <chrono>
#include <ctime>
#include <map>
#include <optional>
#include <span>

#include "common/text.hpp"
#include "control/frontends/ipvsadm_body.hpp"
#include "control/frontends/ipvsadm_format.hpp"
#include "control/frontends/ipvsadm_rules.hpp"
#include "control/config/edits.hpp"
#include "control/config/limits.hpp"


namespace fulcrum::control {

namespace {

// ---------------------------------------------------------------------------------------------
// ipvsadm ARGS: ipvsadm's own command line (ipvsadm.c's option table), parsed as popt does:
// short options may be bundled (-Ln, -At VIP:PORT), an option's value may follow attached
// (-w3, --weight=3) or as the next word, and -p takes the next word only if it does not start
// with '-'.

enum class Cmd { none, add_service, edit_service, delete_service, clear, list, zero, add_server, edit_server,
                 delete_server, set_timeouts, save, restore, help, version, start_daemon, stop_daemon };

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
    {Cmd::restore, 'R', "restore"}, {Cmd::help, 'h', "help"}, {Cmd::version, 'v', "version"},
    {Cmd::start_daemon, 0, "start-daemon"}, {Cmd::stop_daemon, 0, "stop-daemon"},
};

// The two commands that take a value: the daemon, master or backup.
bool takes_daemon_state(Cmd c) { return c == Cmd::start_daemon || c == Cmd::stop_daemon; }

namespace opt {
constexpr uint32_t service = 1u << 0, scheduler = 1u << 1, persistent = 1u << 2, netmask = 1u << 3,
                   server = 1u << 4, forward = 1u << 5, weight = 1u << 6, uthreshold = 1u << 7,
                   lthreshold = 1u << 8, numeric = 1u << 9, connection = 1u << 10, timeout = 1u << 11,
                   stats = 1u << 12, rate = 1u << 13, exact = 1u << 14, sched_flags = 1u << 15, sort = 1u << 16,
                   mcast_interface = 1u << 17, syncid = 1u << 18, sync_maxlen = 1u << 19, mcast_group = 1u << 20,
                   mcast_port = 1u << 21, mcast_ttl = 1u << 22, daemon = 1u << 23, thresholds = 1u << 24,
                   nosort = 1u << 25, persistent_conn = 1u << 26;
constexpr uint32_t last = persistent_conn;
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
    {opt::nosort, 0, "nosort", ArgKind::none},
    {opt::thresholds, 0, "thresholds", ArgKind::none},
    {opt::persistent_conn, 0, "persistent-conn", ArgKind::none},
    {opt::mcast_interface, 0, "mcast-interface", ArgKind::required},
    {opt::syncid, 0, "syncid", ArgKind::required},
    {opt::sync_maxlen, 0, "sync-maxlen", ArgKind::required},
    {opt::mcast_group, 0, "mcast-group", ArgKind::required},
    {opt::mcast_port, 0, "mcast-port", ArgKind::required},
    {opt::mcast_ttl, 0, "mcast-ttl", ArgKind::required},
    {opt::daemon, 0, "daemon", ArgKind::none},
};

// ipvsadm's options that Fulcrum has no use for, and why.
struct Unsupported {
    char short_name;
    std::string_view long_name;
    std::string_view why;
};
constexpr Unsupported unsupported_specs[] = {
    {'f', "fwmark-service", "firewall-mark services do not exist here (no netfilter)"},
    {0, "sctp-service", "Fulcrum balances TCP and UDP, not SCTP"},
    // ipvsadm takes -6 only after -f ("-6 used before -f" otherwise): it marks a firewall-mark
    // service IPv6. An IPv6 virtual service is named by its address, as in ipvsadm.
    {'6', "ipv6", "-6 used before -f (it marks a firewall-mark service IPv6; name an IPv6 service by its address: "
                  "-t [2001:db8::10]:80)"},
    {'o', "ops", "one-packet scheduling is not implemented"},
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
    std::string_view netmask_text;        // -M, read once the service's family is known
    std::optional<uint8_t> netmask;       // none: the family's full length
    Endpoint server;
    ForwardMethod forward = ForwardMethod::dr;  // ipvsadm's default: -a and -e without -g|-i|-m mean -g
    uint32_t weight = 1;
    uint32_t upper = 0;
    uint32_t lower = 0;
    sched::Flags flags;
    std::vector<std::string_view> arguments;  // positional: --set's three timeouts
    bool master_daemon = false;               // --start-daemon / --stop-daemon master (else backup)
    SyncDaemonSettings daemon;
    bool popt_error = false;  // what popt itself refuses (an unknown option, a missing value): ipvsadm exits 255
};

// -M by the service's family, as ipvsadm reads it: for IPv4 a contiguous netmask or a prefix length
// up to 32; for IPv6 a prefix length from 1 to 128 (ipvsadm: "illegal ipv6 netmask specified").
std::string read_netmask(Ipvsadm& c)
{
    const std::string_view v = c.netmask_text;
    if (!c.service.address.is_ipv4()) {
        if (auto len = parse_number<uint8_t>(v, 1, 128)) {
            c.netmask = *len;
            return "";
        }
        return fmt::format("-M: expected a prefix length from 1 to 128 for an IPv6 service, found {}", quote(v));
    }
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
    return fmt::format("-M: expected a netmask like 255.255.255.0 or a prefix length from 0 to 32, found {}", quote(v));
}

// Records one option and its value; returns "" or the problem.
std::string take_option(Ipvsadm& c, const OptSpec& spec, std::optional<std::string_view> value)
{
    if (c.options & spec.opt) return fmt::format("{} given twice", option_label(spec.opt));
    c.options |= spec.opt;
    const std::string_view v = value.value_or("");
    switch (spec.short_name) {
    case 't':
    case 'u': {
        c.protocol = *protocol_of_flag(spec.short_name);  // the option table has -t and -u only for these
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
        if (auto n = parse_number<uint32_t>(v, 1, limits::max_persistence_seconds)) {
            c.persistence = *n;
            return "";
        }
        return fmt::format("-p: expected a timeout from 1 to {} seconds, found {}", limits::max_persistence_seconds, quote(v));
    case 'M':
        c.netmask_text = v;
        return "";
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
        if (auto n = parse_number<uint32_t>(v, 0, limits::max_weight)) {
            c.weight = *n;
            return "";
        }
        return fmt::format("-w: expected a weight from 0 to {}, found {}", limits::max_weight, quote(v));
    case 'x':
    case 'y':
        if (auto n = parse_number<uint32_t>(v, 0, limits::max_threshold)) {
            (spec.short_name == 'x' ? c.upper : c.lower) = *n;
            return "";
        }
        return fmt::format("-{}: expected a number of connections from 0 to {}, found {}", spec.short_name,
                           limits::max_threshold, quote(v));
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
    default: break;
    }
    // The sync daemon's options (long only), with ipvsadm's ranges.
    const auto in_range = [&](auto& field, auto low, auto high, std::string_view what) -> std::string {
        using T = typename std::remove_reference_t<decltype(field)>::value_type;
        if (auto n = parse_number<T>(v, static_cast<T>(low), static_cast<T>(high))) {
            field = *n;
            return "";
        }
        return fmt::format("--{}: expected {} from {} to {}, found {}", spec.long_name, what, low, high, quote(v));
    };
    switch (spec.opt) {
    case opt::mcast_interface: c.daemon.interface = std::string(v); return "";
    case opt::syncid: return in_range(c.daemon.syncid, 0, 255, "a sync id");
    case opt::sync_maxlen: return in_range(c.daemon.max_length, limits::min_sync_length, limits::max_sync_length, "a length");
    case opt::mcast_port: return in_range(c.daemon.port, 1, limits::max_port, "a port");
    case opt::mcast_ttl: return in_range(c.daemon.ttl, 1, 255, "a TTL");
    case opt::mcast_group:
        if (auto ip = parse_ipv4(v); ip && is_ipv4_multicast(*ip)) {
            c.daemon.group = *ip;
            return "";
        }
        return fmt::format("--mcast-group: expected an IPv4 multicast address (224.0.0.0/4), found {}", quote(v));
    default: return "";  // flags without a value: -n, -c, --timeout, --stats, --rate, --exact, --sort, --daemon
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
                if (takes_daemon_state(cmd->cmd)) {
                    if (!value && i + 1 < args.size()) value = args[++i];
                    if (value != "master" && value != "backup")
                        return fmt::format("--{}: expected master or backup, found {}", name,
                                           value ? quote(*value) : std::string("nothing"));
                    c.master_daemon = value == "master";
                } else if (value) {
                    return c.popt_error = true, fmt::format("--{} takes no value", name);
                }
                if (auto why = set_command(c, cmd->cmd); !why.empty()) return why;
                continue;
            }
            auto spec = std::find_if(std::begin(option_specs), std::end(option_specs),
                                     [&](const OptSpec& s) { return s.long_name == name; });
            if (spec == std::end(option_specs)) {
                for (const Unsupported& u : unsupported_specs)
                    if (u.long_name == name) return fmt::format("--{} is not supported: {}", name, u.why);
                return c.popt_error = true, fmt::format("unknown option {}", quote(word));
            }
            if (spec->arg == ArgKind::none && value) return c.popt_error = true, fmt::format("--{} takes no value", name);
            if (spec->arg == ArgKind::required && !value) {
                if (i + 1 >= args.size()) return c.popt_error = true, fmt::format("--{} needs a value", name);
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
                    return c.popt_error = true, fmt::format("unknown option {}", quote(std::string("-") + ch));
                }
                std::optional<std::string_view> value;
                const std::string_view rest = word.substr(j + 1);
                if (spec->arg == ArgKind::required) {
                    if (!rest.empty())
                        value = rest;
                    else if (i + 1 < args.size())
                        value = args[++i];
                    else
                        return c.popt_error = true, fmt::format("-{} needs a value", ch);
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
                       opt::sort | opt::nosort | opt::thresholds | opt::persistent_conn | opt::daemon},
    {Cmd::zero, 0, opt::service},
    {Cmd::add_server, opt::service | opt::server, opt::forward | opt::weight | opt::uthreshold | opt::lthreshold},
    {Cmd::edit_server, opt::service | opt::server, opt::forward | opt::weight | opt::uthreshold | opt::lthreshold},
    {Cmd::delete_server, opt::service | opt::server, 0},
    {Cmd::set_timeouts, 0, 0},
    {Cmd::save, 0, opt::numeric},
    {Cmd::restore, 0, 0},
    {Cmd::help, 0, 0},
    {Cmd::version, 0, 0},
    {Cmd::start_daemon, opt::mcast_interface,
     opt::syncid | opt::sync_maxlen | opt::mcast_group | opt::mcast_port | opt::mcast_ttl},
    {Cmd::stop_daemon, 0, 0},
};

std::string check_rules(const Ipvsadm& c)
{
    const CommandRules* rules = nullptr;
    for (const CommandRules& r : command_rules)
        if (r.cmd == c.cmd) rules = &r;
    const std::string cmd = command_label(c.cmd);
    for (uint32_t bit = 1; bit <= opt::last; bit <<= 1) {
        if ((rules->required & bit) && !(c.options & bit)) {
            const std::string_view what = bit == opt::service ? "-t|-u VIP:PORT"
                                          : bit == opt::server ? "-r RIP[:PORT]"
                                                               : "--mcast-interface INTERFACE";
            return fmt::format("{}: expected {}", cmd, what);
        }
        if ((c.options & bit) && !((rules->required | rules->allowed) & bit))
            return fmt::format("{}: {} does not apply to this command", cmd, option_label(bit));
    }
    if (c.cmd == Cmd::list) {
        const uint32_t exclusive = c.options & (opt::connection | opt::service | opt::timeout | opt::daemon);
        if (std::popcount(exclusive) > 1) return fmt::format("{}: -c, -t|-u, --timeout and --daemon exclude each other", cmd);
        constexpr uint32_t tables = opt::stats | opt::rate | opt::thresholds | opt::persistent_conn;
        if ((c.options & opt::daemon) && (c.options & tables))
            return fmt::format("{}: --stats, --rate, --thresholds and --persistent-conn list services, not the sync "
                               "daemons",
                               cmd);
        if ((c.options & (opt::connection | opt::timeout)) && (c.options & tables))
            return fmt::format("{}: --stats, --rate, --thresholds and --persistent-conn list services, not connections "
                               "or timeouts",
                               cmd);
        if (std::popcount(c.options & tables) > 1)
            return fmt::format("{}: give one of --stats, --rate, --thresholds and --persistent-conn", cmd);
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
    // Every connection, as ipvsadm: in pages of connection_page, each read from the workers when
    // the session has room for it, so a table of millions is listed without being held at once.
    if (c.options & opt::connection) {
        add_text(out, format_ipvsadm_connections({}));
        out.more = [&api, cursor = ConnectionCursor{}](std::vector<std::string>& lines) mutable {
            if (cursor.end) return false;
            add_lines(lines, format_ipvsadm_connection_rows(api.connections_from(cursor, connection_page)));
            return true;
        };
        return out;
    }
    if (c.options & opt::daemon) {
        const SyncStatus sync = api.sync_status();
        add_text(out, format_ipvsadm_daemons(sync.config, sync.kernel_interface));
        return out;
    }
    if (c.options & opt::timeout) {
        add_text(out, format_ipvsadm_timeouts(api.running_config().timeouts));
        return out;
    }
    IpvsadmOptions o;
    o.table = (c.options & opt::stats)        ? IpvsadmTable::stats
              : (c.options & opt::rate)       ? IpvsadmTable::rate
              : (c.options & opt::thresholds) ? IpvsadmTable::thresholds
              : (c.options & opt::persistent_conn) ? IpvsadmTable::persistent_conn
                                              : IpvsadmTable::list;
    o.exact = (c.options & opt::exact) != 0;
    o.sorted = (c.options & opt::nosort) == 0;
    std::vector<ServiceStatus> services = api.services();
    if (c.options & opt::service) {
        std::erase_if(services, [&](const ServiceStatus& s) {
            return s.config.key() != ServiceKey{c.protocol, c.service.address, *c.service.port};
        });
        if (services.empty())  // ipvsadm exits 1 here
            return error(
                fmt::format("ipvsadm -L: no service {}", service_name({c.protocol, c.service.address, *c.service.port})), 1);
        o.version_line = false;  // as ipvsadm's list_service
    }
    if (o.table == IpvsadmTable::persistent_conn) api.count_templates(services);
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

// ipvsadm's exit statuses: 2 for a command line it cannot take (its fail(2, ...)), 255 for an
// operation the kernel refused (process_options returns -1 from main).
constexpr int bad_command_line = 2;
constexpr int refused = 255;

// The words after "ipvsadm" read and checked: {"", 0}, or the problem and ipvsadm's status for
// it: 255 for what popt refuses (an unknown option, a missing value, no command first: its
// tryhelp_exit(-1)), 2 for the rest (its fail(2, ...)).
std::pair<std::string, int> read_command(const Words& args, Ipvsadm& c)
{
    if (auto why = parse_ipvsadm(args, c); !why.empty()) return {"ipvsadm: " + why, c.popt_error ? refused : bad_command_line};
    if (c.cmd == Cmd::none) {
        if (!args.empty())
            return {"ipvsadm: expected a command: -A, -E, -D, -C, -a, -e, -d, -L, -Z, -S, -R, --set, --start-daemon "
                    "or --stop-daemon; try \"help\"",
                    refused};
        c.cmd = Cmd::list;  // ipvsadm alone lists the table
    }
    if (auto why = check_rules(c); !why.empty()) return {"ipvsadm " + why, bad_command_line};
    // The netmask only groups the clients of a persistent service: ipvsadm takes -M without -p
    // and nothing comes of it (neither -L nor -S shows it), and so here.
    if (c.options & opt::netmask)
        if (auto why = read_netmask(c); !why.empty()) return {"ipvsadm: " + why, bad_command_line};
    if (!(c.options & opt::persistent)) c.netmask.reset();
    return {};
}

bool is_edit(Cmd c)
{
    switch (c) {
    case Cmd::add_service: case Cmd::edit_service: case Cmd::delete_service: case Cmd::clear: case Cmd::add_server:
    case Cmd::edit_server: case Cmd::delete_server: case Cmd::set_timeouts: case Cmd::start_daemon:
    case Cmd::stop_daemon:
        return true;
    default: return false;
    }
}

// One edit made to `next`: "" or why it cannot be made ({why, status}).
std::pair<std::string, int> edit(const Ipvsadm& c, Config& next)
{
    const std::string cmd = command_label(c.cmd);
    if (c.cmd == Cmd::clear) {
        next.services.clear();
        return {};
    }
    if (c.cmd == Cmd::start_daemon || c.cmd == Cmd::stop_daemon) {
        const std::string why = c.cmd == Cmd::start_daemon ? start_sync_daemon(next, c.master_daemon, c.daemon)
                                                           : stop_sync_daemon(next, c.master_daemon);
        if (!why.empty()) return {fmt::format("ipvsadm {}: {}", cmd, why), refused};
        return {};
    }
    if (c.cmd == Cmd::set_timeouts) {
        uint32_t v[3] = {};
        for (size_t i = 0; i < 3; ++i) {
            auto n = parse_number<uint32_t>(c.arguments[i], 0, limits::max_timeout);
            if (!n)
                return {fmt::format("ipvsadm --set: expected a timeout from 0 to {} seconds, found {}", limits::max_timeout,
                                    quote(c.arguments[i])),
                        bad_command_line};
            v[i] = *n;
        }
        next.timeouts.set_like_ipvsadm(v[0], v[1], v[2]);
        return {};
    }
    const ServiceKey service{c.protocol, c.service.address, *c.service.port};
    // As ipvsadm: direct routing and tunnelling cannot change the port, so the real server's is
    // the service's, whatever -r said.
    const bool keeps_port = (c.cmd == Cmd::add_server || c.cmd == Cmd::edit_server) &&
                            (c.forward == ForwardMethod::dr || c.forward == ForwardMethod::tun);
    const RealServerKey server{service, c.server.address,
                               keeps_port ? service.port : c.server.port.value_or(service.port)};
    const ServiceSettings service_settings{c.scheduler.empty() ? "wlc" : c.scheduler, c.flags, c.persistence, c.netmask};
    const RealServerSettings server_settings{c.weight, c.forward, c.upper, c.lower};
    std::string why;
    switch (c.cmd) {
    case Cmd::add_service: why = add_service(next, service, service_settings); break;
    case Cmd::edit_service: why = edit_service(next, service, service_settings); break;
    case Cmd::delete_service: why = delete_service(next, service); break;
    case Cmd::add_server: why = add_real_server(next, server, server_settings); break;
    case Cmd::edit_server: why = edit_real_server(next, server, server_settings); break;
    case Cmd::delete_server: why = delete_real_server(next, server); break;
    default: why = "not an edit"; break;
    }
    if (!why.empty()) return {fmt::format("ipvsadm {}: {}", cmd, why), refused};
    return {};
}

}  // namespace

CommandOutput ipvsadm_command(const Words& w, ControlApi& api)
{
    const Words args(w.begin() + 1, w.end());
    Ipvsadm c;
    if (auto [why, status] = read_command(args, c); !why.empty()) return error(why, status);

    switch (c.cmd) {
    case Cmd::list: return ipvsadm_list(c, api);
    case Cmd::help: return ipvsadm_help();
    case Cmd::version: {
        CommandOutput out;
        out.lines.push_back(fmt::format("ipvsadm v1.31 (Fulcrum's ipvsadm, IPVS v1.2.1 as the director reports it)"));
        return out;
    }
    case Cmd::restore:
        return error("ipvsadm -R: the rules follow the command, one per line, ended by a line \".\"", bad_command_line);
    case Cmd::save: {
        CommandOutput out;
        add_text(out, format_ipvsadm_rules(api.services()));
        return out;
    }
    case Cmd::zero: {
        if (c.options & opt::service) {
            const ServiceKey key{c.protocol, c.service.address, *c.service.port};
            const ServiceConfig* service = find_service(api.running_config(), key);
            if (!service) return error(fmt::format("ipvsadm -Z: no service {}", service_name(key)), refused);
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
    if (auto [why, status] = edit(c, next); !why.empty()) return error(why, status);
    return apply_change(api, next, w, refused);
}

bool is_ipvsadm_restore(const Words& w) { return ipvsadm_takes_body(Words(w.begin() + 1, w.end())); }

namespace {

// One rule made to `config` in place: on a refusal `config` may be half changed (a restore
// throws its copy away then).
IpvsadmRuleOutcome apply_rule_in_place(Config& config, std::string_view line)
{
    Words rule = split_words(line);
    if (!rule.empty() && rule.front() == "ipvsadm") rule.erase(rule.begin());
    if (rule.empty() || rule.front().starts_with('#')) return {};
    Ipvsadm c;
    if (auto [why, status] = read_command(rule, c); !why.empty()) return {why, status};
    if (!is_edit(c.cmd))
        return {fmt::format("{} is not a rule (expected -A, -E, -D, -C, -a, -e, -d, --set, --start-daemon or "
                            "--stop-daemon)",
                            command_label(c.cmd)),
                bad_command_line};
    if (auto [why, status] = edit(c, config); !why.empty()) return {why, status};
    return {"", 0, true};
}

}  // namespace

IpvsadmRuleOutcome apply_ipvsadm_rule(Config& config, std::string_view line)
{
    Config next = config;
    IpvsadmRuleOutcome outcome = apply_rule_in_place(next, line);
    if (outcome.edited) config = std::move(next);
    return outcome;
}

CommandOutput ipvsadm_restore(const Words& w, const std::vector<std::string>& rules, ControlApi& api)
{
    const Words args(w.begin() + 1, w.end());
    Ipvsadm restore;
    if (auto [why, status] = read_command(args, restore); !why.empty())
        return error(why + "; the rules after it were read and not applied", status);
    if (restore.cmd != Cmd::restore)
        return error(fmt::format("ipvsadm: more than one command given ({} and -R (--restore)); the rules after it "
                                 "were read and not applied",
                                 command_label(restore.cmd)),
                     bad_command_line);
    // Every rule is made to one copy, which is published once: the table never holds half of
    // a restore, and a refused rule leaves it as it was.
    Config next = api.running_config();
    size_t edits = 0;
    for (size_t i = 0; i < rules.size(); ++i) {
        const IpvsadmRuleOutcome outcome = apply_rule_in_place(next, rules[i]);
        if (!outcome.problem.empty())
            return error(fmt::format("ipvsadm -R: line {}: {}; nothing was applied", i + 1, outcome.problem),
                         outcome.status);
        edits += outcome.edited;
    }
    if (edits == 0) return ok();
    const std::string count = fmt::format("({} rules)", edits);
    return apply_change(api, next, Words{"ipvsadm", "-R", count}, refused);
}

}  // namespace fulcrum::control
