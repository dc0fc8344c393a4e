// Byte-level fixtures for parse, NAT rewriting, TTL and ICMP echo: plain buffers, no mbufs.
#include <gtest/gtest.h>

#include <random>

#include "dataplane/icmp.hpp"
#include "dataplane/nat.hpp"
#include "dataplane/parse.hpp"
#include "fixtures/packet_builder.hpp"
#include "fixtures/packet_builder6.hpp"

using namespace fulcrum::dataplane;
using namespace fixture;

namespace {

const rte_ether_addr port_ether{{0x02, 0, 0, 0, 0, 0x01}};
const uint32_t client = ipv4(198, 18, 0, 2);
const uint32_t vip = ipv4(198, 18, 0, 100);
const uint32_t real = ipv4(198, 19, 0, 11);

Verdict parse(Bytes& b, ParsedPacket& p)
{
    return parse_frame(b.data(), static_cast<uint32_t>(b.size()), port_ether, p);
}

}  // namespace

TEST(Parse, TcpSynToVip)
{
    Bytes b = Frame{}.src(client, 40000).dst(vip, 80).tcp(SYN).bytes();
    ParsedPacket p;
    ASSERT_EQ(parse(b, p).kind, Verdict::Kind::next);
    EXPECT_FALSE(p.is_arp);
    EXPECT_FALSE(p.is_fragment);
    EXPECT_EQ(p.l3_offset, 14);
    EXPECT_EQ(p.l4_offset, 34);
    EXPECT_EQ(p.l4_length, 20);
    EXPECT_EQ(p.frame_length, 54u);
    EXPECT_EQ(p.key.src_ip, rte_cpu_to_be_32(client));
    EXPECT_EQ(p.key.dst_ip, rte_cpu_to_be_32(vip));
    EXPECT_EQ(p.key.src_port, rte_cpu_to_be_16(40000));
    EXPECT_EQ(p.key.dst_port, rte_cpu_to_be_16(80));
    EXPECT_EQ(p.key.proto, IPPROTO_TCP);
    EXPECT_EQ(p.tcp_flags, SYN);
}

TEST(Parse, LinkPaddingIsNotPartOfTheDatagram)
{
    Bytes b = Frame{}.src(client, 5000).dst(vip, 53).udp().with_payload("x").padded(17).bytes();
    ParsedPacket p;
    ASSERT_EQ(parse(b, p).kind, Verdict::Kind::next);
    EXPECT_EQ(p.frame_length, 14u + 20 + 8 + 1);
    EXPECT_EQ(b.size(), 14u + 20 + 8 + 1 + 17);
}

TEST(Parse, BroadcastAcceptedOtherUnicastDropped)
{
    Bytes b = Frame{}.to({0xff, 0xff, 0xff, 0xff, 0xff, 0xff}).src(client, 1).dst(vip, 2).udp().bytes();
    ParsedPacket p;
    EXPECT_EQ(parse(b, p).kind, Verdict::Kind::next);
    Bytes other = Frame{}.to({0x02, 9, 9, 9, 9, 9}).src(client, 1).dst(vip, 2).udp().bytes();
    Verdict v = parse(other, p);
    EXPECT_EQ(v.kind, Verdict::Kind::drop);
    EXPECT_EQ(v.reason, DropReason::not_for_our_mac);
}

