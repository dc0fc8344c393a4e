// The configuration checker: typed values of good files, exact messages (file:line:col) for bad ones.
// Runs with tests/unit as its working directory (configs/ and ../../conf/ are read from there).
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <string>
#include <vector>

#include "control/config/config.hpp"
#include "control/config/writer.hpp"
#include "common/text.hpp"

using namespace fulcrum;
using namespace fulcrum::control;

namespace fulcrum::control {

// Readable failures: what a check is, field by field.
void PrintTo(const HealthCheckConfig& h, std::ostream* os)
{
    *os << "{type " << static_cast<int>(h.type) << ", port " << h.port << ", interval " << h.interval_ms
        << " ms, timeout " << h.timeout_ms << " ms, rise " << h.rise << ", fall " << h.fall << ", on_failure "
        << static_cast<int>(h.on_failure) << ", http {path \"" << h.http.path << "\", host \"" << h.http.host
        << "\", " << h.http.expect_status.size() << " status range(s), body \"" << h.http.expect_body << "\"}}";
}

void PrintTo(const StatusRange& r, std::ostream* os) { *os << r.low << "-" << r.high; }

void PrintTo(const SorryServerConfig& s, std::ostream* os) { *os << format_endpoint(s.address, s.port); }

}  // namespace fulcrum::control

namespace {

using Lines = std::vector<std::string>;

// Every error of `yaml` as "t.yaml:LINE:COL: message"; a result with errors must carry no config.
Lines errors_of(const std::string& yaml)
{
    const ConfigResult r = parse_config(yaml, "t.yaml");
    Lines out;
    for (const auto& e : r.errors) out.push_back(e.to_string());
    EXPECT_EQ(r.config.has_value(), r.errors.empty());
    return out;
}

// Parses a file that must be valid.
Config good(const std::string& yaml)
{
    ConfigResult r = parse_config(yaml, "t.yaml");
    for (const auto& e : r.errors) ADD_FAILURE() << e.to_string();
    if (!r.config) return {};
    return *r.config;
}

IpAddress ip(const char* text) { return *parse_ip(text); }
IpPrefix prefix(const char* text) { return *parse_prefix(text); }

// Two interfaces on lines 2 and 3; what a test appends starts at line 4.
const std::string two_interfaces = R"(interfaces:
  - { name: ext, device: net_tap0, address: 10.0.0.1/24 }
  - { name: int, device: net_tap1, address: 172.16.0.1/24 }
)";

}  // namespace

// ---------------------------------------------------------------------------------------------
// Good files

TEST(ConfigGood, EveryFieldIsParsed)
{
    const Config c = good(R"(dataplane:
  workers: 2
  eal: ["--no-huge", "-m", 512, "--file-prefix", "fulcrum-lab"]
  conn_table_size: 131072
  mbufs: 32768
interfaces:
  - name: ext
    device: "net_af_packet0,iface=veth10,qpairs=2"
    address: 10.0.0.1/24
    mtu: 9000
  - name: int
    device: 0000:03:00.0
    address: [172.16.0.1/24, 172.17.0.1/16]
routes:
  - { dst: 0.0.0.0/0, via: 10.0.0.254 }
  - { dst: 192.0.2.0/24, via: 172.16.0.254, interface: int }
neighbors:
  - { ip: 172.16.0.2, mac: "02:00:00:00:00:02" }
  - { ip: 172.17.3.4, mac: "0A-1b-2C-3d-4E-5f" }
services:
  - vip: 207.175.44.110
    port: 8080
    protocol: tcp
    scheduler: wrr
    forward: nat
    real_servers:
      - { address: 172.16.0.2, port: 8081, weight: 5 }
      - { address: 172.16.0.3, port: 8080, weight: 0, forward: dr }
      - { address: 192.0.2.10, weight: 65535, forward: tun }
  - vip: 207.175.44.110
    port: 53
    protocol: udp
    scheduler: rr
    forward: dr
    real_servers:
      - { address: 172.16.0.2 }
  - vip: 207.175.44.111
    port: 1
    protocol: tcp
    scheduler: rr
timeouts:
  tcp: 31536000
  tcp_fin: 1
  udp: 60
)");
    EXPECT_EQ(c.source_file, "t.yaml");

    EXPECT_EQ(c.dataplane.workers, 2u);
    EXPECT_EQ(c.dataplane.eal, (std::vector<std::string>{"--no-huge", "-m", "512", "--file-prefix", "fulcrum-lab"}));
    EXPECT_EQ(c.dataplane.conn_table_size, 131072u);
    EXPECT_EQ(c.dataplane.mbufs, 32768u);

    ASSERT_EQ(c.interfaces.size(), 2u);
    EXPECT_EQ(c.interfaces[0].name, "ext");
    EXPECT_EQ(c.interfaces[0].device, "net_af_packet0,iface=veth10,qpairs=2");
    EXPECT_EQ(c.interfaces[0].addresses, (std::vector<IpPrefix>{{IpAddress(0x0a000001), 24}}));
    EXPECT_EQ(c.interfaces[0].mtu, 9000);
    EXPECT_EQ(c.interfaces[1].name, "int");
    EXPECT_EQ(c.interfaces[1].device, "0000:03:00.0");
    EXPECT_EQ(c.interfaces[1].addresses, (std::vector<IpPrefix>{{IpAddress(0xac100001), 24}, {IpAddress(0xac110001), 16}}));
    EXPECT_EQ(c.interfaces[1].mtu, 1500);

    ASSERT_EQ(c.routes.size(), 2u);
    EXPECT_EQ(c.routes[0].dst, (IpPrefix{IpAddress(0), 0}));
    EXPECT_EQ(c.routes[0].via, 0x0a0000feu);
    EXPECT_EQ(c.routes[0].interface, "");
    EXPECT_EQ(c.routes[1].dst, (IpPrefix{IpAddress(0xc0000200), 24}));
    EXPECT_EQ(c.routes[1].via, 0xac1000feu);
    EXPECT_EQ(c.routes[1].interface, "int");

    ASSERT_EQ(c.neighbors.size(), 2u);
    EXPECT_EQ(c.neighbors[0].ip, 0xac100002u);
    EXPECT_EQ(c.neighbors[0].mac, (MacAddress{0x02, 0, 0, 0, 0, 0x02}));
    EXPECT_EQ(c.neighbors[1].ip, 0xac110304u);
    EXPECT_EQ(c.neighbors[1].mac, (MacAddress{0x0a, 0x1b, 0x2c, 0x3d, 0x4e, 0x5f}));

    ASSERT_EQ(c.services.size(), 3u);
    const ServiceConfig& http = c.services[0];
    EXPECT_EQ(http.vip, 0xcfaf2c6eu);
    EXPECT_EQ(http.port, 8080);
    EXPECT_EQ(http.protocol, Protocol::tcp);
    EXPECT_EQ(http.scheduler, "wrr");
    EXPECT_EQ(http.forward, ForwardMethod::nat);
    ASSERT_EQ(http.real_servers.size(), 3u);
    EXPECT_EQ(http.real_servers[0].address, ip("172.16.0.2"));
    EXPECT_EQ(http.real_servers[0].port, 8081);
    EXPECT_EQ(http.real_servers[0].weight, 5u);
    EXPECT_EQ(http.real_servers[0].forward, ForwardMethod::nat);
    EXPECT_EQ(http.real_servers[1].address, ip("172.16.0.3"));
    EXPECT_EQ(http.real_servers[1].port, 8080);
    EXPECT_EQ(http.real_servers[1].weight, 0u);
    EXPECT_EQ(http.real_servers[1].forward, ForwardMethod::dr);
    EXPECT_EQ(http.real_servers[2].address, ip("192.0.2.10"));
    EXPECT_EQ(http.real_servers[2].port, 8080);  // no port: the virtual port
    EXPECT_EQ(http.real_servers[2].weight, 65535u);
    EXPECT_EQ(http.real_servers[2].forward, ForwardMethod::tun);

    const ServiceConfig& dns = c.services[1];
    EXPECT_EQ(dns.vip, ip("207.175.44.110"));
    EXPECT_EQ(dns.port, 53);
    EXPECT_EQ(dns.protocol, Protocol::udp);
    EXPECT_EQ(dns.scheduler, "rr");
    EXPECT_EQ(dns.forward, ForwardMethod::dr);
    ASSERT_EQ(dns.real_servers.size(), 1u);
    EXPECT_EQ(dns.real_servers[0].address, ip("172.16.0.2"));
    EXPECT_EQ(dns.real_servers[0].port, 53);
    EXPECT_EQ(dns.real_servers[0].weight, 1u);
    EXPECT_EQ(dns.real_servers[0].forward, ForwardMethod::dr);  // the service's method

    const ServiceConfig& empty = c.services[2];
    EXPECT_EQ(empty.vip, ip("207.175.44.111"));
    EXPECT_EQ(empty.port, 1);
    EXPECT_EQ(empty.protocol, Protocol::tcp);
    EXPECT_EQ(empty.scheduler, "rr");
    EXPECT_EQ(empty.forward, ForwardMethod::nat);
    EXPECT_TRUE(empty.real_servers.empty());

    EXPECT_EQ(c.timeouts.of(fulcrum::dataplane::TcpState::established), 31536000u);
    EXPECT_EQ(c.timeouts.of(fulcrum::dataplane::TcpState::fin_wait), 1u);
    EXPECT_EQ(c.timeouts.udp, 60u);
}

TEST(ConfigGood, DefaultsForEverythingOptional)
{
    const Config c = good("interfaces:\n  - { name: ext, device: net_tap0, address: 10.0.0.1/24 }\n");
    EXPECT_EQ(c.dataplane.workers, 1u);
    EXPECT_TRUE(c.dataplane.eal.empty());
    EXPECT_EQ(c.dataplane.conn_table_size, 65536u);
    EXPECT_EQ(c.dataplane.mbufs, 16384u);
    ASSERT_EQ(c.interfaces.size(), 1u);
    EXPECT_EQ(c.interfaces[0].mtu, 1500);
    EXPECT_EQ(c.interfaces[0].kernel_interface, "fl-ext");
    EXPECT_TRUE(c.routes.empty());
    EXPECT_TRUE(c.neighbors.empty());
    EXPECT_TRUE(c.services.empty());
    EXPECT_EQ(c.timeouts.of(fulcrum::dataplane::TcpState::established), 900u);
    EXPECT_EQ(c.timeouts.of(fulcrum::dataplane::TcpState::fin_wait), 120u);
    EXPECT_EQ(c.timeouts.udp, 300u);
}

TEST(ConfigGood, EmptySectionsMeanDefaults)
{
    const Config c = good(R"(dataplane:
interfaces:
  - { name: ext, device: net_tap0, address: 10.0.0.1/24 }
routes:
neighbors: []
services:
  - { vip: 10.0.0.100, port: 80, protocol: tcp, scheduler: rr, real_servers: }
timeouts: {}
)");
    EXPECT_EQ(c.dataplane.workers, 1u);
    EXPECT_EQ(c.dataplane.conn_table_size, 65536u);
    EXPECT_TRUE(c.routes.empty());
    EXPECT_TRUE(c.neighbors.empty());
    ASSERT_EQ(c.services.size(), 1u);
    EXPECT_TRUE(c.services[0].real_servers.empty());
    EXPECT_EQ(c.timeouts.udp, 300u);
}

TEST(ConfigGood, BoundariesAreAccepted)
{
    const Config lo = good(R"(dataplane: { workers: 1, conn_table_size: 1024, mbufs: 1024 }
interfaces:
  - { name: a, device: net_tap0, address: 10.0.0.1/24, mtu: 68 }
  - { name: abcdefghij_-345, device: 03:00.7, address: [10.0.1.0/31, 10.0.2.1/32, 11.0.0.1/1],
      kernel_interface: k_-345 }
services:
  - { vip: 10.0.0.100, port: 1, protocol: udp, scheduler: rr,
      real_servers: [{ address: 10.0.0.11, port: 1, weight: 0 }] }
timeouts: { tcp: 1, tcp_fin: 1, udp: 1 }
)");
    EXPECT_EQ(lo.dataplane.workers, 1u);
    EXPECT_EQ(lo.dataplane.conn_table_size, 1024u);
    EXPECT_EQ(lo.dataplane.mbufs, 1024u);
    EXPECT_EQ(lo.interfaces[0].mtu, 68);
    EXPECT_EQ(lo.interfaces[1].name, "abcdefghij_-345");
    EXPECT_EQ(lo.interfaces[0].kernel_interface, "fl-a");
    EXPECT_EQ(lo.interfaces[1].kernel_interface, "k_-345");
    EXPECT_EQ(lo.interfaces[1].addresses,
              (std::vector<IpPrefix>{prefix("10.0.1.0/31"), prefix("10.0.2.1/32"), prefix("11.0.0.1/1")}));
    EXPECT_EQ(lo.services[0].real_servers[0].port, 1);
    EXPECT_EQ(lo.services[0].real_servers[0].weight, 0u);
    EXPECT_EQ(lo.timeouts.of(fulcrum::dataplane::TcpState::established), 1u);

    const Config hi = good(R"(dataplane: { workers: 64, conn_table_size: 16777216, mbufs: 1048576 }
interfaces:
  - { name: a, device: net_tap0, address: 10.0.0.1/24, mtu: 9000, kernel_interface: false }
services:
  - { vip: 10.0.0.100, port: 65535, protocol: tcp, scheduler: wrr,
      real_servers: [{ address: 10.0.0.11, port: 65535, weight: 65535 }] }
timeouts: { tcp: 31536000, tcp_fin: 31536000, udp: 31536000 }
)");
    EXPECT_EQ(hi.dataplane.workers, 64u);
    EXPECT_EQ(hi.dataplane.conn_table_size, 16777216u);
    EXPECT_EQ(hi.dataplane.mbufs, 1048576u);
    EXPECT_EQ(hi.interfaces[0].mtu, 9000);
    EXPECT_EQ(hi.services[0].port, 65535);
    EXPECT_EQ(hi.services[0].real_servers[0].port, 65535);
    EXPECT_EQ(hi.services[0].real_servers[0].weight, 65535u);
    EXPECT_EQ(hi.timeouts.of(fulcrum::dataplane::TcpState::fin_wait), 31536000u);
}

TEST(ConfigGood, RealServersReachableThroughARoute)
{
    // NAT and TUN real servers may sit behind a router; the default route covers everything.
    const Config c = good(two_interfaces + R"(routes:
  - { dst: 0.0.0.0/0, via: 10.0.0.254 }
services:
  - { vip: 10.0.0.100, port: 80, protocol: tcp, scheduler: rr,
      real_servers: [{ address: 198.51.100.7, port: 8080 }, { address: 203.0.113.9, forward: tun }] }
)");
    ASSERT_EQ(c.services.size(), 1u);
    EXPECT_EQ(c.services[0].real_servers[1].forward, ForwardMethod::tun);
    EXPECT_EQ(c.services[0].real_servers[1].port, 80);
}

// ---------------------------------------------------------------------------------------------
// Structure: unknown, repeated and missing keys; wrong types

TEST(ConfigErrors, UnknownKeysAtEveryLevel)
{
    EXPECT_EQ(errors_of(R"(interfaces:
  - { name: ext, device: net_tap0, address: 10.0.0.1/24, speed: 10 }
routing: []
dataplane: { cores: 2 }
routes:
  - { dst: 0.0.0.0/0, via: 10.0.0.254, metric: 1 }
neighbors:
  - { ip: 10.0.0.2, mac: "02:00:00:00:00:02", iface: ext }
services:
  - vip: 10.0.0.100
    port: 80
    protocol: tcp
    scheduler: rr
    persistent: 300
    real_servers:
      - { address: 10.0.0.11, wieght: 1 }
timeouts: { tcpfin: 10 }
? [a, b]
: 1
)"),
              (Lines{
                  "t.yaml:2:58: interfaces[0]: unknown key \"speed\" in interface (expected one of: name, device, "
                  "vlan, address, mtu, queues, kernel_interface)",
                  "t.yaml:3:1: unknown key \"routing\" at the top level (expected one of: dataplane, interfaces, "
                  "routes, neighbors, services, timeouts, console, metrics, high_availability, sync, announce)",
                  "t.yaml:4:14: dataplane: unknown key \"cores\" in dataplane (expected one of: workers, eal, "
                  "conn_table_size, mbufs, expire_nodest_conn, kernel_rate_limit, drop_entry, drop_packet, secure_tcp, "
              "flood_mode, amemthresh, am_droprate, icmp_rate_limit, sloppy_tcp, conn_table_size_ipv6)",
                  "t.yaml:6:40: routes[0]: unknown key \"metric\" in route (expected one of: dst, via, interface)",
                  "t.yaml:8:47: neighbors[0]: unknown key \"iface\" in neighbor (expected one of: ip, mac)",
                  "t.yaml:14:5: services[0]: unknown key \"persistent\" in service (expected one of: vip, port, "
                  "protocol, scheduler, forward, real_servers, scheduler_flags, mh_table_size, mh_compat, persistence, "
                  "persistence_netmask, expire_quiescent_template, health_check, sorry_server)",
                  "t.yaml:16:31: services[0].real_servers[0]: unknown key \"wieght\" in real server (expected one "
                  "of: address, port, weight, forward, upper_threshold, lower_threshold, health_check)",
                  "t.yaml:17:13: timeouts: unknown key \"tcpfin\" in timeouts (expected one of: tcp, tcp_fin, udp, none, "
                  "established, syn_sent, syn_recv, fin_wait, time_wait, close, close_wait, last_ack, listen, synack)",
                  "t.yaml:18:3: expected a key name, found a list",
              }));
}

TEST(ConfigErrors, KeyGivenTwice)
{
    // yaml-cpp alone would keep the first value silently; the checker reports the second key and
    // checks the first value.
    EXPECT_EQ(errors_of(R"(interfaces:
  - name: ext
    device: net_tap0
    address: 10.0.0.1/24
    name: int
services:
  - { vip: 10.0.0.100, port: 0, port: 80, protocol: tcp, scheduler: rr }
services: []
)"),
              (Lines{
                  "t.yaml:5:5: interfaces[0]: key \"name\" given twice in this mapping (first at line 2)",
                  "t.yaml:7:30: services[0].port: expected an integer from 1 to 65535, found \"0\"",
                  "t.yaml:7:33: services[0]: key \"port\" given twice in this mapping (first at line 7)",
                  "t.yaml:8:1: key \"services\" given twice in this mapping (first at line 6)",
              }));
}

