// What an rtnetlink answer says: only an acknowledgement of our request is a success. And the
// kernel interfaces' addresses, followed through RTM_NEWADDR and RTM_DELADDR.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <array>
#include <cstring>
#include <vector>

#include "control/kernel/address_watch.hpp"
#include "control/kernel/kernel_interface.hpp"
#include "control/kernel/route_announcer.hpp"

using fulcrum::IpAddress;
using fulcrum::control::netlink_ack_problem;

namespace {

std::vector<char> message(uint16_t type, uint32_t seq, int error, size_t declared_extra = 0)
{
    std::vector<char> bytes(NLMSG_LENGTH(sizeof(nlmsgerr)), 0);
    nlmsghdr header{};
    header.nlmsg_len = static_cast<uint32_t>(bytes.size() + declared_extra);
    header.nlmsg_type = type;
    header.nlmsg_seq = seq;
    std::memcpy(bytes.data(), &header, sizeof header);
    nlmsgerr body{};
    body.error = error;
    std::memcpy(bytes.data() + NLMSG_HDRLEN, &body, sizeof body);
    return bytes;
}

}  // namespace

TEST(NetlinkAck, OnlyAnAcknowledgementOfOurRequestIsSuccess)
{
    auto ack = message(NLMSG_ERROR, 7, 0);
    EXPECT_EQ(netlink_ack_problem(ack.data(), ack.size(), 7), "");
    auto refused = message(NLMSG_ERROR, 7, -EEXIST);
    EXPECT_EQ(netlink_ack_problem(refused.data(), refused.size(), 7), "File exists");
    auto other_request = message(NLMSG_ERROR, 6, 0);
    EXPECT_EQ(netlink_ack_problem(other_request.data(), other_request.size(), 7),
              "netlink: an acknowledgement of request 6, not 7");
    auto done = message(NLMSG_DONE, 7, 0);
    EXPECT_EQ(netlink_ack_problem(done.data(), done.size(), 7), "netlink: a reply of type 3, not an acknowledgement");
    EXPECT_EQ(netlink_ack_problem(ack.data(), 10, 7), "netlink: a reply of 10 bytes, too short for an acknowledgement");
    auto overlong = message(NLMSG_ERROR, 7, 0, 100);
    EXPECT_EQ(netlink_ack_problem(overlong.data(), overlong.size(), 7), "netlink: a reply whose length says 136 bytes of 36");
    auto positive = message(NLMSG_ERROR, 7, 5);
    EXPECT_EQ(netlink_ack_problem(positive.data(), positive.size(), 7), "netlink: an error code 5 out of range");
}

// ---------------------------------------------------------------------------------------------
// The addresses the kernel interfaces hold, from RTM_NEWADDR and RTM_DELADDR (keepalived adding
// and taking away a VIP), built here field by field from <linux/rtnetlink.h>'s structures.

namespace {

// One address message: ifaddrmsg, then IFA_ADDRESS and IFA_LOCAL (either may be left out).
std::vector<char> address_message(uint16_t type, int family, int index, uint32_t local, uint32_t address = 0)
{
    std::vector<char> bytes(NLMSG_LENGTH(sizeof(ifaddrmsg)), 0);
    auto attribute = [&](uint16_t kind, uint32_t host_order) {
        if (host_order == 0) return;
        const size_t at = bytes.size();
        bytes.resize(at + RTA_SPACE(4), 0);
        rtattr a{static_cast<unsigned short>(RTA_LENGTH(4)), kind};
        std::memcpy(bytes.data() + at, &a, sizeof a);
        const uint32_t be = htonl(host_order);
        std::memcpy(bytes.data() + at + RTA_LENGTH(0), &be, 4);
    };
    attribute(IFA_ADDRESS, address);
    attribute(IFA_LOCAL, local);
    nlmsghdr h{};
    h.nlmsg_len = static_cast<uint32_t>(bytes.size());
    h.nlmsg_type = type;
    std::memcpy(bytes.data(), &h, sizeof h);
    ifaddrmsg ifa{};
    ifa.ifa_family = static_cast<unsigned char>(family);
    ifa.ifa_prefixlen = 32;
    ifa.ifa_index = static_cast<unsigned>(index);
    std::memcpy(bytes.data() + NLMSG_HDRLEN, &ifa, sizeof ifa);
    return bytes;
}

}  // namespace

