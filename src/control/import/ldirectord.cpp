// ldirectord.cf to Fulcrum services, read as Debian's ldirectord (4.12) reads it: global
// `key = value` lines start at the first column; a `virtual=` (or `virtual6=`) line opens a
// section whose lines are indented by at least four spaces or a tab, and the first line that is
// not (a blank one too) ends it; '#' starts a comment. Its defaults, written out: checkinterval
// 10 s, checktimeout 5 s (connect checks), negotiatetimeout 30 s (the others; each defaults to the
// other when only one is set), failurecount 1, quiescent no, scheduler wrr, checktype negotiate,
// protocol tcp (udp on port 53), weight 1, and a fallback forwarded by gate. A server comes back
// after one good check.
#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "common/text.hpp"
#include "control/config/limits.hpp"
#include "control/import/import.hpp"
#include "control/import/imported.hpp"
#include "sched/scheduler.hpp"

namespace fulcrum::control::migration {

namespace {

constexpr uint64_t max_real_range = 1024;

struct Failed {};

// A value and where it starts.
struct Value {
    std::string text;
    int line = 0;
    int column = 0;
};

struct Setting {
    Value key;
    Value value;
};

struct Section {
    Setting virtual_line;
    std::vector<Setting> settings;  // in file order; a later one overrides an earlier
    std::vector<Setting> reals;

    const Setting* find(std::string_view key) const
    {
        const Setting* found = nullptr;
        for (const Setting& s : settings)
            if (s.key.text == key) found = &s;
        return found;
    }
};

// ldirectord's ld_service_to_port, and the names getservbyname gives the same ports.
const std::map<std::string, uint16_t, std::less<>>& service_ports()
{
    static const std::map<std::string, uint16_t, std::less<>> ports{
        {"ftp", 21},     {"smtp", 25},        {"dns", 53},        {"domain", 53},     {"http", 80},
        {"www", 80},     {"pop", 110},        {"pop3", 110},      {"nntp", 119},      {"imap", 143},
        {"imap2", 143},  {"ldap", 389},       {"https", 443},     {"submission", 587}, {"ldaps", 636},
        {"imaps", 993},  {"pops", 995},       {"pop3s", 995},     {"oracle", 1521},   {"radius", 1812},
        {"http_proxy", 3128}, {"mysql", 3306}, {"sip", 5060},     {"pgsql", 5432},    {"postgresql", 5432}};
    return ports;
}

// ld_port_to_service: what a virtual's port says its service is, when `service` is not given.
std::string service_of_port(uint16_t port)
{
    static const std::map<uint16_t, std::string> names{
        {21, "ftp"},    {25, "smtp"},   {53, "dns"},     {80, "http"},    {110, "pop"},     {119, "nntp"},
        {143, "imap"},  {389, "ldap"},  {443, "https"},  {587, "submission"}, {636, "ldaps"}, {993, "imaps"},
        {995, "pops"},  {1521, "oracle"}, {1812, "radius"}, {3128, "http_proxy"}, {3306, "mysql"}, {5060, "sip"},
        {5432, "pgsql"}};
    auto it = names.find(port);
    return it == names.end() ? "none" : it->second;
}

class Reader {
public:
    explicit Reader(const std::string& file) : file_(file) {}

    std::vector<ConfigError> errors;
    std::map<std::string, Setting> globals;  // the last of each
    std::vector<Setting> global_order;
    std::vector<Section> sections;

    [[noreturn]] void fail(const Value& at, std::string message)
    {
        errors.push_back({file_, at.line, at.column, std::move(message)});
        throw Failed{};
    }

    void read(std::string_view text)
    {
        int number = 0;
        bool in_section = false;
        for (size_t start = 0; start < text.size();) {
            size_t end = text.find('\n', start);
            if (end == std::string_view::npos) end = text.size();
            std::string_view line = text.substr(start, end - start);
            start = end + 1;
            ++number;
            if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
            const size_t first = line.find_first_not_of(" \t");
            const bool comment = first != std::string_view::npos && line[first] == '#';
            if (in_section) {
                if (comment) continue;
                // Four spaces or a tab (ldirectord counts a tab as four spaces).
                size_t width = 0;
                for (size_t i = 0; i < line.size() && (line[i] == ' ' || line[i] == '\t'); ++i)
                    width += line[i] == '\t' ? 4 : 1;
                if (width >= 4 && first != std::string_view::npos) {
                    Setting s = setting(line, number, first);
                    if (s.key.text == "real" || s.key.text == "real6")
                        sections.back().reals.push_back(s);
                    else
                        sections.back().settings.push_back(s);
                    continue;
                }
                in_section = false;
            }
            if (first == std::string_view::npos || comment) continue;
            if (first != 0)
                fail({std::string(line.substr(first)), number, static_cast<int>(first) + 1},
                     "an indented line outside a virtual= section (a section ends at the first line that is not "
                     "indented, a blank one too)");
            Setting s = setting(line, number, 0);
            if (s.key.text == "virtual" || s.key.text == "virtual6") {
                sections.push_back({s, {}, {}});
                in_section = true;
            } else {
                globals[s.key.text] = s;
                global_order.push_back(s);
            }
        }
    }

private:
    std::string file_;

