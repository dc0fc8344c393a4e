#include "control/frontends/metrics.hpp"

#include "control/socket_io.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fmt/format.h>

namespace fulcrum::control {

namespace {

constexpr size_t max_clients = 8;
constexpr size_t max_request = 8192;

std::string service_label(Protocol protocol, const IpAddress& vip, uint16_t port)
{
    return fmt::format("protocol=\"{}\",vip=\"{}\",port=\"{}\"", protocol_name(protocol), format_ip(vip), port);
}

std::string service_label(const ServiceConfig& s) { return service_label(s.protocol, s.vip, s.port); }

std::string real_server_label(const std::string& service, const IpAddress& address, uint16_t port)
{
    return fmt::format("{},real_server=\"{}\"", service, format_endpoint(address, port));
}

void add_stats(std::string& out, std::string_view metric, const std::string& labels, uint64_t value)
{
    out += fmt::format("{}{{{}}} {}\n", metric, labels, value);
}


}  // namespace

void Metrics::update(const std::vector<ServiceStatus>& services, const std::vector<WorkerStatus>& workers,
                     const std::vector<HealthRow>& health, const std::vector<PoolStatus>& pools, const SyncStatus& sync,
                     const AnnounceStatus& announce)
{
    std::lock_guard lock(mutex_);
    services_ = services;
    workers_ = workers;
    health_ = health;
    pools_ = pools;
    sync_ = sync;
    announce_ = announce;
}

std::string Metrics::prometheus_text() const
{
    std::lock_guard lock(mutex_);
    std::string out;
    struct Family {
        const char* name;
        const char* type;
        const char* help;
    };
    const Family families[] = {
        {"fulcrum_connections_total", "counter", "Connections scheduled."},
        {"fulcrum_packets_in_total", "counter", "Packets from clients to real servers."},
        {"fulcrum_packets_out_total", "counter", "Packets from real servers to clients (NAT)."},
        {"fulcrum_bytes_in_total", "counter", "Bytes from clients to real servers."},
        {"fulcrum_bytes_out_total", "counter", "Bytes from real servers to clients (NAT)."},
    };
    for (size_t f = 0; f < std::size(families); ++f) {
        out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", families[f].name, families[f].help, families[f].name, families[f].type);
        for (const ServiceStatus& s : services_) {
            const uint64_t values[] = {s.stats.conns, s.stats.in_packets, s.stats.out_packets, s.stats.in_bytes, s.stats.out_bytes};
            add_stats(out, families[f].name, service_label(s.config), values[f]);
            for (const RealServerStatus& r : s.real_servers) {
                const uint64_t rv[] = {r.stats.conns, r.stats.in_packets, r.stats.out_packets, r.stats.in_bytes, r.stats.out_bytes};
                add_stats(out, families[f].name,
                          real_server_label(service_label(s.config), r.config.address, r.config.port),
                          rv[f]);
            }
        }
    }
    const Family gauges[] = {
        {"fulcrum_active_connections", "gauge", "ActiveConn, as ipvsadm."},
        {"fulcrum_inactive_connections", "gauge", "InActConn, as ipvsadm."},
        {"fulcrum_weight", "gauge", "The weight in force."},
    };
    for (size_t f = 0; f < std::size(gauges); ++f) {
        // The exposition format wants each metric's samples together, after its HELP and TYPE.
        out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", gauges[f].name, gauges[f].help, gauges[f].name, gauges[f].type);
        for (const ServiceStatus& s : services_)
            for (const RealServerStatus& r : s.real_servers) {
                const uint64_t values[] = {r.active, r.inactive, r.config.weight};
                add_stats(out, gauges[f].name, real_server_label(service_label(s.config), r.config.address, r.config.port),
                          values[f]);
            }
    }
    // Every checked real server, in the table or not, so that an alert can fire on 0.
    out += "# HELP fulcrum_real_server_up 1 while the health check finds the real server up (sorry servers: while "
           "active).\n# TYPE fulcrum_real_server_up gauge\n";
    for (const HealthRow& h : health_) {
        const std::string labels = fmt::format(
            "{},check=\"{}\"", real_server_label(service_label(h.protocol, h.vip, h.vport), h.address, h.port), h.check);
        add_stats(out, "fulcrum_real_server_up", labels, h.state == HealthState::up || h.state == HealthState::sorry_active ? 1 : 0);
    }
    // The workers' values under the names of FULCRUM_WORKER_COUNTERS and FULCRUM_WORKER_GAUGES:
    // fulcrum_worker_NAME_total for a counter, fulcrum_worker_NAME for a gauge, and the drops as
    // fulcrum_worker_drops_total{reason="REASON"} (drop_REASON elsewhere).
    for (size_t i = 0; i < dataplane::worker_counter_count; ++i) {
        const std::string name = fmt::format("fulcrum_worker_{}_total", dataplane::worker_counter_names[i]);
        out += fmt::format("# HELP {0} {1}.\n# TYPE {0} counter\n", name, dataplane::worker_counter_descriptions[i]);
        for (const WorkerStatus& w : workers_)
            add_stats(out, name, fmt::format("worker=\"{}\"", w.worker), w.counters.*dataplane::worker_counter_fields[i]);
    }
    for (const WorkerGauge& g : worker_gauges) {
        const std::string name = fmt::format("fulcrum_worker_{}", g.name);
        out += fmt::format("# HELP {0} {1}.\n# TYPE {0} gauge\n", name, g.description);
        for (const WorkerStatus& w : workers_) add_stats(out, name, fmt::format("worker=\"{}\"", w.worker), w.*g.field);
    }
    out += "# HELP fulcrum_worker_drops_total Packets dropped, by reason.\n# TYPE fulcrum_worker_drops_total counter\n";
    for (const WorkerStatus& w : workers_)
        for (size_t r = 0; r < dataplane::drop_reason_count; ++r)
            add_stats(out, "fulcrum_worker_drops_total",
                      fmt::format("worker=\"{}\",reason=\"{}\"", w.worker, dataplane::drop_reason_names[r]), w.counters.drops[r]);
    out += "# HELP fulcrum_mbufs Packet buffers in the pool.\n# TYPE fulcrum_mbufs gauge\n";
    for (const PoolStatus& p : pools_) add_stats(out, "fulcrum_mbufs", fmt::format("pool=\"{}\"", p.name), p.size);
    out += "# HELP fulcrum_mbufs_in_use Packet buffers taken.\n# TYPE fulcrum_mbufs_in_use gauge\n";
    for (const PoolStatus& p : pools_) add_stats(out, "fulcrum_mbufs_in_use", fmt::format("pool=\"{}\"", p.name), p.in_use);
    // Connection sync's daemon (the workers' side is in fulcrum_worker_sync_*).
    const sync::SyncCounters& c = sync_.counters;
    const std::pair<const char*, uint64_t> sync_counters[] = {
        {"messages_sent", c.messages_sent},         {"connections_sent", c.connections_sent},
        {"send_errors", c.send_errors},             {"messages_received", c.messages_received},
        {"connections_received", c.connections_received}, {"delivery_full", c.delivery_full},
    };
    for (const auto& [name, value] : sync_counters)
        out += fmt::format("# HELP fulcrum_sync_{0}_total Connection sync: {0}.\n# TYPE fulcrum_sync_{0}_total counter\n"
                           "fulcrum_sync_{0}_total {1}\n",
                           name, value);
    out += "# HELP fulcrum_sync_refused_total Sync datagrams dropped and records skipped, by reason.\n"
           "# TYPE fulcrum_sync_refused_total counter\n";
    for (size_t r = 0; r < sync::sync_refusal_count; ++r)
        add_stats(out, "fulcrum_sync_refused_total", fmt::format("reason=\"{}\"", sync::sync_refusal_names[r]), c.refused[r]);
    // Route health injection: what a VIP's services can do, and what the routing daemon is told.
    out += "# HELP fulcrum_vip_available 1 while one of the VIP's services has enough usable real servers.\n"
           "# TYPE fulcrum_vip_available gauge\n";
    for (const AnnounceStatus::Vip& v : announce_.vips)
        add_stats(out, "fulcrum_vip_available", fmt::format("vip=\"{}\"", format_ip(v.address)), v.available ? 1 : 0);
    out += "# HELP fulcrum_vip_announced 1 while the VIP's route is in announce.table.\n"
           "# TYPE fulcrum_vip_announced gauge\n";
    for (const AnnounceStatus::Vip& v : announce_.vips)
        add_stats(out, "fulcrum_vip_announced", fmt::format("vip=\"{}\"", format_ip(v.address)), v.announced ? 1 : 0);
    return out;
}

MetricsServer::~MetricsServer()
{
    for (Client& c : clients_) ::close(c.fd);
    if (listen_fd_ >= 0) ::close(listen_fd_);
}

std::string MetricsServer::listen(const std::string& address_port)
{
    const size_t colon = address_port.rfind(':');
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(std::stoi(address_port.substr(colon + 1))));
    if (inet_pton(AF_INET, address_port.substr(0, colon).c_str(), &addr.sin_addr) != 1) return "not an IPv4 address";
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    const int on = 1;
    setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    if (listen_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listen_fd_, 16) != 0) {
        const std::string why = std::strerror(errno);
        if (listen_fd_ >= 0) ::close(listen_fd_);
        listen_fd_ = -1;
        return why;
    }
    return {};
}

