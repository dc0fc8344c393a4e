// Any bytes as console lines (the ipvsadm options among them): every line gets an answer, the
// director is only ever handed configurations its checker accepts, and nothing crashes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "control/config/config.hpp"
#include "control/config/writer.hpp"
#include "control/frontends/console_commands.hpp"

using namespace fulcrum::control;

namespace {

const char* const base_yaml = R"(interfaces:
  - { name: ext, device: net_tap0, address: 10.0.0.1/24 }
  - { name: int, device: net_tap1, address: 172.16.0.1/24 }
routes:
  - { dst: 0.0.0.0/0, via: 10.0.0.254 }
services:
  - { vip: 10.0.0.100, port: 80, protocol: tcp, scheduler: wrr, persistence: 300,
      real_servers: [{ address: 172.16.0.2, port: 8080, weight: 3 }, { address: 172.16.0.3, port: 8080 }] }
  - { vip: 10.0.0.100, port: 53, protocol: udp, scheduler: mh, scheduler_flags: [mh-port],
      real_servers: [{ address: 172.16.0.2 }, { address: 172.16.0.4, forward: nat }] }
  - { vip: 10.0.0.101, port: 80, protocol: tcp, forward: dr, real_servers: [{ address: 10.0.0.20 }] }
)";

// As the director: edits are checked by the file's checker and kept only when clean.
class Director : public ControlApi {
public:
    Config config = *parse_config(base_yaml, "base.yaml").config;

    const Config& running_config() const override { return config; }
    std::string apply(const Config& next, std::string_view what) override
    {
        if (!check_config(next, std::string(what)).empty()) return "refused";
        config = next;
        return "";
    }
    std::string reload() override { return ""; }
    std::vector<ServiceStatus> services() const override
    {
        std::vector<ServiceStatus> out;
        for (const ServiceConfig& s : config.services) {
            ServiceStatus st;
            st.config = s;
            st.config.real_servers.clear();
            for (const RealServerConfig& rs : s.real_servers) st.real_servers.push_back(RealServerStatus{rs});
            out.push_back(std::move(st));
        }
        return out;
    }
    std::vector<WorkerStatus> workers() const override { return {WorkerStatus{}}; }
    std::vector<ConnectionRow> connections(size_t) override { return {}; }
    std::vector<ConnectionRow> connections_from(ConnectionCursor& cursor, size_t) override
    {
        cursor.end = true;
        return {};
    }
    void zero_counters(const ServiceConfig*) override {}
    uint32_t table_size() const override { return 4096; }
    std::vector<HealthRow> health() const override { return {}; }
    SyncStatus sync_status() const override { return {}; }
    AnnounceStatus announce_status() const override { return {}; }
    std::vector<InterfaceStatus> interfaces() const override { return {}; }
    void count_templates(std::vector<ServiceStatus>&) const override {}
    std::vector<NeighborRow> neighbors() const override { return {}; }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    Director director;
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    size_t start = 0;
    while (start <= text.size()) {
        const size_t end = std::min(text.find('\n', start), text.size());
        const CommandOutput out = run_console_command(text.substr(start, end - start), director);
        if (out.close) break;
        start = end + 1;
    }
    // Whatever the lines did, the configuration in force is one the checker accepts.
    if (!check_config(director.config, "fuzz").empty()) std::abort();
    return 0;
}