    Setting setting(std::string_view line, int number, size_t first)
    {
        // ldirectord drops everything from a '#' in a section's lines; so it is here everywhere.
        const size_t hash = line.find('#');
        if (hash != std::string_view::npos) line = line.substr(0, hash);
        const size_t eq = line.find('=', first);
        std::string_view key = line.substr(first, eq == std::string_view::npos ? std::string_view::npos : eq - first);
        while (!key.empty() && (key.back() == ' ' || key.back() == '\t')) key.remove_suffix(1);
        Setting s;
        s.key = {std::string(key), number, static_cast<int>(first) + 1};
        if (eq == std::string_view::npos) {
            if (key == "supervised") return s;
            fail(s.key, fmt::format("expected KEY=VALUE, found {}", quote(line.substr(first))));
        }
        size_t v = line.find_first_not_of(" \t", eq + 1);
        if (v == std::string_view::npos) v = line.size();
        std::string_view value = line.substr(v);
        while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
        s.value = {std::string(value), number, static_cast<int>(v) + 1};
        return s;
    }
};

std::string unquoted(const std::string& text)
{
    if (text.size() >= 2 && text.front() == '"' && text.back() == '"') return text.substr(1, text.size() - 2);
    return text;
}

Value at_offset(const Value& v, size_t offset, std::string text)
{
    return {std::move(text), v.line, v.column + static_cast<int>(offset)};
}

struct Translator {
    Reader& r;
    ImportedFile out;

    uint64_t positive(const Setting& s)
    {
        auto v = parse_decimal(s.value.text);
        if (!v || *v == 0) r.fail(s.value, fmt::format("{}: expected a whole number above 0, found {}", s.key.text, quote(s.value.text)));
        return *v;
    }
    bool yes_no(const Setting& s)
    {
        if (s.value.text != "yes" && s.value.text != "no")
            r.fail(s.value, fmt::format("{}: expected yes or no, found {}", s.key.text, quote(s.value.text)));
        return s.value.text == "yes";
    }
    uint16_t port_of(const Value& v)
    {
        if (auto n = parse_number<uint16_t>(v.text, 1, 65535)) return *n;
        auto it = service_ports().find(v.text);
        if (it == service_ports().end())
            r.fail(v, fmt::format("expected a port from 1 to 65535 or a service name (like http), found {}", quote(v.text)));
        return it->second;
    }
    std::string where(const Value& v) const { return fmt::format("{}:{}", out.source, v.line); }

    // The setting of a section, else the global one.
    const Setting* setting(const Section& section, std::string_view key) const
    {
        if (const Setting* s = section.find(key)) return s;
        auto it = r.globals.find(std::string(key));
        return it == r.globals.end() ? nullptr : &it->second;
    }

    void globals()
    {
        static const std::set<std::string_view> own{"autoreload", "callback",   "logfile",        "execute",
                                                    "fork",       "supervised", "emailalert",     "emailalertfreq",
                                                    "emailalertstatus", "emailalertfrom", "cleanstop", "smtp",
                                                    "maintenancedir", "readdquiescent", "fallbackcommand"};
        static const std::set<std::string_view> used{"checktimeout", "negotiatetimeout", "checkinterval",
                                                     "checkcount", "failurecount", "quiescent", "fallback",
                                                     "fallback6"};
        for (const Setting& s : r.global_order) {
            if (used.count(s.key.text)) {
                if (s.key.text == "quiescent") yes_no(s);
                else if (s.key.text != "fallback" && s.key.text != "fallback6") positive(s);
                if (s.key.text == "checkcount")
                    out.notes.push_back(fmt::format("{}: checkcount not carried over: it repeats ping checks, which "
                                                    "Fulcrum does not make",
                                                    where(s.key)));
            } else if (own.count(s.key.text)) {
                if (s.key.text == "fork") yes_no(s);
                out.notes.push_back(fmt::format("{}: {} not carried over: ldirectord's own operation (Fulcrum logs "
                                                "every change and reloads on SIGHUP)",
                                                where(s.key), s.key.text));
            } else {
                r.fail(s.key, fmt::format("unknown global setting {}", quote(s.key.text)));
            }
        }
    }

