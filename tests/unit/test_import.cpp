// `fulcrum import`: keepalived.conf and ldirectord.cf turned into services that Fulcrum's own
// checker accepts, with the values carried over and what was not said in comments; malformed
// files refused at the right line and column. Runs with tests/unit as its working directory
// (the samples are in import/).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "control/config/config.hpp"
#include "control/import/import.hpp"

using namespace fulcrum;
using namespace fulcrum::control;
using namespace fulcrum::control::migration;

namespace {

// Interfaces and a route that reach every address of the samples, as an operator would add them.
const std::string network = R"(interfaces:
  - { name: ext, device: "net_null0", address: [192.168.200.1/24, 192.168.6.1/24] }
  - { name: int, device: "net_null1", address: [10.20.0.1/24, 2001:db8::fe/64] }
routes:
  - { dst: 10.0.0.0/8, via: 10.20.0.254 }
)";

std::vector<std::string> error_lines(const ImportResult& r)
{
    std::vector<std::string> out;
    for (const ConfigError& e : r.errors) out.push_back(e.to_string());
    return out;
}

// The import of a sample, which must succeed.
std::string imported(std::string_view kind, const std::string& path)
{
    const ImportResult r = import_file(*find_import_kind(kind), path);
    for (const std::string& e : error_lines(r)) ADD_FAILURE() << e;
    return r.yaml;
}

// The imported YAML with the network above: loaded and checked by the daemon's own checker.
Config loaded(const std::string& yaml)
{
    const ConfigResult r = parse_config(network + yaml, "imported.yaml");
    for (const ConfigError& e : r.errors) ADD_FAILURE() << e.to_string() << "\n" << network + yaml;
    return r.config.value_or(Config{});
}

const ServiceConfig* service(const Config& c, const char* vip, uint16_t port, Protocol protocol = Protocol::tcp)
{
    for (const ServiceConfig& s : c.services)
        if (s.vip == *parse_ip(vip) && s.port == port && s.protocol == protocol) return &s;
    ADD_FAILURE() << "no service " << vip << ":" << port;
    return nullptr;
}

const RealServerConfig* real(const ServiceConfig* s, const char* address, uint16_t port)
{
    if (s != nullptr)
        for (const RealServerConfig& rs : s->real_servers)
            if (rs.address == *parse_ipv4(address) && rs.port == port) return &rs;
    ADD_FAILURE() << "no real server " << address << ":" << port;
    return nullptr;
}

// The lines every import starts with.
std::string header(const std::string& kind, const std::string& file)
{
    return "# Fulcrum services imported by `fulcrum import " + kind + " " + file + "`.\n" +
           "# Add the interfaces (and routes) that reach these addresses, then check the file with\n"
           "# `fulcrum --check --config FILE`. Comments say what could not be carried over, and why.\n";
}

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST(ImportKinds, TableNamesEachImporter)
{
    ASSERT_NE(find_import_kind("keepalived"), nullptr);
    ASSERT_NE(find_import_kind("ldirectord"), nullptr);
    ASSERT_NE(find_import_kind("ipvsadm"), nullptr);
    EXPECT_EQ(find_import_kind("nginx"), nullptr);
    EXPECT_EQ(import_kinds().size(), 3u);
}

TEST(ImportKinds, UnreadableFileSaysWhy)
{
    const ImportResult r = import_file(*find_import_kind("keepalived"), "import/missing.conf");
    EXPECT_EQ(error_lines(r), std::vector<std::string>{"import/missing.conf: cannot read: No such file or directory"});
    EXPECT_EQ(r.yaml, "");
    const ImportResult folder = import_file(*find_import_kind("keepalived"), "import/conf.d");
    EXPECT_EQ(error_lines(folder), std::vector<std::string>{"import/conf.d: cannot read: Is a directory"});
    EXPECT_EQ(folder.yaml, "");
}

TEST(ImportKeepalived, SmallFileExactly)
{
    const ImportResult r = import_keepalived(R"(virtual_server 10.20.0.100 80 {
    delay_loop 5
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server 10.20.0.11 8080 {
        weight 2
        TCP_CHECK { connect_timeout 2 }
    }
    real_server 10.20.0.12 8080 {
        weight 1
        HTTP_GET { url { path /ping } connect_timeout 2 }
    }
}
virtual_server fwmark 3 { real_server 10.20.0.11 80 { } }
)",
                                             "small.conf");
    EXPECT_TRUE(r.errors.empty());
    EXPECT_EQ(r.yaml, header("keepalived", "small.conf") + R"(services:

  # small.conf:1: virtual_server 10.20.0.100 80
  - vip: 10.20.0.100
    port: 80
    protocol: tcp
    scheduler: rr
    forward: nat
    real_servers:
      - address: 10.20.0.11
        port: 8080
        weight: 2
        forward: nat
        health_check:
          type: tcp
          interval: 5
          timeout: 2
          rise: 1
          fall: 2
          on_failure: remove
      - address: 10.20.0.12
        port: 8080
        weight: 1
        forward: nat
        health_check:
          type: http
          interval: 5
          timeout: 2
          rise: 1
          fall: 2
          on_failure: remove
          http:
            path: "/ping"
            expect_status: "200-299"

  # small.conf:15: virtual_server fwmark 3
  # not carried over: Fulcrum has no firewall-mark services (a virtual service is an address, a port and a protocol)
)");
    const Config c = loaded(r.yaml);
    ASSERT_EQ(c.services.size(), 1u);
    EXPECT_EQ(real(&c.services[0], "10.20.0.12", 8080)->health_check.http.path, "/ping");
}