void MetricsServer::poll_once(const Metrics& metrics)
{
    if (listen_fd_ < 0) return;
    while (clients_.size() < max_clients) {
        const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) break;
        clients_.push_back({fd, std::chrono::steady_clock::now() + client_timeout_, {}, {}, 0});
    }
    const auto now = std::chrono::steady_clock::now();
    for (size_t i = 0; i < clients_.size();) {
        Client& c = clients_[i];
        bool done = now >= c.deadline;
        if (!done && c.response.empty()) {
            char buf[2048];
            const ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
            if (n > 0) c.request.append(buf, static_cast<size_t>(n));
            if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) || c.request.size() > max_request) done = true;
            if (c.request.find("\r\n\r\n") != std::string::npos || c.request.find("\n\n") != std::string::npos) {
                const bool wanted = c.request.rfind("GET /metrics ", 0) == 0 || c.request.rfind("GET / ", 0) == 0;
                const std::string body = wanted ? metrics.prometheus_text() : "not found: try GET /metrics\n";
                c.response = fmt::format("HTTP/1.0 {}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\n"
                                         "Connection: close\r\n\r\n{}",
                                         wanted ? "200 OK" : "404 Not Found", body.size(), body);
            }
        }
        if (!done && !c.response.empty()) {
            if (send_pending(c.fd, c.response, c.sent) != 0 || c.sent == c.response.size()) done = true;
        }
        if (done) {
            ::close(c.fd);
            clients_[i] = clients_.back();
            clients_.pop_back();
        } else {
            ++i;
        }
    }
}

}  // namespace fulcrum::control