    void section(const Section& sec)
    {
        ImportedService service;
        const Setting& v = sec.virtual_line;
        service.origin = fmt::format("{}: {}={}", where(v.key), v.key.text, v.value.text);
        const std::string& text = v.value.text;
        auto comment_only = [&](std::string why) {
            service.notes.insert(service.notes.begin(), std::move(why));
            out.services.push_back(std::move(service));
        };
        // virtual6= holds IPv6 services, each with real6= servers and a fallback6=; ldirectord
        // refuses the other family's address or keyword anywhere in it, and so does this.
        const bool six = v.key.text == "virtual6";
        std::optional<IpAddress> vip;
        uint16_t vport = 0;
        if (!text.empty() && text.front() == '[') {
            const size_t close = text.find(']');
            if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':')
                r.fail(v.value, fmt::format("expected [IPV6]:PORT, found {}", quote(text)));
            if (!six) r.fail(v.value, "virtual= takes an IPv4 address; an IPv6 one takes virtual6=, as ldirectord says");
            vip = parse_ip(text.substr(1, close - 1));
            if (!vip || !vip->is_ipv6())
                r.fail(v.value, fmt::format("expected an IPv6 address in brackets, found {}", quote(text.substr(0, close + 1))));
            vport = port_of(at_offset(v.value, close + 2, text.substr(close + 2)));
        } else {
            const size_t colon = text.rfind(':');
            if (colon == std::string::npos) {
                if (parse_decimal(text)) return comment_only("not carried over: Fulcrum has no firewall-mark services");
                r.fail(v.value, fmt::format("expected IP:PORT or a firewall mark, found {}", quote(text)));
            }
            const std::string host = text.substr(0, colon);
            vport = port_of(at_offset(v.value, colon + 1, text.substr(colon + 1)));
            const bool dotted = !host.empty() && host.find_first_not_of("0123456789.") == std::string::npos;
            if (auto v4 = parse_ipv4(host)) vip = IpAddress(*v4);
            if (dotted && !vip) r.fail(v.value, fmt::format("expected an IPv4 address, found {}", quote(host)));
            if (six && (vip || parse_ip(host)))
                r.fail(v.value, "virtual6= takes an IPv6 address in brackets ([2001:db8::10]:80), as ldirectord says");
            if (!vip) return comment_only("not carried over: the importer resolves no host names; write the address");
        }

        ServiceConfig& svc = service.config.emplace();
        svc.vip = *vip;
        svc.persistence_netmask = full_length(vip->family());
        svc.port = vport;
        svc.protocol = vport == 53 ? Protocol::udp : Protocol::tcp;
        svc.scheduler = "wrr";
        std::string service_name = service_of_port(vport);
        std::string checktype = "negotiate";
        HttpCheckConfig http;
        http.expect_status = {StatusRange{200, 299}};  // LWP's is_success
        std::optional<uint16_t> checkport;
        std::optional<uint64_t> persistent;
        const Setting* netmask = nullptr;
        bool fork = false;
        if (auto it = r.globals.find("fork"); it != r.globals.end()) fork = it->second.value.text == "yes";

