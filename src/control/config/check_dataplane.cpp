// dataplane:, console:, metrics: and timeouts:.
#include "control/config/checker.hpp"
#include "common/text.hpp"
#include "control/config/limits.hpp"

#include <algorithm>
#include <cctype>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

namespace fulcrum::control::checking {

namespace {

bool is_power_of_two(uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }


}  // namespace

// `listen: "ADDRESS:PORT"`, or `listen: ""` for off. Returns whether it was good.
bool Checker::listen_address(const Item& l, std::string& listen)
{
    constexpr std::string_view what = "an IPv4 address and port like \"127.0.0.1:9023\", or \"\" for off";
    auto s = string(l, what);
    if (!s) return false;
    if (s->empty()) {
        listen.clear();
        return true;
    }
    const size_t colon = s->rfind(':');
    if (colon == std::string::npos || !parse_ipv4(std::string_view(*s).substr(0, colon)) ||
        !parse_number<uint16_t>(std::string_view(*s).substr(colon + 1), 1, limits::max_port)) {
        expected(l, what);
        return false;
    }
    listen = *s;
    return true;
}

void Checker::check_metrics(const Item& item)
{
    auto m = mapping(item, metrics_spec, true);
    if (!m) return;
    if (auto* l = m->find("listen")) listen_address(*l, config_.metrics_listen);
}

void Checker::check_console(const Item& item)
{
    auto m = mapping(item, console_spec, true);
    if (!m) return;
    ConsoleConfig& c = config_.console;
    if (auto* x = m->find("allow_remote"))
        if (auto v = boolean(*x)) c.allow_remote = *v;
    if (auto* l = m->find("listen"); l && listen_address(*l, c.listen) && !c.listen.empty() && !c.allow_remote) {
        // The console changes the running configuration and asks no password: beyond loopback,
        // anyone who reaches the address could, so that takes a second, explicit word.
        const Ipv4 ip = *parse_ipv4(std::string_view(c.listen).substr(0, c.listen.rfind(':')));
        if ((ip >> 24) != 127)
            report(*l, fmt::format("{} is not a loopback address: anyone who reaches it can change the "
                                   "director without a password; set console.allow_remote: true to allow it",
                                   c.listen));
    }
    if (auto* x = m->find("socket")) {
        constexpr std::string_view what = "an absolute path of at most 107 bytes like \"/run/fulcrum/console.sock\", "
                                          "or \"\" for off";
        if (auto s = string(*x, what)) {
            // sun_path holds 108 bytes with the terminating NUL.
            if (!s->empty() && (!s->starts_with('/') || s->size() > 107 || s->find('\0') != std::string::npos))
                expected(*x, what);
            else
                c.socket = *s;
        }
    }
    if (auto* x = m->find("group")) {
        // A POSIX portable name (as useradd accepts); whether the group exists is the host's,
        // checked when the director opens the socket.
        constexpr std::string_view what = "a group name of letters, digits, '_', '-' and '.', not starting with '-'";
        if (auto s = string(*x, what)) {
            const bool good = !s->empty() && s->size() <= 32 && s->front() != '-' &&
                              std::all_of(s->begin(), s->end(), [](char ch) {
                                  return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '-' || ch == '.';
                              });
            if (good)
                c.group = *s;
            else
                expected(*x, what);
        }
    }
}

void Checker::check_dataplane(const Item& item)
{
    auto m = mapping(item, dataplane_spec, true);
    if (!m) return;
    DataplaneConfig& dp = config_.dataplane;
    if (auto* x = m->find("expire_nodest_conn"))
        if (auto v = boolean(*x)) dp.expire_nodest_conn = *v;
    if (auto* x = m->find("sloppy_tcp"))
        if (auto v = boolean(*x)) dp.sloppy_tcp = *v;
    if (auto* w = m->find("workers"))
        if (auto v = integer(*w, 1, limits::max_workers)) dp.workers = static_cast<unsigned>(*v);
    if (auto* e = m->find("eal")) {
        if (auto args = list(*e, "a list of strings", true)) {
            for (const Item& a : *args) {
                auto s = string(a, "a non-empty string");
                if (!s) continue;
                if (s->empty())
                    expected(a, "a non-empty string");
                else
                    dp.eal.push_back(*s);
            }
        }
    }
    // Connection tables: a power of two, so that a hash indexes them with a mask.
    auto table_size = [&](const char* key, uint32_t& size) {
        auto* c = m->find(key);
        if (c == nullptr) return;
        const std::string what = fmt::format("a power of two from {} to {}", limits::min_conn_table_size, limits::max_conn_table_size);
        if (auto v = integer(*c, limits::min_conn_table_size, limits::max_conn_table_size, what)) {
            if (is_power_of_two(*v))
                size = static_cast<uint32_t>(*v);
            else
                expected(*c, what);
        }
    };
    table_size("conn_table_size", dp.conn_table_size);
    table_size("conn_table_size_ipv6", dp.conn_table_size_ipv6);
    if (auto* b = m->find("mbufs"))
        if (auto v = integer(*b, limits::min_mbufs, limits::max_mbufs)) dp.mbufs = static_cast<uint32_t>(*v);
    if (auto* k = m->find("kernel_rate_limit"))
        if (auto v = integer(*k, limits::min_kernel_rate, limits::max_kernel_rate)) dp.kernel_rate_limit = static_cast<uint32_t>(*v);
    if (auto* i = m->find("icmp_rate_limit"))
        if (auto v = integer(*i, limits::min_icmp_rate, limits::max_icmp_rate)) dp.icmp_rate_limit = static_cast<uint32_t>(*v);
    // IPVS's levels: 0 never, 1 and 2 automatic, 3 always.
    for (auto [key, level] : {std::pair{"drop_entry", &dp.defense.drop_entry}, std::pair{"drop_packet", &dp.defense.drop_packet},
                              std::pair{"secure_tcp", &dp.defense.secure_tcp}, std::pair{"flood_mode", &dp.defense.flood_mode}})
        if (auto* x = m->find(key))
            if (auto v = integer(*x, 0, limits::max_defense_level)) *level = static_cast<uint8_t>(*v);
    if (auto* a = m->find("amemthresh")) {
        // Free slots of a worker's table: below the table's size, or the defences are always on.
        const uint64_t most = dp.conn_table_size - 1;
        if (auto v = integer(*a, 1, most, fmt::format("free connection slots, from 1 to {} (conn_table_size - 1)", most)))
            dp.defense.amemthresh = static_cast<uint32_t>(*v);
    }
    if (auto* r = m->find("am_droprate"))
        if (auto v = integer(*r, 1, limits::max_am_droprate)) dp.defense.am_droprate = static_cast<uint32_t>(*v);
}

void Checker::check_timeouts(const Item& item)
{
    auto m = mapping(item, timeouts_spec, true);
    if (!m) return;
    // `tcp` and `established` set the same timeout, as do `tcp_fin` and `fin_wait`: one file
    // may say it once.
    std::vector<std::pair<dataplane::TimeoutKey, const Field*>> seen;
    for (const Field& f : m->fields) {
        const auto key = dataplane::timeout_key_from_name(f.key);
        if (!key) continue;
        const auto same = std::find_if(seen.begin(), seen.end(), [&](const auto& s) { return s.first == *key; });
        if (same != seen.end()) {
            report(f.value, fmt::format("sets the same timeout as \"{}\" (line {}); give only one of them",
                                        same->second->key, line_of(same->second->key_mark)));
            continue;
        }
        seen.emplace_back(*key, &f);
        if (auto v = integer(f.value, 1, limits::max_timeout)) config_.timeouts.entry(*key) = static_cast<uint32_t>(*v);
    }
}

}  // namespace fulcrum::control::checking