TEST(ConfigErrors, MissingRequiredKeysPointAtTheMapping)
{
    EXPECT_EQ(errors_of(R"(dataplane:
  workers: 1
services:
  - vip: 10.0.0.100
    port: 80
    real_servers:
      - { port: 80 }
)"),
              (Lines{
                  "t.yaml:1:1: missing required key \"interfaces\" at the top level",
                  "t.yaml:4:5: services[0]: missing required key \"protocol\" in service",
                  "t.yaml:7:9: services[0].real_servers[0]: missing required key \"address\" in real server",
              }));
    // The routes' and neighbors' subnet checks are skipped: with no address on the interface they
    // would only repeat the first problem.
    EXPECT_EQ(errors_of(R"(interfaces:
  - { name: ext }
routes:
  - { via: 10.0.0.254 }
neighbors:
  - { mac: "02:00:00:00:00:02" }
)"),
              (Lines{
                  "t.yaml:2:5: interfaces[0]: missing required key \"device\" in interface",
                  "t.yaml:2:5: interfaces[0]: missing required key \"address\" in interface",
                  "t.yaml:4:5: routes[0]: missing required key \"dst\" in route",
                  "t.yaml:6:5: neighbors[0]: missing required key \"ip\" in neighbor",
              }));
}

TEST(ConfigErrors, WrongTypes)
{
    EXPECT_EQ(errors_of(R"(dataplane:
  workers: abc
  eal: --no-huge
  conn_table_size: -1024
  mbufs: 1.5
interfaces:
  name: ext
services: { vip: 10.0.0.100 }
timeouts:
  tcp: "900"
  tcp_fin: [1]
  udp:
)"),
              (Lines{
                  "t.yaml:2:12: dataplane.workers: expected an integer from 1 to 64, found \"abc\"",
                  "t.yaml:3:8: dataplane.eal: expected a list of strings, found \"--no-huge\"",
                  "t.yaml:4:20: dataplane.conn_table_size: expected a power of two from 1024 to 16777216, found "
                  "\"-1024\"",
                  "t.yaml:5:10: dataplane.mbufs: expected an integer from 1024 to 1048576, found \"1.5\"",
                  "t.yaml:7:3: interfaces: expected a list of at least one interface, found a mapping",
                  "t.yaml:8:11: services: expected a list of services, found a mapping",
                  "t.yaml:10:8: timeouts.tcp: expected an integer from 1 to 31536000, found a quoted string "
                  "\"900\"",
                  "t.yaml:11:12: timeouts.tcp_fin: expected an integer from 1 to 31536000, found a list",
                  "t.yaml:12:3: timeouts.udp: expected an integer from 1 to 31536000, found an empty value",
              }));
}

TEST(ConfigErrors, EalArguments)
{
    EXPECT_EQ(errors_of(R"(dataplane:
  eal: ["-m", 512, "", {a: 1}]
interfaces:
  - { name: ext, device: net_tap0, address: 10.0.0.1/24 }
)"),
              (Lines{
                  "t.yaml:2:20: dataplane.eal[2]: expected a non-empty string, found \"\"",
                  "t.yaml:2:24: dataplane.eal[3]: expected a non-empty string, found a mapping",
              }));
}

TEST(ConfigErrors, EmptyListEntriesPointAtTheirDash)
{
    // yaml-cpp marks an empty entry at the next token (here line 5); the message points at the '-'.
    EXPECT_EQ(errors_of(R"(interfaces:
  - { name: ext, device: net_tap0, address: 10.0.0.1/24 }
  -   # nothing here
  # a comment
services:
)"),
              (Lines{
                  "t.yaml:3:3: interfaces[1]: expected a mapping (keys: name, device, vlan, address, mtu, queues, "
                  "kernel_interface), found an empty value",
              }));
}

// ---------------------------------------------------------------------------------------------
// Ranges

TEST(ConfigErrors, ValuesOutOfRange)
{
    EXPECT_EQ(errors_of(R"(dataplane: { workers: 65, conn_table_size: 33554432, mbufs: 1023 }
interfaces:
  - { name: ext, device: net_tap0, address: 10.0.0.1/24, mtu: 67 }
services:
  - { vip: 10.0.0.100, port: 0, protocol: tcp, scheduler: rr, real_servers: [{ address: 10.0.0.11, port: 65536, weight: 65536 }] }
timeouts: { tcp: 0, tcp_fin: 31536001, udp: 99999999999999999999999 }
)"),
              (Lines{
                  "t.yaml:1:23: dataplane.workers: expected an integer from 1 to 64, found \"65\"",
                  "t.yaml:1:44: dataplane.conn_table_size: expected a power of two from 1024 to 16777216, found "
                  "\"33554432\"",
                  "t.yaml:1:61: dataplane.mbufs: expected an integer from 1024 to 1048576, found \"1023\"",
                  "t.yaml:3:63: interfaces[0].mtu: expected an integer from 68 to 9000, found \"67\"",
                  "t.yaml:5:30: services[0].port: expected an integer from 1 to 65535, found \"0\"",
                  "t.yaml:5:106: services[0].real_servers[0].port: expected an integer from 1 to 65535, found "
                  "\"65536\"",
                  "t.yaml:5:121: services[0].real_servers[0].weight: expected an integer from 0 to 65535, found "
                  "\"65536\"",
                  "t.yaml:6:18: timeouts.tcp: expected an integer from 1 to 31536000, found \"0\"",
                  "t.yaml:6:30: timeouts.tcp_fin: expected an integer from 1 to 31536000, found \"31536001\"",
                  "t.yaml:6:45: timeouts.udp: expected an integer from 1 to 31536000, found "
                  "\"99999999999999999999999\"",
              }));
}

TEST(ConfigErrors, ConnTableSizeMustBeAPowerOfTwo)
{
    EXPECT_EQ(errors_of("dataplane: { conn_table_size: 1536 }\n"
                        "interfaces: [{ name: ext, device: net_tap0, address: 10.0.0.1/24 }]\n"),
              (Lines{"t.yaml:1:31: dataplane.conn_table_size: expected a power of two from 1024 to 16777216, "
                     "found \"1536\""}));
}

// ---------------------------------------------------------------------------------------------
// Interfaces

TEST(ConfigErrors, InterfaceAddresses)
{
    EXPECT_EQ(errors_of(R"(interfaces:
  - name: ext
    device: net_tap0
    address:
      - 10.0.0.1
      - 10.0.0.1/0
      - 10.0.0.1/33
      - 256.0.0.1/24
      - 10.0.0.0/24
      - 10.0.0.255/24
      - 224.0.0.1/24
      - 127.0.0.1/8
      - 0.1.2.3/8
      - 10.0.1.0/31
      - 10.0.2.1/32
      - { ip: 10.0.3.1 }
      - 10.0.1.0/31
)"),
              (Lines{
                  "t.yaml:5:9: interfaces[0].address[0]: expected an IPv4 address with a prefix length from 1 to "
                  "32 (like 10.0.0.1/24) or an IPv6 one from 1 to 128 (like 2001:db8::1/64), found \"10.0.0.1\"",
                  "t.yaml:6:9: interfaces[0].address[1]: expected an IPv4 address with a prefix length from 1 to "
                  "32 (like 10.0.0.1/24) or an IPv6 one from 1 to 128 (like 2001:db8::1/64), found \"10.0.0.1/0\"",
                  "t.yaml:7:9: interfaces[0].address[2]: expected an IPv4 address with a prefix length from 1 to "
                  "32 (like 10.0.0.1/24) or an IPv6 one from 1 to 128 (like 2001:db8::1/64), found \"10.0.0.1/33\"",
                  "t.yaml:8:9: interfaces[0].address[3]: expected an IPv4 address with a prefix length from 1 to "
                  "32 (like 10.0.0.1/24) or an IPv6 one from 1 to 128 (like 2001:db8::1/64), found \"256.0.0.1/24\"",
                  "t.yaml:9:9: interfaces[0].address[4]: expected a host address in 10.0.0.0/24, found "
                  "\"10.0.0.0/24\", the network address of that subnet",
                  "t.yaml:10:9: interfaces[0].address[5]: expected a host address in 10.0.0.0/24, found "
                  "\"10.0.0.255/24\", the broadcast address of that subnet",
                  "t.yaml:11:9: interfaces[0].address[6]: expected a unicast IPv4 address, found \"224.0.0.1/24\", "
                  "a multicast address",
                  "t.yaml:12:9: interfaces[0].address[7]: expected a unicast IPv4 address, found \"127.0.0.1/8\", "
                  "a loopback address",
                  "t.yaml:13:9: interfaces[0].address[8]: expected a unicast IPv4 address, found \"0.1.2.3/8\", an "
                  "address in 0.0.0.0/8",
                  "t.yaml:16:9: interfaces[0].address[11]: expected an IPv4 address with a prefix length from 1 "
                  "to 32 (like 10.0.0.1/24) or an IPv6 one from 1 to 128 (like 2001:db8::1/64), found a mapping",
                  "t.yaml:17:9: interfaces[0].address[12]: duplicate address 10.0.1.0 (first defined at line 14)",
              }));
}

TEST(ConfigErrors, InterfaceAddressShape)
{
    EXPECT_EQ(errors_of(R"(interfaces:
  - { name: a, device: net_tap0, address: { ip: 10.0.0.1 } }
  - { name: b, device: net_tap1, address: [] }
  - { name: c, device: net_tap2, address: ~ }
)"),
              (Lines{
                  "t.yaml:2:43: interfaces[0].address: expected an IPv4 address with a prefix length from 1 to 32 "
                  "(like 10.0.0.1/24) or an IPv6 one from 1 to 128 (like 2001:db8::1/64), or a list of them, found a mapping",
                  "t.yaml:3:43: interfaces[1].address: expected at least one address, found an empty list",
                  "t.yaml:4:34: interfaces[2].address: expected an IPv4 address with a prefix length from 1 to 32 "
                  "(like 10.0.0.1/24) or an IPv6 one from 1 to 128 (like 2001:db8::1/64), or a list of them, found an empty value",
              }));
}

TEST(ConfigErrors, InterfaceNamesAndDevices)
{
    EXPECT_EQ(errors_of(R"(interfaces:
  - { name: ext, device: "net_af_packet0,iface=veth10", address: 10.0.0.1/24 }
  - { name: ext, device: "net_af_packet0,iface=veth11", address: 10.0.1.1/24 }
  - { name: "", device: 0000:03:00.0, address: 10.0.2.1/24 }
  - { name: a-very-long-name-16, device: 03:00.0, address: 10.0.3.1/24 }
  - { name: "eth 0", device: "net tap", address: 10.0.4.1/24 }
  - { name: ok_1, device: 0000:03:20.0, address: 10.0.5.1/24 }
  - { name: ok-2, device: "net_tap9,", address: 10.0.6.1/24 }
  - { name: [x], device: {}, address: 10.0.7.1/24 }
)"),
              (Lines{
                  "t.yaml:3:13: interfaces[1].name: duplicate interface name \"ext\" (first defined at line 2)",
                  "t.yaml:3:26: interfaces[1].device: duplicate device \"net_af_packet0\" (first defined at line 2)",
                  "t.yaml:4:13: interfaces[2].name: expected a name of 1 to 15 letters, digits, '_' or '-', found "
                  "\"\"",
                  "t.yaml:5:13: interfaces[3].name: expected a name of 1 to 15 letters, digits, '_' or '-', found "
                  "\"a-very-long-name-16\"",
                  "t.yaml:5:42: interfaces[3].device: duplicate device \"0000:03:00.0\" (first defined at line 4)",
                  "t.yaml:6:13: interfaces[4].name: expected a name of 1 to 15 letters, digits, '_' or '-', found "
                  "\"eth 0\"",
                  "t.yaml:6:30: interfaces[4].device: expected a vdev specification (like "
                  "\"net_af_packet0,iface=veth10\") or a PCI address (like \"0000:03:00.0\"), found \"net tap\"",
                  "t.yaml:7:27: interfaces[5].device: expected a vdev specification (like "
                  "\"net_af_packet0,iface=veth10\") or a PCI address (like \"0000:03:00.0\"), found \"0000:03:20.0\"",
                  "t.yaml:8:27: interfaces[6].device: expected a vdev specification (like "
                  "\"net_af_packet0,iface=veth10\") or a PCI address (like \"0000:03:00.0\"), found \"net_tap9,\"",
                  "t.yaml:9:13: interfaces[7].name: expected a name of 1 to 15 letters, digits, '_' or '-', found a "
                  "list",
                  "t.yaml:9:26: interfaces[7].device: expected a vdev specification (like "
                  "\"net_af_packet0,iface=veth10\") or a PCI address (like \"0000:03:00.0\"), found an empty mapping",
              }));
}

TEST(ConfigErrors, NoInterfaces)
{
    EXPECT_EQ(errors_of("interfaces: []\n"),
              (Lines{"t.yaml:1:13: interfaces: expected a list of at least one interface, found an empty list"}));
    EXPECT_EQ(errors_of("interfaces:\n"),
              (Lines{"t.yaml:1:1: interfaces: expected a list of at least one interface, found an empty value"}));
}

TEST(ConfigErrors, FoundValuesAreQuotedAndEscaped)
{
    EXPECT_EQ(errors_of("interfaces:\n  - { name: \"a\\\"b\\tc\\\\\", device: net_tap0, address: 10.0.0.1/24 }\n"),
              (Lines{"t.yaml:2:13: interfaces[0].name: expected a name of 1 to 15 letters, digits, '_' or '-', "
                     "found \"a\\\"b\\tc\\\\\""}));
}

// ---------------------------------------------------------------------------------------------
// Routes and neighbors

TEST(ConfigErrors, Routes)
{
    EXPECT_EQ(errors_of(R"(interfaces:
  - { name: ext, device: net_tap0, address: 10.0.0.1/24 }
  - { name: int, device: net_tap1, address: [172.16.0.1/24, 172.17.0.1/16] }
routes:
  - { dst: 10.0.0.1/24, via: 10.0.0.254 }
  - { dst: 192.0.2.0, via: 10.0.0.254 }
  - { dst: 192.0.2.0/24, via: 10.0.0.254, interface: int }
  - { dst: 198.51.100.0/24, via: 8.8.8.8 }
  - { dst: 203.0.113.0/24, via: 172.16.0.254, interface: dmz }
  - { dst: 0.0.0.0/0, via: 10.0.0.1 }
  - { dst: 0.0.0.0/0, via: 10.0.0.254, interface: ext }
  - { dst: 198.18.0.0/15, via: 10.0.0.300 }
  - { dst: 198.18.0.0/16, via: 172.17.200.1, interface: int }
)"),
              (Lines{
                  "t.yaml:5:12: routes[0].dst: expected a network address with no host bits set (10.0.0.0/24), "
                  "found \"10.0.0.1/24\"",
                  "t.yaml:6:12: routes[1].dst: expected an IPv4 or IPv6 prefix (like 192.0.2.0/24 or 2001:db8::/32), found \"192.0.2.0\"",
                  "t.yaml:7:31: routes[2].via: expected an address in a connected subnet of interface int "
                  "(172.16.0.0/24, 172.17.0.0/16), found \"10.0.0.254\"",
                  "t.yaml:8:34: routes[3].via: expected an address in a connected subnet (10.0.0.0/24 on ext, "
                  "172.16.0.0/24 on int, 172.17.0.0/16 on int), found \"8.8.8.8\"",
                  "t.yaml:9:58: routes[4].interface: unknown interface \"dmz\" (expected one of: ext, int)",
                  "t.yaml:10:28: routes[5].via: expected the address of a next-hop router, found \"10.0.0.1\", this "
                  "director's own address on interface ext",
                  "t.yaml:11:12: routes[6].dst: duplicate route 0.0.0.0/0 (first defined at line 10)",
                  "t.yaml:12:32: routes[7].via: expected an IPv4 or IPv6 address (like 10.0.0.1 or 2001:db8::1), found \"10.0.0.300\"",
              }));
}

TEST(ConfigErrors, CrossChecksWaitForCleanInterfaces)
{
    // The interface address lacks its prefix: the route and the neighbor cannot be checked against
    // subnets, and are not blamed for it. The interface's name is fine, so `interface: ext` is.
    EXPECT_EQ(errors_of(R"(interfaces:
  - { name: ext, device: net_tap0, address: 10.0.0.1 }
routes:
  - { dst: 0.0.0.0/0, via: 10.0.0.254, interface: ext }
  - { dst: 192.0.2.0/24, via: 10.0.0.254, interface: int }
neighbors:
  - { ip: 10.0.0.2, mac: "02:00:00:00:00:02" }
)"),
              (Lines{
                  "t.yaml:2:45: interfaces[0].address: expected an IPv4 address with a prefix length from 1 to 32 "
                  "(like 10.0.0.1/24) or an IPv6 one from 1 to 128 (like 2001:db8::1/64), found \"10.0.0.1\"",
                  "t.yaml:5:54: routes[1].interface: unknown interface \"int\" (expected one of: ext)",
              }));
}

TEST(ConfigErrors, Neighbors)
{
    EXPECT_EQ(errors_of(R"(interfaces:
  - { name: ext, device: net_tap0, address: 10.0.0.1/24 }
neighbors:
  - { ip: 10.0.0.2, mac: "02:00:00:00:00:02" }
  - { ip: 10.0.0.2, mac: "02:00:00:00:00:03" }
  - { ip: 10.0.0.1, mac: "02-00-00-00-00-04" }
  - { ip: 192.168.0.1, mac: "ff:ff:ff:ff:ff:ff" }
  - { ip: 10.0.0.5, mac: "00:00:00:00:00:00" }
  - { ip: 10.0.0.6, mac: "02:00:00:00:00" }
  - { ip: 10.0.0.7, mac: 12 }
)"),
              (Lines{
                  "t.yaml:5:11: neighbors[1].ip: duplicate neighbor 10.0.0.2 (first defined at line 4)",
                  "t.yaml:6:11: neighbors[2].ip: expected a neighbor's address, found \"10.0.0.1\", this director's "
                  "own address on interface ext",
                  "t.yaml:7:11: neighbors[3].ip: expected an address in a connected subnet (10.0.0.0/24 on ext), "
                  "found \"192.168.0.1\"",
                  "t.yaml:7:29: neighbors[3].mac: expected a unicast MAC address, found \"ff:ff:ff:ff:ff:ff\", a "
                  "multicast address",
                  "t.yaml:8:26: neighbors[4].mac: expected a unicast MAC address, found \"00:00:00:00:00:00\", the "
                  "all-zero address",
                  "t.yaml:9:26: neighbors[5].mac: expected a MAC address (like \"02:00:00:00:00:02\"), found "
                  "\"02:00:00:00:00\"",
                  "t.yaml:10:26: neighbors[6].mac: expected a MAC address (like \"02:00:00:00:00:02\"), found \"12\"",
              }));
}