        for (const Setting& s : sec.settings) {
            const std::string& k = s.key.text;
            const std::string at = where(s.key);
            if (k == "scheduler") {
                if (sched::kind_from_name(s.value.text))
                    svc.scheduler = s.value.text;
                else
                    service.note(fmt::format("{}: scheduler {} is not one Fulcrum has (nor ipvsadm): wrr, "
                                             "ldirectord's default, here",
                                             at, quote(s.value.text)));
            } else if (k == "protocol") {
                if (s.value.text == "tcp") svc.protocol = Protocol::tcp;
                else if (s.value.text == "udp") svc.protocol = Protocol::udp;
                else r.fail(s.value, fmt::format("protocol: expected tcp or udp for an IP:PORT virtual, found {}", quote(s.value.text)));
            } else if (k == "persistent") {
                auto n = parse_decimal(s.value.text);
                if (!n) r.fail(s.value, fmt::format("persistent: expected a number of seconds, found {}", quote(s.value.text)));
                persistent = *n;
            } else if (k == "netmask") {
                netmask = &s;
            } else if (k == "schedflags") {
                for (size_t start = 0; start <= s.value.text.size();) {
                    size_t end = s.value.text.find(',', start);
                    if (end == std::string::npos) end = s.value.text.size();
                    std::string flag = s.value.text.substr(start, end - start);
                    if (flag == "flag-1") flag = svc.scheduler + "-fallback";
                    if (flag == "flag-2") flag = svc.scheduler + "-port";
                    if (!sched::set_flag(svc.scheduler_flags, flag))
                        service.note(fmt::format("{}: schedflags {} not carried over: no such flag here", at, flag));
                    start = end + 1;
                }
            } else if (k == "ops") {
                if (yes_no(s)) service.note(fmt::format("{}: ops not carried over: Fulcrum has no one-packet scheduling", at));
            } else if (k == "checktype") {
                static const std::set<std::string_view> types{"connect", "negotiate", "ping", "off", "on", "external",
                                                              "external-perl"};
                if (!types.count(s.value.text) && !parse_decimal(s.value.text))
                    r.fail(s.value, fmt::format("checktype: expected connect, negotiate, ping, on, off, external, "
                                                "external-perl or a number, found {}",
                                                quote(s.value.text)));
                checktype = s.value.text;
            } else if (k == "service") {
                static const std::set<std::string_view> names{"dns", "ftp", "http", "https", "http_proxy", "imap",
                                                              "imaps", "ldap", "ldaps", "nntp", "mysql", "none",
                                                              "oracle", "pop", "pops", "radius", "pgsql", "sip",
                                                              "smtp", "submission", "simpletcp"};
                if (!names.count(s.value.text)) r.fail(s.value, fmt::format("service: unknown service {}", quote(s.value.text)));
                service_name = s.value.text;
            } else if (k == "request") {
                std::string request = unquoted(s.value.text);
                http.path = !request.empty() && request.front() == '/' ? request : "/" + request;
            } else if (k == "receive") {
                http.expect_body = unquoted(s.value.text);
            } else if (k == "virtualhost") {
                http.host = unquoted(s.value.text);
            } else if (k == "httpmethod") {
                if (s.value.text == "HEAD" || s.value.text == "head")
                    service.note(fmt::format("{}: httpmethod HEAD: Fulcrum's check is a GET", at));
            } else if (k == "checkport") {
                checkport = port_of(s.value);
            } else if (k == "checkinterval") {
                positive(s);
                if (!fork)
                    service.note(fmt::format("{}: checkinterval of a virtual is ignored by ldirectord without "
                                             "fork=yes, so the global one here",
                                             at));
            } else if (k == "checktimeout" || k == "negotiatetimeout" || k == "failurecount" || k == "checkcount") {
                positive(s);
            } else if (k == "quiescent") {
                yes_no(s);
            } else if (k == "fallback" || k == "fallback6") {
                if ((k == "fallback6") != six)
                    r.fail(s.key, fmt::format("{} in a {}= section: ldirectord takes {} there", k, v.key.text,
                                              six ? "fallback6" : "fallback"));
                // Read with the global one below.
            } else if (k == "servicename" || k == "comment") {
                service.note(fmt::format("{}: {}", k, s.value.text));
            } else if (k == "login" || k == "passwd" || k == "database" || k == "secret" || k == "load" ||
                       k == "emailalert" || k == "emailalertfreq" || k == "emailalertstatus" || k == "monitorfile" ||
                       k == "cleanstop" || k == "smtp" || k == "fallbackcommand" || k == "checkcommand") {
                service.note(fmt::format("{}: {} not carried over: Fulcrum has no such setting", at, k));
            } else {
                r.fail(s.key, fmt::format("unknown setting {} in a virtual section", quote(k)));
            }
        }

