#include "control/health/health.hpp"

#include "control/socket_io.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <regex>
#include <utility>

namespace fulcrum::control {

namespace health_detail {

// An expect_body regex, compiled once per configure() and shared by the targets that use it.
struct BodyPattern {
    std::string text;
    bool literal = false;              // no regex syntax at all: a plain substring search
    std::optional<std::regex> search;  // see compile_body_pattern
    std::string error;  // why it cannot be run; the checks of its targets fail with it
};

// One check in flight, from its connect to its verdict.
struct Probe {
    enum class Phase : uint8_t { connecting, sending, receiving, finished };

    int fd = -1;
    HealthCheckConfig check;
    std::shared_ptr<const BodyPattern> body;
    HealthMonitor::Clock::time_point started;
    Phase phase = Phase::connecting;
    std::string request;
    size_t sent = 0;
    std::string response;

    // The verdict, once finished. `result` is what the change log repeats ("connected",
    // "HTTP 200", "connect: Connection refused"); a success's status adds how long it took.
    bool ok = false;
    std::string result;
    HealthMonitor::Clock::time_point finished_at;

    Probe() = default;
    Probe(const Probe&) = delete;
    Probe& operator=(const Probe&) = delete;
    ~Probe() { close_socket(); }

    void close_socket()
    {
        if (fd >= 0) ::close(fd);
        fd = -1;
    }