TEST(ImportKeepalived, SiteSampleLoadsAndKeepsItsValues)
{
    const std::string yaml = imported("keepalived", "import/keepalived.conf");
    const Config c = loaded(yaml);
    // WEB's three VIPs (its fwmark entry is a comment), HTTPS, mail, DNS, and the included intranet.
    EXPECT_EQ(c.services.size(), 7u) << yaml;

    for (const char* vip : {"192.168.200.16", "192.168.200.17", "192.168.200.18"}) {
        const ServiceConfig* web = service(c, vip, 80);
        ASSERT_NE(web, nullptr);
        EXPECT_EQ(web->scheduler, "wrr");
        EXPECT_EQ(web->forward, ForwardMethod::nat);
        EXPECT_EQ(web->persistence, 50u);
        EXPECT_EQ(web->persistence_netmask, 24);
        ASSERT_TRUE(web->sorry_server.has_value());
        EXPECT_EQ(web->sorry_server->address, *parse_ipv4("10.20.0.250"));
        EXPECT_EQ(web->sorry_server->port, 8080);
        const RealServerConfig* rs = real(web, "10.20.0.11", 8080);
        ASSERT_NE(rs, nullptr);
        EXPECT_EQ(rs->weight, 3u);
        EXPECT_EQ(rs->health_check.type, HealthCheckType::http);
        EXPECT_EQ(rs->health_check.port, 8080);
        EXPECT_EQ(rs->health_check.interval_ms, 6000u);
        EXPECT_EQ(rs->health_check.timeout_ms, 3000u);
        EXPECT_EQ(rs->health_check.fall, 4u);  // retry 3: down at the fourth failure
        EXPECT_EQ(rs->health_check.rise, 1u);
        EXPECT_EQ(rs->health_check.on_failure, OnFailure::quiesce);
        EXPECT_EQ(rs->health_check.http.path, "/health");
        EXPECT_EQ(rs->health_check.http.expect_status, (std::vector<StatusRange>{{200, 200}}));
        // The second server spreads the same check over one line, with nb_get_retry.
        EXPECT_EQ(real(web, "10.20.0.12", 8080)->health_check, rs->health_check);
    }

    const ServiceConfig* https = service(c, "192.168.200.20", 443);
    ASSERT_NE(https, nullptr);
    EXPECT_EQ(https->forward, ForwardMethod::dr);
    EXPECT_EQ(https->scheduler, "rr");
    EXPECT_EQ(real(https, "192.168.200.31", 443)->forward, ForwardMethod::dr);
    EXPECT_EQ(https->health_check.type, HealthCheckType::tcp);  // SSL_GET's stand-in
    EXPECT_EQ(https->health_check.interval_ms, 10000u);
    EXPECT_TRUE(has(yaml, "SSL_GET: Fulcrum has no TLS check; a TCP connect to the same port stands in"));

    const ServiceConfig* mail = service(c, "192.168.200.21", 25);
    ASSERT_NE(mail, nullptr);
    EXPECT_EQ(mail->scheduler, "wlc");
    EXPECT_EQ(real(mail, "10.20.0.21", 25)->health_check.type, HealthCheckType::tcp);
    EXPECT_EQ(real(mail, "10.20.0.21", 25)->health_check.timeout_ms, 4000u);
    EXPECT_EQ(real(mail, "10.20.0.22", 25)->health_check.type, HealthCheckType::none);
    EXPECT_TRUE(has(yaml, "MISC_CHECK not carried over: Fulcrum runs no scripts"));
    EXPECT_TRUE(has(yaml, "notify_down not carried over"));

    const ServiceConfig* dns = service(c, "192.168.200.22", 53, Protocol::udp);
    ASSERT_NE(dns, nullptr);
    EXPECT_EQ(dns->scheduler, "sh");
    EXPECT_TRUE(dns->scheduler_flags.sh_port);
    EXPECT_EQ(dns->forward, ForwardMethod::tun);
    EXPECT_EQ(dns->health_check.port, 53);
    EXPECT_EQ(dns->health_check.timeout_ms, 2000u);
    EXPECT_EQ(dns->real_servers.size(), 2u);

    // include conf.d/*.conf, relative to keepalived.conf.
    const ServiceConfig* intranet = service(c, "192.168.200.23", 8443);
    ASSERT_NE(intranet, nullptr);
    const RealServerConfig* app = real(intranet, "10.20.0.31", 8080);
    ASSERT_NE(app, nullptr);
    EXPECT_EQ(app->weight, 5u);
    EXPECT_EQ(app->upper_threshold, 200u);
    EXPECT_EQ(app->lower_threshold, 150u);
    EXPECT_EQ(app->health_check.http.host, "intranet.example.com");
    EXPECT_EQ(app->health_check.http.expect_body, "ready");
    EXPECT_EQ(app->health_check.http.expect_status, (std::vector<StatusRange>{{200, 299}, {301, 301}}));
    EXPECT_EQ(app->health_check.timeout_ms, 3000u);  // connect_timeout 5 > delay_loop 3
    EXPECT_TRUE(has(yaml, "check timeout 5 s is longer than its interval 3 s"));

    EXPECT_TRUE(has(yaml, "# import/keepalived.conf:145: virtual_server fwmark 1\n  # not carried over: Fulcrum has no "
                          "firewall-mark services"));
    EXPECT_TRUE(has(yaml, "virtual_server group WEB: fwmark 7 (virtual_server_group WEB, line 35)\n  # not carried "
                          "over: Fulcrum has no firewall-mark services\n\n"));
    EXPECT_TRUE(has(yaml, "vrrp_instance VI_1 not carried over: VRRP and its tracking stay with keepalived"));
}

