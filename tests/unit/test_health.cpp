// The health checker over real loopback sockets: tcp checks against a listener and a refusing
// port, rise and fall, http checks against a small server in a thread (status, body, what it was
// asked), timeouts while connecting and while waiting for an answer, and configure() keeping,
// abandoning and forgetting. Every wait is bounded.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "control/health/health.hpp"

using namespace fulcrum;
using namespace fulcrum::control;
using namespace std::chrono_literals;
using Clock = HealthMonitor::Clock;

namespace {

constexpr Ipv4 loopback = 0x7F000001;
const IpAddress loopback6 = *parse_ip("::1");
constexpr Ipv4 vip = 0xCB00710A;  // 203.0.113.10
constexpr uint16_t vport = 80;

uint16_t local_port(int fd)
{
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
    return ntohs(ss.ss_family == AF_INET6 ? reinterpret_cast<const sockaddr_in6&>(ss).sin6_port
                                          : reinterpret_cast<const sockaddr_in&>(ss).sin_port);
}

// A TCP socket bound to a free port of `address` (127.0.0.1 or ::1).
int bound_socket(const IpAddress& address)
{
    sockaddr_storage ss{};
    socklen_t len = 0;
    if (address.is_ipv4()) {
        auto& sa = reinterpret_cast<sockaddr_in&>(ss);
        sa.sin_family = AF_INET;
        sa.sin_addr.s_addr = htonl(address.ipv4());
        len = sizeof sa;
    } else {
        auto& sa = reinterpret_cast<sockaddr_in6&>(ss);
        sa.sin6_family = AF_INET6;
        std::copy(address.bytes().begin(), address.bytes().end(), sa.sin6_addr.s6_addr);
        len = sizeof sa;
    }
    const int fd = ::socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    EXPECT_EQ(::bind(fd, reinterpret_cast<const sockaddr*>(&ss), len), 0) << format_ip(address);
    return fd;
}

// A socket bound to a free loopback port. Until listen() it refuses connections (RST) while
// keeping the port from anyone else, so "closed" and then "open" is the same port.
class LoopbackPort {
public:
    explicit LoopbackPort(const IpAddress& address = loopback)
    {
        fd_ = bound_socket(address);
        port_ = local_port(fd_);
    }
    ~LoopbackPort() { ::close(fd_); }
    LoopbackPort(const LoopbackPort&) = delete;
    LoopbackPort& operator=(const LoopbackPort&) = delete;

    // Connections complete in the kernel and wait, never accepted, in a queue of `backlog`.
    void listen(int backlog = 64) { ASSERT_EQ(::listen(fd_, backlog), 0); }
    uint16_t port() const { return port_; }

private:
    int fd_ = -1;
    uint16_t port_ = 0;
};

// A one-response HTTP server in a thread: reads each request to its blank line, records it,
// writes `response` and closes (or, with hold_open, keeps the connection until destroyed).
class HttpStub {
public:
    explicit HttpStub(std::string response, bool hold_open = false, const IpAddress& address = loopback)
        : response_(std::move(response)), hold_open_(hold_open)
    {
        fd_ = bound_socket(address);
        EXPECT_EQ(::listen(fd_, 16), 0);
        port_ = local_port(fd_);
        thread_ = std::thread([this] { serve(); });
    }
    ~HttpStub()
    {
        stop_ = true;
        thread_.join();
        ::close(fd_);
    }
    HttpStub(const HttpStub&) = delete;
    HttpStub& operator=(const HttpStub&) = delete;

    uint16_t port() const { return port_; }
    std::vector<std::string> requests() const
    {
        std::lock_guard lock(mutex_);
        return requests_;
    }

private:
    bool wait_readable(int fd) const
    {
        pollfd p{fd, POLLIN, 0};
        while (!stop_)
            if (::poll(&p, 1, 10) > 0) return true;
        return false;
    }

    void serve()
    {
        while (wait_readable(fd_)) {
            const int conn = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
            if (conn < 0) continue;
            std::string request;
            char buf[1024];
            while (request.find("\r\n\r\n") == std::string::npos && wait_readable(conn)) {
                const ssize_t n = ::recv(conn, buf, sizeof buf, 0);
                if (n <= 0) break;
                request.append(buf, static_cast<size_t>(n));
            }
            {
                std::lock_guard lock(mutex_);
                requests_.push_back(request);
            }
            if (!response_.empty()) (void)::send(conn, response_.data(), response_.size(), MSG_NOSIGNAL);
            while (hold_open_ && !stop_) std::this_thread::sleep_for(5ms);
            ::close(conn);
        }
    }