    void finish(bool good, std::string what, HealthMonitor::Clock::time_point now)
    {
        phase = Phase::finished;
        ok = good;
        result = std::move(what);
        finished_at = now;
        close_socket();
    }
};

}  // namespace health_detail

namespace {

using health_detail::BodyPattern;
using health_detail::Probe;
using Clock = HealthMonitor::Clock;

// What a check keeps of a response: the status line, the headers and enough body for a regex.
// A larger page is judged on its beginning rather than read to the end every interval.
constexpr size_t max_response = 64 * 1024;
constexpr size_t read_chunk = 4096;
// The regex runs over at most this much of the body: its cost is the body's length times the
// pattern's states, on the control core, every interval (the validator bounds the pattern).
constexpr size_t max_searched_body = 8 * 1024;

const std::vector<StatusRange> default_status_ranges{StatusRange{}};

std::string errno_text(int e) { return std::strerror(e); }

// 1000 -> "1.0", 250 -> "0.25": as a timeout is written in the file, without a false precision.
std::string format_seconds(uint32_t ms)
{
    if (ms % 100 == 0) return fmt::format("{:.1f}", ms / 1000.0);
    return fmt::format("{:g}", ms / 1000.0);
}

std::string format_elapsed(Clock::duration d)
{
    return fmt::format("{:.1f} ms", std::chrono::duration<double, std::milli>(d).count());
}

// A response's first line for a message: it may be anything a wrong service sends (an SSH
// banner, TLS bytes), so only so much of it, and only printable.
std::string printable_first_line(std::string_view response)
{
    constexpr size_t max_shown = 40;
    std::string line;
    for (char c : response) {
        if (c == '\r' || c == '\n' || line.size() == max_shown) break;
        line += (c >= ' ' && c < 0x7f) ? c : '?';
    }
    return line;
}

std::string_view body_of(std::string_view response)
{
    if (size_t end = response.find("\r\n\r\n"); end != std::string_view::npos) return response.substr(end + 4);
    // Some embedded servers end their lines with a bare LF.
    if (size_t end = response.find("\n\n"); end != std::string_view::npos) return response.substr(end + 2);
    return {};
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Without a configured host, the Host header is the address: an IPv6 one in brackets (RFC 3986's
// IP-literal, which RFC 9110's Host takes).
std::string http_request(const HealthCheckConfig& check, const IpAddress& address)
{
    std::string_view path = check.http.path;
    if (path.empty()) path = "/";
    const std::string host = address.is_ipv4() ? format_ip(address) : "[" + format_ip(address) + "]";
    return fmt::format("GET {} HTTP/1.0\r\nHost: {}\r\nUser-Agent: fulcrum-health\r\nConnection: close\r\n\r\n",
                       path, check.http.host.empty() ? host : check.http.host);
}

std::optional<std::string> body_mismatch(const BodyPattern& pattern, std::string_view body)
{
    if (pattern.literal) {
        if (body.find(pattern.text) != std::string_view::npos) return std::nullopt;
        return fmt::format("body does not match \"{}\"", pattern.text);
    }
    if (!pattern.search) return fmt::format("body regex \"{}\" cannot be used: {}", pattern.text, pattern.error);
    try {
        if (std::regex_search(body.begin(), body.end(), *pattern.search, std::regex_constants::match_continuous))
            return std::nullopt;
    } catch (const std::regex_error& error) {
        // libstdc++ gives up on some patterns over long input (error_complexity, error_stack).
        return fmt::format("body regex \"{}\" failed: {}", pattern.text, error.what());
    }
    return fmt::format("body does not match \"{}\"", pattern.text);
}

void judge_response(Probe& p, Clock::time_point now)
{
    if (p.response.empty()) return p.finish(false, "connection closed without a response", now);
    const auto status = parse_http_status(p.response);
    if (!status)
        return p.finish(false, fmt::format("not an HTTP response: \"{}\"", printable_first_line(p.response)), now);
    if (!status_accepted(*status, p.check.http.expect_status))
        return p.finish(false,
                        fmt::format("HTTP status {} not in {}", *status, format_status_ranges(p.check.http.expect_status)),
                        now);
    if (p.body)
        if (auto mismatch = body_mismatch(*p.body, body_of(p.response).substr(0, max_searched_body)))
            return p.finish(false, *mismatch, now);
    p.finish(true, fmt::format("HTTP {}", *status), now);
}

void read_response(Probe& p, Clock::time_point now)
{
    char buf[read_chunk];
    for (;;) {
        const size_t room = std::min(sizeof buf, max_response - p.response.size());
        const ssize_t n = ::recv(p.fd, buf, room, MSG_DONTWAIT);
        if (n > 0) {
            p.response.append(buf, static_cast<size_t>(n));
            if (p.response.size() == max_response || http_response_complete(p.response)) return judge_response(p, now);
        } else if (n == 0) {
            return judge_response(p, now);
        } else if (errno == EINTR) {
            continue;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return;
        } else {
            return p.finish(false, "recv: " + errno_text(errno), now);
        }
    }
}

void send_request(Probe& p, Clock::time_point now)
{
    if (const int error = send_pending(p.fd, p.request, p.sent); error != 0)
        return p.finish(false, "send: " + errno_text(error), now);
    if (p.sent < p.request.size()) return;  // the rest when the socket takes it
    p.phase = Probe::Phase::receiving;
    // A fast server may have answered already; otherwise this costs one EAGAIN.
    read_response(p, now);
}

void on_connected(Probe& p, Clock::time_point now)
{
    if (p.check.type == HealthCheckType::tcp) return p.finish(true, "connected", now);
    p.phase = Probe::Phase::sending;
    send_request(p, now);
}

void advance(Probe& p, short revents, Clock::time_point now)
{
    switch (p.phase) {
    case Probe::Phase::connecting: {
        int error = 0;
        socklen_t len = sizeof error;
        if (::getsockopt(p.fd, SOL_SOCKET, SO_ERROR, &error, &len) != 0) error = errno;
        if (error != 0) return p.finish(false, "connect: " + errno_text(error), now);
        // A hang-up without an error leaves the connect to its timeout.
        if (revents & POLLOUT) on_connected(p, now);
        return;
    }
    case Probe::Phase::sending: return send_request(p, now);
    case Probe::Phase::receiving: return read_response(p, now);
    case Probe::Phase::finished: return;
    }
}

void connect_probe(Probe& p, const IpAddress& address, uint16_t port, Clock::time_point now)
{
    sockaddr_storage ss{};
    socklen_t length = 0;
    if (address.is_ipv4()) {
        auto& sa = reinterpret_cast<sockaddr_in&>(ss);
        sa.sin_family = AF_INET;
        sa.sin_addr.s_addr = htonl(address.ipv4());
        sa.sin_port = htons(port);
        length = sizeof sa;
    } else {
        auto& sa = reinterpret_cast<sockaddr_in6&>(ss);
        sa.sin6_family = AF_INET6;
        std::memcpy(&sa.sin6_addr, address.bytes().data(), sizeof sa.sin6_addr);
        sa.sin6_port = htons(port);
        length = sizeof sa;
    }
    p.fd = ::socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (p.fd < 0) return p.finish(false, "socket: " + errno_text(errno), now);
    if (::connect(p.fd, reinterpret_cast<const sockaddr*>(&ss), length) == 0) return on_connected(p, now);
    // EINTR on a non-blocking connect: it goes on in the background, as EINPROGRESS.
    if (errno == EINPROGRESS || errno == EINTR) return;
    p.finish(false, "connect: " + errno_text(errno), now);
}

std::string timeout_reason(const Probe& p)
{
    std::string during;
    switch (p.phase) {
    case Probe::Phase::connecting: during = "while connecting"; break;
    case Probe::Phase::sending: during = "while sending the request"; break;
    case Probe::Phase::receiving:
        during = p.response.empty() ? "while waiting for the response"
                                    : fmt::format("while reading the response ({} bytes received)", p.response.size());
        break;
    case Probe::Phase::finished: break;
    }
    return fmt::format("timed out after {} s {}", format_seconds(p.check.timeout_ms), during);
}

std::string in_a_row(uint32_t count, std::string_view kind)
{
    return fmt::format("{} {} check{} in a row", count, kind, count == 1 ? "" : "s");
}

// Counts a finished check and applies rise and fall.
std::optional<HealthChange> record(const HealthTarget& target, HealthStatus& s, const Probe& p)
{
    s.in_flight = false;
    s.last_check = p.finished_at;
    s.last_result = p.ok ? "ok" : "failed";
    s.reason = p.ok ? fmt::format("{} in {}", p.result, format_elapsed(p.finished_at - p.started)) : p.result;
    if (p.ok) {
        s.failures = 0;
        if (s.successes != UINT32_MAX) ++s.successes;
        if (s.up || s.successes < std::max<uint32_t>(s.check.rise, 1)) return std::nullopt;
        s.up = true;
        s.changed = std::chrono::system_clock::now();
        return HealthChange{target, true,
                            fmt::format("{} (rise {}): {}", in_a_row(s.successes, "good"), s.check.rise, p.result)};
    }
    s.successes = 0;
    if (s.failures != UINT32_MAX) ++s.failures;
    if (!s.up || s.failures < std::max<uint32_t>(s.check.fall, 1)) return std::nullopt;
    s.up = false;
    s.changed = std::chrono::system_clock::now();
    return HealthChange{target, false,
                        fmt::format("{} (fall {}): {}", in_a_row(s.failures, "failed"), s.check.fall, p.result)};
}

// A probe started under settings that no longer hold would report on something not asked for.
bool probe_outdated(const HealthCheckConfig& before, const HealthCheckConfig& after)
{
    return before.type != after.type || before.port != after.port || !(before.http == after.http);
}

// libstdc++'s default (backtracking) engine recurses once per character: over a long line of
// body, ".*ok" overflows the stack (at about 20 KB with an 8 MB stack), and a search that fails
// retries from every position, minutes over 64 KB. So the regex runs on the Thompson engine
// (__polynomial), with [\s\S]*? in front and searched from the start only: one pass that tries
// every start position at once, O(body x pattern states): about 1 ms for "ok" over 16 KB, 28 ms
// for "a{0,32}b" (the validator bounds patterns, and at most max_searched_body is searched). That
// engine has no back-references; a regex with one is refused here rather than run the slow way.
// The usual pattern ("ok", "healthy") has no regex syntax at all and is searched for as text.
std::shared_ptr<const BodyPattern> compile_body_pattern(const std::string& text)
{
    constexpr auto flags = std::regex::ECMAScript | std::regex::nosubs | std::regex_constants::__polynomial;
    auto pattern = std::make_shared<BodyPattern>();
    pattern->text = text;
    pattern->literal = text.find_first_of("\\^$.|?*+()[]{}") == std::string::npos;
    try {
        // Alone first: wrapped, an unbalanced ")(" would compile.
        std::regex alone(text, flags);
        pattern->search.emplace("[\\s\\S]*?(?:" + text + ")", flags);
    } catch (const std::regex_error& error) {
        pattern->error = error.what();
    }
    return pattern;
}

}  // namespace

bool http_response_complete(std::string_view response)
{
    const size_t end = response.find("\r\n\r\n");
    if (end == std::string_view::npos) return false;
    const size_t body = response.size() - (end + 4);
    if (body >= max_searched_body) return true;
    const std::string_view headers = response.substr(0, end);
    for (size_t start = headers.find("\r\n"); start != std::string_view::npos; start = headers.find("\r\n", start + 2)) {
        constexpr std::string_view name = "content-length:";
        const std::string_view line = headers.substr(start + 2, headers.find("\r\n", start + 2) - (start + 2));
        if (line.size() < name.size() ||
            !std::equal(name.begin(), name.end(), line.begin(),
                        [](char a, char b) { return a == (b >= 'A' && b <= 'Z' ? b - 'A' + 'a' : b); }))
            continue;
        size_t i = name.size();
        while (i < line.size() && line[i] == ' ') ++i;
        uint64_t length = 0;
        bool digits = false;
        for (; i < line.size() && is_digit(line[i]) && length < max_response; ++i, digits = true)
            length = length * 10 + static_cast<uint64_t>(line[i] - '0');
        return digits && body >= length;
    }
    return false;
}

HealthMonitor::HealthMonitor() = default;
HealthMonitor::~HealthMonitor() = default;

void HealthMonitor::configure(const Config& config)
{
    const auto now = std::chrono::system_clock::now();
    std::map<HealthTarget, HealthStatus> next;
    std::map<HealthTarget, std::shared_ptr<const BodyPattern>> next_patterns;
    std::map<std::string, std::shared_ptr<const BodyPattern>> compiled;

    for (const ServiceConfig& service : config.services) {
        for (const RealServerConfig& rs : service.real_servers) {
            const HealthTarget target = key_of(service, rs);
            if (next.contains(target)) continue;  // the validator refuses duplicates; the first one counts
            const HealthCheckConfig& check = rs.health_check;
            HealthStatus status;
            status.changed = now;
            if (auto old = statuses_.find(target); old != statuses_.end()) {
                status = std::move(old->second);
                if (probe_outdated(status.check, check)) {
                    probes_.erase(target);
                    status.in_flight = false;
                }
                if (check.type == HealthCheckType::none) {
                    // Not checked any more: up, with no history that could mislead.
                    const auto changed = status.up ? status.changed : now;
                    status = HealthStatus{};
                    status.changed = changed;
                }
            }
            status.check = check;
            if (check.type == HealthCheckType::http && !check.http.expect_body.empty()) {
                auto& pattern = compiled[check.http.expect_body];
                if (!pattern) pattern = compile_body_pattern(check.http.expect_body);
                next_patterns.emplace(target, pattern);
            }
            next.emplace(target, std::move(status));
        }
    }
    std::erase_if(probes_, [&](const auto& entry) { return !next.contains(entry.first); });
    statuses_ = std::move(next);
    body_patterns_ = std::move(next_patterns);
}

void HealthMonitor::start_check(const HealthTarget& target, Clock::time_point now)
{
    auto it = statuses_.find(target);
    if (it == statuses_.end()) return;
    HealthStatus& status = it->second;
    if (status.check.type == HealthCheckType::none) return;
    if (status.in_flight) {
        auto running = probes_.find(target);
        if (running == probes_.end()) return;
        Probe& probe = *running->second;
        // With a timeout as long as the interval, the next check falls due a timer's latency
        // before the running one times out; skipping it would halve the rate of checks of a
        // server that does not answer. Nearly all of its time used: it has timed out.
        const auto nearly = std::chrono::milliseconds(probe.check.timeout_ms) * 9 / 10;
        if (probe.phase != Probe::Phase::finished && now - probe.started < nearly) return;
        if (probe.phase != Probe::Phase::finished) probe.finish(false, timeout_reason(probe), now);
        if (auto change = record(target, status, probe)) pending_changes_.push_back(std::move(*change));
        probes_.erase(running);
    }

    auto probe = std::make_unique<Probe>();
    probe->check = status.check;
    probe->started = now;
    const IpAddress& address = target.address;
    if (status.check.type == HealthCheckType::http) {
        probe->request = http_request(status.check, address);
        if (auto pattern = body_patterns_.find(target); pattern != body_patterns_.end()) probe->body = pattern->second;
    }
    // The validator gives every real server a port; a hand-made Config may not.
    const uint16_t port = status.check.port != 0 ? status.check.port : target.port != 0 ? target.port : target.service.port;
    connect_probe(*probe, address, port, now);
    status.in_flight = true;
    probes_[target] = std::move(probe);
}

std::vector<HealthChange> HealthMonitor::poll(Clock::time_point now)
{
    std::vector<pollfd> fds;
    std::vector<Probe*> polled;
    for (auto& [target, probe] : probes_) {
        if (probe->phase == Probe::Phase::finished) continue;
        const short events = probe->phase == Probe::Phase::receiving ? POLLIN : POLLOUT;
        fds.push_back(pollfd{probe->fd, events, 0});
        polled.push_back(probe.get());
    }
    // A failed poll (EINTR, ENOMEM) advances nothing this time; the timeouts below still hold.
    if (!fds.empty() && ::poll(fds.data(), fds.size(), 0) > 0) {
        for (size_t i = 0; i < fds.size(); ++i)
            if (fds[i].revents != 0) advance(*polled[i], fds[i].revents, now);
    }

    std::vector<HealthChange> changes = std::move(pending_changes_);
    pending_changes_.clear();
    for (auto it = probes_.begin(); it != probes_.end();) {
        Probe& probe = *it->second;
        if (probe.phase != Probe::Phase::finished && now - probe.started >= std::chrono::milliseconds(probe.check.timeout_ms))
            probe.finish(false, timeout_reason(probe), now);
        if (probe.phase != Probe::Phase::finished) {
            ++it;
            continue;
        }
        if (auto change = record(it->first, statuses_.at(it->first), probe)) changes.push_back(std::move(*change));
        it = probes_.erase(it);
    }
    return changes;
}

bool HealthMonitor::is_up(const HealthTarget& target) const
{
    auto it = statuses_.find(target);
    return it == statuses_.end() || it->second.up;
}

std::optional<uint16_t> parse_http_status(std::string_view response)
{
    constexpr std::string_view prefix = "HTTP/";
    if (!response.starts_with(prefix)) return std::nullopt;
    size_t i = prefix.size();
    const auto digits = [&] {
        const size_t first = i;
        while (i < response.size() && is_digit(response[i])) ++i;
        return i > first;
    };
    if (!digits()) return std::nullopt;
    if (i < response.size() && response[i] == '.') {
        ++i;
        if (!digits()) return std::nullopt;
    }
    if (i + 4 > response.size() || response[i] != ' ') return std::nullopt;
    const std::string_view code = response.substr(i + 1, 3);
    // A status is 100 to 999 (RFC 9110 §15 defines 1xx to 5xx): "002" is no HTTP answer.
    if (!std::all_of(code.begin(), code.end(), is_digit) || code[0] == '0') return std::nullopt;
    i += 4;
    if (i < response.size() && response[i] != ' ' && response[i] != '\r' && response[i] != '\n') return std::nullopt;
    return static_cast<uint16_t>((code[0] - '0') * 100 + (code[1] - '0') * 10 + (code[2] - '0'));
}

bool status_accepted(uint16_t status, const std::vector<StatusRange>& ranges)
{
    const auto& accepted = ranges.empty() ? default_status_ranges : ranges;
    return std::any_of(accepted.begin(), accepted.end(),
                       [&](const StatusRange& r) { return status >= r.low && status <= r.high; });
}

std::string format_status_ranges(const std::vector<StatusRange>& ranges)
{
    std::string text;
    for (const StatusRange& r : ranges.empty() ? default_status_ranges : ranges) {
        if (!text.empty()) text += ',';
        text += r.low == r.high ? fmt::format("{}", r.low) : fmt::format("{}-{}", r.low, r.high);
    }
    return text;
}

}  // namespace fulcrum::control