TEST(Parse, MalformedFramesAreDroppedByReason)
{
    struct Case {
        const char* what;
        Bytes frame;
        DropReason reason;
    };
    Bytes good = Frame{}.src(client, 1).dst(vip, 80).tcp(SYN).bytes();
    std::vector<Case> cases;
    cases.push_back({"shorter than Ethernet", Bytes(good.begin(), good.begin() + 10), DropReason::too_short});
    cases.push_back({"shorter than IPv4", Bytes(good.begin(), good.begin() + 30), DropReason::too_short});
    Bytes vlan = good;
    put16(vlan, 12, 0x8100);
    cases.push_back({"802.1Q", vlan, DropReason::unsupported_ethertype});
    Bytes version = good;
    version[14] = 0x65;
    cases.push_back({"IP version 6 in an IPv4 frame", version, DropReason::bad_ip_header});
    Bytes ihl = good;
    ihl[14] = 0x44;
    cases.push_back({"header length 16", ihl, DropReason::bad_ip_header});
    Bytes total = good;
    put16(total, 16, 200);
    put16(total, 24, 0);
    put16(total, 24, inet_checksum(&total[14], 20));
    cases.push_back({"total length beyond the frame", total, DropReason::bad_ip_header});
    Bytes checksum = good;
    checksum[24] ^= 0x01;
    cases.push_back({"IP checksum", checksum, DropReason::bad_ip_checksum});
    Bytes tcp_short = Frame{}.src(client, 1).dst(vip, 80).tcp(SYN).bytes();
    tcp_short[34 + 12] = 0x40;  // data offset 16 bytes < 20
    cases.push_back({"TCP data offset", tcp_short, DropReason::bad_l4_header});
    Bytes tcp_long = Frame{}.src(client, 1).dst(vip, 80).tcp(SYN).with_payload("0123").bytes();
    tcp_long[34 + 12] = 0x70;  // a 28-byte TCP header in a 24-byte segment
    cases.push_back({"TCP data offset beyond the segment", tcp_long, DropReason::bad_l4_header});
    Bytes udp_len = Frame{}.src(client, 1).dst(vip, 53).udp().with_payload("abc").bytes();
    put16(udp_len, 34 + 4, 100);
    cases.push_back({"UDP length", udp_len, DropReason::bad_l4_header});
    Bytes arp_short = Arp{}.bytes();
    arp_short.resize(30);
    cases.push_back({"truncated ARP", arp_short, DropReason::too_short});

    for (Case& c : cases) {
        ParsedPacket p;
        Verdict v = parse(c.frame, p);
        EXPECT_EQ(v.kind, Verdict::Kind::drop) << c.what;
        EXPECT_EQ(v.reason, c.reason) << c.what;
    }
}

TEST(Parse, FragmentsCarryNoPorts)
{
    Bytes b = Frame{}.src(client, 1).dst(vip, 80).udp().with_frag(0x2000).with_payload("abcdefgh").bytes();
    ParsedPacket p;
    ASSERT_EQ(parse(b, p).kind, Verdict::Kind::next);
    EXPECT_TRUE(p.is_fragment);
    EXPECT_EQ(p.key.src_port, 0);
    Bytes later = Frame{}.src(client, 1).dst(vip, 80).udp().with_frag(0x0010).bytes();
    ASSERT_EQ(parse(later, p).kind, Verdict::Kind::next);
    EXPECT_TRUE(p.is_fragment);
}

TEST(Parse, AnIcmpErrorsQuoteIsFoundOnceWholeAndOnlyForErrors)
{
    // The packet a real server says was too big: its IP header and 8 bytes.
    const Bytes quoted = Frame{}.src(client, 40000).dst(real, 8080).tcp(SYN).bytes();
    const std::string quote(quoted.begin() + 14, quoted.begin() + 42);
    ParsedPacket p;
    Bytes b = Frame{}.src(real).dst(client).icmp(3, 4).with_payload(quote).bytes();
    ASSERT_EQ(parse(b, p).kind, Verdict::Kind::next);
    EXPECT_EQ(p.quote_offset, 14 + 20 + 8);
    EXPECT_EQ(p.quote_length(), 28);
    EXPECT_EQ(p.quote(b.data())->src_addr, rte_cpu_to_be_32(client));
    EXPECT_EQ(quoted_ports(p.quote(b.data())).second, rte_cpu_to_be_16(8080));
    // Source quench and time exceeded quote too.
    for (uint8_t type : {4, 11}) {
        b = Frame{}.src(real).dst(client).icmp(type).with_payload(quote).bytes();
        ASSERT_EQ(parse(b, p).kind, Verdict::Kind::next);
        EXPECT_EQ(p.quote_offset, 42) << int(type);
    }
    // A quote one byte short of the ports, or not IPv4, or under an echo or a redirect: none.
    for (const auto& [type, payload] : {std::pair<uint8_t, std::string>{3, quote.substr(0, 27)},
                                        {3, std::string("\x65") + quote.substr(1)},
                                        {8, quote}, {5, quote}}) {
        b = Frame{}.src(real).dst(client).icmp(type).with_payload(payload).bytes();
        ASSERT_EQ(parse(b, p).kind, Verdict::Kind::next);
        EXPECT_EQ(p.quote_offset, 0) << int(type) << " " << payload.size();
    }
    // A quoted header that claims options it does not carry: none.
    std::string long_header = quote;
    long_header[0] = 0x46;
    b = Frame{}.src(real).dst(client).icmp(3).with_payload(long_header.substr(0, 28)).bytes();
    ASSERT_EQ(parse(b, p).kind, Verdict::Kind::next);
    EXPECT_EQ(p.quote_offset, 0);
}