TEST(ImportKeepalived, MalformedSamplesAreRefusedWhereTheyGoWrong)
{
    auto errors = [](const char* path) { return error_lines(import_file(*find_import_kind("keepalived"), path)); };
    EXPECT_EQ(errors("import/keepalived-unbalanced.conf"),
              std::vector<std::string>{
                  "import/keepalived-unbalanced.conf:1:28: unbalanced braces: this '{' is never closed"});
    EXPECT_EQ(errors("import/keepalived-bad-address.conf"),
              std::vector<std::string>{
                  "import/keepalived-bad-address.conf:3:17: expected an IP address, found \"10.0.1.300\""});
    EXPECT_EQ(errors("import/keepalived-bad-kind.conf"),
              std::vector<std::string>{"import/keepalived-bad-kind.conf:3:13: lb_kind: unknown forwarding method "
                                       "\"FULLNAT\" (expected NAT, DR or TUN)"});
}

TEST(ImportKeepalived, MalformedTextIsRefusedWithNothingWritten)
{
    struct Case {
        const char* text;
        const char* error;
    };
    const Case cases[] = {
        {"virtual_server 10.0.0.1 80 {\n}\n}\n", "t.conf:3:1: unbalanced braces: '}' closes no block"},
        {"virtual_server 10.0.0.1 80 {\n  real_server 10.0.1.1 80 {\n    HTTP_GET { url { path \"/a b } }\n",
         "t.conf:3:27: unterminated quoted string (no closing \")"},
        {"virtual_server 10.0.0.1 http {\n}\n", "t.conf:1:25: expected a port from 0 to 65535, found \"http\""},
        {"virtual_server 10.0.0.1 80 {\n  real_server 10.0.1.1 80 { weight heavy }\n}\n",
         "t.conf:2:36: weight: expected a whole number from 0 to 2147483647, found \"heavy\""},
        {"virtual_server group NOPE {\n}\n", "t.conf:1:22: no virtual_server_group named \"NOPE\""},
        {"virtual_server_group G {\n  10.0.0.9-3 80\n}\n", "t.conf:2:3: range \"10.0.0.9-3\" ends before it starts"},
        {"$PORT=80\n", "t.conf:1:1: keepalived's parameter substitution ($NAME=...) is not read by the importer: "
                       "expand it first (the file as keepalived sees it, for this director)"},
        {"include\n", "t.conf:1:1: expected a file name after include"},
        {"virtual_server 10.0.0.1 80 {\n  real_server 10.0.1.1 80 {\n    weight 1 TCP_CHECK { connect_timeout 3 }\n  }\n}\n",
         "t.conf:3:24: weight takes no block: a statement ends at the end of its line or at a brace"},
    };
    for (const Case& c : cases) {
        const ImportResult r = import_keepalived(c.text, "t.conf");
        EXPECT_EQ(error_lines(r), std::vector<std::string>{c.error}) << c.text;
        EXPECT_EQ(r.yaml, "") << c.text;
    }
}

TEST(ImportKeepalived, CommentsQuotesAndSeveralStatementsOnALine)
{
    const ImportResult r = import_keepalived(
        "virtual_server 10.20.0.100 80 { lb_algo \"mh\" ! the scheduler\n"
        "  real_server 10.20.0.11 80 { weight 4 } # one line\n"
        "  real_server 10.20.0.12 80\n"
        "  {\n"
        "    weight \\\n"
        "      7\n"
        "  }\n"
        "}\n",
        "t.conf");
    ASSERT_TRUE(r.errors.empty()) << error_lines(r).front();
    const Config c = loaded(r.yaml);
    const ServiceConfig* s = service(c, "10.20.0.100", 80);
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(s->scheduler, "mh");
    EXPECT_EQ(real(s, "10.20.0.11", 80)->weight, 4u);
    EXPECT_EQ(real(s, "10.20.0.12", 80)->weight, 7u);
}

