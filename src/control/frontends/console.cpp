#include "control/frontends/console.hpp"

#include "control/socket_io.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
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

// Tells a peer why it is turned away and closes. What it had already sent is read first: a
// socket closed with unread input resets the peer (TCP's RST; on a Unix socket ECONNRESET),
// which could make it lose the line that says why. Best effort: a fresh socket's buffer takes
// one short line.
void refuse_peer(int fd, std::string_view why)
{
    (void)::send(fd, why.data(), why.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    char sink[4096];
    for (int i = 0; i < 16 && ::recv(fd, sink, sizeof sink, MSG_DONTWAIT) > 0; ++i) {
    }
    ::close(fd);
}

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
    bool decodes_telnet = true;    // TCP only: on the Unix socket every byte is data (fulcrumadm)
    std::string partial;           // the line being received
    bool discarding = false;       // the line being received is already too long
    std::deque<Line> lines;        // complete lines, not yet run
    std::string output;            // owed to the peer from output_sent on
    size_t output_sent = 0;
    bool needs_prompt = true;      // a command may come next: prompt, unless the input has ended
    bool end_of_input = false;     // the peer shut its side down
    bool quit = false;             // quit/exit: close once the output is out
    bool failed = false;           // a socket error: close now
    bool framed = false;           // `script`: no prompts; "o "/"e " lines and "= STATUS"
    // A command whose body (its lines up to ".") is being read.
    struct Body {
        std::string command;
        std::vector<std::string> lines;
        size_t bytes = 0;
        bool too_long = false;  // refused whole once its end comes
    };
    std::optional<Body> body;
    std::optional<CommandOutput> paging;  // an answer whose next pages are still to come
    Clock::time_point last_activity = Clock::now();  // bytes read or written

    size_t pending() const { return output.size() - output_sent; }
    bool finished() const
    {
        if (failed) return true;
        if (pending() != 0) return false;
        return !paging && (quit || (end_of_input && lines.empty()));
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
                if (b == telnet_iac && decodes_telnet) {
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
    if (!listeners_.empty()) return "console: already listening";
    std::string problem;
    if (!options_.socket_path.empty()) problem = open_unix();
    if (problem.empty() && !options_.listen.empty()) problem = open_tcp();
    if (!problem.empty()) stop();
    return problem;
}

std::string ConsoleServer::open_tcp()
{
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
    listeners_.push_back(Listener{fd, false});
    port_ = ntohs(sa.sin_port);
    report(fmt::format("console: listening on {}:{}", format_ipv4(address->first), port_));
    return "";
}

std::string ConsoleServer::open_unix()
{
    const std::string& path = options_.socket_path;
    const std::string name = fmt::format("console.socket {}", path);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    if (path.empty() || path.size() >= sizeof sa.sun_path) return name + ": expected an absolute path of at most 107 bytes";
    path.copy(sa.sun_path, path.size());

    // Its folder, as systemd's RuntimeDirectory= would make it (/run is cleared at boot). Whoever
    // may write in the folder could swap the socket for their own, which root's fulcrumadm would
    // then trust: it must be a real folder of ours (or root's) that no one else may write to.
    const std::string folder = path.substr(0, path.rfind('/'));
    if (!folder.empty()) {
        if (::mkdir(folder.c_str(), 0755) != 0 && errno != EEXIST)
            return fmt::format("{}: cannot make {}: {}", name, folder, errno_text(errno));
        struct stat dir{};
        if (::lstat(folder.c_str(), &dir) != 0) return fmt::format("{}: {}: {}", name, folder, errno_text(errno));
        if (!S_ISDIR(dir.st_mode) || (dir.st_uid != 0 && dir.st_uid != ::geteuid()) || (dir.st_mode & 022) != 0)
            return fmt::format("{}: {} must be a folder (not a link) owned by root that only its owner may write to "
                               "(it is {:o}, uid {})",
                               name, folder, dir.st_mode & 07777, dir.st_uid);
    }

    struct stat st{};
    if (::lstat(path.c_str(), &st) == 0) {
        if (!S_ISSOCK(st.st_mode))
            return fmt::format("{}: a file that is not a socket is there; remove it or choose another path", name);
        // A file left by a director that died refuses connections (ECONNREFUSED) and is replaced;
        // anything else (it accepts, its backlog is full, EACCES) may be another instance's.
        const int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (probe < 0) return fmt::format("{}: cannot create a socket: {}", name, errno_text(errno));
        const bool refused = ::connect(probe, reinterpret_cast<const sockaddr*>(&sa), sizeof sa) != 0 && errno == ECONNREFUSED;
        ::close(probe);
        if (!refused)
            return fmt::format("{}: another process answers there; give each director its own console.socket", name);
        ::unlink(path.c_str());
    }

    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return fmt::format("{}: cannot create a socket: {}", name, errno_text(errno));
    // The file is made with the mode it keeps: no moment in which others may connect. It listens
    // at once, so that another instance's probe never finds it refusing and takes it for stale.
    const mode_t mode = options_.socket_group ? 0660 : 0600;
    const mode_t old_mask = ::umask(0777 & ~mode);
    const bool bound = ::bind(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof sa) == 0;
    const int bind_errno = errno;
    ::umask(old_mask);
    if (!bound) {
        ::close(fd);
        return fmt::format("{}: cannot bind: {}", name, errno_text(bind_errno));
    }
    listeners_.push_back(Listener{fd, true});
    if (::lstat(path.c_str(), &st) == 0) socket_inode_ = {st.st_dev, st.st_ino};
    if (::listen(fd, 16) != 0) return fmt::format("{}: cannot listen: {}", name, errno_text(errno));
    if (options_.socket_group && ::lchown(path.c_str(), 0, *options_.socket_group) != 0)
        return fmt::format("{}: cannot give it group {}: {}", name, *options_.socket_group, errno_text(errno));
    report(fmt::format("console: listening on {} (mode {:o})", path, mode));
    return "";
}

void ConsoleServer::stop()
{
    for (auto& s : sessions_) ::close(s->fd);
    sessions_.clear();
    for (const Listener& l : listeners_) ::close(l.fd);
    listeners_.clear();
    // The file goes only if it is still the one this server made: another instance may have
    // replaced it since (its own director, started with the same path after a crash here).
    struct stat st{};
    if (socket_inode_ && ::lstat(options_.socket_path.c_str(), &st) == 0 &&
        std::pair{st.st_dev, st.st_ino} == *socket_inode_)
        ::unlink(options_.socket_path.c_str());
    socket_inode_.reset();
    port_ = 0;
}

std::string ConsoleServer::check_peer(int fd, std::string& peer) const
{
    ucred cred{};
    socklen_t len = sizeof cred;
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
        peer = "unix:?";
        return fmt::format("cannot read the peer's credentials: {}", errno_text(errno));
    }
    peer = fmt::format("unix:uid={},pid={}", cred.uid, cred.pid);
    if (cred.uid == 0) return "";
    if (options_.socket_group) {
        const gid_t group = *options_.socket_group;
        if (cred.gid == group) return "";
        // The peer's supplementary groups as the kernel holds them for its process (Linux 4.13):
        // no group database to ask, nothing to wait for on the control core.
        std::vector<gid_t> groups(64);
        for (;;) {
            socklen_t size = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
            if (::getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &size) == 0) {
                groups.resize(size / sizeof(gid_t));
                break;
            }
            if (errno != ERANGE || groups.size() >= 65536) {
                groups.clear();
                break;
            }
            groups.resize(std::max<size_t>(size / sizeof(gid_t), groups.size() * 2));
        }
        if (std::find(groups.begin(), groups.end(), group) != groups.end()) return "";
        return fmt::format("permission denied: uid {} is neither root nor in the console's group (gid {})", cred.uid,
                           group);
    }
    return fmt::format("permission denied: uid {} is not root, and the console has no group", cred.uid);
}

