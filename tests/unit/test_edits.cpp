// config/edits.hpp and runtime/effective_config.hpp: the edits every front end makes, and what
// the health checks make of a configuration, as pure functions on a Config.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "control/config/edits.hpp"
#include "control/runtime/effective_config.hpp"

using namespace fulcrum;
using namespace fulcrum::control;

namespace {

Ipv4 ip(const char* text) { return *parse_ipv4(text); }

const ServiceKey web{Protocol::tcp, ip("203.0.113.10"), 80};
const ServiceKey dns{Protocol::udp, ip("203.0.113.10"), 53};

// One TCP service (rr, NAT, a TCP check) with two real servers of weight 1 and 2.
Config two_servers()
{
    Config c;
    ServiceConfig s;
    s.vip = web.vip.ipv4();
    s.port = web.port;
    s.protocol = web.protocol;
    s.scheduler = "rr";
    s.forward = ForwardMethod::dr;
    s.health_check.type = HealthCheckType::tcp;
    s.health_check.interval_ms = 3000;
    for (uint32_t i = 1; i <= 2; ++i) {
        RealServerConfig rs;
        rs.address = ip("192.0.2.1") + i - 1;
        rs.port = 8080;
        rs.weight = i;
        rs.forward = ForwardMethod::dr;
        rs.health_check = s.health_check;
        s.real_servers.push_back(rs);
    }
    c.services.push_back(s);
    return c;
}

RealServerKey server(const ServiceKey& service, const char* address, uint16_t port) { return {service, ip(address), port}; }

TEST(Edits, AddServiceRefusesADuplicateAndChangesNothing)
{
    Config c = two_servers();
    EXPECT_EQ(add_service(c, web, {}), "service tcp 203.0.113.10:80 already exists");
    EXPECT_EQ(c.services.size(), 1u);
    EXPECT_EQ(add_service(c, dns, {"sh", {}, 300, 24}), "");
    ASSERT_EQ(c.services.size(), 2u);
    EXPECT_EQ(c.services[1].key(), dns);
    EXPECT_EQ(c.services[1].scheduler, "sh");
    EXPECT_EQ(c.services[1].persistence, 300u);
    EXPECT_EQ(c.services[1].persistence_netmask, 24);
    EXPECT_TRUE(c.services[1].real_servers.empty());
}

TEST(Edits, Ipv6ServicesAndTheFamilyRulesOfTheirRealServers)
{
    Config c = two_servers();
    const ServiceKey v6{Protocol::tcp, *parse_ip("2001:db8::10"), 80};
    EXPECT_EQ(service_name(v6), "tcp [2001:db8::10]:80");
    // The same address and port in the other family is another service.
    EXPECT_EQ(find_service(c, v6), nullptr);
    EXPECT_EQ(add_service(c, v6, {"rr", {}, 60, 129}), "service tcp [2001:db8::10]:80: persistence netmask /129 is "
                                                       "longer than an IPv6 address");
    EXPECT_EQ(add_service(c, v6, {"rr", {}, 60, std::nullopt}), "");
    EXPECT_EQ(find_service(c, v6)->persistence_netmask, 128);  // the family's full length
    EXPECT_EQ(edit_service(c, v6, {"rr", {}, 60, 64}), "");
    EXPECT_EQ(find_service(c, v6)->persistence_netmask, 64);
    EXPECT_EQ(edit_service(c, web, {"rr", {}, 60, 33}),
              "service tcp 203.0.113.10:80: persistence netmask /33 is longer than an IPv4 address");

    // NAT and DR keep the service's family; a tunnel may cross it, both ways, as IPVS allows.
    EXPECT_EQ(add_real_server(c, {v6, IpAddress(0xAC100002), 80}, {1, ForwardMethod::nat}),
              "real server 172.16.0.2:80: nat forwarding needs an IPv6 address, as the service's (only tun may mix "
              "families)");
    EXPECT_EQ(add_real_server(c, {v6, IpAddress(0xAC100002), 80}, {1, ForwardMethod::dr}),
              "real server 172.16.0.2:80: dr forwarding needs an IPv6 address, as the service's (only tun may mix "
              "families)");
    EXPECT_EQ(add_real_server(c, {v6, IpAddress(0xAC100002), 80}, {1, ForwardMethod::tun}), "");
    EXPECT_EQ(add_real_server(c, {v6, *parse_ip("2001:db8::20"), 8080}, {}), "");  // the service's nat
    // The reverse, an IPv4 service over an IPv6 tunnel.
    EXPECT_EQ(add_real_server(c, {web, *parse_ip("2001:db8::21"), 8080}, {1, ForwardMethod::tun}), "");
    EXPECT_EQ(add_real_server(c, {web, *parse_ip("2001:db8::22"), 8080}, {}),
              "real server [2001:db8::22]:8080: dr forwarding needs an IPv4 address, as the service's (only tun may "
              "mix families)");  // the service's method
    // An edit may not turn a crossing tunnel into NAT.
    EXPECT_EQ(edit_real_server(c, {v6, IpAddress(0xAC100002), 80}, {1, ForwardMethod::nat}),
              "real server 172.16.0.2:80: nat forwarding needs an IPv6 address, as the service's (only tun may mix "
              "families)");
    EXPECT_EQ(find_service(c, v6)->real_servers.size(), 2u);
    EXPECT_EQ(find_service(c, v6)->real_servers[0].forward, ForwardMethod::tun);
    EXPECT_EQ(set_weight(c, {v6, *parse_ip("2001:db8::20"), 8080}, 7), "");
    EXPECT_EQ(delete_real_server(c, {v6, *parse_ip("2001:db8::20"), 8080}), "");
    EXPECT_EQ(delete_service(c, v6), "");
    EXPECT_EQ(c.services.size(), 1u);
}

TEST(Edits, EditServiceSetsEverythingAsIpvsadmE)
{
    Config c = two_servers();
    c.services[0].persistence = 600;
    EXPECT_EQ(edit_service(c, dns, {}), "no service udp 203.0.113.10:53");
    // What -E does not give goes back to the default: wlc, no persistence, /32.
    EXPECT_EQ(edit_service(c, web, {}), "");
    EXPECT_EQ(c.services[0].scheduler, "wlc");
    EXPECT_EQ(c.services[0].persistence, 0u);
    EXPECT_EQ(c.services[0].persistence_netmask, 32);
    EXPECT_EQ(c.services[0].real_servers.size(), 2u);  // the real servers stay
}

TEST(Edits, DeleteServiceRemovesOnlyIt)
{
    Config c = two_servers();
    ASSERT_EQ(add_service(c, dns, {}), "");
    EXPECT_EQ(delete_service(c, web), "");
    ASSERT_EQ(c.services.size(), 1u);
    EXPECT_EQ(c.services[0].key(), dns);
    EXPECT_EQ(delete_service(c, web), "no service tcp 203.0.113.10:80");
}

TEST(Edits, ANewRealServerTakesTheServicesMethodAndCheckUnlessGivenOne)
{
    Config c = two_servers();
    EXPECT_EQ(add_real_server(c, server(web, "192.0.2.1", 8080), {}),
              "tcp 203.0.113.10:80 already has real server 192.0.2.1:8080");
    EXPECT_EQ(add_real_server(c, server(dns, "192.0.2.9", 53), {}), "no service udp 203.0.113.10:53");
    EXPECT_EQ(add_real_server(c, server(web, "192.0.2.3", 8080), {5, std::nullopt, 100, 50}), "");
    ASSERT_EQ(c.services[0].real_servers.size(), 3u);
    const RealServerConfig& added = c.services[0].real_servers[2];
    EXPECT_EQ(added.address, ip("192.0.2.3"));
    EXPECT_EQ(added.port, 8080);
    EXPECT_EQ(added.weight, 5u);
    EXPECT_EQ(added.forward, ForwardMethod::dr);
    EXPECT_EQ(added.upper_threshold, 100u);
    EXPECT_EQ(added.lower_threshold, 50u);
    EXPECT_EQ(added.health_check.type, HealthCheckType::tcp);
    EXPECT_EQ(added.health_check.interval_ms, 3000u);
    EXPECT_EQ(add_real_server(c, server(web, "192.0.2.4", 8080), {1, ForwardMethod::tun, 0, 0}), "");
    EXPECT_EQ(c.services[0].real_servers[3].forward, ForwardMethod::tun);
}

TEST(Edits, EditRealServerSetsEverythingAsIpvsadmE)
{
    Config c = two_servers();
    c.services[0].real_servers[1].upper_threshold = 9;
    EXPECT_EQ(edit_real_server(c, server(web, "192.0.2.2", 9090), {}),
              "tcp 203.0.113.10:80 has no real server 192.0.2.2:9090");
    // -e without -w and -x: weight 1, no threshold; without -g|-i|-m: the service's method.
    EXPECT_EQ(edit_real_server(c, server(web, "192.0.2.2", 8080), {}), "");
    EXPECT_EQ(c.services[0].real_servers[1].weight, 1u);
    EXPECT_EQ(c.services[0].real_servers[1].upper_threshold, 0u);
    EXPECT_EQ(c.services[0].real_servers[1].forward, ForwardMethod::dr);
    EXPECT_EQ(c.services[0].real_servers[0].weight, 1u);  // the other untouched
}

TEST(Edits, SetWeightAndDeleteRealServerFindTheServerByAddressAndPort)
{
    Config c = two_servers();
    EXPECT_EQ(set_weight(c, server(web, "192.0.2.1", 8081), 7), "tcp 203.0.113.10:80 has no real server 192.0.2.1:8081");
    EXPECT_EQ(set_weight(c, server(web, "192.0.2.1", 8080), 7), "");
    EXPECT_EQ(c.services[0].real_servers[0].weight, 7u);
    EXPECT_EQ(c.services[0].real_servers[1].weight, 2u);
    EXPECT_EQ(delete_real_server(c, server(web, "192.0.2.1", 8080)), "");
    ASSERT_EQ(c.services[0].real_servers.size(), 1u);
    EXPECT_EQ(c.services[0].real_servers[0].address, ip("192.0.2.2"));
    EXPECT_EQ(delete_real_server(c, server(web, "192.0.2.1", 8080)), "tcp 203.0.113.10:80 has no real server 192.0.2.1:8080");
}

// ---- the effective configuration

IsUp all_but(std::set<RealServerKey> down)
{
    return [down = std::move(down)](const RealServerKey& k) { return down.count(k) == 0; };
}

TEST(EffectiveConfig, ADownServerLeavesOrIsQuiescedAndTheSorryServerStandsInWhenNoneIsUp)
{
    Config c = two_servers();
    c.services[0].real_servers[1].health_check.on_failure = OnFailure::quiesce;
    c.services[0].sorry_server = SorryServerConfig{ip("192.0.2.100"), 8080};
    const RealServerKey first = server(web, "192.0.2.1", 8080), second = server(web, "192.0.2.2", 8080);

    // All up: the file as it is, no sorry server.
    Config e = effective_config(c, all_but({}));
    ASSERT_EQ(e.services[0].real_servers.size(), 2u);
    EXPECT_EQ(e.services[0].real_servers[1].weight, 2u);
    EXPECT_FALSE(sorry_server_active(c.services[0], all_but({})));

    // The first down (on_failure: remove): it leaves.
    e = effective_config(c, all_but({first}));
    ASSERT_EQ(e.services[0].real_servers.size(), 1u);
    EXPECT_EQ(e.services[0].real_servers[0].address, ip("192.0.2.2"));

    // The second down (quiesce): it stays at weight 0, with the first.
    e = effective_config(c, all_but({second}));
    ASSERT_EQ(e.services[0].real_servers.size(), 2u);
    EXPECT_EQ(e.services[0].real_servers[1].weight, 0u);
    EXPECT_EQ(e.services[0].real_servers[0].weight, 1u);

    // Both down: the quiesced one stays at 0 and the sorry server is the one that takes, by NAT.
    e = effective_config(c, all_but({first, second}));
    ASSERT_EQ(e.services[0].real_servers.size(), 2u);
    EXPECT_EQ(e.services[0].real_servers[0].address, ip("192.0.2.2"));
    EXPECT_EQ(e.services[0].real_servers[0].weight, 0u);
    EXPECT_EQ(e.services[0].real_servers[1].address, ip("192.0.2.100"));
    EXPECT_EQ(e.services[0].real_servers[1].weight, 1u);
    EXPECT_EQ(e.services[0].real_servers[1].forward, ForwardMethod::nat);
    EXPECT_TRUE(sorry_server_active(c.services[0], all_but({first, second})));

    // The input is not changed, and every id owner is in with_sorry_servers.
    EXPECT_EQ(c.services[0].real_servers.size(), 2u);
    EXPECT_EQ(with_sorry_servers(c).services[0].real_servers.size(), 3u);
}

}  // namespace
