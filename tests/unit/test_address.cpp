// common/address.hpp against glibc's inet_ntop and inet_pton, an implementation written
// elsewhere: the text ipvsadm prints is inet_ntop's.
#include <gtest/gtest.h>

#include <arpa/inet.h>

#include <random>
#include <string>

#include "common/address.hpp"

using namespace fulcrum;

namespace {

std::string glibc_text(const IpAddress::Bytes& bytes)
{
    char buf[INET6_ADDRSTRLEN];
    EXPECT_NE(inet_ntop(AF_INET6, bytes.data(), buf, sizeof buf), nullptr);
    return buf;
}

bool glibc_accepts(const std::string& text)
{
    unsigned char out[16];
    return inet_pton(AF_INET6, text.c_str(), out) == 1;
}

// Addresses with many zero groups, ffff groups and IPv4-looking tails, where the text has its
// choices (which run is "::", mixed notation).
IpAddress::Bytes random_bytes(std::mt19937& rng)
{
    IpAddress::Bytes b{};
    for (size_t k = 0; k < 8; ++k) {
        const unsigned pick = rng() % 8;
        const uint16_t word = pick < 4 ? 0 : pick == 4 ? 0xffff : pick == 5 ? static_cast<uint16_t>(rng() % 16)
                                                                           : static_cast<uint16_t>(rng());
        b[2 * k] = static_cast<uint8_t>(word >> 8);
        b[2 * k + 1] = static_cast<uint8_t>(word);
    }
    return b;
}

TEST(IpAddress, Ipv6TextIsInetNtopsForEveryShapeOfZeroRuns)
{
    std::mt19937 rng(12);
    for (int i = 0; i < 50000; ++i) {
        const IpAddress::Bytes b = random_bytes(rng);
        ASSERT_EQ(format_ip(IpAddress::ipv6(b)), glibc_text(b)) << i;
    }
    // The mixed notations inet_ntop chooses, and the ones it does not.
    for (const char* text : {"::ffff:1.2.3.4", "::1.2.3.4", "::1", "::", "::ffff:0:0", "::ffff:0.0.0.0", "1::ffff:1.2.3.4",
                             "::2:ffff:102:304", "2001:db8::1", "2001:db8:0:1:1:1:1:1", "2001:0:0:1::1"}) {
        unsigned char raw[16];
        ASSERT_EQ(inet_pton(AF_INET6, text, raw), 1) << text;
        IpAddress::Bytes b;
        std::copy(raw, raw + 16, b.begin());
        EXPECT_EQ(format_ip(IpAddress::ipv6(b)), glibc_text(b)) << text;
    }
}

TEST(IpAddress, Ipv6ParsingAcceptsWhatInetPtonAcceptsAndReadsTheSameBytes)
{
    std::mt19937 rng(34);
    for (int i = 0; i < 20000; ++i) {
        const IpAddress::Bytes b = random_bytes(rng);
        // The compressed text, and every group written out in full and in capitals.
        std::string full;
        for (size_t k = 0; k < 8; ++k) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "%s%04X", k ? ":" : "", (b[2 * k] << 8) | b[2 * k + 1]);
            full += buf;
        }
        for (const std::string& text : {glibc_text(b), full}) {
            const auto parsed = parse_ip(text);
            ASSERT_TRUE(parsed.has_value()) << text;
            EXPECT_EQ(parsed->family(), Family::ipv6);
            EXPECT_EQ(parsed->bytes(), b) << text;
        }
    }
    for (const char* text : {":::", "1::2::3", "12345::", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7", "::1.2.3", "1.2.3.4::", ":1::",
                             "1::2:", "g::", "::ffff:1.2.3.4", "1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:7:1.2.3.4", ":", "1:",
                             "::1:2:3:4:5:6:7", "1:2:3:4:5:6:7::", "::1:2:3:4:5:6:7:8", "1::2:3:4:5:6:7", "::01.2.3.4",
                             "::1.2.3.256", "[::1]", "fe80::1%eth0", " ::1", "::1 ", "0:0:0:0:0:0:0:0", "::0:0:0:0:0:0:0"}) {
        EXPECT_EQ(parse_ip(text).has_value(), glibc_accepts(text)) << '"' << text << '"';
    }
}

TEST(IpAddress, Ipv4IsTheProjectsHostOrderValue)
{
    const IpAddress a(0xC6336401);  // 198.51.100.1
    EXPECT_TRUE(a.is_ipv4());
    EXPECT_EQ(a.ipv4(), 0xC6336401u);
    EXPECT_EQ(a.size(), 4u);
    EXPECT_EQ(format_ip(a), "198.51.100.1");
    EXPECT_EQ(parse_ip("198.51.100.1"), a);
    EXPECT_FALSE(parse_ip("198.51.100.256").has_value());
    EXPECT_FALSE(parse_ip("198.51.100").has_value());
    EXPECT_EQ(IpAddress::ipv6({}).ipv4(), 0u);
}

TEST(IpAddress, EndpointsAreWrittenAndReadAsIpvsadmWritesThem)
{
    const IpAddress v6 = *parse_ip("2001:db8::1");
    EXPECT_EQ(format_endpoint(v6, 80), "[2001:db8::1]:80");
    EXPECT_EQ(format_endpoint(IpAddress(0xC6336401), 8080), "198.51.100.1:8080");
    auto e = parse_endpoint("[2001:db8::1]:80");
    ASSERT_TRUE(e.has_value());
    EXPECT_EQ(e->address, v6);
    EXPECT_EQ(e->port, 80);
    e = parse_endpoint("2001:db8::1");
    ASSERT_TRUE(e.has_value());
    EXPECT_FALSE(e->port.has_value());
    e = parse_endpoint("198.51.100.1:443");
    ASSERT_TRUE(e.has_value());
    EXPECT_EQ(e->address, IpAddress(0xC6336401));
    EXPECT_EQ(e->port, 443);
    for (const char* bad : {"[2001:db8::1]:0", "[2001:db8::1]:65536", "[2001:db8::1", "[2001:db8::1]80", "198.51.100.1:",
                            "198.51.100.1:080", "[198.51.100.1]:80", "2001:db8::1:80:", "[::1]:8o"})
        EXPECT_FALSE(parse_endpoint(bad).has_value()) << bad;
}

