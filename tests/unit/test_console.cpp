// The operator console: the command interpreter against a fake director (every command's output
// exactly, ipvsadm edits as the Config handed to apply()), and the line server over real loopback
// sockets (several sessions, a script ending in EOF, long lines, telnet IAC bytes, limits).
#include <gtest/gtest.h>

#include <thread>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <sstream>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "control/config/edits.hpp"
#include "control/config/writer.hpp"
#include "control/frontends/console.hpp"
#include "control/frontends/console_commands.hpp"
#include "control/frontends/ipvsadm_format.hpp"

using namespace fulcrum;
using namespace fulcrum::control;
using namespace std::string_literals;

namespace fulcrum::control {

// Readable failures: what a check is, field by field.
void PrintTo(const HealthCheckConfig& h, std::ostream* os)
{
    *os << "{type " << static_cast<int>(h.type) << ", port " << h.port << ", interval " << h.interval_ms
        << " ms, timeout " << h.timeout_ms << " ms, rise " << h.rise << ", fall " << h.fall << ", on_failure "
        << static_cast<int>(h.on_failure) << ", http {path \"" << h.http.path << "\", host \"" << h.http.host
        << "\", " << h.http.expect_status.size() << " status range(s), body \"" << h.http.expect_body << "\"}}";
}

}  // namespace fulcrum::control

namespace {

constexpr Ipv4 vip = 0xCB00710A;       // 203.0.113.10
constexpr Ipv4 rs2 = 0xAC100002;       // 172.16.0.2
constexpr Ipv4 rs3 = 0xAC100003;       // 172.16.0.3
constexpr Ipv4 dr_vip = 0x0A000064;    // 10.0.0.100
constexpr Ipv4 dr_rs = 0x0A000005;     // 10.0.0.5

// Two links, a default route, and four services: tcp and udp on :53 (so that "set weight" without
// a protocol is ambiguous there), a persistent wrr web service and a DR service with flags.
Config base_config()
{
    Config c;
    c.source_file = "conf/test.yaml";
    c.interfaces = {
        InterfaceConfig{"ext", "net_af_packet0,iface=veth10", {{0x0A000001, 24}}},
        InterfaceConfig{"int", "net_af_packet1,iface=veth12", {{0xAC100001, 24}}},
    };
    // As a file that does not say otherwise: each interface has its exception path.
    c.interfaces[0].kernel_interface = "fl-ext";
    c.interfaces[1].kernel_interface = "fl-int";
    c.routes = {RouteConfig{{0, 0}, 0x0A0000FE, ""}};
    ServiceConfig web{vip, 80, Protocol::tcp, "wrr", ForwardMethod::nat,
                      {{rs3, 8080, 1, ForwardMethod::nat}, {rs2, 8080, 3, ForwardMethod::nat}}};
    web.persistence = 300;
    web.persistence_netmask = 24;
    ServiceConfig dns_udp{vip, 53, Protocol::udp, "rr", ForwardMethod::nat, {{rs2, 53, 1, ForwardMethod::nat}}};
    ServiceConfig dns_tcp{vip, 53, Protocol::tcp, "rr", ForwardMethod::nat, {{rs2, 53, 1, ForwardMethod::nat}}};
    ServiceConfig dr{dr_vip, 443, Protocol::tcp, "sh", ForwardMethod::dr, {{dr_rs, 443, 2, ForwardMethod::dr}}};
    dr.scheduler_flags.sh_port = true;
    c.services = {web, dns_udp, dns_tcp, dr};
    return c;
}

// A director that keeps a Config, validates edits as Director::apply does (the file's checker
// through check_config) and records what it was asked.
class FakeDirector : public ControlApi {
public:
    Config config = base_config();
    std::vector<std::pair<Config, std::string>> applied;  // every apply(), accepted or not
    std::string refusal;        // when set, apply() refuses with it
    std::string reload_result;
    int reloads = 0;
    int zeroed = 0;
    size_t last_limit = 0;
    std::vector<ConnectionRow> rows;
    std::vector<WorkerStatus> worker_list;
    std::function<void(ServiceStatus&)> decorate;  // counts and traffic for services()

    const Config& running_config() const override { return config; }

    std::string apply(const Config& next, std::string_view what) override
    {
        applied.emplace_back(next, std::string(what));
        if (!refusal.empty()) return refusal;
        std::string problems;
        for (const ConfigError& e : check_config(next, std::string(what)))
            problems += (problems.empty() ? "" : "; ") + e.message;
        if (!problems.empty()) return problems;
        config = next;
        return "";
    }

    std::string reload() override
    {
        ++reloads;
        return reload_result;
    }

    std::vector<ServiceStatus> services() const override
    {
        std::vector<ServiceStatus> out;
        for (const ServiceConfig& s : config.services) {
            ServiceStatus st;
            st.config = s;
            st.config.real_servers.clear();
            for (const RealServerConfig& rs : s.real_servers) {
                RealServerStatus r;
                r.config = rs;
                st.real_servers.push_back(r);
            }
            if (decorate) decorate(st);
            out.push_back(std::move(st));
        }
        return out;
    }

    std::vector<WorkerStatus> workers() const override { return worker_list; }

    std::vector<ConnectionRow> connections(size_t limit) override
    {
        last_limit = limit;
        return std::vector<ConnectionRow>(rows.begin(), rows.begin() + static_cast<long>(std::min(limit, rows.size())));
    }
    // Pages of `rows`; the cursor's slot is the index of the next row.
    size_t pages_read = 0;
    std::vector<ConnectionRow> connections_from(ConnectionCursor& cursor, size_t limit) override
    {
        ++pages_read;
        const size_t from = std::min<size_t>(cursor.slot, rows.size());
        const size_t to = std::min(rows.size(), from + limit);
        cursor.slot = static_cast<uint32_t>(to);
        cursor.end = to == rows.size();
        return std::vector<ConnectionRow>(rows.begin() + static_cast<long>(from), rows.begin() + static_cast<long>(to));
    }

