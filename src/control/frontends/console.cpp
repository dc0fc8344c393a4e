#include "control/frontends/console.hpp"

#include "control/socket_io.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <deque>

#include "control/frontends/console_commands.hpp"
#include "common/text.hpp"

namespace fulcrum::control {

namespace {

// Telnet (RFC 854): IAC introduces a command; WILL/WONT/DO/DONT carry one option byte; SB ... IAC SE
// is a subnegotiation. A real telnet client may send any of them; none of them is input.
constexpr uint8_t telnet_iac = 255;
constexpr uint8_t telnet_sb = 250;
constexpr uint8_t telnet_se = 240;
constexpr uint8_t telnet_will = 251;
constexpr uint8_t telnet_dont = 254;
constexpr uint8_t telnet_ip = 244;  // interrupt process: what telnet sends for ^C

// Input held per session before the socket is no longer read (the peer then waits in TCP).
constexpr size_t max_queued_lines = 64;
// Output a session may owe before its next command waits.
constexpr size_t output_high_water = 64 * 1024;
constexpr size_t read_chunk = 4096;
constexpr size_t max_read_per_poll = 16 * 1024;

std::string errno_text(int e) { return std::strerror(e); }

using Clock = std::chrono::steady_clock;

// What a browser sends first: "METHOD TARGET HTTP/x.y", then "Name: value" headers. No console
// command starts with a method in capitals followed by a target and a protocol, and none with
// these header names.
bool is_http(std::string_view line)
{
    static constexpr std::string_view methods[] = {"GET", "POST", "PUT", "HEAD", "DELETE", "OPTIONS", "PATCH", "CONNECT", "TRACE"};
    const size_t space = line.find(' ');
    const std::string_view first = line.substr(0, space);
    if (space != std::string_view::npos && std::find(std::begin(methods), std::end(methods), first) != std::end(methods) &&
        line.find(" HTTP/", space) != std::string_view::npos)
        return true;
    auto starts_with_nocase = [&](std::string_view prefix) {
        return line.size() >= prefix.size() &&
               std::equal(prefix.begin(), prefix.end(), line.begin(), [](char a, char b) { return std::tolower(a) == std::tolower(b); });
    };
    return starts_with_nocase("host:") || starts_with_nocase("origin:") || starts_with_nocase("user-agent:");
}

std::string peer_name(const sockaddr_in& a)
{
    return fmt::format("{}:{}", format_ipv4(ntohl(a.sin_addr.s_addr)), ntohs(a.sin_port));
}

}  // namespace

struct ConsoleServer::Session {
    enum class Telnet : uint8_t { data, iac, option, sub, sub_iac };
    struct Line {
        std::string text;
        bool too_long = false;
    };

    int fd = -1;
    std::string peer;
    Telnet telnet = Telnet::data;
    std::string partial;           // the line being received
    bool discarding = false;       // the line being received is already too long
    std::deque<Line> lines;        // complete lines, not yet run
    std::string output;            // owed to the peer from output_sent on
    size_t output_sent = 0;
    bool needs_prompt = true;      // a command may come next: prompt, unless the input has ended
    bool end_of_input = false;     // the peer shut its side down
    bool quit = false;             // quit/exit: close once the output is out
    bool failed = false;           // a socket error: close now
    Clock::time_point last_activity = Clock::now();  // bytes read or written

    size_t pending() const { return output.size() - output_sent; }
    bool finished() const
    {
        if (failed) return true;
        if (pending() != 0) return false;
        return quit || (end_of_input && lines.empty());
    }

    void end_line()
    {
        lines.push_back(Line{discarding ? std::string() : std::move(partial), discarding});
        partial.clear();
        discarding = false;
    }

