// keepalived.conf to Fulcrum services. The grammar is keepalived's (keepalived.conf(5), lib/parser.c):
// words separated by blanks; '{' and '}' are words of their own wherever they stand outside
// quotes; a statement ends at the end of its line or at a brace; '#' and '!' start comments
// (outside quotes; "\#" is a '#'); "..." is one word; a '\' at the end of a line continues it.
// Defaults are keepalived's: lvs_sched wlc, lvs_method NAT, protocol TCP, delay_loop 60 s,
// connect_timeout 5 s, retry 1 (a server is down after retry + 1 failed checks, up after one good).
#include <glob.h>
#include <limits.h>
#include <stdlib.h>

#include <algorithm>
#include <bit>
#include <deque>
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

constexpr int max_include_depth = 16;
constexpr uint64_t max_group_range = 1024;  // addresses one virtual_server_group entry may expand to

struct Token {
    std::string text;
    const std::string* file = nullptr;
    int line = 0;
    int column = 0;
    bool quoted = false;
    bool starts_line = false;
    bool is(std::string_view brace) const { return !quoted && text == brace; }
};

struct Statement {
    Token keyword;
    std::vector<Token> args;
    std::optional<Token> open;  // the '{' of its block, if it has one
    std::vector<Statement> body;
};

struct Failed {};  // thrown once an error is recorded, to stop reading the file

class Context {
public:
    std::vector<ConfigError> errors;
    std::vector<std::string> notes;

    void error(const Token& at, std::string message)
    {
        errors.push_back({*at.file, at.line, at.column, std::move(message)});
    }
    [[noreturn]] void fail(const Token& at, std::string message)
    {
        error(at, std::move(message));
        throw Failed{};
    }
    const std::string* file_name(const std::string& name) { return &names_.emplace_back(name); }
    static std::string where(const Token& t) { return fmt::format("{}:{}", *t.file, t.line); }

private:
    std::deque<std::string> names_;  // stable addresses for Token::file
};

// ---- Words, comments, includes ---------------------------------------------------------------

class Lexer {
public:
    explicit Lexer(Context& context) : context_(context) {}

    void read(std::string_view text, const std::string& file, int depth)
    {
        const std::string* name = context_.file_name(file);
        open_files_.push_back(real_path(file));
        bool continued = false;
        int number = 0;
        for (size_t start = 0; start <= text.size();) {
            size_t end = text.find('\n', start);
            if (end == std::string_view::npos) end = text.size();
            const std::string_view line = text.substr(start, end - start);
            ++number;
            const size_t first = tokens.size();
            const bool starts = !continued;
            continued = read_line(line, name, number, starts);
            if (!continued && first < tokens.size() && tokens[first].starts_line && !tokens[first].quoted &&
                tokens[first].text.rfind("include", 0) == 0 && tokens[first].text.size() <= 8)
                include(first, depth);
            start = end + 1;
        }
        open_files_.pop_back();
    }

    std::vector<Token> tokens;

private:
    Context& context_;
    std::vector<std::string> open_files_;  // real paths being read, for include cycles

    static std::string real_path(const std::string& path)
    {
        char resolved[PATH_MAX];
        return realpath(path.c_str(), resolved) ? resolved : path;
    }

    // Returns whether the line continues on the next one.
    bool read_line(std::string_view line, const std::string* file, int number, bool starts)
    {
        auto token_at = [&](size_t i) {
            Token t;
            t.file = file;
            t.line = number;
            t.column = static_cast<int>(i) + 1;
            t.starts_line = starts;
            starts = false;
            return t;
        };
        size_t i = 0;
        while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
        if (starts && i < line.size() && (line[i] == '$' || line[i] == '@' || line[i] == '~')) {
            const std::string_view what = line[i] == '$' ? "parameter substitution ($NAME=...)"
                                          : line[i] == '@' ? "conditional configuration (@ID ...)"
                                                           : "sequence blocks (~SEQ)";
            context_.fail(token_at(i), fmt::format("keepalived's {} is not read by the importer: expand it first "
                                                   "(the file as keepalived sees it, for this director)",
                                                   what));
        }
        while (i < line.size()) {
            const char c = line[i];
            if (c == ' ' || c == '\t' || c == '\r') {
                ++i;
            } else if (c == '#' || c == '!') {
                return false;
            } else if (c == '\\' && line.find_first_not_of(" \t\r", i + 1) == std::string_view::npos) {
                return true;
            } else if (c == '{' || c == '}') {
                Token t = token_at(i++);
                t.text = std::string(1, c);
                tokens.push_back(std::move(t));
            } else if (c == '"') {
                Token t = token_at(i);
                const size_t close = line.find('"', i + 1);
                if (close == std::string_view::npos) context_.fail(t, "unterminated quoted string (no closing \")");
                t.text = std::string(line.substr(i + 1, close - i - 1));
                t.quoted = true;
                tokens.push_back(std::move(t));
                i = close + 1;
            } else {
                Token t = token_at(i);
                while (i < line.size() && std::string_view(" \t\r\"{}#!").find(line[i]) == std::string_view::npos) {
                    if (line[i] == '\\' && i + 1 < line.size() && (line[i + 1] == '#' || line[i + 1] == '!')) ++i;
                    t.text += line[i++];
                }
                tokens.push_back(std::move(t));
            }
        }
        return false;
    }