    void zero_counters(const ServiceConfig* only) override
    {
        ++zeroed;
        zeroed_port = only != nullptr ? only->port : 0;
    }
    uint16_t zeroed_port = 0;
    uint32_t table_size() const override { return 4096; }
    std::vector<HealthRow> health_rows;
    SyncStatus sync;
    std::vector<HealthRow> health() const override { return health_rows; }
    SyncStatus sync_status() const override { return sync; }
    AnnounceStatus announce;
    std::vector<InterfaceStatus> interface_list;
    std::vector<NeighborRow> neighbor_list;
    AnnounceStatus announce_status() const override { return announce; }
    std::vector<InterfaceStatus> interfaces() const override { return interface_list; }
    // PersistConn of each real server by address, as the director would count its templates.
    std::map<IpAddress, uint32_t> templates;
    void count_templates(std::vector<ServiceStatus>& services) const override
    {
        for (ServiceStatus& s : services)
            for (RealServerStatus& rs : s.real_servers)
                if (auto t = templates.find(rs.config.address); t != templates.end()) rs.persistent = t->second;
    }
    std::vector<NeighborRow> neighbors() const override { return neighbor_list; }
};

std::string run(FakeDirector& d, std::string_view line)
{
    std::string text;
    CommandOutput out = run_console_command(line, d);
    for (std::vector<std::string> page = out.lines;;) {
        for (const std::string& l : page) text += l + "\n";
        page.clear();
        if (!out.more || !out.more(page)) break;
    }
    return text;
}

template <typename... Args>
std::string c_format(const char* format, Args... args)
{
    char buf[512];
    std::snprintf(buf, sizeof buf, format, args...);
    return buf;
}

// Field by field what the real servers and services of a Config compare on.
void expect_same_config(const Config& a, const Config& b)
{
    EXPECT_EQ(a.dataplane.workers, b.dataplane.workers);
    EXPECT_EQ(a.dataplane.eal, b.dataplane.eal);
    EXPECT_EQ(a.dataplane.conn_table_size, b.dataplane.conn_table_size);
    EXPECT_EQ(a.dataplane.mbufs, b.dataplane.mbufs);
    EXPECT_EQ(a.dataplane.expire_nodest_conn, b.dataplane.expire_nodest_conn);
    EXPECT_EQ(a.console, b.console);
    EXPECT_EQ(a.metrics_listen, b.metrics_listen);
    ASSERT_EQ(a.interfaces.size(), b.interfaces.size());
    for (size_t i = 0; i < a.interfaces.size(); ++i) {
        EXPECT_EQ(a.interfaces[i].name, b.interfaces[i].name);
        EXPECT_EQ(a.interfaces[i].device, b.interfaces[i].device);
        EXPECT_EQ(a.interfaces[i].addresses, b.interfaces[i].addresses);
        EXPECT_EQ(a.interfaces[i].mtu, b.interfaces[i].mtu);
        EXPECT_EQ(a.interfaces[i].queues, b.interfaces[i].queues);
    }
    ASSERT_EQ(a.routes.size(), b.routes.size());
    for (size_t i = 0; i < a.routes.size(); ++i) {
        EXPECT_EQ(a.routes[i].dst, b.routes[i].dst);
        EXPECT_EQ(a.routes[i].via, b.routes[i].via);
        EXPECT_EQ(a.routes[i].interface, b.routes[i].interface);
    }
    ASSERT_EQ(a.neighbors.size(), b.neighbors.size());
    for (size_t i = 0; i < a.neighbors.size(); ++i) {
        EXPECT_EQ(a.neighbors[i].ip, b.neighbors[i].ip);
        EXPECT_EQ(a.neighbors[i].mac, b.neighbors[i].mac);
    }
    ASSERT_EQ(a.services.size(), b.services.size());
    for (size_t i = 0; i < a.services.size(); ++i) {
        const ServiceConfig& s = a.services[i];
        const ServiceConfig& t = b.services[i];
        EXPECT_EQ(s.vip, t.vip);
        EXPECT_EQ(s.port, t.port);
        EXPECT_EQ(s.protocol, t.protocol);
        EXPECT_EQ(s.scheduler, t.scheduler);
        EXPECT_EQ(s.forward, t.forward);
        EXPECT_EQ(sched::flags_text(s.scheduler_flags), sched::flags_text(t.scheduler_flags));
        EXPECT_EQ(s.mh_table_size, t.mh_table_size);
        EXPECT_EQ(s.persistence, t.persistence);
        EXPECT_EQ(s.persistence_netmask, t.persistence_netmask);
        EXPECT_EQ(s.expire_quiescent_template, t.expire_quiescent_template);
        ASSERT_EQ(s.real_servers.size(), t.real_servers.size());
        for (size_t j = 0; j < s.real_servers.size(); ++j) {
            const RealServerConfig& r = s.real_servers[j];
            const RealServerConfig& q = t.real_servers[j];
            EXPECT_EQ(r.address, q.address);
            EXPECT_EQ(r.port, q.port);
            EXPECT_EQ(r.weight, q.weight);
            EXPECT_EQ(r.forward, q.forward);
            EXPECT_EQ(r.upper_threshold, q.upper_threshold);
            EXPECT_EQ(r.lower_threshold, q.lower_threshold);
        }
    }
    EXPECT_EQ(a.timeouts, b.timeouts);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// The interpreter

TEST(ConsoleCommands, BlankLinesAndCommentsDoNothing)
{
    FakeDirector d;
    EXPECT_EQ(run(d, ""), "");
    EXPECT_EQ(run(d, "   \t "), "");
    EXPECT_EQ(run(d, "# show services"), "");
    EXPECT_TRUE(d.applied.empty());
}

TEST(ConsoleCommands, HelpListsEveryCommand)
{
    FakeDirector d;
    const std::string help = run(d, "help");
    EXPECT_TRUE(help.starts_with("commands:\n"));
    for (const char* command : {"help", "quit | exit", "show services", "show stats", "show rate", "show conns [LIMIT]",
                                "show workers", "show health", "show config",
                                "set weight [tcp|udp] VIP:PORT RIP[:PORT] WEIGHT",
                                "ipvsadm -A|-E", "ipvsadm -D", "ipvsadm -a|-e", "ipvsadm -d", "ipvsadm -C | -Z",
                                "ipvsadm -L|-l", "ipvsadm -S", "reload"})
        EXPECT_NE(help.find(std::string("  ") + command), std::string::npos) << command;
    EXPECT_EQ(run(d, "?"), help);
    EXPECT_EQ(run(d, "help me"), "error: help: expected nothing after it, found \"me\"\n");
}

TEST(ConsoleCommands, QuitAndExitClose)
{
    FakeDirector d;
    for (const char* word : {"quit", "exit", "  quit  "}) {
        const CommandOutput out = run_console_command(word, d);
        EXPECT_TRUE(out.close) << word;
        EXPECT_TRUE(out.lines.empty()) << word;
    }
    EXPECT_FALSE(run_console_command("help", d).close);
}

TEST(ConsoleCommands, ShowServicesIsIpvsadmLn)
{
    FakeDirector d;
    d.decorate = [](ServiceStatus& s) {
        if (s.config.port != 80) return;
        for (RealServerStatus& r : s.real_servers)
            if (r.config.address == rs2) {
                r.active = 12;
                r.inactive = 345;
            } else {
                r.inactive = 7;
            }
    };
    const std::string text = run(d, "show services");
    EXPECT_EQ(text,
              "IP Virtual Server version 1.2.1 (size=4096)\n"
              "Prot LocalAddress:Port Scheduler Flags\n"
              "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n"
              "TCP  10.0.0.100:443 sh (sh-port)\n"
              "  -> 10.0.0.5:443                 Route   2      0          0         \n"
              "TCP  203.0.113.10:53 rr\n"
              "  -> 172.16.0.2:53                Masq    1      0          0         \n"
              "TCP  203.0.113.10:80 wrr persistent 300 mask 255.255.255.0\n"
              "  -> 172.16.0.2:8080              Masq    3      12         345       \n"
              "  -> 172.16.0.3:8080              Masq    1      0          7         \n"
              "UDP  203.0.113.10:53 rr\n"
              "  -> 172.16.0.2:53                Masq    1      0          0         \n");

    // The same lines from ipvsadm's own format strings (print_service_entry).
    std::vector<std::string> lines;
    for (size_t start = 0; start < text.size(); start = text.find('\n', start) + 1)
        lines.push_back(text.substr(start, text.find('\n', start) - start));
    ASSERT_EQ(lines.size(), 12u);
    EXPECT_EQ(lines[0], c_format("IP Virtual Server version %d.%d.%d (size=%d)", 1, 2, 1, 4096));
    EXPECT_EQ(lines[3], c_format("%s %s", "TCP  10.0.0.100:443", "sh") + c_format(" (%s)", "sh-port"));
    EXPECT_EQ(lines[4], c_format("  -> %-28s %-7s %-6d %-10u %-10u", "10.0.0.5:443", "Route", 2, 0u, 0u));
    EXPECT_EQ(lines[5], c_format("%s %s", "TCP  203.0.113.10:53", "rr"));
    EXPECT_EQ(lines[7], c_format("%s %s", "TCP  203.0.113.10:80", "wrr") + c_format(" persistent %u", 300u) +
                            c_format(" mask %s", "255.255.255.0"));
    EXPECT_EQ(lines[8], c_format("  -> %-28s %-7s %-6d %-10u %-10u", "172.16.0.2:8080", "Masq", 3, 12u, 345u));
    EXPECT_EQ(lines[9], c_format("  -> %-28s %-7s %-6d %-10u %-10u", "172.16.0.3:8080", "Masq", 1, 0u, 7u));
    EXPECT_EQ(lines[10], c_format("%s %s", "UDP  203.0.113.10:53", "rr"));
    EXPECT_EQ(run(d, "show services now"), "error: show services: expected nothing after it, found \"now\"\n");
}

TEST(ConsoleCommands, ShowStatsAndRate)
{
    FakeDirector d;
    d.config.services.resize(1);  // the web service
    d.decorate = [](ServiceStatus& s) {
        s.stats = {123, 100000000, 99999999, 123456789012ULL, 1000000000000000ULL};
        s.rates = {7, 1500, 1400, 2000000000ULL, 999};
        for (RealServerStatus& r : s.real_servers) {
            r.stats = {r.config.weight, 1000, 900, 64000, 1200000};
            r.rates = {1, 123456789, 10, 100000000, 0};
        }
    };
    EXPECT_EQ(run(d, "show stats"),
              "IP Virtual Server version 1.2.1 (size=4096)\n"
              "Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes\n"
              "  -> RemoteAddress:Port\n"
              "TCP  203.0.113.10:80                   123  100000K 99999999     123G    1000T\n"
              "  -> 172.16.0.2:8080                     3     1000      900    64000  1200000\n"
              "  -> 172.16.0.3:8080                     1     1000      900    64000  1200000\n");
    EXPECT_EQ(run(d, "show rate"),
              "IP Virtual Server version 1.2.1 (size=4096)\n"
              "Prot LocalAddress:Port                 CPS    InPPS   OutPPS    InBPS   OutBPS\n"
              "  -> RemoteAddress:Port\n"
              "TCP  203.0.113.10:80                     7     1500     1400    2000M      999\n"
              "  -> 172.16.0.2:8080                     1 123456789       10  100000K        0\n"
              "  -> 172.16.0.3:8080                     1 123456789       10  100000K        0\n");
    EXPECT_EQ(run(d, "ipvsadm -L -n --stats"), run(d, "show stats"));
    EXPECT_EQ(run(d, "ipvsadm -Ln --rate"), run(d, "show rate"));
    EXPECT_NE(run(d, "ipvsadm -L --stats --exact").find(" 100000000 99999999 123456789012 1000000000000000\n"),
              std::string::npos);
}

TEST(ConsoleCommands, ShowConnsIsIpvsadmLncWithALimit)
{
    FakeDirector d;
    d.rows = {
        {Protocol::tcp, 899, "ESTABLISHED", 0xC6336407, 40000, vip, 80, rs2, 8080},
        {Protocol::udp, 3725, "UDP", 0xC6336408, 5353, vip, 53, rs2, 53},
    };
    const std::string all =
        "IPVS connection entries\n"
        "pro expire state       source             virtual            destination\n"
        "TCP 14:59  ESTABLISHED 198.51.100.7:40000 203.0.113.10:80    172.16.0.2:8080\n"
        "UDP 62:05  UDP         198.51.100.8:5353  203.0.113.10:53    172.16.0.2:53\n";
    EXPECT_EQ(run(d, "show conns"), all);
    EXPECT_EQ(d.last_limit, default_connection_limit);
    EXPECT_EQ(run(d, "show conns 1"),
              "IPVS connection entries\n"
              "pro expire state       source             virtual            destination\n"
              "TCP 14:59  ESTABLISHED 198.51.100.7:40000 203.0.113.10:80    172.16.0.2:8080\n"
              "(the first 1 connections; \"show conns LIMIT\" shows up to 100000)\n");
    EXPECT_EQ(d.last_limit, 1u);
    EXPECT_EQ(run(d, "show conns 100000"), all);
    EXPECT_EQ(d.last_limit, 100000u);
    d.last_limit = 0;
    EXPECT_EQ(run(d, "ipvsadm -L -n -c"), all);
    EXPECT_EQ(d.last_limit, 0u);  // ipvsadm's listing is read in pages, not cut at a limit
    EXPECT_EQ(run(d, "ipvsadm -lnc"), all);
    EXPECT_EQ(run(d, "show conns 0"),
              "error: show conns: expected a number of connections from 1 to 100000, found \"0\"\n");
    EXPECT_EQ(run(d, "show conns 100001"),
              "error: show conns: expected a number of connections from 1 to 100000, found \"100001\"\n");
    EXPECT_EQ(run(d, "show conns many"),
              "error: show conns: expected a number of connections from 1 to 100000, found \"many\"\n");
    EXPECT_EQ(run(d, "show conns 1 2"), "error: show conns: expected at most one LIMIT, found \"1 2\"\n");
}

TEST(ConsoleCommands, ShowWorkers)
{
    FakeDirector d;
    WorkerStatus w0;
    w0.worker = 0;
    w0.lcore = 1;
    w0.counters.rx_packets = 100;
    w0.counters.tx_packets = 90;
    w0.counters.handed_off = 5;
    w0.counters.handoffs_received = 6;
    w0.counters.idle_polls = 123456789;
    w0.counters.to_kernel = 7;
    w0.counters.from_kernel = 8;
    w0.counters.connections_evicted = 9;
    w0.counters.removed_by_drop_entry = 11;
    w0.counters.stateless_forwarded = 12;
    w0.counters.templates_evicted = 13;
    w0.counters.templates_full = 14;
    w0.connections = 42;
    w0.level_drop_entry = 2;
    w0.level_drop_packet = 1;
    w0.level_secure_tcp = 3;
    w0.level_flood_mode = 0;
    w0.counters.drop(dataplane::DropReason::no_service) = 3;
    WorkerStatus w1 = w0;
    w1.worker = 1;
    w1.lcore = 2;
    w1.counters.rx_packets = 200;
    w1.level_drop_entry = 1;
    w1.counters.drop(dataplane::DropReason::no_service) = 1;
    w1.counters.drop(dataplane::DropReason::ttl_exceeded) = 2;
    d.worker_list = {w0, w1};
    EXPECT_EQ(run(d, "show workers"),
              "                              worker 0      worker 1         total\n"
              "lcore                                1             2\n"
              "rx_packets                         100           200           300\n"
              "tx_packets                          90            90           180\n"
              "to_real_server                       0             0             0\n"
              "replies                              0             0             0\n"
              "stateless_forwarded                 12            12            24\n"
              "connections_created                  0             0             0\n"
              "sloppy_connections                   0             0             0\n"
              "connections_expired                  0             0             0\n"
              "connections_evicted                  9             9            18\n"
              "removed_by_drop_entry               11            11            22\n"
              "templates_evicted                   13            13            26\n"
              "templates_full                      14            14            28\n"
              "arp_replies                          0             0             0\n"
              "arp_requests                         0             0             0\n"
              "nd_advertisements                    0             0             0\n"
              "nd_solicitations                     0             0             0\n"
              "held_for_arp                         0             0             0\n"
              "icmp_echo_replies                    0             0             0\n"
              "icmp_related                         0             0             0\n"
              "icmp_frag_needed                     0             0             0\n"
              "icmp_port_unreachable                0             0             0\n"
              "icmp_rate_limited                    0             0             0\n"
              "tunnel_fragments                     0             0             0\n"
              "handed_off                           5             5            10\n"
              "handoffs_received                    6             6            12\n"
              "to_kernel                            7             7            14\n"
              "from_kernel                          8             8            16\n"
              "sync_sent                            0             0             0\n"
              "sync_ring_full                       0             0             0\n"
              "sync_installed                       0             0             0\n"
              "sync_updated                         0             0             0\n"
              "sync_stale                           0             0             0\n"
              "sync_no_service                      0             0             0\n"
              "sync_no_real_server                  0             0             0\n"
              "sync_not_installed                   0             0             0\n"
              "idle_polls                   123456789     123456789     246913578\n"
              "connections                         42            42            84\n"
              "level_drop_entry                     2             1\n"
              "level_drop_packet                    1             1\n"
              "level_secure_tcp                     3             3\n"
              "level_flood_mode                     0             0\n"
              "drops                                3             3             6\n"
              "  ttl_exceeded                       0             2             2\n"
              "  no_service                         3             1             4\n");
    // Every row follows one format: a 24-column label, then 14 columns a number.
    const std::string text = run(d, "show workers");
    EXPECT_NE(text.find(c_format("%-24s%14u%14u%14u\n", "rx_packets", 100u, 200u, 300u)), std::string::npos);
}

TEST(ConsoleCommands, ShowWorkersRowsAreTheNamesOfWorkerValues)
{
    // One list per fact: every counter, gauge and drop reason appears under the name the stop
    // log, telemetry and Prometheus use (worker_values), and nothing else does.
    FakeDirector d;
    WorkerStatus w;
    for (uint64_t& drop : w.counters.drops) drop = 1;  // a reason is listed once counted
    d.worker_list = {w};
    std::vector<std::string> rows;
    std::istringstream text(run(d, "show workers"));
    for (std::string line; std::getline(text, line);) {
        std::string label = line.substr(0, 24);
        label.erase(label.find_last_not_of(' ') + 1);
        if (label.empty() || label == "lcore" || label == "drops") continue;
        rows.push_back(label.rfind("  ", 0) == 0 ? "drop_" + label.substr(2) : label);
    }
    std::vector<std::string> names;
    for (const auto& [name, value] : worker_values(w)) names.push_back(name);
    EXPECT_EQ(rows, names);
}

TEST(ConsoleCommands, WorkerValueNamesAreTelemetryNamesAsTheyAre)
{
    // DPDK 22.11 refuses telemetry names with anything but letters, digits, '_' and '/': the
    // one mapping (telemetry_name) turns others into '_', and no name needs it today.
    EXPECT_EQ(telemetry_name("a:b.c/d_9"), "a_b_c/d_9");
    WorkerStatus w;
    for (const auto& [name, value] : worker_values(w)) EXPECT_EQ(telemetry_name(name), name);
}

TEST(ConsoleCommands, ShowConfigReadsBackToTheRunningConfig)
{
    FakeDirector d;
    d.config.dataplane.eal = {"--no-huge", "-m", "512"};
    d.config.neighbors = {NeighborConfig{rs2, {0x02, 0, 0, 0, 0, 0x02}}};
    d.config.services[0].real_servers[0].upper_threshold = 100;
    d.config.services[0].real_servers[0].lower_threshold = 50;
    d.config.timeouts.set_like_ipvsadm(3600, 60, 30);
    ASSERT_TRUE(check_config(d.config, "test").empty());
    const std::string text = run(d, "show config");
    EXPECT_TRUE(text.starts_with("# Fulcrum's running configuration: conf/test.yaml with the console's changes\n"));
    const ConfigResult back = parse_config(text, "shown");
    ASSERT_TRUE(back.config) << (back.errors.empty() ? "" : back.errors[0].to_string());
    expect_same_config(*back.config, d.config);

    // And after an edit, the edit is in it.
    EXPECT_EQ(run(d, "ipvsadm -a -t 203.0.113.10:80 -r 172.16.0.4:8080 -w 7"), "ok\n");
    const ConfigResult edited = parse_config(run(d, "show config"), "shown");
    ASSERT_TRUE(edited.config);
    expect_same_config(*edited.config, d.config);
    EXPECT_EQ(edited.config->services[0].real_servers.back().weight, 7u);
}

TEST(ConsoleCommands, SetWeight)
{
    FakeDirector d;
    EXPECT_EQ(run(d, "set weight tcp 203.0.113.10:80 172.16.0.3:8080 5"), "ok\n");
    ASSERT_EQ(d.applied.size(), 1u);
    EXPECT_EQ(d.applied[0].second, "console: set weight tcp 203.0.113.10:80 172.16.0.3:8080 5");
    Config expected = base_config();
    expected.services[0].real_servers[0].weight = 5;
    expect_same_config(d.applied[0].first, expected);

    // The protocol may be left out where only one service has the address and port.
    EXPECT_EQ(run(d, "set   weight 203.0.113.10:80  172.16.0.2:8080\t0"), "ok\n");
    EXPECT_EQ(d.applied.back().second, "console: set weight 203.0.113.10:80 172.16.0.2:8080 0");
    EXPECT_EQ(d.config.services[0].real_servers[1].weight, 0u);
    // Without a port, the real server's port is the virtual port.
    EXPECT_EQ(run(d, "set weight udp 203.0.113.10:53 172.16.0.2 9"), "ok\n");
    EXPECT_EQ(d.config.services[1].real_servers[0].weight, 9u);
    EXPECT_EQ(d.config.services[2].real_servers[0].weight, 1u);

    const size_t applies = d.applied.size();
    EXPECT_EQ(run(d, "set weight 203.0.113.10:53 172.16.0.2:53 2"),
              "error: set weight: both a tcp and a udp service listen on 203.0.113.10:53; say which: set weight "
              "tcp|udp 203.0.113.10:53 172.16.0.2:53 2\n");
    EXPECT_EQ(run(d, "set weight tcp 203.0.113.10:81 172.16.0.2:53 2"),
              "error: set weight: no service tcp 203.0.113.10:81\n");
    EXPECT_EQ(run(d, "set weight 203.0.113.11:80 172.16.0.2:53 2"),
              "error: set weight: no service on 203.0.113.11:80\n");
    EXPECT_EQ(run(d, "set weight tcp 203.0.113.10:80 172.16.0.9:8080 2"),
              "error: set weight: tcp 203.0.113.10:80 has no real server 172.16.0.9:8080\n");
    EXPECT_EQ(run(d, "set weight tcp 203.0.113.10:80 172.16.0.2:8080 65536"),
              "error: set weight: expected a weight from 0 to 65535, found \"65536\"\n");
    EXPECT_EQ(run(d, "set weight tcp 203.0.113.10:80 172.16.0.2:8080 -1"),
              "error: set weight: expected a weight from 0 to 65535, found \"-1\"\n");
    EXPECT_EQ(run(d, "set weight sctp 203.0.113.10:80 172.16.0.2:8080 1"),
              "error: set weight: expected tcp or udp, found \"sctp\"\n");
    EXPECT_EQ(run(d, "set weight tcp 203.0.113.10 172.16.0.2:8080 1"),
              "error: set weight: expected VIP:PORT (like 203.0.113.10:80), found \"203.0.113.10\"\n");
    EXPECT_EQ(run(d, "set weight tcp 203.0.113.10:80 host:8080 1"),
              "error: set weight: expected RIP[:PORT] (like 172.16.0.2:8080), found \"host:8080\"\n");
    EXPECT_EQ(run(d, "set weight 203.0.113.10:80"), "error: set weight: expected [tcp|udp] VIP:PORT RIP[:PORT] WEIGHT\n");
    EXPECT_EQ(run(d, "set"), "error: set: expected \"set weight [tcp|udp] VIP:PORT RIP[:PORT] WEIGHT\"\n");
    EXPECT_EQ(run(d, "set mtu 9000"),
              "error: set: expected \"set weight [tcp|udp] VIP:PORT RIP[:PORT] WEIGHT\", found \"mtu 9000\"\n");
    EXPECT_EQ(d.applied.size(), applies);
}

TEST(ConsoleCommands, ApplyRefusalIsOneErrorLine)
{
    FakeDirector d;
    d.refusal = "workers cannot change while running (restart to change them)";
    EXPECT_EQ(run(d, "set weight tcp 203.0.113.10:80 172.16.0.3:8080 5"),
              "error: workers cannot change while running (restart to change them)\n");
    d.refusal = "first problem\nsecond problem\n";
    EXPECT_EQ(run(d, "ipvsadm -D -t 203.0.113.10:80"), "error: first problem; second problem\n");
    EXPECT_EQ(d.config.services.size(), 4u);  // refused: nothing changed
}

TEST(ConsoleCommands, IpvsadmAddEditDeleteService)
{
    FakeDirector d;
    EXPECT_EQ(run(d, "ipvsadm -A -t 203.0.113.20:443 -s rr -p 600 -M 255.255.0.0"), "ok\n");
    EXPECT_EQ(d.applied.back().second, "console: ipvsadm -A -t 203.0.113.20:443 -s rr -p 600 -M 255.255.0.0");
    Config expected = base_config();
    ServiceConfig added{0xCB007114, 443, Protocol::tcp, "rr", ForwardMethod::nat, {}};
    added.persistence = 600;
    added.persistence_netmask = 16;
    expected.services.push_back(added);
    expect_same_config(d.applied.back().first, expected);

    // Defaults as ipvsadm's: wlc; -p alone is 360 s; long options and bundled short ones.
    EXPECT_EQ(run(d, "ipvsadm --add-service --udp-service=203.0.113.20:53 --persistent"), "ok\n");
    const ServiceConfig& udp = d.config.services.back();
    EXPECT_EQ(udp.protocol, Protocol::udp);
    EXPECT_EQ(udp.scheduler, "wlc");
    EXPECT_EQ(udp.persistence, 360u);
    EXPECT_EQ(run(d, "ipvsadm -At 203.0.113.20:8443 -s mh -b mh-port,mh-fallback -p"), "ok\n");
    EXPECT_TRUE(d.config.services.back().scheduler_flags.mh_port);
    EXPECT_TRUE(d.config.services.back().scheduler_flags.mh_fallback);
    EXPECT_EQ(d.config.services.back().persistence, 360u);

    EXPECT_EQ(run(d, "ipvsadm -A -t 203.0.113.20:443"),
              "error: ipvsadm -A (--add-service): service tcp 203.0.113.20:443 already exists\n");
    // IPv6 services and real servers as ipvsadm writes them; NAT and DR keep the service's family,
    // a tunnel may cross it (as IPVS); -M is a prefix length for an IPv6 service.
    const size_t services_before = d.config.services.size();
    EXPECT_EQ(run(d, "ipvsadm -A -t [2001:db8::1]:80 -s rr -p 60 -M 200"),
              "error: ipvsadm: -M: expected a prefix length from 1 to 128 for an IPv6 service, found \"200\"\n");
    EXPECT_EQ(run(d, "ipvsadm -A -t [2001:db8::1]:80 -s rr -p 60 -M 255.255.255.0"),
              "error: ipvsadm: -M: expected a prefix length from 1 to 128 for an IPv6 service, found \"255.255.255.0\"\n");
    EXPECT_EQ(run(d, "ipvsadm -A -6 -t [2001:db8::1]:80"),
              "error: ipvsadm: -6 is not supported: -6 used before -f (it marks a firewall-mark service IPv6; name an "
              "IPv6 service by its address: -t [2001:db8::10]:80)\n");
    EXPECT_EQ(d.config.services.size(), services_before);
    EXPECT_EQ(run(d, "ipvsadm -A -t [2001:db8::1]:80 -s rr -p 60 -M 64"), "ok\n");
    EXPECT_EQ(d.config.services.back().vip, *parse_ip("2001:db8::1"));
    EXPECT_EQ(d.config.services.back().persistence_netmask, 64);
    EXPECT_EQ(run(d, "ipvsadm -E -t [2001:db8::1]:80 -s wlc"), "ok\n");
    EXPECT_EQ(d.config.services.back().persistence_netmask, 128);  // -E without -M: the family's full length
    EXPECT_EQ(run(d, "ipvsadm -a -t 203.0.113.20:443 -r [2001:db8::2]:8443 -m"),
              "error: ipvsadm -a (--add-server): real server [2001:db8::2]:8443: nat forwarding needs an IPv4 address, "
              "as the service's (only tun may mix families)\n");
    EXPECT_EQ(run(d, "ipvsadm -a -t [2001:db8::1]:80 -r 172.16.0.5 -g"),
              "error: ipvsadm -a (--add-server): real server 172.16.0.5:80: dr forwarding needs an IPv6 address, as "
              "the service's (only tun may mix families)\n");
    d.config.interfaces[1].addresses.push_back(*parse_prefix("2001:db8::fe/64"));
    EXPECT_EQ(run(d, "ipvsadm -a -t [2001:db8::1]:80 -r [2001:db8::2]:8080 -m -w 3"), "ok\n");
    EXPECT_EQ(run(d, "ipvsadm -a -t [2001:db8::1]:80 -r 172.16.0.5 -i"), "ok\n");
    EXPECT_EQ(d.config.services.back().real_servers.size(), 2u);
    EXPECT_EQ(run(d, "ipvsadm -e -t [2001:db8::1]:80 -r 172.16.0.5 -m"),
              "error: ipvsadm -e (--edit-server): real server 172.16.0.5:80: nat forwarding needs an IPv6 address, as "
              "the service's (only tun may mix families)\n");
    EXPECT_EQ(run(d, "set weight [2001:db8::1]:80 [2001:db8::2]:8080 5"), "ok\n");
    EXPECT_EQ(d.config.services.back().real_servers[0].weight, 5u);
    EXPECT_EQ(run(d, "ipvsadm -d -t [2001:db8::1]:80 -r [2001:db8::2]:8080"), "ok\n");
    EXPECT_EQ(run(d, "ipvsadm -D -t [2001:db8::1]:80"), "ok\n");
    EXPECT_EQ(d.config.services.size(), services_before);

    // -E sets the whole service, as ipvsadm does: what is left out goes back to its default.
    EXPECT_EQ(run(d, "ipvsadm -E -t 203.0.113.10:80 -s lc"), "ok\n");
    const ServiceConfig& web = d.config.services[0];
    EXPECT_EQ(web.scheduler, "lc");
    EXPECT_EQ(web.persistence, 0u);
    EXPECT_EQ(web.persistence_netmask, 32);
    EXPECT_EQ(web.real_servers.size(), 2u);  // real servers stay
    EXPECT_EQ(run(d, "ipvsadm -E -t 203.0.113.10:80 -p 120 -M 24"), "ok\n");
    EXPECT_EQ(d.config.services[0].scheduler, "wlc");
    EXPECT_EQ(d.config.services[0].persistence, 120u);
    EXPECT_EQ(d.config.services[0].persistence_netmask, 24);
    EXPECT_EQ(run(d, "ipvsadm -E -t 203.0.113.99:80 -s rr"), "error: ipvsadm -E (--edit-service): no service tcp 203.0.113.99:80\n");

    EXPECT_EQ(run(d, "ipvsadm -D -u 203.0.113.10:53"), "ok\n");
    EXPECT_EQ(d.config.services.size(), 6u);
    EXPECT_EQ(d.config.services[1].protocol, Protocol::tcp);  // the tcp :53 stays
    EXPECT_EQ(run(d, "ipvsadm -D -u 203.0.113.10:53"), "error: ipvsadm -D (--delete-service): no service udp 203.0.113.10:53\n");
    EXPECT_EQ(run(d, "ipvsadm -C"), "ok\n");
    EXPECT_TRUE(d.config.services.empty());
}

TEST(ConsoleCommands, IpvsadmAddEditDeleteRealServer)
{
    FakeDirector d;
    EXPECT_EQ(run(d, "ipvsadm -a -t 203.0.113.10:80 -r 172.16.0.4:8080 -m -w 2 -x 100 -y 50"), "ok\n");
    Config expected = base_config();
    expected.services[0].real_servers.push_back(RealServerConfig{0xAC100004, 8080, 2, ForwardMethod::nat, 100, 50});
    expect_same_config(d.applied.back().first, expected);

    // No port: the virtual port; no -g|-i|-m: -g, as ipvsadm; no -w: weight 1.
    EXPECT_EQ(run(d, "ipvsadm -a -t 10.0.0.100:443 -r 10.0.0.6"), "ok\n");
    const RealServerConfig& dr = d.config.services[3].real_servers.back();
    EXPECT_EQ(dr.address, 0x0A000006u);
    EXPECT_EQ(dr.port, 443);
    EXPECT_EQ(dr.forward, ForwardMethod::dr);
    EXPECT_EQ(dr.weight, 1u);

    // As ipvsadm: a DR or TUN real server listens on the virtual port, whatever -r says.
    EXPECT_EQ(run(d, "ipvsadm -a -t 10.0.0.100:443 -r 10.0.0.7:8443 -g"), "ok\n");
    EXPECT_EQ(d.config.services[3].real_servers.size(), 3u);
    EXPECT_EQ(d.config.services[3].real_servers.back().port, 443);
    EXPECT_EQ(run(d, "ipvsadm -a -t 10.0.0.100:443 -r 10.0.0.8:8443"), "ok\n");
    EXPECT_EQ(d.config.services[3].real_servers.back().port, 443);
    EXPECT_EQ(d.config.services[3].real_servers.back().forward, ForwardMethod::dr);
    EXPECT_EQ(run(d, "ipvsadm -a -t 203.0.113.10:80 -r 172.16.0.4:8080 -m"),
              "error: ipvsadm -a (--add-server): tcp 203.0.113.10:80 already has real server 172.16.0.4:8080\n");
    EXPECT_EQ(run(d, "ipvsadm -a -t 203.0.113.10:81 -r 172.16.0.4:8080"),
              "error: ipvsadm -a (--add-server): no service tcp 203.0.113.10:81\n");

    // -e sets the whole real server, as ipvsadm: weight 1, no thresholds and -g unless given; so
    // a NAT real server on another port is edited with -m (-g would look for it on port 80).
    EXPECT_EQ(run(d, "ipvsadm -e -t 203.0.113.10:80 -r 172.16.0.4:8080 -w 5"),
              "error: ipvsadm -e (--edit-server): tcp 203.0.113.10:80 has no real server 172.16.0.4:80\n");
    EXPECT_EQ(run(d, "ipvsadm -e -t 203.0.113.10:80 -r 172.16.0.4:8080 -w 5 -m"), "ok\n");
    const RealServerConfig& edited = d.config.services[0].real_servers.back();
    EXPECT_EQ(edited.weight, 5u);
    EXPECT_EQ(edited.upper_threshold, 0u);
    EXPECT_EQ(edited.forward, ForwardMethod::nat);
    EXPECT_EQ(run(d, "ipvsadm --edit-server --tcp-service 203.0.113.10:80 --real-server 172.16.0.4:8080 --ipip"),
              "error: ipvsadm -e (--edit-server): tcp 203.0.113.10:80 has no real server 172.16.0.4:80\n");
    EXPECT_EQ(run(d, "ipvsadm -e -t 203.0.113.10:80 -r 172.16.0.9:8080 -m"),
              "error: ipvsadm -e (--edit-server): tcp 203.0.113.10:80 has no real server 172.16.0.9:8080\n");

    EXPECT_EQ(run(d, "ipvsadm -d -t 203.0.113.10:80 -r 172.16.0.4:8080"), "ok\n");
    EXPECT_EQ(d.config.services[0].real_servers.size(), 2u);
    EXPECT_EQ(run(d, "ipvsadm -d -t 203.0.113.10:80 -r 172.16.0.4:8080"),
              "error: ipvsadm -d (--delete-server): tcp 203.0.113.10:80 has no real server 172.16.0.4:8080\n");
}

TEST(ConsoleCommands, IpvsadmZeroSetListSave)
{
    FakeDirector d;
    EXPECT_EQ(run(d, "ipvsadm -Z"), "ok\n");
    EXPECT_EQ(d.zeroed, 1);
    EXPECT_EQ(d.zeroed_port, 0);
    EXPECT_EQ(run(d, "ipvsadm --zero -t 203.0.113.10:80"), "ok\n");
    EXPECT_EQ(d.zeroed, 2);
    EXPECT_EQ(d.zeroed_port, 80);
    EXPECT_EQ(run(d, "ipvsadm -Z -t 203.0.113.10:81"), "error: ipvsadm -Z: no service tcp 203.0.113.10:81\n");
    EXPECT_EQ(d.zeroed, 2);

    EXPECT_EQ(run(d, "ipvsadm --set 3600 0 60"), "ok\n");
    EXPECT_EQ(d.config.timeouts.of(dataplane::TcpState::established), 3600u);
    EXPECT_EQ(d.config.timeouts.of(dataplane::TcpState::fin_wait), 120u);
    EXPECT_EQ(d.config.timeouts.udp, 60u);
    EXPECT_EQ(run(d, "ipvsadm -L --timeout"), "Timeout (tcp tcpfin udp): 3600 120 60\n");
    EXPECT_EQ(run(d, "ipvsadm --set 1 2"),
              "error: ipvsadm --set: expected three timeouts, TCP TCPFIN UDP, in seconds (0 leaves one as it is)\n");

    EXPECT_EQ(run(d, "ipvsadm"), run(d, "show services"));
    EXPECT_EQ(run(d, "ipvsadm -L -n"), run(d, "show services"));
    EXPECT_EQ(run(d, "ipvsadm -l -n -u 203.0.113.10:53"),
              "Prot LocalAddress:Port Scheduler Flags\n"
              "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n"
              "UDP  203.0.113.10:53 rr\n"
              "  -> 172.16.0.2:53                Masq    1      0          0         \n");
    EXPECT_EQ(run(d, "ipvsadm -L -u 203.0.113.10:54"), "error: ipvsadm -L: no service udp 203.0.113.10:54\n");
    EXPECT_EQ(run(d, "ipvsadm -S -n"),
              "-A -t 10.0.0.100:443 -s sh -b sh-port\n"
              "-a -t 10.0.0.100:443 -r 10.0.0.5:443 -g -w 2\n"
              "-A -t 203.0.113.10:53 -s rr\n"
              "-a -t 203.0.113.10:53 -r 172.16.0.2:53 -m -w 1\n"
              "-A -t 203.0.113.10:80 -s wrr -p 300 -M 255.255.255.0\n"
              "-a -t 203.0.113.10:80 -r 172.16.0.2:8080 -m -w 3\n"
              "-a -t 203.0.113.10:80 -r 172.16.0.3:8080 -m -w 1\n"
              "-A -u 203.0.113.10:53 -s rr\n"
              "-a -u 203.0.113.10:53 -r 172.16.0.2:53 -m -w 1\n");
    EXPECT_TRUE(run(d, "ipvsadm -h").starts_with("  ipvsadm -A|-E -t|-u VIP:PORT"));
}

TEST(ConsoleCommands, ShowAnnounce)
{
    FakeDirector d;
    d.announce.vips = {{0xCB00710Au, true, false}};
    EXPECT_EQ(run(d, "show announce"), "announce is off: no VIP is announced\n"
                                       "VIP               available  announced\n"
                                       "203.0.113.10      yes        no\n");
    d.announce.config = {100, 2, "ext"};
    d.announce.kernel_interface = "fl-ext";
    d.announce.vips = {{0xCB00710Au, true, true}, {0xCB00710Bu, false, false}};
    d.announce.problem = "adding route 203.0.113.12/32 dev fl-ext table 100: Network is down";
    EXPECT_EQ(run(d, "show announce"), "table 100 over ext (kernel interface fl-ext), quorum 2\n"
                                       "VIP               available  announced\n"
                                       "203.0.113.10      yes        yes\n"
                                       "203.0.113.11      no         no\n"
                                       "the kernel refused: adding route 203.0.113.12/32 dev fl-ext table 100: "
                                       "Network is down\n");
    EXPECT_EQ(run(d, "show announce now"), "error: show announce: expected nothing after it, found \"now\"\n");
    // An IPv6 VIP widens the column to fit it.
    d.announce.problem.clear();
    d.announce.vips = {{0xCB00710Au, true, true},
                       {*fulcrum::parse_ip("2001:db8:ffff:ffff:ffff:ffff:ffff:100"), true, false}};
    EXPECT_EQ(run(d, "show announce"), "table 100 over ext (kernel interface fl-ext), quorum 2\n"
                                       "VIP                                    available  announced\n"
                                       "203.0.113.10                           yes        yes\n"
                                       "2001:db8:ffff:ffff:ffff:ffff:ffff:100  yes        no\n");
}

TEST(ConsoleCommands, IpvsadmSyncDaemonsStartListAndStop)
{
    FakeDirector d;
    EXPECT_EQ(run(d, "ipvsadm -L --daemon"), "");
    EXPECT_EQ(run(d, "show sync").substr(0, 23), "connection sync is off\n");
    // --mcast-interface names the kernel's interface, as for ipvsadm; the configuration's name works too.
    EXPECT_EQ(run(d, "ipvsadm --start-daemon master --mcast-interface fl-int --syncid 7"), "ok\n");
    EXPECT_TRUE(d.config.sync.master);
    EXPECT_FALSE(d.config.sync.backup);
    EXPECT_EQ(d.config.sync.interface, "int");
    EXPECT_EQ(d.config.sync.syncid, 7);
    d.sync.config = d.config.sync;
    d.sync.kernel_interface = "fl-int";
    EXPECT_EQ(run(d, "ipvsadm -L --daemon"),
              "master sync daemon (mcast=fl-int, syncid=7, maxlen=1472, group=224.0.0.81, port=8848, ttl=1)\n");
    EXPECT_EQ(run(d, "ipvsadm --start-daemon master --mcast-interface int"),
              "error: ipvsadm --start-daemon: the master sync daemon is already running\n");
    EXPECT_EQ(run(d, "ipvsadm --start-daemon backup --mcast-interface int --syncid 8"),
              "error: ipvsadm --start-daemon: the master sync daemon runs on int with sync id 7, group "
              "224.0.0.81:8848, ttl 1, maxlen 1472: master and backup share them (stop it first to change them)\n");
    EXPECT_EQ(run(d, "ipvsadm --start-daemon=backup --mcast-interface int"), "ok\n");
    EXPECT_TRUE(d.config.sync.backup);
    d.sync.config = d.config.sync;
    EXPECT_EQ(run(d, "ipvsadm -L --daemon"),
              "master sync daemon (mcast=fl-int, syncid=7, maxlen=1472, group=224.0.0.81, port=8848, ttl=1)\n"
              "backup sync daemon (mcast=fl-int, syncid=7, maxlen=1472, group=224.0.0.81, port=8848, ttl=1)\n");
    d.sync.sending = d.sync.receiving = true;
    d.sync.counters.messages_sent = 12;
    d.sync.counters.refused[static_cast<size_t>(sync::SyncRefusal::bad_size)] = 3;
    const std::string shown = run(d, "show sync");
    EXPECT_TRUE(shown.starts_with("role both on int (kernel interface fl-int): sending and receiving\n"
                                  "group 224.0.0.81:8848, ttl 1, sync id 7, max_length 1472, full_refresh 60 s\n"
                                  "messages_sent                             12\n"))
        << shown;
    EXPECT_NE(shown.find("refused_bad_size                           3\n"), std::string::npos) << shown;
    EXPECT_EQ(run(d, "ipvsadm --stop-daemon master"), "ok\n");
    EXPECT_EQ(run(d, "ipvsadm --stop-daemon backup"), "ok\n");
    EXPECT_FALSE(d.config.sync.enabled());
    // Left out, the length is what one frame of the interface carries.
    d.config.interfaces[1].mtu = 1400;
    EXPECT_EQ(run(d, "ipvsadm --start-daemon backup --mcast-interface int"), "ok\n");
    EXPECT_EQ(d.config.sync.max_length, 1372);
    EXPECT_EQ(run(d, "ipvsadm --stop-daemon backup"), "ok\n");
    d.config.interfaces[1].mtu = 1500;
    // One frame of int (MTU 1500) carries at most 1472 bytes: the file's rule holds here too.
    EXPECT_EQ(run(d, "ipvsadm --start-daemon backup --mcast-interface int --sync-maxlen 1500"),
              "error: sync.max_length: 1500 bytes do not fit one frame of interface int (MTU 1500): at most 1472\n");
}

TEST(ConsoleCommands, IpvsadmMistakesSayWhatWasExpected)
{
    FakeDirector d;
    const std::pair<const char*, const char*> cases[] = {
        {"ipvsadm -A", "error: ipvsadm -A (--add-service): expected -t|-u VIP:PORT\n"},
        {"ipvsadm -a -t 203.0.113.10:80", "error: ipvsadm -a (--add-server): expected -r RIP[:PORT]\n"},
        {"ipvsadm -A -t 203.0.113.10:81 -w 3",
         "error: ipvsadm -A (--add-service): -w (--weight) does not apply to this command\n"},
        {"ipvsadm -D -t 203.0.113.10:80 -s rr",
         "error: ipvsadm -D (--delete-service): -s (--scheduler) does not apply to this command\n"},
        {"ipvsadm -a -t 203.0.113.10:80 -r 172.16.0.5 -g -m", "error: ipvsadm: -g|-i|-m (--gatewaying) given twice\n"},
        {"ipvsadm -A -a -t 203.0.113.10:80", "error: ipvsadm: more than one command given (-A (--add-service) and -a "
                                             "(--add-server))\n"},
        {"ipvsadm -t 203.0.113.10:80", "error: ipvsadm: expected a command: -A, -E, -D, -C, -a, -e, -d, -L, -Z, -S, -R, "
                                       "--set, --start-daemon or --stop-daemon; try \"help\"\n"},
        {"ipvsadm -A -t 203.0.113.10", "error: ipvsadm: -t: expected VIP:PORT with a port from 1 to 65535 (like "
                                       "203.0.113.10:80), found \"203.0.113.10\"\n"},
        {"ipvsadm -A -t www.example.com:80",
         "error: ipvsadm: -t: expected VIP:PORT with a port from 1 to 65535 (like 203.0.113.10:80), found "
         "\"www.example.com:80\"\n"},
        {"ipvsadm -A -t 203.0.113.10:81 -s fastest",
         "error: ipvsadm: -s: unknown scheduler \"fastest\" (expected one of: rr, wrr, lc, wlc, sed, nq, fo, ovf, sh, "
         "dh, lblc, lblcr, twos, mh)\n"},
        {"ipvsadm -A -t 203.0.113.10:81 -p 2678401",
         "error: ipvsadm: -p: expected a timeout from 1 to 2678400 seconds, found \"2678401\"\n"},
        {"ipvsadm -A -t 203.0.113.10:81 -M 255.0.255.0",
         "error: ipvsadm: -M: expected a netmask like 255.255.255.0 or a prefix length from 0 to 32, found "
         "\"255.0.255.0\"\n"},
        {"ipvsadm -A -t 203.0.113.10:81 -b sh-port,fast",
         "error: ipvsadm: -b: unknown scheduler flag \"fast\" (expected a comma-separated list of: sh-fallback, sh-port, "
         "mh-fallback, mh-port)\n"},
        {"ipvsadm -a -t 203.0.113.10:80 -r 172.16.0.5 -w heavy",
         "error: ipvsadm: -w: expected a weight from 0 to 65535, found \"heavy\"\n"},
        {"ipvsadm -a -t 203.0.113.10:80 -r 172.16.0.5 -x 2000000000",
         "error: ipvsadm: -x: expected a number of connections from 0 to 1073741824, found \"2000000000\"\n"},
        {"ipvsadm -a -t 203.0.113.10:80 -r", "error: ipvsadm: -r needs a value\n"},
        {"ipvsadm -A -f 1", "error: ipvsadm: -f is not supported: firewall-mark services do not exist here (no "
                            "netfilter)\n"},
        {"ipvsadm -A --sctp-service 203.0.113.10:80",
         "error: ipvsadm: --sctp-service is not supported: Fulcrum balances TCP and UDP, not SCTP\n"},
        {"ipvsadm -A -t 203.0.113.10:81 --pe sip",
         "error: ipvsadm: --pe is not supported: persistence engines are not implemented\n"},
        {"ipvsadm --start-daemon master",
         "error: ipvsadm --start-daemon: expected --mcast-interface INTERFACE\n"},
        {"ipvsadm --start-daemon primary --mcast-interface int",
         "error: ipvsadm: --start-daemon: expected master or backup, found \"primary\"\n"},
        {"ipvsadm --stop-daemon", "error: ipvsadm: --stop-daemon: expected master or backup, found nothing\n"},
        {"ipvsadm --start-daemon backup --mcast-interface int --syncid 256",
         "error: ipvsadm: --syncid: expected a sync id from 0 to 255, found \"256\"\n"},
        {"ipvsadm --start-daemon backup --mcast-interface int --mcast-group 10.0.0.1",
         "error: ipvsadm: --mcast-group: expected an IPv4 multicast address (224.0.0.0/4), found \"10.0.0.1\"\n"},
        {"ipvsadm --start-daemon backup --mcast-interface eth9",
         "error: ipvsadm --start-daemon: no interface or kernel interface \"eth9\"\n"},
        {"ipvsadm --stop-daemon master", "error: ipvsadm --stop-daemon: no master sync daemon is running\n"},
        {"ipvsadm -L --daemon -c",
         "error: ipvsadm -L (--list): -c, -t|-u, --timeout and --daemon exclude each other\n"},
        {"ipvsadm -Q", "error: ipvsadm: unknown option \"-Q\"\n"},
        {"ipvsadm --frobnicate", "error: ipvsadm: unknown option \"--frobnicate\"\n"},
        {"ipvsadm -L extra", "error: ipvsadm -L (--list): unexpected argument \"extra\"\n"},
        {"ipvsadm -L -c --stats",
         "error: ipvsadm -L (--list): --stats, --rate, --thresholds and --persistent-conn list services, not "
         "connections or timeouts\n"},
        {"ipvsadm -L --stats --rate",
         "error: ipvsadm -L (--list): give one of --stats, --rate, --thresholds and --persistent-conn\n"},
        {"ipvsadm -L --persistent-conn --stats",
         "error: ipvsadm -L (--list): give one of --stats, --rate, --thresholds and --persistent-conn\n"},
        {"ipvsadm -R -t 203.0.113.10:80", "error: ipvsadm -R (--restore): -t|-u (--tcp-service) does not apply to this command\n"},
        {"ipvsadm --set 900 120 x",
         "error: ipvsadm --set: expected a timeout from 0 to 31536000 seconds, found \"x\"\n"},
    };
    for (const auto& [line, expected] : cases) EXPECT_EQ(run(d, line), expected) << line;
    EXPECT_TRUE(d.applied.empty());
}

TEST(ConsoleCommands, BadCommandsGetOneErrorLine)
{
    FakeDirector d;
    EXPECT_EQ(run(d, "shwo services"), "error: unknown command \"shwo\"; try \"help\"\n");
    EXPECT_EQ(run(d, "SHOW services"), "error: unknown command \"SHOW\"; try \"help\"\n");
    EXPECT_EQ(run(d, "show"),
              "error: show: expected one of: services, stats, rate, conns [LIMIT], workers, health, config, sync, announce, "
              "interfaces, neighbors, routes\n");
    EXPECT_EQ(run(d, "show servics"),
              "error: show: unknown \"servics\" (expected one of: services, stats, rate, conns [LIMIT], workers, "
              "health, config, sync, announce, interfaces, neighbors, routes)\n");
    EXPECT_EQ(run(d, "reload now"), "error: reload: expected nothing after it, found \"now\"\n");
    EXPECT_EQ(run(d, "\x01\x7f"), "error: unknown command \"\\x01\\x7f\"; try \"help\"\n");
    EXPECT_EQ(run(d, std::string(100, 'x')),
              "error: unknown command \"" + std::string(60, 'x') + "...\"; try \"help\"\n");
}

TEST(ConsoleCommands, HelpDescribesShowHealth)
{
    FakeDirector d;
    const std::string help = run(d, "help");
    EXPECT_NE(help.find("\n  show health                 each real server's check, state, weight in force and last "
                        "result\n"),
              std::string::npos)
        << help;
    // Listed with the other show commands, before show config.
    EXPECT_LT(help.find("  show workers"), help.find("  show health"));
    EXPECT_LT(help.find("  show health"), help.find("  show config"));
}

namespace {

HealthRow health_row(Protocol protocol, Ipv4 virtual_ip, uint16_t vport, Ipv4 address, uint16_t port,
                     std::string check, HealthState state, std::optional<uint32_t> weight,
                     std::chrono::system_clock::time_point changed, std::string last, std::string reason)
{
    HealthRow row;
    row.protocol = protocol;
    row.vip = virtual_ip;
    row.vport = vport;
    row.address = address;
    row.port = port;
    row.check = std::move(check);
    row.state = state;
    row.weight = weight;
    row.changed = changed;
    row.last_result = std::move(last);
    row.reason = std::move(reason);
    return row;
}

// Sets TZ for the life of the object: "Changed" is local time.
class TimeZone {
public:
    explicit TimeZone(const char* tz)
    {
        if (const char* old = std::getenv("TZ")) saved_ = old;
        ::setenv("TZ", tz, 1);
        ::tzset();
    }
    ~TimeZone()
    {
        if (saved_) ::setenv("TZ", saved_->c_str(), 1);
        else ::unsetenv("TZ");
        ::tzset();
    }
    TimeZone(const TimeZone&) = delete;
    TimeZone& operator=(const TimeZone&) = delete;

private:
    std::optional<std::string> saved_;
};

}  // namespace

TEST(ConsoleCommands, ShowHealthListsEveryCheck)
{
    const TimeZone utc("UTC");
    FakeDirector d;
    const auto never = std::chrono::system_clock::time_point{};
    const auto at = std::chrono::system_clock::from_time_t(1709647629);  // 2024-03-05 14:07:09 UTC
    const Ipv4 sorry = 0xAC100009;                                      // 172.16.0.9
    d.health_rows = {
        health_row(Protocol::tcp, vip, 80, rs2, 8080, "http", HealthState::up, 3, never, "ok", "HTTP 200"),
        health_row(Protocol::tcp, vip, 80, rs3, 8080, "http", HealthState::down, std::nullopt, at, "failed",
                   "2 failed checks in a row (fall 2): connect: Connection refused"),
        health_row(Protocol::tcp, vip, 80, sorry, 80, "sorry", HealthState::sorry_standby, std::nullopt, at, "", "a real server is up"),
        health_row(Protocol::udp, vip, 53, rs2, 53, "tcp", HealthState::quiesced, 0, at + std::chrono::seconds(61), "failed",
                   "connect: timed out after 0.5 s"),
        health_row(Protocol::tcp, dr_vip, 443, dr_rs, 443, "none", HealthState::up, 65535, never, "", ""),
    };
    const std::string text = run(d, "show health");
    EXPECT_EQ(text,
              "Prot LocalAddress:Port     RemoteAddress:Port    Check State     Weight Changed             Last   "
              "Reason\n"
              "TCP  203.0.113.10:80       172.16.0.2:8080       http  up        3      -                   ok     "
              "HTTP 200\n"
              "TCP  203.0.113.10:80       172.16.0.3:8080       http  down      -      2024-03-05 14:07:09 failed "
              "2 failed checks in a row (fall 2): connect: Connection refused\n"
              "TCP  203.0.113.10:80       172.16.0.9:80         sorry standby   -      2024-03-05 14:07:09 -      "
              "a real server is up\n"
              "UDP  203.0.113.10:53       172.16.0.2:53         tcp   quiesced  0      2024-03-05 14:08:10 failed "
              "connect: timed out after 0.5 s\n"
              "TCP  10.0.0.100:443        10.0.0.5:443          none  up        65535  -                   -      "
              "-\n");

    // Every line follows one format (whitespace-separated columns up to the free-text reason).
    const char* format = "%-4s %-21s %-21s %-5s %-9s %-6s %-19s %-6s %s";
    EXPECT_TRUE(text.starts_with(c_format(format, "Prot", "LocalAddress:Port", "RemoteAddress:Port", "Check", "State",
                                          "Weight", "Changed", "Last", "Reason") + "\n"));
    EXPECT_NE(text.find(c_format(format, "UDP", "203.0.113.10:53", "172.16.0.2:53", "tcp", "quiesced", "0",
                                 "2024-03-05 14:08:10", "failed", "connect: timed out after 0.5 s") + "\n"),
              std::string::npos);

    // The time is local time.
    {
        const TimeZone berlin("CET-1");
        EXPECT_NE(run(d, "show health").find(" 2024-03-05 15:07:09 failed "), std::string::npos);
    }

    EXPECT_EQ(run(d, "show health now"), "error: show health: expected nothing after it, found \"now\"\n");
    EXPECT_TRUE(d.applied.empty());
}

TEST(ConsoleCommands, ShowHealthWithNothingCheckedIsTheHeaderAlone)
{
    FakeDirector d;
    EXPECT_EQ(run(d, "show health"),
              "Prot LocalAddress:Port     RemoteAddress:Port    Check State     Weight Changed             Last   "
              "Reason\n");
}

namespace {

// The web service with an HTTP check as the file's checker leaves it: every real server holding
// the service's check.
void add_http_check(Config& c, std::vector<StatusRange> statuses)
{
    ServiceConfig& web = c.services[0];
    web.health_check.type = HealthCheckType::http;
    web.health_check.interval_ms = 2000;
    web.health_check.timeout_ms = 1000;
    web.health_check.http.path = "/health";
    web.health_check.http.expect_status = std::move(statuses);
    web.health_check.http.expect_body = "^ok";
    for (RealServerConfig& rs : web.real_servers) rs.health_check = web.health_check;
}

}  // namespace

TEST(ConsoleCommands, ShowConfigKeepsHealthChecksSorryServersAndKernelInterfaces)
{
    FakeDirector d;
    add_http_check(d.config, {{200, 299}, {301, 301}});
    d.config.interfaces[0].kernel_interface = "";  // none on ext, which reaches no checked server
    d.config.interfaces[1].kernel_interface = "fl-int";
    d.config.services[0].sorry_server = SorryServerConfig{0xAC100009, 8080};
    RealServerConfig& own = d.config.services[0].real_servers[1];
    own.health_check.on_failure = OnFailure::quiesce;
    own.health_check.http.path = "/own";
    own.health_check_overridden = true;
    ASSERT_TRUE(check_config(d.config, "test").empty()) << check_config(d.config, "test")[0].to_string();

    const ConfigResult back = parse_config(run(d, "show config"), "shown");
    ASSERT_TRUE(back.config) << (back.errors.empty() ? "" : back.errors[0].to_string());
    expect_same_config(*back.config, d.config);
    EXPECT_EQ(back.config->interfaces[0].kernel_interface, "");
    EXPECT_EQ(back.config->interfaces[1].kernel_interface, "fl-int");
    const auto found = std::find_if(back.config->services.begin(), back.config->services.end(),
                                    [](const ServiceConfig& s) { return s.port == 80; });
    ASSERT_NE(found, back.config->services.end());
    const ServiceConfig& web = *found;
    EXPECT_EQ(web.health_check, d.config.services[0].health_check);
    EXPECT_EQ(web.sorry_server, d.config.services[0].sorry_server);
    ASSERT_EQ(web.real_servers.size(), 2u);
    for (size_t i = 0; i < 2; ++i) {
        const RealServerConfig& shown = web.real_servers[i];
        const auto& original = d.config.services[0].real_servers;
        const auto it = std::find_if(original.begin(), original.end(), [&](const RealServerConfig& r) {
            return r.address == shown.address && r.port == shown.port;
        });
        ASSERT_NE(it, original.end());
        EXPECT_EQ(shown.health_check, it->health_check);
        EXPECT_EQ(shown.health_check_overridden, it->health_check_overridden);
    }
}

TEST(ConsoleCommands, EditsWorkWithAnHttpCheckOnTheDefaultStatuses)
{
    // expect_status left out (200-299): the console's edits are checked through the YAML round
    // trip, which must read the check back.
    FakeDirector d;
    add_http_check(d.config, {});
    for (const ConfigError& e : check_config(d.config, "test")) ADD_FAILURE() << e.to_string();
    EXPECT_EQ(run(d, "set weight tcp 203.0.113.10:80 172.16.0.3:8080 5"), "ok\n");
    const ConfigResult back = parse_config(run(d, "show config"), "shown");
    EXPECT_TRUE(back.config) << (back.errors.empty() ? "" : back.errors[0].to_string());
}

TEST(ConsoleCommands, IpvsadmAddedRealServerIsCheckedAsTheServicesOthers)
{
    // A file with the same real server would give it the service's check; so must the console.
    FakeDirector d;
    add_http_check(d.config, {{200, 299}});
    EXPECT_EQ(run(d, "ipvsadm -a -t 203.0.113.10:80 -r 172.16.0.4:8080 -m -w 2"), "ok\n");
    ASSERT_EQ(d.applied.size(), 1u);
    const ServiceConfig& web = d.applied[0].first.services[0];
    ASSERT_EQ(web.real_servers.size(), 3u);
    const RealServerConfig& added = web.real_servers[2];
    EXPECT_EQ(added.address, 0xAC100004u);
    EXPECT_EQ(added.weight, 2u);
    EXPECT_EQ(added.health_check, web.health_check);
    EXPECT_FALSE(added.health_check_overridden);
    // And an edit keeps what a real server had.
    EXPECT_EQ(run(d, "ipvsadm -e -t 203.0.113.10:80 -r 172.16.0.3:8080 -m -w 4"), "ok\n");
    ASSERT_EQ(d.applied.size(), 2u);
    const auto& edited = d.applied[1].first.services[0].real_servers;
    const auto rs = std::find_if(edited.begin(), edited.end(), [](const RealServerConfig& r) { return r.address == rs3; });
    ASSERT_NE(rs, edited.end());
    EXPECT_EQ(rs->weight, 4u);
    EXPECT_EQ(rs->health_check, d.config.services[0].health_check);
}

TEST(ConsoleCommands, Reload)
{
    FakeDirector d;
    EXPECT_EQ(run(d, "reload"), "ok\n");
    EXPECT_EQ(d.reloads, 1);
    d.reload_result = "conf/test.yaml:5:30: services[0].port: expected an integer from 1 to 65535, found \"70000\"\n"
                      "conf/test.yaml:9:12: services[1].scheduler: unknown scheduler \"foo\"";
    EXPECT_EQ(run(d, "reload"),
              "error: reload refused, the running configuration stays:\n"
              "  conf/test.yaml:5:30: services[0].port: expected an integer from 1 to 65535, found \"70000\"\n"
              "  conf/test.yaml:9:12: services[1].scheduler: unknown scheduler \"foo\"\n");
    EXPECT_EQ(d.reloads, 2);
}

// ---------------------------------------------------------------------------------------------
// The server, over loopback

namespace {

class TestClient {
public:
    // A client of the Unix socket at `path`.
    explicit TestClient(const std::string& path)
    {
        fd_ = ::socket(AF_UNIX, SOCK_STREAM, 0);
        sockaddr_un sa{};
        sa.sun_family = AF_UNIX;
        path.copy(sa.sun_path, sizeof sa.sun_path - 1);
        connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0;
        ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) | O_NONBLOCK);
    }
    explicit TestClient(uint16_t port)
    {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in sa{};
        sa.sin_family = AF_INET;
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        sa.sin_port = htons(port);
        connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0;
        ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) | O_NONBLOCK);
    }
    ~TestClient() { close(); }
    TestClient(const TestClient&) = delete;
    TestClient& operator=(const TestClient&) = delete;

    bool connected() const { return connected_; }

    void send(std::string_view data)
    {
        while (!data.empty()) {
            const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
            if (n > 0) data.remove_prefix(static_cast<size_t>(n));
            else if (n < 0 && errno != EAGAIN) return;
        }
    }
    void shutdown_write() { ::shutdown(fd_, SHUT_WR); }
    void close()
    {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }

    // Reads whatever has arrived; notes the end of the stream.
    void pump()
    {
        char buf[65536];
        for (;;) {
            const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
            if (n > 0) {
                received.append(buf, static_cast<size_t>(n));
                continue;
            }
            if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) closed = true;
            return;
        }
    }

    std::string received;
    bool closed = false;