TEST(AddressWatch, NewAndDeletedAddressesFollowTheKernel)
{
    using fulcrum::control::AddressesByInterface;
    using fulcrum::control::apply_address_messages;
    AddressesByInterface held;
    constexpr uint32_t vip = 0xC6120064, gateway = 0xC61300FE, own = 0xC6120001;
    // Two messages in one buffer, as the kernel sends a dump.
    std::vector<char> buffer = address_message(RTM_NEWADDR, AF_INET, 5, own);
    const auto second = address_message(RTM_NEWADDR, AF_INET, 5, vip, vip);
    buffer.insert(buffer.end(), second.begin(), second.end());
    EXPECT_TRUE(apply_address_messages(buffer.data(), buffer.size(), held));
    EXPECT_EQ(held, (AddressesByInterface{{5, {own, vip}}}));
    EXPECT_FALSE(apply_address_messages(second.data(), second.size(), held));  // nothing new
    // IFA_ADDRESS stands in where IFA_LOCAL is missing.
    const auto gw = address_message(RTM_NEWADDR, AF_INET, 6, 0, gateway);
    EXPECT_TRUE(apply_address_messages(gw.data(), gw.size(), held));
    // keepalived takes the VIP away (failover): gone from 5, the rest kept.
    const auto gone = address_message(RTM_DELADDR, AF_INET, 5, vip);
    EXPECT_TRUE(apply_address_messages(gone.data(), gone.size(), held));
    EXPECT_EQ(held, (AddressesByInterface{{5, {own}}, {6, {gateway}}}));
    // An IPv6 message with a 4-byte address, and other messages, are not addresses; a cut
    // message ends the buffer.
    const auto v6 = address_message(RTM_NEWADDR, AF_INET6, 5, 0x01020304);
    EXPECT_FALSE(apply_address_messages(v6.data(), v6.size(), held));
    const auto other = address_message(RTM_NEWROUTE, AF_INET, 5, 0x01020304);
    EXPECT_FALSE(apply_address_messages(other.data(), other.size(), held));
    const auto whole = address_message(RTM_NEWADDR, AF_INET, 7, 0x01020304);
    EXPECT_FALSE(apply_address_messages(whole.data(), whole.size() - 1, held));
    EXPECT_EQ(held.size(), 2u);
    // A last message whose length is not a multiple of 4 ends the buffer there (nothing is read
    // past it, which the sanitizer build would see).
    auto odd = address_message(RTM_NEWADDR, AF_INET, 8, 0x0A000001);
    odd.push_back(0);
    nlmsghdr h;
    std::memcpy(&h, odd.data(), sizeof h);
    h.nlmsg_len += 1;
    std::memcpy(odd.data(), &h, sizeof h);
    EXPECT_TRUE(apply_address_messages(odd.data(), odd.size(), held));
    held.erase(8);
    const auto last = address_message(RTM_DELADDR, AF_INET, 6, gateway);
    EXPECT_TRUE(apply_address_messages(last.data(), last.size(), held));
    EXPECT_EQ(held.count(6), 0u) << "an interface with no address left is forgotten";
}