namespace {

const Ip6 client6 = ipv6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2);
const Ip6 vip6 = ipv6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x100);

}  // namespace

TEST(Parse6, TcpSynToVip)
{
    Bytes b = Frame6{}.src(client6, 40000).dst(vip6, 80).tcp(SYN).padded(6).bytes();
    ParsedPacket p;
    ASSERT_EQ(parse(b, p).kind, Verdict::Kind::next);
    EXPECT_TRUE(p.is_ipv6);
    EXPECT_FALSE(p.is_fragment);
    EXPECT_EQ(p.l3_offset, 14);
    EXPECT_EQ(p.l4_offset, 54);
    EXPECT_EQ(p.l4_length, 20);
    EXPECT_EQ(p.frame_length, 74u);
    EXPECT_EQ(p.key.src_ip, 0u);  // an IPv6 packet's addresses are in its header
    const FlowKey6 k = key6_of(b.data(), p);
    EXPECT_EQ(k.src_ip.bytes, client6);
    EXPECT_EQ(k.dst_ip.bytes, vip6);
    EXPECT_EQ(k.src_port, rte_cpu_to_be_16(40000));
    EXPECT_EQ(k.dst_port, rte_cpu_to_be_16(80));
    EXPECT_EQ(k.proto, IPPROTO_TCP);
    EXPECT_EQ(p.tcp_flags, SYN);
}

TEST(Parse6, ExtensionHeadersAreWalkedToTheTransportHeader)
{
    // Hop-by-hop, destination options, a routing header and an atomic fragment (offset 0, no
    // more fragments: the whole packet, RFC 6946) before UDP.
    Bytes b = Frame6{}.src(client6, 5000).dst(vip6, 53).udp().with_payload("query")
                  .with_extension(padding_options(0)).with_extension(padding_options(60))
                  .with_extension({43, {0, 0, 0, 0, 0, 0, 0}}).with_extension(fragment_header(0, false, 9)).bytes();
    ParsedPacket p;
    ASSERT_EQ(parse(b, p).kind, Verdict::Kind::next);
    uint8_t proto = 0;
    EXPECT_EQ(p.l4_offset, transport_offset6(b, proto));
    EXPECT_EQ(p.l4_offset, 54 + 32);
    EXPECT_EQ(p.key.proto, IPPROTO_UDP);
    EXPECT_EQ(p.l4_length, 8 + 5);
    EXPECT_FALSE(p.is_fragment);
    EXPECT_EQ(p.key.dst_port, rte_cpu_to_be_16(53));
}

TEST(Parse6, FragmentsCarryNoPorts)
{
    for (const auto& [offset, more] : {std::pair<uint16_t, bool>{0, true}, {1, false}, {100, true}}) {
        Bytes b = Frame6{}.src(client6, 1).dst(vip6, 80).udp().with_payload("abcdefgh")
                      .with_extension(fragment_header(offset, more, 1)).bytes();
        ParsedPacket p;
        ASSERT_EQ(parse(b, p).kind, Verdict::Kind::next);
        EXPECT_TRUE(p.is_fragment) << offset;
        EXPECT_EQ(p.key.proto, IPPROTO_UDP);
        EXPECT_EQ(p.key.src_port, 0);
        EXPECT_EQ(p.l4_offset, 54 + 8);
    }
}

