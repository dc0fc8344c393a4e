// The director's events: which VIPs are available, what changed, and the order subscribers hear it.
#include <gtest/gtest.h>

#include "control/runtime/events.hpp"

using namespace fulcrum;
using namespace fulcrum::control;

namespace {

constexpr Ipv4 vip_a = 0xC6120064;  // 198.18.0.100
constexpr Ipv4 vip_b = 0xC6120065;
constexpr Ipv4 rs1 = 0xC613000B, rs2 = 0xC613000C, sorry = 0xC6130014;
const IpAddress vip6_a = *parse_ip("2001:db8:18::100"), vip6_b = *parse_ip("2001:db8:18::101");
const IpAddress rs6_1 = *parse_ip("2001:db8:19::11"), rs6_2 = *parse_ip("2001:db8:19::12");

ServiceConfig service(IpAddress vip, uint16_t port, std::vector<std::pair<IpAddress, uint32_t>> real_servers)
{
    ServiceConfig s;
    s.vip = vip;
    s.port = port;
    for (auto [address, weight] : real_servers) s.real_servers.push_back({address, 80, weight});
    return s;
}

}  // namespace

TEST(DirectorEvents, AVipIsAvailableWhileOneOfItsServicesHasAUsableRealServer)
{
    Config running;
    running.services = {service(vip_a, 80, {{rs1, 1}, {rs2, 2}}), service(vip_a, 443, {{rs1, 1}}),
                        service(vip_b, 80, {{rs1, 1}})};
    running.services[2].sorry_server = SorryServerConfig{sorry, 80};
    // Published: rs2 failed (removed), rs1 quiesced on :80 but not on :443; vip_b's rs1 failed
    // and its sorry server stands in.
    Config effective = running;
    effective.services[0].real_servers = {{rs1, 80, 0}};
    effective.services[2].real_servers = {{sorry, 80, 1}};
    EXPECT_EQ(vip_availability(running, effective), (std::map<IpAddress, bool>{{vip_a, true}, {vip_b, false}}));
    // :443 quiesced too: nothing of vip_a is usable.
    effective.services[1].real_servers[0].weight = 0;
    EXPECT_EQ(vip_availability(running, effective), (std::map<IpAddress, bool>{{vip_a, false}, {vip_b, false}}));
    // A real server at weight 0 in the file is not usable either.
    running.services[2].real_servers[0].weight = 0;
    effective.services[2].real_servers = running.services[2].real_servers;
    EXPECT_FALSE(vip_availability(running, effective)[vip_b]);
}

TEST(DirectorEvents, AQuorumCountsTheUsableRealServersOfOneService)
{
    // announce.quorum: 2. vip_a's :80 has two usable servers, :443 one; vip_b has one.
    Config running;
    running.services = {service(vip_a, 80, {{rs1, 1}, {rs2, 2}}), service(vip_a, 443, {{rs1, 1}}),
                        service(vip_b, 80, {{rs1, 1}})};
    running.services[2].sorry_server = SorryServerConfig{sorry, 80};
    Config effective = running;
    EXPECT_EQ(vip_availability(running, effective, 2), (std::map<IpAddress, bool>{{vip_a, true}, {vip_b, false}}));
    // rs2 quiesced on :80: one left there, and servers of two services do not add up.
    effective.services[0].real_servers[1].weight = 0;
    EXPECT_EQ(vip_availability(running, effective, 2), (std::map<IpAddress, bool>{{vip_a, false}, {vip_b, false}}));
    EXPECT_EQ(vip_availability(running, effective, 1), (std::map<IpAddress, bool>{{vip_a, true}, {vip_b, true}}));
    // A sorry server standing in is no real server: vip_b's rs1 down, its sorry server in.
    effective.services[2].real_servers = {{sorry, 80, 1}};
    EXPECT_FALSE(vip_availability(running, effective, 1)[vip_b]);
}