// ---------------------------------------------------------------------------------------------
// Services and real servers

TEST(ConfigErrors, ServiceNamesAndDuplicates)
{
    EXPECT_EQ(errors_of(two_interfaces + R"(services:
  - { vip: 10.0.0.100, port: 80, protocol: sctp, scheduler: foo, forward: masq }
  - { vip: 10.0.0.100, port: 80, protocol: tcp, scheduler: [rr], forward: {} }
  - { vip: 10.0.0.100, port: 80, protocol: tcp, scheduler: rr }
  - { vip: 10.0.0.100, port: 80, protocol: udp, scheduler: RR }
  - { vip: 10.0.0.255, port: 80, protocol: udp, scheduler: lc }
  - { vip: 255.255.255.255, port: 80, protocol: udp, scheduler: wrr }
)"),
              (Lines{
                  "t.yaml:5:44: services[0].protocol: unknown protocol \"sctp\" (expected one of: tcp, udp)",
                  "t.yaml:5:61: services[0].scheduler: unknown scheduler \"foo\" (expected one of: "
                  "rr, wrr, lc, wlc, sed, nq, fo, ovf, sh, dh, lblc, lblcr, twos, mh)",
                  "t.yaml:5:75: services[0].forward: unknown forwarding method \"masq\" (expected one of: nat, dr, "
                  "tun)",
                  "t.yaml:6:60: services[1].scheduler: expected a scheduler (one of: "
                  "rr, wrr, lc, wlc, sed, nq, fo, ovf, sh, dh, lblc, lblcr, twos, mh), found a list",
                  "t.yaml:6:75: services[1].forward: expected a forwarding method (one of: nat, dr, tun), found an "
                  "empty mapping",
                  "t.yaml:7:5: services[2]: duplicate service tcp 10.0.0.100:80 (first defined at line 6)",
                  "t.yaml:8:60: services[3].scheduler: unknown scheduler \"RR\" (expected one of: "
                  "rr, wrr, lc, wlc, sed, nq, fo, ovf, sh, dh, lblc, lblcr, twos, mh)",
                  "t.yaml:10:12: services[5].vip: expected a unicast IPv4 address, found \"255.255.255.255\", the "
                  "broadcast address",
              }));
}

TEST(ConfigErrors, RealServers)
{
    EXPECT_EQ(errors_of(two_interfaces + R"(services:
  - vip: 10.0.0.100
    port: 80
    protocol: tcp
    scheduler: rr
    forward: dr
    real_servers:
      - { address: 172.16.0.2, port: 8080 }
      - { address: 172.16.0.3 }
      - { address: 172.16.0.3, port: 80 }
      - { address: 172.16.0.4, port: 8080, forward: nat }
      - { address: 172.16.0.5, port: 8081, forward: tun }
      - { address: 192.0.2.1, port: 80 }
      - 172.16.0.6
      -
      - { address: 172.16.0.1 }
  - { vip: 10.0.0.101, port: 80, protocol: tcp, scheduler: rr, real_servers: [{ address: 192.0.2.2 }] }
)"),
              (Lines{
                  "t.yaml:11:38: services[0].real_servers[0].port: real server port 8080 differs from the virtual "
                  "port 80; dr forwarding cannot change the port",
                  "t.yaml:13:9: services[0].real_servers[2]: duplicate real server 172.16.0.3:80 (first defined at "
                  "line 12)",
                  "t.yaml:15:38: services[0].real_servers[4].port: real server port 8081 differs from the virtual "
                  "port 80; tun forwarding cannot change the port",
                  "t.yaml:16:20: services[0].real_servers[5].address: expected an address in a connected subnet "
                  "(10.0.0.0/24 on ext, 172.16.0.0/24 on int) for dr forwarding, found \"192.0.2.1\"",
                  "t.yaml:17:9: services[0].real_servers[6]: expected a mapping (keys: address, port, weight, "
                  "forward, upper_threshold, lower_threshold, health_check), found \"172.16.0.6\"",
                  "t.yaml:18:7: services[0].real_servers[7]: expected a mapping (keys: address, port, weight, "
                  "forward, upper_threshold, lower_threshold, health_check), found an empty value",
                  "t.yaml:19:20: services[0].real_servers[8].address: expected a real server's address, found "
                  "\"172.16.0.1\", this director's own address on interface int",
                  "t.yaml:20:90: services[1].real_servers[0].address: expected an address in a connected subnet or "
                  "covered by a route, found \"192.0.2.2\", which no interface or route reaches",
              }));
}

TEST(ConfigErrors, RealServerInheritsTheServicesMethodForThePortRule)
{
    // The first real server names no method: the service's tun applies, and so does the port rule.
    EXPECT_EQ(errors_of(two_interfaces + R"(services:
  - vip: 10.0.0.100
    port: 443
    protocol: tcp
    scheduler: rr
    forward: tun
    real_servers:
      - address: 172.16.0.2
        port: 8443
      - address: 172.16.0.3
        port: 8443
        forward: nat
)"),
              (Lines{"t.yaml:12:15: services[0].real_servers[0].port: real server port 8443 differs from the virtual "
                     "port 443; tun forwarding cannot change the port"}));
}

// ---------------------------------------------------------------------------------------------
// Whole files

TEST(ConfigErrors, EveryProblemInFileOrder)
{
    // Sections are checked in dependency order (interfaces before services), but reported in the
    // order they appear.
    EXPECT_EQ(errors_of(R"(services:
  - { vip: 10.0.0.100, port: 80, protocol: tcp, scheduler: foo }
timeouts: { udp: 0 }
interfaces:
  - { name: ext, device: net_tap0, address: 10.0.0.1/24, mtu: 10000 }
dataplane:
  workers: 100
bogus: 1
)"),
              (Lines{
                  "t.yaml:2:60: services[0].scheduler: unknown scheduler \"foo\" (expected one of: "
                  "rr, wrr, lc, wlc, sed, nq, fo, ovf, sh, dh, lblc, lblcr, twos, mh)",
                  "t.yaml:3:18: timeouts.udp: expected an integer from 1 to 31536000, found \"0\"",
                  "t.yaml:5:63: interfaces[0].mtu: expected an integer from 68 to 9000, found \"10000\"",
                  "t.yaml:7:12: dataplane.workers: expected an integer from 1 to 64, found \"100\"",
                  "t.yaml:8:1: unknown key \"bogus\" at the top level (expected one of: dataplane, interfaces, "
                  "routes, neighbors, services, timeouts, console, metrics, high_availability, sync, announce)",
              }));
}

TEST(ConfigErrors, SyntaxErrors)
{
    EXPECT_EQ(errors_of("interfaces:\n  - { name: ext\nservices: []\n"),
              (Lines{"t.yaml:3:9: YAML syntax error: end of map flow not found"}));
    EXPECT_EQ(errors_of("timeouts:\n  tcp: 1\n\tudp: 2\n"),
              (Lines{"t.yaml:3:1: YAML syntax error: illegal tab when looking for indentation"}));
    EXPECT_EQ(errors_of("interfaces: *missing\n"),
              (Lines{"t.yaml:1:13: YAML syntax error: the referenced anchor is not defined"}));
}

TEST(ConfigErrors, NotAMappingAtTheTop)
{
    const std::string expected = "expected a mapping (keys: dataplane, interfaces, routes, neighbors, services, "
                                 "timeouts, console, metrics, high_availability, sync, announce), found ";
    EXPECT_EQ(errors_of(""), (Lines{"t.yaml:1:1: " + expected + "an empty file"}));
    EXPECT_EQ(errors_of("# nothing but a comment\n"), (Lines{"t.yaml:1:1: " + expected + "an empty file"}));
    EXPECT_EQ(errors_of("- interfaces\n"), (Lines{"t.yaml:1:1: " + expected + "a list"}));
    EXPECT_EQ(errors_of("interfaces\n"), (Lines{"t.yaml:1:1: " + expected + "\"interfaces\""}));
}

TEST(ConfigErrors, OneDocumentOnly)
{
    EXPECT_EQ(errors_of("interfaces: [{ name: ext, device: net_tap0, address: 10.0.0.1/24 }]\n---\nservices: []\n"),
              (Lines{"t.yaml:2:1: expected a single YAML document, found another one here"}));
}

TEST(ConfigErrors, StrayCommaIsASyntaxError)
{
    // yaml-cpp 0.7 alone would loop forever in LoadAll, or drop the rest of the file in Load.
    EXPECT_EQ(errors_of("# comment\n,interfaces: []\n"), (Lines{"t.yaml:2:1: YAML syntax error: unexpected \",\""}));
    EXPECT_EQ(errors_of("- a\n,b\n"), (Lines{"t.yaml:2:1: YAML syntax error: unexpected \",\""}));
}

// ---------------------------------------------------------------------------------------------
// The API around the checker

TEST(ConfigApi, ErrorToString)
{
    EXPECT_EQ((ConfigError{"a.yaml", 3, 7, "boom"}).to_string(), "a.yaml:3:7: boom");
    EXPECT_EQ((ConfigError{"a.yaml", 0, 0, "cannot read: No such file or directory"}).to_string(),
              "a.yaml: cannot read: No such file or directory");
}

TEST(ConfigApi, ErrorFieldsAreOneBased)
{
    const ConfigResult r = parse_config("interfaces: []\n", "x.yaml");
    ASSERT_EQ(r.errors.size(), 1u);
    EXPECT_EQ(r.errors[0].file, "x.yaml");
    EXPECT_EQ(r.errors[0].line, 1);
    EXPECT_EQ(r.errors[0].column, 13);
    EXPECT_EQ(r.errors[0].message, "interfaces: expected a list of at least one interface, found an empty list");
    EXPECT_FALSE(r.config.has_value());
}

TEST(ConfigApi, LoadsAFile)
{
    const ConfigResult r = load_config_file("configs/good.yaml");
    ASSERT_TRUE(r.errors.empty()) << r.errors[0].to_string();
    ASSERT_TRUE(r.config.has_value());
    const Config& c = *r.config;
    EXPECT_EQ(c.source_file, "configs/good.yaml");
    ASSERT_EQ(c.interfaces.size(), 1u);
    EXPECT_EQ(c.interfaces[0].name, "ext");
    EXPECT_EQ(c.interfaces[0].device, "net_tap0");
    EXPECT_EQ(c.interfaces[0].addresses, (std::vector<IpPrefix>{prefix("10.0.0.1/24")}));
    ASSERT_EQ(c.services.size(), 1u);
    EXPECT_EQ(c.services[0].vip, ip("10.0.0.100"));
    EXPECT_EQ(c.services[0].port, 80);
    ASSERT_EQ(c.services[0].real_servers.size(), 1u);
    EXPECT_EQ(c.services[0].real_servers[0].address, ip("10.0.0.11"));
    EXPECT_EQ(c.services[0].real_servers[0].port, 80);
    EXPECT_EQ(c.services[0].real_servers[0].weight, 1u);
    EXPECT_EQ(c.services[0].real_servers[0].forward, ForwardMethod::nat);
}

TEST(ConfigApi, FileErrorsNameTheFile)
{
    const ConfigResult r = load_config_file("configs/bad.yaml");
    EXPECT_FALSE(r.config.has_value());
    ASSERT_EQ(r.errors.size(), 1u);
    EXPECT_EQ(r.errors[0].to_string(),
              "configs/bad.yaml:10:16: services[0].scheduler: unknown scheduler \"lcx\" (expected one of: "
              "rr, wrr, lc, wlc, sed, nq, fo, ovf, sh, dh, lblc, lblcr, twos, mh)");
}

TEST(ConfigApi, UnreadableFiles)
{
    const ConfigResult missing = load_config_file("configs/no-such-file.yaml");
    EXPECT_FALSE(missing.config.has_value());
    ASSERT_EQ(missing.errors.size(), 1u);
    EXPECT_EQ(missing.errors[0].line, 0);
    EXPECT_EQ(missing.errors[0].to_string(), "configs/no-such-file.yaml: cannot read: No such file or directory");

    const ConfigResult dir = load_config_file("configs");
    ASSERT_EQ(dir.errors.size(), 1u);
    EXPECT_EQ(dir.errors[0].to_string(), "configs: cannot read: Is a directory");
}

// The shipped configurations must stay valid.
TEST(ConfigApi, ShippedExamplesValidate)
{
    for (const char* path : {"../../conf/fulcrum.yaml", "../../conf/lab-nat.yaml", "../../conf/lab-health.yaml"}) {
        const ConfigResult r = load_config_file(path);
        for (const auto& e : r.errors) ADD_FAILURE() << e.to_string();
        EXPECT_TRUE(r.config.has_value()) << path;
    }
}

TEST(ConfigApi, AnnotatedExampleHasWhatItDescribes)
{
    const ConfigResult r = load_config_file("../../conf/fulcrum.yaml");
    ASSERT_TRUE(r.config.has_value());
    const Config& c = *r.config;
    ASSERT_EQ(c.interfaces.size(), 3u);
    EXPECT_EQ(c.interfaces[1].vlan, 100u);
    EXPECT_EQ(c.interfaces[1].device, c.interfaces[0].device);
    EXPECT_EQ(c.routes.size(), 2u);
    EXPECT_EQ(c.neighbors.size(), 1u);
    ASSERT_EQ(c.services.size(), 4u);
    EXPECT_EQ(c.services[2].forward, ForwardMethod::dr);
    ASSERT_EQ(c.services[2].real_servers.size(), 3u);
    EXPECT_EQ(c.services[2].real_servers[2].forward, ForwardMethod::tun);
    EXPECT_EQ(c.dataplane.kernel_rate_limit, 20000u);
    EXPECT_EQ(c.interfaces[0].kernel_interface, "fl-ext");
    EXPECT_EQ(c.interfaces[1].kernel_interface, "fl-ext-v100");
    EXPECT_EQ(c.interfaces[2].kernel_interface, "fl-int");
    EXPECT_EQ(c.services[0].health_check.type, HealthCheckType::http);
    EXPECT_EQ(c.services[0].health_check.interval_ms, 2000u);
    ASSERT_TRUE(c.services[0].sorry_server.has_value());
    EXPECT_EQ(c.services[0].sorry_server->port, 8080);
    EXPECT_EQ(c.services[0].real_servers[1].health_check.on_failure, OnFailure::quiesce);
    EXPECT_EQ(c.services[0].real_servers[1].health_check.http.path, "/health");
}

TEST(ConfigQueues, QueuesDefaultToWorkersAndAfPacketNeedsEnoughQueuePairs)
{
    const Config c = good(R"(dataplane: { workers: 2 }
interfaces:
  - { name: ext, device: "net_af_packet0,iface=a,qpairs=2", address: 10.0.0.1/24 }
  - { name: int, device: "net_af_packet1,iface=b,qpairs=4", address: 10.0.1.1/24, queues: 4 }
)");
    EXPECT_EQ(c.interfaces[0].queues, 0u);
    EXPECT_EQ(c.interfaces[1].queues, 4u);
    EXPECT_EQ(errors_of(R"(interfaces:
  - { name: ext, device: "net_af_packet0,iface=a", address: 10.0.0.1/24 }
  - { name: int, device: "net_af_packet1,iface=b,qpairs=2", address: 10.0.1.1/24, queues: 3 }
  - { name: tap, device: net_tap0, address: 10.0.2.1/24, queues: 65 }
dataplane: { workers: 2 }
)"),
              (Lines{"t.yaml:2:26: interfaces[0].device: af_packet device has 1 queue pair(s) but 2 are needed (2 "
                     "worker(s), 2 RX queue(s)): add \",qpairs=2\" to the device string",
                     "t.yaml:3:26: interfaces[1].device: af_packet device has 2 queue pair(s) but 3 are needed (2 "
                     "worker(s), 3 RX queue(s)): add \",qpairs=3\" to the device string",
                     "t.yaml:4:66: interfaces[2].queues: expected an integer from 1 to 64, found \"65\""}));
}

TEST(ConfigTimeouts, EveryStateByNameAndIpvsadmSetNames)
{
    const Config c = good(two_interfaces + R"(timeouts: { tcp: 600, tcp_fin: 30, udp: 20, syn_recv: 5, close: 3, time_wait: 7 }
)");
    using fulcrum::dataplane::TcpState;
    EXPECT_EQ(c.timeouts.of(TcpState::established), 600u);
    EXPECT_EQ(c.timeouts.of(TcpState::fin_wait), 30u);
    EXPECT_EQ(c.timeouts.udp, 20u);
    EXPECT_EQ(c.timeouts.of(TcpState::syn_recv), 5u);
    EXPECT_EQ(c.timeouts.of(TcpState::close), 3u);
    EXPECT_EQ(c.timeouts.of(TcpState::time_wait), 7u);
    EXPECT_EQ(c.timeouts.of(TcpState::close_wait), 60u);  // IPVS's default, untouched
    EXPECT_EQ(c.timeouts.of(TcpState::none), 2u);

    EXPECT_EQ(errors_of(two_interfaces + R"(timeouts:
  tcp: 600
  established: 900
  fin_wait: 10
  tcp_fin: 20
  syn_wait: 1
)"),
              (Lines{"t.yaml:6:16: timeouts.established: sets the same timeout as \"tcp\" (line 5); give only one of them",
                     "t.yaml:8:12: timeouts.tcp_fin: sets the same timeout as \"fin_wait\" (line 7); give only one of them",
                     "t.yaml:9:3: timeouts: unknown key \"syn_wait\" in timeouts (expected one of: tcp, tcp_fin, udp, none, "
                     "established, syn_sent, syn_recv, fin_wait, time_wait, close, close_wait, last_ack, listen, synack)"}));
}

