// Log lines with a level, on stderr: "2026-11-26T14:17:21.042Z INFO message".
#pragma once

#include <fmt/format.h>

#include <string_view>

namespace fulcrum::log {

enum class Level { debug, info, warning, error };

void set_level(Level lowest);
bool enabled(Level level);
void write(Level level, std::string_view message);

// Sends DPDK's own log lines through write(), with their level, instead of bare to stderr.
// Call before rte_eal_init.
void capture_dpdk_log();

template <typename... Args>
void debug(fmt::format_string<Args...> f, Args&&... args)
{
    if (enabled(Level::debug)) write(Level::debug, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void info(fmt::format_string<Args...> f, Args&&... args)
{
    if (enabled(Level::info)) write(Level::info, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void warning(fmt::format_string<Args...> f, Args&&... args)
{
    write(Level::warning, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void error(fmt::format_string<Args...> f, Args&&... args)
{
    write(Level::error, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace fulcrum::log
