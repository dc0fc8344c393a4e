// health_check: of services and real servers, and whether the checks can reach their servers.
#include "control/config/checker.hpp"
#include "common/text.hpp"
#include "control/config/limits.hpp"

#include <algorithm>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>
#include <regex>
#include <charconv>

namespace fulcrum::control::checking {

namespace {


// The product of the bounds (n, or m when given) of the counted repeats {n}, {n,} and {n,m} in
// an ECMAScript regex (1 for none): nested repeats multiply the automaton's states, and counting
// every repeat as if nested is the safe side. Escaped braces and braces inside [...] are literal.
uint64_t repeat_bound_product(std::string_view regex)
{
    uint64_t product = 1;
    bool in_class = false;
    for (size_t i = 0; i < regex.size(); ++i) {
        const char c = regex[i];
        if (c == '\\') {
            ++i;
            continue;
        }
        if (in_class) {
            in_class = c != ']';
            continue;
        }
        if (c == '[') {
            in_class = true;
            continue;
        }
        if (c != '{') continue;
        uint64_t bound = 0;
        for (size_t j = i + 1; j < regex.size() && regex[j] != '}'; ++j) {
            uint64_t n = 0;
            bool digits = false;
            while (j < regex.size() && regex[j] >= '0' && regex[j] <= '9') {
                n = std::min<uint64_t>(n * 10 + static_cast<uint64_t>(regex[j] - '0'), 1u << 30);
                digits = true;
                ++j;
            }
            if (digits) bound = std::max(bound, n);
            if (j >= regex.size() || regex[j] != ',') break;
        }
        product = std::min<uint64_t>(product * std::max<uint64_t>(bound, 1), 1u << 30);
    }
    return product;
}

}  // namespace

// Seconds as written ("1", "0.5", "2.25"), to whole milliseconds.
std::optional<uint32_t> Checker::milliseconds(const Item& item, uint64_t lo, uint64_t hi)
{
    const std::string what = fmt::format("a number of seconds from {:g} to {:g} (like 1 or 0.5)", lo / 1000.0, hi / 1000.0);
    if (item.node.IsScalar() && item.node.Tag() == "!") {
        expected(item, what, "a quoted string " + quote(item.node.Scalar()));
        return std::nullopt;
    }
    if (!item.node.IsScalar()) {
        expected(item, what);
        return std::nullopt;
    }
    const std::string& text = item.node.Scalar();
    const size_t dot = text.find('.');
    // ".5" is half a second too.
    auto whole = dot == 0 && text.size() > 1 ? std::optional<uint64_t>(0) : parse_decimal(std::string_view(text).substr(0, dot));
    std::string fraction = dot == std::string::npos ? "" : text.substr(dot + 1);
    const bool fraction_ok = fraction.size() <= 3 && std::all_of(fraction.begin(), fraction.end(), [](char c) {
                                 return c >= '0' && c <= '9';
                             }) && (dot == std::string::npos || !fraction.empty());
    if (!whole || !fraction_ok || *whole > hi / 1000) {
        expected(item, what);
        return std::nullopt;
    }
    fraction.resize(3, '0');
    const uint64_t ms = *whole * 1000 + *parse_decimal(fraction);
    if (ms < lo || ms > hi) {
        expected(item, what);
        return std::nullopt;
    }
    return static_cast<uint32_t>(ms);
}

// 200, "200-299", "200,301-302", or a list of such.
std::optional<std::vector<StatusRange>> Checker::status_ranges(const Item& item)
{
    constexpr std::string_view what =
        "an HTTP status (100 to 599), a range like \"200-299\", or a list of them";
    std::vector<Item> parts;
    if (item.node.IsSequence() && item.node.size() > 0)
        parts = *list(item, what, false);
    else
        parts.push_back(item);
    std::vector<StatusRange> ranges;
    for (const Item& part : parts) {
        if (!part.node.IsScalar()) {
            expected(part, what);
            return std::nullopt;
        }
        std::string_view text = part.node.Scalar();
        if (text.empty() || text.back() == ',') {
            expected(part, what);
            return std::nullopt;
        }
        while (!text.empty()) {
            const size_t comma = text.find(',');
            std::string_view one = text.substr(0, comma);
            text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
            while (!one.empty() && one.front() == ' ') one.remove_prefix(1);
            while (!one.empty() && one.back() == ' ') one.remove_suffix(1);
            const size_t dash = one.find('-');
            auto low = parse_decimal(one.substr(0, dash));
            auto high = dash == std::string_view::npos ? low : parse_decimal(one.substr(dash + 1));
            if (!low || !high || *low < 100 || *high > 599 || *low > *high) {
                expected(part, what);
                return std::nullopt;
            }
            ranges.push_back({static_cast<uint16_t>(*low), static_cast<uint16_t>(*high)});
        }
    }
    if (ranges.empty()) {
        expected(item, what);
        return std::nullopt;
    }
    return ranges;
}

void Checker::check_http_check(const Item& item, HttpCheckConfig& http)
{
    auto m = mapping(item, http_check_spec, true);
    if (!m) return;
    if (auto* p = m->find("path")) {
        constexpr std::string_view what = "a path starting with '/' without spaces (like /health)";
        if (auto s = string(*p, what)) {
            if (s->empty() || s->front() != '/' ||
                std::any_of(s->begin(), s->end(), [](char c) { return c <= ' ' || c == 0x7f; }))
                expected(*p, what);
            else
                http.path = *s;
        }
    }
    if (auto* h = m->find("host")) {
        constexpr std::string_view what = "a host name for the Host header (no spaces)";
        if (auto s = string(*h, what)) {
            if (std::any_of(s->begin(), s->end(), [](char c) { return c <= ' ' || c == 0x7f; }))
                expected(*h, what);
            else
                http.host = *s;
        }
    }
    if (auto* e = m->find("expect_status"))
        if (auto ranges = status_ranges(*e)) http.expect_status = *ranges;
    if (auto* b = m->find("expect_body")) {
        if (auto s = string(*b, "a regular expression (ECMAScript)")) {
            // The check's cost grows with the pattern's states: these bounds keep one check of
            // the 8 KB it searches within tens of milliseconds on the control core.
            if (s->size() > limits::max_body_regex_length) {
                expected(*b, fmt::format("a regular expression of at most {} characters", limits::max_body_regex_length),
                         fmt::format("{} characters", s->size()));
                return;
            }
            if (auto bound = repeat_bound_product(*s); bound > limits::max_body_regex_repeat) {
                expected(*b, fmt::format("a regular expression whose counted repeats ({{n,m}}) multiply to at most {}",
                                         limits::max_body_regex_repeat),
                         fmt::format("{}, whose repeats multiply to {}", describe(b->node), bound));
                return;
            }
            try {
                // As the checker runs it (health.cpp): the linear-time engine, which has no
                // back-references, so that a file with one is refused here, not at its first check.
                std::regex compiled(*s, std::regex::ECMAScript | std::regex::nosubs | std::regex_constants::__polynomial);
                http.expect_body = *s;
            } catch (const std::regex_error& error) {
                expected(*b, "a regular expression (ECMAScript)", fmt::format("{}: {}", describe(b->node), error.what()));
            }
        }
    }
}

HealthCheckConfig Checker::check_health_check(const Item& item, const HealthCheckConfig& base, bool& timeout_given)
{
    HealthCheckConfig hc = base;
    auto m = mapping(item, health_check_spec, true);
    if (!m) return hc;
    // Asking for a check without naming its kind means a TCP connect, as ldirectord's default.
    if (hc.type == HealthCheckType::none && !m->fields.empty()) hc.type = HealthCheckType::tcp;
    if (auto* t = m->find("type"))
        if (auto i = choice(*t, "health check type", health_check_type_names)) hc.type = static_cast<HealthCheckType>(*i);
    if (auto* p = m->find("port"))
        if (auto v = integer(*p, 1, limits::max_port)) hc.port = static_cast<uint16_t>(*v);
    const Item* interval = m->find("interval");
    bool times_readable = true;
    if (interval) {
        if (auto v = milliseconds(*interval, limits::min_check_ms, limits::max_check_ms))
            hc.interval_ms = *v;
        else
            times_readable = false;
    }
    const Item* timeout = m->find("timeout");
    if (timeout) {
        timeout_given = true;
        if (auto v = milliseconds(*timeout, limits::min_check_ms, limits::max_check_ms))
            hc.timeout_ms = *v;
        else
            times_readable = false;
    } else if (!timeout_given) {
        // The default timeout never outlasts a short interval.
        hc.timeout_ms = std::min(HealthCheckConfig{}.timeout_ms, hc.interval_ms);
    }
    if (auto* r = m->find("rise"))
        if (auto v = integer(*r, 1, limits::max_rise_fall)) hc.rise = static_cast<uint32_t>(*v);
    if (auto* f = m->find("fall"))
        if (auto v = integer(*f, 1, limits::max_rise_fall)) hc.fall = static_cast<uint32_t>(*v);
    if (auto* o = m->find("on_failure"))
        if (auto i = choice(*o, "on_failure action", on_failure_names)) hc.on_failure = static_cast<OnFailure>(*i);
    if (auto* h = m->find("http")) {
        check_http_check(*h, hc.http);
        if (hc.type != HealthCheckType::http)
            report(*h, fmt::format("http settings for a health check of type {}; say type: http",
                                   health_check_type_names[static_cast<size_t>(hc.type)]));
    }
    // A check still running when the next is due would overlap it. Said once, where the times are.
    if (hc.type != HealthCheckType::none && (interval || timeout) && times_readable && hc.timeout_ms > hc.interval_ms)
        report(timeout ? *timeout : item, fmt::format("health check timeout {:g} s is longer than its interval {:g} s",
                                                      hc.timeout_ms / 1000.0, hc.interval_ms / 1000.0));
    return hc;
}

// Checks are the kernel's own connections: they leave through the exception path, so a checked
// real server must lie behind an interface that has a kernel interface.
void Checker::check_health_paths()
{
    if (!subnets_complete_ || !routes_complete_) return;
    for (const auto& [item, address] : checked_real_servers_) {
        const InterfaceConfig* i = interface_reaching(address);
        if (i == nullptr || !i->kernel_interface.empty()) continue;
        report(item, fmt::format("real server {} is health-checked, but interface {}, which reaches it, has "
                                 "kernel_interface: false: the checks could not reach it",
                                 format_ip(address), i->name));
    }
}

}  // namespace fulcrum::control::checking
