// The text helpers every front end shares: how a user's value is quoted in a message, how
// names are joined, and how a decimal number is read.
#pragma once

#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace fulcrum {

// A value as the user wrote it, in double quotes for a one-line message: quotes and backslashes
// escaped, newline and tab as \n and \t, other control bytes and bytes from 0x7f as \xNN (no
// terminal escape gets through), cut after 60 characters with "...".
std::string quote(std::string_view text);

// The items of `items` (strings or string views) with `separator` between them.
template <typename Range>
std::string join(const Range& items, std::string_view separator)
{
    std::string out;
    for (const auto& item : items) {
        if (!out.empty()) out += separator;
        out += item;
    }
    return out;
}

// Plain decimal digits: no sign, no space, no exponent, no 0x. nullopt on anything else and on
// overflow.
inline std::optional<uint64_t> parse_decimal(std::string_view text)
{
    if (text.empty() || text.size() > 20) return std::nullopt;
    for (char c : text)
        if (c < '0' || c > '9') return std::nullopt;
    uint64_t v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
    return v;
}

// parse_decimal within [min, max].
template <typename T>
std::optional<T> parse_number(std::string_view text, T min, T max)
{
    const auto v = parse_decimal(text);
    if (!v || *v < min || *v > max) return std::nullopt;
    return static_cast<T>(*v);
}

}  // namespace fulcrum
