#include "common/types.hpp"

#include <charconv>
#include <cstdio>

namespace fulcrum {

std::string format_ipv4(Ipv4 ip)
{
    char buf[16];
    std::snprintf(buf, sizeof buf, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 0xff, (ip >> 8) & 0xff,
                  ip & 0xff);
    return buf;
}

std::string format_ipv4_port(Ipv4 ip, uint16_t port) { return format_ipv4(ip) + ":" + std::to_string(port); }

std::string format_mac(const MacAddress& mac)
{
    char buf[18];
    std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3],
                  mac[4], mac[5]);
    return buf;
}

std::optional<Ipv4> parse_ipv4(std::string_view text)
{
    Ipv4 ip = 0;
    const char* p = text.data();
    const char* end = text.data() + text.size();
    for (int i = 0; i < 4; ++i) {
        if (i > 0) {
            if (p == end || *p != '.') return std::nullopt;
            ++p;
        }
        if (p == end || *p < '0' || *p > '9') return std::nullopt;
        unsigned octet = 0;
        auto [next, ec] = std::from_chars(p, end, octet);
        if (ec != std::errc{} || octet > 255 || next - p > 3) return std::nullopt;
        p = next;
        ip = (ip << 8) | octet;
    }
    if (p != end) return std::nullopt;
    return ip;
}

std::optional<Ipv4Prefix> parse_ipv4_prefix(std::string_view text, bool allow_bare)
{
    auto slash = text.find('/');
    if (slash == std::string_view::npos) {
        if (!allow_bare) return std::nullopt;
        auto ip = parse_ipv4(text);
        if (!ip) return std::nullopt;
        return Ipv4Prefix{*ip, 32};
    }
    auto ip = parse_ipv4(text.substr(0, slash));
    auto len_text = text.substr(slash + 1);
    if (!ip || len_text.empty() || len_text.size() > 2) return std::nullopt;
    unsigned len = 0;
    auto [next, ec] = std::from_chars(len_text.data(), len_text.data() + len_text.size(), len);
    if (ec != std::errc{} || next != len_text.data() + len_text.size() || len > 32)
        return std::nullopt;
    return Ipv4Prefix{*ip, static_cast<uint8_t>(len)};
}

std::optional<MacAddress> parse_mac(std::string_view text)
{
    if (text.size() != 17) return std::nullopt;
    MacAddress mac{};
    for (int i = 0; i < 6; ++i) {
        if (i > 0 && text[i * 3 - 1] != ':' && text[i * 3 - 1] != '-') return std::nullopt;
        unsigned byte = 0;
        auto first = text.data() + i * 3;
        auto [next, ec] = std::from_chars(first, first + 2, byte, 16);
        if (ec != std::errc{} || next != first + 2) return std::nullopt;
        mac[i] = static_cast<uint8_t>(byte);
    }
    return mac;
}

std::string_view protocol_name(Protocol p)
{
    for (const ProtocolNames& n : protocols)
        if (n.protocol == p) return n.name;
    return "?";
}

std::optional<Protocol> protocol_of_name(std::string_view name)
{
    for (const ProtocolNames& n : protocols)
        if (n.name == name) return n.protocol;
    return std::nullopt;
}

std::optional<Protocol> protocol_of_flag(char flag)
{
    for (const ProtocolNames& n : protocols)
        if (n.flag == flag) return n.protocol;
    return std::nullopt;
}

char protocol_flag(Protocol p)
{
    for (const ProtocolNames& n : protocols)
        if (n.protocol == p) return n.flag;
    return '?';
}

std::string_view protocol_label(Protocol p)
{
    for (const ProtocolNames& n : protocols)
        if (n.protocol == p) return n.label;
    return "?";
}

std::string_view forward_method_name(ForwardMethod m) { return forward_methods[static_cast<size_t>(m)].name; }

std::string_view ipvsadm_forward_name(ForwardMethod m) { return forward_methods[static_cast<size_t>(m)].ipvsadm; }

std::optional<ForwardMethod> forward_method_of_flag(char flag)
{
    for (const ForwardMethodNames& m : forward_methods)
        if (m.flag == flag) return m.method;
    return std::nullopt;
}

}  // namespace fulcrum
