// The IPVS sync protocol's codec, byte for byte. The expected bytes are written from the kernel's
// structure layout (net/netfilter/ipvs/ip_vs_sync.c: struct ip_vs_sync_mesg, struct
// ip_vs_sync_v4 and ip_vs_sync_v6, the IPVS_OPT_* options; include/uapi/linux/ip_vs.h: IP_VS_CONN_F_*;
// include/net/ip_vs.h: IP_VS_TCP_S_*), each field named where it is, not from Fulcrum's encoder.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <vector>

#include "control/sync/wire.hpp"

namespace fulcrum::control::sync {
namespace {

using dataplane::TcpState;
using Bytes = std::vector<uint8_t>;

// One message of sync id 5 holding a NAT connection, ESTABLISHED:
// 198.51.100.7:40000 -> VIP 198.18.0.100:80 -> real server 198.19.0.11:8080, timeout 900 s.
const Bytes nat_established = {
    // struct ip_vs_sync_mesg
    0x00,              // reserved: 0 (version 0 had the record count here)
    0x05,              // syncid
    0x00, 0x2c,        // size: 8 + 36 = 44, the whole datagram
    0x01,              // nr_conns
    0x01,              // version: SYNC_PROTO_VER
    0x00, 0x00,        // spare
    // struct ip_vs_sync_v4
    0x00,              // type: 0 = IPv4 (STYPE_F_INET6 clear)
    0x06,              // protocol: IPPROTO_TCP
    0x00, 0x24,        // ver_size: version 0 in the top 4 bits, size 36
    0x00, 0x00, 0x00, 0x00,  // flags: IP_VS_CONN_F_MASQ (0), not INACTIVE
    0x00, 0x01,        // state: IP_VS_TCP_S_ESTABLISHED
    0x9c, 0x40,        // cport 40000
    0x00, 0x50,        // vport 80
    0x1f, 0x90,        // dport 8080
    0x00, 0x00, 0x00, 0x00,  // fwmark
    0x00, 0x00, 0x03, 0x84,  // timeout: 900 s
    0xc6, 0x33, 0x64, 0x07,  // caddr 198.51.100.7
    0xc6, 0x12, 0x00, 0x64,  // vaddr 198.18.0.100
    0xc6, 0x13, 0x00, 0x0b,  // daddr 198.19.0.11
};

SyncRecord nat_record()
{
    SyncRecord r;
    r.client_ip = 0xc6336407;
    r.vip = 0xc6120064;
    r.real_ip = 0xc613000b;
    r.client_port = 40000;
    r.vport = 80;
    r.real_port = 8080;
    r.protocol = 6;
    r.method = ForwardMethod::nat;
    r.state = TcpState::established;
    r.timeout_seconds = 900;
    return r;
}

// The record part (after the 8-byte header) of a DR connection in FIN_WAIT that has seen no
// reply, and of a persistence template.
const Bytes dr_fin_wait_record = {
    0x00, 0x06, 0x00, 0x24,
    0x00, 0x00, 0x01, 0x83,  // flags: IP_VS_CONN_F_DROUTE (3) | NOOUTPUT (0x80) | INACTIVE (0x100)
    0x00, 0x04,              // state: IP_VS_TCP_S_FIN_WAIT
    0x9c, 0x41, 0x00, 0x50, 0x00, 0x50,  // cport 40001, vport 80, dport 80
    0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x78,  // timeout 120 s
    0xc6, 0x33, 0x64, 0x08, 0xc6, 0x12, 0x00, 0x64, 0xc6, 0x13, 0x00, 0x0c,
};
const Bytes template_record = {
    0x00, 0x11, 0x00, 0x24,  // UDP
    0x00, 0x00, 0x11, 0x02,  // flags: IP_VS_CONN_F_TEMPLATE (0x1000) | INACTIVE | TUNNEL (2)
    0x00, 0x00,              // state: IP_VS_CTPL_S_NONE
    0x00, 0x00, 0x00, 0x35, 0x00, 0x35,  // cport 0 (templates have none), vport 53, dport 53
    0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x01, 0x2c,  // timeout: the persistence timeout, 300 s
    0xc6, 0x33, 0x64, 0x00,  // caddr: the client's address under the netmask (/24)
    0xc6, 0x12, 0x00, 0x35, 0xc6, 0x13, 0x00, 0x0d,
};

SyncRecord dr_record()
{
    SyncRecord r;
    r.client_ip = 0xc6336408;
    r.vip = 0xc6120064;
    r.real_ip = 0xc613000c;
    r.client_port = 40001;
    r.vport = 80;
    r.real_port = 80;
    r.protocol = 6;
    r.method = ForwardMethod::dr;
    r.no_output = true;
    r.inactive = true;
    r.state = TcpState::fin_wait;
    r.timeout_seconds = 120;
    return r;
}

SyncRecord template_of_udp()
{
    SyncRecord r;
    r.client_ip = 0xc6336400;
    r.vip = 0xc6120035;
    r.real_ip = 0xc613000d;
    r.vport = 53;
    r.real_port = 53;
    r.protocol = 17;
    r.method = ForwardMethod::tun;
    r.is_template = true;
    r.inactive = true;
    r.timeout_seconds = 300;
    return r;
}

// struct ip_vs_sync_v6 (type 1): the same 24 bytes as struct ip_vs_sync_v4, then caddr, vaddr
// and daddr as 16-byte struct in6_addr. A NAT connection, ESTABLISHED:
// [2001:db8:0:1::7]:40000 -> VIP [2001:db8::100]:80 -> real server [2001:db8:1::11]:8080, 900 s.
const Bytes nat6_established_record = {
    0x01,              // type: STYPE_F_INET6
    0x06,              // protocol: IPPROTO_TCP
    0x00, 0x48,        // ver_size: version 0, size 72
    0x00, 0x00, 0x00, 0x00,  // flags: IP_VS_CONN_F_MASQ, not INACTIVE
    0x00, 0x01,        // state: IP_VS_TCP_S_ESTABLISHED
    0x9c, 0x40,        // cport 40000
    0x00, 0x50,        // vport 80
    0x1f, 0x90,        // dport 8080
    0x00, 0x00, 0x00, 0x00,  // fwmark
    0x00, 0x00, 0x03, 0x84,  // timeout: 900 s
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07,  // caddr
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00,  // vaddr
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x11,  // daddr
};
// A persistence template of an IPv6 UDP service by TUN to an IPv4 real server. The kernel's
// template holds the client under the service's prefix length (/64 here), and writes the
// destination from its union nf_inet_addr: an IPv4 one is its 4 bytes, then 12 zeros
// (ip_vs_addr_set clears them), with nothing in the record to say so.
const Bytes template6_over_ipv4_record = {
    0x01, 0x11, 0x00, 0x48,  // IPv6, UDP, size 72
    0x00, 0x00, 0x11, 0x02,  // flags: IP_VS_CONN_F_TEMPLATE | INACTIVE | TUNNEL
    0x00, 0x00,              // state: IP_VS_CTPL_S_NONE
    0x00, 0x00, 0x00, 0x35, 0x00, 0x35,  // cport 0, vport 53, dport 53
    0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x01, 0x2c,  // timeout: 300 s
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // caddr /64
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x35,  // vaddr
    0xc6, 0x13, 0x00, 0x0d, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // daddr 198.19.0.13
};

IpAddress v6(std::initializer_list<uint8_t> head, uint8_t last)
{
    IpAddress::Bytes b{};
    std::copy(head.begin(), head.end(), b.begin());
    b[15] = last;
    return IpAddress::ipv6(b);
}

SyncRecord nat6_record()
{
    SyncRecord r = nat_record();
    r.client_ip = v6({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1}, 0x07);
    r.vip = v6({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01}, 0x00);
    r.real_ip = v6({0x20, 0x01, 0x0d, 0xb8, 0, 1}, 0x11);
    return r;
}

// As the encoder is given it: the real server as the IPv4 address it is.
SyncRecord template6_over_ipv4()
{
    SyncRecord r = template_of_udp();
    r.client_ip = v6({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1}, 0x00);
    r.vip = v6({0x20, 0x01, 0x0d, 0xb8}, 0x35);
    r.real_ip = 0xc613000d;
    return r;
}

// A version 1 message of sync id `syncid` around `records` (their bytes as they are).
Bytes message(const Bytes& records, uint8_t count, uint8_t syncid = 5)
{
    const size_t size = 8 + records.size();
    Bytes m = {0x00, syncid, static_cast<uint8_t>(size >> 8), static_cast<uint8_t>(size), count, 0x01, 0x00, 0x00};
    m.insert(m.end(), records.begin(), records.end());
    return m;
}

Bytes record_of(const Bytes& msg) { return Bytes(msg.begin() + 8, msg.end()); }

// One datagram of sync id 5 (1472 bytes at most) holding `records`, as the encoder writes it.
Bytes encoded(std::initializer_list<SyncRecord> records)
{
    MessageBuilder b(5, 1472);
    for (const SyncRecord& r : records) EXPECT_TRUE(b.add(r));
    return Bytes(b.bytes().begin(), b.bytes().end());
}

Bytes joined(std::initializer_list<Bytes> parts)
{
    Bytes out;
    for (const Bytes& p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
}

// How many copies of `r` go into `b` before it is full.
size_t fill(MessageBuilder& b, const SyncRecord& r)
{
    size_t added = 0;
    while (b.add(r)) ++added;
    return added;
}

// A datagram of two records: a good IPv4 one, then `second`.
Bytes after_good(const Bytes& second) { return message(joined({record_of(nat_established), second}), 2); }

DecodeResult decode(const Bytes& datagram, std::vector<SyncRecord>& out, uint8_t syncid = 0)
{
    return decode_message(datagram, syncid, out);
}

TEST(SyncWire, EncodesTheKernelsLayout)
{
    EXPECT_EQ(encoded({nat_record()}), nat_established);
    EXPECT_EQ(encoded({nat_record(), dr_record(), template_of_udp()}),
              message(joined({record_of(nat_established), dr_fin_wait_record, template_record}), 3));
}

TEST(SyncWire, FillsADatagramUpToMaxLengthAndTheCountByte)
{
    MessageBuilder b(0, 1472);
    EXPECT_EQ(fill(b, nat_record()), 40u);  // (1472 - 8) / 36
    EXPECT_EQ(b.bytes().size(), 8u + 40 * 36);
    EXPECT_EQ(b.bytes()[4], 40);
    b.clear();
    EXPECT_TRUE(b.empty());
    EXPECT_EQ(b.bytes().size(), 8u);
    EXPECT_EQ(b.bytes()[2], 0);
    EXPECT_EQ(b.bytes()[3], 8);

    MessageBuilder big(0, 65507);
    EXPECT_EQ(fill(big, nat_record()), 255u);  // nr_conns is one byte
}

TEST(SyncWire, DecodesTheKernelsLayout)
{
    std::vector<SyncRecord> out;
    DecodeResult r = decode(nat_established, out);
    EXPECT_FALSE(r.dropped);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0], nat_record());

