// The console's command interpreter: one command line in, whole output lines out. Pure logic over
// a ControlApi (no sockets, no DPDK), so it is tested with a fake director; console.hpp carries
// the lines to and from the operators. docs/console.md describes every command and its output.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "control/frontends/control_api.hpp"

namespace fulcrum::control {

struct CommandOutput {
    std::vector<std::string> lines;  // without line ends; a bad command gives one "error: ..." line
    bool close = false;              // quit / exit: close the session after these lines
    // The exit status a program reports (fulcrumadm): 0, or 1 for a refused command; `ipvsadm`
    // uses ipvsadm's own (2 for a bad command line, 255 for an edit the table refuses).
    int status = 0;
    // An answer too long to hold at once (ipvsadm -L -c of every connection) comes in pages:
    // after `lines`, `more` is called again while it returns true, each time the session has
    // room for more output, and appends the next page's lines to its argument.
    std::function<bool(std::vector<std::string>&)> more;
};

// The number of connections `show conns` and `ipvsadm -L -c` list without a LIMIT, and the
// largest LIMIT accepted.
inline constexpr size_t default_connection_limit = 100;
inline constexpr size_t max_connection_limit = 100000;
// The connections `ipvsadm -L -c` reads from the workers per page.
inline constexpr size_t connection_page = 10000;

// Runs one command (without its line end) against `api`:
//   help | quit | exit | show services|stats|rate|conns [LIMIT]|workers|config |
//   set weight [tcp|udp] VIP:PORT RIP[:PORT] WEIGHT | ipvsadm ARGS... | reload
// A blank line or a line starting with '#' does nothing. Edits copy api.running_config(), change
// the copy and call api.apply(copy, "console: " + the command), then print "ok" or
// "error: " + what apply refused. Never throws on bad input: every mistake is one line starting
// with "error: " that says what was expected.
CommandOutput run_console_command(std::string_view line, ControlApi& api);

// Whether `line` is a command that reads a body, the lines after it up to a line holding a single
// "." (ipvsadm -R: the rules to restore).
bool takes_body(std::string_view line);

// Runs such a command with its body.
CommandOutput run_console_command_with_body(std::string_view line, const std::vector<std::string>& body,
                                            ControlApi& api);

// The `help` text, one line per element.
const std::vector<std::string>& console_help();

}  // namespace fulcrum::control