TEST(ImportKeepalived, GroupsExpandRangesAndNetworks)
{
    const ImportResult r = import_keepalived("virtual_server_group G {\n"
                                             "  192.168.200.30-32 80\n"
                                             "  192.168.200.40-192.168.200.41 80\n"
                                             "  192.168.200.48/30 80\n"
                                             "  2001:db8::1 80\n"
                                             "}\n"
                                             "virtual_server group G {\n"
                                             "  lb_kind DR\n"
                                             "  real_server 192.168.200.99 { weight 1 }\n"
                                             "}\n",
                                             "t.conf");
    ASSERT_TRUE(r.errors.empty()) << error_lines(r).front();
    const Config c = loaded(r.yaml);
    EXPECT_EQ(c.services.size(), 10u);
    for (const char* vip : {"192.168.200.30", "192.168.200.31", "192.168.200.32", "192.168.200.40", "192.168.200.41",
                            "192.168.200.48", "192.168.200.49", "192.168.200.50", "192.168.200.51"}) {
        const ServiceConfig* s = service(c, vip, 80);
        ASSERT_NE(s, nullptr);
        EXPECT_EQ(real(s, "192.168.200.99", 80)->forward, ForwardMethod::dr);  // no port: the virtual one
    }
    // The group's IPv6 address is a service of its own; the IPv4 real server cannot serve it by DR.
    const ServiceConfig* v6 = service(c, "2001:db8::1", 80);
    ASSERT_NE(v6, nullptr);
    EXPECT_TRUE(v6->real_servers.empty());
    EXPECT_TRUE(has(r.yaml, "2001:db8::1 80 (virtual_server_group G, line 5)\n"
                            "  # t.conf:9: real_server 192.168.200.99 not carried over: an IPv4 real server of an IPv6 "
                            "service by DR, which keeps the packet's family (only TUN mixes families)\n"))
        << r.yaml;
}

TEST(ImportKeepalived, Ipv6BesideIpv4Exactly)
{
    const std::string yaml = imported("keepalived", "import/keepalived-ipv6.conf");
    EXPECT_EQ(yaml, header("keepalived", "import/keepalived-ipv6.conf") + R"(services:

  # import/keepalived-ipv6.conf:4: virtual_server 192.168.200.16 80
  # import/keepalived-ipv6.conf:8: ip_family inet6 ignored, as keepalived ignores it: the virtual server's address is IPv4
  # import/keepalived-ipv6.conf:12: real_server 2001:db8::11 not carried over: an IPv6 real server of an IPv4 service by NAT, which keeps the packet's family (only TUN mixes families)
  - vip: 192.168.200.16
    port: 80
    protocol: tcp
    scheduler: rr
    forward: nat
    health_check:
      type: tcp
      interval: 60
      timeout: 3
      rise: 1
      fall: 2
      on_failure: remove
    real_servers:
      - { address: 10.20.0.11, port: 8080, weight: 1, forward: nat }

  # import/keepalived-ipv6.conf:18: virtual_server 2001:db8::10 80
  # import/keepalived-ipv6.conf:47: real_server 10.20.0.12 not carried over: an IPv4 real server of an IPv6 service by NAT, which keeps the packet's family (only TUN mixes families)
  - vip: "2001:db8::10"
    port: 80
    protocol: tcp
    scheduler: wrr
    forward: nat
    persistence: 300
    persistence_netmask: 64
    health_check:
      type: http
      interval: 5
      timeout: 2
      rise: 1
      fall: 2
      on_failure: remove
      http:
        path: "/health"
        expect_status: "200"
    sorry_server: { address: "2001:db8::250", port: 8080 }
    real_servers:
      - { address: "2001:db8::11", port: 8080, weight: 2, forward: nat }
      - { address: "2001:db8::12", port: 8080, weight: 1, forward: nat }

  # import/keepalived-ipv6.conf:53: virtual_server 2001:db8::10 443
  # import/keepalived-ipv6.conf:57: sorry_server 10.20.0.250 not carried over: an IPv4 sorry server for an IPv6 service (a sorry server is of the service's family; keepalived skips it too)
  - vip: "2001:db8::10"
    port: 443
    protocol: tcp
    scheduler: rr
    forward: tun
    real_servers:
      - { address: "2001:db8::21", port: 443, weight: 1, forward: tun }
      - { address: 10.20.0.21, port: 443, weight: 1, forward: tun }

  # import/keepalived-ipv6.conf:63: virtual_server 192.168.200.20 443
  # import/keepalived-ipv6.conf:67: persistence_granularity 64 is not a netmask, which an IPv4 service takes: 32 here
  - vip: 192.168.200.20
    port: 443
    protocol: tcp
    scheduler: rr
    forward: tun
    persistence: 60
    persistence_netmask: 32
    real_servers:
      - { address: 10.20.0.31, port: 443, weight: 1, forward: tun }
      - { address: "2001:db8::31", port: 443, weight: 1, forward: tun }

  # import/keepalived-ipv6.conf:79: virtual_server group DNS: 192.168.200.17 53 (virtual_server_group DNS, line 75)
  # import/keepalived-ipv6.conf:83: real_server 2001:db8::41 not carried over: an IPv6 real server of an IPv4 service by DR, which keeps the packet's family (only TUN mixes families)
  - vip: 192.168.200.17
    port: 53
    protocol: udp
    scheduler: wlc
    forward: dr
    real_servers:
      - { address: 192.168.200.41, port: 53, weight: 1, forward: dr }

  # import/keepalived-ipv6.conf:79: virtual_server group DNS: 2001:db8::17 53 (virtual_server_group DNS, line 76)
  # import/keepalived-ipv6.conf:82: real_server 192.168.200.41 not carried over: an IPv4 real server of an IPv6 service by DR, which keeps the packet's family (only TUN mixes families)
  - vip: "2001:db8::17"
    port: 53
    protocol: udp
    scheduler: wlc
    forward: dr
    real_servers:
      - { address: "2001:db8::41", port: 53, weight: 1, forward: dr }

  # import/keepalived-ipv6.conf:79: virtual_server group DNS: 2001:db8::20-21 53 (virtual_server_group DNS, line 77)
  # not carried over: the importer expands IPv4 ranges and networks only (write the IPv6 addresses out)
)");
    // And the daemon's checker takes it: each service's family kept, TUN carrying IPv6 over IPv4.
    const Config c = loaded(yaml);
    EXPECT_EQ(c.services.size(), 6u);
    const ServiceConfig* web6 = service(c, "2001:db8::10", 80);
    ASSERT_NE(web6, nullptr);
    EXPECT_EQ(web6->persistence, 300u);
    EXPECT_EQ(web6->persistence_netmask, 64);
    ASSERT_TRUE(web6->sorry_server.has_value());
    EXPECT_EQ(web6->sorry_server->address, *parse_ip("2001:db8::250"));
    EXPECT_EQ(web6->real_servers.size(), 2u);
    const ServiceConfig* tun6 = service(c, "2001:db8::10", 443);
    ASSERT_NE(tun6, nullptr);
    EXPECT_FALSE(tun6->sorry_server.has_value());
    ASSERT_EQ(tun6->real_servers.size(), 2u);
    EXPECT_EQ(tun6->real_servers[1].address, *parse_ip("10.20.0.21"));
    EXPECT_EQ(service(c, "192.168.200.20", 443)->persistence_netmask, 32);
    EXPECT_EQ(service(c, "2001:db8::17", 53, Protocol::udp)->real_servers.at(0).address, *parse_ip("2001:db8::41"));
}