    // include FILE (and includer, includem ...): the files its pattern matches, in name order,
    // read where the directive stood. A pattern that matches nothing is skipped, as keepalived's
    // plain include does.
    void include(size_t first, int depth)
    {
        std::vector<Token> line(tokens.begin() + static_cast<long>(first), tokens.end());
        tokens.resize(first);
        const Token& keyword = line.front();
        if (line.size() < 2) context_.fail(keyword, fmt::format("expected a file name after {}", keyword.text));
        if (depth >= max_include_depth)
            context_.fail(keyword, fmt::format("includes nested more than {} deep", max_include_depth));
        std::string pattern = line[1].text;
        const std::string& from = *keyword.file;
        if (!pattern.empty() && pattern.front() != '/' && from.find('/') != std::string::npos)
            pattern = from.substr(0, from.rfind('/') + 1) + pattern;
        glob_t found{};
        const int status = glob(pattern.c_str(), GLOB_BRACE | GLOB_TILDE, nullptr, &found);
        std::vector<std::string> paths;
        if (status == 0)
            for (size_t k = 0; k < found.gl_pathc; ++k) paths.emplace_back(found.gl_pathv[k]);
        globfree(&found);
        if (paths.empty())
            context_.notes.push_back(fmt::format("{}: {} {} matched no file; keepalived goes on without it, as here",
                                                 Context::where(keyword), keyword.text, quote(line[1].text)));
        for (const std::string& path : paths) {
            if (std::find(open_files_.begin(), open_files_.end(), real_path(path)) != open_files_.end())
                context_.fail(line[1], fmt::format("{} is being read already: includes that loop", path));
            std::vector<ConfigError> unreadable;
            auto text = read_text_file(path, unreadable);
            if (!text) context_.fail(line[1], unreadable.front().message + " (" + path + ")");
            read(*text, path, depth + 1);
        }
    }
};

// ---- Statements and blocks -------------------------------------------------------------------

class Parser {
public:
    Parser(Context& context, const std::vector<Token>& tokens) : context_(context), tokens_(tokens) {}

    std::vector<Statement> parse()
    {
        std::vector<Statement> top = block(nullptr);
        return top;
    }

private:
    Context& context_;
    const std::vector<Token>& tokens_;
    size_t at_ = 0;

    std::vector<Statement> block(const Token* open)
    {
        std::vector<Statement> statements;
        while (at_ < tokens_.size()) {
            const Token& t = tokens_[at_++];
            if (t.is("}")) {
                if (open == nullptr) context_.fail(t, "unbalanced braces: '}' closes no block");
                return statements;
            }
            if (t.is("{")) context_.fail(t, "unbalanced braces: '{' opens a block with no keyword before it");
            Statement s;
            s.keyword = t;
            while (at_ < tokens_.size() && !tokens_[at_].starts_line && !tokens_[at_].is("{") && !tokens_[at_].is("}"))
                s.args.push_back(tokens_[at_++]);
            // A block's '{' may stand on the keyword's line or on the next.
            if (at_ < tokens_.size() && tokens_[at_].is("{")) {
                s.open = tokens_[at_++];
                s.body = block(&*s.open);
            }
            statements.push_back(std::move(s));
        }
        if (open != nullptr) context_.fail(*open, "unbalanced braces: this '{' is never closed");
        return statements;
    }
};

// ---- Values ----------------------------------------------------------------------------------

// An IPv4 or IPv6 address; anything else is an error.
IpAddress address(Context& c, const Token& t)
{
    if (auto ip = parse_ip(t.text)) return *ip;
    c.fail(t, fmt::format("expected an IP address, found {}", quote(t.text)));
}

uint16_t port(Context& c, const Token& t, bool zero_allowed)
{
    auto v = parse_number<uint16_t>(t.text, zero_allowed ? 0 : 1, 65535);
    if (!v) c.fail(t, fmt::format("expected a port from {} to 65535, found {}", zero_allowed ? 0 : 1, quote(t.text)));
    return *v;
}

const Token& argument(Context& c, const Statement& s, size_t i, std::string_view what)
{
    if (i >= s.args.size()) {
        const Token& after = s.args.empty() ? s.keyword : s.args.back();
        Token at = after;
        at.column += static_cast<int>(after.text.size()) + (after.quoted ? 2 : 0);
        c.fail(at, fmt::format("expected {} after {}", what, s.keyword.text));
    }
    return s.args[i];
}

uint64_t number(Context& c, const Statement& s, size_t i, uint64_t max = UINT32_MAX)
{
    const Token& t = argument(c, s, i, "a number");
    auto v = parse_decimal(t.text);
    if (!v || *v > max) c.fail(t, fmt::format("{}: expected a whole number from 0 to {}, found {}", s.keyword.text, max, quote(t.text)));
    return *v;
}

uint64_t timer(Context& c, const Statement& s)
{
    const Token& t = argument(c, s, 0, "a number of seconds");
    auto v = parse_seconds(t.text);
    if (!v) c.fail(t, fmt::format("{}: expected a number of seconds (like 3 or 2.5), found {}", s.keyword.text, quote(t.text)));
    return *v;
}

// <BOOL> (on|off|true|false|yes|no); a keyword given alone means true.
bool boolean(Context& c, const Statement& s)
{
    if (s.args.empty()) return true;
    const std::string& v = s.args[0].text;
    if (v == "on" || v == "true" || v == "yes") return true;
    if (v == "off" || v == "false" || v == "no") return false;
    c.fail(s.args[0], fmt::format("{}: expected on, off, true, false, yes or no, found {}", s.keyword.text, quote(v)));
}

ForwardMethod method(Context& c, ImportedService& notes, const Statement& s)
{
    const Token& t = argument(c, s, 0, "NAT, DR or TUN");
    ForwardMethod m{};
    if (t.text == "NAT")
        m = ForwardMethod::nat;
    else if (t.text == "DR")
        m = ForwardMethod::dr;
    else if (t.text == "TUN")
        m = ForwardMethod::tun;
    else
        c.fail(t, fmt::format("{}: unknown forwarding method {} (expected NAT, DR or TUN)", s.keyword.text, quote(t.text)));
    for (size_t i = 1; i + 1 < s.args.size(); ++i)
        if (s.args[i].text == "type" && s.args[i + 1].text != "ipip")
            notes.note(fmt::format("{}: TUN type {}: Fulcrum tunnels with IPIP only; its real servers must "
                                   "decapsulate IPIP",
                                   Context::where(s.keyword), s.args[i + 1].text));
    return m;
}