TEST(DirectorEvents, ChangesAreTheVipsWhoseAvailabilityDiffersInAddressOrder)
{
    const std::map<IpAddress, bool> before{{vip_b, true}, {vip_a, false}, {rs1, true}};
    const std::map<IpAddress, bool> after{{vip_b, false}, {vip_a, true}, {rs2, true}};  // rs1 gone, rs2 new
    EXPECT_EQ(availability_changes(before, after),
              (std::vector<VipAvailability>{{vip_a, true}, {vip_b, false}, {rs1, false}, {rs2, true}}));
    EXPECT_TRUE(availability_changes(after, after).empty());
    EXPECT_TRUE(availability_changes({}, {{vip_a, false}}).empty());  // never available: nothing to say
}

TEST(DirectorEvents, Ipv6VipsAreAvailableByTheSameRulesBesideIpv4Ones)
{
    // vip6_a over two IPv6 real servers, vip6_b tunnelled to an IPv4 one, and an IPv4 VIP; quorum 2.
    Config running;
    running.services = {service(vip6_a, 80, {{rs6_1, 1}, {rs6_2, 1}}), service(vip6_b, 80, {{rs1, 1}, {rs2, 1}}),
                        service(vip_a, 80, {{rs1, 1}, {rs2, 1}})};
    Config effective = running;
    const std::map<IpAddress, bool> all{{vip_a, true}, {vip6_a, true}, {vip6_b, true}};
    EXPECT_EQ(vip_availability(running, effective, 2), all);
    // rs6_2 quiesced: vip6_a under the quorum, the others not.
    effective.services[0].real_servers[1].weight = 0;
    const std::map<IpAddress, bool> after = vip_availability(running, effective, 2);
    EXPECT_EQ(after, (std::map<IpAddress, bool>{{vip_a, true}, {vip6_a, false}, {vip6_b, true}}));
    EXPECT_EQ(availability_changes(all, after), (std::vector<VipAvailability>{{vip6_a, false}}));
    // IPv4 VIPs come before IPv6 ones, each family in address order.
    EXPECT_EQ(availability_changes({}, all),
              (std::vector<VipAvailability>{{vip_a, true}, {vip6_a, true}, {vip6_b, true}}));
    // An IPv6 VIP whose bytes begin as an IPv4 VIP's is another VIP: the family tells them apart.
    const IpAddress alike = IpAddress::ipv6(IpAddress(vip_a).bytes());
    running.services = {service(vip_a, 80, {{rs1, 1}}), service(alike, 80, {{rs6_1, 1}})};
    effective = running;
    effective.services[1].real_servers[0].weight = 0;
    EXPECT_EQ(vip_availability(running, effective), (std::map<IpAddress, bool>{{vip_a, true}, {alike, false}}));
}

TEST(DirectorEvents, SubscribersHearEveryEventInOrder)
{
    EventBus bus;
    std::vector<std::string> heard;
    auto name = [](const DirectorEvent& e) {
        if (const auto* s = std::get_if<SnapshotPublished>(&e)) return "published " + std::to_string(s->generation);
        if (const auto* h = std::get_if<HealthChanged>(&e)) return std::string(h->up ? "up" : "down");
        return std::string(std::get<VipAvailability>(e).available ? "available" : "unavailable");
    };
    bus.raise(SnapshotPublished{1});  // before anyone listens: nobody hears it
    bus.subscribe([&](const DirectorEvent& e) { heard.push_back("first: " + name(e)); });
    bus.subscribe([&](const DirectorEvent& e) { heard.push_back("second: " + name(e)); });
    bus.raise(SnapshotPublished{2});
    bus.raise(VipAvailability{vip_a, false});
    bus.raise(VipAvailability{vip6_a, true});
    bus.raise(HealthChanged{{Protocol::tcp, vip_a, 80, rs1, 80}, false, "connect: Connection refused"});
    EXPECT_EQ(heard, (std::vector<std::string>{"first: published 2", "second: published 2", "first: unavailable",
                                                "second: unavailable", "first: available", "second: available",
                                                "first: down", "second: down"}));
}
