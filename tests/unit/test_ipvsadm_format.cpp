#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "control/frontends/ipvsadm_format.hpp"

using namespace fulcrum;
using namespace fulcrum::control;

TEST(IpvsadmFormat, ListLooksLikeIpvsadmLn)
{
    Config c;
    ServiceConfig udp{0xC6120064, 53, Protocol::udp, "rr", ForwardMethod::nat, {{0xC613000B, 53, 1, ForwardMethod::nat}}};
    ServiceConfig tcp{0xC6120064, 80, Protocol::tcp, "wrr", ForwardMethod::nat,
                      {{0xC613000D, 80, 1, ForwardMethod::tun},
                       {0xC613000B, 8080, 3, ForwardMethod::nat},
                       {0xC612000E, 80, 0, ForwardMethod::dr}}};
    ServiceConfig tcp_low{0x0A000001, 443, Protocol::tcp, "rr", ForwardMethod::nat, {}};
    c.services = {udp, tcp, tcp_low};
    const std::string text = format_ipvsadm_list(c, 4096, [](const ServiceConfig& s, const RealServerConfig& rs) {
        return s.port == 80 && rs.weight == 3 ? RealServerCounts{12, 345} : RealServerCounts{};
    });
    EXPECT_EQ(text,
              "IP Virtual Server version 1.2.1 (size=4096)\n"
              "Prot LocalAddress:Port Scheduler Flags\n"
              "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n"
              "TCP  10.0.0.1:443 rr\n"
              "TCP  198.18.0.100:80 wrr\n"
              "  -> 198.18.0.14:80               Route   0      0          0         \n"
              "  -> 198.19.0.11:8080             Masq    3      12         345       \n"
              "  -> 198.19.0.13:80               Tunnel  1      0          0         \n"
              "UDP  198.18.0.100:53 rr\n"
              "  -> 198.19.0.11:53               Masq    1      0          0         \n");
}

// --- ipvsadm's other tables, checked against its own printf formats (ipvsadm.c: print_title,
// print_service_entry, print_largenum, print_conn, list_timeout) run through snprintf here.

namespace {

template <typename... Args>
std::string c_format(const char* format, Args... args)
{
    char buf[512];
    std::snprintf(buf, sizeof buf, format, args...);
    return buf;
}

// print_largenum, as ipvsadm.c writes it.
std::string largenum(unsigned long long i, bool exact = false)
{
    if (exact) {
        const size_t len = c_format("%llu", i).size();
        return c_format("%*llu", static_cast<int>(len <= 8 ? 9 : len + 1), i);
    }
    if (i < 100000000) return c_format("%9llu", i);
    if (i < 1000000000) return c_format("%8lluK", i / 1000);
    if (i < 100000000000ULL) return c_format("%8lluM", i / 1000000);
    if (i < 100000000000000ULL) return c_format("%8lluG", i / 1000000000ULL);
    return c_format("%8lluT", i / 1000000000000ULL);
}

std::vector<ServiceStatus> traffic_statuses()
{
    ServiceStatus web;
    web.config = ServiceConfig{0xCB00710A, 80, Protocol::tcp, "wrr", ForwardMethod::nat, {}};
    web.stats = {123, 100000000, 99999999, 123456789012ULL, 1000000000000000ULL};
    web.rates = {7, 1500, 1400, 2000000000ULL, 999999999};
    RealServerStatus a;
    a.config = {0xAC100003, 8080, 1, ForwardMethod::nat};
    a.stats = {23, 1000, 900, 64000, 1200000};
    a.rates = {1, 123456789, 10, 100000000, 0};
    RealServerStatus b;
    b.config = {0xAC100002, 8080, 3, ForwardMethod::nat};
    b.stats = {100, 99999001, 99999099, 123456724012ULL, 999999998800000ULL};
    b.rates = {6, 1400, 1390, 1900000000ULL, 999999999};
    web.real_servers = {a, b};
    ServiceStatus dns;
    dns.config = ServiceConfig{0xCB00710A, 53, Protocol::udp, "rr", ForwardMethod::nat, {}};
    return {dns, web};
}

}  // namespace

