#include "control/frontends/console_commands.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <ctime>
#include <map>
#include <optional>
#include <span>

#include "control/config/writer.hpp"
#include "common/text.hpp"
#include "control/frontends/ipvsadm_format.hpp"
#include "control/config/edits.hpp"
#include "control/config/limits.hpp"

#include "control/frontends/command_line.hpp"

namespace fulcrum::control {

namespace {

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
                                        format_endpoint(row.vip, row.vport), format_endpoint(row.address, row.port),
                                        row.check, health_state_name(row.state),
                                        row.weight ? std::to_string(*row.weight) : "-", changed,
                                        row.last_result.empty() ? "-" : row.last_result,
                                        row.reason.empty() ? "-" : row.reason));
    }
    return out;
}

// show sync: the daemon's settings, whether it runs, and its counters by name.
CommandOutput show_sync(ControlApi& api)
{
    CommandOutput out;
    const SyncStatus s = api.sync_status();
    if (!s.config.enabled()) {
        out.lines.push_back("connection sync is off");
    } else {
        out.lines.push_back(fmt::format("role {} on {} (kernel interface {}): {}", sync_role_name(s.config), s.config.interface,
                                        s.kernel_interface.empty() ? "-" : s.kernel_interface,
                                        s.sending || s.receiving
                                            ? fmt::format("{}{}", s.sending ? "sending" : "",
                                                          s.sending && s.receiving ? " and receiving"
                                                          : s.receiving            ? "receiving"
                                                                                   : "")
                                            : "not running (see the log)"));
        out.lines.push_back(fmt::format("group {}:{}, ttl {}, sync id {}, max_length {}, full_refresh {} s",
                                        format_ipv4(s.config.group), s.config.port, s.config.ttl, s.config.syncid,
                                        s.config.max_length, s.config.full_refresh));
    }
    const sync::SyncCounters& c = s.counters;
    for (const auto& [name, value] :
         {std::pair{"messages_sent", c.messages_sent}, std::pair{"connections_sent", c.connections_sent},
          std::pair{"send_errors", c.send_errors}, std::pair{"messages_received", c.messages_received},
          std::pair{"connections_received", c.connections_received}, std::pair{"delivery_full", c.delivery_full}})
        out.lines.push_back(fmt::format("{:<30}{:>14}", name, value));
    for (size_t i = 0; i < sync::sync_refusal_count; ++i)
        out.lines.push_back(fmt::format("{:<30}{:>14}", fmt::format("refused_{}", sync::sync_refusal_names[i]), c.refused[i]));
    return out;
}

// show interfaces: each port as the configuration names it, its link and its counters.
CommandOutput show_interfaces(ControlApi& api)
{
    CommandOutput out;
    for (const InterfaceStatus& i : api.interfaces()) {
        std::string addresses;
        for (const IpPrefix& a : i.config.addresses) addresses += (addresses.empty() ? "" : " ") + format_prefix(a);
        out.lines.push_back(fmt::format("{}: port {} {}{}, link {}{}, mtu {}, mac {}", i.config.name, i.port,
                                        i.config.device,
                                        i.config.vlan != 0 ? fmt::format(" vlan {}", i.config.vlan) : "",
                                        i.link_up ? "up" : "down",
                                        i.speed_mbps ? fmt::format(" {} Mb/s", i.speed_mbps) : "", i.mtu, i.mac));
        out.lines.push_back(fmt::format("    address {}; kernel interface {}", addresses.empty() ? "-" : addresses,
                                        i.config.kernel_interface.empty() ? "-" : i.config.kernel_interface));
        out.lines.push_back(fmt::format("    RX: packets {} bytes {} missed {} errors {} no-mbuf {}", i.rx_packets,
                                        i.rx_bytes, i.rx_missed, i.rx_errors, i.rx_no_mbuf));
        out.lines.push_back(fmt::format("    TX: packets {} bytes {} errors {}", i.tx_packets, i.tx_bytes, i.tx_errors));
    }
    return out;
}

// show neighbors: as `ip neigh` prints the kernel's, in address order.
CommandOutput show_neighbors(ControlApi& api)
{
    std::vector<NeighborRow> rows = api.neighbors();
    std::sort(rows.begin(), rows.end(), [](const NeighborRow& a, const NeighborRow& b) { return a.ip < b.ip; });
    CommandOutput out;
    for (const NeighborRow& n : rows)
        out.lines.push_back(fmt::format("{} dev {} lladdr {} {}", format_ip(n.ip), n.interface, n.mac,
                                        n.is_static ? "PERMANENT" : "REACHABLE"));
    return out;
}