TEST(Parse6, MalformedFramesAreDroppedByReason)
{
    struct Case {
        const char* what;
        Bytes frame;
        DropReason reason;
    };
    const Bytes good = Frame6{}.src(client6, 1).dst(vip6, 80).tcp(SYN).bytes();
    std::vector<Case> cases;
    cases.push_back({"shorter than IPv6", Bytes(good.begin(), good.begin() + 50), DropReason::too_short});
    Bytes version = good;
    version[14] = 0x40;
    cases.push_back({"IP version 4 in an IPv6 frame", version, DropReason::bad_ip_header});
    Bytes payload = good;
    put16(payload, 18, 21);
    cases.push_back({"payload length beyond the frame", payload, DropReason::bad_ip_header});
    Bytes late_hop_by_hop = Frame6{}.src(client6, 1).dst(vip6, 80).tcp(SYN)
                                .with_extension(padding_options(60)).with_extension(padding_options(0)).bytes();
    cases.push_back({"hop-by-hop after another header", late_hop_by_hop, DropReason::bad_ip_header});
    Bytes long_options = Frame6{}.src(client6, 1).dst(vip6, 80).tcp(SYN).with_extension(padding_options(60)).bytes();
    long_options[55] = 9;  // 80 bytes of options in a 28-byte payload
    cases.push_back({"options beyond the payload", long_options, DropReason::bad_ip_header});
    Frame6 chain = Frame6{}.src(client6, 1).dst(vip6, 80).tcp(SYN);
    for (int i = 0; i < 9; ++i) chain.with_extension(padding_options(60));
    cases.push_back({"nine extension headers", chain.bytes(), DropReason::bad_ip_header});
    Bytes udp_zero = Frame6{}.src(client6, 1).dst(vip6, 53).udp().without_udp_checksum().bytes();
    cases.push_back({"UDP without a checksum", udp_zero, DropReason::bad_l4_header});
    Bytes tcp_short = good;
    tcp_short[54 + 12] = 0x40;
    cases.push_back({"TCP data offset", tcp_short, DropReason::bad_l4_header});
    Bytes icmp_short = Frame6{}.src(client6).dst(vip6).icmp(ECHO6_REQUEST).with_icmp_body({0, 7}).bytes();
    cases.push_back({"ICMPv6 shorter than 8 bytes", icmp_short, DropReason::bad_l4_header});

    for (Case& c : cases) {
        ParsedPacket p;
        Verdict v = parse(c.frame, p);
        EXPECT_EQ(v.kind, Verdict::Kind::drop) << c.what;
        EXPECT_EQ(v.reason, c.reason) << c.what;
    }
}

TEST(Parse6, AnIcmpv6ErrorsQuoteIsFoundOnlyForErrors)
{
    const Bytes quoted = Frame6{}.src(client6, 40000).dst(vip6, 80).tcp(SYN).bytes();
    Bytes body{0, 0, 0x05, 0x00};  // packet too big: MTU 1280
    body.insert(body.end(), quoted.begin() + 14, quoted.begin() + 14 + 48);
    for (uint8_t type : {1, 2, 3, 4}) {
        Bytes b = Frame6{}.src(vip6).dst(client6).icmp(type).with_icmp_body(body).bytes();
        ParsedPacket p;
        ASSERT_EQ(parse(b, p).kind, Verdict::Kind::next);
        EXPECT_EQ(p.key.proto, IPPROTO_ICMPV6);
        EXPECT_EQ(p.quote_offset, 54 + 8) << int(type);
    }
    Bytes cut = body;
    cut.resize(body.size() - 1);
    for (const auto& [type, b] : {std::pair<uint8_t, Bytes>{2, cut}, {ECHO6_REQUEST, body}, {ND_SOLICIT, body}}) {
        Bytes f = Frame6{}.src(vip6).dst(client6).icmp(type).with_icmp_body(b).bytes();
        ParsedPacket p;
        ASSERT_EQ(parse(f, p).kind, Verdict::Kind::next);
        EXPECT_EQ(p.quote_offset, 0) << int(type) << " " << b.size();
    }
}