TEST(IpvsadmFormat, LargeNumbersAbbreviateAsPrintLargenum)
{
    const std::pair<uint64_t, const char*> cases[] = {
        {0, "        0"},
        {99999999, " 99999999"},
        {100000000, "  100000K"},
        {999999999, "  999999K"},
        {1000000000, "    1000M"},  // eight columns for 1000, then the unit
        {99999999999ULL, "   99999M"},
        {100000000000ULL, "     100G"},
        {99999999999999ULL, "   99999G"},
        {100000000000000ULL, "     100T"},
        {UINT64_MAX, "18446744T"},
    };
    for (const auto& [n, expected] : cases) {
        EXPECT_EQ(format_ipvsadm_number(n), largenum(n)) << n;
        EXPECT_EQ(format_ipvsadm_number(n), expected) << n;
    }
    EXPECT_EQ(format_ipvsadm_number(5, true), "        5");
    EXPECT_EQ(format_ipvsadm_number(12345678, true), " 12345678");
    EXPECT_EQ(format_ipvsadm_number(123456789, true), " 123456789");
    EXPECT_EQ(format_ipvsadm_number(UINT64_MAX, true), " 18446744073709551615");
    for (uint64_t n : {uint64_t{0}, uint64_t{7}, uint64_t{123456789}, uint64_t{1} << 40, UINT64_MAX})
        EXPECT_EQ(format_ipvsadm_number(n, true), largenum(n, true)) << n;
}

TEST(IpvsadmFormat, StatsLookLikeIpvsadmLnStats)
{
    const auto services = traffic_statuses();
    IpvsadmOptions o;
    o.table = IpvsadmTable::stats;
    const ServiceStatus& web = services[1];
    const RealServerStatus& a = web.real_servers[0];
    const RealServerStatus& b = web.real_servers[1];
    auto service_line = [](const char* name, const TrafficStats& s) {
        return c_format("%-33s", name) + largenum(s.conns) + largenum(s.in_packets) + largenum(s.out_packets) +
               largenum(s.in_bytes) + largenum(s.out_bytes) + "\n";
    };
    auto dest_line = [](const char* name, const TrafficStats& s) {
        return c_format("  -> %-28s", name) + largenum(s.conns) + largenum(s.in_packets) + largenum(s.out_packets) +
               largenum(s.in_bytes) + largenum(s.out_bytes) + "\n";
    };
    const std::string expected =
        "IP Virtual Server version 1.2.1 (size=65536)\n" +
        c_format("%-33s %8s %8s %8s %8s %8s\n  -> RemoteAddress:Port\n", "Prot LocalAddress:Port", "Conns", "InPkts",
                 "OutPkts", "InBytes", "OutBytes") +
        service_line("TCP  203.0.113.10:80", web.stats) + dest_line("172.16.0.2:8080", b.stats) +
        dest_line("172.16.0.3:8080", a.stats) + service_line("UDP  203.0.113.10:53", TrafficStats{});
    EXPECT_EQ(format_ipvsadm_table(services, 65536, o), expected);
    // The same, spelled out once.
    EXPECT_EQ(expected,
              "IP Virtual Server version 1.2.1 (size=65536)\n"
              "Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes\n"
              "  -> RemoteAddress:Port\n"
              "TCP  203.0.113.10:80                   123  100000K 99999999     123G    1000T\n"
              "  -> 172.16.0.2:8080                   100 99999001 99999099     123G     999T\n"
              "  -> 172.16.0.3:8080                    23     1000      900    64000  1200000\n"
              "UDP  203.0.113.10:53                     0        0        0        0        0\n");
    o.exact = true;
    EXPECT_NE(format_ipvsadm_table(services, 65536, o).find(
                  "TCP  203.0.113.10:80                   123 100000000 99999999 123456789012 1000000000000000\n"),
              std::string::npos);
}

TEST(IpvsadmFormat, RatesLookLikeIpvsadmLnRate)
{
    const auto services = traffic_statuses();
    IpvsadmOptions o;
    o.table = IpvsadmTable::rate;
    const ServiceStatus& web = services[1];
    auto service_line = [](const char* name, const TrafficRates& r) {
        return c_format("%-33s", name) + largenum(r.cps) + largenum(r.in_pps) + largenum(r.out_pps) +
               largenum(r.in_bps) + largenum(r.out_bps) + "\n";
    };
    // A real server's connection and packet rates are "%8u", only its byte rates print_largenum.
    auto dest_line = [](const char* name, const TrafficRates& r) {
        return c_format("  -> %-28s %8u %8u %8u", name, static_cast<unsigned>(r.cps), static_cast<unsigned>(r.in_pps),
                        static_cast<unsigned>(r.out_pps)) +
               largenum(r.in_bps) + largenum(r.out_bps) + "\n";
    };
    const std::string expected =
        "IP Virtual Server version 1.2.1 (size=4096)\n" +
        c_format("%-33s %8s %8s %8s %8s %8s\n  -> RemoteAddress:Port\n", "Prot LocalAddress:Port", "CPS", "InPPS",
                 "OutPPS", "InBPS", "OutBPS") +
        service_line("TCP  203.0.113.10:80", web.rates) + dest_line("172.16.0.2:8080", web.real_servers[1].rates) +
        dest_line("172.16.0.3:8080", web.real_servers[0].rates) + service_line("UDP  203.0.113.10:53", TrafficRates{});
    EXPECT_EQ(format_ipvsadm_table(services, 4096, o), expected);
    EXPECT_NE(expected.find("  -> 172.16.0.3:8080                     1 123456789       10  100000K        0\n"),
              std::string::npos);
}

