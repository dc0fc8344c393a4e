// A small fluent builder of Ethernet/IPv4/TCP/UDP/ICMP/ARP frames for the packet fixtures, with
// its own checksum code (RFC 1071, computed from scratch) so that the tests do not trust the
// code under test, nor DPDK's helpers, to say what a correct checksum is.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace fixture {

using Bytes = std::vector<uint8_t>;
using Mac = std::array<uint8_t, 6>;

inline uint32_t ipv4(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
    return (uint32_t{a} << 24) | (uint32_t{b} << 16) | (uint32_t{c} << 8) | d;
}

// RFC 1071 over bytes as on the wire.
inline uint16_t inet_checksum(const uint8_t* data, size_t length, uint32_t initial = 0)
{
    uint32_t sum = initial;
    for (size_t i = 0; i + 1 < length; i += 2) sum += (uint32_t{data[i]} << 8) | data[i + 1];
    if (length & 1) sum += uint32_t{data[length - 1]} << 8;
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<uint16_t>(~sum);
}

inline void put16(Bytes& b, size_t at, uint16_t v)
{
    b[at] = static_cast<uint8_t>(v >> 8);
    b[at + 1] = static_cast<uint8_t>(v);
}
inline void put32(Bytes& b, size_t at, uint32_t v)
{
    put16(b, at, static_cast<uint16_t>(v >> 16));
    put16(b, at + 2, static_cast<uint16_t>(v));
}
inline uint16_t get16(const Bytes& b, size_t at) { return static_cast<uint16_t>((b[at] << 8) | b[at + 1]); }

enum class Proto : uint8_t { icmp = 1, tcp = 6, udp = 17 };

constexpr uint8_t FIN = 0x01, SYN = 0x02, RST = 0x04, PSH = 0x08, ACK = 0x10;

struct Frame {
    Mac dst_mac{0x02, 0, 0, 0, 0, 0x01};
    Mac src_mac{0x02, 0, 0, 0, 0, 0x02};
    uint32_t src_ip = 0, dst_ip = 0;
    uint8_t ttl = 64, tos = 0;
    uint16_t ip_id = 0x1234;
    uint16_t frag = 0x4000;  // DF
    Proto proto = Proto::tcp;
    uint16_t src_port = 0, dst_port = 0;
    uint8_t tcp_flags = SYN;
    uint32_t seq = 1000, ack = 0;
    uint8_t icmp_type = 8, icmp_code = 0;
    uint16_t icmp_id = 7, icmp_seq = 1;
    bool udp_checksum = true;
    std::string payload;
    size_t link_padding = 0;  // zero bytes after the datagram, as short Ethernet frames carry

    Frame& from(Mac m) { src_mac = m; return *this; }
    Frame& to(Mac m) { dst_mac = m; return *this; }
    Frame& src(uint32_t a, uint16_t p = 0) { src_ip = a; src_port = p; return *this; }
    Frame& dst(uint32_t a, uint16_t p = 0) { dst_ip = a; dst_port = p; return *this; }
    Frame& tcp(uint8_t flags) { proto = Proto::tcp; tcp_flags = flags; return *this; }
    Frame& udp() { proto = Proto::udp; return *this; }
    Frame& icmp(uint8_t type, uint8_t code = 0) { proto = Proto::icmp; icmp_type = type; icmp_code = code; return *this; }
    Frame& with_ttl(uint8_t t) { ttl = t; return *this; }
    Frame& with_payload(std::string p) { payload = std::move(p); return *this; }
    Frame& with_frag(uint16_t f) { frag = f; return *this; }
    Frame& padded(size_t n) { link_padding = n; return *this; }
    Frame& without_udp_checksum() { udp_checksum = false; return *this; }