std::string statement_text(const Statement& s)
{
    std::string text = s.keyword.text;
    for (const Token& a : s.args) text += " " + (a.quoted ? "\"" + a.text + "\"" : a.text);
    return text;
}

// A keyword that takes no block may not have one (keepalived would read that block as something
// else); words past those it takes are ignored, as keepalived ignores them, and said so.
void plain_statement(Context& c, const Statement& s, ImportedService& notes)
{
    static const std::map<std::string_view, size_t> words{
        {"delay_loop", 1},  {"connect_timeout", 1}, {"retry", 1},       {"nb_get_retry", 1}, {"delay_before_retry", 1},
        {"warmup", 1},      {"alpha", 1},           {"inhibit_on_failure", 1}, {"virtualhost", 1}, {"lb_algo", 1},
        {"lvs_sched", 1},   {"persistence_timeout", 1}, {"persistence_granularity", 1}, {"protocol", 1},
        {"sorry_server", 2}, {"weight", 1},         {"uthreshold", 1},  {"lthreshold", 1},   {"connect_port", 1},
        {"connect_ip", 1},  {"path", 1},            {"digest", 1},      {"regex", 1},        {"sh-port", 0},
        {"sh-fallback", 0}, {"mh-port", 0},         {"mh-fallback", 0}, {"ops", 0},          {"ha_suspend", 0}};
    if (s.open) c.fail(*s.open, fmt::format("{} takes no block: a statement ends at the end of its line or at a brace", s.keyword.text));
    auto it = words.find(s.keyword.text);
    if (it != words.end() && s.args.size() > it->second)
        notes.note(fmt::format("{}: {}: the words after {} are ignored, as keepalived ignores them (a statement ends "
                               "at the end of its line or at a brace)",
                               Context::where(s.keyword), statement_text(s),
                               it->second == 0 ? s.keyword.text : s.args[it->second - 1].text));
}

// ---- Checks ----------------------------------------------------------------------------------

// What a virtual server, a real server and a checker may each set, the inner over the outer.
struct CheckSettings {
    std::optional<uint64_t> delay_loop_ms;
    std::optional<uint64_t> connect_timeout_ms;
    std::optional<uint64_t> retry;
    std::optional<uint64_t> delay_before_retry_ms;
    std::optional<bool> inhibit_on_failure;
    std::optional<std::string> virtualhost;
};

// Returns whether `s` was one of the settings every level has.
bool check_setting(Context& c, const Statement& s, CheckSettings& settings, ImportedService& notes)
{
    const std::string& k = s.keyword.text;
    static const std::set<std::string_view> names{"delay_loop", "connect_timeout", "retry", "nb_get_retry",
                                                  "delay_before_retry", "inhibit_on_failure", "virtualhost",
                                                  "warmup", "alpha"};
    if (names.count(k) == 0) return false;
    plain_statement(c, s, notes);
    if (k == "delay_loop")
        settings.delay_loop_ms = timer(c, s);
    else if (k == "connect_timeout")
        settings.connect_timeout_ms = timer(c, s);
    else if (k == "retry" || k == "nb_get_retry")
        settings.retry = number(c, s, 0);
    else if (k == "delay_before_retry")
        settings.delay_before_retry_ms = timer(c, s);
    else if (k == "inhibit_on_failure")
        settings.inhibit_on_failure = boolean(c, s);
    else if (k == "virtualhost")
        settings.virtualhost = argument(c, s, 0, "a host name").text;
    else if (k == "warmup")
        notes.note(fmt::format("{}: warmup: Fulcrum starts every check at once", Context::where(s.keyword)));
    else if (k == "alpha") {
        if (boolean(c, s))
            notes.note(fmt::format("{}: alpha: Fulcrum starts real servers up, not down until checked",
                                   Context::where(s.keyword)));
    } else
        return false;
    return true;
}

CheckSettings over(const CheckSettings& outer, const CheckSettings& inner)
{
    CheckSettings r = outer;
    if (inner.delay_loop_ms) r.delay_loop_ms = inner.delay_loop_ms;
    if (inner.connect_timeout_ms) r.connect_timeout_ms = inner.connect_timeout_ms;
    if (inner.retry) r.retry = inner.retry;
    if (inner.delay_before_retry_ms) r.delay_before_retry_ms = inner.delay_before_retry_ms;
    if (inner.inhibit_on_failure) r.inhibit_on_failure = inner.inhibit_on_failure;
    if (inner.virtualhost) r.virtualhost = inner.virtualhost;
    return r;
}

std::optional<std::vector<StatusRange>> status_codes(const Statement& s)
{
    std::vector<StatusRange> ranges;
    for (const Token& t : s.args) {
        const size_t dash = t.text.find('-');
        auto low = parse_number<uint16_t>(std::string_view(t.text).substr(0, dash), 100, 599);
        auto high = dash == std::string::npos ? low : parse_number<uint16_t>(std::string_view(t.text).substr(dash + 1), 100, 599);
        if (!low || !high || *low > *high) return std::nullopt;
        ranges.push_back({*low, *high});
    }
    if (ranges.empty()) return std::nullopt;
    return ranges;
}