TEST(ConfigSchedulers, DefaultsFlagsTableSizeAndThresholds)
{
    const Config c = good(two_interfaces + R"(services:
  - vip: 10.0.0.100
    port: 80
    protocol: tcp
    real_servers: [{ address: 172.16.0.2, upper_threshold: 100, lower_threshold: 50 }]
  - vip: 10.0.0.100
    port: 443
    protocol: tcp
    scheduler: mh
    scheduler_flags: [mh-port, mh-fallback]
    mh_table_size: 251
    real_servers: [{ address: 172.16.0.2 }]
)");
    ASSERT_EQ(c.services.size(), 2u);
    EXPECT_EQ(c.services[0].scheduler, "wlc");  // as ipvsadm when -s is left out
    EXPECT_EQ(c.services[0].real_servers[0].upper_threshold, 100u);
    EXPECT_EQ(c.services[0].real_servers[0].lower_threshold, 50u);
    EXPECT_TRUE(c.services[1].scheduler_flags.mh_port);
    EXPECT_TRUE(c.services[1].scheduler_flags.mh_fallback);
    EXPECT_FALSE(c.services[1].scheduler_flags.sh_port);
    EXPECT_EQ(c.services[1].mh_table_size, 251u);

    const Lines errors = errors_of(two_interfaces + R"(services:
  - { vip: 10.0.0.100, port: 80, protocol: tcp, scheduler: mh, scheduler_flags: [mh-port, sh-sideways], mh_table_size: 1000 }
  - { vip: 10.0.0.100, port: 81, protocol: tcp, real_servers: [{ address: 172.16.0.2, upper_threshold: 10, lower_threshold: 10 }] }
)");
    ASSERT_EQ(errors.size(), 3u);
    EXPECT_EQ(errors[0], "t.yaml:5:91: services[0].scheduler_flags[1]: expected a flag name (sh-fallback, sh-port, "
                         "mh-fallback, mh-port), found \"sh-sideways\"");
    EXPECT_EQ(errors[1], "t.yaml:5:120: services[0].mh_table_size: the Maglev table size must be a prime number, and "
                         "1000 is not (the next prime is 1009)");
    EXPECT_EQ(errors[2], "t.yaml:6:125: services[1].real_servers[0].lower_threshold: expected a number below "
                         "upper_threshold (10), found \"10\"");
}

TEST(ConfigSchedulers, MhCompatKernelTakesTheKernelsTableSizes)
{
    const Config c = good(two_interfaces + R"(services:
  - { vip: 10.0.0.100, port: 80, protocol: tcp, scheduler: mh, mh_compat: kernel, real_servers: [{ address: 172.16.0.2 }] }
  - { vip: 10.0.0.100, port: 81, protocol: tcp, scheduler: mh, mh_compat: kernel, mh_table_size: 131071 }
  - { vip: 10.0.0.100, port: 82, protocol: tcp, scheduler: mh, mh_compat: fulcrum }
)");
    EXPECT_EQ(c.services[0].mh_compat, fulcrum::sched::MhCompat::kernel);
    EXPECT_EQ(c.services[0].mh_table_size, 4093u);  // the kernel's default, not Fulcrum's
    EXPECT_EQ(c.services[1].mh_table_size, 131071u);
    EXPECT_EQ(c.services[2].mh_compat, fulcrum::sched::MhCompat::fulcrum);
    EXPECT_EQ(c.services[2].mh_table_size, fulcrum::sched::default_mh_table_size);
    // The writer keeps what is not a default, and reads back the same.
    const std::string text = config_to_yaml(c);
    EXPECT_NE(text.find("mh_compat: kernel"), std::string::npos);
    EXPECT_EQ(text.find("mh_table_size: 4093"), std::string::npos);
    EXPECT_NE(text.find("mh_table_size: 131071"), std::string::npos);
    EXPECT_EQ(text.find("mh_compat: fulcrum"), std::string::npos);
    const ConfigResult again = parse_config(text, "written.yaml");
    ASSERT_TRUE(again.config) << text;
    for (size_t i = 0; i < 3; ++i) {
        EXPECT_EQ(again.config->services[i].mh_compat, c.services[i].mh_compat) << i;
        EXPECT_EQ(again.config->services[i].mh_table_size, c.services[i].mh_table_size) << i;
    }

    const Lines errors = errors_of(two_interfaces + R"(services:
  - { vip: 10.0.0.100, port: 80, protocol: tcp, scheduler: mh, mh_compat: kernel, mh_table_size: 65537 }
  - { vip: 10.0.0.100, port: 81, protocol: tcp, scheduler: mh, mh_compat: linux }
)");
    ASSERT_EQ(errors.size(), 2u);
    EXPECT_EQ(errors[0], "t.yaml:5:98: services[0].mh_table_size: with mh_compat kernel the Maglev table size must be "
                         "one of the kernel's: 251, 509, 1021, 2039, 4093 (its default), 8191, 16381, 32749, 65521 or "
                         "131071; found 65537");
    EXPECT_EQ(errors[1], "t.yaml:6:75: services[1].mh_compat: unknown Maglev table \"linux\" (expected one of: fulcrum, kernel)");
}

TEST(ConfigPersistence, SecondsTrueNetmasksAndErrors)
{
    const Config c = good(two_interfaces + R"(services:
  - { vip: 10.0.0.100, port: 80, protocol: tcp, persistence: 50, persistence_netmask: 24 }
  - { vip: 10.0.0.100, port: 81, protocol: tcp, persistence: true, persistence_netmask: "255.255.0.0",
      expire_quiescent_template: true }
  - { vip: 10.0.0.100, port: 82, protocol: tcp, persistence: false }
)");
    EXPECT_EQ(c.services[0].persistence, 50u);
    EXPECT_EQ(c.services[0].persistence_netmask, 24u);
    EXPECT_FALSE(c.services[0].expire_quiescent_template);
    EXPECT_EQ(c.services[1].persistence, 360u);  // ipvsadm -p without a value
    EXPECT_EQ(c.services[1].persistence_netmask, 16u);
    EXPECT_TRUE(c.services[1].expire_quiescent_template);
    EXPECT_EQ(c.services[2].persistence, 0u);
    EXPECT_EQ(c.services[2].persistence_netmask, 32u);

    EXPECT_EQ(errors_of(two_interfaces + R"(services:
  - { vip: 10.0.0.100, port: 80, protocol: tcp, persistence: 2678401, persistence_netmask: "255.0.255.0" }
  - { vip: 10.0.0.100, port: 81, protocol: tcp, persistence: "true", persistence_netmask: 33, expire_quiescent_template: 1 }
)"),
              (Lines{"t.yaml:5:62: services[0].persistence: expected a number of seconds from 0 to 2678400, or true (360) "
                     "or false, found \"2678401\"",
                     "t.yaml:5:92: services[0].persistence_netmask: expected a prefix length from 0 to 32 or a contiguous "
                     "netmask like \"255.255.255.0\", found \"255.0.255.0\"",
                     "t.yaml:6:62: services[1].persistence: expected a number of seconds from 0 to 2678400, or true (360) "
                     "or false, found a quoted string \"true\"",
                     "t.yaml:6:91: services[1].persistence_netmask: expected a prefix length from 0 to 32 or a contiguous "
                     "netmask like \"255.255.255.0\", found \"33\"",
                     "t.yaml:6:122: services[1].expire_quiescent_template: expected true or false, found \"1\""}));
}

namespace {

// `path` read, written and read again: both configurations (empty ones after a failure), once
// the written text is checked to be a fixed point (writing what was read back gives it again).
std::pair<Config, Config> read_back(const std::string& path)
{
    const ConfigResult first = load_config_file(path);
    EXPECT_TRUE(first.config) << path;
    if (!first.config) return {};
    const std::string text = fulcrum::control::config_to_yaml(*first.config);
    const ConfigResult second = parse_config(text, "written.yaml");
    for (const auto& e : second.errors) ADD_FAILURE() << e.to_string() << "\n" << text;
    if (!second.config) return {};
    EXPECT_EQ(fulcrum::control::config_to_yaml(*second.config), text) << path;
    return {*first.config, *second.config};
}

}  // namespace

TEST(ConfigYaml, WrittenConfigReadsBackTheSame)
{
    for (const char* path : {"../../conf/fulcrum.yaml", "../../conf/lab-mixed.yaml", "../../conf/lab-health.yaml"}) {
        const auto [a, b] = read_back(path);
        ASSERT_EQ(a.services.size(), b.services.size());
        for (size_t i = 0; i < a.services.size(); ++i) {
            EXPECT_EQ(a.services[i].vip, b.services[i].vip);
            EXPECT_EQ(a.services[i].port, b.services[i].port);
            EXPECT_EQ(a.services[i].scheduler, b.services[i].scheduler);
            EXPECT_EQ(a.services[i].persistence, b.services[i].persistence);
            ASSERT_EQ(a.services[i].real_servers.size(), b.services[i].real_servers.size());
            for (size_t j = 0; j < a.services[i].real_servers.size(); ++j) {
                EXPECT_EQ(a.services[i].real_servers[j].address, b.services[i].real_servers[j].address);
                EXPECT_EQ(a.services[i].real_servers[j].weight, b.services[i].real_servers[j].weight);
                EXPECT_EQ(a.services[i].real_servers[j].forward, b.services[i].real_servers[j].forward);
            }
        }
        EXPECT_EQ(a.timeouts, b.timeouts);
        EXPECT_EQ(a.interfaces.size(), b.interfaces.size());
        EXPECT_EQ(a.dataplane.eal, b.dataplane.eal);
    }
}

// ---------------------------------------------------------------------------------------------
// IPv6 beside IPv4

TEST(ConfigDualStack, BothFamiliesEverywhere)
{
    const ConfigResult r = load_config_file("configs/dual-stack.yaml");
    for (const auto& e : r.errors) ADD_FAILURE() << e.to_string();
    ASSERT_TRUE(r.config);
    const Config& c = *r.config;
    EXPECT_EQ(c.interfaces[0].addresses, (std::vector<IpPrefix>{prefix("10.0.0.1/24"), prefix("2001:db8::1/64")}));
    EXPECT_EQ(c.interfaces[1].addresses, (std::vector<IpPrefix>{prefix("172.16.0.1/24"), prefix("2001:db8:1::1/64")}));
    ASSERT_EQ(c.routes.size(), 3u);
    EXPECT_EQ(c.routes[1].dst, prefix("::/0"));
    EXPECT_EQ(c.routes[1].via, ip("fe80::1"));
    EXPECT_EQ(c.routes[1].interface, "ext");
    EXPECT_EQ(c.routes[2].via, ip("2001:db8:1::fe"));
    // A link-local next hop leaves by the interface it names; a global one by its subnet's.
    EXPECT_EQ(interface_holding(c, c.routes[1].via, c.routes[1].interface), &c.interfaces[0]);
    EXPECT_EQ(interface_holding(c, c.routes[1].via), nullptr);
    EXPECT_EQ(interface_holding(c, c.routes[2].via), &c.interfaces[1]);
    EXPECT_EQ(interface_holding(c, ip("172.16.0.9")), &c.interfaces[1]);
    EXPECT_EQ(interface_holding(c, ip("::ffff:172.16.0.9")), nullptr);
    EXPECT_EQ(c.neighbors[0].ip, ip("2001:db8::fe"));
    ASSERT_EQ(c.services.size(), 3u);
    const ServiceConfig& web = c.services[0];
    EXPECT_EQ(web.vip, ip("2001:db8::10"));
    EXPECT_EQ(web.persistence_netmask, 64);
    EXPECT_EQ(web.sorry_server->address, ip("2001:db8:1::99"));
    EXPECT_EQ(web.real_servers[1].address, ip("2001:db8:2::12"));
    EXPECT_EQ(web.key(), (ServiceKey{Protocol::tcp, ip("2001:db8::10"), 80}));
    EXPECT_EQ(c.services[1].persistence_netmask, 128);  // an IPv6 service's default: its full length
    EXPECT_EQ(c.services[1].real_servers[0].address, ip("172.16.0.21"));
    EXPECT_EQ(c.services[2].persistence_netmask, 32);
    EXPECT_EQ(c.services[2].real_servers[0].address, ip("172.16.0.54"));
    EXPECT_EQ(c.services[2].real_servers[0].forward, ForwardMethod::tun);
    ASSERT_EQ(c.services[2].real_servers.size(), 3u);
    EXPECT_EQ(c.services[2].real_servers[2].address, ip("2001:db8:1::55"));
    EXPECT_EQ(c.services[2].real_servers[2].forward, ForwardMethod::tun);
}

TEST(ConfigDualStack, WrittenReadsBackTheSame)
{
    const auto [a, b] = read_back("configs/dual-stack.yaml");
    EXPECT_EQ(a.interfaces, b.interfaces);
    EXPECT_EQ(a.routes, b.routes);
    EXPECT_EQ(a.neighbors, b.neighbors);
    ASSERT_EQ(a.services.size(), b.services.size());
    for (size_t i = 0; i < a.services.size(); ++i) {
        EXPECT_EQ(a.services[i].key(), b.services[i].key());
        EXPECT_EQ(a.services[i].persistence_netmask, b.services[i].persistence_netmask);
        EXPECT_EQ(a.services[i].sorry_server, b.services[i].sorry_server);
        ASSERT_EQ(a.services[i].real_servers.size(), b.services[i].real_servers.size());
        for (size_t j = 0; j < a.services[i].real_servers.size(); ++j) {
            EXPECT_EQ(a.services[i].real_servers[j].address, b.services[i].real_servers[j].address);
            EXPECT_EQ(a.services[i].real_servers[j].forward, b.services[i].real_servers[j].forward);
        }
    }
}

// Two interfaces of both families on lines 2 and 3; what a test appends starts at line 4.
const std::string dual_interfaces = R"(interfaces:
  - { name: ext, device: net_tap0, address: [10.0.0.1/24, 2001:db8::1/64] }
  - { name: int, device: net_tap1, address: [172.16.0.1/24, 2001:db8:1::1/64] }
)";

TEST(ConfigDualStack, VipOwnershipKernelFollowsVipsOfBothFamilies)
{
    EXPECT_EQ(errors_of(dual_interfaces + R"(high_availability: { vip_ownership: kernel }
services:
  - { vip: 10.0.0.100, port: 80, protocol: tcp, real_servers: [{ address: 172.16.0.2 }] }
  - { vip: 2001:db8::100, port: 80, protocol: tcp, real_servers: [{ address: 2001:db8:1::2 }] }
)"),
              Lines{});
}