// keepalived's IPv6 VIP on the TAP: RTM_NEWADDR of AF_INET6 carries IFA_ADDRESS alone, 16 bytes.
TEST(AddressWatch, Ipv6AddressesFollowTheKernelToo)
{
    using fulcrum::control::AddressesByInterface;
    using fulcrum::control::apply_address_messages;
    const IpAddress::Bytes vip6{0x20, 0x01, 0x0d, 0xb8, 0, 0x18, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x00};
    auto message6 = [&](uint16_t type, int index) {
        std::vector<char> bytes(NLMSG_LENGTH(sizeof(ifaddrmsg)) + RTA_SPACE(16), 0);
        nlmsghdr h{};
        h.nlmsg_len = static_cast<uint32_t>(bytes.size());
        h.nlmsg_type = type;
        std::memcpy(bytes.data(), &h, sizeof h);
        ifaddrmsg ifa{};
        ifa.ifa_family = AF_INET6;
        ifa.ifa_prefixlen = 128;
        ifa.ifa_index = static_cast<unsigned>(index);
        std::memcpy(bytes.data() + NLMSG_HDRLEN, &ifa, sizeof ifa);
        rtattr a{static_cast<unsigned short>(RTA_LENGTH(16)), IFA_ADDRESS};
        std::memcpy(bytes.data() + NLMSG_LENGTH(sizeof(ifaddrmsg)), &a, sizeof a);
        std::memcpy(bytes.data() + NLMSG_LENGTH(sizeof(ifaddrmsg)) + RTA_LENGTH(0), vip6.data(), 16);
        return bytes;
    };
    constexpr uint32_t own = 0xC6120001;
    AddressesByInterface held;
    const auto v4 = address_message(RTM_NEWADDR, AF_INET, 5, own);
    ASSERT_TRUE(apply_address_messages(v4.data(), v4.size(), held));
    const auto added = message6(RTM_NEWADDR, 5);
    EXPECT_TRUE(apply_address_messages(added.data(), added.size(), held));
    EXPECT_EQ(held, (AddressesByInterface{{5, {IpAddress(own), IpAddress::ipv6(vip6)}}}));
    const auto removed = message6(RTM_DELADDR, 5);
    EXPECT_TRUE(apply_address_messages(removed.data(), removed.size(), held));
    EXPECT_EQ(held, (AddressesByInterface{{5, {IpAddress(own)}}}));
}

// ---------------------------------------------------------------------------------------------
// The requests for the announced host routes, against messages laid out here from
// <linux/rtnetlink.h>: nlmsghdr, rtmsg, then RTA_DST (4 or 16 bytes), RTA_OIF and RTA_TABLE.

namespace {

// What every route request starts with: nlmsghdr (request 1, acknowledged) and the rtmsg of a
// static unicast route.
struct RouteHead {
    nlmsghdr header;
    rtmsg route;
};

RouteHead route_head(size_t length, bool add, uint16_t add_flags, unsigned char family, unsigned char dst_len,
                     unsigned char rtm_table, unsigned char scope)
{
    RouteHead h;
    std::memset(&h, 0, sizeof h);
    h.header.nlmsg_len = static_cast<uint32_t>(length);
    h.header.nlmsg_type = add ? RTM_NEWROUTE : RTM_DELROUTE;
    // A delete takes no flags of its own.
    h.header.nlmsg_flags = static_cast<uint16_t>(NLM_F_REQUEST | NLM_F_ACK | (add ? add_flags : 0));
    h.header.nlmsg_seq = 1;
    h.route.rtm_family = family;
    h.route.rtm_dst_len = dst_len;
    h.route.rtm_table = rtm_table;
    h.route.rtm_protocol = RTPROT_STATIC;
    h.route.rtm_scope = scope;
    h.route.rtm_type = RTN_UNICAST;
    return h;
}

template <size_t AddressBytes>
struct HostRouteMessage {
    nlmsghdr header;
    rtmsg route;
    rtattr dst_attribute;
    uint8_t dst[AddressBytes];
    rtattr oif_attribute;
    uint32_t oif;
    rtattr table_attribute;
    uint32_t table;
};
// Every part a multiple of 4 bytes: the attributes follow each other with no padding.
static_assert(sizeof(HostRouteMessage<4>) == 16 + 12 + 8 + 8 + 8);
static_assert(sizeof(HostRouteMessage<16>) == 16 + 12 + 20 + 8 + 8);

template <size_t AddressBytes>
std::vector<uint8_t> expected_host_route(bool add, unsigned char family, unsigned char rtm_table, unsigned char scope,
                                         const std::array<uint8_t, AddressBytes>& dst, uint32_t oif, uint32_t table)
{
    HostRouteMessage<AddressBytes> m;
    std::memset(&m, 0, sizeof m);
    // `ip route replace`: created if missing, replaced if there.
    const RouteHead head = route_head(sizeof m, add, NLM_F_CREATE | NLM_F_REPLACE, family, AddressBytes * 8, rtm_table, scope);
    m.header = head.header;
    m.route = head.route;
    m.dst_attribute = {static_cast<unsigned short>(4 + AddressBytes), RTA_DST};
    std::memcpy(m.dst, dst.data(), AddressBytes);
    m.oif_attribute = {8, RTA_OIF};
    m.oif = oif;
    m.table_attribute = {8, RTA_TABLE};
    m.table = table;
    std::vector<uint8_t> bytes(sizeof m);
    std::memcpy(bytes.data(), &m, sizeof m);
    return bytes;
}

}  // namespace