// show routes: what the dataplane routes by, as `ip route` prints a table: the interfaces'
// subnets, then the file's routes (a next hop's interface is the one whose subnet holds it).
CommandOutput show_routes(ControlApi& api)
{
    const Config& c = api.running_config();
    CommandOutput out;
    // `ip -6 route` names no source address for a connected subnet; `ip route` does.
    for (const InterfaceConfig& i : c.interfaces)
        for (const IpPrefix& a : i.addresses)
            out.lines.push_back(fmt::format("{} dev {} proto kernel{}", format_prefix({a.network(), a.length}), i.name,
                                            a.address.is_ipv4() ? " scope link src " + format_ip(a.address) : ""));
    for (const RouteConfig& r : c.routes) {
        const std::string dst = r.dst.length == 0 ? "default" : format_prefix({r.dst.network(), r.dst.length});
        // The interface the dataplane sends by (snapshot_builder.cpp asks the same); the checker
        // refuses a route none holds, which would show as "?" rather than be hidden.
        const InterfaceConfig* holder = interface_holding(c, r.via, r.interface);
        const std::string dev = holder ? holder->name : "?";
        out.lines.push_back(fmt::format("{} via {} dev {} proto static", dst, format_ip(r.via), dev));
    }
    return out;
}

// show announce: where the routes go, and each VIP's availability and route.
CommandOutput show_announce(ControlApi& api)
{
    CommandOutput out;
    const AnnounceStatus a = api.announce_status();
    if (!a.config.enabled())
        out.lines.push_back("announce is off: no VIP is announced");
    else
        out.lines.push_back(fmt::format("table {} over {} (kernel interface {}), quorum {}", a.config.table,
                                        a.config.interface, a.kernel_interface.empty() ? "-" : a.kernel_interface,
                                        a.config.quorum));
    // The VIP column is as wide as the longest IPv6 VIP needs, and 18 at least.
    size_t width = 18;
    for (const AnnounceStatus::Vip& v : a.vips) width = std::max(width, format_ip(v.address).size() + 2);
    out.lines.push_back(fmt::format("{:<{}}{:<11}{}", "VIP", width, "available", "announced"));
    for (const AnnounceStatus::Vip& v : a.vips)
        out.lines.push_back(fmt::format("{:<{}}{:<11}{}", format_ip(v.address), width, v.available ? "yes" : "no",
                                        v.announced ? "yes" : "no"));
    if (!a.problem.empty()) out.lines.push_back("the kernel refused: " + a.problem);
    return out;
}

CommandOutput show(const Words& w, ControlApi& api)
{
    constexpr std::string_view expected =
        "expected one of: services, stats, rate, conns [LIMIT], workers, health, config, sync, announce, interfaces, "
        "neighbors, routes";
    if (w.size() < 2) return error(fmt::format("show: {}", expected));
    const std::string_view what = w[1];
    if (what == "conns") {
        std::string problem;
        auto limit = parse_limit(w, 2, problem, "show conns");
        if (!limit) return error(problem);
        return show_connections(api, *limit);
    }
    const bool known = what == "services" || what == "stats" || what == "rate" || what == "workers" ||
                       what == "health" || what == "config" || what == "sync" || what == "announce" ||
                       what == "interfaces" || what == "neighbors" || what == "routes";
    if (!known) return error(fmt::format("show: unknown {} ({})", quote(what), expected));
    if (w.size() > 2) return error(fmt::format("show {}: expected nothing after it, found {}", what, quote(join(w, 2))));

    CommandOutput out;
    if (what == "workers") return show_workers(api);
    if (what == "health") return show_health(api);
    if (what == "sync") return show_sync(api);
    if (what == "announce") return show_announce(api);
    if (what == "interfaces") return show_interfaces(api);
    if (what == "neighbors") return show_neighbors(api);
    if (what == "routes") return show_routes(api);
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
        protocol = protocol_of_name(w[2]);
        if (!protocol)
            return error(fmt::format("set weight: expected tcp or udp, found {}", quote(w[2])));
        at = 3;
    }
    auto vip = parse_endpoint(w[at]);
    if (!vip || !vip->port)
        return error(fmt::format("set weight: expected VIP:PORT (like 203.0.113.10:80), found {}", quote(w[at])));
    auto rip = parse_endpoint(w[at + 1]);
    if (!rip) return error(fmt::format("set weight: expected RIP[:PORT] (like 172.16.0.2:8080), found {}", quote(w[at + 1])));
    auto weight = parse_number<uint32_t>(w[at + 2], 0, limits::max_weight);
    if (!weight) return error(fmt::format("set weight: expected a weight from 0 to {}, found {}", limits::max_weight, quote(w[at + 2])));

    Config next = api.running_config();
    const ServiceConfig* service = nullptr;
    if (protocol) {
        service = find_service(next, {*protocol, vip->address, *vip->port});
        if (!service) return error(fmt::format("set weight: no service {}", service_name({*protocol, vip->address, *vip->port})));
    } else {
        const ServiceConfig* tcp = find_service(next, {Protocol::tcp, vip->address, *vip->port});
        const ServiceConfig* udp = find_service(next, {Protocol::udp, vip->address, *vip->port});
        if (tcp && udp)
            return error(fmt::format("set weight: both a tcp and a udp service listen on {}; say which: "
                                     "set weight tcp|udp {}",
                                     format_endpoint(vip->address, *vip->port), join(w, 2)));
        service = tcp ? tcp : udp;
        if (!service) return error(fmt::format("set weight: no service on {}", format_endpoint(vip->address, *vip->port)));
    }
    const RealServerKey key{service->key(), rip->address, rip->port.value_or(service->port)};
    if (auto why = control::set_weight(next, key, *weight); !why.empty()) return error("set weight: " + why);
    return apply_change(api, next, w);
}