TEST(Parse6, RandomBytesNeverCrash)
{
    std::mt19937 rng(54321);
    const Bytes seed = Frame6{}.src(client6, 1).dst(vip6, 80).tcp(SYN).with_payload("hello")
                           .with_extension(padding_options(0)).with_extension(fragment_header(0, false, 3)).bytes();
    for (int i = 0; i < 20000; ++i) {
        Bytes b = seed;
        b.resize(rng() % (seed.size() + 8));
        for (int flips = 0; flips < 4 && !b.empty(); ++flips) b[rng() % b.size()] = static_cast<uint8_t>(rng());
        ParsedPacket p;
        Verdict v = parse(b, p);
        if (v.kind == Verdict::Kind::next && p.is_ipv6) {
            EXPECT_LE(p.frame_length, b.size());
            EXPECT_LE(size_t{p.l4_offset} + p.l4_length, b.size());
        }
    }
}

TEST(Checksum6, AdjustingAnAddressMatchesARecomputation)
{
    // NAT66's rewrite, checked against the builder's from-scratch checksum.
    const Ip6 real6 = ipv6(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x11);
    Bytes b = Frame6{}.src(client6, 40000).dst(vip6, 80).tcp(SYN).with_payload("data").bytes();
    const Bytes expected = Frame6{}.src(client6, 40000).dst(real6, 80).tcp(SYN).with_payload("data").bytes();
    rte_be16_t sum;
    std::memcpy(&sum, &b[54 + 16], 2);
    sum = checksum_adjust128(sum, Ipv6Address{vip6}, Ipv6Address{real6});
    std::memcpy(&b[54 + 16], &sum, 2);
    std::copy(real6.begin(), real6.end(), b.begin() + 38);
    EXPECT_EQ(b, expected);
    EXPECT_TRUE(l4_checksum6_ok(b));
}

TEST(Parse, RandomBytesNeverCrash)
{
    std::mt19937 rng(12345);
    Bytes seed = Frame{}.src(client, 1).dst(vip, 80).tcp(SYN).with_payload("hello").bytes();
    for (int i = 0; i < 20000; ++i) {
        Bytes b = seed;
        b.resize(rng() % (seed.size() + 8));
        for (int flips = 0; flips < 4 && !b.empty(); ++flips) b[rng() % b.size()] = static_cast<uint8_t>(rng());
        ParsedPacket p;
        Verdict v = parse(b, p);
        if (v.kind == Verdict::Kind::next && !p.is_arp) {
            EXPECT_LE(p.frame_length, b.size());
            EXPECT_LE(size_t{p.l4_offset} + p.l4_length, b.size());
        }
    }
}

TEST(Nat, DestinationRewriteTcpIsByteExact)
{
    Frame in = Frame{}.src(client, 40000).dst(vip, 80).tcp(SYN).with_payload("GET / HTTP/1.0\r\n\r\n");
    Bytes b = in.bytes();
    ParsedPacket p;
    ASSERT_EQ(parse(b, p).kind, Verdict::Kind::next);
    nat_rewrite_destination(b.data(), p, rte_cpu_to_be_32(real), rte_cpu_to_be_16(8080));

    Bytes expected = Frame(in).dst(real, 8080).bytes();
    EXPECT_EQ(b, expected);
    EXPECT_TRUE(ip_checksum_ok(b));
    EXPECT_TRUE(l4_checksum_ok(b));
}

TEST(Nat, SourceRewriteUdpIsByteExact)
{
    Frame in = Frame{}.src(real, 5353).dst(client, 41000).udp().with_payload("rs1:hello");
    Bytes b = in.bytes();
    ParsedPacket p;
    ASSERT_EQ(parse(b, p).kind, Verdict::Kind::next);
    nat_rewrite_source(b.data(), p, rte_cpu_to_be_32(vip), rte_cpu_to_be_16(53));
    EXPECT_EQ(b, Frame(in).src(vip, 53).bytes());
    EXPECT_TRUE(ip_checksum_ok(b));
    EXPECT_TRUE(l4_checksum_ok(b));
}