TEST(ConfigDualStack, TheIpv6TableSizeIsGivenOrFollowsTheAddresses)
{
    EXPECT_EQ(ipv6_conn_table_size(good(R"(interfaces:
  - { name: ext, device: net_tap0, address: 10.0.0.1/24 }
)")), 1024u);  // no IPv6 address: the least
    EXPECT_EQ(ipv6_conn_table_size(good(dual_interfaces + "dataplane: { conn_table_size: 131072 }\n")), 131072u);
    const Config given = good(dual_interfaces + "dataplane: { conn_table_size_ipv6: 4096 }\n");
    EXPECT_EQ(ipv6_conn_table_size(given), 4096u);
    // Written only when given, and read back the same.
    EXPECT_EQ(parse_config(config_to_yaml(given), "w.yaml").config->dataplane.conn_table_size_ipv6, 4096u);
    EXPECT_EQ(errors_of(dual_interfaces + "dataplane: { conn_table_size_ipv6: 5000 }\n"),
              (Lines{"t.yaml:4:36: dataplane.conn_table_size_ipv6: expected a power of two from 1024 to 16777216, "
                     "found \"5000\""}));
}

TEST(ConfigDualStack, InterfaceAddresses)
{
    EXPECT_EQ(errors_of(R"(interfaces:
  - name: ext
    device: net_tap0
    address:
      - fe80::1/64
      - ff02::1/64
      - 2001:db8::/64
      - 2001:db8::1/129
      - ::1/128
      - 2001:db8::1/64
      - 2001:db8:0::1/48
      - 2001:db8:9::/127
)"),
              (Lines{"t.yaml:5:9: interfaces[0].address[0]: expected a global IPv6 address, found \"fe80::1/64\", a "
                     "link-local address (the director derives its own from the port's MAC)",
                     "t.yaml:6:9: interfaces[0].address[1]: expected a unicast IPv6 address, found \"ff02::1/64\", a "
                     "multicast address",
                     "t.yaml:7:9: interfaces[0].address[2]: expected a host address in 2001:db8::/64, found "
                     "\"2001:db8::/64\", the Subnet-Router anycast address of that subnet",
                     "t.yaml:8:9: interfaces[0].address[3]: expected an IPv4 address with a prefix length from 1 to 32 "
                     "(like 10.0.0.1/24) or an IPv6 one from 1 to 128 (like 2001:db8::1/64), found \"2001:db8::1/129\"",
                     "t.yaml:9:9: interfaces[0].address[4]: expected a unicast IPv6 address, found \"::1/128\", a "
                     "loopback address",
                     "t.yaml:11:9: interfaces[0].address[6]: duplicate address 2001:db8::1 (first defined at line 10)"}));
}

TEST(ConfigDualStack, RoutesAndNeighbors)
{
    EXPECT_EQ(errors_of(dual_interfaces + R"(routes:
  - { dst: ::/0, via: 10.0.0.254 }
  - { dst: 2001:db8:5::/48, via: fe80::1 }
  - { dst: 2001:db8:6::/48, via: 2001:db8:7::1 }
  - { dst: 2001:db8:8::/48, via: 2001:db8::fe, interface: int }
  - { dst: 2001:db8:9::1/48, via: 2001:db8::fe }
  - { dst: 2001:db8:a::/48, via: 2001:db8::1 }
  - { dst: 0.0.0.0/0, via: fe80::1, interface: ext }
neighbors:
  - { ip: fe80::2, mac: "02:00:00:00:00:02" }
  - { ip: 2001:db8:7::2, mac: "02:00:00:00:00:02" }
)"),
              (Lines{"t.yaml:5:23: routes[0].via: expected an IPv6 next hop, as dst is ::/0, found \"10.0.0.254\", an "
                     "IPv4 address",
                     "t.yaml:6:34: routes[1].via: a link-local next hop (fe80::/10) needs `interface:` to name its link",
                     "t.yaml:7:34: routes[2].via: expected an address in a connected subnet (2001:db8::/64 on ext, "
                     "2001:db8:1::/64 on int), found \"2001:db8:7::1\"",
                     "t.yaml:8:34: routes[3].via: expected an address in a connected subnet of interface int "
                     "(2001:db8:1::/64), found \"2001:db8::fe\"",
                     "t.yaml:9:12: routes[4].dst: expected a network address with no host bits set (2001:db8:9::/48), "
                     "found \"2001:db8:9::1/48\"",
                     "t.yaml:10:34: routes[5].via: expected the address of a next-hop router, found \"2001:db8::1\", this "
                     "director's own address on interface ext",
                     "t.yaml:11:28: routes[6].via: expected an IPv4 next hop, as dst is 0.0.0.0/0, found \"fe80::1\", an "
                     "IPv6 address",
                     "t.yaml:13:11: neighbors[0].ip: expected a global IPv6 address, found \"fe80::2\", a link-local "
                     "address",
                     "t.yaml:14:11: neighbors[1].ip: expected an address in a connected subnet (2001:db8::/64 on ext, "
                     "2001:db8:1::/64 on int), found \"2001:db8:7::2\""}));
}

TEST(ConfigDualStack, FamilyRulesOfServices)
{
    EXPECT_EQ(errors_of(dual_interfaces + R"(services:
  - vip: 2001:db8::10
    port: 80
    protocol: tcp
    forward: nat
    persistence: 60
    persistence_netmask: 129
    sorry_server: { address: 172.16.0.99 }
    real_servers:
      - { address: 172.16.0.2 }
      - { address: 172.16.0.3, forward: dr }
      - { address: 172.16.0.4, forward: tun }
      - { address: 2001:db8:1::5 }
      - { address: 2001:db8:1::5 }
      - { address: 2001:db8:3::6, forward: tun }
  - { vip: 10.0.0.100, port: 80, protocol: tcp, persistence_netmask: 64,
      real_servers: [{ address: 2001:db8:1::7 }, { address: 2001:db8:1::8, forward: tun },
                     { address: 2001:db8:3::9, forward: tun }] }
  - { vip: 2001:db8::1, port: 81, protocol: tcp, persistence_netmask: "255.255.255.0" }
  - { vip: 2001:db8::10, port: 80, protocol: tcp, persistence_netmask: 128 }
  - { vip: "ff05::1", port: 80, protocol: tcp, persistence_netmask: 128 }
)"),
              (Lines{"t.yaml:10:26: services[0].persistence_netmask: expected a prefix length from 0 to 128 (the "
                     "service's vip is IPv6), found \"129\"",
                     "t.yaml:11:30: services[0].sorry_server.address: expected an IPv6 address for a sorry server, as "
                     "the service's vip 2001:db8::10 is, found \"172.16.0.99\", an IPv4 address",
                     "t.yaml:13:20: services[0].real_servers[0].address: expected an IPv6 address for a real server "
                     "with nat forwarding (only tun may mix families), as the service's vip 2001:db8::10 is, found "
                     "\"172.16.0.2\", an IPv4 address",
                     "t.yaml:14:20: services[0].real_servers[1].address: expected an IPv6 address for a real server "
                     "with dr forwarding (only tun may mix families), as the service's vip 2001:db8::10 is, found "
                     "\"172.16.0.3\", an IPv4 address",
                     "t.yaml:17:9: services[0].real_servers[4]: duplicate real server [2001:db8:1::5]:80 (first "
                     "defined at line 16)",
                     "t.yaml:18:20: services[0].real_servers[5].address: expected an address in a connected subnet or "
                     "covered by a route, found \"2001:db8:3::6\", which no interface or route reaches",
                     "t.yaml:19:70: services[1].persistence_netmask: expected a prefix length from 0 to 32 or a "
                     "contiguous netmask like \"255.255.255.0\", found \"64\"",
                     "t.yaml:20:33: services[1].real_servers[0].address: expected an IPv4 address for a real server "
                     "with nat forwarding (only tun may mix families), as the service's vip 10.0.0.100 is, found "
                     "\"2001:db8:1::7\", an IPv6 address",
                     "t.yaml:21:33: services[1].real_servers[2].address: expected an address in a connected subnet "
                     "or covered by a route, found \"2001:db8:3::9\", which no interface or route reaches",
                     "t.yaml:22:12: services[2].vip: expected a virtual address, found \"2001:db8::1\", this director's "
                     "own address on interface ext",
                     "t.yaml:22:71: services[2].persistence_netmask: expected a prefix length from 0 to 128 (the "
                     "service's vip is IPv6), found \"255.255.255.0\"",
                     "t.yaml:23:5: services[3]: duplicate service tcp [2001:db8::10]:80 (first defined at line 5)",
                     "t.yaml:24:12: services[4].vip: expected a unicast IPv6 address, found \"ff05::1\", a multicast "
                     "address"}));
}

TEST(ConfigYaml, CheckConfigHoldsAnEditToTheFilesRules)
{
    ConfigResult r = load_config_file("../../conf/lab-mixed.yaml");
    ASSERT_TRUE(r.config);
    Config edited = *r.config;
    EXPECT_TRUE(fulcrum::control::check_config(edited, "console").empty());
    // A DR real server on another port than the service's: refused, as in a file.
    for (auto& rs : edited.services[0].real_servers)
        if (rs.forward == ForwardMethod::dr) rs.port = static_cast<uint16_t>(rs.port + 1);
    const auto errors = fulcrum::control::check_config(edited, "console");
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_NE(errors[0].message.find("dr forwarding cannot change the port"), std::string::npos) << errors[0].message;
}

// ---------------------------------------------------------------------------------------------
// The exception path's kernel interfaces

TEST(ConfigKernelInterface, DefaultNameExplicitNameAndFalse)
{
    const Config c = good(R"(interfaces:
  - { name: ext, device: net_tap0, address: 10.0.0.1/24 }
  - { name: int, device: net_tap1, address: 172.16.0.1/24, kernel_interface: tap_int-0 }
  - { name: mgmt, device: net_tap2, address: 192.168.0.1/24, kernel_interface: false }
  - { name: abcdefghijkl, device: net_tap3, address: 192.168.1.1/24 }
)");
    ASSERT_EQ(c.interfaces.size(), 4u);
    EXPECT_EQ(c.interfaces[0].kernel_interface, "fl-ext");
    EXPECT_EQ(c.interfaces[1].kernel_interface, "tap_int-0");
    EXPECT_EQ(c.interfaces[2].kernel_interface, "");  // none
    EXPECT_EQ(c.interfaces[3].kernel_interface, "fl-abcdefghijkl");  // 15 characters: the longest default
    // An interface name too long for the default may name its kernel interface itself.
    const Config named = good(R"(interfaces:
  - { name: long_name_13x, device: net_tap4, address: 192.168.2.1/24, kernel_interface: abcdefghijklmno }
)");
    EXPECT_EQ(named.interfaces[0].kernel_interface, "abcdefghijklmno");
}

TEST(ConfigKernelInterface, Errors)
{
    EXPECT_EQ(errors_of(R"(interfaces:
  - { name: ext, device: net_tap0, address: 10.0.0.1/24 }
  - { name: int, device: net_tap1, address: 10.0.1.1/24, kernel_interface: fl-ext }
  - { name: abcdefghijklm, device: net_tap2, address: 10.0.2.1/24 }
  - { name: abcdefghijklx, device: net_tap9, address: 10.0.9.1/24 }
  - { name: d, device: net_tap3, address: 10.0.3.1/24, kernel_interface: a-very-long-name-16 }
  - { name: e, device: net_tap4, address: 10.0.4.1/24, kernel_interface: "tap 0" }
  - { name: f, device: net_tap5, address: 10.0.5.1/24, kernel_interface: [x] }
  - { name: g, device: net_tap6, address: 10.0.6.1/24, kernel_interface: "" }
  - { name: h, device: net_tap7, address: 10.0.7.1/24, kernel_interface: fl-i }
  - { name: i, device: net_tap8, address: 10.0.8.1/24 }
)"),
              (Lines{
                  "t.yaml:3:76: interfaces[1].kernel_interface: kernel interface \"fl-ext\" is also interface ext's",
                  // Both defaults are cut to "fl-abcdefghijkl": the second says what to do.
                  "t.yaml:5:5: interfaces[3]: kernel interface \"fl-abcdefghijkl\" is also interface "
                  "abcdefghijklm's (the default, from the first 12 characters of the name): set kernel_interface",
                  "t.yaml:6:74: interfaces[4].kernel_interface: expected a kernel interface name of 1 to 15 "
                  "letters, digits, '_' or '-', or false, found \"a-very-long-name-16\"",
                  "t.yaml:7:74: interfaces[5].kernel_interface: expected a kernel interface name of 1 to 15 "
                  "letters, digits, '_' or '-', or false, found \"tap 0\"",
                  "t.yaml:8:74: interfaces[6].kernel_interface: expected a kernel interface name of 1 to 15 "
                  "letters, digits, '_' or '-', or false, found a list",
                  "t.yaml:9:74: interfaces[7].kernel_interface: expected a kernel interface name of 1 to 15 "
                  "letters, digits, '_' or '-', or false, found \"\"",
                  "t.yaml:11:5: interfaces[9]: kernel interface \"fl-i\" is also interface h's (the default, from "
                  "the first 12 characters of the name): set kernel_interface",
              }));
}

TEST(ConfigKernelInterface, AProblemWithTheNameIsReportedOnce)
{
    // The name's own error says what is wrong; a default kernel name made from it adds nothing
    // (and "fl-eth 0" is not longer than 15 characters).
    EXPECT_EQ(errors_of(R"(interfaces:
  - { name: ext, device: net_tap0, address: 10.0.0.1/24 }
  - { name: ext, device: net_tap1, address: 10.0.1.1/24 }
  - { name: "eth 0", device: net_tap2, address: 10.0.2.1/24 }
)"),
              (Lines{
                  "t.yaml:3:13: interfaces[1].name: duplicate interface name \"ext\" (first defined at line 2)",
                  "t.yaml:4:13: interfaces[2].name: expected a name of 1 to 15 letters, digits, '_' or '-', found "
                  "\"eth 0\"",
              }));
}

// ---------------------------------------------------------------------------------------------
// Health checks

TEST(ConfigHealthCheck, DefaultsWithoutHealthCheck)
{
    const Config c = good(two_interfaces + R"(services:
  - { vip: 10.0.0.100, port: 80, protocol: tcp, real_servers: [{ address: 172.16.0.2 }] }
)");
    ASSERT_EQ(c.services.size(), 1u);
    const HealthCheckConfig& hc = c.services[0].health_check;
    EXPECT_EQ(hc.type, HealthCheckType::none);
    EXPECT_EQ(hc.port, 0);
    EXPECT_EQ(hc.interval_ms, 5000u);
    EXPECT_EQ(hc.timeout_ms, 3000u);
    EXPECT_EQ(hc.rise, 2u);
    EXPECT_EQ(hc.fall, 3u);
    EXPECT_EQ(hc.on_failure, OnFailure::remove);
    EXPECT_EQ(hc.http.path, "/");
    EXPECT_EQ(hc.http.host, "");
    EXPECT_TRUE(hc.http.expect_status.empty());  // 200-299
    EXPECT_EQ(hc.http.expect_body, "");
    EXPECT_FALSE(c.services[0].sorry_server.has_value());
    ASSERT_EQ(c.services[0].real_servers.size(), 1u);
    EXPECT_EQ(c.services[0].real_servers[0].health_check, hc);
    EXPECT_FALSE(c.services[0].real_servers[0].health_check_overridden);
}

TEST(ConfigHealthCheck, AnyKeyMeansTcpAndNoneOrEmptyMeansNone)
{
    const Config c = good(two_interfaces + R"(services:
  - { vip: 10.0.0.100, port: 80, protocol: tcp, health_check: { port: 8080 } }
  - { vip: 10.0.0.100, port: 81, protocol: tcp, health_check: {} }
  - { vip: 10.0.0.100, port: 82, protocol: tcp, health_check: { type: none } }
  - { vip: 10.0.0.100, port: 83, protocol: tcp, health_check: }
)");
    ASSERT_EQ(c.services.size(), 4u);
    HealthCheckConfig tcp;
    tcp.type = HealthCheckType::tcp;
    tcp.port = 8080;
    EXPECT_EQ(c.services[0].health_check, tcp);
    EXPECT_EQ(c.services[1].health_check, HealthCheckConfig{});
    EXPECT_EQ(c.services[2].health_check, HealthCheckConfig{});
    EXPECT_EQ(c.services[3].health_check, HealthCheckConfig{});
}

TEST(ConfigHealthCheck, EveryKeyWithFractionsOfSeconds)
{
    const Config c = good(two_interfaces + R"(services:
  - vip: 10.0.0.100
    port: 80
    protocol: tcp
    health_check:
      type: http
      port: 8080
      interval: 1.25
      timeout: 0.5
      rise: 4
      fall: 1
      on_failure: quiesce
      http: { path: "/health?full=1", host: www.example.org, expect_status: "200,301-302", expect_body: "^ok( [0-9]+)?$" }
    real_servers: [{ address: 172.16.0.2, port: 80 }]
  - vip: 10.0.0.100
    port: 81
    protocol: udp
    health_check: { type: tcp, port: 22, interval: 3600, timeout: 0.01, rise: 1000, fall: 1000, on_failure: remove }
  - vip: 10.0.0.100
    port: 82
    protocol: tcp
    health_check: { interval: 2.125, timeout: 2.1, port: 65535 }
  - vip: 10.0.0.100
    port: 83
    protocol: tcp
    health_check: { interval: 0.010, timeout: 0.01 }
)");
    ASSERT_EQ(c.services.size(), 4u);
    const HealthCheckConfig& hc = c.services[0].health_check;
    EXPECT_EQ(hc.type, HealthCheckType::http);
    EXPECT_EQ(hc.port, 8080);
    EXPECT_EQ(hc.interval_ms, 1250u);
    EXPECT_EQ(hc.timeout_ms, 500u);
    EXPECT_EQ(hc.rise, 4u);
    EXPECT_EQ(hc.fall, 1u);
    EXPECT_EQ(hc.on_failure, OnFailure::quiesce);
    EXPECT_EQ(hc.http.path, "/health?full=1");
    EXPECT_EQ(hc.http.host, "www.example.org");
    EXPECT_EQ(hc.http.expect_status, (std::vector<StatusRange>{{200, 200}, {301, 302}}));
    EXPECT_EQ(hc.http.expect_body, "^ok( [0-9]+)?$");
    // Not overridden: the real server runs the service's check.
    EXPECT_EQ(c.services[0].real_servers[0].health_check, hc);
    EXPECT_FALSE(c.services[0].real_servers[0].health_check_overridden);

    const HealthCheckConfig& wide = c.services[1].health_check;
    EXPECT_EQ(wide.type, HealthCheckType::tcp);
    EXPECT_EQ(wide.interval_ms, 3600000u);
    EXPECT_EQ(wide.timeout_ms, 10u);
    EXPECT_EQ(wide.rise, 1000u);
    EXPECT_EQ(wide.fall, 1000u);
    EXPECT_EQ(wide.on_failure, OnFailure::remove);

    EXPECT_EQ(c.services[2].health_check.type, HealthCheckType::tcp);
    EXPECT_EQ(c.services[2].health_check.interval_ms, 2125u);
    EXPECT_EQ(c.services[2].health_check.timeout_ms, 2100u);
    EXPECT_EQ(c.services[2].health_check.port, 65535);
    EXPECT_EQ(c.services[3].health_check.interval_ms, 10u);
    EXPECT_EQ(c.services[3].health_check.timeout_ms, 10u);  // equal to the interval is allowed
}

TEST(ConfigHealthCheck, ExpectStatusForms)
{
    const Config c = good(two_interfaces + R"(services:
  - vip: 10.0.0.100
    port: 80
    protocol: tcp
    health_check: { type: http, interval: 1, timeout: 1 }
    real_servers:
      - { address: 172.16.0.2, health_check: { http: { expect_status: 204 } } }
      - { address: 172.16.0.3, health_check: { http: { expect_status: "200-299" } } }
      - { address: 172.16.0.4, health_check: { http: { expect_status: "200, 301-302,404" } } }
      - { address: 172.16.0.5, health_check: { http: { expect_status: [200, "301-302", "401,403"] } } }
      - { address: 172.16.0.6, health_check: { http: { expect_status: "100-599" } } }
      - { address: 172.16.0.7 }
)");
    ASSERT_EQ(c.services.size(), 1u);
    const auto& rs = c.services[0].real_servers;
    ASSERT_EQ(rs.size(), 6u);
    using Ranges = std::vector<StatusRange>;
    EXPECT_EQ(rs[0].health_check.http.expect_status, (Ranges{{204, 204}}));
    EXPECT_EQ(rs[1].health_check.http.expect_status, (Ranges{{200, 299}}));
    EXPECT_EQ(rs[2].health_check.http.expect_status, (Ranges{{200, 200}, {301, 302}, {404, 404}}));
    EXPECT_EQ(rs[3].health_check.http.expect_status, (Ranges{{200, 200}, {301, 302}, {401, 401}, {403, 403}}));
    EXPECT_EQ(rs[4].health_check.http.expect_status, (Ranges{{100, 599}}));
    EXPECT_TRUE(rs[5].health_check.http.expect_status.empty());
}

TEST(ConfigHealthCheck, RealServerOverridesOnlyTheKeysItGives)
{
    const Config c = good(two_interfaces + R"(services:
  - vip: 10.0.0.100
    port: 80
    protocol: tcp
    health_check:
      type: http
      port: 8080
      interval: 2
      timeout: 1
      rise: 3
      fall: 4
      on_failure: quiesce
      http: { path: /health, host: h.example, expect_status: 200, expect_body: "^ok" }
    real_servers:
      - { address: 172.16.0.2 }
      - { address: 172.16.0.3, health_check: { fall: 5 } }
      - { address: 172.16.0.4, health_check: { http: { path: /other } } }
      - { address: 172.16.0.5, health_check: { type: tcp, port: 9000, timeout: 2 } }
      - { address: 172.16.0.6, health_check: { interval: 0.5, timeout: 0.25, on_failure: remove } }
      - { address: 172.16.0.7, health_check: { type: none } }
      - { address: 172.16.0.8, health_check: {} }
  - vip: 10.0.0.100
    port: 81
    protocol: tcp
    real_servers:
      - { address: 172.16.0.2 }
      - { address: 172.16.0.3, health_check: { on_failure: quiesce } }
)");
    ASSERT_EQ(c.services.size(), 2u);
    const ServiceConfig& web = c.services[0];
    const HealthCheckConfig& base = web.health_check;
    ASSERT_EQ(base.type, HealthCheckType::http);
    ASSERT_EQ(web.real_servers.size(), 7u);

    EXPECT_EQ(web.real_servers[0].health_check, base);
    EXPECT_FALSE(web.real_servers[0].health_check_overridden);

    HealthCheckConfig fall5 = base;
    fall5.fall = 5;
    EXPECT_EQ(web.real_servers[1].health_check, fall5);
    EXPECT_TRUE(web.real_servers[1].health_check_overridden);

    HealthCheckConfig other_path = base;
    other_path.http.path = "/other";  // host, statuses and body stay the service's
    EXPECT_EQ(web.real_servers[2].health_check, other_path);
    EXPECT_EQ(web.real_servers[2].health_check.http.host, "h.example");
    EXPECT_EQ(web.real_servers[2].health_check.http.expect_status, (std::vector<StatusRange>{{200, 200}}));
    EXPECT_EQ(web.real_servers[2].health_check.http.expect_body, "^ok");

    HealthCheckConfig tcp = base;
    tcp.type = HealthCheckType::tcp;
    tcp.port = 9000;
    tcp.timeout_ms = 2000;
    EXPECT_EQ(web.real_servers[3].health_check, tcp);

    HealthCheckConfig fast = base;
    fast.interval_ms = 500;
    fast.timeout_ms = 250;
    fast.on_failure = OnFailure::remove;
    EXPECT_EQ(web.real_servers[4].health_check, fast);

    EXPECT_EQ(web.real_servers[5].health_check.type, HealthCheckType::none);
    EXPECT_TRUE(web.real_servers[5].health_check_overridden);
    EXPECT_EQ(web.real_servers[6].health_check, base);  // an empty override changes nothing
    EXPECT_TRUE(web.real_servers[6].health_check_overridden);

    // A service without a check: a real server's own settings start from the defaults, as tcp.
    const ServiceConfig& plain = c.services[1];
    EXPECT_EQ(plain.health_check.type, HealthCheckType::none);
    EXPECT_EQ(plain.real_servers[0].health_check.type, HealthCheckType::none);
    HealthCheckConfig quiesce;
    quiesce.type = HealthCheckType::tcp;
    quiesce.on_failure = OnFailure::quiesce;
    EXPECT_EQ(plain.real_servers[1].health_check, quiesce);
    EXPECT_TRUE(plain.real_servers[1].health_check_overridden);
}

TEST(ConfigHealthCheck, Errors)
{
    EXPECT_EQ(errors_of(two_interfaces + R"(services:
  - vip: 10.0.0.100
    port: 80
    protocol: tcp
    health_check: { type: tcp, interval: 1, timeout: 1.5 }
  - vip: 10.0.0.100
    port: 81
    protocol: tcp
    health_check: { type: udp, on_failure: drain, rise: 0, fall: 1001, port: 0 }
  - vip: 10.0.0.100
    port: 82
    protocol: tcp
    health_check: { type: tcp, interval: 1 }
  - vip: 10.0.0.100
    port: 83
    protocol: tcp
    health_check: { type: tcp, http: { path: /x } }
  - vip: 10.0.0.100
    port: 84
    protocol: tcp
    health_check: { type: none, http: {} }
  - vip: 10.0.0.100
    port: 85
    protocol: tcp
    health_check: { type: http, interval: 2, timeout: 1, http: { path: health, host: "a b", method: GET } }
  - vip: 10.0.0.100
    port: 86
    protocol: tcp
    health_check: { type: http, interval: 2, timeout: 1 }
    real_servers:
      - { address: 172.16.0.2, health_check: { timeout: 3 } }
      - { address: 172.16.0.3, health_check: { type: tcp, http: { path: /x } } }
      - { address: 172.16.0.4, health_check: [tcp] }
  - { vip: 10.0.0.100, port: 87, protocol: tcp, health_check: tcp }
)"),
              (Lines{
                  "t.yaml:8:54: services[0].health_check.timeout: health check timeout 1.5 s is longer than its "
                  "interval 1 s",
                  "t.yaml:12:27: services[1].health_check.type: unknown health check type \"udp\" (expected one of: "
                  "none, tcp, http)",
                  "t.yaml:12:44: services[1].health_check.on_failure: unknown on_failure action \"drain\" (expected "
                  "one of: remove, quiesce)",
                  "t.yaml:12:57: services[1].health_check.rise: expected an integer from 1 to 1000, found \"0\"",
                  "t.yaml:12:66: services[1].health_check.fall: expected an integer from 1 to 1000, found \"1001\"",
                  "t.yaml:12:78: services[1].health_check.port: expected an integer from 1 to 65535, found \"0\"",
                  "t.yaml:20:38: services[3].health_check.http: http settings for a health check of type tcp; say "
                  "type: http",
                  "t.yaml:24:39: services[4].health_check.http: http settings for a health check of type none; say "
                  "type: http",
                  "t.yaml:28:72: services[5].health_check.http.path: expected a path starting with '/' without "
                  "spaces (like /health), found \"health\"",
                  "t.yaml:28:86: services[5].health_check.http.host: expected a host name for the Host header (no "
                  "spaces), found \"a b\"",
                  "t.yaml:28:93: services[5].health_check.http: unknown key \"method\" in health_check.http "
                  "(expected one of: path, host, expect_status, expect_body)",
                  "t.yaml:34:57: services[6].real_servers[0].health_check.timeout: health check timeout 3 s is "
                  "longer than its interval 2 s",
                  "t.yaml:35:65: services[6].real_servers[1].health_check.http: http settings for a health check of "
                  "type tcp; say type: http",
                  "t.yaml:36:46: services[6].real_servers[2].health_check: expected a mapping (keys: type, port, "
                  "interval, timeout, rise, fall, on_failure, http), found a list",
                  "t.yaml:37:63: services[7].health_check: expected a mapping (keys: type, port, interval, timeout, "
                  "rise, fall, on_failure, http), found \"tcp\"",
              }));
}

TEST(ConfigHealthCheck, SecondsAreBoundedAndHaveAtMostThreeDecimals)
{
    const std::string what = "expected a number of seconds from 0.01 to 3600 (like 1 or 0.5), found ";
    for (const char* bad : {"0", "0.009", "3600.001", "3601", "1.2345", ".", ".5.", "1.", "-1", "1e3", "1.5.0", "0x10",
                            "99999999999999999999"}) {
        EXPECT_EQ(errors_of(two_interfaces + "services:\n  - { vip: 10.0.0.100, port: 80, protocol: tcp, "
                                             "health_check: { interval: " + bad + ", timeout: 0.01 } }\n"),
                  (Lines{"t.yaml:5:75: services[0].health_check.interval: " + what + "\"" + bad + "\""}))
            << bad;
    }
    EXPECT_EQ(errors_of(two_interfaces + R"(services:
  - { vip: 10.0.0.100, port: 80, protocol: tcp, health_check: { interval: [1], timeout: {} } }
)"),
              (Lines{"t.yaml:5:75: services[0].health_check.interval: " + what + "a list",
                     "t.yaml:5:89: services[0].health_check.timeout: " + what + "an empty mapping"}));
}

TEST(ConfigHealthCheck, ALeadingPointIsAFractionOfASecond)
{
    const ConfigResult r = parse_config(two_interfaces + "services:\n  - { vip: 10.0.0.100, port: 80, protocol: tcp, "
                                                         "health_check: { interval: .5, timeout: .25 } }\n",
                                        "t.yaml");
    ASSERT_TRUE(r.config) << (r.errors.empty() ? "" : r.errors[0].to_string());
    EXPECT_EQ(r.config->services[0].health_check.interval_ms, 500u);
    EXPECT_EQ(r.config->services[0].health_check.timeout_ms, 250u);
}

TEST(ConfigHealthCheck, TheDefaultTimeoutIsNeverLongerThanTheInterval)
{
    const ConfigResult r = parse_config(two_interfaces + R"(services:
  - vip: 10.0.0.100
    port: 80
    protocol: tcp
    health_check: { interval: 1 }
    real_servers:
      - { address: 10.0.0.2, health_check: { interval: 0.2 } }
      - { address: 10.0.0.3 }
  - vip: 10.0.0.100
    port: 81
    protocol: tcp
    health_check: { interval: 10, timeout: 4 }
    real_servers:
      - { address: 10.0.0.2, health_check: { interval: 6 } }
)",
                                        "t.yaml");
    ASSERT_TRUE(r.config) << (r.errors.empty() ? "" : r.errors[0].to_string());
    const auto& s = r.config->services;
    EXPECT_EQ(s[0].health_check.timeout_ms, 1000u);
    EXPECT_EQ(s[0].real_servers[0].health_check.timeout_ms, 200u);
    EXPECT_EQ(s[0].real_servers[1].health_check.timeout_ms, 1000u);
    // A timeout the file gave is kept, and checked against the real server's own interval.
    EXPECT_EQ(s[1].real_servers[0].health_check.timeout_ms, 4000u);
    EXPECT_EQ(s[1].real_servers[0].health_check.interval_ms, 6000u);
}

TEST(ConfigHealthCheck, QuotedSecondsAreAStringAndNothingElseIsBlamed)
{
    // As for every integer in the file: "2.1" in quotes is a string in YAML, and the message says
    // so (or it would read "expected a number ..., found 2.1"). The timeout that could not be read
    // is not then compared with the interval as if it were the 3 s default.
    EXPECT_EQ(errors_of(two_interfaces + R"(services:
  - { vip: 10.0.0.100, port: 80, protocol: tcp, health_check: { interval: 2.125, timeout: "2.1" } }
)"),
              (Lines{"t.yaml:5:91: services[0].health_check.timeout: expected a number of seconds from 0.01 to "
                     "3600 (like 1 or 0.5), found a quoted string \"2.1\""}));
}

TEST(ConfigHealthCheck, ExpectStatusErrors)
{
    const std::string what =
        "expected an HTTP status (100 to 599), a range like \"200-299\", or a list of them, found ";
    EXPECT_EQ(errors_of(two_interfaces + R"(services:
  - vip: 10.0.0.100
    port: 80
    protocol: tcp
    health_check: { type: http, interval: 1, timeout: 1 }
    real_servers:
      - { address: 172.16.0.2, health_check: { http: { expect_status: 600 } } }
      - { address: 172.16.0.3, health_check: { http: { expect_status: "299-200" } } }
      - { address: 172.16.0.4, health_check: { http: { expect_status: 99 } } }
      - { address: 172.16.0.5, health_check: { http: { expect_status: "2xx" } } }
      - { address: 172.16.0.6, health_check: { http: { expect_status: "200-" } } }
      - { address: 172.16.0.7, health_check: { http: { expect_status: [200, "600"] } } }
      - { address: 172.16.0.8, health_check: { http: { expect_status: [] } } }
      - { address: 172.16.0.9, health_check: { http: { expect_status: { ok: 200 } } } }
      - { address: 172.16.0.10, health_check: { http: { expect_status: "200,,201" } } }
)"),
              (Lines{
                  "t.yaml:10:71: services[0].real_servers[0].health_check.http.expect_status: " + what + "\"600\"",
                  "t.yaml:11:71: services[0].real_servers[1].health_check.http.expect_status: " + what + "\"299-200\"",
                  "t.yaml:12:71: services[0].real_servers[2].health_check.http.expect_status: " + what + "\"99\"",
                  "t.yaml:13:71: services[0].real_servers[3].health_check.http.expect_status: " + what + "\"2xx\"",
                  "t.yaml:14:71: services[0].real_servers[4].health_check.http.expect_status: " + what + "\"200-\"",
                  "t.yaml:15:77: services[0].real_servers[5].health_check.http.expect_status[1]: " + what + "\"600\"",
                  "t.yaml:16:71: services[0].real_servers[6].health_check.http.expect_status: " + what +
                      "an empty list",
                  "t.yaml:17:71: services[0].real_servers[7].health_check.http.expect_status: " + what +
                      "a mapping",
                  "t.yaml:18:72: services[0].real_servers[8].health_check.http.expect_status: " + what +
                      "\"200,,201\"",
              }));
}

TEST(ConfigHealthCheck, BadRegexInExpectBody)
{
    const Lines errors = errors_of(two_interfaces + R"(services:
  - vip: 10.0.0.100
    port: 80
    protocol: tcp
    health_check: { type: http, interval: 1, timeout: 1, http: { expect_body: "(ok" } }
)");
    ASSERT_EQ(errors.size(), 1u);
    // The rest is what std::regex says is wrong.
    const std::string start = "t.yaml:8:79: services[0].health_check.http.expect_body: expected a regular expression "
                              "(ECMAScript), found \"(ok\": ";
    EXPECT_TRUE(errors[0].starts_with(start)) << errors[0];
    EXPECT_GT(errors[0].size(), start.size()) << errors[0];
    for (const char* bad : {"[a-", "a{2,1}", "*x", "x)"}) {
        const Lines e = errors_of(two_interfaces + "services:\n  - { vip: 10.0.0.100, port: 80, protocol: tcp, "
                                                   "health_check: { type: http, interval: 1, timeout: 1, http: { "
                                                   "expect_body: \"" + bad + "\" } } }\n");
        ASSERT_EQ(e.size(), 1u) << bad;
        EXPECT_TRUE(e[0].starts_with("t.yaml:5:123: services[0].health_check.http.expect_body: expected a regular "
                                     "expression (ECMAScript), found \"" + std::string(bad) + "\": "))
            << e[0];
    }
}

// ---------------------------------------------------------------------------------------------
// Sorry servers

TEST(ConfigSorryServer, AddressAndPortDefaultingToTheVirtualPort)
{
    const Config c = good(two_interfaces + R"(routes:
  - { dst: 198.51.100.0/24, via: 10.0.0.254 }
services:
  - vip: 10.0.0.100
    port: 80
    protocol: tcp
    sorry_server: { address: 172.16.0.9 }
    real_servers: [{ address: 172.16.0.2, port: 8080 }]
  - vip: 10.0.0.100
    port: 443
    protocol: tcp
    sorry_server: { address: 198.51.100.7, port: 8443 }
  - vip: 10.0.0.100
    port: 53
    protocol: udp
    sorry_server: { address: 172.16.0.2 }
    real_servers: [{ address: 172.16.0.2, port: 5353 }]
  - { vip: 10.0.0.100, port: 8080, protocol: tcp }
)");
    ASSERT_EQ(c.services.size(), 4u);
    ASSERT_TRUE(c.services[0].sorry_server.has_value());
    EXPECT_EQ(c.services[0].sorry_server->address, ip("172.16.0.9"));
    EXPECT_EQ(c.services[0].sorry_server->port, 80);
    ASSERT_TRUE(c.services[1].sorry_server.has_value());
    EXPECT_EQ(c.services[1].sorry_server->address, ip("198.51.100.7"));  // through the route
    EXPECT_EQ(c.services[1].sorry_server->port, 8443);
    // The address of a real server, on another port: a different server.
    ASSERT_TRUE(c.services[2].sorry_server.has_value());
    EXPECT_EQ(c.services[2].sorry_server->address, ip("172.16.0.2"));
    EXPECT_EQ(c.services[2].sorry_server->port, 53);
    EXPECT_FALSE(c.services[3].sorry_server.has_value());
}

TEST(ConfigSorryServer, Errors)
{
    EXPECT_EQ(errors_of(two_interfaces + R"(services:
  - vip: 10.0.0.100
    port: 80
    protocol: tcp
    sorry_server: { address: 172.16.0.2 }
    real_servers: [{ address: 172.16.0.2 }]
  - vip: 10.0.0.100
    port: 81
    protocol: tcp
    sorry_server: { address: 172.16.0.3, port: 8081 }
    real_servers: [{ address: 172.16.0.3, port: 8081 }]
  - { vip: 10.0.0.100, port: 82, protocol: tcp, sorry_server: { address: 192.0.2.1 } }
  - { vip: 10.0.0.100, port: 83, protocol: tcp, sorry_server: { address: 172.16.0.1 } }
  - { vip: 10.0.0.100, port: 84, protocol: tcp, sorry_server: { address: 10.0.0.1, port: 8080 } }
  - { vip: 10.0.0.100, port: 85, protocol: tcp, sorry_server: { port: 8080 } }
  - { vip: 10.0.0.100, port: 86, protocol: tcp, sorry_server: { address: 172.16.0.4, port: 0, weight: 1 } }
  - { vip: 10.0.0.100, port: 87, protocol: tcp, sorry_server: 172.16.0.4 }
  - { vip: 10.0.0.100, port: 88, protocol: tcp, sorry_server: { address: 224.0.0.1 } }
)"),
              (Lines{
                  "t.yaml:8:30: services[0].sorry_server.address: sorry server 172.16.0.2:80 is also a real server "
                  "of this service",
                  "t.yaml:13:30: services[1].sorry_server.address: sorry server 172.16.0.3:8081 is also a real "
                  "server of this service",
                  "t.yaml:15:74: services[2].sorry_server.address: expected an address in a connected subnet or "
                  "covered by a route, found \"192.0.2.1\", which no interface or route reaches",
                  "t.yaml:16:74: services[3].sorry_server.address: expected a sorry server's address, found "
                  "\"172.16.0.1\", this director's own address on interface int",
                  "t.yaml:17:74: services[4].sorry_server.address: expected a sorry server's address, found "
                  "\"10.0.0.1\", this director's own address on interface ext",
                  "t.yaml:18:63: services[5].sorry_server: missing required key \"address\" in sorry_server",
                  "t.yaml:19:92: services[6].sorry_server.port: expected an integer from 1 to 65535, found \"0\"",
                  "t.yaml:19:95: services[6].sorry_server: unknown key \"weight\" in sorry_server (expected one of: "
                  "address, port)",
                  "t.yaml:20:63: services[7].sorry_server: expected a mapping (keys: address, port), found "
                  "\"172.16.0.4\"",
                  "t.yaml:21:74: services[8].sorry_server.address: expected a unicast IPv4 address, found "
                  "\"224.0.0.1\", a multicast address",
              }));
}

// ---------------------------------------------------------------------------------------------
// Written back as YAML

namespace {

// Everything issue 7 added, in one file: kernel interfaces (default, named, none), checks of
// every kind with per-real-server overrides, and sorry servers.
const std::string health_file = R"(interfaces:
  - { name: ext, device: net_tap0, address: 10.0.0.1/24 }
  - { name: int, device: net_tap1, address: 172.16.0.1/24, kernel_interface: tap-int }
  - { name: mgmt, device: net_tap2, address: 192.168.0.1/24, kernel_interface: false }
routes:
  - { dst: 198.51.100.0/24, via: 10.0.0.254 }
services:
  - vip: 10.0.0.100
    port: 80
    protocol: tcp
    health_check:
      type: http
      port: 8080
      interval: 1.25
      timeout: 0.075
      rise: 3
      fall: 4
      on_failure: quiesce
      http: { path: "/health?x=1", host: www.example.org, expect_status: [200, "301-302"],
              expect_body: "^ok\\s+\"[a-z]+\"$" }
    sorry_server: { address: 198.51.100.7 }
    real_servers:
      - { address: 172.16.0.2, weight: 3 }
      - { address: 172.16.0.3, health_check: { fall: 1, http: { path: /other } } }
      - { address: 172.16.0.4, health_check: { type: tcp, interval: 0.5, timeout: 0.125 } }
  - vip: 10.0.0.100
    port: 53
    protocol: udp
    health_check: { type: tcp, port: 53, interval: 2, timeout: 1, on_failure: remove }
    sorry_server: { address: 172.16.0.9, port: 5353 }
    real_servers:
      - { address: 172.16.0.2 }
      - { address: 172.16.0.3, health_check: { on_failure: quiesce } }
  - vip: 10.0.0.101
    port: 80
    protocol: tcp
    real_servers:
      - { address: 172.16.0.2 }
      - { address: 172.16.0.3, health_check: { type: http, interval: 3, timeout: 2.5, http: { expect_status: 204 } } }
)";

void expect_same_health(const Config& a, const Config& b)
{
    ASSERT_EQ(a.interfaces.size(), b.interfaces.size());
    for (size_t i = 0; i < a.interfaces.size(); ++i) {
        EXPECT_EQ(a.interfaces[i].name, b.interfaces[i].name);
        EXPECT_EQ(a.interfaces[i].kernel_interface, b.interfaces[i].kernel_interface) << a.interfaces[i].name;
    }
    ASSERT_EQ(a.services.size(), b.services.size());
    for (size_t i = 0; i < a.services.size(); ++i) {
        const ServiceConfig& s = a.services[i];
        const ServiceConfig& t = b.services[i];
        EXPECT_EQ(s.vip, t.vip);
        EXPECT_EQ(s.port, t.port);
        EXPECT_EQ(s.health_check, t.health_check) << "service " << i;
        EXPECT_EQ(s.sorry_server, t.sorry_server) << "service " << i;
        ASSERT_EQ(s.real_servers.size(), t.real_servers.size());
        for (size_t j = 0; j < s.real_servers.size(); ++j) {
            EXPECT_EQ(s.real_servers[j].address, t.real_servers[j].address);
            EXPECT_EQ(s.real_servers[j].weight, t.real_servers[j].weight);
            EXPECT_EQ(s.real_servers[j].health_check, t.real_servers[j].health_check)
                << "service " << i << " real server " << j;
            EXPECT_EQ(s.real_servers[j].health_check_overridden, t.real_servers[j].health_check_overridden)
                << "service " << i << " real server " << j;
        }
    }
}

}  // namespace