private:
    int fd_ = -1;
    bool connected_ = false;
};

// Polls the server and reads the clients until `done` holds; false after five seconds.
bool drive(ConsoleServer& server, std::vector<TestClient*> clients, const std::function<bool()>& done)
{
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (std::chrono::steady_clock::now() < deadline) {
        server.poll_once(1);
        for (TestClient* c : clients) c->pump();
        if (done()) return true;
    }
    return false;
}

std::string help_text()
{
    std::string out;
    for (const std::string& line : console_help()) out += line + "\n";
    return out;
}

ConsoleOptions loopback_options()
{
    ConsoleOptions o;
    o.listen = "127.0.0.1:0";
    return o;
}

}  // namespace

TEST(ConsoleServer, ParsesListenAddresses)
{
    EXPECT_EQ(parse_listen_address("127.0.0.1:9023"), (std::pair<Ipv4, uint16_t>{0x7F000001, 9023}));
    EXPECT_EQ(parse_listen_address("0.0.0.0:0"), (std::pair<Ipv4, uint16_t>{0, 0}));
    for (const char* bad : {"", "127.0.0.1", ":9023", "127.0.0.1:", "127.0.0.1:65536", "localhost:9023",
                            "127.0.0.1:90a", "127.0.0.1:-1", "[::1]:9023"})
        EXPECT_FALSE(parse_listen_address(bad)) << bad;
}