TEST(Nat, UdpWithoutChecksumKeepsNone)
{
    Frame in = Frame{}.src(client, 1234).dst(vip, 53).udp().without_udp_checksum().with_payload("q");
    Bytes b = in.bytes();
    ParsedPacket p;
    ASSERT_EQ(parse(b, p).kind, Verdict::Kind::next);
    nat_rewrite_destination(b.data(), p, rte_cpu_to_be_32(real), rte_cpu_to_be_16(53));
    EXPECT_EQ(get16(b, 34 + 6), 0);
    EXPECT_EQ(b, Frame(in).dst(real, 53).bytes());
}

TEST(Nat, IncrementalChecksumsMatchRecomputationOverRandomRewrites)
{
    // Random addresses, ports, payloads and protocols: the incrementally patched checksums
    // must equal the ones computed from scratch, including the 0x0000/0xffff edge cases.
    std::mt19937 rng(2026);
    for (int i = 0; i < 5000; ++i) {
        Frame in;
        in.src(static_cast<uint32_t>(rng()), static_cast<uint16_t>(rng()))
            .dst(static_cast<uint32_t>(rng()), static_cast<uint16_t>(rng()));
        if (rng() & 1) in.udp(); else in.tcp(static_cast<uint8_t>(rng()));
        in.with_payload(std::string(rng() % 40, static_cast<char>(rng())));
        in.with_ttl(static_cast<uint8_t>(2 + rng() % 250));
        Bytes b = in.bytes();
        ParsedPacket p;
        b[0] = 0x02; b[1] = b[2] = b[3] = b[4] = 0; b[5] = 0x01;
        ASSERT_EQ(parse(b, p).kind, Verdict::Kind::next);
        const uint32_t new_ip = static_cast<uint32_t>(rng());
        const uint16_t new_port = static_cast<uint16_t>(rng());
        Frame expected = in;
        if (rng() & 1) {
            nat_rewrite_destination(b.data(), p, rte_cpu_to_be_32(new_ip), rte_cpu_to_be_16(new_port));
            expected.dst(new_ip, new_port);
        } else {
            nat_rewrite_source(b.data(), p, rte_cpu_to_be_32(new_ip), rte_cpu_to_be_16(new_port));
            expected.src(new_ip, new_port);
        }
        ASSERT_TRUE(decrement_ttl(p.ip(b.data())));
        expected.with_ttl(static_cast<uint8_t>(in.ttl - 1));
        ASSERT_TRUE(ip_checksum_ok(b)) << i;
        ASSERT_TRUE(l4_checksum_ok(b)) << i;
        ASSERT_EQ(b, expected.bytes()) << i;
    }
}

TEST(Checksum, SecondCarryIsFolded)
{
    // ~0 + ~0 + 1 = 0x1ffff: the first fold gives 0x10000, the second 0x0001, so 0xfffe.
    EXPECT_EQ(checksum_adjust16(0x0000, 0x0000, 0x0001), 0xfffe);
    // ~0 + ~0x0000 + ~0xffff + 0x0001 + 0x0000 = 0x1ffff likewise.
    EXPECT_EQ(checksum_adjust32(0x0000, 0xffff0000u, 0x00000001u), 0xfffe);
}

TEST(Checksum, UdpResultOfZeroIsSentAsAllOnes)
{
    // ~0x0f0f + ~0x1000 + 0x1f0f = 0xffff: the adjusted checksum is 0, which UDP reserves for
    // "no checksum" and sends as 0xffff instead.
    EXPECT_EQ(checksum_adjust16(0x0f0f, 0x1000, 0x1f0f), 0x0000);
    EXPECT_EQ(udp_checksum_adjust16(0x0f0f, 0x1000, 0x1f0f), 0xffff);
    EXPECT_EQ(checksum_adjust32(0x0f0f, 0x00001000u, 0x00001f0fu), 0x0000);
    EXPECT_EQ(udp_checksum_adjust32(0x0f0f, 0x00001000u, 0x00001f0fu), 0xffff);
    // And "no checksum" stays none.
    EXPECT_EQ(udp_checksum_adjust16(0x0000, 0x1000, 0x1f0f), 0x0000);
    EXPECT_EQ(udp_checksum_adjust32(0x0000, 0x00001000u, 0x00001f0fu), 0x0000);
}

