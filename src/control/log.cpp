#include "control/log.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>

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