CommandOutput reload(const Words& w, ControlApi& api)
{
    if (w.size() > 1) return error(fmt::format("reload: expected nothing after it, found {}", quote(join(w, 1))));
    const std::string problems = api.reload();
    if (problems.empty()) return ok();
    CommandOutput out;
    out.status = 1;
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
        "  show sync                   connection sync: role, interface, datagrams and records sent, received, refused",
        "  show announce               route health injection: the table, each VIP available and announced or not",
        "  show interfaces             each port: device, link, MTU, MAC, addresses, RX and TX counters",
        "  show neighbors              the resolved neighbours (ARP and the file's), as ip neigh",
        "  show routes                 the interfaces' subnets and the file's routes, as ip route",
        "  set weight [tcp|udp] VIP:PORT RIP[:PORT] WEIGHT",
        "  ipvsadm -A|-E -t|-u VIP:PORT [-s SCHED] [-p [TIMEOUT]] [-M NETMASK] [-b FLAGS]",
        "  ipvsadm -D -t|-u VIP:PORT",
        "  ipvsadm -a|-e -t|-u VIP:PORT -r RIP[:PORT] [-g|-i|-m] [-w WEIGHT] [-x UPPER] [-y LOWER]",
        "  ipvsadm -d -t|-u VIP:PORT -r RIP[:PORT]",
        "  ipvsadm -C | -Z | --set TCP TCPFIN UDP",
        "  ipvsadm -L|-l [-n] [-c | --timeout | --daemon | --stats | --rate [--exact]] [-t|-u VIP:PORT]",
        "  ipvsadm -S [-n]",
        "  ipvsadm -R                  then the rules (ipvsadm -S's lines) and a line \".\": all applied or none",
        "  ipvsadm --start-daemon master|backup --mcast-interface IF [--syncid N] [--sync-maxlen N]",
        "          [--mcast-group GROUP] [--mcast-port PORT] [--mcast-ttl TTL]",
        "  ipvsadm --stop-daemon master|backup | ipvsadm -L --daemon",
        "  reload                      read the configuration file again (as SIGHUP)",
        "  script                      frame the answers for a program: \"o \"/\"e \" lines, then \"= STATUS\"",
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
    if (command == "ipvsadm") return ipvsadm_command(w, api);
    if (command == "reload") return reload(w, api);
    return error(fmt::format("unknown command {}; try \"help\"", quote(command)));
}

bool takes_body(std::string_view line)
{
    const Words w = split_words(line);
    return !w.empty() && w[0] == "ipvsadm" && is_ipvsadm_restore(w);
}

CommandOutput run_console_command_with_body(std::string_view line, const std::vector<std::string>& body, ControlApi& api)
{
    const Words w = split_words(line);
    if (w.empty() || w[0] != "ipvsadm" || !is_ipvsadm_restore(w))
        return error(fmt::format("{} takes no body", quote(line)));
    return ipvsadm_restore(w, body, api);
}

}  // namespace fulcrum::control