void translate_url(Context& c, const Statement& url, HealthCheckConfig& check, ImportedService& notes)
{
    for (const Statement& s : url.body) {
        const std::string& k = s.keyword.text;
        const std::string where = Context::where(s.keyword);
        plain_statement(c, s, notes);
        if (k == "path") {
            HttpCheckConfig http;
            http.path = argument(c, s, 0, "a path").text;
            if (std::string problem = http_check_problem(http); !problem.empty())
                notes.note(fmt::format("{}: path {} not carried over: {}; the check asks for /", where,
                                       quote(http.path), problem));
            else
                check.http.path = http.path;
        } else if (k == "status_code") {
            auto ranges = status_codes(s);
            if (!ranges) c.fail(s.args.empty() ? s.keyword : s.args[0], "status_code: expected HTTP statuses (100 to 599) or ranges like 200-299");
            check.http.expect_status = *ranges;
        } else if (k == "digest") {
            notes.note(fmt::format("{}: digest: Fulcrum does not compare a page's MD5 digest; the status is checked",
                                   where));
        } else if (k == "virtualhost") {
            check.http.host = argument(c, s, 0, "a host name").text;
        } else if (k == "regex") {
            HttpCheckConfig http;
            http.expect_body = argument(c, s, 0, "a regular expression").text;
            if (std::string problem = http_check_problem(http); !problem.empty())
                notes.note(fmt::format("{}: regex {} not carried over: {}", where, quote(http.expect_body), problem));
            else
                check.http.expect_body = http.expect_body;
        } else if (k == "regex_no_match") {
            notes.note(fmt::format("{}: regex_no_match: Fulcrum's expect_body must match; the regex is dropped", where));
            check.http.expect_body.clear();
        } else {
            notes.note(fmt::format("{}: {} not carried over: Fulcrum's HTTP check has no such setting", where, k));
        }
    }
}

bool is_checker(std::string_view k)
{
    static const std::set<std::string_view> names{"HTTP_GET",   "SSL_GET",    "TCP_CHECK",  "SMTP_CHECK", "DNS_CHECK",
                                                  "MISC_CHECK", "BFD_CHECK", "UDP_CHECK", "PING_CHECK", "FILE_CHECK"};
    return names.count(k) > 0;
}

// One checker as Fulcrum's check, or nullopt (with a note) for one Fulcrum cannot make.
std::optional<HealthCheckConfig> translate_checker(Context& c, const Statement& checker, const CheckSettings& outer,
                                                   const IpAddress& rs_address, ImportedService& notes)
{
    const std::string& kind = checker.keyword.text;
    const std::string where = Context::where(checker.keyword);
    HealthCheckConfig check;
    if (kind == "TCP_CHECK") {
        check.type = HealthCheckType::tcp;
    } else if (kind == "HTTP_GET") {
        check.type = HealthCheckType::http;
        check.http.expect_status = {StatusRange{200, 299}};
    } else if (kind == "SSL_GET" || kind == "SMTP_CHECK") {
        // A TCP connect fails whenever these would, so it never keeps a server keepalived would take out.
        check.type = HealthCheckType::tcp;
        notes.note(fmt::format("{}: {}: Fulcrum has no {} check; a TCP connect to the same port stands in (it "
                               "catches a server that is down, not one that answers wrongly)",
                               where, kind, kind == "SSL_GET" ? "TLS" : "SMTP"));
    } else {
        const std::string_view why = kind == "MISC_CHECK"   ? "Fulcrum runs no scripts"
                                     : kind == "DNS_CHECK"  ? "Fulcrum's checks are TCP and HTTP"
                                     : kind == "UDP_CHECK"  ? "Fulcrum's checks are TCP and HTTP"
                                     : kind == "PING_CHECK" ? "Fulcrum's checks are TCP and HTTP"
                                     : kind == "BFD_CHECK"  ? "Fulcrum speaks no BFD"
                                                            : "Fulcrum watches no files";
        notes.note(fmt::format("{}: {} not carried over: {}", where, kind, why));
        return std::nullopt;
    }
    CheckSettings own;
    std::vector<const Statement*> urls;
    for (const Statement& s : checker.body) {
        const std::string& k = s.keyword.text;
        const std::string at = Context::where(s.keyword);
        if (check_setting(c, s, own, notes)) continue;
        if (k != "url") plain_statement(c, s, notes);
        if (k == "connect_port") {
            check.port = port(c, argument(c, s, 0, "a port"), false);
        } else if (k == "connect_ip") {
            if (address(c, argument(c, s, 0, "an address")) != rs_address)
                notes.note(fmt::format("{}: connect_ip {}: Fulcrum checks the real server's own address", at,
                                       s.args[0].text));
        } else if (k == "url" && kind == "HTTP_GET") {
            urls.push_back(&s);
        } else if (k == "url" || k == "http_protocol" || k == "fast_recovery" || k == "enable_sni" ||
                   k == "sni_name" || k == "tls_compliant" || k == "helo_name") {
            // SSL_GET's and SMTP_CHECK's own settings: the TCP connect standing in has none.
        } else {
            notes.note(fmt::format("{}: {} not carried over: Fulcrum's checks have no such setting", at, k));
        }
    }
    const CheckSettings settings = over(outer, own);
    if (!urls.empty()) {
        translate_url(c, *urls.front(), check, notes);
        if (urls.size() > 1)
            notes.note(fmt::format("{}: HTTP_GET has {} urls; Fulcrum checks one, the first ({})", where, urls.size(),
                                   check.http.path));
    }
    if (check.type == HealthCheckType::http && check.http.host.empty() && settings.virtualhost) {
        HttpCheckConfig http;
        http.host = *settings.virtualhost;
        if (std::string problem = http_check_problem(http); !problem.empty())
            notes.note(fmt::format("{}: virtualhost {} not carried over: {}", where, quote(http.host), problem));
        else
            check.http.host = http.host;
    }
    check.interval_ms = check_ms_within_limits(settings.delay_loop_ms.value_or(60000), "delay_loop", notes);
    check.timeout_ms = check_ms_within_limits(settings.connect_timeout_ms.value_or(5000), "connect_timeout", notes);
    // keepalived retries `retry` times after a failure before it takes the server out.
    check.fall = count_within_limits(settings.retry.value_or(1) + 1, "retry + 1 (failed checks before down)", notes);
    check.rise = 1;
    check.on_failure = settings.inhibit_on_failure.value_or(false) ? OnFailure::quiesce : OnFailure::remove;
    if (check.fall > 1 && settings.delay_before_retry_ms)
        notes.note(fmt::format("delay_before_retry {} s: Fulcrum checks again after the interval, not sooner",
                               seconds_text(static_cast<uint32_t>(*settings.delay_before_retry_ms))));
    timeout_within_interval(check, notes);
    return check;
}

