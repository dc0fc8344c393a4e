#include "control/log.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <string>

#include <rte_log.h>

namespace fulcrum::log {

namespace {
Level lowest_level = Level::info;

const char* level_name(Level level)
{
    switch (level) {
    case Level::debug: return "DEBUG";
    case Level::info: return "INFO";
    case Level::warning: return "WARNING";
    case Level::error: return "ERROR";
    }
    return "?";
}
}  // namespace

void set_level(Level lowest) { lowest_level = lowest; }

bool enabled(Level level) { return level >= lowest_level; }

void write(Level level, std::string_view message)
{
    using namespace std::chrono;
    const auto now = system_clock::now();
    const std::time_t seconds = system_clock::to_time_t(now);
    const auto millis = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &utc);
    // One fprintf per line, so lines from different threads do not interleave.
    std::fprintf(stderr, "%s.%03dZ %s %.*s\n", stamp, static_cast<int>(millis), level_name(level),
                 static_cast<int>(message.size()), message.data());
}

}  // namespace fulcrum::log

namespace fulcrum::log {

namespace {

Level from_dpdk(int level)
{
    if (level <= static_cast<int>(RTE_LOG_ERR)) return Level::error;
    if (level == static_cast<int>(RTE_LOG_WARNING)) return Level::warning;
    if (level <= static_cast<int>(RTE_LOG_INFO)) return Level::info;
    return Level::debug;
}

// DPDK writes each message with one or more fwrite calls ending in '\n'; the stream buffers
// partial lines per thread so that a message is logged whole with its level.
ssize_t dpdk_log_write(void*, const char* data, size_t size)
{
    thread_local std::string pending;
    pending.append(data, size);
    size_t end;
    while ((end = pending.find('\n')) != std::string::npos) {
        const Level level = from_dpdk(rte_log_cur_msg_loglevel());
        if (enabled(level)) write(level, std::string_view(pending).substr(0, end));
        pending.erase(0, end + 1);
    }
    return static_cast<ssize_t>(size);
}

}  // namespace

void capture_dpdk_log()
{
    cookie_io_functions_t functions{};
    functions.write = dpdk_log_write;
    if (FILE* stream = fopencookie(nullptr, "w", functions)) {
        setvbuf(stream, nullptr, _IONBF, 0);
        rte_openlog_stream(stream);
    }
}

}  // namespace fulcrum::log