    Bytes records = dr_fin_wait_record;
    records.insert(records.end(), template_record.begin(), template_record.end());
    out.clear();
    r = decode(message(records, 2), out);
    EXPECT_EQ(r.accepted, 2u);
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[0], dr_record());
    EXPECT_EQ(out[1], template_of_udp());
}

TEST(SyncWire, EncodesIpv6RecordsBesideIpv4OnesInTheKernelsLayout)
{
    EXPECT_EQ(encoded({nat6_record()}), message(nat6_established_record, 1));
    EXPECT_EQ(encoded({nat_record(), nat6_record(), template6_over_ipv4()}),
              message(joined({record_of(nat_established), nat6_established_record, template6_over_ipv4_record}), 3));
}

TEST(SyncWire, DecodesIpv6RecordsBesideIpv4Ones)
{
    std::vector<SyncRecord> out;
    const DecodeResult r = decode(
        message(joined({record_of(nat_established), nat6_established_record, template6_over_ipv4_record}), 3), out);
    EXPECT_FALSE(r.dropped);
    EXPECT_EQ(r.accepted, 3u);
    ASSERT_EQ(out.size(), 3u);
    EXPECT_EQ(out[0], nat_record());
    EXPECT_EQ(out[1], nat6_record());
    // The wire does not say the destination is IPv4: it comes out as the 16 bytes it is, and
    // goes back out the same.
    SyncRecord expected = template6_over_ipv4();
    expected.real_ip = v6({0xc6, 0x13, 0x00, 0x0d}, 0x00);
    EXPECT_EQ(out[2], expected);
    EXPECT_EQ(encoded({out[2]}), message(template6_over_ipv4_record, 1));
}