// ---- Virtual servers -------------------------------------------------------------------------

struct Endpoint {
    Token at;
    IpAddress vip;
    uint16_t port = 0;
    std::string origin;   // what the comment above the service says
    std::string problem;  // why it cannot be a Fulcrum service, or ""
};

struct Group {
    Token at;
    std::vector<Endpoint> endpoints;
};

std::vector<Endpoint> group_entries(Context& c, const Statement& group)
{
    std::vector<Endpoint> out;
    const std::string name = group.args.empty() ? "" : group.args[0].text;
    for (const Statement& e : group.body) {
        const std::string origin =
            fmt::format("{} (virtual_server_group {}, line {})", statement_text(e), name, e.keyword.line);
        if (e.keyword.text == "fwmark") {
            out.push_back({e.keyword, {}, 0, origin, "not carried over: Fulcrum has no firewall-mark services"});
            continue;
        }
        const uint16_t p = e.args.empty() ? 0 : port(c, e.args[0], true);
        const std::string& text = e.keyword.text;
        const size_t dash = text.find('-');
        const size_t slash = text.find('/');
        std::string first_text = text.substr(0, std::min(dash, slash));
        if (auto v6 = parse_ip(first_text); v6 && v6->is_ipv6()) {
            if (dash == std::string::npos && slash == std::string::npos)
                out.push_back({e.keyword, *v6, p, origin, ""});
            else
                out.push_back({e.keyword, {}, p, origin,
                               "not carried over: the importer expands IPv4 ranges and networks only (write the "
                               "IPv6 addresses out)"});
            continue;
        }
        auto first = parse_ipv4(first_text);
        if (!first) c.fail(e.keyword, fmt::format("expected an address or range (like 10.0.0.1-10 or 10.0.0.0/29), found {}", quote(text)));
        uint32_t last = *first;
        if (dash != std::string::npos) {
            const std::string end = text.substr(dash + 1);
            if (auto full = parse_ipv4(end))
                last = *full;
            else if (auto octet = parse_number<uint32_t>(end, 0, 255))
                last = (*first & 0xffffff00u) | *octet;
            else
                c.fail(e.keyword, fmt::format("expected the range's last address or last octet after '-', found {}", quote(end)));
        } else if (slash != std::string::npos) {
            auto length = parse_number<uint32_t>(std::string_view(text).substr(slash + 1), 1, 32);
            const uint32_t host_bits = length ? (*length == 32 ? 0 : ~uint32_t{0} >> *length) : 0;
            if (!length || (*first & host_bits) != 0)
                c.fail(e.keyword, fmt::format("expected a network with no host bits set (like 10.0.0.8/29), found {}", quote(text)));
            last = *first | host_bits;
        }
        if (last < *first) c.fail(e.keyword, fmt::format("range {} ends before it starts", quote(text)));
        if (uint64_t{last} - *first + 1 > max_group_range) {
            out.push_back({e.keyword, {}, p, origin,
                           fmt::format("not carried over: {} addresses; the importer expands at most {} (write "
                                       "the services out)",
                                       uint64_t{last} - *first + 1, max_group_range)});
            continue;
        }
        for (uint64_t ip = *first; ip <= last; ++ip) {
            std::string one = origin;
            if (last != *first) one += fmt::format(": {}", format_ipv4(static_cast<Ipv4>(ip)));
            out.push_back({e.keyword, IpAddress(static_cast<Ipv4>(ip)), p, one, ""});
        }
    }
    return out;
}

// persistence_granularity: a netmask for an IPv4 service, a prefix length from 1 to 128 for an
// IPv6 one. keepalived tells them apart by the virtual server's family, or by a '.' when it has
// none yet (a group's); so does this, by the '.', and each endpoint then checks its own family.
struct Granularity {
    Token at;
    Family family = Family::ipv4;   // the family it is written for
    std::optional<uint8_t> length;  // nullopt: a netmask that is not contiguous
};

Granularity persistence_granularity(Context& c, const Statement& s)
{
    const Token& mask = argument(c, s, 0, "a netmask or prefix length");
    const std::string expected = fmt::format("persistence_granularity: expected a netmask (like 255.255.255.0) or, for "
                                             "IPv6, a prefix length from 1 to 128, found {}",
                                             quote(mask.text));
    if (mask.text.find('.') == std::string::npos) {
        auto length = parse_number<uint8_t>(mask.text, 1, 128);
        if (!length) c.fail(mask, expected);
        return {mask, Family::ipv6, length};
    }
    auto m = parse_ipv4(mask.text);
    if (!m) c.fail(mask, expected);
    const uint32_t inverted = ~*m;
    if ((inverted & (inverted + 1)) != 0) return {mask, Family::ipv4, std::nullopt};
    return {mask, Family::ipv4, static_cast<uint8_t>(32 - std::popcount(inverted))};
}