TEST(ConsoleServer, ListenProblemsAreReported)
{
    FakeDirector d;
    ConsoleOptions o;
    o.listen = "localhost:9023";
    ConsoleServer bad(d, o);
    EXPECT_EQ(bad.start(), "console.listen: expected IPV4:PORT (like 127.0.0.1:9023), found \"localhost:9023\"");
    bad.poll_once();  // not listening: nothing happens
    EXPECT_EQ(bad.port(), 0);

    ConsoleServer first(d, loopback_options());
    ASSERT_EQ(first.start(), "");
    ASSERT_NE(first.port(), 0);
    o.listen = fmt::format("127.0.0.1:{}", first.port());
    ConsoleServer second(d, o);
    EXPECT_EQ(second.start(), fmt::format("console: cannot listen on 127.0.0.1:{}: Address already in use", first.port()));
    EXPECT_EQ(first.start(), "console: already listening");
}

TEST(ConsoleServer, PromptsRunsCommandsAndAcceptsCrLf)
{
    FakeDirector d;
    std::vector<std::string> log;
    ConsoleOptions o = loopback_options();
    o.log = [&](std::string_view m) { log.emplace_back(m); };
    ConsoleServer server(d, o);
    ASSERT_EQ(server.start(), "");
    TestClient c(server.port());
    ASSERT_TRUE(c.connected());
    ASSERT_TRUE(drive(server, {&c}, [&] { return c.received == "fulcrum> "; })) << c.received;
    EXPECT_EQ(server.sessions(), 1u);

    c.send("help\r\n");
    const std::string expected = "fulcrum> " + help_text() + "fulcrum> ";
    ASSERT_TRUE(drive(server, {&c}, [&] { return c.received == expected; })) << c.received;

    c.send("quit\r\n");
    ASSERT_TRUE(drive(server, {&c}, [&] { return c.closed; }));
    EXPECT_EQ(c.received, expected);
    EXPECT_EQ(server.sessions(), 0u);
    ASSERT_GE(log.size(), 3u);
    EXPECT_TRUE(log[0].starts_with("console: listening on 127.0.0.1:"));
    EXPECT_TRUE(log[1].starts_with("console: session from 127.0.0.1:")) << log[1];
    EXPECT_TRUE(log[1].ends_with(" opened (1 open)")) << log[1];
    EXPECT_TRUE(log.back().ends_with(" closed (0 open)")) << log.back();
}

