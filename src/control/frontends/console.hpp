// The operator console: a line protocol on two doors. The Unix socket (console.socket, by default
// /run/fulcrum/console.sock) is the administrator's: its file is mode 0660 with console.group
// (0600 without one), and each peer's credentials (SO_PEERCRED) must be root or a member of that
// group. The TCP listener (console.listen, off by default) is telnet-style and reaches whoever
// reaches its address. Each line is one command for run_console_command (console_commands.hpp);
// the answer is whole lines, and a prompt is written before each command. Several sessions at once.
//
// `script` turns a session into the framed form programs read (fulcrumadm): no more prompts (the
// session's first one precedes it), each answer's lines prefixed "o " (for standard output) or
// "e " (standard error), then "= STATUS" with the exit status. A command that takes a body (ipvsadm -R) reads the lines after it up to a line
// holding a single ".".
//
// Telnet's IAC sequences are removed from the TCP console's input only: on the Unix socket
// every byte is data, so an argument fulcrumadm passes cannot hide a command in them.
//
// A browser can be made to POST to 127.0.0.1:9023 by any web page it shows. A line that is an
// HTTP request line or header (as Redis decides: "GET ... HTTP/1.1", "Host: ...") closes the
// session at once, before anything after it in the request (its body) is run.
//
// No threads and nothing blocks: the control loop calls poll_once() (every millisecond), which
// polls the non-blocking sockets once, reads what arrived, runs the complete lines and writes
// what the sockets take. Commands therefore run on the control core, where ControlApi expects
// them. docs/console.md describes the protocol and the commands.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <sys/types.h>

#include "control/frontends/control_api.hpp"

namespace fulcrum::control {

struct ConsoleOptions {
    std::string listen;                     // IPV4:PORT; port 0 takes a free port (tests); "" = none
    std::string socket_path;                // the Unix socket; "" = none
    // Besides root, the members of this group may use the Unix socket (the file is then 0660 and
    // owned by it); without one, the file is 0600 and only root is let in.
    std::optional<gid_t> socket_group;
    size_t max_body_lines = 1'000'000;      // of an ipvsadm -R; more is refused whole
    size_t max_body_bytes = 64u << 20;      // the same, in bytes
    size_t max_sessions = 16;               // more are told so and closed
    size_t max_line = 4096;                 // bytes; a longer line is answered with an error and dropped
    size_t max_pending_output = 16u << 20;  // bytes a session may owe; beyond it the session is closed
    size_t commands_per_poll = 4;           // per session and poll_once(), so that no session starves another
    // A session that neither sends nor receives for this long is closed. When all max_sessions
    // are taken, the one idle longest gives way to a newcomer if it has been idle for
    // evict_idle_after: idle connections cannot lock the operators out.
    std::chrono::milliseconds idle_timeout{std::chrono::minutes(10)};
    std::chrono::milliseconds evict_idle_after{std::chrono::seconds(30)};
    std::string prompt = "fulcrum> ";
    // Where the console reports sessions opened, closed and refused, and socket failures; nothing
    // when empty. The director passes log::info (log.cpp needs DPDK, the console does not).
    std::function<void(std::string_view)> log;
};

// "a.b.c.d:port" with a port from 0 to 65535; nullopt for anything else.
std::optional<std::pair<Ipv4, uint16_t>> parse_listen_address(std::string_view text);

class ConsoleServer {
public:
    // `api` must outlive the server; every call to it is made from poll_once().
    explicit ConsoleServer(ControlApi& api, ConsoleOptions options = {});
    ~ConsoleServer();
    ConsoleServer(const ConsoleServer&) = delete;
    ConsoleServer& operator=(const ConsoleServer&) = delete;

    // Opens the Unix socket at options.socket_path and the TCP listener on options.listen, those
    // that are set. A socket file left by a process that is gone is replaced; one where a process
    // still answers is not. Returns "" or what failed (and then nothing listens):
    //   console.listen: expected IPV4:PORT (like 127.0.0.1:9023), found "..."
    //   console: cannot listen on 127.0.0.1:9023: Address already in use   (or any socket error)
    //   console.socket /run/fulcrum/console.sock: another process answers there; ...
    //   console: already listening
    std::string start();

    // One step; waits at most `timeout_ms` for something to happen (0, the control loop's value:
    // not at all). Accepts new sessions, reads what arrived, runs up to commands_per_poll complete
    // lines per session, writes prompts and output, and closes sessions that said quit, reached
    // the end of their input (after their last command's output) or failed. Does nothing before
    // start() or after stop().
    void poll_once(int timeout_ms = 0);

    // Closes every session and the listening sockets, and removes the socket file. start() may be
    // called again.
    void stop();

    // The port listened on (the one the system picked for port 0); 0 when not listening.
    uint16_t port() const { return port_; }
    size_t sessions() const { return sessions_.size(); }

private:
    struct Session;

    struct Listener {
        int fd = -1;
        bool is_unix = false;
    };

    std::string open_tcp();
    std::string open_unix();
    void accept_sessions(const Listener& listener);
    // "" when the Unix peer on `fd` may come in, else why not; `peer` is set to its name.
    std::string check_peer(int fd, std::string& peer) const;
    bool make_room(const std::string& peer);
    void read_input(Session& s);
    void run_commands(Session& s);
    void write_output(Session& s);
    void report(std::string_view message) const;

    ControlApi& api_;
    ConsoleOptions options_;
    std::vector<Listener> listeners_;
    uint16_t port_ = 0;
    // The socket file this server made (device, inode): removed at stop() only while it is.
    std::optional<std::pair<dev_t, ino_t>> socket_inode_;
    std::vector<std::unique_ptr<Session>> sessions_;
};

}  // namespace fulcrum::control