TEST(ImportKeepalived, Ipv6PersistenceGranularityIsAPrefixLength)
{
    const ImportResult dotted = import_keepalived("virtual_server 2001:db8::10 80 {\n"
                                                  "  persistence_granularity 255.255.255.0\n"
                                                  "  real_server 2001:db8::11 80 { weight 1 }\n"
                                                  "}\n",
                                                  "t.conf");
    ASSERT_TRUE(dotted.errors.empty()) << error_lines(dotted).front();
    EXPECT_TRUE(has(dotted.yaml, "  # t.conf:2: persistence_granularity 255.255.255.0 is not a prefix length, which an "
                                 "IPv6 service takes (keepalived ignores it): 128 here\n"))
        << dotted.yaml;
    EXPECT_EQ(service(loaded(dotted.yaml), "2001:db8::10", 80)->persistence_netmask, 128);
    const ImportResult wide = import_keepalived("virtual_server 2001:db8::10 80 {\n"
                                                "  persistence_granularity 129\n"
                                                "  real_server 2001:db8::11 80 { weight 1 }\n"
                                                "}\n",
                                                "t.conf");
    EXPECT_EQ(error_lines(wide), std::vector<std::string>{"t.conf:2:27: persistence_granularity: expected a netmask (like "
                                                          "255.255.255.0) or, for IPv6, a prefix length from 1 to 128, "
                                                          "found \"129\""});
    EXPECT_EQ(wide.yaml, "");
}

TEST(ImportLdirectord, SmallFileExactly)
{
    const ImportResult r = import_ldirectord("checkinterval=4\n"
                                             "virtual=192.168.6.240:80\n"
                                             "\treal=192.168.6.2:80 gate\n"
                                             "\treal=192.168.6.3:80 gate 2\n"
                                             "\trequest=\"alive.html\"\n"
                                             "\treceive=\"OK\"\n",
                                             "small.cf");
    EXPECT_TRUE(r.errors.empty());
    EXPECT_EQ(r.yaml, header("ldirectord", "small.cf") + R"(services:

  # small.cf:2: virtual=192.168.6.240:80
  # check timeout 30 s is longer than its interval 4 s, which Fulcrum refuses (a check would overlap the next): timeout 4 s here
  - vip: 192.168.6.240
    port: 80
    protocol: tcp
    scheduler: wrr
    forward: dr
    health_check:
      type: http
      interval: 4
      timeout: 4
      rise: 1
      fall: 1
      on_failure: remove
      http:
        path: "/alive.html"
        expect_status: "200-299"
        expect_body: "OK"
    real_servers:
      - { address: 192.168.6.2, port: 80, weight: 1, forward: dr }
      - { address: 192.168.6.3, port: 80, weight: 2, forward: dr }
)");
    loaded(r.yaml);
}

