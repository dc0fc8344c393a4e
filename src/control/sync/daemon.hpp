// The sync daemon: IPVS's master and backup threads, run by the control thread over kernel UDP
// sockets on a kernel interface of the exception path. The master sends what the workers handed
// over, in datagrams of up to max_length bytes, a partial one within flush_interval; the backup
// reads the group on that interface only, decodes, and passes each record on (to the worker that
// owns its connection). No DPDK: the director moves records between the daemon and the rings.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/sync_record.hpp"
#include "control/config/config.hpp"
#include "control/sync/wire.hpp"

namespace fulcrum::control::sync {

// The kernel lets a partial datagram wait up to 2 s (IPVS_SYNC_FLUSH_TIME); a backup here is
// told sooner, so a connection established just before a failover has gone out.
inline constexpr std::chrono::milliseconds flush_interval{250};

struct SyncCounters {
    uint64_t messages_sent = 0;
    uint64_t connections_sent = 0;
    uint64_t send_errors = 0;          // datagrams the socket refused (its buffer full, the interface down)
    uint64_t messages_received = 0;
    uint64_t connections_received = 0; // records passed on to the workers
    uint64_t delivery_full = 0;        // records the owning worker's ring had no room for
    // Datagrams dropped and records skipped, by reason (wire.hpp).
    std::array<uint64_t, sync_refusal_count> refused{};
};

class SyncDaemon {
public:
    using Clock = std::chrono::steady_clock;
    // Passes a received record on; false when there was no room for it.
    using Deliver = std::function<bool(const SyncRecord&)>;

    SyncDaemon() = default;
    SyncDaemon(const SyncDaemon&) = delete;
    SyncDaemon& operator=(const SyncDaemon&) = delete;
    ~SyncDaemon() { stop(); }

    // Opens (or reopens, when they change) the sockets `config` needs on the kernel interface
    // `ifname`, and closes the ones it no longer needs. Returns "" or what failed (then nothing
    // is open). The counters carry on.
    std::string configure(const SyncConfig& config, const std::string& ifname);
    void stop();

    bool sending() const { return send_fd_ >= 0; }
    bool receiving() const { return receive_fd_ >= 0; }
    const SyncConfig& config() const { return config_; }
    const std::string& interface() const { return ifname_; }

    // Master: adds a record to the datagram being filled, which goes when full.
    void queue(const SyncRecord& record, Clock::time_point now);
    // Master: sends the datagram being filled once its first record has waited flush_interval.
    void flush_due(Clock::time_point now);
    // Backup: reads up to `max_datagrams` waiting datagrams and delivers their records.
    void receive(const Deliver& deliver, unsigned max_datagrams = 64);

    const SyncCounters& counters() const { return counters_; }

private:
    void send_pending();

    SyncConfig config_;
    std::string ifname_;
    int send_fd_ = -1;
    int receive_fd_ = -1;
    std::optional<MessageBuilder> builder_;
    Clock::time_point first_queued_{};
    std::vector<uint8_t> receive_buffer_;
    std::vector<SyncRecord> decoded_;
    SyncCounters counters_;
};

}  // namespace fulcrum::control::sync