TEST(IpAddress, OrderIsFamilyThenBytes)
{
    const IpAddress high_v4(0xffffffff), low_v6 = IpAddress::ipv6({});
    EXPECT_LT(high_v4, low_v6);
    EXPECT_LT(IpAddress(1), IpAddress(2));
    EXPECT_LT(*parse_ip("::1"), *parse_ip("::2"));
    EXPECT_EQ(*parse_ip("2001:DB8::1"), *parse_ip("2001:db8:0:0:0:0:0:1"));
}

// Bit i of an address, counted from the most significant: the reference the prefixes are
// checked against, one bit at a time.
bool bit_of(const IpAddress& a, unsigned i) { return (a.bytes()[i / 8] >> (7 - i % 8)) & 1; }

TEST(IpPrefix, ContainsIsTheFirstLengthBitsEqualAndNeverAcrossFamilies)
{
    std::mt19937 rng(15);
    for (int round = 0; round < 2000; ++round) {
        const IpAddress base = IpAddress::ipv6(random_bytes(rng));
        IpAddress::Bytes other_bytes = base.bytes();
        const unsigned flipped = rng() % 128;
        other_bytes[flipped / 8] ^= static_cast<uint8_t>(0x80 >> (flipped % 8));
        const IpAddress other = IpAddress::ipv6(other_bytes);
        const auto length = static_cast<uint8_t>(rng() % 129);
        const IpPrefix p{base, length};
        EXPECT_EQ(p.contains(other), flipped >= length) << format_prefix(p) << " " << format_ip(other);
        EXPECT_TRUE(p.contains(base));
        const IpAddress net = p.network();
        for (unsigned i = 0; i < 128; ++i) ASSERT_EQ(bit_of(net, i), i < length && bit_of(base, i)) << format_prefix(p) << " bit " << i;
    }
    const IpPrefix v4{IpAddress(0x0a000001), 24};
    EXPECT_EQ(v4.network(), IpAddress(0x0a000000));
    EXPECT_TRUE(v4.contains(IpAddress(0x0a0000fe)));
    EXPECT_FALSE(v4.contains(IpAddress(0x0a000100)));
    EXPECT_FALSE(v4.contains(*parse_ip("::a00:1")));  // the same low bits in the other family
    EXPECT_TRUE((IpPrefix{IpAddress(0x01020304), 0}.contains(IpAddress(0xffffffff))));
    EXPECT_FALSE((IpPrefix{IpAddress::ipv6({}), 0}.contains(IpAddress(0))));  // ::/0 holds no IPv4 address
    EXPECT_TRUE((IpPrefix{IpAddress::ipv6({}), 0}.contains(*parse_ip("2001:db8::1"))));
}

TEST(IpPrefix, TextIsAddressSlashLength)
{
    const auto p = parse_prefix("2001:db8::1/32");
    ASSERT_TRUE(p.has_value());
    EXPECT_EQ(p->address, *parse_ip("2001:db8::1"));
    EXPECT_EQ(p->length, 32);
    EXPECT_EQ(format_prefix(*p), "2001:db8::1/32");
    EXPECT_EQ(format_prefix(IpPrefix{p->network(), p->length}), "2001:db8::/32");
    EXPECT_EQ(format_prefix(*parse_prefix("::/0")), "::/0");
    EXPECT_EQ(format_prefix(*parse_prefix("10.0.0.1/24")), "10.0.0.1/24");
    EXPECT_EQ(*parse_prefix("fe80::1", true), (IpPrefix{*parse_ip("fe80::1"), 128}));
    EXPECT_EQ(*parse_prefix("10.0.0.1", true), (IpPrefix{IpAddress(0x0a000001), 32}));
    EXPECT_EQ(parse_prefix("2001:db8::/128")->length, 128);
    for (const char* bad : {"10.0.0.1/33", "2001:db8::/129", "10.0.0.1", "2001:db8::", "10.0.0.1/", "10.0.0.1/024",
                            "[2001:db8::]/32", "2001:db8::/3 2", "/24", "10.0.0.1/-1", "fe80::1%eth0/64"})
        EXPECT_FALSE(parse_prefix(bad).has_value()) << bad;
}

TEST(IpPrefix, LinkLocalAndMulticastAreTheirRfc4291Ranges)
{
    EXPECT_TRUE(is_ipv6_link_local(*parse_ip("fe80::1")));
    EXPECT_TRUE(is_ipv6_link_local(*parse_ip("febf:ffff::1")));
    EXPECT_FALSE(is_ipv6_link_local(*parse_ip("fec0::1")));
    EXPECT_FALSE(is_ipv6_link_local(IpAddress(0xfe800000)));
    EXPECT_TRUE(is_ipv6_multicast(*parse_ip("ff02::1:ff00:1")));
    EXPECT_FALSE(is_ipv6_multicast(*parse_ip("fe02::1")));
    EXPECT_EQ(full_length(Family::ipv4), 32);
    EXPECT_EQ(full_length(Family::ipv6), 128);
}

}  // namespace