TEST(HostRouteRequest, Ipv4IsASlash32InTheTableOverTheInterface)
{
    using fulcrum::control::host_route_request;
    const std::array<uint8_t, 4> vip{198, 18, 0, 100};
    EXPECT_EQ(host_route_request(0xC6120064u, 100, 7, true),
              expected_host_route(true, AF_INET, 100, RT_SCOPE_LINK, vip, 7, 100));
    EXPECT_EQ(host_route_request(0xC6120064u, 100, 7, false),
              expected_host_route(false, AF_INET, 100, RT_SCOPE_LINK, vip, 7, 100));
    // A table above 255 is in RTA_TABLE alone.
    EXPECT_EQ(host_route_request(0xC6120064u, 4000000000u, 7, true),
              expected_host_route(true, AF_INET, RT_TABLE_UNSPEC, RT_SCOPE_LINK, vip, 7, 4000000000u));
}

TEST(HostRouteRequest, Ipv6IsASlash128InTheSameTableOverTheSameInterface)
{
    using fulcrum::control::host_route_request;
    const std::array<uint8_t, 16> vip{0x20, 0x01, 0x0d, 0xb8, 0, 0x18, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x00};
    const fulcrum::IpAddress vip6 = fulcrum::IpAddress::ipv6(vip);  // 2001:db8:18::100
    EXPECT_EQ(host_route_request(vip6, 100, 7, true),
              expected_host_route(true, AF_INET6, 100, RT_SCOPE_UNIVERSE, vip, 7, 100));
    EXPECT_EQ(host_route_request(vip6, 100, 7, false),
              expected_host_route(false, AF_INET6, 100, RT_SCOPE_UNIVERSE, vip, 7, 100));
    EXPECT_EQ(host_route_request(vip6, 300, 12, true),
              expected_host_route(true, AF_INET6, RT_TABLE_UNSPEC, RT_SCOPE_UNIVERSE, vip, 12, 300));
}

// Route health injection against a kernel that says what it was asked, and refuses on demand.
TEST(RouteAnnouncer, RoutesFollowAvailabilityTableAndInterface)
{
    using fulcrum::control::RouteAnnouncer;
    constexpr uint32_t vip_a = 0xC6120064, vip_b = 0xC6120065;
    std::vector<std::string> asked;
    bool refuse = false;
    RouteAnnouncer announcer([&](const fulcrum::IpAddress& vip, uint32_t table, const std::string& interface, bool present) {
        asked.push_back(std::string(present ? "add " : "del ") + std::to_string(vip.ipv4() & 0xff) + " " +
                        std::to_string(table) + " " + interface);
        return refuse ? std::string("refused") : std::string();
    });
    // Available before announce is on: remembered, nothing asked.
    EXPECT_EQ(announcer.set_available(vip_a, true), "");
    EXPECT_TRUE(asked.empty());
    EXPECT_EQ(announcer.configure(100, "fl-ext"), "");
    EXPECT_EQ(asked, (std::vector<std::string>{"add 100 100 fl-ext"}));
    EXPECT_TRUE(announcer.announced(vip_a));
    asked.clear();
    announcer.set_available(vip_b, true);
    announcer.set_available(vip_b, true);  // no change: nothing asked
    announcer.set_available(vip_a, false);
    EXPECT_EQ(asked, (std::vector<std::string>{"add 101 100 fl-ext", "del 100 100 fl-ext"}));
    // Another table: the old route goes before the new one comes.
    asked.clear();
    announcer.configure(200, "fl-ext");
    EXPECT_EQ(asked, (std::vector<std::string>{"del 101 100 fl-ext", "add 101 200 fl-ext"}));
    // The kernel refuses: said, kept as it was, tried again until it goes through.
    asked.clear();
    refuse = true;
    EXPECT_EQ(announcer.set_available(vip_b, false), "refused");
    EXPECT_TRUE(announcer.announced(vip_b));
    EXPECT_EQ(announcer.retry(), "refused");
    refuse = false;
    EXPECT_EQ(announcer.retry(), "");
    EXPECT_FALSE(announcer.announced(vip_b));
    EXPECT_EQ(asked, (std::vector<std::string>{"del 101 200 fl-ext", "del 101 200 fl-ext", "del 101 200 fl-ext"}));
    // Off (table 0) takes every route away; on again puts back the available ones.
    announcer.set_available(vip_a, true);
    asked.clear();
    announcer.configure(0, "");
    EXPECT_EQ(asked, (std::vector<std::string>{"del 100 200 fl-ext"}));
    EXPECT_TRUE(announcer.installed().empty());
    asked.clear();
    announcer.configure(100, "fl-int");
    EXPECT_EQ(asked, (std::vector<std::string>{"add 100 100 fl-int"}));
    // Stopping withdraws everything.
    asked.clear();
    EXPECT_EQ(announcer.withdraw_all(), "");
    EXPECT_EQ(asked, (std::vector<std::string>{"del 100 100 fl-int"}));
    EXPECT_TRUE(announcer.installed().empty());
}