TEST(ImportLdirectord, DebianShapedSampleLoadsAndKeepsItsValues)
{
    const std::string yaml = imported("ldirectord", "import/ldirectord.cf");
    const Config c = loaded(yaml);
    EXPECT_EQ(c.services.size(), 3u) << yaml;

    const ServiceConfig* web = service(c, "192.168.6.240", 80);
    ASSERT_NE(web, nullptr);
    EXPECT_EQ(web->scheduler, "rr");
    EXPECT_EQ(web->forward, ForwardMethod::dr);
    EXPECT_EQ(web->persistence, 600u);
    EXPECT_EQ(web->persistence_netmask, 24);
    EXPECT_EQ(web->real_servers.size(), 4u);  // .6->.7 is two
    EXPECT_EQ(real(web, "192.168.6.3", 80)->weight, 3u);
    EXPECT_EQ(real(web, "192.168.6.7", 80)->weight, 2u);
    EXPECT_EQ(web->health_check.type, HealthCheckType::http);
    EXPECT_EQ(web->health_check.port, 80);
    EXPECT_EQ(web->health_check.interval_ms, 5000u);   // global checkinterval
    EXPECT_EQ(web->health_check.timeout_ms, 3000u);    // global checktimeout, negotiatetimeout's default
    EXPECT_EQ(web->health_check.fall, 2u);             // global failurecount
    EXPECT_EQ(web->health_check.on_failure, OnFailure::quiesce);  // global quiescent=yes
    EXPECT_EQ(web->health_check.http.path, "/index.html");
    EXPECT_EQ(web->health_check.http.host, "www.x.y.z");
    EXPECT_EQ(web->health_check.http.expect_body, "Test Page");
    EXPECT_FALSE(web->sorry_server.has_value());  // global fallback 127.0.0.1: the director itself
    EXPECT_TRUE(has(yaml, "fallback 127.0.0.1:80 not carried over: it is the director itself"));
    EXPECT_TRUE(has(yaml, "# servicename: Web Site"));

    const ServiceConfig* tls = service(c, "192.168.6.241", 443);
    ASSERT_NE(tls, nullptr);
    EXPECT_EQ(tls->scheduler, "wrr");  // ldirectord's default
    EXPECT_EQ(tls->forward, ForwardMethod::nat);
    EXPECT_EQ(tls->health_check.type, HealthCheckType::tcp);
    EXPECT_EQ(tls->health_check.on_failure, OnFailure::remove);  // quiescent=no in the section
    const RealServerConfig* b = real(tls, "10.1.0.3", 8443);
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(b->weight, 5u);
    EXPECT_EQ(b->lower_threshold, 100u);
    EXPECT_EQ(b->upper_threshold, 200u);
    ASSERT_TRUE(tls->sorry_server.has_value());
    EXPECT_EQ(tls->sorry_server->address, *parse_ipv4("10.1.0.9"));
    EXPECT_EQ(tls->sorry_server->port, 8443);

    const ServiceConfig* dns = service(c, "192.168.6.242", 53, Protocol::udp);  // port 53: udp
    ASSERT_NE(dns, nullptr);
    EXPECT_EQ(dns->scheduler, "wlc");
    EXPECT_EQ(dns->health_check.type, HealthCheckType::none);
    EXPECT_TRUE(has(yaml, "service=dns not carried over"));

    EXPECT_TRUE(has(yaml, "virtual=7\n  # not carried over: Fulcrum has no firewall-mark services"));
    EXPECT_TRUE(has(yaml, "autoreload not carried over"));
}

TEST(ImportLdirectord, Ipv6BesideIpv4Exactly)
{
    const std::string yaml = imported("ldirectord", "import/ldirectord-ipv6.cf");
    EXPECT_EQ(yaml, header("ldirectord", "import/ldirectord-ipv6.cf") + R"(services:

  # import/ldirectord-ipv6.cf:10: virtual=192.168.6.240:80
  - vip: 192.168.6.240
    port: 80
    protocol: tcp
    scheduler: rr
    forward: dr
    health_check:
      type: http
      interval: 5
      timeout: 3
      rise: 1
      fall: 1
      on_failure: remove
      http:
        path: "/health"
        expect_status: "200-299"
        expect_body: "OK"
    sorry_server: { address: 10.1.0.9, port: 80 }
    real_servers:
      - { address: 192.168.6.2, port: 80, weight: 1, forward: dr }
      - { address: 192.168.6.3, port: 80, weight: 3, forward: dr }

  # import/ldirectord-ipv6.cf:19: virtual6=[2001:db8::10]:80
  - vip: "2001:db8::10"
    port: 80
    protocol: tcp
    scheduler: rr
    forward: dr
    persistence: 600
    persistence_netmask: 64
    health_check:
      type: http
      interval: 5
      timeout: 3
      rise: 1
      fall: 1
      on_failure: remove
      http:
        path: "/health"
        expect_status: "200-299"
        expect_body: "OK"
    sorry_server: { address: "2001:db8::99", port: 80 }
    real_servers:
      - { address: "2001:db8::2", port: 80, weight: 1, forward: dr }
      - { address: "2001:db8::3", port: 80, weight: 3, forward: dr }

  # import/ldirectord-ipv6.cf:30: virtual6=[2001:db8::10]:443
  # import/ldirectord-ipv6.cf:33: fallback6 [::1]:443 not carried over: it is the director itself, and Fulcrum's sorry server is another host it forwards to
  - vip: "2001:db8::10"
    port: 443
    protocol: tcp
    scheduler: wrr
    forward: nat
    health_check:
      type: tcp
      interval: 5
      timeout: 3
      rise: 1
      fall: 1
      on_failure: remove
    real_servers:
      - { address: "2001:db8::12", port: 8443, weight: 1, forward: nat }
      - { address: "2001:db8::13", port: 443, weight: 2, forward: nat }

  # import/ldirectord-ipv6.cf:37: virtual6=[2001:db8::11]:53
  # service=dns not carried over: Fulcrum's checks are TCP and HTTP; the real servers are not checked
  - vip: "2001:db8::11"
    port: 53
    protocol: udp
    scheduler: wlc
    forward: nat
    sorry_server: { address: "2001:db8::99", port: 80 }
    real_servers:
      - { address: "2001:db8::53", port: 53, weight: 1, forward: nat }
)");
    const Config c = loaded(yaml);
    EXPECT_EQ(c.services.size(), 4u);
    const ServiceConfig* web6 = service(c, "2001:db8::10", 80);
    ASSERT_NE(web6, nullptr);
    EXPECT_EQ(web6->persistence_netmask, 64);
    ASSERT_TRUE(web6->sorry_server.has_value());
    EXPECT_EQ(web6->sorry_server->address, *parse_ip("2001:db8::99"));
    EXPECT_EQ(web6->real_servers.at(1).address, *parse_ip("2001:db8::3"));
    EXPECT_EQ(web6->real_servers.at(1).forward, ForwardMethod::dr);
    EXPECT_FALSE(service(c, "2001:db8::10", 443)->sorry_server.has_value());
    EXPECT_EQ(service(c, "2001:db8::11", 53, Protocol::udp)->real_servers.at(0).address, *parse_ip("2001:db8::53"));
    EXPECT_EQ(service(c, "192.168.6.240", 80)->sorry_server->address, *parse_ip("10.1.0.9"));
}