// A persistent service's netmask length: the granularity written for its family, else the full
// length, with a note.
uint8_t granularity_for(const std::optional<Granularity>& g, Family family, ImportedService& service)
{
    const uint8_t full = full_length(family);
    if (!g) return full;
    const std::string at = Context::where(g->at);
    if (g->family != family) {
        service.note(fmt::format("{}: persistence_granularity {} is not {}, which an {} service takes{}: {} here",
                                 at, g->at.text, family == Family::ipv4 ? "a netmask" : "a prefix length",
                                 family_name(family), family == Family::ipv6 ? " (keepalived ignores it)" : "", full));
        return full;
    }
    if (!g->length) {
        service.note(fmt::format("{}: persistence_granularity {} is not a contiguous netmask, which Fulcrum needs: "
                                 "32 here",
                                 at, g->at.text));
        return full;
    }
    return *g->length;
}

// Why a real server of `rs`'s family cannot serve a service on `vip` by `forward` ("" if it can):
// NAT rewrites the header and DR hands the frame over whole, so both keep the packet's family;
// a tunnel carries either family inside either, as IPVS's.
std::string family_problem(const IpAddress& vip, const IpAddress& rs, ForwardMethod forward)
{
    if (rs.family() == vip.family()) return "";
    if (forward != ForwardMethod::tun)
        return fmt::format("an {} real server of an {} service by {}, which keeps the packet's family (only TUN "
                           "mixes families)",
                           family_name(rs.family()), family_name(vip.family()),
                           forward == ForwardMethod::nat ? "NAT" : "DR");
    return "";
}

struct RealServerPlan {
    Token at;           // its real_server keyword
    IpAddress address;
    uint16_t port = 0;  // 0: the virtual port
    bool method_given = false;
    ImportedRealServer imported;
    CheckSettings settings;                 // the real server's own
    std::vector<const Statement*> checkers;
    std::optional<HealthCheckConfig> check;  // port 0: the real server's port
};

class Translator {
public:
    explicit Translator(Context& c) : c_(c) {}

    ImportedFile run(const std::vector<Statement>& top, const std::string& file_name)
    {
        ImportedFile out;
        out.kind = "keepalived";
        out.source = file_name;
        out.notes = c_.notes;
        for (const Statement& s : top)
            if (s.keyword.text == "virtual_server_group" && !s.args.empty()) groups_[s.args[0].text] = {s.keyword, group_entries(c_, s)};
        for (const Statement& s : top) {
            const std::string& k = s.keyword.text;
            const std::string where = Context::where(s.keyword);
            if (k == "virtual_server")
                virtual_server(s, out);
            else if (k == "virtual_server_group") {
                if (s.args.empty()) c_.fail(s.keyword, "expected a name after virtual_server_group");
            } else if (k.rfind("vrrp_", 0) == 0 || k.rfind("static_", 0) == 0 || k == "track_file" ||
                       k == "track_process" || k == "garp_group" || k == "linkbeat_interfaces")
                out.notes.push_back(fmt::format("{}: {} not carried over: VRRP and its tracking stay with keepalived, "
                                                "which runs beside Fulcrum (high_availability.vip_ownership: kernel, "
                                                "docs/high-availability.md)",
                                                where, statement_text(s)));
            else if (k == "global_defs")
                out.notes.push_back(fmt::format("{}: global_defs not carried over: keepalived's own settings "
                                                "(notification, router id, scripts)",
                                                where));
            else
                out.notes.push_back(fmt::format("{}: {} not carried over: not a virtual server", where, statement_text(s)));
        }
        return out;
    }

private:
    Context& c_;
    std::map<std::string, Group> groups_;
    std::map<ServiceKey, std::string> seen_;  // service -> where it was first

