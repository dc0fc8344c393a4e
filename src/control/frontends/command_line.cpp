#include "control/frontends/command_line.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <charconv>
#include <chrono>
#include <ctime>
#include <map>
#include <optional>
#include <span>

#include "common/text.hpp"
#include "control/frontends/ipvsadm_format.hpp"


namespace fulcrum::control {

Words split_words(std::string_view line)
{
    Words words;
    size_t i = 0;
    while (i < line.size()) {
        while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
        const size_t start = i;
        while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
        if (i > start) words.push_back(line.substr(start, i - start));
    }
    return words;
}

std::string join(const Words& words, size_t from)
{
    return fulcrum::join(std::span(words).subspan(std::min(from, words.size())), " ");
}

CommandOutput error(std::string message, int status) { return CommandOutput{{"error: " + std::move(message)}, false, status}; }

CommandOutput ok() { return CommandOutput{{"ok"}, false}; }

void add_lines(std::vector<std::string>& lines, std::string_view text)
{
    size_t start = 0;
    while (start < text.size()) {
        size_t end = text.find('\n', start);
        if (end == std::string_view::npos) end = text.size();
        lines.emplace_back(text.substr(start, end - start));
        start = end + 1;
    }
}

void add_text(CommandOutput& out, std::string_view text) { add_lines(out.lines, text); }

std::string one_line(std::string_view text)
{
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
    std::string out;
    for (char c : text) {
        if (c == '\n')
            out += "; ";
        else if (c != '\r')
            out += c;
    }
    return out;
}

CommandOutput apply_change(ControlApi& api, const Config& next, const Words& words, int refused_status)
{
    const std::string why = api.apply(next, "console: " + join(words));
    if (why.empty()) return ok();
    return error(one_line(why), refused_status);
}

std::string scheduler_names()
{
    std::string out;
    for (sched::Kind k : sched::all_kinds) {
        if (!out.empty()) out += ", ";
        out += sched::kind_name(k);
    }
    return out;
}

std::string flag_names()
{
    std::string out;
    for (std::string_view f : sched::flag_names) {
        if (!out.empty()) out += ", ";
        out += f;
    }
    return out;
}

CommandOutput show_connections(ControlApi& api, size_t limit)
{
    const std::vector<ConnectionRow> rows = api.connections(limit);
    CommandOutput out;
    add_text(out, format_ipvsadm_connections(rows));
    if (rows.size() >= limit)
        out.lines.push_back(fmt::format("(the first {} connections; \"show conns LIMIT\" shows up to {})", limit,
                                        max_connection_limit));
    return out;
}

}  // namespace fulcrum::control
