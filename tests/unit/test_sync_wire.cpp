// The IPVS sync protocol's codec, byte for byte. The expected bytes are written from the kernel's
// structure layout (net/netfilter/ipvs/ip_vs_sync.c: struct ip_vs_sync_mesg, struct
// ip_vs_sync_v4, the IPVS_OPT_* options; include/uapi/linux/ip_vs.h: IP_VS_CONN_F_*;
// include/net/ip_vs.h: IP_VS_TCP_S_*), each field named where it is, not from Fulcrum's encoder.
#include <gtest/gtest.h>

#include <cstdint>
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

// A version 1 message of sync id `syncid` around `records` (their bytes as they are).
Bytes message(const Bytes& records, uint8_t count, uint8_t syncid = 5)
{
    const size_t size = 8 + records.size();
    Bytes m = {0x00, syncid, static_cast<uint8_t>(size >> 8), static_cast<uint8_t>(size), count, 0x01, 0x00, 0x00};
    m.insert(m.end(), records.begin(), records.end());
    return m;
}

Bytes record_of(const Bytes& msg) { return Bytes(msg.begin() + 8, msg.end()); }

DecodeResult decode(const Bytes& datagram, std::vector<SyncRecord>& out, uint8_t syncid = 0)
{
    return decode_message(datagram, syncid, out);
}

TEST(SyncWire, EncodesTheKernelsLayout)
{
    MessageBuilder b(5, 1472);
    ASSERT_TRUE(b.add(nat_record()));
    EXPECT_EQ(Bytes(b.bytes().begin(), b.bytes().end()), nat_established);

    MessageBuilder three(5, 1472);
    ASSERT_TRUE(three.add(nat_record()));
    ASSERT_TRUE(three.add(dr_record()));
    ASSERT_TRUE(three.add(template_of_udp()));
    Bytes records = record_of(nat_established);
    records.insert(records.end(), dr_fin_wait_record.begin(), dr_fin_wait_record.end());
    records.insert(records.end(), template_record.begin(), template_record.end());
    EXPECT_EQ(Bytes(three.bytes().begin(), three.bytes().end()), message(records, 3));
}

TEST(SyncWire, FillsADatagramUpToMaxLengthAndTheCountByte)
{
    MessageBuilder b(0, 1472);
    size_t added = 0;
    while (b.add(nat_record())) ++added;
    EXPECT_EQ(added, 40u);  // (1472 - 8) / 36
    EXPECT_EQ(b.bytes().size(), 8u + 40 * 36);
    EXPECT_EQ(b.bytes()[4], 40);
    b.clear();
    EXPECT_TRUE(b.empty());
    EXPECT_EQ(b.bytes().size(), 8u);
    EXPECT_EQ(b.bytes()[2], 0);
    EXPECT_EQ(b.bytes()[3], 8);

    MessageBuilder big(0, 65507);
    added = 0;
    while (big.add(nat_record())) ++added;
    EXPECT_EQ(added, 255u);  // nr_conns is one byte
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
    auto two = [&](Bytes second) {
        Bytes records = good;
        records.insert(records.end(), second.begin(), second.end());
        return message(records, 2);
    };
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
    Bytes ipv6(72, 0);  // struct ip_vs_sync_v6: 24 bytes, then three in6_addr
    ipv6[0] = 0x01;
    ipv6[1] = 0x06;
    ipv6[3] = 72;
    EXPECT_EQ(skipped(ipv6), SyncRefusal::ipv6_record);
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