void ConsoleServer::accept_sessions(const Listener& listener)
{
    for (;;) {
        sockaddr_storage sa{};
        socklen_t len = sizeof sa;
        const int fd = ::accept4(listener.fd, reinterpret_cast<sockaddr*>(&sa), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            // EAGAIN: nobody else waiting. ECONNABORTED and the like concern one peer only; the
            // next poll_once tries again. EMFILE leaves the peer in the backlog until a session ends.
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED)
                report(fmt::format("console: accept failed: {}", errno_text(errno)));
            return;
        }
        std::string peer;
        if (listener.is_unix) {
            if (const std::string why = check_peer(fd, peer); !why.empty()) {
                refuse_peer(fd, "error: " + why + "\n");
                report(fmt::format("console: refused {}: {}", peer, why));
                continue;
            }
        } else {
            peer = peer_name(reinterpret_cast<const sockaddr_in&>(sa));
        }
        if (sessions_.size() >= options_.max_sessions && !make_room(peer)) {
            refuse_peer(fd, fmt::format("error: too many console sessions ({} open); try again later\n", sessions_.size()));
            report(fmt::format("console: refused {}: {} sessions open", peer, sessions_.size()));
            continue;
        }
        auto s = std::make_unique<Session>();
        s->fd = fd;
        s->peer = peer;
        s->decodes_telnet = !listener.is_unix;
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

namespace {

// An answer's lines as the session wants them: plain, or framed for a program (console.hpp).
void write_lines(std::string& output, const std::vector<std::string>& lines, int status, bool framed)
{
    for (const std::string& l : lines) {
        if (framed) output += status == 0 ? "o " : "e ";
        output += l;
        output += '\n';
    }
}

// A whole answer; one given in pages ends with its last page (Session::paging).
void write_answer(std::string& output, const CommandOutput& out, bool framed)
{
    // A program hears success as silence and status 0, as from ipvsadm; "ok" is for people.
    const bool silent = framed && out.status == 0 && out.lines == std::vector<std::string>{"ok"};
    if (!silent) write_lines(output, out.lines, out.status, framed);
    if (framed && !out.more) output += fmt::format("= {}\n", out.status);
}

}  // namespace

void ConsoleServer::run_commands(Session& s)
{
    for (size_t done = 0; !s.quit && !s.failed; ) {
        if (s.needs_prompt) {
            // No prompt after the last command of a script, nor in a framed session or a body.
            const bool script_over = s.end_of_input && s.lines.empty();
            if (!script_over && !s.framed && !s.body) s.output += options_.prompt;
            s.needs_prompt = false;
            if (script_over) return;
        }
        if (s.paging) {
            // One page per poll, when the peer has read what it was sent: a listing of millions
            // of connections is never held whole, and no later command runs before it ends.
            if (s.pending() > output_high_water) return;
            std::vector<std::string> page;
            if (s.paging->more(page)) {
                write_lines(s.output, page, s.paging->status, s.framed);
                return;
            }
            if (s.framed) s.output += fmt::format("= {}\n", s.paging->status);
            s.paging.reset();
            s.needs_prompt = true;
            continue;
        }
        if (s.lines.empty() || done == options_.commands_per_poll || s.pending() > output_high_water) return;
        Session::Line line = std::move(s.lines.front());
        s.lines.pop_front();
        if (s.body) {
            Session::Body& body = *s.body;
            // A body's lines are data, not commands: they do not count against the others.
            if (line.text != ".") {
                body.bytes += line.text.size() + 1;
                if (line.too_long || body.lines.size() >= options_.max_body_lines || body.bytes > options_.max_body_bytes) {
                    body.too_long = true;
                    body.lines.clear();  // the body is refused whole: what it held need not wait for its end
                } else if (!body.too_long) {
                    body.lines.push_back(std::move(line.text));
                }
                continue;
            }
            ++done;
            const CommandOutput out =
                body.too_long
                    ? CommandOutput{{fmt::format("error: {}: more than {} lines or {} bytes, or a line longer than {} "
                                                 "bytes; nothing was applied",
                                                 body.command, options_.max_body_lines, options_.max_body_bytes,
                                                 options_.max_line)},
                                    false, 1}
                    : run_console_command_with_body(body.command, body.lines, api_);
            s.body.reset();
            write_answer(s.output, out, s.framed);
        } else {
            ++done;
            if (line.too_long) {
                write_answer(s.output,
                             CommandOutput{{fmt::format("error: line longer than {} bytes; ignored", options_.max_line)},
                                           false, 1},
                             s.framed);
            } else if (is_http(line.text)) {
                // Whatever follows (a request body of commands) is never run.
                report(fmt::format("console: session from {} closed: it sent HTTP (\"{}\"), as a web page can make a browser do",
                                   s.peer, line.text.substr(0, 64)));
                s.lines.clear();
                s.failed = true;
                return;
            } else if (line.text == "script") {
                s.framed = true;
            } else if (takes_body(line.text)) {
                s.body = Session::Body{std::move(line.text)};
            } else {
                CommandOutput out = run_console_command(line.text, api_);
                write_answer(s.output, out, s.framed);
                s.quit = out.close;
                if (out.more) {
                    s.paging = std::move(out);
                    continue;
                }
            }
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
    if (listeners_.empty()) return;
    std::vector<pollfd> fds;
    fds.reserve(sessions_.size() + listeners_.size());
    bool work_waiting = false;
    for (const auto& s : sessions_) {
        short events = 0;
        if (!s->end_of_input && s->lines.size() < max_queued_lines) events |= POLLIN;
        if (s->pending() != 0) events |= POLLOUT;
        fds.push_back(pollfd{s->fd, events, 0});
        if (((!s->lines.empty() || s->paging) && s->pending() <= output_high_water) || s->needs_prompt)
            work_waiting = true;
    }
    for (const Listener& l : listeners_) fds.push_back(pollfd{l.fd, POLLIN, 0});
    // Lines already read are work: do not sleep on the sockets while they wait.
    const int ready = ::poll(fds.data(), fds.size(), work_waiting ? 0 : timeout_ms);
    if (ready < 0 && errno != EINTR) report(fmt::format("console: poll failed: {}", errno_text(errno)));

    // Sessions accepted below were not in this poll; they are read from the next one on.
    const size_t polled = sessions_.size();
    for (size_t i = 0; i < polled; ++i) {
        Session& s = *sessions_[i];
        const short revents = ready > 0 ? fds[i].revents : 0;
        if (revents & (POLLIN | POLLHUP | POLLERR)) read_input(s);
        run_commands(s);
        write_output(s);
    }
    for (size_t i = 0; i < listeners_.size(); ++i)
        if (ready > 0 && (fds[polled + i].revents & POLLIN)) accept_sessions(listeners_[i]);

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