        if (persistent) {
            svc.persistence = static_cast<uint32_t>(std::min<uint64_t>(*persistent, limits::max_persistence_seconds));
            if (*persistent > limits::max_persistence_seconds)
                service.note(fmt::format("persistent {} is above Fulcrum's {}: {} here", *persistent,
                                         limits::max_persistence_seconds, svc.persistence));
        }
        if (netmask && six) {
            // ldirectord passes a virtual6's netmask to ipvsadm -M as a prefix length.
            auto length = parse_number<uint8_t>(netmask->value.text, 1, 128);
            if (!length)
                r.fail(netmask->value, fmt::format("netmask: expected a prefix length from 1 to 128 for a virtual6, found {}",
                                                   quote(netmask->value.text)));
            if (!persistent)
                service.note(fmt::format("{}: netmask not carried over: ldirectord uses it only with persistent",
                                         where(netmask->key)));
            else
                svc.persistence_netmask = *length;
        } else if (netmask) {
            auto m = parse_ipv4(netmask->value.text);
            if (!m) r.fail(netmask->value, fmt::format("netmask: expected a dotted netmask, found {}", quote(netmask->value.text)));
            const uint32_t inverted = ~*m;
            if (!persistent)
                service.note(fmt::format("{}: netmask not carried over: ldirectord uses it only with persistent",
                                         where(netmask->key)));
            else if ((inverted & (inverted + 1)) != 0)
                service.note(fmt::format("{}: netmask {} is not contiguous, which Fulcrum needs: 32 here",
                                         where(netmask->key), netmask->value.text));
            else
                svc.persistence_netmask = static_cast<uint8_t>(32 - std::popcount(inverted));
        }

        // The check every real server gets, ldirectord's way.
        HealthCheckConfig check;
        const bool udp = svc.protocol == Protocol::udp;
        bool negotiate = checktype == "negotiate" || parse_decimal(checktype).has_value();
        if (parse_decimal(checktype))
            service.note(fmt::format("checktype={}: connect checks with a negotiate check after every {} of them "
                                     "in ldirectord; the negotiate check every time here",
                                     checktype, checktype));
        if (checktype == "on") {
            service.note("checktype=on: the real servers are never checked and always up, as here");
        } else if (checktype == "off") {
            service.note("checktype=off: ldirectord never adds the real servers nor the fallback; so none here");
        } else if (checktype == "ping" || (checktype == "connect" && udp)) {
            service.note("ping checks not carried over: Fulcrum's checks are TCP and HTTP; the real servers are not "
                         "checked");
        } else if (checktype == "external" || checktype == "external-perl") {
            service.note(fmt::format("checktype={} not carried over: Fulcrum runs no scripts; the real servers are not "
                                     "checked",
                                     checktype));
        } else if (checktype == "connect") {
            check.type = HealthCheckType::tcp;
        } else if (negotiate && service_name == "http") {
            check.type = HealthCheckType::http;
        } else if (negotiate && service_name == "none") {
            service.note("service=none: a negotiate check that passes always in ldirectord; the real servers are "
                         "not checked");
        } else if (negotiate && (service_name == "dns" || service_name == "radius" || service_name == "sip")) {
            service.note(fmt::format("service={} not carried over: Fulcrum's checks are TCP and HTTP; the real "
                                     "servers are not checked",
                                     service_name));
        } else {
            check.type = HealthCheckType::tcp;
            service.note(fmt::format("service={}: Fulcrum has no {} check; a TCP connect to the same port stands in "
                                     "(it catches a server that is down, not one that answers wrongly)",
                                     service_name, service_name));
        }
        // checktimeout and negotiatetimeout default to each other, then to the globals, then 5 and 30.
        auto seconds = [&](std::string_view key) -> std::optional<uint64_t> {
            if (const Setting* s = sec.find(key)) return parse_decimal(s->value.text);
            return std::nullopt;
        };
        auto global = [&](std::string_view key) -> std::optional<uint64_t> {
            auto it = r.globals.find(std::string(key));
            return it == r.globals.end() ? std::nullopt : parse_decimal(it->second.value.text);
        };
        const uint64_t connect_timeout = seconds("checktimeout").value_or(seconds("negotiatetimeout").value_or(
            global("checktimeout").value_or(global("negotiatetimeout").value_or(5))));
        const uint64_t negotiate_timeout = seconds("negotiatetimeout").value_or(seconds("checktimeout").value_or(
            global("negotiatetimeout").value_or(global("checktimeout").value_or(30))));
        const uint64_t interval = (fork ? seconds("checkinterval") : std::nullopt).value_or(global("checkinterval").value_or(10));
        check.interval_ms = check_ms_within_limits(interval * 1000, "checkinterval", service);
        check.timeout_ms = check_ms_within_limits((check.type == HealthCheckType::tcp && checktype == "connect"
                                                        ? connect_timeout
                                                        : negotiate_timeout) * 1000,
                                                   checktype == "connect" ? "checktimeout" : "negotiatetimeout", service);
        const Setting* failures = setting(sec, "failurecount");
        check.fall = count_within_limits(failures ? *parse_decimal(failures->value.text) : 1, "failurecount", service);
        check.rise = 1;
        const Setting* quiescent = setting(sec, "quiescent");
        check.on_failure = quiescent && quiescent->value.text == "yes" ? OnFailure::quiesce : OnFailure::remove;
        if (checkport) check.port = *checkport;
        if (check.type == HealthCheckType::http) check.http = checked_http(http, service);
        if (check.type != HealthCheckType::none) timeout_within_interval(check, service);