TEST(ConfigYaml, HealthChecksKernelInterfacesAndSorryServersReadBackTheSame)
{
    const Config first = good(health_file);
    ASSERT_EQ(first.services.size(), 3u);
    // What the file says, before comparing it with itself.
    EXPECT_EQ(first.interfaces[0].kernel_interface, "fl-ext");
    EXPECT_EQ(first.interfaces[1].kernel_interface, "tap-int");
    EXPECT_EQ(first.interfaces[2].kernel_interface, "");
    EXPECT_EQ(first.services[0].health_check.timeout_ms, 75u);
    EXPECT_EQ(first.services[0].health_check.http.expect_body, "^ok\\s+\"[a-z]+\"$");
    EXPECT_EQ(first.services[0].sorry_server, (SorryServerConfig{ip("198.51.100.7"), 80}));
    EXPECT_EQ(first.services[0].real_servers[1].health_check.http.path, "/other");
    EXPECT_EQ(first.services[0].real_servers[1].health_check.http.host, "www.example.org");
    EXPECT_EQ(first.services[0].real_servers[2].health_check.timeout_ms, 125u);
    EXPECT_EQ(first.services[1].real_servers[1].health_check.on_failure, OnFailure::quiesce);
    EXPECT_EQ(first.services[1].real_servers[1].health_check.port, 53);
    EXPECT_EQ(first.services[2].real_servers[1].health_check.timeout_ms, 2500u);

    const std::string text = config_to_yaml(first);
    const ConfigResult second = parse_config(text, "written.yaml");
    for (const auto& e : second.errors) ADD_FAILURE() << e.to_string() << "\n" << text;
    ASSERT_TRUE(second.config);
    expect_same_health(first, *second.config);
    EXPECT_EQ(config_to_yaml(*second.config), text);  // a fixed point
    EXPECT_TRUE(check_config(first, "console").empty());
}

