#include <fmt/format.h>

#include "control/frontends/control_api.hpp"

namespace fulcrum::control {

std::vector<std::pair<std::string, uint64_t>> worker_values(const WorkerStatus& w)
{
    std::vector<std::pair<std::string, uint64_t>> out;
    for (size_t i = 0; i < dataplane::worker_counter_count; ++i)
        out.emplace_back(dataplane::worker_counter_names[i], w.counters.*dataplane::worker_counter_fields[i]);
    for (const WorkerGauge& g : worker_gauges) out.emplace_back(g.name, w.*g.field);
    for (size_t r = 0; r < dataplane::drop_reason_count; ++r)
        out.emplace_back(fmt::format("drop_{}", dataplane::drop_reason_names[r]), w.counters.drops[r]);
    return out;
}

std::string telemetry_name(std::string_view name)
{
    std::string out(name);
    for (char& c : out)
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '/')) c = '_';
    return out;
}

}  // namespace fulcrum::control
