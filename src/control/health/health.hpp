// Health checks of real servers, as ldirectord's and keepalived's checkers: a TCP connect, or an
// HTTP GET whose status and body are checked. A real server is taken out after `fall` failed
// checks in a row and put back after `rise` good ones.
//
// No threads and nothing blocks: each check is one non-blocking kernel socket. The control loop
// decides when a check starts (start_check, every interval) and calls poll() often; poll() polls
// the sockets in flight with a zero timeout, fails the checks past their timeout and reports the
// up/down changes. No DPDK here, so the checker is tested over loopback alone.
//
// An http check sends an HTTP/1.0 GET, so that the server closes, and judges the answer at its
// end (or at 64 KB, judged on that much). expect_body is searched in the body after the blank
// line, ECMAScript without multiline: ^ and $ are the body's start and end. A regex with a
// back-reference cannot run on the engine used (health.cpp says why): its checks fail, saying so.
#pragma once

#include <chrono>
#include <compare>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "control/config/config.hpp"

namespace fulcrum::control {

// One checked real server of one service: the same server in two services is checked twice,
// as IPVS keeps it as two destinations that may be taken out separately.
using HealthTarget = RealServerKey;

struct HealthStatus {
    HealthCheckConfig check;        // what is run (type none = not checked; then always up)
    bool up = true;                 // new real servers start up (keepalived without alpha)
    uint32_t successes = 0;         // consecutive, the current run
    uint32_t failures = 0;          // consecutive, the current run
    std::string last_result;        // "" before the first check, else "ok" or "failed"
    // Of the last check, for the console and the log:
    //   connected in 0.3 ms · HTTP 200 in 1.2 ms · connect: Connection refused ·
    //   timed out after 1.0 s while connecting · HTTP status 500 not in 200-299 ·
    //   body does not match "ok" · connection closed without a response · ...
    std::string reason;
    std::chrono::system_clock::time_point changed;    // last up/down change (or when first configured)
    std::chrono::steady_clock::time_point last_check; // when the last check finished
    bool in_flight = false;
};

struct HealthChange {
    HealthTarget target;
    bool up = true;
    // "2 failed checks in a row (fall 2): connect: Connection refused",
    // "2 good checks in a row (rise 2): HTTP 200" (the last check's result without its time).
    std::string reason;
};

namespace health_detail {
struct Probe;
struct BodyPattern;
}  // namespace health_detail

class HealthMonitor {
public:
    using Clock = std::chrono::steady_clock;

    HealthMonitor();
    ~HealthMonitor();  // closes the sockets of the checks in flight
    HealthMonitor(const HealthMonitor&) = delete;
    HealthMonitor& operator=(const HealthMonitor&) = delete;

    // Makes the checked set follow `config`: every real server of every service, with its
    // RealServerConfig::health_check (already the effective one). A target that remains keeps its
    // up/down state and counters while its settings change; a check in flight is abandoned, its
    // result never counted, when the type, the port or the http settings changed. A target whose
    // check becomes type none is up from then on. New targets start up; targets gone are
    // forgotten, their checks in flight closed. Body regexes are compiled here, once.
    void configure(const Config& config);

    // Starts a check of `target` now, unless the target is unknown, its type is none, or a check
    // is in flight that has used less than 90% of its timeout (one that has used more has timed
    // out: it is counted as failed, its change reported by the next poll()). Never blocks: the
    // connect is non-blocking, and a result known at once (a refused connect) is reported by the
    // next poll().
    void start_check(const HealthTarget& target, Clock::time_point now);

    // Advances the checks in flight without blocking, fails those started more than timeout_ms
    // before `now`, applies rise and fall, and returns the up/down changes this call made (each
    // change once).
    std::vector<HealthChange> poll(Clock::time_point now);

    bool is_up(const HealthTarget& target) const;  // true for unknown targets
    const std::map<HealthTarget, HealthStatus>& statuses() const { return statuses_; }

private:
    std::map<HealthTarget, HealthStatus> statuses_;
    std::map<HealthTarget, std::shared_ptr<const health_detail::BodyPattern>> body_patterns_;
    std::map<HealthTarget, std::unique_ptr<health_detail::Probe>> probes_;
    std::vector<HealthChange> pending_changes_;  // made by start_check, reported by the next poll()
};

// The status code of an HTTP status line: "HTTP/1.1 200 OK\r\n..." -> 200. nullopt when the
// response does not start with "HTTP/<digits>[.<digits>] <three digits, not starting with 0>"
// followed by a space, a line end or the end of what was received.
std::optional<uint16_t> parse_http_status(std::string_view response);

// Whether an HTTP response is whole before the server closes: its headers ended and as much body
// arrived as Content-Length says (or all the body a check searches). A server that keeps the
// connection open despite "Connection: close" is then judged at once, not at the timeout.
bool http_response_complete(std::string_view response);

// Whether `status` lies in one of `ranges`; no ranges means the default, 200-299.
bool status_accepted(uint16_t status, const std::vector<StatusRange>& ranges);

// As the configuration writes them: "200-299", "200,301-302"; no ranges is "200-299".
std::string format_status_ranges(const std::vector<StatusRange>& ranges);

}  // namespace fulcrum::control