    void take(const uint8_t* data, size_t n, size_t max_line)
    {
        for (size_t i = 0; i < n; ++i) {
            const uint8_t b = data[i];
            switch (telnet) {
            case Telnet::data:
                if (b == telnet_iac) {
                    telnet = Telnet::iac;
                } else if (b == '\n') {
                    end_line();
                } else if (b == '\r' || b == '\0') {
                    // CR LF and CR NUL are telnet's line ends; a bare CR is dropped as well.
                } else if (!discarding) {
                    if (partial.size() >= max_line) {
                        discarding = true;
                        partial.clear();
                    } else {
                        partial += static_cast<char>(b);
                    }
                }
                break;
            case Telnet::iac:
                if (b == telnet_iac) {
                    // An escaped 255 is a data byte; no command has one, so it only makes the
                    // line fail to parse, which is what it should do.
                    if (!discarding && partial.size() < max_line) partial += static_cast<char>(b);
                    telnet = Telnet::data;
                } else if (b >= telnet_will && b <= telnet_dont) {
                    telnet = Telnet::option;
                } else if (b == telnet_sb) {
                    telnet = Telnet::sub;
                } else {
                    if (b == telnet_ip) {  // ^C: forget the line typed so far
                        partial.clear();
                        discarding = false;
                    }
                    telnet = Telnet::data;
                }
                break;
            case Telnet::option: telnet = Telnet::data; break;
            case Telnet::sub:
                if (b == telnet_iac) telnet = Telnet::sub_iac;
                break;
            case Telnet::sub_iac: telnet = b == telnet_se ? Telnet::data : Telnet::sub; break;
            }
        }
    }
};

std::optional<std::pair<Ipv4, uint16_t>> parse_listen_address(std::string_view text)
{
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    auto ip = parse_ipv4(text.substr(0, colon));
    const auto port = parse_number<uint16_t>(text.substr(colon + 1), 0, 65535);
    if (!ip || !port) return std::nullopt;
    return std::pair{*ip, *port};
}

ConsoleServer::ConsoleServer(ControlApi& api, ConsoleOptions options) : api_(api), options_(std::move(options)) {}

ConsoleServer::~ConsoleServer() { stop(); }

void ConsoleServer::report(std::string_view message) const
{
    if (options_.log) options_.log(message);
}

std::string ConsoleServer::start()
{
    if (listen_fd_ >= 0) return fmt::format("console: already listening on port {}", port_);
    auto address = parse_listen_address(options_.listen);
    if (!address)
        return fmt::format("console.listen: expected IPV4:PORT (like 127.0.0.1:9023), found \"{}\"", options_.listen);
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return fmt::format("console: cannot create a socket: {}", errno_text(errno));
    // A restart must not wait for the previous process's connections in TIME_WAIT.
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(address->first);
    sa.sin_port = htons(address->second);
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof sa) != 0 || ::listen(fd, 16) != 0) {
        const int e = errno;
        ::close(fd);
        return fmt::format("console: cannot listen on {}: {}", options_.listen, errno_text(e));
    }
    socklen_t len = sizeof sa;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
    listen_fd_ = fd;
    port_ = ntohs(sa.sin_port);
    report(fmt::format("console: listening on {}:{}", format_ipv4(address->first), port_));
    return "";
}

void ConsoleServer::stop()
{
    for (auto& s : sessions_) ::close(s->fd);
    sessions_.clear();
    if (listen_fd_ >= 0) ::close(listen_fd_);
    listen_fd_ = -1;
    port_ = 0;
}

void ConsoleServer::accept_sessions()
{
    for (;;) {
        sockaddr_in sa{};
        socklen_t len = sizeof sa;
        const int fd = ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&sa), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            // EAGAIN: nobody else waiting. ECONNABORTED and the like concern one peer only; the
            // next poll_once tries again. EMFILE leaves the peer in the backlog until a session ends.
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED)
                report(fmt::format("console: accept failed: {}", errno_text(errno)));
            return;
        }
        const std::string peer = peer_name(sa);
        if (sessions_.size() >= options_.max_sessions && !make_room(peer)) {
            const std::string refusal = fmt::format(
                "error: too many console sessions ({} open); try again later\n", sessions_.size());
            // Best effort: a fresh socket's buffer takes one short line.
            (void)::send(fd, refusal.data(), refusal.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
            ::close(fd);
            report(fmt::format("console: refused {}: {} sessions open", peer, sessions_.size()));
            continue;
        }
        auto s = std::make_unique<Session>();
        s->fd = fd;
        s->peer = peer;
        sessions_.push_back(std::move(s));
        report(fmt::format("console: session from {} opened ({} open)", peer, sessions_.size()));
    }
}