    void virtual_server(const Statement& vs, ImportedFile& out)
    {
        const std::string where = Context::where(vs.keyword);
        const std::string origin = fmt::format("{}: {}", where, statement_text(vs));
        const Token& first = argument(c_, vs, 0, "an address, fwmark or group");
        std::vector<Endpoint> endpoints;
        if (first.text == "fwmark") {
            number(c_, vs, 1);
            out.services.push_back({origin, std::nullopt, {}, {"not carried over: Fulcrum has no firewall-mark services "
                                                                 "(a virtual service is an address, a port and a protocol)"}});
            return;
        }
        if (first.text == "group") {
            const Token& name = argument(c_, vs, 1, "a virtual_server_group name");
            auto g = groups_.find(name.text);
            if (g == groups_.end()) c_.fail(name, fmt::format("no virtual_server_group named {}", quote(name.text)));
            endpoints = g->second.endpoints;
            for (Endpoint& e : endpoints) e.origin = fmt::format("{}: {}", origin, e.origin);
        } else {
            endpoints.push_back(
                {first, address(c_, first), vs.args.size() > 1 ? port(c_, vs.args[1], true) : uint16_t{0}, origin, ""});
        }

        ImportedService base;
        ServiceConfig& svc = base.config.emplace();
        svc.scheduler = "wlc";
        CheckSettings settings;
        std::vector<RealServerPlan> reals;
        std::optional<Token> sorry_at;
        std::optional<std::pair<IpAddress, uint16_t>> sorry;
        std::optional<Granularity> granularity;
        std::optional<Token> family_at;  // ip_family
        std::optional<ForwardMethod> sorry_method;
        std::vector<std::string> flags;
        bool method_given = false;
        std::string problem;  // the whole block cannot be a Fulcrum service
        for (const Statement& s : vs.body) {
            const std::string& k = s.keyword.text;
            const std::string at = Context::where(s.keyword);
            if (check_setting(c_, s, settings, base)) continue;
            if (k != "real_server") plain_statement(c_, s, base);
            if (k == "lb_algo" || k == "lvs_sched") {
                const Token& name = argument(c_, s, 0, "a scheduler");
                if (sched::kind_from_name(name.text))
                    svc.scheduler = name.text;
                else
                    base.note(fmt::format("{}: {} {} is not a scheduler keepalived or Fulcrum knows; keepalived "
                                          "ignores it and uses wlc, as here",
                                          at, k, quote(name.text)));
            } else if (k == "lb_kind" || k == "lvs_method") {
                svc.forward = method(c_, base, s);
                method_given = true;
            } else if (k == "persistence_timeout") {
                const uint64_t seconds = s.args.empty() ? 360 : number(c_, s, 0);
                svc.persistence = static_cast<uint32_t>(std::min<uint64_t>(seconds, limits::max_persistence_seconds));
                if (seconds > limits::max_persistence_seconds)
                    base.note(fmt::format("{}: persistence_timeout {} is above Fulcrum's {}: {} here", at, seconds,
                                          limits::max_persistence_seconds, svc.persistence));
            } else if (k == "persistence_granularity") {
                granularity = persistence_granularity(c_, s);
                if (svc.persistence == 0) svc.persistence = 360;  // as keepalived: granularity makes it persistent
            } else if (k == "protocol") {
                const Token& p = argument(c_, s, 0, "TCP, UDP or SCTP");
                std::string upper = p.text;
                std::transform(upper.begin(), upper.end(), upper.begin(), [](unsigned char ch) { return std::toupper(ch); });
                if (upper == "TCP")
                    svc.protocol = Protocol::tcp;
                else if (upper == "UDP")
                    svc.protocol = Protocol::udp;
                else if (upper == "SCTP")
                    problem = "not carried over: Fulcrum balances TCP and UDP, not SCTP";
                else
                    c_.fail(p, fmt::format("protocol: expected TCP, UDP or SCTP, found {}", quote(p.text)));
            } else if (k == "sorry_server") {
                const IpAddress a = address(c_, argument(c_, s, 0, "an address"));
                sorry = {a, s.args.size() > 1 ? port(c_, s.args[1], true) : uint16_t{0}};
                sorry_at = s.keyword;
            } else if (k == "sorry_server_lvs_method") {
                sorry_method = method(c_, base, s);
            } else if (k == "sorry_server_inhibit") {
                base.note(fmt::format("{}: sorry_server_inhibit not carried over: Fulcrum's sorry server is not checked", at));
            } else if (k == "real_server") {
                reals.push_back(real_server(s, base));
            } else if (k == "sh-port" || k == "sh-fallback" || k == "mh-port" || k == "mh-fallback" || k == "flag-1" ||
                       k == "flag-2" || k == "flag-3") {
                flags.push_back(k);
            } else if (k == "ip_family") {
                // It names the family of a firewall-mark virtual server, which has no address; for
                // one with an address keepalived ignores it unless it agrees.
                const Token& f = argument(c_, s, 0, "inet or inet6");
                if (f.text != "inet" && f.text != "inet6")
                    base.note(fmt::format("{}: ip_family {} is not a family keepalived knows; it ignores it, as here", at, quote(f.text)));
                else
                    family_at = f;
            } else if (k == "ops") {
                base.note(fmt::format("{}: ops not carried over: Fulcrum has no one-packet scheduling", at));
            } else if (k == "quorum" || k == "hysteresis" || k == "quorum_up" || k == "quorum_down") {
                base.note(fmt::format("{}: {} not carried over: Fulcrum has no quorum; its sorry server stands in when "
                                      "no real server is up",
                                      at, k));
            } else if (k == "ha_suspend" || k == "omega" || k == "smtp_alert" || k == "snmp_name" || k == "hashed" ||
                       k == "persistence_engine") {
                base.note(fmt::format("{}: {} not carried over: Fulcrum has no such setting", at, statement_text(s)));
            } else {
                base.note(fmt::format("{}: unknown keyword {} ignored, as keepalived ignores it", at, quote(k)));
            }
        }
        if (!method_given) svc.forward = ForwardMethod::nat;
        for (const std::string& f : flags) {
            // -b flag-1 and flag-2 are sh-fallback and sh-port (mh-... for mh), as ipvsadm's.
            std::string name = f;
            if (f == "flag-1") name = svc.scheduler + "-fallback";
            if (f == "flag-2") name = svc.scheduler + "-port";
            if (name.rfind(svc.scheduler + "-", 0) != 0 || !sched::set_flag(svc.scheduler_flags, name))
                base.note(fmt::format("{} not carried over: no such flag for the {} scheduler", f, svc.scheduler));
        }
        // Checks are resolved last, as keepalived does: the virtual server's settings may follow
        // its real servers.
        for (RealServerPlan& plan : reals) {
            for (const Statement* checker : plan.checkers) {
                auto check = translate_checker(c_, *checker, over(settings, plan.settings), plan.address, base);
                if (!check) continue;
                if (plan.check) {
                    base.note(fmt::format("{}: {} not carried over: Fulcrum makes one check per real server, where "
                                          "keepalived needs all of them to pass",
                                          Context::where(checker->keyword), checker->keyword.text));
                    continue;
                }
                plan.check = check;
            }
        }
        if (reals.empty() && problem.empty())
            problem = "not carried over: it has no real_server, and keepalived ignores such a virtual server";

        for (const Endpoint& e : endpoints) {
            ImportedService one = base;
            one.origin = e.origin;
            const std::string& why = !e.problem.empty() ? e.problem
                                     : e.port == 0      ? "not carried over: a virtual server without a port (all "
                                                          "ports) has no Fulcrum equivalent"
                                                        : problem;
            if (!why.empty()) {
                one.config.reset();
                one.real_servers.clear();
                one.notes = {why};
                out.services.push_back(std::move(one));
                continue;
            }
            one.config->vip = e.vip;
            one.config->port = e.port;
            const Family family = e.vip.family();
            if (family_at && (family_at->text == "inet6") != (family == Family::ipv6))
                one.note(fmt::format("{}: ip_family {} ignored, as keepalived ignores it: the virtual server's "
                                     "address is {}",
                                     Context::where(*family_at), family_at->text, family_name(family)));
            if (svc.persistence != 0) one.config->persistence_netmask = granularity_for(granularity, family, one);
            place_real_servers(one, reals);
            if (sorry && sorry->first.family() != family)
                one.note(fmt::format("{}: sorry_server {} not carried over: an {} sorry server for an {} service (a "
                                     "sorry server is of the service's family; keepalived skips it too)",
                                     Context::where(*sorry_at), format_ip(sorry->first),
                                     family_name(sorry->first.family()), family_name(family)));
            else if (sorry)
                one.config->sorry_server = SorryServerConfig{sorry->first, sorry->second};
            if (one.config->sorry_server && sorry_method.value_or(svc.forward) != ForwardMethod::nat)
                one.note(fmt::format("{}: sorry_server: keepalived forwards to it by {}, Fulcrum by NAT: its replies "
                                     "must come back through the director",
                                     Context::where(*sorry_at), forward_method_name(sorry_method.value_or(svc.forward))));
            finish_service(one, "sorry_server");
            if (auto [it, fresh] = seen_.emplace(one.config->key(), one.origin); !fresh) {
                one.config.reset();
                one.real_servers.clear();
                one.notes.insert(one.notes.begin(), fmt::format("not carried over: the same service as {}", it->second));
            }
            out.services.push_back(std::move(one));
        }
    }