TEST(ConfigYaml, HttpCheckWithTheDefaultStatusesReadsBack)
{
    // No expect_status: the default 200-299 (an empty list in HttpCheckConfig).
    const Config first = good(two_interfaces + R"(services:
  - vip: 10.0.0.100
    port: 80
    protocol: tcp
    health_check: { type: http, interval: 1, timeout: 0.5, http: { path: /health } }
    real_servers: [{ address: 172.16.0.2 }, { address: 172.16.0.3, health_check: { type: http } }]
)");
    ASSERT_EQ(first.services.size(), 1u);
    EXPECT_TRUE(first.services[0].health_check.http.expect_status.empty());
    const std::string text = config_to_yaml(first);
    const ConfigResult second = parse_config(text, "written.yaml");
    for (const auto& e : second.errors) ADD_FAILURE() << e.to_string() << "\n" << text;
    ASSERT_TRUE(second.config);
    expect_same_health(first, *second.config);
    // A console edit of a running configuration is checked through this same round trip.
    EXPECT_TRUE(check_config(first, "console").empty());
}

TEST(ConfigYaml, KernelInterfaceNamedLikeABooleanReadsBack)
{
    // Quoted, "false" is a name (the checker says so: only a plain false means none).
    const Config first = good(R"(interfaces:
  - { name: ext, device: net_tap0, address: 10.0.0.1/24, kernel_interface: "false" }
  - { name: int, device: net_tap1, address: 10.0.1.1/24, kernel_interface: "true" }
)");
    ASSERT_EQ(first.interfaces.size(), 2u);
    EXPECT_EQ(first.interfaces[0].kernel_interface, "false");
    const ConfigResult second = parse_config(config_to_yaml(first), "written.yaml");
    ASSERT_TRUE(second.config);
    expect_same_health(first, *second.config);
}

TEST(ConfigApi, LabHealthExampleHasWhatItsCommentsSay)
{
    const ConfigResult r = load_config_file("../../conf/lab-health.yaml");
    ASSERT_TRUE(r.config.has_value());
    const Config& c = *r.config;
    ASSERT_EQ(c.interfaces.size(), 2u);
    EXPECT_EQ(c.interfaces[0].kernel_interface, "fl-ext");
    EXPECT_EQ(c.interfaces[1].kernel_interface, "fl-int");
    ASSERT_EQ(c.services.size(), 2u);
    const HealthCheckConfig& web = c.services[0].health_check;
    EXPECT_EQ(web.type, HealthCheckType::http);
    EXPECT_EQ(web.interval_ms, 1000u);
    EXPECT_EQ(web.timeout_ms, 500u);
    EXPECT_EQ(web.fall, 2u);
    EXPECT_EQ(web.rise, 2u);
    EXPECT_EQ(web.http.path, "/health");
    EXPECT_EQ(web.http.expect_status, (std::vector<StatusRange>{{200, 299}}));
    EXPECT_EQ(web.http.expect_body, "^ok");
    EXPECT_EQ(c.services[0].sorry_server, (SorryServerConfig{ip("198.19.0.13"), 8080}));
    ASSERT_EQ(c.services[0].real_servers.size(), 3u);
    EXPECT_EQ(c.services[0].real_servers[0].health_check.on_failure, OnFailure::remove);
    EXPECT_EQ(c.services[0].real_servers[2].health_check.on_failure, OnFailure::quiesce);
    EXPECT_EQ(c.services[0].real_servers[2].health_check.http.expect_body, "^ok");
    EXPECT_EQ(c.services[1].health_check.type, HealthCheckType::tcp);
    EXPECT_EQ(c.services[1].health_check.port, 80);
    EXPECT_EQ(c.services[1].real_servers[0].health_check.port, 80);
}

TEST(ConfigKernelInterface, PortsAndTapQueuesAreBounded)
{
    EXPECT_EQ(errors_of(R"(dataplane: { workers: 17 }
interfaces:
  - { name: a, device: net_null0, address: 10.0.0.1/24 }
  - { name: b, device: net_null1, address: 10.0.1.1/24, kernel_interface: false }
)"),
              (Lines{"t.yaml:3:5: interfaces[0]: kernel interface fl-a would need a queue per worker (17); a TAP "
                     "interface has at most 16"}));
    EXPECT_EQ(errors_of(R"(interfaces:
  - { name: a, device: net_null0, address: 10.0.0.1/24 }
  - { name: b, device: net_null1, address: 10.0.1.1/24 }
  - { name: c, device: net_null2, address: 10.0.2.1/24 }
  - { name: d, device: net_null3, address: 10.0.3.1/24, kernel_interface: false }
  - { name: e, device: net_null4, address: 10.0.4.1/24 }
)"),
              (Lines{"t.yaml:6:5: interfaces[4]: the devices and the kernel interfaces need 9 or more ports; at "
                     "most 8 are supported (kernel_interface: false saves one)"}));
}

TEST(ConfigHealthCheck, ChecksNeedAPathAndUdpServicesAPort)
{
    EXPECT_EQ(errors_of(R"(interfaces:
  - { name: ext, device: net_null0, address: 10.0.0.1/24 }
  - { name: int, device: net_null1, address: 10.0.1.1/24, kernel_interface: false }
routes:
  - { dst: 192.0.2.0/24, via: 10.0.1.254 }
services:
  - vip: 10.0.0.100
    port: 53
    protocol: udp
    health_check: { type: tcp }
    real_servers:
      - { address: 10.0.0.2 }
      - { address: 10.0.1.2, health_check: { port: 53 } }
      - { address: 192.0.2.9, health_check: { port: 53 } }
  - vip: 10.0.0.100
    port: 54
    protocol: udp
    real_servers:
      - { address: 10.0.0.2, health_check: { type: http } }
      - { address: 10.0.0.3, health_check: { port: 54 } }
)"),
              (Lines{"t.yaml:10:19: services[0].health_check: the checks are made over TCP: a UDP service's "
                     "health_check needs a port",
                     "t.yaml:13:9: services[0].real_servers[1]: real server 10.0.1.2 is health-checked, but interface "
                     "int, which reaches it, has kernel_interface: false: the checks could not reach it",
                     "t.yaml:14:9: services[0].real_servers[2]: real server 192.0.2.9 is health-checked, but interface "
                     "int, which reaches it, has kernel_interface: false: the checks could not reach it",
                     "t.yaml:19:44: services[1].real_servers[0].health_check: the checks are made over TCP: a UDP "
                     "service's health_check needs a port"}));
}

TEST(ConfigHealthCheck, BodyRegexesAreBoundedForTheControlCore)
{
    auto with_body = [](const std::string& regex) {
        return errors_of(two_interfaces + "services:\n  - { vip: 10.0.0.100, port: 80, protocol: tcp, health_check: "
                                          "{ type: http, http: { expect_body: '" + regex + "' } } }\n");
    };
    EXPECT_EQ(with_body("a{2,5}b{3}"), Lines{});           // 5 x 3 = 15
    EXPECT_EQ(with_body("\\{999}[{999}]x"), Lines{});      // literal braces
    EXPECT_EQ(with_body(std::string(64, 'o')), Lines{});
    EXPECT_EQ(with_body("a{0,200}b"),
              (Lines{"t.yaml:5:98: services[0].health_check.http.expect_body: expected a regular expression whose "
                     "counted repeats ({n,m}) multiply to at most 32, found \"a{0,200}b\", whose repeats multiply to "
                     "200"}));
    EXPECT_EQ(with_body("((a{0,8}){0,8})b"),
              (Lines{"t.yaml:5:98: services[0].health_check.http.expect_body: expected a regular expression whose "
                     "counted repeats ({n,m}) multiply to at most 32, found \"((a{0,8}){0,8})b\", whose repeats "
                     "multiply to 64"}));
    EXPECT_EQ(with_body(std::string(65, 'o')),
              (Lines{"t.yaml:5:98: services[0].health_check.http.expect_body: expected a regular expression of at "
                     "most 64 characters, found 65 characters"}));
}

TEST(ConfigDataplane, KernelRateLimit)
{
    EXPECT_EQ(good("dataplane: { kernel_rate_limit: 100 }\n" + two_interfaces).dataplane.kernel_rate_limit, 100u);
    EXPECT_EQ(good(two_interfaces).dataplane.kernel_rate_limit, 20000u);
    EXPECT_EQ(errors_of("dataplane: { kernel_rate_limit: 99 }\n" + two_interfaces),
              (Lines{"t.yaml:1:33: dataplane.kernel_rate_limit: expected an integer from 100 to 10000000, found "
                     "\"99\""}));
}

TEST(ConfigDataplane, SloppyTcp)
{
    EXPECT_FALSE(good(two_interfaces).dataplane.sloppy_tcp);
    const Config c = good("dataplane: { sloppy_tcp: true }\n" + two_interfaces);
    EXPECT_TRUE(c.dataplane.sloppy_tcp);
    EXPECT_NE(config_to_yaml(c).find("sloppy_tcp: true"), std::string::npos);
    EXPECT_EQ(errors_of("dataplane: { sloppy_tcp: \"true\" }\n" + two_interfaces),
              (Lines{"t.yaml:1:26: dataplane.sloppy_tcp: expected true or false, found \"true\""}));
}

TEST(ConfigDataplane, DefencesTakeIpvsLevels)
{
    const Config c = good("dataplane: { conn_table_size: 4096, drop_entry: 1, drop_packet: 3, secure_tcp: 2, "
                          "flood_mode: 1, amemthresh: 4095, am_droprate: 7 }\n" + two_interfaces);
    EXPECT_EQ(c.dataplane.defense, (DefenseSettings{1, 3, 2, 1, 4095, 7}));
    EXPECT_EQ(good(two_interfaces).dataplane.defense, (DefenseSettings{0, 0, 0, 0, 0, 10}));
    EXPECT_EQ(errors_of("dataplane: { drop_entry: 4, secure_tcp: -1, conn_table_size: 1024, amemthresh: 1024, "
                        "am_droprate: 0 }\n" + two_interfaces),
              (Lines{"t.yaml:1:26: dataplane.drop_entry: expected an integer from 0 to 3, found \"4\"",
                     "t.yaml:1:41: dataplane.secure_tcp: expected an integer from 0 to 3, found \"-1\"",
                     "t.yaml:1:80: dataplane.amemthresh: expected free connection slots, from 1 to 1023 "
                     "(conn_table_size - 1), found \"1024\"",
                     "t.yaml:1:99: dataplane.am_droprate: expected an integer from 1 to 1000000, found \"0\""}));
}

TEST(ConfigErrors, AVipThatIsTheDirectorsOwnAddressIsRefused)
{
    EXPECT_EQ(errors_of(two_interfaces + R"(services:
  - { vip: 172.16.0.1, port: 80, protocol: tcp, real_servers: [{ address: 172.16.0.2 }] }
  - { vip: 10.0.0.2, port: 80, protocol: tcp, real_servers: [{ address: 172.16.0.2 }] }
)"),
              (Lines{"t.yaml:5:12: services[0].vip: expected a virtual address, found \"172.16.0.1\", this director's "
                     "own address on interface int"}));
}

TEST(ConfigErrors, YamlAliasesAreRefusedBeforeTheyExpand)
{
    // Nine levels of nine aliases would be 387 million real servers from a few hundred bytes.
    std::string bomb = two_interfaces + "a0: &a0 { address: 172.16.0.2 }\n";
    for (int level = 1; level <= 9; ++level) {
        bomb += fmt::format("a{}: &a{} [", level, level);
        for (int i = 0; i < 9; ++i) bomb += fmt::format("{}*a{}", i ? ", " : "", level - 1);
        bomb += "]\n";
    }
    const Lines errors = errors_of(bomb);
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_EQ(errors[0], "t.yaml:5:10: YAML aliases (*name) are not accepted: write the value out where it is used");
    // An anchor that nothing refers to is harmless; an undefined alias stays a syntax error.
    EXPECT_EQ(errors_of(two_interfaces + "services: &s []\n"), Lines{});
    EXPECT_EQ(errors_of("interfaces: *missing\n"),
              (Lines{"t.yaml:1:13: YAML syntax error: the referenced anchor is not defined"}));
}

// ---------------------------------------------------------------------------------------------
// The text helpers every front end shares (control/text.hpp)

TEST(Text, QuoteEscapesWhatATerminalOrALogLineWouldTakeForItsOwn)
{
    EXPECT_EQ(quote("plain"), "\"plain\"");
    EXPECT_EQ(quote("a\"b\\c"), "\"a\\\"b\\\\c\"");
    EXPECT_EQ(quote("tab\tnew\nline"), "\"tab\\tnew\\nline\"");
    EXPECT_EQ(quote("\x01\x1b[2J\x7f"), "\"\\x01\\x1b[2J\\x7f\"");
    EXPECT_EQ(quote("\xc3\xa9\x9b"), "\"\\xc3\\xa9\\x9b\"");  // no 8-bit CSI, no half of a character
    EXPECT_EQ(quote(std::string(61, 'x')), "\"" + std::string(60, 'x') + "...\"");
    EXPECT_EQ(quote(std::string(60, 'x')), "\"" + std::string(60, 'x') + "\"");
}