        for (const Setting& real : sec.reals) add_reals(real, service, check, http, service_name, checktype == "off");
        // The service's own method is the first real server's (ldirectord names one per real server),
        // or gate, ldirectord's default for a fallback, when there is none.
        svc.forward = service.real_servers.empty() ? ForwardMethod::dr : service.real_servers.front().config.forward;
        fallback(sec, service, six, checktype == "off");
        finish_service(service, "fallback");
        for (const ImportedService& earlier : out.services)
            if (earlier.config && earlier.config->key() == svc.key())
                r.fail(v.value, fmt::format("duplicate virtual service (first at {})", earlier.origin));
        out.services.push_back(std::move(service));
    }

    // The HTTP settings Fulcrum's checker takes, each refused one noted and left at its default.
    HttpCheckConfig checked_http(const HttpCheckConfig& wanted, ImportedService& service)
    {
        HttpCheckConfig http = wanted;
        HttpCheckConfig alone;
        alone.path = wanted.path;
        if (std::string p = http_check_problem(alone); !p.empty()) {
            service.note(fmt::format("request {} not carried over: {}; the check asks for /", quote(wanted.path), p));
            http.path = "/";
        }
        alone = {};
        alone.host = wanted.host;
        if (std::string p = http_check_problem(alone); !p.empty()) {
            service.note(fmt::format("virtualhost {} not carried over: {}", quote(wanted.host), p));
            http.host.clear();
        }
        alone = {};
        alone.expect_body = wanted.expect_body;
        if (std::string p = http_check_problem(alone); !p.empty()) {
            service.note(fmt::format("receive {} not carried over: {}", quote(wanted.expect_body), p));
            http.expect_body.clear();
        }
        return http;
    }

