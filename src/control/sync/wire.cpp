#include "control/sync/wire.hpp"

#include <algorithm>
#include <cstring>

namespace fulcrum::control::sync {

namespace {

// include/uapi/linux/ip_vs.h: IP_VS_CONN_F_*.
constexpr uint32_t flag_method_mask = 0x0007;
constexpr uint32_t flag_masq = 0x0000, flag_tunnel = 0x0002, flag_droute = 0x0003;
constexpr uint32_t flag_no_output = 0x0080;
constexpr uint32_t flag_inactive = 0x0100;
constexpr uint32_t flag_template = 0x1000;

// ip_vs_sync.c: the record's type byte, its version nibble, and the option types.
constexpr uint8_t type_ipv6 = 0x01;
constexpr unsigned record_version_shift = 12;
constexpr uint16_t record_size_mask = 0x0fff;
constexpr uint8_t option_optional = 0x40;  // IPVS_OPT_F_PARAM: a receiver may skip it
constexpr uint8_t option_sequence = 1, option_pe_data = 2, option_pe_name = 3;
constexpr size_t sequence_option_length = 24;  // two struct ip_vs_seq of three 32-bit fields
constexpr uint8_t protocol_version = 1;

constexpr uint8_t ipproto_tcp = 6, ipproto_udp = 17;
constexpr uint16_t udp_states = 1;       // IP_VS_UDP_S_LAST
constexpr uint16_t template_states = 2;  // IP_VS_CTPL_S_LAST

void put16(uint8_t* p, uint16_t v)
{
    p[0] = static_cast<uint8_t>(v >> 8);
    p[1] = static_cast<uint8_t>(v);
}
void put32(uint8_t* p, uint32_t v)
{
    put16(p, static_cast<uint16_t>(v >> 16));
    put16(p + 2, static_cast<uint16_t>(v));
}
uint16_t get16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
uint32_t get32(const uint8_t* p) { return uint32_t{get16(p)} << 16 | get16(p + 2); }
IpAddress ipv6_at(const uint8_t* p)
{
    IpAddress::Bytes b;
    std::memcpy(b.data(), p, b.size());
    return IpAddress::ipv6(b);
}

uint32_t method_flag(ForwardMethod m)
{
    switch (m) {
    case ForwardMethod::nat: return flag_masq;
    case ForwardMethod::dr: return flag_droute;
    case ForwardMethod::tun: return flag_tunnel;
    }
    return flag_masq;
}

std::optional<ForwardMethod> method_of_flags(uint32_t flags)
{
    switch (flags & flag_method_mask) {
    case flag_masq: return ForwardMethod::nat;
    case flag_droute: return ForwardMethod::dr;
    case flag_tunnel: return ForwardMethod::tun;
    default: return std::nullopt;  // local node, bypass
    }
}

// The options after a record's fixed part, as ip_vs_proc_sync_conn walks them. A malformed
// option drops the datagram; one this director cannot honour skips the record.
std::optional<SyncRefusal> walk_options(const uint8_t* p, const uint8_t* end, bool& skip, SyncRefusal& skip_reason)
{
    bool have_sequence = false;
    while (p < end) {
        if (end - p < 2) return SyncRefusal::bad_option;
        const uint8_t type = p[0];
        const uint8_t length = p[1];
        p += 2;
        if (length == 0 || end - p < length) return SyncRefusal::bad_option;
        switch (type & ~option_optional) {
        case option_sequence:
            // Sequence adjustment (FTP's NAT): read, checked and ignored; Fulcrum never
            // rewrites sequence numbers.
            if (length != sequence_option_length || have_sequence) return SyncRefusal::bad_option;
            have_sequence = true;
            break;
        case option_pe_data:
            if (!skip) skip_reason = SyncRefusal::persistence_engine;
            skip = true;
            break;
        case option_pe_name:
            // Means nothing without persistence-engine data (the kernel ignores it then too).
            break;
        default:
            if (!(type & option_optional)) {
                if (!skip) skip_reason = SyncRefusal::unknown_option;
                skip = true;
            }
        }
        p += length;
    }
    return std::nullopt;
}

// Why a well-formed record is of no use to this director, if it is not.
std::optional<SyncRefusal> unusable(uint32_t flags, uint16_t state, uint8_t protocol, uint32_t fwmark)
{
    if (fwmark != 0) return SyncRefusal::firewall_mark;
    if (protocol != ipproto_tcp && protocol != ipproto_udp) return SyncRefusal::unsupported_protocol;
    const bool is_template = flags & flag_template;
    const uint16_t states = is_template                 ? template_states
                            : protocol == ipproto_tcp ? static_cast<uint16_t>(dataplane::tcp_state_count)
                                                      : udp_states;
    if (state >= states) return SyncRefusal::bad_state;
    if (!method_of_flags(flags)) return SyncRefusal::unsupported_method;
    return std::nullopt;
}

}  // namespace

MessageBuilder::MessageBuilder(uint8_t syncid, size_t max_length)
    : buffer_(std::max(max_length, header_size + ipv6_record_size), 0)
{
    buffer_[1] = syncid;
    buffer_[5] = protocol_version;
    clear();
}

void MessageBuilder::clear()
{
    length_ = header_size;
    records_ = 0;
    put16(&buffer_[2], static_cast<uint16_t>(length_));
    buffer_[4] = 0;
}

bool MessageBuilder::add(const SyncRecord& r)
{
    // Records are 36 or 72 bytes, multiples of 4: no padding between them.
    const bool ipv6 = r.is_ipv6();
    const size_t size = ipv6 ? ipv6_record_size : ipv4_record_size;
    if (records_ == max_records_per_message || buffer_.size() - length_ < size) return false;
    uint8_t* p = &buffer_[length_];
    p[0] = ipv6 ? type_ipv6 : 0;
    p[1] = r.protocol;
    put16(p + 2, static_cast<uint16_t>(size));  // version 0, size
    uint32_t flags = method_flag(r.method);
    if (r.no_output) flags |= flag_no_output;
    if (r.inactive) flags |= flag_inactive;
    if (r.is_template) flags |= flag_template;
    put32(p + 4, flags);
    put16(p + 8, static_cast<uint16_t>(r.state));
    put16(p + 10, r.client_port);
    put16(p + 12, r.vport);
    put16(p + 14, r.real_port);
    put32(p + 16, 0);  // firewall mark
    put32(p + 20, r.timeout_seconds);
    // An IpAddress holds an IPv4 address as its 4 bytes and 12 zeros: an IPv4 tunnel real
    // server of an IPv6 connection goes out as the kernel writes it.
    const size_t address_size = ipv6 ? 16 : 4;
    uint8_t* a = p + 24;
    for (const IpAddress* address : {&r.client_ip, &r.vip, &r.real_ip}) {
        std::memcpy(a, address->bytes().data(), address_size);
        a += address_size;
    }
    length_ += size;
    ++records_;
    put16(&buffer_[2], static_cast<uint16_t>(length_));
    buffer_[4] = static_cast<uint8_t>(records_);
    return true;
}

DecodeResult decode_message(std::span<const uint8_t> datagram, uint8_t accepted_syncid, std::vector<SyncRecord>& out)
{
    DecodeResult result;
    const size_t first = out.size();
    auto drop = [&](SyncRefusal why) {
        out.resize(first);
        result.accepted = 0;
        result.skipped = {};  // the datagram is counted once, under its reason
        result.dropped = why;
        return result;
    };
    const uint8_t* const begin = datagram.data();
    const uint8_t* const end = begin + datagram.size();
    if (datagram.size() < header_size) return drop(SyncRefusal::too_short);
    if (get16(begin + 2) != datagram.size()) return drop(SyncRefusal::bad_size);
    if (accepted_syncid != 0 && begin[1] != accepted_syncid) return drop(SyncRefusal::other_syncid);
    // A version 0 message starts with its record count where version 1 has a reserved zero.
    if (begin[0] != 0 || begin[5] != protocol_version || get16(begin + 6) != 0) return drop(SyncRefusal::bad_version);

    const unsigned count = begin[4];
    const uint8_t* p = begin + header_size;
    for (unsigned i = 0; i < count; ++i) {
        // The kernel reads the fixed IPv4 part before it looks at the type.
        if (end - p < static_cast<ptrdiff_t>(ipv4_record_size)) return drop(SyncRefusal::truncated_record);
        const uint16_t version_size = get16(p + 2);
        const size_t size = version_size & record_size_mask;
        if (static_cast<size_t>(end - p) < size) return drop(SyncRefusal::truncated_record);
        if (version_size >> record_version_shift) return drop(SyncRefusal::bad_record);
        const uint8_t type = p[0];
        if (type & ~type_ipv6) return drop(SyncRefusal::bad_record);
        const bool ipv6 = type & type_ipv6;
        const size_t fixed = ipv6 ? ipv6_record_size : ipv4_record_size;
        if (size < fixed) return drop(SyncRefusal::bad_record);
        bool skip = false;
        SyncRefusal skip_reason = SyncRefusal::count;
        if (auto bad = walk_options(p + fixed, p + size, skip, skip_reason)) return drop(*bad);

        const uint32_t flags = get32(p + 4);
        const uint8_t protocol = p[1];
        if (!skip) {
            if (auto why = unusable(flags, get16(p + 8), protocol, get32(p + 16))) skip = true, skip_reason = *why;
        }
        if (skip) {
            ++result.skipped[static_cast<size_t>(skip_reason)];
        } else {
            SyncRecord r;
            r.protocol = protocol;
            r.method = *method_of_flags(flags);
            r.is_template = flags & flag_template;
            r.no_output = flags & flag_no_output;
            r.inactive = flags & flag_inactive;
            r.state = r.is_template || protocol != ipproto_tcp ? dataplane::TcpState::none
                                                              : static_cast<dataplane::TcpState>(get16(p + 8));
            r.client_port = get16(p + 10);
            r.vport = get16(p + 12);
            r.real_port = get16(p + 14);
            r.timeout_seconds = get32(p + 20);
            if (ipv6) {
                r.client_ip = ipv6_at(p + 24);
                r.vip = ipv6_at(p + 40);
                r.real_ip = ipv6_at(p + 56);
            } else {
                r.client_ip = get32(p + 24);
                r.vip = get32(p + 28);
                r.real_ip = get32(p + 32);
            }
            out.push_back(r);
            ++result.accepted;
        }
        // The next record starts 4-byte aligned.
        const size_t advance = (size + 3) & ~size_t{3};
        if (static_cast<size_t>(end - p) < advance) {
            p = end;
        } else {
            p += advance;
        }
    }
    return result;
}

}  // namespace fulcrum::control::sync