TEST(Text, JoinAndDecimalNumbers)
{
    EXPECT_EQ(join(std::vector<std::string>{"a", "b", "c"}, ", "), "a, b, c");
    EXPECT_EQ(join(std::vector<std::string_view>{}, ", "), "");
    EXPECT_EQ(parse_decimal("0"), 0u);
    EXPECT_EQ(parse_decimal("18446744073709551615"), UINT64_MAX);
    for (std::string_view bad : {"", "18446744073709551616", "+1", "-1", " 1", "1 ", "0x10", "1e3", "１"})
        EXPECT_FALSE(parse_decimal(bad)) << bad;
    EXPECT_EQ(parse_number<uint16_t>("65535", 1, 65535), 65535);
    EXPECT_FALSE(parse_number<uint16_t>("65536", 1, 65535));
    EXPECT_FALSE(parse_number<uint16_t>("0", 1, 65535));
}

// ---------------------------------------------------------------------------------------------
// high_availability: and sync:

TEST(ConfigSync, OffUnlessGivenAndIpvsDefaults)
{
    const Config plain = good("interfaces:\n  - { name: int, device: net_tap0, address: 10.0.0.1/24 }\n");
    EXPECT_FALSE(plain.sync.enabled());
    EXPECT_EQ(plain.high_availability.vip_ownership, VipOwnership::always);

    const Config c = good(R"(interfaces:
  - { name: int, device: net_tap0, address: 10.0.0.1/24 }
high_availability: { vip_ownership: kernel }
sync: { role: both, interface: int }
)");
    EXPECT_TRUE(c.sync.master);
    EXPECT_TRUE(c.sync.backup);
    EXPECT_EQ(c.sync.interface, "int");
    EXPECT_EQ(c.sync.syncid, 0);
    EXPECT_EQ(c.sync.group, ip("224.0.0.81"));
    EXPECT_EQ(c.sync.port, 8848);
    EXPECT_EQ(c.sync.ttl, 1);
    EXPECT_EQ(c.sync.max_length, 1472);
    EXPECT_EQ(c.sync.full_refresh, 60u);
    EXPECT_EQ(c.high_availability.vip_ownership, VipOwnership::kernel);
    EXPECT_EQ(sync_role_name(c.sync), "both");

    const Config backup = good(R"(interfaces:
  - { name: int, device: net_tap0, address: 10.0.0.1/24, mtu: 1400 }
sync: { role: backup, interface: int, syncid: 7, group: 239.1.2.3, port: 9000, ttl: 2, full_refresh: 0 }
)");
    EXPECT_FALSE(backup.sync.master);
    EXPECT_TRUE(backup.sync.backup);
    EXPECT_EQ(backup.sync.syncid, 7);
    EXPECT_EQ(backup.sync.group, ip("239.1.2.3"));
    EXPECT_EQ(backup.sync.port, 9000);
    EXPECT_EQ(backup.sync.ttl, 2);
    EXPECT_EQ(backup.sync.max_length, 1372);  // left out: what one frame of a 1400-byte MTU carries
    EXPECT_EQ(backup.sync.full_refresh, 0u);
    EXPECT_EQ(sync_role_name(backup.sync), "backup");
    EXPECT_EQ(sync_role_name(good(R"(interfaces:
  - { name: int, device: net_tap0, address: 10.0.0.1/24 }
sync: { role: master, interface: int }
)").sync),
              "master");
}

TEST(ConfigSync, Errors)
{
    EXPECT_EQ(errors_of(R"(interfaces:
  - { name: int, device: net_tap0, address: 10.0.0.1/24, mtu: 1400 }
  - { name: ext, device: net_tap1, address: 10.0.1.1/24, kernel_interface: false }
high_availability: { vip_ownership: sometimes }
sync: { role: primary, interface: int, syncid: 256, group: 10.0.0.9, ttl: 0, max_length: 1400, full_refresh: 86401 }
)"),
              (Lines{
                  "t.yaml:4:37: high_availability.vip_ownership: unknown vip_ownership \"sometimes\" (expected one "
                  "of: always, kernel)",
                  "t.yaml:5:15: sync.role: unknown sync role \"primary\" (expected one of: master, backup, both)",
                  "t.yaml:5:48: sync.syncid: expected an integer from 0 to 255, found \"256\"",
                  "t.yaml:5:60: sync.group: expected an IPv4 multicast address (224.0.0.0/4), like 224.0.0.81, "
                  "found 10.0.0.9",
                  "t.yaml:5:75: sync.ttl: expected an integer from 1 to 255, found \"0\"",
                  "t.yaml:5:90: sync.max_length: 1400 bytes do not fit one frame of interface int (MTU 1400): at "
                  "most 1372",
                  "t.yaml:5:110: sync.full_refresh: expected an integer from 0 to 86400, found \"86401\"",
              }));
    EXPECT_EQ(errors_of(R"(interfaces:
  - { name: ext, device: net_tap1, address: 10.0.1.1/24, kernel_interface: false }
high_availability: { vip_ownership: kernel }
sync: { interface: ext }
)"),
              (Lines{
                  "t.yaml:3:37: high_availability.vip_ownership: vip_ownership kernel follows the addresses of the "
                  "kernel interfaces, and every interface has kernel_interface: false",
                  "t.yaml:4:7: sync: missing required key \"role\" in sync",
                  "t.yaml:4:20: sync.interface: interface ext has kernel_interface: false; sync is sent and "
                  "received by the kernel interface",
              }));
    EXPECT_EQ(errors_of(R"(interfaces:
  - { name: ext, device: net_tap1, address: 10.0.1.1/24 }
sync: { role: both, interface: int }
)"),
              (Lines{"t.yaml:3:32: sync.interface: unknown interface \"int\" (interfaces: ext)"}));
}

TEST(ConfigAnnounce, OffUnlessGivenDefaultsAndReadBack)
{
    EXPECT_FALSE(good("interfaces:\n  - { name: int, device: net_tap0, address: 10.0.0.1/24 }\n").announce.enabled());
    const Config c = good(R"(interfaces:
  - { name: ext, device: net_tap0, address: 10.0.0.1/24, kernel_interface: false }
  - { name: int, device: net_tap1, address: 10.0.1.1/24 }
announce: { table: 100 }
)");
    EXPECT_TRUE(c.announce.enabled());
    EXPECT_EQ(c.announce.table, 100u);
    EXPECT_EQ(c.announce.quorum, 1u);
    EXPECT_EQ(c.announce.interface, "int");  // the first with a kernel interface
    const Config d = good(R"(interfaces:
  - { name: ext, device: net_tap0, address: 10.0.0.1/24 }
  - { name: int, device: net_tap1, address: 10.0.1.1/24 }
announce: { table: 4000000000, quorum: 2, interface: int }
)");
    EXPECT_EQ(d.announce.table, 4000000000u);
    EXPECT_EQ(d.announce.quorum, 2u);
    EXPECT_EQ(d.announce.interface, "int");
    const ConfigResult again = parse_config(config_to_yaml(d), "written.yaml");
    ASSERT_TRUE(again.config);
    EXPECT_EQ(again.config->announce, d.announce);
}

TEST(ConfigAnnounce, Errors)
{
    EXPECT_EQ(errors_of(R"(interfaces:
  - { name: ext, device: net_tap0, address: 10.0.0.1/24 }
  - { name: int, device: net_tap1, address: 10.0.1.1/24, kernel_interface: false }
announce: { table: 254, quorum: 0, interface: int, prefix: 32 }
)"),
              (Lines{
                  "t.yaml:4:20: announce.table: expected a routing table of the director's own, not 253 (default), 254 "
                  "(main) or 255 (local), found 254",
                  "t.yaml:4:33: announce.quorum: expected an integer from 1 to 4096, found \"0\"",
                  "t.yaml:4:52: announce: unknown key \"prefix\" in announce (expected one of: table, quorum, interface)",
              }));
    EXPECT_EQ(errors_of(R"(interfaces:
  - { name: ext, device: net_tap0, address: 10.0.0.1/24 }
  - { name: int, device: net_tap1, address: 10.0.1.1/24, kernel_interface: false }
announce: { table: 100, interface: int }
)"),
              (Lines{"t.yaml:4:36: announce.interface: interface int has kernel_interface: false; the announced "
                     "routes go over the kernel interface"}));
    EXPECT_EQ(errors_of(R"(interfaces:
  - { name: ext, device: net_tap0, address: 10.0.0.1/24, kernel_interface: false }
announce: { table: 100, interface: wan }
)"),
              (Lines{"t.yaml:3:36: announce.interface: unknown interface \"wan\" (interfaces: ext)"}));
    EXPECT_EQ(errors_of(R"(interfaces:
  - { name: ext, device: net_tap0, address: 10.0.0.1/24, kernel_interface: false }
announce: { quorum: 1, table: 0 }
)"),
              (Lines{"t.yaml:3:31: announce.table: expected a routing table number from 1 to 4294967295, other than "
                     "253, 254 and 255 (the kernel's own), like 100, found \"0\""}));
    EXPECT_EQ(errors_of(R"(interfaces:
  - { name: ext, device: net_tap0, address: 10.0.0.1/24, kernel_interface: false }
announce: { table: 100 }
)"),
              (Lines{"t.yaml:3:11: announce: announce puts its routes over a kernel interface, and every interface "
                     "has kernel_interface: false"}));
}

// The kernel takes an IPv6 route only over an interface with IPv6 on, which the director keeps
// only where the interface has an IPv6 address.
TEST(ConfigAnnounce, AnIpv6VipNeedsAnIpv6AddressOnTheAnnounceInterface)
{
    const std::string services = R"(services:
  - vip: 198.51.100.1
    port: 80
    protocol: tcp
    real_servers: [{ address: 10.0.1.10, port: 80 }]
  - vip: "2001:db8:18::100"
    port: 80
    protocol: tcp
    forward: tun
    real_servers: [{ address: 10.0.1.10, port: 80 }]
)";
    const Config c = good(R"(interfaces:
  - { name: ext, device: net_tap0, address: [10.0.0.1/24, "2001:db8:18::1/64"] }
  - { name: int, device: net_tap1, address: 10.0.1.1/24 }
announce: { table: 100 }
)" + services);
    EXPECT_EQ(c.announce.interface, "ext");
    EXPECT_EQ(errors_of(R"(interfaces:
  - { name: ext, device: net_tap0, address: [10.0.0.1/24, "2001:db8:18::1/64"] }
  - { name: int, device: net_tap1, address: 10.0.1.1/24 }
announce: { table: 100, interface: int }
)" + services),
              (Lines{"t.yaml:4:36: announce.interface: the route to IPv6 VIP 2001:db8:18::100 needs IPv6 on kernel "
                     "interface fl-int, and interface int has no IPv6 address (the director keeps IPv6 off there): "
                     "give it one, or announce over an interface that has one"}));
    // The first interface with a kernel interface, when none is named.
    EXPECT_EQ(errors_of(R"(interfaces:
  - { name: int, device: net_tap1, address: 10.0.1.1/24 }
  - { name: ext, device: net_tap0, address: [10.0.0.1/24, "2001:db8:18::1/64"] }
announce: { table: 100 }
)" + services),
              (Lines{"t.yaml:4:11: announce: the route to IPv6 VIP 2001:db8:18::100 needs IPv6 on kernel interface "
                     "fl-int, and interface int has no IPv6 address (the director keeps IPv6 off there): give it one, "
                     "or announce over an interface that has one"}));
    // IPv4 VIPs alone need no IPv6 anywhere, and with announce off nothing is asked.
    good("interfaces:\n  - { name: int, device: net_tap1, address: 10.0.1.1/24 }\nannounce: { table: 100 }\n" +
         services.substr(0, services.find("  - vip: \"2001")));
    good("interfaces:\n  - { name: int, device: net_tap1, address: 10.0.1.1/24 }\n" + services);
}

TEST(ConfigYaml, SyncAndHighAvailabilityReadBackTheSame)
{
    const Config first = good(R"(interfaces:
  - { name: int, device: net_tap0, address: 10.0.0.1/24 }
high_availability: { vip_ownership: kernel }
sync: { role: master, interface: int, syncid: 3, group: 239.0.0.1, port: 9999, ttl: 4, max_length: 1000, full_refresh: 30 }
)");
    const std::string text = config_to_yaml(first);
    const ConfigResult second = parse_config(text, "written.yaml");
    for (const auto& e : second.errors) ADD_FAILURE() << e.to_string() << "\n" << text;
    ASSERT_TRUE(second.config);
    EXPECT_EQ(second.config->sync, first.sync);
    EXPECT_EQ(second.config->high_availability, first.high_availability);
    EXPECT_EQ(config_to_yaml(*second.config), text);
    // Left out when off or at the default.
    const std::string plain = config_to_yaml(good("interfaces:\n  - { name: int, device: net_tap0, address: 10.0.0.1/24 }\n"));
    EXPECT_EQ(plain.find("sync"), std::string::npos);
    EXPECT_EQ(plain.find("high_availability"), std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// console: the administrator's Unix socket by default, the TCP listener only when asked for, and
// beyond loopback only with a second word.

TEST(ConfigConsole, DefaultsAreTheUnixSocketAlone)
{
    const Config c = good(two_interfaces);
    EXPECT_EQ(c.console.socket, "/run/fulcrum/console.sock");
    EXPECT_EQ(c.console.group, "");
    EXPECT_EQ(c.console.listen, "");
    EXPECT_FALSE(c.console.allow_remote);

    const Config set = good(two_interfaces + R"(console:
  socket: /run/fulcrum/b.sock
  group: lvs-admin
  listen: "127.0.0.2:9023"
)");
    EXPECT_EQ(set.console.socket, "/run/fulcrum/b.sock");
    EXPECT_EQ(set.console.group, "lvs-admin");
    EXPECT_EQ(set.console.listen, "127.0.0.2:9023");
    EXPECT_EQ(good(two_interfaces + "console: { socket: \"\" }\n").console.socket, "");

    const Config remote = good(two_interfaces + "console: { listen: \"10.0.0.1:9023\", allow_remote: true }\n");
    EXPECT_EQ(remote.console.listen, "10.0.0.1:9023");
    EXPECT_TRUE(remote.console.allow_remote);
    // The writer's text reads back to the same.
    EXPECT_EQ(good(config_to_yaml(set)).console, set.console);
    EXPECT_EQ(good(config_to_yaml(remote)).console, remote.console);
}

TEST(ConfigConsole, MistakesAreRefusedWithTheirPlace)
{
    EXPECT_EQ(errors_of(two_interfaces + "console: { listen: \"0.0.0.0:9023\" }\n"),
              (Lines{"t.yaml:4:20: console.listen: 0.0.0.0:9023 is not a loopback address: anyone who "
                     "reaches it can change the director without a password; set console.allow_remote: true to allow it"}));
    EXPECT_EQ(errors_of(two_interfaces + "console: { socket: run/console.sock, group: \"-x\" }\n"),
              (Lines{"t.yaml:4:20: console.socket: expected an absolute path of at most 107 bytes like "
                     "\"/run/fulcrum/console.sock\", or \"\" for off, found \"run/console.sock\"",
                     "t.yaml:4:45: console.group: expected a group name of letters, digits, '_', '-' and '.', not "
                     "starting with '-', found \"-x\""}));
    EXPECT_EQ(errors_of(two_interfaces + "console: { socket: /" + std::string(107, 'a') + " }\n").size(), 1u);
    EXPECT_EQ(errors_of(two_interfaces + "console: { allow_remote: sometimes }\n").size(), 1u);
    EXPECT_EQ(errors_of(two_interfaces + "console: { password: x }\n").size(), 1u);
}

// 802.1Q: one device carries an interface per VLAN and one untagged, all with the same device
// string, MTU and queues.
TEST(ConfigGood, VlansOfOneDevice)
{
    const Config c = good(R"(interfaces:
  - { name: ext, device: "net_af_packet0,iface=trunk", address: 10.0.0.1/24 }
  - { name: v100, device: "net_af_packet0,iface=trunk", vlan: 100, address: 10.100.0.1/24 }
  - { name: v200, device: "net_af_packet0,iface=trunk", vlan: 200, address: 10.200.0.1/24, kernel_interface: false }
)");
    ASSERT_EQ(c.interfaces.size(), 3u);
    EXPECT_EQ(c.interfaces[0].vlan, 0u);
    EXPECT_EQ(c.interfaces[1].vlan, 100u);
    EXPECT_EQ(c.interfaces[2].vlan, 200u);
    EXPECT_EQ(c.interfaces[1].kernel_interface, "fl-v100");
}

TEST(ConfigErrors, VlansOfOneDeviceAreOnePort)
{
    EXPECT_EQ(errors_of(R"(interfaces:
  - { name: v100, device: "net_af_packet0,iface=trunk", vlan: 100, address: 10.100.0.1/24 }
  - { name: again, device: "net_af_packet0,iface=trunk", vlan: 100, address: 10.101.0.1/24 }
  - { name: other, device: "net_af_packet0,iface=trunk,qpairs=2", vlan: 200, address: 10.200.0.1/24 }
  - { name: jumbo, device: "net_af_packet0,iface=trunk", vlan: 300, address: 10.30.0.1/24, mtu: 9000 }
  - { name: zero, device: net_tap1, vlan: 0, address: 10.40.0.1/24 }
  - { name: big, device: net_tap2, vlan: 4095, address: 10.50.0.1/24 }
)"),
              (Lines{
                  "t.yaml:3:28: interfaces[1].device: duplicate device \"net_af_packet0\" VLAN 100 (first defined at "
                  "line 2)",
                  "t.yaml:4:28: interfaces[2].device: device \"net_af_packet0,iface=trunk,qpairs=2\" is interface "
                  "v100's too, as \"net_af_packet0,iface=trunk\": the interfaces of one device give the same device "
                  "string",
                  "t.yaml:5:28: interfaces[3].device: interface jumbo shares device \"net_af_packet0,iface=trunk\" "
                  "with interface v100, whose mtu (1500) or queues (0) differ from these (9000, 0): the VLANs of a "
                  "device share its port",
                  "t.yaml:6:43: interfaces[4].vlan: expected an integer from 1 to 4094, found \"0\"",
                  "t.yaml:7:42: interfaces[5].vlan: expected an integer from 1 to 4094, found \"4095\"",
              }));
}