TEST(ConsoleServer, ScriptedSessionEndsAfterItsLastCommand)
{
    // printf 'show services\nset weight ...\nshow services' | nc -q1 127.0.0.1 9023: every
    // command runs, the output is complete, and the session closes without a last prompt. The
    // last line has no line end and is still a command.
    FakeDirector d;
    ConsoleServer server(d, loopback_options());
    ASSERT_EQ(server.start(), "");
    TestClient c(server.port());
    c.send("show services\nset weight tcp 203.0.113.10:80 172.16.0.3:8080 5\nshow services");
    c.shutdown_write();
    FakeDirector before;
    const std::string first = run(before, "show services");
    ASSERT_TRUE(drive(server, {&c}, [&] { return c.closed; })) << c.received;
    const std::string second = run(d, "show services");
    EXPECT_NE(first, second);
    EXPECT_EQ(c.received, "fulcrum> " + first + "fulcrum> ok\nfulcrum> " + second);
    EXPECT_EQ(server.sessions(), 0u);
}

TEST(ConsoleServer, ScriptOfManyCommandsRunsInOrder)
{
    FakeDirector d;
    ConsoleServer server(d, loopback_options());
    ASSERT_EQ(server.start(), "");
    TestClient c(server.port());
    std::string script;
    std::string expected;
    for (int w = 0; w < 20; ++w) {
        script += fmt::format("set weight tcp 203.0.113.10:80 172.16.0.3:8080 {}\n", w);
        expected += "fulcrum> ok\n";
    }
    script += "ipvsadm -S\n";
    c.send(script);
    c.shutdown_write();
    ASSERT_TRUE(drive(server, {&c}, [&] { return c.closed; }));
    EXPECT_TRUE(c.received.starts_with(expected)) << c.received;
    EXPECT_NE(c.received.find("-a -t 203.0.113.10:80 -r 172.16.0.3:8080 -m -w 19\n"), std::string::npos);
    ASSERT_EQ(d.applied.size(), 20u);
    EXPECT_EQ(d.applied.back().second, "console: set weight tcp 203.0.113.10:80 172.16.0.3:8080 19");
}