TEST(SyncWire, FillsADatagramWithRecordsOfEitherSize)
{
    MessageBuilder b(0, 1472);
    EXPECT_EQ(fill(b, nat6_record()), 20u);  // (1472 - 8) / 72
    EXPECT_EQ(b.bytes().size(), 8u + 20 * 72);
    // 1472 - 8 - 20 * 72 = 24 bytes left: no room for an IPv4 record either.
    EXPECT_FALSE(b.add(nat_record()));
    b.clear();
    for (int i = 0; i < 39; ++i) ASSERT_TRUE(b.add(nat_record()));
    // 1472 - 8 - 39 * 36 = 60: an IPv4 record fits, an IPv6 one does not.
    EXPECT_FALSE(b.add(nat6_record()));
    EXPECT_TRUE(b.add(nat_record()));
    // The smallest datagram the configuration allows holds one record of either family.
    MessageBuilder smallest(0, 80);
    EXPECT_TRUE(smallest.add(nat6_record()));
    EXPECT_FALSE(smallest.add(nat_record()));
}

TEST(SyncWire, MalformedIpv6RecordsDropTheDatagram)
{
    const Bytes good = record_of(nat_established);
    std::vector<SyncRecord> out;
    // The datagram ends inside the IPv6 record's addresses.
    EXPECT_EQ(decode(after_good(Bytes(nat6_established_record.begin(), nat6_established_record.begin() + 60)), out).dropped,
              SyncRefusal::truncated_record);
    // A size of 36 on an IPv6 record: its addresses would run into the next record (the kernel's
    // ip_vs_proc_sync_conn returns -20 and the datagram goes).
    Bytes short36 = Bytes(nat6_established_record.begin(), nat6_established_record.begin() + 36);
    short36[3] = 36;
    EXPECT_EQ(decode(after_good(short36), out).dropped, SyncRefusal::bad_record);
    Bytes short68 = Bytes(nat6_established_record.begin(), nat6_established_record.begin() + 68);
    short68[3] = 68;
    EXPECT_EQ(decode(after_good(short68), out).dropped, SyncRefusal::bad_record);
    // An IPv6 record first, then a second record cut short.
    Bytes records = nat6_established_record;
    records.insert(records.end(), good.begin(), good.begin() + 30);
    EXPECT_EQ(decode(message(records, 2), out).dropped, SyncRefusal::truncated_record);
    EXPECT_TRUE(out.empty());
}