bool ConsoleServer::make_room(const std::string& peer)
{
    auto idlest = std::min_element(sessions_.begin(), sessions_.end(),
                                   [](const auto& a, const auto& b) { return a->last_activity < b->last_activity; });
    if (idlest == sessions_.end() || Clock::now() - (*idlest)->last_activity < options_.evict_idle_after) return false;
    Session& s = **idlest;
    const std::string notice = "error: closed after being idle: another session needed the room\n";
    (void)::send(s.fd, notice.data(), notice.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    ::close(s.fd);
    report(fmt::format("console: session from {} closed to make room for {}: idle", s.peer, peer));
    sessions_.erase(idlest);
    return true;
}

void ConsoleServer::read_input(Session& s)
{
    uint8_t buf[read_chunk];
    size_t total = 0;
    while (!s.end_of_input && !s.failed && s.lines.size() < max_queued_lines && total < max_read_per_poll) {
        const ssize_t n = ::recv(s.fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n > 0) {
            s.take(buf, static_cast<size_t>(n), options_.max_line);
            total += static_cast<size_t>(n);
            s.last_activity = Clock::now();
        } else if (n == 0) {
            // End of input: a last line without its line end is still a command (a script's
            // printf 'show services' | nc ...), as a shell would take it.
            s.end_of_input = true;
            if (!s.partial.empty() || s.discarding) s.end_line();
        } else {
            if (errno == EAGAIN || errno == EWOULDBLOCK) return;
            if (errno == EINTR) continue;
            s.failed = true;
            report(fmt::format("console: session from {}: {}", s.peer, errno_text(errno)));
        }
    }
}

void ConsoleServer::run_commands(Session& s)
{
    for (size_t done = 0; !s.quit && !s.failed; ) {
        if (s.needs_prompt) {
            // No prompt after the last command of a script: nothing can follow it.
            if (s.end_of_input && s.lines.empty()) {
                s.needs_prompt = false;
                return;
            }
            s.output += options_.prompt;
            s.needs_prompt = false;
        }
        if (s.lines.empty() || done == options_.commands_per_poll || s.pending() > output_high_water) return;
        Session::Line line = std::move(s.lines.front());
        s.lines.pop_front();
        ++done;
        if (line.too_long) {
            s.output += fmt::format("error: line longer than {} bytes; ignored\n", options_.max_line);
        } else if (is_http(line.text)) {
            // Whatever follows (a request body of commands) is never run.
            report(fmt::format("console: session from {} closed: it sent HTTP (\"{}\"), as a web page can make a browser do",
                               s.peer, line.text.substr(0, 64)));
            s.lines.clear();
            s.failed = true;
            return;
        } else {
            CommandOutput out = run_console_command(line.text, api_);
            for (const std::string& l : out.lines) {
                s.output += l;
                s.output += '\n';
            }
            s.quit = out.close;
        }
        // The prompt for the next command waits for the next poll, after its read: if the input
        // has ended by then, a script's output ends with the last command's output.
        s.needs_prompt = true;
        if (s.pending() > options_.max_pending_output) {
            report(fmt::format("console: session from {} closed: {} bytes of output not read", s.peer, s.pending()));
            s.failed = true;
        }
        if (!s.lines.empty() && !s.quit) continue;
        return;
    }
}

void ConsoleServer::write_output(Session& s)
{
    // EPIPE, ECONNRESET: the peer is gone (nc -q has quit, say); its output goes nowhere.
    const size_t sent_before = s.output_sent;
    if (!s.failed && send_pending(s.fd, s.output, s.output_sent) != 0) s.failed = true;
    if (s.output_sent != sent_before) s.last_activity = Clock::now();
    if (s.output_sent == s.output.size()) {
        s.output.clear();
        s.output_sent = 0;
    } else if (s.output_sent > output_high_water) {
        s.output.erase(0, s.output_sent);
        s.output_sent = 0;
    }
}

void ConsoleServer::poll_once(int timeout_ms)
{
    if (listen_fd_ < 0) return;
    std::vector<pollfd> fds;
    fds.reserve(sessions_.size() + 1);
    fds.push_back(pollfd{listen_fd_, POLLIN, 0});
    bool work_waiting = false;
    for (const auto& s : sessions_) {
        short events = 0;
        if (!s->end_of_input && s->lines.size() < max_queued_lines) events |= POLLIN;
        if (s->pending() != 0) events |= POLLOUT;
        fds.push_back(pollfd{s->fd, events, 0});
        if ((!s->lines.empty() && s->pending() <= output_high_water) || s->needs_prompt) work_waiting = true;
    }
    // Lines already read are work: do not sleep on the sockets while they wait.
    const int ready = ::poll(fds.data(), fds.size(), work_waiting ? 0 : timeout_ms);
    if (ready < 0 && errno != EINTR) report(fmt::format("console: poll failed: {}", errno_text(errno)));

    // Sessions accepted below were not in this poll; they are read from the next one on.
    const size_t polled = sessions_.size();
    for (size_t i = 0; i < polled; ++i) {
        Session& s = *sessions_[i];
        const short revents = ready > 0 ? fds[i + 1].revents : 0;
        if (revents & (POLLIN | POLLHUP | POLLERR)) read_input(s);
        run_commands(s);
        write_output(s);
    }
    if (ready > 0 && (fds[0].revents & POLLIN)) accept_sessions();

    const Clock::time_point now = Clock::now();
    for (auto it = sessions_.begin(); it != sessions_.end();) {
        Session& s = **it;
        if (!s.failed && now - s.last_activity >= options_.idle_timeout) {
            report(fmt::format("console: session from {} closed: idle for {} ms", s.peer, options_.idle_timeout.count()));
            s.failed = true;
        }
        if (!s.finished()) {
            ++it;
            continue;
        }
        ::close(s.fd);
        const std::string peer = s.peer;
        it = sessions_.erase(it);
        report(fmt::format("console: session from {} closed ({} open)", peer, sessions_.size()));
    }
}

}  // namespace fulcrum::control