TEST(ImportLdirectord, FamilyKeywordsAreRefusedWhereLdirectordRefusesThem)
{
    struct Case {
        const char* text;
        const char* error;
    };
    const Case cases[] = {
        {"virtual=[2001:db8::10]:80\n\treal6=[2001:db8::2]:80 gate\n",
         "t.cf:1:9: virtual= takes an IPv4 address; an IPv6 one takes virtual6=, as ldirectord says"},
        {"virtual6=10.0.0.1:80\n\treal=10.0.1.1:80 gate\n",
         "t.cf:1:10: virtual6= takes an IPv6 address in brackets ([2001:db8::10]:80), as ldirectord says"},
        {"virtual6=[2001:db8::10]:80\n\treal=10.0.1.1:80 gate\n",
         "t.cf:2:2: real in a virtual6= section: ldirectord takes real6 there"},
        {"virtual=10.0.0.1:80\n\treal6=[2001:db8::2]:80 gate\n",
         "t.cf:2:2: real6 in a virtual= section: ldirectord takes real there"},
        {"virtual6=[2001:db8::10]:80\n\treal6=[2001:db8::2]->[2001:db8::3]:80 gate\n",
         "t.cf:2:8: an IPv6 range, which ldirectord refuses (\"Address range for IPv6 is not supported yet\")"},
        {"virtual6=[2001:db8::10]:80\n\treal6=2001:db8::2 gate\n",
         "t.cf:2:8: real6 takes an IPv6 address in brackets (like [2001:db8::11]:80), found \"2001:db8::2\""},
        {"virtual6=[2001:db8::10]:80\n\treal6=[2001:db8::2]:80 gate\n\tfallback=10.0.0.9:80\n",
         "t.cf:3:2: fallback in a virtual6= section: ldirectord takes fallback6 there"},
        {"virtual6=[2001:db8::10]:80\n\treal6=[2001:db8::2]:80 gate\n\tpersistent=60\n\tnetmask=255.255.255.0\n",
         "t.cf:4:10: netmask: expected a prefix length from 1 to 128 for a virtual6, found \"255.255.255.0\""},
        {"fallback6=10.0.0.9:80\nvirtual6=[2001:db8::10]:80\n\treal6=[2001:db8::2]:80 gate\n",
         "t.cf:1:11: expected an IPv6 address in brackets (like [2001:db8::99]:80), found \"10.0.0.9\""},
    };
    for (const Case& c : cases) {
        const ImportResult r = import_ldirectord(c.text, "t.cf");
        EXPECT_EQ(error_lines(r), std::vector<std::string>{c.error}) << c.text;
        EXPECT_EQ(r.yaml, "") << c.text;
    }
}

TEST(ImportLdirectord, MalformedInputIsRefusedWhereItGoesWrong)
{
    EXPECT_EQ(error_lines(import_file(*find_import_kind("ldirectord"), "import/ldirectord-bad-real.cf")),
              std::vector<std::string>{"import/ldirectord-bad-real.cf:4:19: unknown forwarding method \"bridge\" "
                                       "(expected gate, masq or ipip)"});
    struct Case {
        const char* text;
        const char* error;
    };
    const Case cases[] = {
        {"virtual=10.0.0.300:80\n\treal=10.0.1.1:80 gate\n", "t.cf:1:9: expected an IPv4 address, found \"10.0.0.300\""},
        {"virtual=10.0.0.1:80\n\treal=10.0.1.1:80\n", "t.cf:2:18: expected a forwarding method (gate, masq or ipip) after the real server"},
        {"virtual=10.0.0.1:80\n\n\treal=10.0.1.1:80 gate\n",
         "t.cf:3:2: an indented line outside a virtual= section (a section ends at the first line that is not "
         "indented, a blank one too)"},
        {"checkinterval=often\n", "t.cf:1:15: checkinterval: expected a whole number above 0, found \"often\""},
        {"virtual=10.0.0.1:80\n\treal=10.0.1.1:80 gate\n\tquiescent=maybe\n",
         "t.cf:3:12: quiescent: expected yes or no, found \"maybe\""},
        {"virtual=10.0.0.1:80\n\tweight=3\n", "t.cf:2:2: unknown setting \"weight\" in a virtual section"},
    };
    for (const Case& c : cases) {
        const ImportResult r = import_ldirectord(c.text, "t.cf");
        EXPECT_EQ(error_lines(r), std::vector<std::string>{c.error}) << c.text;
        EXPECT_EQ(r.yaml, "") << c.text;
    }
}

}  // namespace