TEST(ConsoleServer, TwoSessionsAtOnce)
{
    FakeDirector d;
    ConsoleServer server(d, loopback_options());
    ASSERT_EQ(server.start(), "");
    TestClient a(server.port());
    TestClient b(server.port());
    ASSERT_TRUE(drive(server, {&a, &b}, [&] { return a.received == "fulcrum> " && b.received == "fulcrum> "; }));
    EXPECT_EQ(server.sessions(), 2u);

    // b's command first, then a's while b is mid-line.
    b.send("show ");
    a.send("ipvsadm -L --timeout\n");
    ASSERT_TRUE(drive(server, {&a, &b}, [&] {
        return a.received == "fulcrum> Timeout (tcp tcpfin udp): 900 120 300\nfulcrum> ";
    })) << a.received;
    EXPECT_EQ(b.received, "fulcrum> ");
    b.send("conns\n");
    const std::string conns = run(d, "show conns");
    ASSERT_TRUE(drive(server, {&a, &b}, [&] { return b.received == "fulcrum> " + conns + "fulcrum> "; })) << b.received;

    // An edit in one session shows in the other.
    a.send("set weight tcp 203.0.113.10:80 172.16.0.2:8080 9\n");
    ASSERT_TRUE(drive(server, {&a, &b}, [&] { return a.received.ends_with("fulcrum> ok\nfulcrum> "); }));
    b.send("ipvsadm -S\n");
    ASSERT_TRUE(drive(server, {&a, &b}, [&] {
        return b.received.find("-r 172.16.0.2:8080 -m -w 9\n") != std::string::npos && b.received.ends_with("fulcrum> ");
    })) << b.received;

    a.close();
    ASSERT_TRUE(drive(server, {&b}, [&] { return server.sessions() == 1; }));
    b.send("exit\n");
    ASSERT_TRUE(drive(server, {&b}, [&] { return b.closed; }));
    EXPECT_EQ(server.sessions(), 0u);
}

TEST(ConsoleServer, TooLongLineIsAnsweredAndDropped)
{
    FakeDirector d;
    ConsoleServer server(d, loopback_options());
    ASSERT_EQ(server.start(), "");
    TestClient c(server.port());
    // 4096 bytes is the limit: a line of exactly that is a command (an unknown one), one more is not.
    c.send(std::string(4096, 'x') + "\n" + std::string(4097, 'y') + "\n" + std::string(20000, 'z') + "\nhelp\n");
    c.shutdown_write();
    ASSERT_TRUE(drive(server, {&c}, [&] { return c.closed; }));
    EXPECT_EQ(c.received, "fulcrum> error: unknown command \"" + std::string(60, 'x') + "...\"; try \"help\"\n" +
                              "fulcrum> error: line longer than 4096 bytes; ignored\n" +
                              "fulcrum> error: line longer than 4096 bytes; ignored\n" + "fulcrum> " + help_text());
}

TEST(ConsoleServer, TelnetNegotiationIsIgnored)
{
    FakeDirector d;
    ConsoleServer server(d, loopback_options());
    ASSERT_EQ(server.start(), "");
    TestClient c(server.port());
    // What a telnet client sends: WILL TERMINAL-TYPE, DO SUPPRESS-GO-AHEAD, a subnegotiation
    // (terminal type "XTERM"), a NOP in the middle of a word, and CR LF.
    const std::string iac =
        "\xff\xfb\x18"
        "\xff\xfd\x03"
        "\xff\xfa\x18\x00XTERM\xff\xf0"s;
    c.send(iac + "ipvsadm -L --ti" + "\xff\xf1" + "meout\r\n");
    // ^C (IAC IP) forgets what was typed on the line so far.
    c.send(std::string("show nonsense") + "\xff\xf4" + "ipvsadm -L --timeout\r\n");
    c.shutdown_write();
    ASSERT_TRUE(drive(server, {&c}, [&] { return c.closed; }));
    EXPECT_EQ(c.received,
              "fulcrum> Timeout (tcp tcpfin udp): 900 120 300\n"
              "fulcrum> Timeout (tcp tcpfin udp): 900 120 300\n");
}

TEST(ConsoleServer, SessionsBeyondTheLimitAreRefused)
{
    FakeDirector d;
    ConsoleOptions o = loopback_options();
    o.max_sessions = 2;
    ConsoleServer server(d, o);
    ASSERT_EQ(server.start(), "");
    TestClient a(server.port());
    TestClient b(server.port());
    ASSERT_TRUE(drive(server, {&a, &b}, [&] { return server.sessions() == 2; }));
    TestClient c(server.port());
    ASSERT_TRUE(drive(server, {&a, &b, &c}, [&] { return c.closed; }));
    EXPECT_EQ(c.received, "error: too many console sessions (2 open); try again later\n");
    EXPECT_EQ(server.sessions(), 2u);

    // Once one leaves, a new session is taken.
    a.send("quit\n");
    ASSERT_TRUE(drive(server, {&a, &b}, [&] { return a.closed; }));
    TestClient e(server.port());
    ASSERT_TRUE(drive(server, {&b, &e}, [&] { return e.received == "fulcrum> "; }));
    EXPECT_EQ(server.sessions(), 2u);
}

TEST(ConsoleServer, AnHttpRequestClosesTheSessionBeforeItsBodyRuns)
{
    // What a web page can make a browser send to 127.0.0.1:9023: every line of the body would
    // otherwise be a command.
    const std::string requests[] = {
        "POST / HTTP/1.1\r\nHost: 127.0.0.1:9023\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\r\nipvsadm -C\r\n",
        "GET /?ipvsadm%20-C HTTP/1.0\r\n\r\nipvsadm -C\n",
        // A request line cut off in front of its headers is caught by them.
        "host: 127.0.0.1:9023\nipvsadm -C\n",
        "User-Agent: Mozilla/5.0\nipvsadm -C\n",
    };
    for (const std::string& request : requests) {
        SCOPED_TRACE(request);
        FakeDirector d;
        ConsoleServer server(d, loopback_options());
        ASSERT_EQ(server.start(), "");
        TestClient c(server.port());
        c.send(request);
        ASSERT_TRUE(drive(server, {&c}, [&] { return c.closed; }));
        EXPECT_TRUE(d.applied.empty());
        EXPECT_EQ(c.received.find("error"), std::string::npos) << c.received;
        EXPECT_EQ(server.sessions(), 0u);
    }
    // Commands that merely contain such words still run.
    FakeDirector d;
    ConsoleServer server(d, loopback_options());
    ASSERT_EQ(server.start(), "");
    TestClient c(server.port());
    c.send("show HTTP/1.1\nquit\n");
    ASSERT_TRUE(drive(server, {&c}, [&] { return c.closed; }));
    EXPECT_NE(c.received.find("error: "), std::string::npos) << c.received;
}