    Bytes bytes() const
    {
        const size_t l4_header = proto == Proto::tcp ? 20 : 8;
        const size_t l4_length = l4_header + payload.size();
        const size_t total = 20 + l4_length;
        Bytes b(14 + total + link_padding, 0);
        std::copy(dst_mac.begin(), dst_mac.end(), b.begin());
        std::copy(src_mac.begin(), src_mac.end(), b.begin() + 6);
        put16(b, 12, 0x0800);
        b[14] = 0x45;
        b[15] = tos;
        put16(b, 16, static_cast<uint16_t>(total));
        put16(b, 18, ip_id);
        put16(b, 20, frag);
        b[22] = ttl;
        b[23] = static_cast<uint8_t>(proto);
        put32(b, 26, src_ip);
        put32(b, 30, dst_ip);
        put16(b, 24, inet_checksum(&b[14], 20));
        const size_t l4 = 34;
        std::copy(payload.begin(), payload.end(), b.begin() + static_cast<long>(l4 + l4_header));
        switch (proto) {
        case Proto::tcp:
            put16(b, l4, src_port);
            put16(b, l4 + 2, dst_port);
            put32(b, l4 + 4, seq);
            put32(b, l4 + 8, ack);
            b[l4 + 12] = 5 << 4;
            b[l4 + 13] = tcp_flags;
            put16(b, l4 + 14, 65535);
            put16(b, l4 + 16, l4_checksum(b));
            break;
        case Proto::udp:
            put16(b, l4, src_port);
            put16(b, l4 + 2, dst_port);
            put16(b, l4 + 4, static_cast<uint16_t>(l4_length));
            if (udp_checksum) {
                uint16_t c = l4_checksum(b);
                put16(b, l4 + 6, c == 0 ? 0xffff : c);
            }
            break;
        case Proto::icmp:
            b[l4] = icmp_type;
            b[l4 + 1] = icmp_code;
            put16(b, l4 + 4, icmp_id);
            put16(b, l4 + 6, icmp_seq);
            put16(b, l4 + 2, inet_checksum(&b[l4], l4_length));
            break;
        }
        return b;
    }

    // The L4 checksum of the datagram in `b` (checksum field taken as zero), pseudo-header included.
    static uint16_t l4_checksum(const Bytes& b)
    {
        const size_t total = get16(b, 16);
        const size_t l4_length = total - 20;
        Bytes copy(b.begin() + 34, b.begin() + 34 + static_cast<long>(l4_length));
        const size_t field = b[23] == 6 ? 16 : 6;
        copy[field] = copy[field + 1] = 0;
        uint32_t pseudo = 0;
        for (size_t i = 26; i < 34; i += 2) pseudo += get16(b, i);
        pseudo += b[23];
        pseudo += static_cast<uint32_t>(l4_length);
        return inet_checksum(copy.data(), copy.size(), pseudo);
    }
};

// Verifies, from scratch, the IPv4 header checksum and the TCP/UDP/ICMP checksum of a frame.
inline bool ip_checksum_ok(const Bytes& b) { return inet_checksum(&b[14], (b[14] & 0xf) * 4u) == 0; }

inline bool l4_checksum_ok(const Bytes& b);
inline bool l4_checksum_ok(const Bytes& b)
{
    const size_t total = get16(b, 16);
    const size_t l4_length = total - 20;
    switch (b[23]) {
    case 6: return get16(b, 34 + 16) == Frame::l4_checksum(b);
    case 17: {
        const uint16_t stored = get16(b, 34 + 6);
        if (stored == 0) return true;
        const uint16_t computed = Frame::l4_checksum(b);
        return stored == (computed == 0 ? 0xffff : computed);
    }
    case 1: return inet_checksum(&b[34], l4_length) == 0;
    case 4: {
        // IPIP: the inner packet's own checksums.
        Bytes inner(b.begin(), b.begin() + 14);
        inner.insert(inner.end(), b.begin() + 34, b.end());
        return ip_checksum_ok(inner) && l4_checksum_ok(inner);
    }
    }
    return false;
}

struct Arp {
    Mac src_mac{0x02, 0, 0, 0, 0, 0x02};
    Mac eth_dst{0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    uint16_t op = 1;
    Mac sender_mac{0x02, 0, 0, 0, 0, 0x02};
    uint32_t sender_ip = 0;
    Mac target_mac{};
    uint32_t target_ip = 0;

    Bytes bytes() const
    {
        Bytes b(42, 0);
        std::copy(eth_dst.begin(), eth_dst.end(), b.begin());
        std::copy(src_mac.begin(), src_mac.end(), b.begin() + 6);
        put16(b, 12, 0x0806);
        put16(b, 14, 1);
        put16(b, 16, 0x0800);
        b[18] = 6;
        b[19] = 4;
        put16(b, 20, op);
        std::copy(sender_mac.begin(), sender_mac.end(), b.begin() + 22);
        put32(b, 28, sender_ip);
        std::copy(target_mac.begin(), target_mac.end(), b.begin() + 32);
        put32(b, 38, target_ip);
        return b;
    }
};

}  // namespace fixture