    // real=IP[->IP][:PORT] gate|masq|ipip [WEIGHT] ["REQUEST", "RECEIVE"] [l:LOW] [u:HIGH]
    void add_reals(const Setting& real, ImportedService& service, const HealthCheckConfig& check,
                   const HttpCheckConfig& http, const std::string& service_name, bool never_added)
    {
        const ServiceConfig& svc = *service.config;
        const std::string& text = real.value.text;
        const std::string at = where(real.key);
        const bool six = svc.vip.is_ipv6();
        if ((real.key.text == "real6") != six)
            r.fail(real.key, fmt::format("{} in a {}= section: ldirectord takes {} there", real.key.text,
                                         six ? "virtual6" : "virtual", six ? "real6" : "real"));
        size_t blank = text.find_first_of(" \t");
        const std::string target = text.substr(0, blank);
        // The rest: words, a quoted string being one.
        std::vector<Value> words;
        for (size_t i = blank; i != std::string::npos && i < text.size();) {
            i = text.find_first_not_of(" \t,", i);
            if (i == std::string::npos) break;
            size_t end = text[i] == '"' ? text.find('"', i + 1) : text.find_first_of(" \t,", i);
            if (text[i] == '"' && end == std::string::npos) r.fail(at_offset(real.value, i, ""), "unterminated quoted string");
            if (text[i] == '"') ++end;
            words.push_back(at_offset(real.value, i, text.substr(i, end == std::string::npos ? std::string::npos : end - i)));
            i = end;
        }
        // [IPV6][:PORT] for real6 (no range: ldirectord refuses one), IP[->IP][:PORT] for real.
        const size_t close = six && target.starts_with('[') ? target.find(']') : std::string::npos;
        const size_t colon = six ? (close == std::string::npos ? target.rfind(':') : target.find(':', close))
                                 : target.rfind(':');
        if (six && target.find("->") != std::string::npos)
            r.fail(real.value, "an IPv6 range, which ldirectord refuses (\"Address range for IPv6 is not supported yet\")");
        const size_t arrow = six ? std::string::npos : target.find("->");
        const std::string first_text = target.substr(0, std::min(arrow, colon));
        std::string last_text = arrow == std::string::npos ? first_text : target.substr(arrow + 2, colon == std::string::npos ? std::string::npos : colon - arrow - 2);
        uint16_t port = 0;
        if (colon != std::string::npos) port = port_of(at_offset(real.value, colon + 1, target.substr(colon + 1)));
        const bool dotted = first_text.find_first_not_of("0123456789.") == std::string::npos &&
                            last_text.find_first_not_of("0123456789.") == std::string::npos;
        std::optional<IpAddress> first;
        std::optional<IpAddress> last;
        if (six && close != std::string::npos) {
            first = last = parse_ip(target.substr(1, close - 1));
            if (!first || !first->is_ipv6() || (colon != std::string::npos && colon != close + 1) ||
                (colon == std::string::npos && close + 1 != target.size()))
                r.fail(real.value, fmt::format("expected an IPv6 address in brackets (like [2001:db8::11]:80), found {}", quote(target)));
        } else if (six) {
            if (dotted || parse_ip(target))
                r.fail(real.value, fmt::format("real6 takes an IPv6 address in brackets (like [2001:db8::11]:80), found {}", quote(target)));
        } else {
            if (auto v4 = parse_ipv4(first_text)) first = IpAddress(*v4);
            if (auto v4 = parse_ipv4(last_text)) last = IpAddress(*v4);
            if (dotted && (!first || !last))
                r.fail(real.value, fmt::format("expected an IPv4 address or range (like 10.0.0.2->10.0.0.7), found {}", quote(target)));
        }
        if (words.empty())
            r.fail(at_offset(real.value, target.size(), ""), "expected a forwarding method (gate, masq or ipip) after the real server");
        ForwardMethod method{};
        if (words[0].text == "gate") method = ForwardMethod::dr;
        else if (words[0].text == "masq") method = ForwardMethod::nat;
        else if (words[0].text == "ipip") method = ForwardMethod::tun;
        else r.fail(words[0], fmt::format("unknown forwarding method {} (expected gate, masq or ipip)", quote(words[0].text)));
        if (!first) {
            service.note(fmt::format("{}: {}={} not carried over: the importer resolves no host names", at,
                                     real.key.text, target));
            return;
        }
        if (*last < *first) r.fail(real.value, fmt::format("range {} ends before it starts", quote(target)));
        if (uint64_t{last->ipv4()} - first->ipv4() + 1 > max_real_range)
            r.fail(real.value, fmt::format("range {} holds more than {} addresses", quote(target), max_real_range));
        RealServerConfig rs;
        rs.forward = method;
        rs.health_check = check;
        size_t w = 1;
        if (w < words.size() && parse_decimal(words[w].text)) {
            auto weight = parse_number<uint32_t>(words[w].text, 0, limits::max_weight);
            if (!weight) r.fail(words[w], fmt::format("expected a weight from 0 to {}, found {}", limits::max_weight, quote(words[w].text)));
            rs.weight = *weight;
            ++w;
        }
        if (w + 1 < words.size() && words[w].text.front() == '"' && words[w + 1].text.front() == '"') {
            HttpCheckConfig own = http;
            const std::string request = unquoted(words[w].text);
            own.path = request.empty() || request.front() != '/' ? "/" + request : request;
            own.expect_body = unquoted(words[w + 1].text);
            if (rs.health_check.type == HealthCheckType::http) rs.health_check.http = checked_http(own, service);
            w += 2;
        }
        for (; w < words.size(); ++w) {
            const std::string& word = words[w].text;
            auto n = word.size() > 2 ? parse_number<uint32_t>(std::string_view(word).substr(2), 0, limits::max_threshold) : std::nullopt;
            if (word.rfind("l:", 0) == 0 && n) rs.lower_threshold = *n;
            else if (word.rfind("u:", 0) == 0 && n) rs.upper_threshold = *n;
            else r.fail(words[w], fmt::format("unexpected {} on a real= line (after the method: a weight, "
                                              "\"request\", \"receive\", l:LOW, u:HIGH)", quote(word)));
        }
        std::vector<std::string> notes;
        if (rs.upper_threshold != 0 && rs.lower_threshold >= rs.upper_threshold) {
            notes.push_back(fmt::format("l:{} is not below u:{}, which Fulcrum needs: dropped", rs.lower_threshold, rs.upper_threshold));
            rs.lower_threshold = 0;
        }
        // ldirectord checks a server given without a port on its service's port.
        if (port == 0 && rs.health_check.port == 0 && rs.health_check.type != HealthCheckType::none)
            if (auto it = service_ports().find(service_name); it != service_ports().end() && it->second != svc.port) {
                rs.health_check.port = it->second;
                notes.push_back(fmt::format("no port: ldirectord checks it on {}'s port {}", service_name, it->second));
            }
        rs.port = port == 0 ? svc.port : port;
        if (method != ForwardMethod::nat && rs.port != svc.port) {
            notes.push_back(fmt::format("port {}: ldirectord gives a {} real server the virtual port", rs.port, words[0].text));
            rs.port = svc.port;
        }
        if (svc.protocol == Protocol::udp && rs.health_check.type != HealthCheckType::none && rs.health_check.port == 0)
            rs.health_check.port = rs.port;
        if (never_added) {
            service.note(fmt::format("{}: {}={} not added (checktype=off)", at, real.key.text, text));
            return;
        }
        if (six) {
            rs.address = *first;
            service.real_servers.push_back({rs, notes});
            return;
        }
        for (uint64_t ip = first->ipv4(); ip <= last->ipv4(); ++ip) {
            rs.address = static_cast<Ipv4>(ip);
            service.real_servers.push_back({rs, notes});
        }
    }