TEST(IpvsadmFormat, ServiceLineShowsFlagsPersistenceAndMask)
{
    ServiceStatus s;
    s.config = ServiceConfig{0xCB00710A, 443, Protocol::tcp, "sh", ForwardMethod::dr, {}};
    s.config.scheduler_flags.sh_port = true;
    s.config.scheduler_flags.sh_fallback = true;
    s.config.persistence = 300;
    s.config.persistence_netmask = 24;
    IpvsadmOptions o;
    o.version_line = false;  // as ipvsadm -L -n -t VIP:PORT
    EXPECT_EQ(format_ipvsadm_table({s}, 4096, o),
              "Prot LocalAddress:Port Scheduler Flags\n"
              "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n"
              "TCP  203.0.113.10:443 sh (sh-fallback,sh-port) persistent 300 mask 255.255.255.0\n");
    // The service line: what follows the two header lines.
    auto service_part = [&](const ServiceStatus& status) {
        const std::string text = format_ipvsadm_table({status}, 4096, o);
        return text.substr(text.find('\n', text.find('\n') + 1) + 1);
    };
    s.config.persistence_netmask = 32;
    s.config.scheduler_flags = {};
    EXPECT_EQ(service_part(s), "TCP  203.0.113.10:443 sh persistent 300\n");
    // A netmask without persistence is not shown, as ipvsadm prints it inside the persistent part.
    s.config.persistence = 0;
    s.config.persistence_netmask = 16;
    EXPECT_EQ(service_part(s), "TCP  203.0.113.10:443 sh\n");
}

TEST(IpvsadmFormat, ConnectionsLookLikeIpvsadmLnc)
{
    std::vector<ConnectionRow> rows = {
        {Protocol::tcp, 899, "ESTABLISHED", 0xC6336407, 40000, 0xCB00710A, 80, 0xAC100002, 8080},
        {Protocol::udp, 3725, "UDP", 0xC6336408, 5353, 0xCB00710A, 53, 0xAC100002, 53},
        {Protocol::tcp, 6000, "FIN_WAIT", 0x01020304, 1, 0xCB00710A, 80, 0xAC100003, 8080},
    };
    const std::string text = format_ipvsadm_connections(rows);
    std::string expected = "IPVS connection entries\n" +
                           c_format("pro expire %-11s %-18s %-18s %s\n", "state", "source", "virtual", "destination");
    expected += c_format("%-3s %-6s %-11s %-18s %-18s %s\n", "TCP", "14:59", "ESTABLISHED", "198.51.100.7:40000",
                         "203.0.113.10:80", "172.16.0.2:8080");
    expected += c_format("%-3s %-6s %-11s %-18s %-18s %s\n", "UDP", "62:05", "UDP", "198.51.100.8:5353",
                         "203.0.113.10:53", "172.16.0.2:53");
    expected += c_format("%-3s %-6s %-11s %-18s %-18s %s\n", "TCP", "100:00", "FIN_WAIT", "1.2.3.4:1",
                         "203.0.113.10:80", "172.16.0.3:8080");
    EXPECT_EQ(text, expected);
    EXPECT_EQ(text,
              "IPVS connection entries\n"
              "pro expire state       source             virtual            destination\n"
              "TCP 14:59  ESTABLISHED 198.51.100.7:40000 203.0.113.10:80    172.16.0.2:8080\n"
              "UDP 62:05  UDP         198.51.100.8:5353  203.0.113.10:53    172.16.0.2:53\n"
              "TCP 100:00 FIN_WAIT    1.2.3.4:1          203.0.113.10:80    172.16.0.3:8080\n");
    EXPECT_EQ(format_ipvsadm_connections({}),
              "IPVS connection entries\n"
              "pro expire state       source             virtual            destination\n");
}