// IPv6 VIPs beside IPv4 ones: the same table and interface, the same moves, retries and withdrawal.
TEST(RouteAnnouncer, Ipv6VipsFollowTheSameRulesAsIpv4Ones)
{
    using fulcrum::IpAddress;
    using fulcrum::control::RouteAnnouncer;
    const IpAddress vip4 = 0xC6120064u;
    const IpAddress vip6 = IpAddress::ipv6({0x20, 0x01, 0x0d, 0xb8, 0, 0x18, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x00});
    std::vector<std::string> asked;
    bool refuse = false;
    RouteAnnouncer announcer([&](const IpAddress& vip, uint32_t table, const std::string& interface, bool present) {
        asked.push_back(std::string(present ? "add " : "del ") + fulcrum::format_ip(vip) + " " + std::to_string(table) +
                        " " + interface);
        return refuse && vip.is_ipv6() ? std::string("Permission denied") : std::string();
    });
    announcer.configure(100, "fl-ext");
    announcer.set_available(vip6, true);
    announcer.set_available(vip4, true);
    EXPECT_EQ(asked, (std::vector<std::string>{"add 2001:db8:18::100 100 fl-ext", "add 198.18.0.100 100 fl-ext"}));
    EXPECT_TRUE(announcer.announced(vip6));
    EXPECT_TRUE(announcer.announced(vip4));
    asked.clear();
    announcer.set_available(vip6, false);
    EXPECT_EQ(asked, (std::vector<std::string>{"del 2001:db8:18::100 100 fl-ext"}));
    EXPECT_FALSE(announcer.announced(vip6));
    EXPECT_TRUE(announcer.announced(vip4));
    // Refused (IPv6 off on the interface): kept wanted, tried again, in the end put.
    asked.clear();
    refuse = true;
    EXPECT_EQ(announcer.set_available(vip6, true), "Permission denied");
    EXPECT_FALSE(announcer.announced(vip6));
    EXPECT_EQ(announcer.retry(), "Permission denied");
    refuse = false;
    EXPECT_EQ(announcer.retry(), "");
    EXPECT_TRUE(announcer.announced(vip6));
    EXPECT_EQ(asked, (std::vector<std::string>(3, "add 2001:db8:18::100 100 fl-ext")));
    // Another table: both move, the old ones going first (IPv4 before IPv6, as addresses order).
    asked.clear();
    announcer.configure(200, "fl-ext");
    EXPECT_EQ(asked, (std::vector<std::string>{"del 198.18.0.100 100 fl-ext", "del 2001:db8:18::100 100 fl-ext",
                                                "add 198.18.0.100 200 fl-ext", "add 2001:db8:18::100 200 fl-ext"}));
    asked.clear();
    EXPECT_EQ(announcer.withdraw_all(), "");
    EXPECT_EQ(asked, (std::vector<std::string>{"del 198.18.0.100 200 fl-ext", "del 2001:db8:18::100 200 fl-ext"}));
    EXPECT_TRUE(announcer.installed().empty());
}