namespace {

// The first two-byte payload for which `wanted(in, expected output)` holds: forces a checksum
// edge case through the real rewrite instead of hoping random inputs reach it.
template <typename Change, typename Wanted>
std::pair<Frame, Frame> frames_where(Frame in, Change&& change, Wanted&& wanted)
{
    for (uint32_t word = 0; word < 0x10000; ++word) {
        in.with_payload(std::string{static_cast<char>(word >> 8), static_cast<char>(word)});
        Frame out = in;
        change(out);
        if (wanted(in.bytes(), out.bytes())) return {in, out};
    }
    ADD_FAILURE() << "no payload gives the edge case";
    return {in, in};
}

}  // namespace

TEST(Nat, UdpRewritesWhoseChecksumComesToZero)
{
    // The rewritten datagram's checksum computes to 0 and must go out as 0xffff: once when only
    // the address changes (the first, 32-bit step reaches zero), once when only the port does.
    const size_t udp_checksum_at = 34 + 6;
    auto zero_after = [&](const Bytes&, const Bytes& out) { return get16(out, udp_checksum_at) == 0xffff; };
    for (bool address_only : {true, false}) {
        auto [in, out] = frames_where(
            Frame{}.src(client, 40000).dst(vip, 53).udp(),
            [&](Frame& f) { address_only ? f.dst(real, 53) : f.dst(vip, 5353); }, zero_after);
        Bytes b = in.bytes();
        ParsedPacket p;
        ASSERT_EQ(parse(b, p).kind, Verdict::Kind::next);
        nat_rewrite_destination(b.data(), p, rte_cpu_to_be_32(out.dst_ip), rte_cpu_to_be_16(out.dst_port));
        EXPECT_EQ(b, out.bytes()) << (address_only ? "address" : "port");
        EXPECT_EQ(get16(b, udp_checksum_at), 0xffff);
    }
    // The same through the source rewrite of a reply.
    auto [in, out] = frames_where(
        Frame{}.src(real, 53).dst(client, 40000).udp(), [&](Frame& f) { f.src(vip, 53); }, zero_after);
    Bytes b = in.bytes();
    ParsedPacket p;
    ASSERT_EQ(parse(b, p).kind, Verdict::Kind::next);
    nat_rewrite_source(b.data(), p, rte_cpu_to_be_32(vip), rte_cpu_to_be_16(53));
    EXPECT_EQ(b, out.bytes());
}

TEST(Nat, TcpRewriteWithADoubleCarry)
{
    // A TCP checksum of 0x0000 and a destination whose wire words go from (0x0000, 0xffff) to
    // (0x0000, 0x0100): the incremental sum is 0x1ffff as a little-endian host adds the words,
    // which needs the second fold.
    auto [in, out] = frames_where(
        Frame{}.src(client, 40000).dst(ipv4(0, 0, 255, 255), 80).tcp(ACK), [&](Frame& f) { f.dst(ipv4(0, 0, 1, 0), 80); },
        [](const Bytes& in_bytes, const Bytes&) { return get16(in_bytes, 34 + 16) == 0x0000; });
    Bytes b = in.bytes();
    ParsedPacket p;
    ASSERT_EQ(parse(b, p).kind, Verdict::Kind::next);
    nat_rewrite_destination(b.data(), p, rte_cpu_to_be_32(ipv4(0, 0, 1, 0)), rte_cpu_to_be_16(80));
    EXPECT_EQ(b, out.bytes());
    EXPECT_TRUE(l4_checksum_ok(b));
}

TEST(Nat, TtlOfOneIsNotRouted)
{
    Bytes b = Frame{}.src(real, 80).dst(client, 40000).tcp(ACK).with_ttl(1).bytes();
    const Bytes before = b;
    ParsedPacket p;
    ASSERT_EQ(parse(b, p).kind, Verdict::Kind::next);
    EXPECT_FALSE(decrement_ttl(p.ip(b.data())));
    EXPECT_EQ(b, before);
}

