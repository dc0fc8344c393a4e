// What the console's commands share: the words of a line, the shape of an answer ("ok", one
// "error: ..." line), endpoints as the operator types them, and an edit applied through
// ControlApi. Internal to src/control/frontends/.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/address.hpp"
#include "control/frontends/console_commands.hpp"

namespace fulcrum::control {

using Words = std::vector<std::string_view>;

Words split_words(std::string_view line);
// The words from `from` on, as the user typed them (one space between).
std::string join(const Words& words, size_t from = 0);

CommandOutput error(std::string message, int status = 1);
CommandOutput ok();
// `text`'s lines appended to `out`.
void add_text(CommandOutput& out, std::string_view text);
void add_lines(std::vector<std::string>& lines, std::string_view text);
// Several lines of a refusal as one: the console answers a command with one error line.
std::string one_line(std::string_view text);

// Endpoints as the operator types them: common/address.hpp's parse_endpoint ("a.b.c.d[:port]",
// "[2001:db8::1][:port]"), so that an IPv6 address is read, and refused by the edits with a
// reason, rather than called malformed.
using Endpoint = ParsedEndpoint;

// Publishes `next` through api.apply, named by the command's words: "ok", or one error line
// with `refused_status`.
CommandOutput apply_change(ControlApi& api, const Config& next, const Words& words, int refused_status = 1);

std::string scheduler_names();  // "rr, wrr, ...", for messages
std::string flag_names();       // "sh-fallback, sh-port, ..."

// `show conns` and `ipvsadm -L -c`: the connections and, when cut short, how to see more.
CommandOutput show_connections(ControlApi& api, size_t limit);

// ipvsadm ARGS (ipvsadm_command.cpp).
CommandOutput ipvsadm_command(const Words& words, ControlApi& api);
// Whether the words are ipvsadm -R (--restore), and the restore of `rules` (ipvsadm-save's
// lines, each with or without a leading "ipvsadm") as one change: all of them or none.
bool is_ipvsadm_restore(const Words& words);
CommandOutput ipvsadm_restore(const Words& words, const std::vector<std::string>& rules, ControlApi& api);

}  // namespace fulcrum::control