// ---------------------------------------------------------------------------------------------
// The exception path's routes on the TAPs (the configured `routes:`), against messages laid out
// here from <linux/rtnetlink.h>: nlmsghdr, rtmsg, then RTA_DST and RTA_GATEWAY (4 or 16 bytes
// each) and RTA_OIF, in the main table.

namespace {

template <size_t AddressBytes>
struct GatewayRouteMessage {
    nlmsghdr header;
    rtmsg route;
    rtattr dst_attribute;
    uint8_t dst[AddressBytes];
    rtattr gateway_attribute;
    uint8_t gateway[AddressBytes];
    rtattr oif_attribute;
    uint32_t oif;
};
static_assert(sizeof(GatewayRouteMessage<4>) == 16 + 12 + 8 + 8 + 8);
static_assert(sizeof(GatewayRouteMessage<16>) == 16 + 12 + 20 + 20 + 8);

template <size_t AddressBytes>
std::vector<uint8_t> expected_gateway_route(bool add, unsigned char family, unsigned char dst_len,
                                            const std::array<uint8_t, AddressBytes>& dst,
                                            const std::array<uint8_t, AddressBytes>& gateway, uint32_t oif)
{
    GatewayRouteMessage<AddressBytes> m;
    std::memset(&m, 0, sizeof m);
    // `ip route add`: refused where the kernel has the route already (the host's own stays).
    const RouteHead head = route_head(sizeof m, add, NLM_F_CREATE | NLM_F_EXCL, family, dst_len, RT_TABLE_MAIN, RT_SCOPE_UNIVERSE);
    m.header = head.header;
    m.route = head.route;
    m.dst_attribute = {static_cast<unsigned short>(4 + AddressBytes), RTA_DST};
    std::memcpy(m.dst, dst.data(), AddressBytes);
    m.gateway_attribute = {static_cast<unsigned short>(4 + AddressBytes), RTA_GATEWAY};
    std::memcpy(m.gateway, gateway.data(), AddressBytes);
    m.oif_attribute = {8, RTA_OIF};
    m.oif = oif;
    std::vector<uint8_t> bytes(sizeof m);
    std::memcpy(bytes.data(), &m, sizeof m);
    return bytes;
}

using Bytes16 = std::array<uint8_t, 16>;
constexpr Bytes16 net77{0x20, 0x01, 0x0d, 0xb8, 0, 0x77, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};        // 2001:db8:77::
constexpr Bytes16 rs3{0x20, 0x01, 0x0d, 0xb8, 0, 0x19, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x13};       // 2001:db8:19::13
constexpr Bytes16 router_ll{0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01};           // fe80::1

}  // namespace

TEST(KernelRouteRequest, Ipv4RouteIsTheDestinationTheGatewayAndTheTap)
{
    using fulcrum::control::KernelRoute;
    using fulcrum::control::kernel_route_request;
    // 10.77.0.0/16 via 10.0.2.13 dev fl-int (index 5); host bits in the configured prefix are not sent.
    const KernelRoute route{{0x0A4D0102u, 16}, 0x0A00020Du, "fl-int"};
    const std::array<uint8_t, 4> dst{10, 77, 0, 0}, gateway{10, 0, 2, 13};
    EXPECT_EQ(kernel_route_request(route, 5, true), expected_gateway_route(true, AF_INET, 16, dst, gateway, 5));
    EXPECT_EQ(kernel_route_request(route, 5, false), expected_gateway_route(false, AF_INET, 16, dst, gateway, 5));
    const KernelRoute fallback{{0u, 0}, 0x0A00020Du, "fl-int"};
    EXPECT_EQ(kernel_route_request(fallback, 5, true),
              expected_gateway_route(true, AF_INET, 0, std::array<uint8_t, 4>{}, gateway, 5));
}

TEST(KernelRouteRequest, Ipv6RouteCarriesSixteenByteDestinationAndGateway)
{
    using fulcrum::control::KernelRoute;
    using fulcrum::control::kernel_route_request;
    Bytes16 with_host_bits = net77;
    with_host_bits[15] = 0x13;
    // 2001:db8:77::13/64 via 2001:db8:19::13 dev fl-int: the network 2001:db8:77::/64 is sent.
    const KernelRoute route{{IpAddress::ipv6(with_host_bits), 64}, IpAddress::ipv6(rs3), "fl-int"};
    EXPECT_EQ(kernel_route_request(route, 5, true), expected_gateway_route(true, AF_INET6, 64, net77, rs3, 5));
    EXPECT_EQ(kernel_route_request(route, 5, false), expected_gateway_route(false, AF_INET6, 64, net77, rs3, 5));
}

