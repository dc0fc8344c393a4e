// fulcrumadm: ipvsadm's command line for a running director, over its console's Unix socket.
// Installed (or linked) under the name ipvsadm it is ipvsadm to scripts and to ldirectord.
//
// The director does the work: this program sends `script` and one command to the console
// (console.hpp's framed form), copies the "o " lines to standard output and the "e " lines to
// standard error, and exits with the status of the "= N" line, which is ipvsadm's own (0; 1 for
// a listing of a missing service; 2 for a bad command line; 255 for an edit the table refused).
// It never needs DPDK and holds no state.
//
//   fulcrumadm [--socket PATH] IPVSADM-ARGUMENTS...
//   fulcrumadm [--socket PATH] --reload       (validate and apply the file, as SIGHUP)
//   fulcrumadm [--socket PATH] -R < RULES     (ipvsadm-save's lines, applied all or none)
//
// The socket: --socket, else $FULCRUM_CONSOLE_SOCKET, else /run/fulcrum/console.sock.
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "control/frontends/ipvsadm_body.hpp"

namespace {

constexpr const char* default_socket = "/run/fulcrum/console.sock";
// A reload of a large file or a restore of many rules takes the director a moment; a director
// that does not answer in this long is stuck, and a script should hear so.
constexpr int answer_timeout_ms = 60'000;
// As ipvsadm when it cannot reach IPVS ("Can't initialize ipvs", its fail(2, ...)).
constexpr int cannot_reach = 2;
constexpr int bad_command_line = 2;

int fail(int status, const std::string& message)
{
    std::fprintf(stderr, "%s\n", message.c_str());
    return status;
}

// The console reads a line as words split on blanks: an argument holding one, or a control
// character, would change the command. ipvsadm's arguments never do.
bool plain_word(std::string_view arg)
{
    if (arg.empty()) return false;
    for (unsigned char c : arg)
        if (std::isspace(c) || std::iscntrl(c)) return false;
    return true;
}

bool send_all(int fd, std::string_view data)
{
    while (!data.empty()) {
        const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
}

// Copies the framed answer to stdout and stderr; returns its status.
int relay_answer(int fd, const std::string& program)
{
    std::string pending;
    constexpr std::string_view prompt = "fulcrum> ";
    bool prompt_seen = false;
    bool unframed = false;  // the console refused us before `script` (permission denied)
    const auto line_out = [&](std::string_view line) -> std::optional<int> {
        if (line.starts_with("o ")) {
            std::fwrite(line.data() + 2, 1, line.size() - 2, stdout);
            std::fputc('\n', stdout);
        } else if (line.starts_with("e ")) {
            std::fwrite(line.data() + 2, 1, line.size() - 2, stderr);
            std::fputc('\n', stderr);
        } else if (line.starts_with("= ")) {
            return std::atoi(std::string(line.substr(2)).c_str());
        } else {
            unframed = true;
            std::fprintf(stderr, "%s: %.*s\n", program.c_str(), static_cast<int>(line.size()), line.data());
        }
        return std::nullopt;
    };
    for (;;) {
        pollfd p{fd, POLLIN, 0};
        const int ready = ::poll(&p, 1, answer_timeout_ms);
        if (ready < 0 && errno == EINTR) continue;
        if (ready == 0) return fail(cannot_reach, program + ": the director did not answer within 60 s");
        char buf[65536];
        const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n < 0 && errno == EINTR) continue;
        // ECONNRESET (what it had not read when it closed) ends the answer as the end of input does.
        if (n <= 0) {
            if (!pending.empty()) line_out(pending);
            if (unframed) return cannot_reach;
            return fail(cannot_reach, program + ": the director closed the console before answering");
        }
        pending.append(buf, static_cast<size_t>(n));
        // The session's first prompt comes before `script` takes effect.
        if (!prompt_seen && pending.size() >= prompt.size()) {
            if (pending.starts_with(prompt)) pending.erase(0, prompt.size());
            prompt_seen = true;
        }
        if (!prompt_seen) continue;
        size_t start = 0;
        for (size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1) {
            if (auto status = line_out(std::string_view(pending).substr(start, nl - start))) {
                std::fflush(stdout);
                return *status;
            }
        }
        pending.erase(0, start);
    }
}

}  // namespace

int main(int argc, char** argv)
{
    std::string program = argc > 0 ? argv[0] : "fulcrumadm";
    if (const size_t slash = program.rfind('/'); slash != std::string::npos) program.erase(0, slash + 1);

    std::string socket_path = std::getenv("FULCRUM_CONSOLE_SOCKET") ? std::getenv("FULCRUM_CONSOLE_SOCKET") : default_socket;
    std::vector<std::string> args;
    bool reload = false;
    for (int i = 1; i < argc; ++i) {
        const std::string_view a = argv[i];
        if (a == "--socket" && i + 1 < argc) {
            socket_path = argv[++i];
        } else if (a.starts_with("--socket=")) {
            socket_path = std::string(a.substr(9));
        } else if (a == "--reload") {
            reload = true;
        } else {
            if (!plain_word(a))
                return fail(bad_command_line, program + ": argument \"" + std::string(a) +
                                                  "\" is empty or holds a blank or a control character; ipvsadm's "
                                                  "arguments never do");
            args.emplace_back(a);
        }
    }
    // The console's own rule (ipvsadm_body.hpp): both sides agree on whether rules follow.
    const bool restore = fulcrum::control::ipvsadm_takes_body(args);
    if (reload && !args.empty())
        return fail(bad_command_line, program + ": --reload takes no other argument but --socket PATH");

    std::string request = "script\n";
    if (reload) {
        request += "reload\n";
    } else {
        request += "ipvsadm";
        for (const std::string& a : args) request += " " + a;
        request += "\n";
        if (restore) {
            // The rules, then the line "." that ends them; the director applies them as one.
            std::string line;
            while (std::getline(std::cin, line)) {
                if (!line.empty() && line.back() == '\r') line.pop_back();
                if (line == ".") return fail(bad_command_line, program + ": -R: a line \".\" is not a rule");
                request += line + "\n";
            }
            request += ".\n";
        }
    }

    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    if (socket_path.empty() || socket_path.size() >= sizeof sa.sun_path)
        return fail(bad_command_line, program + ": --socket: expected a path of at most 107 bytes");
    socket_path.copy(sa.sun_path, socket_path.size());
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || ::connect(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof sa) != 0)
        return fail(cannot_reach, program + ": cannot reach the director's console at " + socket_path + ": " +
                                      std::strerror(errno) +
                                      " (is fulcrum running, with this console.socket? --socket PATH names another)");
    // Only root's (or our own) process may answer: a socket someone else put at the path would
    // otherwise hear our commands and tell us they succeeded.
    ucred server{};
    socklen_t length = sizeof server;
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &server, &length) != 0 || (server.uid != 0 && server.uid != ::geteuid()))
        return fail(cannot_reach, program + ": " + socket_path + " is served by uid " + std::to_string(server.uid) +
                                      ", not by root: not the director's console");
    // A director that turns us away (permission denied) says why and closes, perhaps before the
    // request is sent: its answer is read all the same.
    (void)send_all(fd, request);
    ::shutdown(fd, SHUT_WR);
    const int status = relay_answer(fd, program);
    ::close(fd);
    return status;
}