TEST(SyncWire, HeaderErrorsDropTheDatagram)
{
    std::vector<SyncRecord> out;
    EXPECT_EQ(decode(Bytes(nat_established.begin(), nat_established.begin() + 7), out).dropped, SyncRefusal::too_short);
    Bytes longer = nat_established;
    longer.push_back(0);
    EXPECT_EQ(decode(longer, out).dropped, SyncRefusal::bad_size);
    EXPECT_EQ(decode(nat_established, out, 6).dropped, SyncRefusal::other_syncid);
    EXPECT_FALSE(decode(nat_established, out, 5).dropped);
    Bytes v0 = nat_established;
    v0[0] = 1;  // version 0: the record count comes first
    EXPECT_EQ(decode(v0, out).dropped, SyncRefusal::bad_version);
    Bytes v2 = nat_established;
    v2[5] = 2;
    EXPECT_EQ(decode(v2, out).dropped, SyncRefusal::bad_version);
    Bytes spare = nat_established;
    spare[7] = 1;
    EXPECT_EQ(decode(spare, out).dropped, SyncRefusal::bad_version);
    EXPECT_EQ(out.size(), 1u);  // only the one with the right sync id
}

TEST(SyncWire, RecordErrorsDropTheWholeDatagram)
{
    const Bytes good = record_of(nat_established);
    const auto two = after_good;
    std::vector<SyncRecord> out;
    EXPECT_EQ(decode(message(good, 2), out).dropped, SyncRefusal::truncated_record);
    EXPECT_EQ(decode(two(Bytes(good.begin(), good.begin() + 35)), out).dropped, SyncRefusal::truncated_record);
    Bytes oversize = good;
    oversize[3] = 40;  // says 40 bytes where 36 are
    EXPECT_EQ(decode(two(oversize), out).dropped, SyncRefusal::truncated_record);
    Bytes version = good;
    version[2] = 0x10;  // record version 1
    EXPECT_EQ(decode(two(version), out).dropped, SyncRefusal::bad_record);
    Bytes type = good;
    type[0] = 0x02;
    EXPECT_EQ(decode(two(type), out).dropped, SyncRefusal::bad_record);
    Bytes small = good;
    small[3] = 32;
    EXPECT_EQ(decode(two(small), out).dropped, SyncRefusal::bad_record);
    EXPECT_TRUE(out.empty()) << "the good record before the bad one is not kept";
    // Nor is a record skipped before it counted: the datagram is counted once, as dropped.
    Bytes sctp = good;
    sctp[1] = 132;
    Bytes records = sctp;
    records.insert(records.end(), good.begin(), good.begin() + 20);
    const DecodeResult r = decode(message(records, 2), out);
    EXPECT_EQ(r.dropped, SyncRefusal::truncated_record);
    EXPECT_EQ(r.skipped[static_cast<size_t>(SyncRefusal::unsupported_protocol)], 0u);
}