    // fallback=HOST[:PORT] [gate|masq|ipip], fallback6=[IPV6][:PORT] [...] for a virtual6:
    // Fulcrum's sorry server, which it reaches by NAT.
    void fallback(const Section& sec, ImportedService& service, bool six, bool never_added)
    {
        const Setting* f = setting(sec, six ? "fallback6" : "fallback");
        if (!f || never_added) return;
        const std::string at = where(f->key);
        const std::string& text = f->value.text;
        const size_t blank = text.find_first_of(" \t");
        const std::string target = text.substr(0, blank);
        const std::string method = blank == std::string::npos ? "gate" : text.substr(text.find_first_not_of(" \t", blank));
        if (method != "gate" && method != "masq" && method != "ipip")
            r.fail(at_offset(f->value, blank + 1, method), fmt::format("unknown forwarding method {} (expected gate, masq or ipip)", quote(method)));
        const size_t close = target.starts_with('[') ? target.find(']') : std::string::npos;
        const size_t colon = close == std::string::npos ? target.rfind(':') : target.find(':', close);
        const std::string host = target.substr(0, colon);
        const uint16_t port = colon == std::string::npos ? 0 : port_of(at_offset(f->value, colon + 1, target.substr(colon + 1)));
        std::optional<IpAddress> ip;
        if (close != std::string::npos && (colon == close + 1 || close + 1 == target.size()))
            ip = parse_ip(host.substr(1, close - 1));
        else if (auto v4 = parse_ipv4(host))
            ip = IpAddress(*v4);
        const bool literal = host.find_first_not_of("0123456789.") == std::string::npos || host.starts_with('[') ||
                             parse_ip(host);
        if (six && (!ip || !ip->is_ipv6()) && literal)
            r.fail(f->value, fmt::format("expected an IPv6 address in brackets (like [2001:db8::99]:80), found {}", quote(host)));
        if (!six && (!ip || !ip->is_ipv4()) && literal)
            r.fail(f->value, fmt::format("expected an IPv4 address, found {}", quote(host)));
        if (!ip) {
            service.note(fmt::format("{}: {} {} not carried over: the importer resolves no host names", at, f->key.text, text));
            return;
        }
        if (six ? *ip == *parse_ip("::1") : (ip->ipv4() >> 24) == 127) {
            service.note(fmt::format("{}: {} {} not carried over: it is the director itself, and Fulcrum's sorry "
                                     "server is another host it forwards to",
                                     at, f->key.text, text));
            return;
        }
        if (method != "masq")
            service.note(fmt::format("{}: {} by {}: Fulcrum forwards to its sorry server by NAT, so its replies "
                                     "must come back through the director",
                                     at, f->key.text, method));
        service.config->sorry_server = SorryServerConfig{*ip, port};
    }
};

}  // namespace

ImportResult import_ldirectord(std::string_view text, const std::string& file_name)
{
    Reader reader(file_name);
    ImportResult result;
    try {
        reader.read(text);
        Translator t{reader, {}};
        t.out.kind = "ldirectord";
        t.out.source = file_name;
        t.globals();
        for (const Section& s : reader.sections) t.section(s);
        result.yaml = imported_yaml(t.out);
    } catch (const Failed&) {
        result.yaml.clear();
    }
    result.errors = reader.errors;
    return result;
}

}  // namespace fulcrum::control::migration