TEST(IpvsadmFormat, TimeoutsAndSavedRules)
{
    auto t = dataplane::ConnTimeouts::ipvs_defaults();
    EXPECT_EQ(format_ipvsadm_timeouts(t), "Timeout (tcp tcpfin udp): 900 120 300\n");
    t.set_like_ipvsadm(3600, 0, 60);
    EXPECT_EQ(format_ipvsadm_timeouts(t), "Timeout (tcp tcpfin udp): 3600 120 60\n");

    auto services = traffic_statuses();
    services[1].config.persistence = 600;
    services[1].config.persistence_netmask = 24;
    services[1].real_servers[0].config.forward = ForwardMethod::tun;
    services[1].real_servers[0].config.port = 80;
    services[1].real_servers[0].config.upper_threshold = 100;
    services[1].real_servers[0].config.lower_threshold = 50;
    services[1].config.scheduler_flags.sh_port = true;
    // ipvsadm 1.31's order: -s, -p, -M, then -b; thresholds are never saved.
    EXPECT_EQ(format_ipvsadm_rules(services),
              "-A -t 203.0.113.10:80 -s wrr -p 600 -M 255.255.255.0 -b sh-port\n"
              "-a -t 203.0.113.10:80 -r 172.16.0.2:8080 -m -w 3\n"
              "-a -t 203.0.113.10:80 -r 172.16.0.3:80 -i -w 1\n"
              "-A -u 203.0.113.10:53 -s rr\n");
}

TEST(IpvsadmFormat, ThresholdsLookLikeIpvsadmLnThresholds)
{
    auto services = traffic_statuses();
    services[1].real_servers[0].config.upper_threshold = 100;
    services[1].real_servers[0].config.lower_threshold = 50;
    services[1].real_servers[0].active = 7;
    services[1].real_servers[0].inactive = 1234567;
    services[1].config.persistence = 300;
    IpvsadmOptions o;
    o.table = IpvsadmTable::thresholds;
    // ipvsadm.c's print_title and print_service_entry for FMT_THRESHOLDS.
    const std::string expected =
        "IP Virtual Server version 1.2.1 (size=4096)\n" +
        c_format("%-33s %-10s %-10s %-10s %-10s\n  -> RemoteAddress:Port\n", "Prot LocalAddress:Port", "Uthreshold",
                 "Lthreshold", "ActiveConn", "InActConn") +
        "TCP  203.0.113.10:80 wrr persistent 300\n" +
        c_format("  -> %-28s %-10u %-10u %-10u %-10u\n", "172.16.0.2:8080", 0u, 0u, 0u, 0u) +
        c_format("  -> %-28s %-10u %-10u %-10u %-10u\n", "172.16.0.3:8080", 100u, 50u, 7u, 1234567u) +
        "UDP  203.0.113.10:53 rr\n";
    EXPECT_EQ(format_ipvsadm_table(services, 4096, o), expected);

    // --nosort: in the order given (the configuration's), not ipvsadm's sort.
    o.table = IpvsadmTable::list;
    o.sorted = false;
    const std::string unsorted = format_ipvsadm_table(services, 4096, o);
    EXPECT_LT(unsorted.find("UDP  203.0.113.10:53"), unsorted.find("TCP  203.0.113.10:80"));
    EXPECT_LT(unsorted.find("172.16.0.3:8080"), unsorted.find("172.16.0.2:8080"));
    o.sorted = true;
    const std::string sorted = format_ipvsadm_table(services, 4096, o);
    EXPECT_GT(sorted.find("UDP  203.0.113.10:53"), sorted.find("TCP  203.0.113.10:80"));
}

TEST(IpvsadmFormat, NetmaskText)
{
    EXPECT_EQ(format_netmask(32), "255.255.255.255");
    EXPECT_EQ(format_netmask(24), "255.255.255.0");
    EXPECT_EQ(format_netmask(17), "255.255.128.0");
    EXPECT_EQ(format_netmask(0), "0.0.0.0");
}