// A record with options after its fixed part, `size` counting them, padded to 4 bytes.
Bytes with_options(const Bytes& options)
{
    Bytes r = record_of(nat_established);
    r.insert(r.end(), options.begin(), options.end());
    r[3] = static_cast<uint8_t>(36 + options.size());
    while (r.size() % 4 != 0) r.push_back(0);
    return r;
}

TEST(SyncWire, OptionsAreWalkedAndChecked)
{
    std::vector<SyncRecord> out;
    const Bytes sequence = {0x01, 24, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 5, 0, 0, 0, 6};
    // IPVS_OPT_SEQ_DATA (two struct ip_vs_seq), then a second record aligned after the padding.
    Bytes records = with_options(sequence);
    const Bytes second = record_of(nat_established);
    records.insert(records.end(), second.begin(), second.end());
    DecodeResult r = decode(message(records, 2), out);
    EXPECT_FALSE(r.dropped);
    EXPECT_EQ(r.accepted, 2u);

    Bytes twice = sequence;
    twice.insert(twice.end(), sequence.begin(), sequence.end());
    EXPECT_EQ(decode(message(with_options(twice), 1), out).dropped, SyncRefusal::bad_option);
    Bytes short_sequence = sequence;
    short_sequence[1] = 23;
    short_sequence.pop_back();
    EXPECT_EQ(decode(message(with_options(short_sequence), 1), out).dropped, SyncRefusal::bad_option);
    EXPECT_EQ(decode(message(with_options({0x09, 0x00, 0, 0}), 1), out).dropped, SyncRefusal::bad_option);  // length 0
    EXPECT_EQ(decode(message(with_options({0x49, 0x05, 0}), 1), out).dropped, SyncRefusal::bad_option);  // past the record
    EXPECT_EQ(decode(message(with_options({0x49}), 1), out).dropped, SyncRefusal::bad_option);  // half a header

    out.clear();
    r = decode(message(with_options({0x09, 0x01, 0xff}), 1), out);  // unknown, mandatory
    EXPECT_FALSE(r.dropped);
    EXPECT_EQ(r.skipped[static_cast<size_t>(SyncRefusal::unknown_option)], 1u);
    r = decode(message(with_options({0x49, 0x01, 0xff}), 1), out);  // unknown, IPVS_OPT_F_PARAM: optional
    EXPECT_EQ(r.accepted, 1u);
    r = decode(message(with_options({0x02, 0x02, 'i', 'd', 0x03, 0x03, 's', 'i', 'p'}), 1), out);  // PE data and name
    EXPECT_EQ(r.skipped[static_cast<size_t>(SyncRefusal::persistence_engine)], 1u);
    r = decode(message(with_options({0x03, 0x03, 's', 'i', 'p'}), 1), out);  // a name alone means nothing
    EXPECT_EQ(r.accepted, 1u);
    EXPECT_EQ(out.size(), 2u);
}