TEST(ConsoleServer, IdleSessionsAreClosed)
{
    FakeDirector d;
    ConsoleOptions o = loopback_options();
    o.idle_timeout = std::chrono::milliseconds(300);
    ConsoleServer server(d, o);
    ASSERT_EQ(server.start(), "");
    TestClient idle(server.port());
    TestClient busy(server.port());
    const auto start = std::chrono::steady_clock::now();
    // `busy` sends a blank line every 100 ms; `idle` sends nothing after connecting.
    auto next_line = start;
    ASSERT_TRUE(drive(server, {&idle, &busy}, [&] {
        if (std::chrono::steady_clock::now() >= next_line) {
            busy.send("\n");
            next_line += std::chrono::milliseconds(100);
        }
        return idle.closed;
    }));
    const auto waited = std::chrono::steady_clock::now() - start;
    EXPECT_GE(waited, std::chrono::milliseconds(300));
    EXPECT_LT(waited, std::chrono::milliseconds(2000));
    EXPECT_FALSE(busy.closed);
    EXPECT_EQ(server.sessions(), 1u);
}

TEST(ConsoleServer, WhenAllSessionsAreTakenTheIdlestGivesWay)
{
    FakeDirector d;
    ConsoleOptions o = loopback_options();
    o.max_sessions = 2;
    o.evict_idle_after = std::chrono::milliseconds(200);
    ConsoleServer server(d, o);
    ASSERT_EQ(server.start(), "");
    TestClient a(server.port());
    TestClient b(server.port());
    ASSERT_TRUE(drive(server, {&a, &b}, [&] { return server.sessions() == 2; }));
    // Nobody has been idle long enough yet: a newcomer is refused, as before.
    TestClient early(server.port());
    ASSERT_TRUE(drive(server, {&a, &b, &early}, [&] { return early.closed; }));
    EXPECT_EQ(early.received, "error: too many console sessions (2 open); try again later\n");
    // b keeps talking, a does not.
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(300);
    while (std::chrono::steady_clock::now() < until) {
        b.send("\n");
        drive(server, {&a, &b}, [&] { return true; });
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    TestClient late(server.port());
    ASSERT_TRUE(drive(server, {&a, &b, &late}, [&] { return a.closed && late.received == "fulcrum> "; }));
    EXPECT_NE(a.received.find("error: closed after being idle"), std::string::npos) << a.received;
    EXPECT_FALSE(b.closed);
    EXPECT_EQ(server.sessions(), 2u);
}

TEST(ConsoleServer, QuitStopsTheSessionBeforeLaterLines)
{
    FakeDirector d;
    ConsoleServer server(d, loopback_options());
    ASSERT_EQ(server.start(), "");
    TestClient c(server.port());
    c.send("ipvsadm -L --timeout\nquit\nipvsadm -C\n");
    ASSERT_TRUE(drive(server, {&c}, [&] { return c.closed; }));
    EXPECT_EQ(c.received, "fulcrum> Timeout (tcp tcpfin udp): 900 120 300\nfulcrum> ");
    EXPECT_TRUE(d.applied.empty());  // the -C after quit never ran
}

TEST(ConsoleServer, PeerThatVanishesDoesNotHurt)
{
    // A client that sends a command and closes at once: the answer meets a closed socket
    // (EPIPE or ECONNRESET, never SIGPIPE) and the session ends.
    FakeDirector d;
    d.rows.assign(5000, ConnectionRow{Protocol::tcp, 60, "ESTABLISHED", 0xC6336407, 40000, vip, 80, rs2, 8080});
    ConsoleServer server(d, loopback_options());
    ASSERT_EQ(server.start(), "");
    {
        TestClient c(server.port());
        c.send("show conns 5000\nshow conns 5000\n");
        ASSERT_TRUE(drive(server, {}, [&] { return server.sessions() == 1; }));
    }
    ASSERT_TRUE(drive(server, {}, [&] { return server.sessions() == 0; }));
    // The server still serves.
    TestClient e(server.port());
    ASSERT_TRUE(drive(server, {&e}, [&] { return e.received == "fulcrum> "; }));
}

TEST(ConsoleServer, LargeOutputReachesASlowReader)
{
    // 5000 connection lines (~440 kB) are more than the socket buffers hold: the server writes
    // as the client reads, without blocking, and the output arrives whole.
    FakeDirector d;
    d.rows.assign(5000, ConnectionRow{Protocol::tcp, 60, "ESTABLISHED", 0xC6336407, 40000, vip, 80, rs2, 8080});
    ConsoleServer server(d, loopback_options());
    ASSERT_EQ(server.start(), "");
    TestClient c(server.port());
    c.send("show conns 5000\n");
    c.shutdown_write();
    // Let the server run ahead while the client does not read.
    for (int i = 0; i < 50; ++i) server.poll_once(0);
    ASSERT_TRUE(drive(server, {&c}, [&] { return c.closed; }));
    EXPECT_EQ(c.received, "fulcrum> " + run(d, "show conns 5000"));
}

TEST(ConsoleServer, StopClosesEverything)
{
    FakeDirector d;
    ConsoleServer server(d, loopback_options());
    ASSERT_EQ(server.start(), "");
    TestClient c(server.port());
    ASSERT_TRUE(drive(server, {&c}, [&] { return server.sessions() == 1; }));
    server.stop();
    EXPECT_EQ(server.sessions(), 0u);
    EXPECT_EQ(server.port(), 0);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!c.closed && std::chrono::steady_clock::now() < deadline) c.pump();
    EXPECT_TRUE(c.closed);
    // And it can listen again.
    EXPECT_EQ(server.start(), "");
    EXPECT_NE(server.port(), 0);
}

namespace {

// A fresh folder for socket files, removed with what is left in it.
struct TempFolder {
    std::string path;
    TempFolder()
    {
        char name[] = "/tmp/fulcrum-console-XXXXXX";
        path = ::mkdtemp(name);
    }
    ~TempFolder() { std::system(fmt::format("rm -rf '{}'", path).c_str()); }
};

ConsoleOptions unix_options(const std::string& path)
{
    ConsoleOptions o;
    o.socket_path = path;
    return o;
}

// In a child process that runs as `uid` with primary group `gid` and no other group: connects
// to the socket, sends `input`, and returns what it read until the server closed (or "connect:
// ERRNO TEXT"), while the parent polls the server.
std::string as_user(ConsoleServer& server, const std::string& path, uid_t uid, gid_t gid, const std::string& input,
                    const std::vector<gid_t>& supplementary = {})
{
    int out[2];
    if (::pipe(out) != 0) return "pipe failed";
    const pid_t child = ::fork();
    if (child == 0) {
        ::close(out[0]);
        std::string result;
        if (::setgroups(supplementary.size(), supplementary.data()) != 0 || ::setgid(gid) != 0 || ::setuid(uid) != 0) {
            result = "cannot change user";
        } else {
            const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
            sockaddr_un sa{};
            sa.sun_family = AF_UNIX;
            path.copy(sa.sun_path, sizeof sa.sun_path - 1);
            if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
                result = fmt::format("connect: {}", std::strerror(errno));
            } else {
                (void)!::send(fd, input.data(), input.size(), MSG_NOSIGNAL);  // the server may have closed
                ::shutdown(fd, SHUT_WR);
                char buf[4096];
                ssize_t n;
                while ((n = ::read(fd, buf, sizeof buf)) > 0) result.append(buf, static_cast<size_t>(n));
                if (n < 0) result += fmt::format("read: {}", std::strerror(errno));
            }
        }
        (void)!::write(out[1], result.data(), result.size());
        ::_exit(0);
    }
    ::close(out[1]);
    ::fcntl(out[0], F_SETFL, ::fcntl(out[0], F_GETFL) | O_NONBLOCK);
    std::string result;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    for (bool done = false; !done && std::chrono::steady_clock::now() < deadline;) {
        server.poll_once(1);
        char buf[4096];
        const ssize_t n = ::read(out[0], buf, sizeof buf);
        if (n > 0) result.append(buf, static_cast<size_t>(n));
        done = n == 0;
    }
    ::close(out[0]);
    int status = 0;
    ::waitpid(child, &status, 0);
    return result;
}


// One session on a fresh Unix socket: `input` sent, then the end of input; what came back.
std::string unix_session(FakeDirector& d, const std::string& input)
{
    TempFolder dir;
    const std::string path = dir.path + "/console.sock";
    ConsoleServer server(d, unix_options(path));
    if (server.start() != "") return "server did not start";
    TestClient c(path);
    if (!c.connected()) return "no connection";
    c.send(input);
    c.shutdown_write();
    if (!drive(server, {&c}, [&] { return c.closed; })) return "no end within 5 s: " + c.received;
    return c.received;
}
}  // namespace

TEST(ConsoleServer, UnixSocketIsRootsAndFramesScripts)
{
    TempFolder dir;
    const std::string path = dir.path + "/run/console.sock";  // its folder is made
    FakeDirector d;
    ConsoleServer server(d, unix_options(path));
    ASSERT_EQ(server.start(), "");
    struct stat st{};
    ASSERT_EQ(::lstat(path.c_str(), &st), 0);
    EXPECT_TRUE(S_ISSOCK(st.st_mode));
    EXPECT_EQ(st.st_mode & 0777, 0600u);  // no group: root's alone
    EXPECT_EQ(server.port(), 0);

    TestClient c(path);
    ASSERT_TRUE(c.connected());
    // Framed: no prompt; "o " lines and "= 0" for an answer, "e " lines and ipvsadm's status for
    // a refusal; a restore is one change, and a refused one changes nothing.
    c.send("script\n"
           "ipvsadm -L -t 203.0.113.10:54 -n\n"
           "ipvsadm -A -t 203.0.113.10:80\n"
           "ipvsadm -A\n"
           "ipvsadm -R\n"
           "# a comment, then a blank line\n"
           "\n"
           "-A -t 203.0.113.50:80 -s rr\n"
           "ipvsadm -a -t 203.0.113.50:80 -r 172.16.0.9:8080 -m -w 2\n"
           ".\n"
           "ipvsadm -R\n"
           "-A -t 203.0.113.51:80 -s rr\n"
           "-a -t 203.0.113.99:80 -r 172.16.0.9 -g\n"
           ".\n"
           "ipvsadm -R\n"
           "-L -n\n"
           ".\n"
           "reload\n");
    c.shutdown_write();
    d.reload_result = "f.yaml:3:1: unknown key \"routing\" at the top level";
    ASSERT_TRUE(drive(server, {&c}, [&] { return c.closed; })) << c.received;
    EXPECT_EQ(c.received,
              "fulcrum> "  // the session's first prompt, written before `script` was read
              "e error: ipvsadm -L: no service tcp 203.0.113.10:54\n= 1\n"
              "e error: ipvsadm -A (--add-service): service tcp 203.0.113.10:80 already exists\n= 255\n"
              "e error: ipvsadm -A (--add-service): expected -t|-u VIP:PORT\n= 2\n"
              "= 0\n"  // success is silence, as from ipvsadm
              "e error: ipvsadm -R: line 2: ipvsadm -a (--add-server): no service tcp 203.0.113.99:80; nothing was "
              "applied\n= 255\n"
              "e error: ipvsadm -R: line 1: -L (--list) is not a rule (expected -A, -E, -D, -C, -a, -e, -d, --set, "
              "--start-daemon or --stop-daemon); nothing was applied\n= 2\n"
              "e error: reload refused, the running configuration stays:\n"
              "e   f.yaml:3:1: unknown key \"routing\" at the top level\n= 1\n");
    // The one restore that was applied, applied once, with both of its rules.
    ASSERT_EQ(d.applied.size(), 1u);
    EXPECT_EQ(d.applied[0].second, "console: ipvsadm -R (2 rules)");
    const ServiceConfig* added = find_service(d.config, ServiceKey{Protocol::tcp, IpAddress(0xCB007132), 80});
    ASSERT_NE(added, nullptr);
    ASSERT_EQ(added->real_servers.size(), 1u);
    EXPECT_EQ(added->real_servers[0].port, 8080);
    EXPECT_EQ(added->real_servers[0].weight, 2u);
    EXPECT_EQ(find_service(d.config, ServiceKey{Protocol::tcp, IpAddress(0xCB007133), 80}), nullptr);

    server.stop();
    EXPECT_NE(::lstat(path.c_str(), &st), 0);  // the file goes with the server
}

TEST(ConsoleServer, UnixSocketRefusesOtherUsers)
{
    TempFolder dir;
    const std::string path = dir.path + "/console.sock";
    constexpr uid_t nobody = 65534;
    constexpr gid_t operators = 4242;
    FakeDirector d;
    {
        std::vector<std::string> log;
        ConsoleOptions o = unix_options(path);
        o.log = [&](std::string_view m) { log.emplace_back(m); };
        ConsoleServer server(d, o);
        ASSERT_EQ(server.start(), "");
        ::chmod(dir.path.c_str(), 0755);
        // The file's mode keeps others out...
        EXPECT_EQ(as_user(server, path, nobody, nobody, "script\nipvsadm -C\n"), "connect: Permission denied");
        // ...and were it opened to all, the peer's credentials still would.
        ASSERT_EQ(::chmod(path.c_str(), 0666), 0);
        EXPECT_EQ(as_user(server, path, nobody, nobody, "script\nipvsadm -C\n"),
                  "error: permission denied: uid 65534 is not root, and the console has no group\n");
        EXPECT_TRUE(std::any_of(log.begin(), log.end(), [](const std::string& m) {
            return m.starts_with("console: refused unix:uid=65534,pid=") && m.find("permission denied") != std::string::npos;
        }));
        EXPECT_TRUE(d.applied.empty());
        EXPECT_EQ(as_user(server, path, 0, 0, "script\nipvsadm -L --timeout\n"),
                  "fulcrum> o Timeout (tcp tcpfin udp): 900 120 300\n= 0\n");
    }
    {
        ConsoleOptions o = unix_options(path);
        o.socket_group = operators;
        ConsoleServer server(d, o);
        ASSERT_EQ(server.start(), "");
        struct stat st{};
        ASSERT_EQ(::lstat(path.c_str(), &st), 0);
        EXPECT_EQ(st.st_mode & 0777, 0660u);
        EXPECT_EQ(st.st_gid, operators);
        // A member of the group comes in, by its primary group or a supplementary one (which the
        // kernel tells, SO_PEERGROUPS); anyone else does not.
        EXPECT_EQ(as_user(server, path, nobody, operators, "script\nipvsadm -Z\n"), "fulcrum> = 0\n");
        EXPECT_EQ(d.zeroed, 1);
        EXPECT_EQ(as_user(server, path, nobody, nobody, "script\nipvsadm -Z\n", {100, operators}), "fulcrum> = 0\n");
        EXPECT_EQ(d.zeroed, 2);
        ASSERT_EQ(::chmod(path.c_str(), 0666), 0);
        EXPECT_EQ(as_user(server, path, nobody, nobody, "script\nipvsadm -Z\n"),
                  "error: permission denied: uid 65534 is neither root nor in the console's group (gid 4242)\n");
        EXPECT_EQ(as_user(server, path, nobody, nobody, "script\nipvsadm -Z\n", {100, 4243}),
                  "error: permission denied: uid 65534 is neither root nor in the console's group (gid 4242)\n");
        EXPECT_EQ(d.zeroed, 2);
    }
}