// IPv6 as ipvsadm.c prints it: addrport_to_anyname's "[%s]:%u" with inet_ntop's text; the name is
// cut at 33 (service) and 28 (real server) only for an IPv4 service (`se->af != AF_INET6`), so a
// long IPv6 name pushes the columns after it; the persistent mask is " mask %i" / " -M %i", the
// prefix length, unless it is 128.
TEST(IpvsadmFormat, Ipv6LinesAsIpvsadmPrintsThem)
{
    const IpAddress vip = *parse_ip("2001:db8::10");
    ServiceStatus s;
    s.config = ServiceConfig{vip, 80, Protocol::tcp, "rr", ForwardMethod::nat, {}};
    s.config.persistence = 300;
    s.config.persistence_netmask = 64;
    RealServerStatus a, b, c;
    a.config = RealServerConfig{*parse_ip("2001:db8:1::11"), 80, 1, ForwardMethod::nat};
    b.config = RealServerConfig{*parse_ip("2001:db8:ffff:ffff:ffff:ffff:ffff:12"), 8080, 2, ForwardMethod::nat};
    c.config = RealServerConfig{IpAddress(0xAC100015), 80, 3, ForwardMethod::tun};  // tunnelled: the other family
    a.active = 4;
    s.real_servers = {a, b, c};
    IpvsadmOptions o;
    o.version_line = false;
    // print_title, then "%s %s" + " persistent %u" + " mask %i", then "  -> %-28s %-7s %-6d %-10u %-10u\n".
    std::string expected = "Prot LocalAddress:Port Scheduler Flags\n"
                           "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n";
    expected += c_format("%s %s", "TCP  [2001:db8::10]:80", "rr") + c_format(" persistent %u", 300u) + c_format(" mask %i", 64) + "\n";
    expected += c_format("  -> %-28s %-7s %-6d %-10u %-10u\n", "172.16.0.21:80", "Tunnel", 3, 0u, 0u);
    expected += c_format("  -> %-28s %-7s %-6d %-10u %-10u\n", "[2001:db8:1::11]:80", "Masq", 1, 4u, 0u);
    expected += c_format("  -> %-28s %-7s %-6d %-10u %-10u\n", "[2001:db8:ffff:ffff:ffff:ffff:ffff:12]:8080", "Masq", 2,
                         0u, 0u);
    EXPECT_EQ(format_ipvsadm_table({s}, 4096, o), expected);
    EXPECT_NE(expected.find("TCP  [2001:db8::10]:80 rr persistent 300 mask 64\n"
                            "  -> 172.16.0.21:80               Tunnel  3      0          0         \n"
                            "  -> [2001:db8:1::11]:80          Masq    1      4          0         \n"
                            "  -> [2001:db8:ffff:ffff:ffff:ffff:ffff:12]:8080 Masq    2      0          0         \n"),
              std::string::npos);

    // -S: "-A %s -s %s" + " -p %u" + " -M %i"; "-a %s -r %s %s -w %d\n".
    EXPECT_EQ(format_ipvsadm_rules({s}),
              "-A -t [2001:db8::10]:80 -s rr -p 300 -M 64\n"
              "-a -t [2001:db8::10]:80 -r 172.16.0.21:80 -i -w 3\n"
              "-a -t [2001:db8::10]:80 -r [2001:db8:1::11]:80 -m -w 1\n"
              "-a -t [2001:db8::10]:80 -r [2001:db8:ffff:ffff:ffff:ffff:ffff:12]:8080 -m -w 2\n");
    // The family's full length is not shown: 128 for IPv6.
    s.config.persistence_netmask = 128;
    s.real_servers.clear();
    EXPECT_EQ(format_ipvsadm_rules({s}), "-A -t [2001:db8::10]:80 -s rr -p 300\n");
    EXPECT_EQ(format_ipvsadm_table({s}, 4096, o).substr(expected.find("TCP")), "TCP  [2001:db8::10]:80 rr persistent 300\n");

    // --stats: "%-33s" then print_largenum; the long name is not cut.
    o.table = IpvsadmTable::stats;
    s.config.vip = *parse_ip("2001:db8:ffff:ffff:ffff:ffff:ffff:10");
    const std::string stats = format_ipvsadm_table({s}, 4096, o);
    EXPECT_NE(stats.find(c_format("%-33s", "TCP  [2001:db8:ffff:ffff:ffff:ffff:ffff:10]:80") + largenum(0) + largenum(0) +
                         largenum(0) + largenum(0) + largenum(0) + "\n"),
              std::string::npos)
        << stats;

    // -c: "%-3s %-6s %-11s %-18s %-18s %s\n", each address by addrport_to_anyname.
    const std::vector<ConnectionRow> rows = {{Protocol::tcp, 61, "ESTABLISHED", *parse_ip("2001:db8:9::7"), 40000, vip, 80,
                                              *parse_ip("2001:db8:1::11"), 80}};
    EXPECT_EQ(format_ipvsadm_connection_rows(rows),
              c_format("%-3s %-6s %-11s %-18s %-18s %s\n", "TCP", "01:01", "ESTABLISHED", "[2001:db8:9::7]:40000",
                       "[2001:db8::10]:80", "[2001:db8:1::11]:80"));
}