TEST(KernelRouteRequest, Ipv6LinkLocalGatewayAndDefaultRouteNameTheirTap)
{
    using fulcrum::control::KernelRoute;
    using fulcrum::control::kernel_route_request;
    // via fe80::1 (interface: ext): the gateway is on that TAP alone, which RTA_OIF says.
    const KernelRoute link_local{{IpAddress::ipv6(net77), 48}, IpAddress::ipv6(router_ll), "fl-ext"};
    EXPECT_EQ(kernel_route_request(link_local, 9, true), expected_gateway_route(true, AF_INET6, 48, net77, router_ll, 9));
    EXPECT_EQ(kernel_route_request(link_local, 9, false), expected_gateway_route(false, AF_INET6, 48, net77, router_ll, 9));
    // ::/0, the default route: a destination of length 0.
    const KernelRoute fallback{{IpAddress::ipv6(Bytes16{}), 0}, IpAddress::ipv6(router_ll), "fl-ext"};
    EXPECT_EQ(kernel_route_request(fallback, 9, true), expected_gateway_route(true, AF_INET6, 0, Bytes16{}, router_ll, 9));
    EXPECT_EQ(kernel_route_request(fallback, 9, false), expected_gateway_route(false, AF_INET6, 0, Bytes16{}, router_ll, 9));
}

// Which configured routes go on which TAP: the one of the interface the next hop leaves through,
// IPv6 ones only where that TAP has IPv6 on.
TEST(KernelRoutesWanted, EachRouteOnItsInterfacesTapIpv6OnlyWhereIpv6IsOn)
{
    using fulcrum::IpPrefix;
    using fulcrum::control::Config;
    using fulcrum::control::KernelRoute;
    using fulcrum::control::kernel_routes_wanted;
    Bytes16 own6 = rs3;
    own6[15] = 0x01;  // 2001:db8:19::1
    Config config;
    config.interfaces.push_back({.name = "int", .addresses = {IpPrefix{0x0A000201u, 24}, IpPrefix{IpAddress::ipv6(own6), 64}},
                                 .kernel_interface = "fl-int"});
    config.interfaces.push_back({.name = "ext", .addresses = {IpPrefix{0xC6120001u, 24}}, .kernel_interface = "fl-ext"});
    config.interfaces.push_back({.name = "bare", .addresses = {IpPrefix{0xC6130001u, 24}}, .kernel_interface = ""});
    const IpPrefix v6_dst{IpAddress::ipv6(net77), 64};
    const IpPrefix v6_default{IpAddress::ipv6(Bytes16{}), 0};
    config.routes = {
        {IpPrefix{0x0A4D0000u, 16}, 0x0A00020Du, ""},               // over int
        {v6_dst, IpAddress::ipv6(rs3), ""},                          // over int, which has IPv6
        {v6_default, IpAddress::ipv6(router_ll), "int"},             // link-local, over int
        {v6_default, IpAddress::ipv6(router_ll), "ext"},             // ext's TAP has IPv6 off
        {IpPrefix{0u, 0}, 0xC61200FEu, ""},                          // over ext
        {IpPrefix{0x0A4E0000u, 16}, 0xC61300FEu, ""},                // bare has no TAP
    };
    EXPECT_EQ(kernel_routes_wanted(config),
              (std::vector<KernelRoute>{{IpPrefix{0x0A4D0000u, 16}, 0x0A00020Du, "fl-int"},
                                        {v6_dst, IpAddress::ipv6(rs3), "fl-int"},
                                        {v6_default, IpAddress::ipv6(router_ll), "fl-int"},
                                        {IpPrefix{0u, 0}, 0xC61200FEu, "fl-ext"}}));
    EXPECT_TRUE(fulcrum::control::kernel_interface_wants_ipv6(config.interfaces[0]));
    EXPECT_FALSE(fulcrum::control::kernel_interface_wants_ipv6(config.interfaces[1]));
}