TEST(ConsoleServer, UnixSocketReplacesAStaleFileOnly)
{
    TempFolder dir;
    const std::string path = dir.path + "/console.sock";
    FakeDirector d;
    // A socket file whose process is gone (bound, then closed without unlinking).
    {
        const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
        sockaddr_un sa{};
        sa.sun_family = AF_UNIX;
        path.copy(sa.sun_path, sizeof sa.sun_path - 1);
        ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
        ::close(fd);
    }
    ConsoleServer first(d, unix_options(path));
    ASSERT_EQ(first.start(), "");
    ConsoleServer second(d, unix_options(path));
    EXPECT_EQ(second.start(), "console.socket " + path +
                                  ": another process answers there; give each director its own console.socket");
    TestClient c(path);
    ASSERT_TRUE(c.connected());  // the first still owns it
    c.send("script\nipvsadm -Z\n");
    c.shutdown_write();
    ASSERT_TRUE(drive(first, {&c}, [&] { return c.closed; }));
    EXPECT_EQ(c.received, "fulcrum> = 0\n");
    first.stop();

    const std::string file = dir.path + "/plain";
    std::fclose(std::fopen(file.c_str(), "w"));
    ConsoleServer third(d, unix_options(file));
    EXPECT_EQ(third.start(), "console.socket " + file +
                                 ": a file that is not a socket is there; remove it or choose another path");
    struct stat st{};
    EXPECT_EQ(::lstat(file.c_str(), &st), 0);  // left alone

    // A folder others may write to, or a link, is refused: they could swap the socket.
    const std::string open_folder = dir.path + "/open";
    ASSERT_EQ(::mkdir(open_folder.c_str(), 0777), 0);
    ASSERT_EQ(::chmod(open_folder.c_str(), 0777), 0);
    ConsoleServer fourth(d, unix_options(open_folder + "/console.sock"));
    EXPECT_EQ(fourth.start(), fmt::format("console.socket {0}/console.sock: {0} must be a folder (not a link) owned by "
                                          "root that only its owner may write to (it is 777, uid 0)",
                                          open_folder));
    const std::string link = dir.path + "/link";
    ASSERT_EQ(::symlink(dir.path.c_str(), link.c_str()), 0);
    ConsoleServer fifth(d, unix_options(link + "/console.sock"));
    EXPECT_TRUE(fifth.start().find("must be a folder (not a link)") != std::string::npos);

    // A server stopping leaves alone a socket file that is no longer its own.
    ConsoleServer sixth(d, unix_options(path));
    ASSERT_EQ(sixth.start(), "");
    ASSERT_EQ(::unlink(path.c_str()), 0);
    ConsoleServer seventh(d, unix_options(path));  // another instance, after the file was removed
    ASSERT_EQ(seventh.start(), "");
    sixth.stop();
    EXPECT_EQ(::lstat(path.c_str(), &st), 0);
    TestClient still(path);
    EXPECT_TRUE(still.connected());
    seventh.stop();
    EXPECT_NE(::lstat(path.c_str(), &st), 0);
}

TEST(ConsoleCommands, ShowInterfacesNeighborsAndRoutes)
{
    FakeDirector d;
    InterfaceStatus ext;
    ext.config = d.config.interfaces[0];
    ext.port = 0;
    ext.mac = "02:00:00:00:00:01";
    ext.link_up = true;
    ext.speed_mbps = 10000;
    ext.mtu = 1500;
    ext.rx_packets = 1234;
    ext.rx_bytes = 99999;
    ext.rx_missed = 3;
    ext.tx_packets = 1200;
    ext.tx_bytes = 88888;
    InterfaceStatus in = ext;
    in.config = d.config.interfaces[1];
    in.port = 1;
    in.link_up = false;
    in.speed_mbps = 0;
    d.interface_list = {ext, in};
    const std::string ext_addresses = format_prefix(ext.config.addresses[0]);
    EXPECT_EQ(run(d, "show interfaces"),
              fmt::format("{}: port 0 {}, link up 10000 Mb/s, mtu 1500, mac 02:00:00:00:00:01\n"
                          "    address {}; kernel interface {}\n"
                          "    RX: packets 1234 bytes 99999 missed 3 errors 0 no-mbuf 0\n"
                          "    TX: packets 1200 bytes 88888 errors 0\n",
                          ext.config.name, ext.config.device, ext_addresses,
                          ext.config.kernel_interface.empty() ? "-" : ext.config.kernel_interface) +
                  fmt::format("{}: port 1 {}, link down, mtu 1500, mac 02:00:00:00:00:01\n", in.config.name,
                              in.config.device) +
                  "    address " + format_prefix(in.config.addresses[0]) +
                  "; kernel interface " + (in.config.kernel_interface.empty() ? "-" : in.config.kernel_interface) +
                  "\n    RX: packets 1234 bytes 99999 missed 3 errors 0 no-mbuf 0\n"
                  "    TX: packets 1200 bytes 88888 errors 0\n");

    d.neighbor_list = {{0xC6120002, "02:aa:00:00:00:02", "ext", false}, {0x0A000001, "02:bb:00:00:00:01", "int", true}};
    EXPECT_EQ(run(d, "show neighbors"), "10.0.0.1 dev int lladdr 02:bb:00:00:00:01 PERMANENT\n"
                                        "198.18.0.2 dev ext lladdr 02:aa:00:00:00:02 REACHABLE\n");

    d.config.interfaces[0].addresses = {*parse_prefix("198.18.0.1/24"), *parse_prefix("2001:db8::1/64")};
    d.config.interfaces[1].addresses = {*parse_prefix("172.16.0.1/16"), *parse_prefix("10.1.2.3/8")};
    d.config.routes = {RouteConfig{*parse_prefix("0.0.0.0/0"), 0xC61200FE, ""},
                       RouteConfig{*parse_prefix("192.168.0.0/16"), 0x0A0000FE, ""},
                       RouteConfig{*parse_prefix("::/0"), *parse_ip("fe80::1"), d.config.interfaces[0].name},
                       RouteConfig{*parse_prefix("2001:db8:5::/48"), *parse_ip("2001:db8::fe"), ""}};
    // As `ip route` and `ip -6 route` print them: no source address on an IPv6 subnet's line.
    EXPECT_EQ(run(d, "show routes"),
              fmt::format("198.18.0.0/24 dev {0} proto kernel scope link src 198.18.0.1\n"
                          "2001:db8::/64 dev {0} proto kernel\n"
                          "172.16.0.0/16 dev {1} proto kernel scope link src 172.16.0.1\n"
                          "10.0.0.0/8 dev {1} proto kernel scope link src 10.1.2.3\n"
                          "default via 198.18.0.254 dev {0} proto static\n"
                          "192.168.0.0/16 via 10.0.0.254 dev {1} proto static\n"
                          "default via fe80::1 dev {0} proto static\n"
                          "2001:db8:5::/48 via 2001:db8::fe dev {0} proto static\n",
                          d.config.interfaces[0].name, d.config.interfaces[1].name));
    EXPECT_EQ(run(d, "show routes now"), "error: show routes: expected nothing after it, found \"now\"\n");
}

TEST(ConsoleCommands, IpvsadmPersistentConnCountsTemplates)
{
    FakeDirector d;
    d.config.services[0].persistence = 300;
    d.config.services[0].persistence_netmask = 32;
    const ServiceConfig& web = d.config.services[0];
    d.templates[web.real_servers[0].address] = 7;
    const std::string out = run(d, "ipvsadm -L -n --persistent-conn -t " + format_endpoint(web.vip, web.port));
    // ipvsadm.c's print_title and print_service_entry for FMT_PERSISTENTCONN.
    std::string expected = c_format("%-33s %-9s %-11s %-10s %-10s\n  -> RemoteAddress:Port\n", "Prot LocalAddress:Port",
                                    "Weight", "PersistConn", "ActiveConn", "InActConn");
    expected += fmt::format("TCP  {} {} persistent 300\n", format_endpoint(web.vip, web.port), web.scheduler);
    std::vector<const RealServerConfig*> sorted;
    for (const RealServerConfig& rs : web.real_servers) sorted.push_back(&rs);
    std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return std::tie(a->address, a->port) < std::tie(b->address, b->port); });
    for (const RealServerConfig* rs : sorted)
        expected += c_format("  -> %-28s %-9u %-11u %-10u %-10u\n",
                             format_endpoint(rs->address, rs->port).c_str(), rs->weight,
                             rs == &web.real_servers[0] ? 7u : 0u, 0u, 0u);
    EXPECT_EQ(out, expected);
}

TEST(ConsoleCommands, IpvsadmNetmaskWithoutPersistenceIsIgnored)
{
    // As ipvsadm: -M without -p is taken, and nothing comes of it.
    FakeDirector d;
    EXPECT_EQ(run(d, "ipvsadm -A -t 203.0.113.10:81 -s rr -M 24"), "ok\n");
    const ServiceConfig* s = find_service(d.config, ServiceKey{Protocol::tcp, IpAddress(0xCB00710A), 81});
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(s->persistence, 0u);
    EXPECT_EQ(s->persistence_netmask, 32);
}

TEST(ConsoleServer, RestoreBodyIsReadWholeWhateverItsCommandLine)
{
    FakeDirector d;
    const size_t services = d.config.services.size();
    // A restore whose command line does not parse: its rules are read up to "." and refused
    // with it, never run as commands. Then a bundle (-nR) takes a body as -R does; and what popt
    // refuses (an unknown option) exits 255 as in ipvsadm.
    EXPECT_EQ(unix_session(d, "script\n"
                              "ipvsadm -R -Q\n"
                              "ipvsadm -C\n"
                              "reload\n"
                              ".\n"
                              "ipvsadm -R -S\n"
                              "-C\n"
                              ".\n"
                              "ipvsadm -nR\n"
                              "-C\n"
                              ".\n"
                              "ipvsadm -Q\n"),
              "fulcrum> "
              "e error: ipvsadm: unknown option \"-Q\"; the rules after it were read and not applied\n= 255\n"
              "e error: ipvsadm: more than one command given (-R (--restore) and -S (--save)); the rules after it were "
              "read and not applied\n= 2\n"
              "e error: ipvsadm -R (--restore): -n (--numeric) does not apply to this command; the rules after it were "
              "read and not applied\n= 2\n"
              "e error: ipvsadm: unknown option \"-Q\"\n= 255\n");
    EXPECT_EQ(d.reloads, 0);
    EXPECT_TRUE(d.applied.empty());
    EXPECT_EQ(d.config.services.size(), services);
}

TEST(ConsoleServer, UnixSocketTakesTelnetBytesAsData)
{
    FakeDirector d;
    // On TCP, IAC IP would forget "ipvsadm -L " and run "reload"; here the line is one command.
    EXPECT_EQ(unix_session(d, "script\nipvsadm -L \xff\xf4reload\n"),
              "fulcrum> e error: ipvsadm -L (--list): unexpected argument \"\\xff\\xf4reload\"\n= 2\n");
    EXPECT_EQ(d.reloads, 0);
}

TEST(ConsoleCommands, IpvsadmListsEveryConnectionInPages)
{
    // More rows than a page, and than show conns' largest limit: all of them, in order.
    FakeDirector d;
    for (uint32_t i = 0; i < 3 * connection_page + 7; ++i)
        d.rows.push_back({Protocol::tcp, 60, "ESTABLISHED", 0xC6330000 + i, static_cast<uint16_t>(1024 + i % 60000), vip,
                          80, rs2, 8080});
    const std::string text = run(d, "ipvsadm -L -n -c");
    EXPECT_EQ(d.pages_read, 4u);
    size_t lines = 0;
    for (char ch : text) lines += ch == '\n';
    EXPECT_EQ(lines, 2 + d.rows.size());
    EXPECT_TRUE(text.ends_with(fmt::format("TCP 01:00  ESTABLISHED {}:{} 203.0.113.10:80    172.16.0.2:8080\n",
                                           format_ipv4(0xC6330000 + 3 * connection_page + 6),
                                           1024 + (3 * connection_page + 6) % 60000)))
        << text.substr(text.size() - 200);
}

TEST(ConsoleServer, PagedListingReachesAReaderAndTheNextCommandWaits)
{
    FakeDirector d;
    for (uint32_t i = 0; i < 2 * connection_page + 1; ++i)
        d.rows.push_back({Protocol::udp, 300, "UDP", 0xC6330000 + i, 5353, vip, 53, rs2, 53});
    const std::string received = unix_session(d, "script\nipvsadm -L -n -c\nipvsadm -L --timeout\n");
    std::string want = "fulcrum> o IPVS connection entries\no pro expire state       source             virtual            "
                       "destination\n";
    for (const ConnectionRow& r : d.rows)
        want += fmt::format("o UDP 05:00  UDP         {:<18} 203.0.113.10:53    172.16.0.2:53\n",
                            format_endpoint(r.client, 5353));
    want += "= 0\no Timeout (tcp tcpfin udp): 900 120 300\n= 0\n";
    EXPECT_EQ(received.size(), want.size());
    EXPECT_TRUE(received == want);
    EXPECT_EQ(d.pages_read, 3u);
}
