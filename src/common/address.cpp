#include "common/address.hpp"

#include <algorithm>
#include <cstdio>

#include "common/text.hpp"
#include "common/types.hpp"

namespace fulcrum {

namespace {

int hex_value(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// "01.2.3.4": inet_pton refuses an octet with a leading zero inside an IPv6 address (it could
// be read as octal), and so does this parser.
bool has_leading_zero(std::string_view quad)
{
    for (size_t i = 0; i + 1 < quad.size(); ++i)
        if (quad[i] == '0' && (i == 0 || quad[i - 1] == '.') && quad[i + 1] != '.') return true;
    return false;
}

// RFC 4291 section 2.2: up to eight groups, one "::" standing for one or more zero groups, and
// the last two groups possibly written as a dotted quad.
std::optional<IpAddress> parse_ipv6(std::string_view text)
{
    std::array<uint16_t, 8> groups{};
    int count = 0;
    int gap = -1;  // index of the group the "::" stands before
    size_t i = 0;
    if (text.starts_with("::")) {
        gap = 0;
        i = 2;
        if (i == text.size()) return IpAddress::ipv6({});
    } else if (text.starts_with(":")) {
        return std::nullopt;
    }
    while (i < text.size()) {
        if (count == 8) return std::nullopt;
        // A dotted quad ends the address and fills two groups.
        const size_t next_colon = text.find(':', i);
        const std::string_view rest = text.substr(i, next_colon == std::string_view::npos ? std::string_view::npos : next_colon - i);
        if (next_colon == std::string_view::npos && rest.find('.') != std::string_view::npos) {
            const auto quad = parse_ipv4(rest);
            if (!quad || count > 6 || has_leading_zero(rest)) return std::nullopt;
            groups[static_cast<size_t>(count++)] = static_cast<uint16_t>(*quad >> 16);
            groups[static_cast<size_t>(count++)] = static_cast<uint16_t>(*quad);
            i = text.size();
            break;
        }
        if (rest.empty() || rest.size() > 4) return std::nullopt;
        uint16_t value = 0;
        for (char c : rest) {
            const int h = hex_value(c);
            if (h < 0) return std::nullopt;
            value = static_cast<uint16_t>(value * 16 + h);
        }
        groups[static_cast<size_t>(count++)] = value;
        i += rest.size();
        if (i == text.size()) break;
        // A ':' follows; "::" marks the gap, once.
        ++i;
        if (i < text.size() && text[i] == ':') {
            if (gap >= 0) return std::nullopt;
            gap = count;
            ++i;
        } else if (i == text.size()) {
            return std::nullopt;  // a trailing single ':'
        }
    }
    if (gap < 0 && count != 8) return std::nullopt;
    if (gap >= 0 && count > 7) return std::nullopt;
    IpAddress::Bytes bytes{};
    std::array<uint16_t, 8> full{};
    if (gap < 0) {
        full = groups;
    } else {
        const int tail = count - gap;
        for (int k = 0; k < gap; ++k) full[static_cast<size_t>(k)] = groups[static_cast<size_t>(k)];
        for (int k = 0; k < tail; ++k) full[static_cast<size_t>(8 - tail + k)] = groups[static_cast<size_t>(gap + k)];
    }
    for (size_t k = 0; k < 8; ++k) {
        bytes[2 * k] = static_cast<uint8_t>(full[k] >> 8);
        bytes[2 * k + 1] = static_cast<uint8_t>(full[k]);
    }
    return IpAddress::ipv6(bytes);
}

std::string format_ipv6(const IpAddress::Bytes& b)
{
    std::array<uint16_t, 8> words{};
    for (size_t k = 0; k < 8; ++k) words[k] = static_cast<uint16_t>((b[2 * k] << 8) | b[2 * k + 1]);
    // The longest run of two or more zero groups, the first of equals, becomes "::".
    int best = -1, best_length = 0;
    for (int k = 0; k < 8;) {
        if (words[static_cast<size_t>(k)] != 0) {
            ++k;
            continue;
        }
        int end = k;
        while (end < 8 && words[static_cast<size_t>(end)] == 0) ++end;
        if (end - k > best_length) {
            best = k;
            best_length = end - k;
        }
        k = end;
    }
    if (best_length < 2) best = -1;
    std::string out;
    for (int k = 0; k < 8; ++k) {
        if (best >= 0 && k >= best && k < best + best_length) {
            if (k == best) out += "::";
            continue;
        }
        // ::a.b.c.d and ::ffff:a.b.c.d are written with their IPv4 address, as inet_ntop does.
        if (k == 6 && best == 0 && (best_length == 6 || (best_length == 5 && words[5] == 0xffff))) {
            if (out.back() != ':') out += ':';
            out += format_ipv4((uint32_t{words[6]} << 16) | words[7]);
            break;
        }
        if (!out.empty() && out.back() != ':') out += ':';
        char buf[8];
        std::snprintf(buf, sizeof buf, "%x", words[static_cast<size_t>(k)]);
        out += buf;
    }
    return out;
}

}  // namespace

std::string format_ip(const IpAddress& address)
{
    return address.is_ipv4() ? format_ipv4(address.ipv4()) : format_ipv6(address.bytes());
}

std::string format_endpoint(const IpAddress& address, uint16_t port)
{
    if (address.is_ipv4()) return format_ipv4_port(address.ipv4(), port);
    return "[" + format_ipv6(address.bytes()) + "]:" + std::to_string(port);
}

std::optional<IpAddress> parse_ip(std::string_view text)
{
    if (text.find(':') == std::string_view::npos) {
        if (auto v4 = parse_ipv4(text)) return IpAddress(*v4);
        return std::nullopt;
    }
    return parse_ipv6(text);
}

IpAddress IpPrefix::network() const
{
    if (address.is_ipv4())
        return IpAddress(length == 0 ? 0 : address.ipv4() & (~uint32_t{0} << (32 - std::min<unsigned>(length, 32))));
    IpAddress::Bytes bytes = address.bytes();
    for (size_t i = 0; i < bytes.size(); ++i) {
        const unsigned bit = static_cast<unsigned>(i) * 8;
        if (bit + 8 <= length) continue;
        bytes[i] = bit >= length ? 0 : static_cast<uint8_t>(bytes[i] & (0xff00u >> (length - bit)));
    }
    return IpAddress::ipv6(bytes);
}

bool IpPrefix::contains(const IpAddress& ip) const
{
    return ip.family() == address.family() && IpPrefix{ip, length}.network() == network();
}

std::string format_prefix(const IpPrefix& prefix) { return format_ip(prefix.address) + "/" + std::to_string(prefix.length); }

std::optional<IpPrefix> parse_prefix(std::string_view text, bool allow_bare)
{
    const size_t slash = text.find('/');
    auto address = parse_ip(text.substr(0, slash));
    if (!address) return std::nullopt;
    const uint8_t full = full_length(address->family());
    if (slash == std::string_view::npos) {
        if (!allow_bare) return std::nullopt;
        return IpPrefix{*address, full};
    }
    const std::string_view digits = text.substr(slash + 1);
    if (digits.size() > 1 && digits.starts_with('0')) return std::nullopt;
    auto length = parse_number<uint8_t>(digits, 0, full);
    if (!length) return std::nullopt;
    return IpPrefix{*address, *length};
}

std::optional<ParsedEndpoint> parse_endpoint(std::string_view text)
{
    // A port as ipvsadm writes it: no leading zero, which parse_number would take.
    auto port_of = [](std::string_view digits) -> std::optional<uint16_t> {
        if (digits.starts_with('0')) return std::nullopt;
        return parse_number<uint16_t>(digits, 1, 65535);
    };
    if (text.starts_with('[')) {
        const size_t close = text.find(']');
        if (close == std::string_view::npos) return std::nullopt;
        auto address = parse_ipv6(text.substr(1, close - 1));
        if (!address) return std::nullopt;
        const std::string_view rest = text.substr(close + 1);
        if (rest.empty()) return ParsedEndpoint{*address, std::nullopt};
        if (rest[0] != ':') return std::nullopt;
        auto port = port_of(rest.substr(1));
        if (!port) return std::nullopt;
        return ParsedEndpoint{*address, port};
    }
    const size_t colons = static_cast<size_t>(std::count(text.begin(), text.end(), ':'));
    if (colons > 1) {
        auto address = parse_ipv6(text);
        if (!address) return std::nullopt;
        return ParsedEndpoint{*address, std::nullopt};
    }
    const size_t colon = text.find(':');
    auto v4 = parse_ipv4(text.substr(0, colon));
    if (!v4) return std::nullopt;
    if (colon == std::string_view::npos) return ParsedEndpoint{IpAddress(*v4), std::nullopt};
    auto port = port_of(text.substr(colon + 1));
    if (!port) return std::nullopt;
    return ParsedEndpoint{IpAddress(*v4), port};
}

}  // namespace fulcrum
