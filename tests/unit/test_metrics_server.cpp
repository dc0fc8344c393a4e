// The Prometheus listener under idle connections: they cannot hold its slots.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "control/frontends/metrics.hpp"

using namespace fulcrum::control;

namespace {

// A non-blocking loopback connection to `port`.
int connect_to(uint16_t port)
{
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons(port);
    EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

// A free loopback port: bound, read back, released.
uint16_t free_port()
{
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
    socklen_t len = sizeof sa;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
    ::close(fd);
    return ntohs(sa.sin_port);
}

}  // namespace

TEST(MetricsServer, IdleConnectionsTimeOutAndTheNextScrapeIsAnswered)
{
    Metrics metrics;
    MetricsServer server(std::chrono::milliseconds(300));
    const uint16_t port = free_port();
    ASSERT_EQ(server.listen("127.0.0.1:" + std::to_string(port)), "");
    // Eight connections that never send a request take every slot.
    std::vector<int> idle;
    for (int i = 0; i < 8; ++i) idle.push_back(connect_to(port));
    for (int i = 0; i < 20; ++i) server.poll_once(metrics);
    const int scraper = connect_to(port);
    const std::string request = "GET /metrics HTTP/1.0\r\n\r\n";
    ASSERT_EQ(::send(scraper, request.data(), request.size(), MSG_NOSIGNAL), static_cast<ssize_t>(request.size()));

    const auto start = std::chrono::steady_clock::now();
    std::string answer;
    bool closed = false;
    while (!closed && std::chrono::steady_clock::now() - start < std::chrono::seconds(5)) {
        server.poll_once(metrics);
        char buf[4096];
        const ssize_t n = ::recv(scraper, buf, sizeof buf, 0);
        if (n > 0) answer.append(buf, static_cast<size_t>(n));
        if (n == 0) closed = true;
        usleep(1000);
    }
    const auto waited = std::chrono::steady_clock::now() - start;
    EXPECT_TRUE(closed);
    EXPECT_EQ(answer.rfind("HTTP/1.0 200 OK\r\n", 0), 0u) << answer;
    // It waited for the idle ones' time to run out, and not much longer.
    EXPECT_GE(waited, std::chrono::milliseconds(250));
    EXPECT_LT(waited, std::chrono::milliseconds(2000));
    // The idle connections were closed by the server.
    for (int fd : idle) {
        char c;
        EXPECT_EQ(::recv(fd, &c, 1, 0), 0);
        ::close(fd);
    }
    ::close(scraper);
}

TEST(Metrics, EachMetricsSamplesFollowItsTypeLineTogether)
{
    // Two real servers and two workers: the samples of a family would interleave if they were
    // written per server or per worker, which the exposition format does not allow.
    ServiceStatus service;
    service.config.vip = 0xC6120064;
    service.config.port = 80;
    for (uint32_t i = 0; i < 2; ++i) {
        RealServerStatus r;
        r.config.address = 0xC613000B + i;
        r.config.port = 8080;
        r.config.weight = 1 + i;
        r.active = 10 + i;
        service.real_servers.push_back(r);
    }
    std::vector<WorkerStatus> workers(2);
    workers[1].worker = 1;
    for (WorkerStatus& w : workers) {
        w.counters.drop(fulcrum::dataplane::DropReason::no_service) = 1;
        w.counters.drop(fulcrum::dataplane::DropReason::martian_source) = 2;
        w.counters.connections_evicted = 5 + w.worker;
        w.counters.removed_by_drop_entry = 7 + w.worker;
        w.counters.stateless_forwarded = 9 + w.worker;
        w.level_secure_tcp = 2 + w.worker;
    }
    Metrics metrics;
    SyncStatus sync;
    sync.counters.connections_sent = 41;
    sync.counters.refused[static_cast<size_t>(fulcrum::control::sync::SyncRefusal::bad_version)] = 3;
    AnnounceStatus announce;
    announce.vips = {{0xC6120064u, true, true},
                     {0xC6120065u, true, false},
                     {*fulcrum::parse_ip("2001:db8:18::100"), false, false}};
    metrics.update({service}, workers, {}, {{"mbufs", 16384, 1200}, {"indirect", 4096, 0}}, sync, announce);
    const std::string text = metrics.prometheus_text();

    std::vector<std::string> order;  // families in the order their samples appear
    std::string typed;               // the family of the last TYPE line
    size_t start = 0;
    while (start < text.size()) {
        const size_t end = text.find('\n', start);
        const std::string line = text.substr(start, end - start);
        start = end + 1;
        if (line.rfind("# TYPE ", 0) == 0) {
            typed = line.substr(7, line.find(' ', 7) - 7);
            continue;
        }
        if (line.empty() || line[0] == '#') continue;
        const std::string family = line.substr(0, line.find_first_of("{ "));
        EXPECT_EQ(family, typed) << line;
        if (order.empty() || order.back() != family) order.push_back(family);
    }
    std::vector<std::string> unique = order;
    std::sort(unique.begin(), unique.end());
    EXPECT_EQ(std::unique(unique.begin(), unique.end()), unique.end()) << "a family's samples are split";
    EXPECT_NE(text.find("fulcrum_worker_connections_evicted_total{worker=\"1\"} 6\n"), std::string::npos) << text;
    EXPECT_NE(text.find("fulcrum_worker_drops_total{worker=\"0\",reason=\"martian_source\"} 2\n"), std::string::npos);
    EXPECT_NE(text.find("fulcrum_worker_removed_by_drop_entry_total{worker=\"0\"} 7\n"), std::string::npos);
    EXPECT_NE(text.find("fulcrum_worker_stateless_forwarded_total{worker=\"1\"} 10\n"), std::string::npos);
    EXPECT_NE(text.find("fulcrum_worker_level_secure_tcp{worker=\"1\"} 3\n"), std::string::npos);
    EXPECT_NE(text.find("fulcrum_worker_level_flood_mode{worker=\"0\"} 0\n"), std::string::npos);
    EXPECT_NE(text.find("fulcrum_weight{"), std::string::npos);
    EXPECT_NE(text.find("fulcrum_mbufs_in_use{pool=\"mbufs\"} 1200\n"), std::string::npos);
    EXPECT_NE(text.find("fulcrum_mbufs{pool=\"indirect\"} 4096\n"), std::string::npos);
    EXPECT_NE(text.find("fulcrum_sync_connections_sent_total 41\n"), std::string::npos);
    EXPECT_NE(text.find("fulcrum_sync_refused_total{reason=\"bad_version\"} 3\n"), std::string::npos);
    EXPECT_NE(text.find("fulcrum_sync_refused_total{reason=\"other_syncid\"} 0\n"), std::string::npos);
    EXPECT_NE(text.find("fulcrum_vip_available{vip=\"198.18.0.101\"} 1\n"), std::string::npos) << text;
    EXPECT_NE(text.find("fulcrum_vip_announced{vip=\"198.18.0.100\"} 1\n"), std::string::npos);
    EXPECT_NE(text.find("fulcrum_vip_announced{vip=\"198.18.0.101\"} 0\n"), std::string::npos);
    EXPECT_NE(text.find("fulcrum_vip_available{vip=\"2001:db8:18::100\"} 0\n"), std::string::npos);
    EXPECT_NE(text.find("fulcrum_vip_announced{vip=\"2001:db8:18::100\"} 0\n"), std::string::npos);
}

TEST(Metrics, WorkerFamiliesAreTheNamesOfWorkerValues)
{
    // fulcrum_worker_NAME_total (counters), fulcrum_worker_NAME (gauges) and
    // fulcrum_worker_drops_total{reason="R"} (drop_R): the names of worker_values, no more.
    WorkerStatus w;
    Metrics metrics;
    metrics.update({}, {w}, {}, {});
    const std::string text = metrics.prometheus_text();
    std::set<std::string> exported;
    size_t start = 0;
    while (start < text.size()) {
        const size_t end = text.find('\n', start);
        const std::string line = text.substr(start, end - start);
        start = end + 1;
        if (line.rfind("fulcrum_worker_", 0) != 0) continue;
        std::string family = line.substr(15, line.find('{') - 15);
        if (family == "drops_total") {
            const size_t r = line.find("reason=\"") + 8;
            exported.insert("drop_" + line.substr(r, line.find('"', r) - r));
        } else {
            if (family.size() > 6 && family.ends_with("_total")) family.resize(family.size() - 6);
            exported.insert(family);
        }
    }
    std::set<std::string> names;
    for (const auto& [name, value] : worker_values(w)) names.insert(name);
    EXPECT_EQ(exported, names);
}