    RealServerPlan real_server(const Statement& s, ImportedService& notes)
    {
        RealServerPlan plan;
        plan.at = s.keyword;
        plan.address = address(c_, argument(c_, s, 0, "an address"));
        plan.port = s.args.size() > 1 ? port(c_, s.args[1], true) : 0;
        RealServerConfig& rs = plan.imported.config;
        std::optional<ForwardMethod> forward;
        for (const Statement& b : s.body) {
            const std::string& k = b.keyword.text;
            const std::string at = Context::where(b.keyword);
            if (check_setting(c_, b, plan.settings, notes)) continue;
            if (!is_checker(k)) plain_statement(c_, b, notes);
            if (k == "weight") {
                const uint64_t w = number(c_, b, 0, INT32_MAX);
                rs.weight = static_cast<uint32_t>(std::min<uint64_t>(w, limits::max_weight));
                if (w > limits::max_weight)
                    plan.imported.notes.push_back(fmt::format("{}: weight {} is above Fulcrum's {}", at, w, limits::max_weight));
            } else if (k == "lvs_method") {
                forward = method(c_, notes, b);
            } else if (k == "uthreshold") {
                rs.upper_threshold = static_cast<uint32_t>(std::min<uint64_t>(number(c_, b, 0), limits::max_threshold));
            } else if (k == "lthreshold") {
                rs.lower_threshold = static_cast<uint32_t>(std::min<uint64_t>(number(c_, b, 0), limits::max_threshold));
            } else if (is_checker(k)) {
                plan.checkers.push_back(&b);
            } else if (k == "notify_up" || k == "notify_down" || k == "smtp_alert" || k == "snmp_name") {
                notes.note(fmt::format("{}: {} not carried over: Fulcrum runs no notification scripts; it logs each "
                                       "change",
                                       at, k));
            } else {
                notes.note(fmt::format("{}: unknown keyword {} ignored, as keepalived ignores it", at, quote(k)));
            }
        }
        if (rs.upper_threshold != 0 && rs.lower_threshold >= rs.upper_threshold) {
            plan.imported.notes.push_back(fmt::format("lthreshold {} is not below uthreshold {}, which Fulcrum needs: "
                                                      "dropped (IPVS's three quarters of uthreshold)",
                                                      rs.lower_threshold, rs.upper_threshold));
            rs.lower_threshold = 0;
        }
        rs.address = plan.address;
        if (forward) rs.forward = *forward;
        plan.method_given = forward.has_value();
        return plan;
    }

    // The real servers of one endpoint: their ports (0: the virtual port) and methods resolved.
    void place_real_servers(ImportedService& service, const std::vector<RealServerPlan>& reals)
    {
        ServiceConfig& svc = *service.config;
        for (const RealServerPlan& plan : reals) {
            ImportedRealServer rs = plan.imported;
            if (!plan.method_given) rs.config.forward = svc.forward;
            if (const std::string why = family_problem(svc.vip, plan.address, rs.config.forward); !why.empty()) {
                service.note(fmt::format("{}: real_server {} not carried over: {}", Context::where(plan.at),
                                         format_ip(plan.address), why));
                continue;
            }
            rs.config.port = plan.port != 0 ? plan.port : svc.port;
            if (rs.config.forward != ForwardMethod::nat && rs.config.port != svc.port) {
                rs.notes.push_back(fmt::format("port {}: {} forwarding does not change the port (IPVS ignores it): "
                                               "the virtual port here",
                                               rs.config.port, forward_method_name(rs.config.forward)));
                rs.config.port = svc.port;
            }
            if (plan.check) {
                rs.config.health_check = *plan.check;
                // UDP services are checked over TCP: the port must be named.
                if (svc.protocol == Protocol::udp && rs.config.health_check.port == 0)
                    rs.config.health_check.port = rs.config.port;
            }
            service.real_servers.push_back(std::move(rs));
        }
    }
};

}  // namespace

ImportResult import_keepalived(std::string_view text, const std::string& file_name)
{
    Context context;
    ImportResult result;
    try {
        Lexer lexer(context);
        lexer.read(text, file_name, 0);
        Parser parser(context, lexer.tokens);
        const std::vector<Statement> top = parser.parse();
        Translator translator(context);
        const ImportedFile file = translator.run(top, file_name);
        result.yaml = imported_yaml(file);
    } catch (const Failed&) {
        result.yaml.clear();
    }
    result.errors = context.errors;
    return result;
}

}  // namespace fulcrum::control::migration