    std::string response_;
    bool hold_open_ = false;
    int fd_ = -1;
    uint16_t port_ = 0;
    std::atomic<bool> stop_{false};
    mutable std::mutex mutex_;
    std::vector<std::string> requests_;
    std::thread thread_;
};

HealthCheckConfig tcp_check(uint32_t rise = 2, uint32_t fall = 3, uint32_t timeout_ms = 1000)
{
    HealthCheckConfig c;
    c.type = HealthCheckType::tcp;
    c.interval_ms = 5000;
    c.timeout_ms = timeout_ms;
    c.rise = rise;
    c.fall = fall;
    return c;
}

HealthCheckConfig http_check(std::string path = "/", std::string expect_body = "", uint32_t timeout_ms = 1000)
{
    HealthCheckConfig c = tcp_check();
    c.type = HealthCheckType::http;
    c.timeout_ms = timeout_ms;
    c.http.path = std::move(path);
    c.http.expect_body = std::move(expect_body);
    return c;
}

struct Server {
    uint16_t port;
    HealthCheckConfig check;
};

// One tcp service on vip:80 with its real servers on loopback (127.0.0.1, or `address`).
Config service_with(const std::vector<Server>& servers, const IpAddress& address = loopback)
{
    Config config;
    ServiceConfig service;
    service.vip = vip;
    service.port = vport;
    for (const Server& s : servers) {
        RealServerConfig rs;
        rs.address = address;
        rs.port = s.port;
        rs.health_check = s.check;
        service.real_servers.push_back(rs);
    }
    config.services.push_back(service);
    return config;
}

HealthTarget target_on(uint16_t port, const IpAddress& address = loopback)
{
    return HealthTarget{Protocol::tcp, vip, vport, address, port};
}

// Polls until the target's check has finished (or `limit` has passed, a test failure), and
// returns every change reported meanwhile.
std::vector<HealthChange> finish_check(HealthMonitor& monitor, const HealthTarget& target,
                                       std::chrono::milliseconds limit = 5000ms)
{
    std::vector<HealthChange> changes;
    const auto deadline = Clock::now() + limit;
    for (;;) {
        for (HealthChange& c : monitor.poll(Clock::now())) changes.push_back(std::move(c));
        if (!monitor.statuses().at(target).in_flight) return changes;
        if (Clock::now() > deadline) {
            ADD_FAILURE() << "check still in flight after " << limit.count() << " ms";
            return changes;
        }
        std::this_thread::sleep_for(1ms);
    }
}

std::vector<HealthChange> run_check(HealthMonitor& monitor, const HealthTarget& target)
{
    monitor.start_check(target, Clock::now());
    EXPECT_TRUE(monitor.statuses().at(target).in_flight);
    return finish_check(monitor, target);
}

const HealthStatus& status_of(const HealthMonitor& monitor, const HealthTarget& target)
{
    return monitor.statuses().at(target);
}

// What the checker must send: HTTP/1.0, so that the server closes and EOF ends the answer.
std::string expected_request(const std::string& path, const std::string& host)
{
    return "GET " + path + " HTTP/1.0\r\nHost: " + host +
           "\r\nUser-Agent: fulcrum-health\r\nConnection: close\r\n\r\n";
}

}  // namespace