// ipvsadm-save's rules, read as the console's ipvsadm -R reads them.
TEST(ImportIpvsadm, SaveFileOfASite)
{
    const std::string rules = "-A -t 192.168.200.16:80 -s wlc -p 600 -M 255.255.255.0\n"
                              "-a -t 192.168.200.16:80 -r 10.20.0.11:8080 -m -w 3\n"
                              "ipvsadm -a -t 192.168.200.16:80 -r 10.20.0.12:8080 -m -w 0\n"
                              "-A -u 192.168.200.16:53 -s rr\n"
                              "-a -u 192.168.200.16:53 -r 10.20.0.13:53 -g -w 1\n"
                              "-A -t 192.168.200.17:443 -s sh -b sh-port\n"
                              "-a -t 192.168.200.17:443 -r 10.20.0.14:8443 -i -w 2 -x 100 -y 50\n"
                              "-A -t [2001:db8::1]:80 -s rr\n"
                              "-a -t [2001:db8::1]:80 -r [2001:db8::11]:80 -m -w 1\n"
                              "\n"
                              "--set 3600 120 300\n";
    const ImportResult r = import_ipvsadm(rules, "rules.save");
    ASSERT_TRUE(r.errors.empty()) << error_lines(r)[0];
    EXPECT_TRUE(has(r.yaml, header("ipvsadm", "rules.save")));
    // IPv6 services come over as IPv4 ones do; the writer quotes their addresses.
    EXPECT_TRUE(has(r.yaml, "  - vip: \"2001:db8::1\"\n")) << r.yaml;
    EXPECT_TRUE(has(r.yaml, "address: \"2001:db8::11\", port: 80, weight: 1, forward: nat")) << r.yaml;
    EXPECT_TRUE(has(r.yaml, "# rules.save:11: \"--set 3600 120 300\" is not a service")) << r.yaml;
    EXPECT_TRUE(has(r.yaml, "  # rules.save:1: -A -t 192.168.200.16:80 -s wlc -p 600 -M 255.255.255.0\n"));

    const Config c = loaded(r.yaml);
    ASSERT_EQ(c.services.size(), 4u);
    const ServiceConfig* v6 = service(c, "2001:db8::1", 80);
    ASSERT_NE(v6, nullptr);
    ASSERT_EQ(v6->real_servers.size(), 1u);
    EXPECT_EQ(v6->real_servers[0].address, *parse_ip("2001:db8::11"));
    const ServiceConfig* web = service(c, "192.168.200.16", 80);
    ASSERT_NE(web, nullptr);
    EXPECT_EQ(web->scheduler, "wlc");
    EXPECT_EQ(web->persistence, 600u);
    EXPECT_EQ(web->persistence_netmask, 24);
    const RealServerConfig* a = real(web, "10.20.0.11", 8080);
    ASSERT_NE(a, nullptr);
    EXPECT_EQ(a->weight, 3u);
    EXPECT_EQ(a->forward, ForwardMethod::nat);
    EXPECT_EQ(real(web, "10.20.0.12", 8080)->weight, 0u);
    const RealServerConfig* dns = real(service(c, "192.168.200.16", 53, Protocol::udp), "10.20.0.13", 53);
    ASSERT_NE(dns, nullptr);
    EXPECT_EQ(dns->forward, ForwardMethod::dr);
    const ServiceConfig* tls = service(c, "192.168.200.17", 443);
    ASSERT_NE(tls, nullptr);
    EXPECT_TRUE(tls->scheduler_flags.sh_port);
    // As ipvsadm: a tunnelled real server listens on the virtual port; thresholds are kept.
    const RealServerConfig* tun = real(tls, "10.20.0.14", 443);
    ASSERT_NE(tun, nullptr);
    EXPECT_EQ(tun->forward, ForwardMethod::tun);
    EXPECT_EQ(tun->upper_threshold, 100u);
    EXPECT_EQ(tun->lower_threshold, 50u);
}

TEST(ImportIpvsadm, LinesIpvsadmWouldRefuseAreErrors)
{
    const ImportResult r = import_ipvsadm("-A -t 192.168.200.16:80 -s rr\n-a -t 192.168.200.16:80 -r 10.20.0.11 -w x\n"
                                          "-L -n\n",
                                          "bad.save");
    EXPECT_EQ(error_lines(r), (std::vector<std::string>{
                                  "bad.save:2:1: ipvsadm: -w: expected a weight from 0 to 65535, found \"x\"",
                                  "bad.save:3:1: -L (--list) is not a rule (expected -A, -E, -D, -C, -a, -e, -d, --set, "
                                  "--start-daemon or --stop-daemon)"}));
    EXPECT_EQ(r.yaml, "");
}

TEST(ImportLdirectord, EmptyRequestIsTheRoot)
{
    // request="" (or request= alone) asks for "/", as ldirectord's negotiate check does.
    for (const char* request : {"request=\"\"", "request="}) {
        const ImportResult r = import_ldirectord(std::string("virtual=192.168.6.240:80\n\treal=10.20.0.11:80 masq\n\t"
                                                             "service=http\n\tchecktype=negotiate\n\treceive=\"ok\"\n\t") +
                                                     request + "\n",
                                                 "empty.cf");
        ASSERT_TRUE(r.errors.empty()) << error_lines(r)[0];
        EXPECT_TRUE(has(r.yaml, "path: \"/\"")) << r.yaml;
    }
}