TEST(Icmp, EchoRequestBecomesReply)
{
    Frame in = Frame{}.src(client).dst(vip).icmp(8).with_payload("ping-payload");
    in.ttl = 61;
    Bytes b = in.bytes();
    ParsedPacket p;
    ASSERT_EQ(parse(b, p).kind, Verdict::Kind::next);
    ASSERT_EQ(icmp_answer_echo(b.data(), p).kind, Verdict::Kind::next);
    Frame reply = Frame(in).src(vip).dst(client).icmp(0).with_ttl(64);
    EXPECT_EQ(b, reply.bytes());
    EXPECT_TRUE(ip_checksum_ok(b));
    EXPECT_TRUE(l4_checksum_ok(b));
}

TEST(Icmp, OtherMessagesAreNotAnswered)
{
    Bytes b = Frame{}.src(client).dst(vip).icmp(3, 1).bytes();
    ParsedPacket p;
    ASSERT_EQ(parse(b, p).kind, Verdict::Kind::next);
    Verdict v = icmp_answer_echo(b.data(), p);
    EXPECT_EQ(v.kind, Verdict::Kind::drop);
    EXPECT_EQ(v.reason, DropReason::icmp_unhandled);
}

TEST(Icmp, OnlyAnUnfragmentedEchoRequestIsOne)
{
    struct Case {
        const char* what;
        Frame frame;
        bool echo_request;
    };
    const Frame ping = Frame{}.src(client).dst(vip).icmp(8).with_payload("abc");
    const std::vector<Case> cases = {
        {"echo request", ping, true},
        {"echo request without DF", Frame(ping).with_frag(0), true},
        {"echo reply", Frame(ping).icmp(0), false},
        {"echo request with code 1", Frame(ping).icmp(8, 1), false},
        {"timestamp request", Frame(ping).icmp(13), false},
        {"port unreachable", Frame(ping).icmp(3, 3), false},
        {"first fragment of an echo request", Frame(ping).with_frag(0x2000), false},
        {"TCP", Frame{}.src(client, 1).dst(vip, 80).tcp(SYN), false},
        {"UDP", Frame{}.src(client, 1).dst(vip, 53).udp(), false},
    };
    for (const Case& c : cases) {
        Bytes b = c.frame.bytes();
        ParsedPacket p;
        ASSERT_EQ(parse(b, p).kind, Verdict::Kind::next) << c.what;
        EXPECT_EQ(icmp_is_echo_request(b.data(), p), c.echo_request) << c.what;
        // What icmp_answer_echo answers is exactly what icmp_is_echo_request says is a request.
        const Bytes before = b;
        const Verdict v = icmp_answer_echo(b.data(), p);
        EXPECT_EQ(v.kind == Verdict::Kind::next, c.echo_request) << c.what;
        if (!c.echo_request) {
            EXPECT_EQ(v.reason, DropReason::icmp_unhandled) << c.what;
            EXPECT_EQ(b, before) << c.what << ": a message not answered is left as it was";
        }
    }
}

// A device that checks IPv4 header checksums (RTE_ETH_RX_OFFLOAD_IPV4_CKSUM) spares the parser
// the sum: its word is taken either way; without it the parser sums the header itself.
TEST(Parse, TheDevicesWordOnTheHeaderChecksumIsTaken)
{
    Bytes good = Frame{}.src(client, 1).dst(vip, 80).tcp(SYN).bytes();
    Bytes broken = good;
    broken[24] ^= 0x01;
    ParsedPacket p;
    const auto parse_as = [&](Bytes& b, HeaderChecksum checked) {
        return parse_frame(b.data(), static_cast<uint32_t>(b.size()), port_ether, p, checked);
    };
    EXPECT_EQ(parse_as(good, HeaderChecksum::unknown).kind, Verdict::Kind::next);
    EXPECT_EQ(parse_as(broken, HeaderChecksum::unknown).reason, DropReason::bad_ip_checksum);
    EXPECT_EQ(parse_as(broken, HeaderChecksum::good).kind, Verdict::Kind::next);
    EXPECT_EQ(p.key.dst_port, rte_cpu_to_be_16(80));
    const Verdict v = parse_as(good, HeaderChecksum::bad);
    EXPECT_EQ(v.kind, Verdict::Kind::drop);
    EXPECT_EQ(v.reason, DropReason::bad_ip_checksum);
}