TEST(HttpParsing, StatusLine)
{
    EXPECT_EQ(parse_http_status("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), 200);
    EXPECT_EQ(parse_http_status("HTTP/1.0 404 Not Found\r\n"), 404);
    EXPECT_EQ(parse_http_status("HTTP/1.1 503\r\n"), 503);
    EXPECT_EQ(parse_http_status("HTTP/1.1 204"), 204);  // all that has arrived
    EXPECT_EQ(parse_http_status("HTTP/2 301 Moved\n"), 301);
    EXPECT_EQ(parse_http_status(""), std::nullopt);
    EXPECT_EQ(parse_http_status("HTTP/1.1"), std::nullopt);
    EXPECT_EQ(parse_http_status("HTTP/1.1 20"), std::nullopt);
    EXPECT_EQ(parse_http_status("HTTP/1.1 2000 OK"), std::nullopt);
    EXPECT_EQ(parse_http_status("HTTP/1.1 2x0 OK"), std::nullopt);
    EXPECT_EQ(parse_http_status("HTTP/1.1  200 OK"), std::nullopt);
    EXPECT_EQ(parse_http_status("HTTP/ 200 OK"), std::nullopt);
    EXPECT_EQ(parse_http_status("HTTP/1. 200 OK"), std::nullopt);
    EXPECT_EQ(parse_http_status("http/1.1 200 OK"), std::nullopt);
    EXPECT_EQ(parse_http_status("SSH-2.0-OpenSSH_9.2p1\r\n"), std::nullopt);
    EXPECT_EQ(parse_http_status(" HTTP/1.1 200 OK"), std::nullopt);
    // Found by fuzz_http: a status below 100 is no status at all.
    EXPECT_EQ(parse_http_status("HTTP/1.1 002 OK\r\nTran\xff\xff\xff\xffTP/1.0 ng: \n5\r\n"), std::nullopt);
    EXPECT_EQ(parse_http_status("HTTP/1.1 099 OK\r\n"), std::nullopt);
    EXPECT_EQ(parse_http_status("HTTP/1.1 100 Continue\r\n"), 100);
    EXPECT_EQ(parse_http_status("HTTP/1.1 999 Odd\r\n"), 999);
}

TEST(HttpParsing, StatusRanges)
{
    const std::vector<StatusRange> ok{{200, 299}};
    EXPECT_TRUE(status_accepted(200, ok));
    EXPECT_TRUE(status_accepted(299, ok));
    EXPECT_FALSE(status_accepted(199, ok));
    EXPECT_FALSE(status_accepted(300, ok));

    const std::vector<StatusRange> several{{200, 200}, {301, 302}};
    EXPECT_TRUE(status_accepted(200, several));
    EXPECT_FALSE(status_accepted(201, several));
    EXPECT_TRUE(status_accepted(301, several));
    EXPECT_TRUE(status_accepted(302, several));
    EXPECT_FALSE(status_accepted(303, several));

    EXPECT_TRUE(status_accepted(250, {}));  // none given: the default
    EXPECT_FALSE(status_accepted(404, {}));

    EXPECT_EQ(format_status_ranges(ok), "200-299");
    EXPECT_EQ(format_status_ranges(several), "200,301-302");
    EXPECT_EQ(format_status_ranges({{500, 599}, {404, 404}}), "500-599,404");
    EXPECT_EQ(format_status_ranges({}), "200-299");
}

TEST(TcpCheck, SucceedsAgainstListener)
{
    LoopbackPort server;
    server.listen();
    HealthMonitor monitor;
    monitor.configure(service_with({{server.port(), tcp_check()}}));
    const HealthTarget target = target_on(server.port());
    ASSERT_EQ(monitor.statuses().size(), 1u);
    EXPECT_EQ(status_of(monitor, target).last_result, "");
    EXPECT_TRUE(status_of(monitor, target).up);

    const auto before = Clock::now();
    EXPECT_TRUE(run_check(monitor, target).empty());
    const HealthStatus& s = status_of(monitor, target);
    EXPECT_EQ(s.last_result, "ok");
    EXPECT_TRUE(s.reason.starts_with("connected in ")) << s.reason;
    EXPECT_TRUE(s.reason.ends_with(" ms")) << s.reason;
    EXPECT_EQ(s.successes, 1u);
    EXPECT_EQ(s.failures, 0u);
    EXPECT_TRUE(s.up);
    EXPECT_FALSE(s.in_flight);
    EXPECT_GE(s.last_check, before);
}

TEST(TcpCheck, FailsAgainstClosedPort)
{
    LoopbackPort closed;
    HealthMonitor monitor;
    monitor.configure(service_with({{closed.port(), tcp_check()}}));
    const HealthTarget target = target_on(closed.port());

    EXPECT_TRUE(run_check(monitor, target).empty());  // fall 3: one failure changes nothing
    const HealthStatus& s = status_of(monitor, target);
    EXPECT_EQ(s.last_result, "failed");
    EXPECT_EQ(s.reason, "connect: Connection refused");
    EXPECT_EQ(s.failures, 1u);
    EXPECT_EQ(s.successes, 0u);
    EXPECT_TRUE(s.up);
    EXPECT_TRUE(monitor.is_up(target));
}

TEST(TcpCheck, CheckPortOverridesRealServerPort)
{
    LoopbackPort serving;
    serving.listen();
    LoopbackPort closed;
    HealthCheckConfig check = tcp_check();
    check.port = serving.port();
    HealthMonitor monitor;
    monitor.configure(service_with({{closed.port(), check}}));
    const HealthTarget target = target_on(closed.port());
    run_check(monitor, target);
    EXPECT_EQ(status_of(monitor, target).last_result, "ok") << status_of(monitor, target).reason;
}

TEST(TcpCheck, FallThenRise)
{
    LoopbackPort server;  // refusing until it listens
    HealthMonitor monitor;
    monitor.configure(service_with({{server.port(), tcp_check(2, 2)}}));
    const HealthTarget target = target_on(server.port());
    const auto configured = status_of(monitor, target).changed;

    EXPECT_TRUE(run_check(monitor, target).empty());
    EXPECT_TRUE(monitor.is_up(target));
    EXPECT_EQ(status_of(monitor, target).failures, 1u);

    auto changes = run_check(monitor, target);
    ASSERT_EQ(changes.size(), 1u);
    EXPECT_EQ(changes[0].target, target);
    EXPECT_FALSE(changes[0].up);
    EXPECT_EQ(changes[0].reason, "2 failed checks in a row (fall 2): connect: Connection refused");
    EXPECT_FALSE(monitor.is_up(target));
    EXPECT_EQ(status_of(monitor, target).failures, 2u);
    EXPECT_GE(status_of(monitor, target).changed, configured);

    // Already down: a further failure is counted, and is no change.
    EXPECT_TRUE(run_check(monitor, target).empty());
    EXPECT_EQ(status_of(monitor, target).failures, 3u);
    EXPECT_FALSE(monitor.is_up(target));

    server.listen();
    EXPECT_TRUE(run_check(monitor, target).empty());
    EXPECT_FALSE(monitor.is_up(target));
    EXPECT_EQ(status_of(monitor, target).successes, 1u);
    EXPECT_EQ(status_of(monitor, target).failures, 0u);

    changes = run_check(monitor, target);
    ASSERT_EQ(changes.size(), 1u);
    EXPECT_TRUE(changes[0].up);
    EXPECT_EQ(changes[0].reason, "2 good checks in a row (rise 2): connected");
    EXPECT_TRUE(monitor.is_up(target));
    EXPECT_EQ(status_of(monitor, target).successes, 2u);

    EXPECT_TRUE(run_check(monitor, target).empty());
    EXPECT_EQ(status_of(monitor, target).successes, 3u);
}

TEST(TcpCheck, SuccessInterruptsARunOfFailures)
{
    LoopbackPort server;
    HealthMonitor monitor;
    monitor.configure(service_with({{server.port(), tcp_check(1, 2)}}));
    const HealthTarget target = target_on(server.port());
    EXPECT_TRUE(run_check(monitor, target).empty());
    EXPECT_EQ(status_of(monitor, target).failures, 1u);
    server.listen();
    EXPECT_TRUE(run_check(monitor, target).empty());
    EXPECT_EQ(status_of(monitor, target).failures, 0u);
    EXPECT_TRUE(monitor.is_up(target));
}

TEST(TcpCheck, OneCheckAtATime)
{
    LoopbackPort server;
    server.listen();
    HealthMonitor monitor;
    monitor.configure(service_with({{server.port(), tcp_check()}}));
    const HealthTarget target = target_on(server.port());
    monitor.start_check(target, Clock::now());
    monitor.start_check(target, Clock::now());  // in flight: ignored
    finish_check(monitor, target);
    EXPECT_EQ(status_of(monitor, target).successes, 1u);
    EXPECT_TRUE(monitor.poll(Clock::now()).empty());
}

TEST(TcpCheck, UnknownAndUncheckedTargetsAreNotChecked)
{
    LoopbackPort server;
    server.listen();
    HealthMonitor monitor;
    monitor.configure(service_with({{server.port(), HealthCheckConfig{}}}));  // type none
    const HealthTarget target = target_on(server.port());
    monitor.start_check(target, Clock::now());
    EXPECT_FALSE(status_of(monitor, target).in_flight);
    EXPECT_TRUE(monitor.poll(Clock::now()).empty());
    EXPECT_EQ(status_of(monitor, target).last_result, "");

    const HealthTarget unknown = target_on(static_cast<uint16_t>(server.port() + 1));
    monitor.start_check(unknown, Clock::now());
    EXPECT_TRUE(monitor.is_up(unknown));
    EXPECT_EQ(monitor.statuses().size(), 1u);
}

// With a listen backlog of 0 the kernel takes one connection; further SYNs are dropped while it
// waits unaccepted, so a connect hangs in SYN-SENT as to a server that has gone away.
TEST(TcpCheck, TimesOutWhileConnecting)
{
    LoopbackPort server;
    server.listen(0);
    std::vector<int> fillers;
    for (int i = 0; i < 8; ++i) {
        const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        fillers.push_back(fd);
        sockaddr_in sa{};
        sa.sin_family = AF_INET;
        sa.sin_addr.s_addr = htonl(loopback);
        sa.sin_port = htons(server.port());
        (void)::connect(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof sa);
        pollfd p{fd, POLLOUT, 0};
        if (::poll(&p, 1, 100) == 0) break;  // this one hangs: the queue is full
    }
    HealthMonitor monitor;
    monitor.configure(service_with({{server.port(), tcp_check(2, 3, 200)}}));
    const HealthTarget target = target_on(server.port());

    const auto started = Clock::now();
    run_check(monitor, target);
    const auto took = Clock::now() - started;
    for (int fd : fillers) ::close(fd);

    EXPECT_EQ(status_of(monitor, target).last_result, "failed");
    EXPECT_EQ(status_of(monitor, target).reason, "timed out after 0.2 s while connecting");
    EXPECT_GE(took, 200ms);
    EXPECT_LT(took, 700ms);
}

TEST(HttpCheck, PassesOnAcceptedStatusAndMatchingBody)
{
    // ECMAScript's $ is the end of the body (no multiline): this body has no final line end.
    HttpStub server("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nstatus: ready");
    HealthCheckConfig check = http_check("/health?full=1", "^status: (ready|up)$|^ok$");
    check.http.host = "www.example.test";
    HealthMonitor monitor;
    monitor.configure(service_with({{server.port(), check}}));
    const HealthTarget target = target_on(server.port());

    EXPECT_TRUE(run_check(monitor, target).empty());
    const HealthStatus& s = status_of(monitor, target);
    EXPECT_EQ(s.last_result, "ok") << s.reason;
    EXPECT_TRUE(s.reason.starts_with("HTTP 200 in ")) << s.reason;
    EXPECT_EQ(s.successes, 1u);
    ASSERT_EQ(server.requests().size(), 1u);
    EXPECT_EQ(server.requests()[0], expected_request("/health?full=1", "www.example.test"));
}

TEST(HttpCheck, FailsOnStatusOutsideRanges)
{
    HttpStub server("HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n");
    HealthMonitor monitor;
    monitor.configure(service_with({{server.port(), http_check()}}));
    const HealthTarget target = target_on(server.port());

    run_check(monitor, target);
    EXPECT_EQ(status_of(monitor, target).last_result, "failed");
    EXPECT_EQ(status_of(monitor, target).reason, "HTTP status 500 not in 200-299");
    EXPECT_EQ(status_of(monitor, target).failures, 1u);
    ASSERT_EQ(server.requests().size(), 1u);
    EXPECT_EQ(server.requests()[0], expected_request("/", "127.0.0.1"));  // no host: the address
}

TEST(HttpCheck, AcceptsConfiguredRanges)
{
    HttpStub redirect("HTTP/1.1 302 Found\r\nLocation: /login\r\n\r\n");
    HttpStub missing("HTTP/1.0 404 Not Found\r\n\r\n");
    HealthCheckConfig check = http_check();
    check.http.expect_status = {{200, 200}, {301, 302}};
    HealthMonitor monitor;
    monitor.configure(service_with({{redirect.port(), check}, {missing.port(), check}}));

    run_check(monitor, target_on(redirect.port()));
    run_check(monitor, target_on(missing.port()));
    EXPECT_EQ(status_of(monitor, target_on(redirect.port())).last_result, "ok");
    EXPECT_TRUE(status_of(monitor, target_on(redirect.port())).reason.starts_with("HTTP 302 in "));
    EXPECT_EQ(status_of(monitor, target_on(missing.port())).reason, "HTTP status 404 not in 200,301-302");
}

TEST(HttpCheck, FailsWhenBodyDoesNotMatch)
{
    HttpStub server("HTTP/1.1 200 OK\r\n\r\nunder maintenance, not ok\n");
    HealthMonitor monitor;
    monitor.configure(service_with({{server.port(), http_check("/", "^ok")}}));
    const HealthTarget target = target_on(server.port());

    run_check(monitor, target);
    EXPECT_EQ(status_of(monitor, target).last_result, "failed");
    EXPECT_EQ(status_of(monitor, target).reason, "body does not match \"^ok\"");
}

TEST(HttpCheck, BodyIsSearchedAfterTheHeadersOnly)
{
    HttpStub server("HTTP/1.1 200 OK\r\nX-Status: healthy\r\n\r\nbusy\n");
    HealthMonitor monitor;
    monitor.configure(service_with({{server.port(), http_check("/", "healthy")}}));
    const HealthTarget target = target_on(server.port());
    run_check(monitor, target);
    EXPECT_EQ(status_of(monitor, target).reason, "body does not match \"healthy\"");
}

// libstdc++'s default regex engine overflows the stack on ".*" over a long line and takes
// minutes to fail a search over 64 KB; the checker's must do both in well under a second.
TEST(HttpCheck, LongBodyIsSearchedQuickly)
{
    // The first 8 KB of the body are searched: "ready" within them is found, beyond them not.
    const std::string body(8000, 'x');
    HttpStub server("HTTP/1.1 200 OK\r\n\r\n" + body + "ready" + std::string(50000, 'x'));
    HttpStub failing("HTTP/1.1 200 OK\r\n\r\n" + body);
    HttpStub too_far("HTTP/1.1 200 OK\r\n\r\n" + std::string(8192, 'x') + "ready");
    HttpStub literal("HTTP/1.1 200 OK\r\n\r\n" + body + "ready");
    HealthMonitor monitor;
    monitor.configure(service_with({{server.port(), http_check("/", "x.*ready")},
                                    {failing.port(), http_check("/", "(x|y)*ready")},
                                    {too_far.port(), http_check("/", "x.*ready")},
                                    {literal.port(), http_check("/", "ready")}}));

    const auto started = Clock::now();
    for (const HttpStub* s : {&server, &failing, &too_far, &literal}) run_check(monitor, target_on(s->port()));
    EXPECT_LT(Clock::now() - started, 1500ms);
    EXPECT_EQ(status_of(monitor, target_on(server.port())).last_result, "ok")
        << status_of(monitor, target_on(server.port())).reason;
    EXPECT_EQ(status_of(monitor, target_on(failing.port())).reason, "body does not match \"(x|y)*ready\"");
    EXPECT_EQ(status_of(monitor, target_on(too_far.port())).reason, "body does not match \"x.*ready\"");
    EXPECT_EQ(status_of(monitor, target_on(literal.port())).last_result, "ok");
}

TEST(HttpCheck, UnusableRegexFailsTheCheck)
{
    HttpStub server("HTTP/1.1 200 OK\r\n\r\nabab\n");
    HttpStub unbalanced("HTTP/1.1 200 OK\r\n\r\nab\n");
    HealthMonitor monitor;
    monitor.configure(service_with({{server.port(), http_check("/", "(ab)\\1")},
                                    {unbalanced.port(), http_check("/", "a)(b")}}));
    run_check(monitor, target_on(server.port()));
    run_check(monitor, target_on(unbalanced.port()));
    EXPECT_TRUE(status_of(monitor, target_on(server.port())).reason.starts_with("body regex \"(ab)\\1\" cannot be used: "))
        << status_of(monitor, target_on(server.port())).reason;
    EXPECT_TRUE(status_of(monitor, target_on(unbalanced.port())).reason.starts_with("body regex \"a)(b\" cannot be used: "))
        << status_of(monitor, target_on(unbalanced.port())).reason;
}

TEST(HttpCheck, FailsOnWhatIsNotAnHttpAnswer)
{
    HttpStub silent("");  // reads the request and closes
    HttpStub ssh("SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n");
    LoopbackPort closed;
    HealthMonitor monitor;
    monitor.configure(service_with({{silent.port(), http_check()}, {ssh.port(), http_check()},
                                    {closed.port(), http_check()}}));
    run_check(monitor, target_on(silent.port()));
    run_check(monitor, target_on(ssh.port()));
    run_check(monitor, target_on(closed.port()));
    EXPECT_EQ(status_of(monitor, target_on(silent.port())).reason, "connection closed without a response");
    EXPECT_EQ(status_of(monitor, target_on(ssh.port())).reason, "not an HTTP response: \"SSH-2.0-OpenSSH_9.2p1 Debian-2\"");
    EXPECT_EQ(status_of(monitor, target_on(closed.port())).reason, "connect: Connection refused");
}

TEST(HttpCheck, TimesOutWhenServerNeverAnswers)
{
    LoopbackPort server;  // the kernel accepts; nobody reads or answers
    server.listen();
    HealthMonitor monitor;
    monitor.configure(service_with({{server.port(), http_check("/", "", 300)}}));
    const HealthTarget target = target_on(server.port());

    const auto started = Clock::now();
    run_check(monitor, target);
    const auto took = Clock::now() - started;
    EXPECT_EQ(status_of(monitor, target).last_result, "failed");
    EXPECT_EQ(status_of(monitor, target).reason, "timed out after 0.3 s while waiting for the response");
    EXPECT_GE(took, 300ms);
    EXPECT_LT(took, 800ms);
}

TEST(HttpCheck, ResponseCutShortByTimeoutFails)
{
    HttpStub server("HTTP/1.1 200 OK\r\n", /*hold_open=*/true);
    HealthMonitor monitor;
    monitor.configure(service_with({{server.port(), http_check("/", "", 250)}}));
    const HealthTarget target = target_on(server.port());
    run_check(monitor, target);
    EXPECT_EQ(status_of(monitor, target).last_result, "failed");
    EXPECT_EQ(status_of(monitor, target).reason, "timed out after 0.25 s while reading the response (17 bytes received)");
}

TEST(Configure, KeepsRemainingTargetsAndForgetsRemovedOnes)
{
    LoopbackPort refusing;
    LoopbackPort serving;
    serving.listen();
    LoopbackPort added;
    HealthMonitor monitor;
    monitor.configure(service_with({{refusing.port(), tcp_check(2, 1)}, {serving.port(), tcp_check()}}));
    const HealthTarget kept = target_on(refusing.port());
    const HealthTarget removed = target_on(serving.port());

    ASSERT_EQ(run_check(monitor, kept).size(), 1u);
    run_check(monitor, removed);
    ASSERT_FALSE(monitor.is_up(kept));
    const auto went_down = status_of(monitor, kept).changed;

    // New settings for the kept one (same type and port): its state stays.
    monitor.configure(service_with({{refusing.port(), tcp_check(3, 2, 500)}, {added.port(), tcp_check()}}));
    ASSERT_EQ(monitor.statuses().size(), 2u);
    const HealthStatus& s = status_of(monitor, kept);
    EXPECT_FALSE(s.up);
    EXPECT_EQ(s.failures, 1u);
    EXPECT_EQ(s.last_result, "failed");
    EXPECT_EQ(s.changed, went_down);
    EXPECT_EQ(s.check.rise, 3u);
    EXPECT_EQ(s.check.timeout_ms, 500u);

    EXPECT_FALSE(monitor.statuses().contains(removed));
    EXPECT_TRUE(monitor.is_up(removed));
    monitor.start_check(removed, Clock::now());
    EXPECT_FALSE(monitor.statuses().contains(removed));

    const HealthStatus& fresh = status_of(monitor, target_on(added.port()));
    EXPECT_TRUE(fresh.up);
    EXPECT_EQ(fresh.last_result, "");
    EXPECT_EQ(fresh.successes + fresh.failures, 0u);
}

TEST(Configure, ChangedCheckAbandonsTheCheckInFlight)
{
    LoopbackPort server;  // never answers: the http check stays in flight
    server.listen();
    HealthMonitor monitor;
    const HealthCheckConfig check = http_check("/", "", 2000);
    monitor.configure(service_with({{server.port(), check}}));
    const HealthTarget target = target_on(server.port());

    monitor.start_check(target, Clock::now());
    EXPECT_TRUE(monitor.poll(Clock::now()).empty());
    ASSERT_TRUE(status_of(monitor, target).in_flight);

    HealthCheckConfig slower = check;
    slower.interval_ms = 6000;
    monitor.configure(service_with({{server.port(), slower}}));
    EXPECT_TRUE(status_of(monitor, target).in_flight);  // same check: it goes on

    HealthCheckConfig other_path = slower;
    other_path.http.path = "/other";
    monitor.configure(service_with({{server.port(), other_path}}));
    EXPECT_FALSE(status_of(monitor, target).in_flight);
    EXPECT_TRUE(monitor.poll(Clock::now() + 10s).empty());  // nothing left to time out
    EXPECT_EQ(status_of(monitor, target).last_result, "");
    EXPECT_EQ(status_of(monitor, target).failures, 0u);

    // A new check runs under the new settings.
    monitor.start_check(target, Clock::now());
    EXPECT_TRUE(status_of(monitor, target).in_flight);
}

TEST(Configure, UncheckedTargetIsUp)
{
    LoopbackPort refusing;
    HealthMonitor monitor;
    monitor.configure(service_with({{refusing.port(), tcp_check(1, 1)}}));
    const HealthTarget target = target_on(refusing.port());
    ASSERT_EQ(run_check(monitor, target).size(), 1u);
    ASSERT_FALSE(monitor.is_up(target));

    monitor.configure(service_with({{refusing.port(), HealthCheckConfig{}}}));
    EXPECT_TRUE(monitor.is_up(target));
    EXPECT_EQ(status_of(monitor, target).failures, 0u);
    EXPECT_EQ(status_of(monitor, target).last_result, "");
    EXPECT_EQ(status_of(monitor, target).check.type, HealthCheckType::none);
}

TEST(Configure, SameRealServerInTwoServicesIsTwoTargets)
{
    LoopbackPort refusing;
    Config config = service_with({{refusing.port(), tcp_check(1, 1)}});
    config.services.push_back(config.services[0]);
    config.services[1].port = 443;
    HealthMonitor monitor;
    monitor.configure(config);
    ASSERT_EQ(monitor.statuses().size(), 2u);
    const HealthTarget web = target_on(refusing.port());
    HealthTarget tls = web;
    tls.service.port = 443;
    ASSERT_EQ(run_check(monitor, web).size(), 1u);
    EXPECT_FALSE(monitor.is_up(web));
    EXPECT_TRUE(monitor.is_up(tls));
}

// The timer that starts checks fires every interval; with a timeout as long as the interval, a
// server that never answers must still be checked (and fail) once per interval.
TEST(TcpCheck, ACheckStillRunningWhenTheNextIsDueHasTimedOut)
{
    LoopbackPort server;  // never answers: the http check stays in flight
    server.listen();
    HealthCheckConfig check = http_check("/", "", 1000);
    check.interval_ms = 1000;
    HealthMonitor monitor;
    monitor.configure(service_with({{server.port(), check}}));
    const HealthTarget target = target_on(server.port());
    const auto t0 = Clock::now();
    monitor.start_check(target, t0);
    monitor.start_check(target, t0 + std::chrono::milliseconds(100));  // 10% used: ignored
    EXPECT_TRUE(status_of(monitor, target).in_flight);
    EXPECT_EQ(status_of(monitor, target).failures, 0u);
    monitor.start_check(target, t0 + std::chrono::milliseconds(995));  // the next interval, 5 ms early
    EXPECT_EQ(status_of(monitor, target).failures, 1u);
    EXPECT_TRUE(status_of(monitor, target).in_flight);  // the new check
    EXPECT_NE(status_of(monitor, target).reason.find("timed out after 1.0 s"), std::string::npos)
        << status_of(monitor, target).reason;
    EXPECT_TRUE(monitor.poll(t0 + std::chrono::milliseconds(996)).empty());  // fall 2: still up
    EXPECT_TRUE(monitor.is_up(target));
}

// A server that ignores "Connection: close" and keeps the connection: a response whose body is
// as long as its Content-Length says is judged at once, not failed at the timeout.
TEST(HttpCheck, ACompleteResponseIsJudgedWithoutWaitingForTheClose)
{
    HttpStub whole("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\ncontent-length: 3\r\n\r\nok\n", true);
    HttpStub short_of_it("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nok\n", true);
    HealthMonitor monitor;
    monitor.configure(service_with({{whole.port(), http_check("/", "ok", 800)},
                                    {short_of_it.port(), http_check("/", "ok", 300)}}));
    const auto started = Clock::now();
    run_check(monitor, target_on(whole.port()));
    EXPECT_LT(Clock::now() - started, 200ms);
    EXPECT_EQ(status_of(monitor, target_on(whole.port())).last_result, "ok")
        << status_of(monitor, target_on(whole.port())).reason;
    run_check(monitor, target_on(short_of_it.port()));
    EXPECT_NE(status_of(monitor, target_on(short_of_it.port())).reason.find("timed out after 0.3 s while reading"),
              std::string::npos)
        << status_of(monitor, target_on(short_of_it.port())).reason;
}

// An IPv6 real server (of a tunnelled IPv4 service here; the checker does not look at the VIP)
// is probed over AF_INET6: a listener on ::1 is up, the same port closed is down.
TEST(TcpCheck, ProbesAnIpv6RealServerOverIpv6)
{
    LoopbackPort server(loopback6);
    server.listen();
    LoopbackPort closed(loopback6);
    HealthMonitor monitor;
    monitor.configure(service_with({{server.port(), tcp_check()}, {closed.port(), tcp_check()}}, loopback6));
    const HealthTarget open_target = target_on(server.port(), loopback6);
    const HealthTarget closed_target = target_on(closed.port(), loopback6);

    run_check(monitor, open_target);
    EXPECT_EQ(status_of(monitor, open_target).last_result, "ok") << status_of(monitor, open_target).reason;
    run_check(monitor, closed_target);
    EXPECT_EQ(status_of(monitor, closed_target).last_result, "failed");
    EXPECT_EQ(status_of(monitor, closed_target).reason, "connect: Connection refused");
}

// Without a configured host, an IPv6 address goes in the Host header in brackets (RFC 3986).
TEST(HttpCheck, ProbesAnIpv6RealServerWithABracketedHost)
{
    HttpStub server("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false, loopback6);
    HealthMonitor monitor;
    monitor.configure(service_with({{server.port(), http_check("/", "^ok$")}}, loopback6));
    const HealthTarget target = target_on(server.port(), loopback6);

    run_check(monitor, target);
    EXPECT_EQ(status_of(monitor, target).last_result, "ok") << status_of(monitor, target).reason;
    ASSERT_EQ(server.requests().size(), 1u);
    EXPECT_EQ(server.requests()[0], expected_request("/", "[::1]"));
}