TEST(SyncWire, RecordsOfNoUseAreSkippedAndTheOthersKept)
{
    const Bytes good = record_of(nat_established);
    auto skipped = [&](Bytes bad) {
        Bytes records = bad;
        records.insert(records.end(), good.begin(), good.end());
        std::vector<SyncRecord> out;
        const DecodeResult r = decode(message(records, 2), out);
        EXPECT_FALSE(r.dropped);
        EXPECT_EQ(out.size(), 1u);
        for (size_t i = 0; i < sync_refusal_count; ++i)
            if (r.skipped[i] != 0) return static_cast<SyncRefusal>(i);
        return SyncRefusal::count;
    };
    // An IPv6 record is read, and skipped for the same reasons as an IPv4 one.
    Bytes ipv6_fwmark = nat6_established_record;
    ipv6_fwmark[19] = 7;
    EXPECT_EQ(skipped(ipv6_fwmark), SyncRefusal::firewall_mark);
    Bytes ipv6_sctp = nat6_established_record;
    ipv6_sctp[1] = 132;
    EXPECT_EQ(skipped(ipv6_sctp), SyncRefusal::unsupported_protocol);
    Bytes fwmark = good;
    fwmark[19] = 7;
    EXPECT_EQ(skipped(fwmark), SyncRefusal::firewall_mark);
    Bytes sctp = good;
    sctp[1] = 132;
    EXPECT_EQ(skipped(sctp), SyncRefusal::unsupported_protocol);
    Bytes tcp_state = good;
    tcp_state[9] = 11;  // IP_VS_TCP_S_LAST
    EXPECT_EQ(skipped(tcp_state), SyncRefusal::bad_state);
    Bytes udp_state = good;
    udp_state[1] = 17;
    udp_state[9] = 1;  // IP_VS_UDP_S_LAST
    EXPECT_EQ(skipped(udp_state), SyncRefusal::bad_state);
    Bytes template_state = template_record;
    template_state[9] = 2;  // IP_VS_CTPL_S_LAST
    EXPECT_EQ(skipped(template_state), SyncRefusal::bad_state);
    Bytes local_node = good;
    local_node[7] = 0x01;  // IP_VS_CONN_F_LOCALNODE
    EXPECT_EQ(skipped(local_node), SyncRefusal::unsupported_method);
}

TEST(SyncWire, EveryRefusalHasANameAndADescription)
{
    for (size_t i = 0; i < sync_refusal_count; ++i) {
        EXPECT_FALSE(sync_refusal_names[i].empty());
        EXPECT_FALSE(sync_refusal_descriptions[i].empty());
    }
    EXPECT_TRUE(sync_refusal_drops_message[static_cast<size_t>(SyncRefusal::bad_option)]);
    EXPECT_FALSE(sync_refusal_drops_message[static_cast<size_t>(SyncRefusal::bad_state)]);
}

}  // namespace
}  // namespace fulcrum::control::sync
