// Persistence templates (ipvsadm -p): a client (its address under the service's netmask) keeps
// going to the real server its first connection got, while the template lives.
//
// One table shared by every worker, lock-free: a worker owns a connection by its client's
// address and port, so one client's connections land on several workers, and all of them must
// see the same template. A slot is one 64-bit word changed only by compare-and-swap (a 24-bit
// tag of service and masked client, the real server id, and the count of connections the
// template controls), plus the template's last use in seconds. A template lives while it
// controls connections or was used less than its timeout ago (IPVS restarts the template's timer
// while controlled connections remain). Because the count is in the word, a worker attaching a
// connection and another taking the slot over for a new client cannot both succeed: the loser's
// exchange fails and it looks again. Two clients whose tags collide (one chance in 2^24 per
// probe) share a template: they go to the same real server, nothing worse.
//
// When every slot a new template may take holds a live one (spoofed sources making templates
// faster than they expire), the one used longest ago that controls no connection gives way, so
// real clients keep getting templates; only a window of templates that all control connections
// refuses a new one.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <span>

namespace fulcrum::dataplane {

class PersistenceTable {
public:
    static constexpr uint32_t none = UINT32_MAX;
    // ipvsadm's own bound (MAX_TIMEOUT, 31 days); last_use is kept in full seconds and compared
    // as a signed 32-bit difference, which holds far longer.
    static constexpr uint32_t max_timeout_seconds = 86400 * 31;

    struct Template {
        uint32_t slot;
        uint32_t tag;
        uint16_t real_server_id;
    };

    enum class ClaimResult : uint8_t { created, joined, took_over_live, full };

    // `slots`: a power of two. False when the memory cannot be had.
    bool init(uint32_t slots, int socket);
    ~PersistenceTable();

    // The live template of (service, masked client), if any.
    std::optional<Template> find(uint32_t service_id, uint32_t client, uint32_t now_s, uint32_t timeout_s) const;

    // Creates the template with `real_server_id`, or returns the one another worker made first.
    // `result` says which, or that a live template that controlled nothing gave way; nullopt
    // (full) when every slot of its probe window holds a template that controls connections.
    std::optional<Template> claim(uint32_t service_id, uint32_t client, uint16_t real_server_id, uint32_t now_s,
                                  uint32_t timeout_s, ClaimResult* result = nullptr);

    // A new connection is controlled by template `t` (just found or claimed). False when the
    // slot no longer holds it (it expired and another client took the slot meanwhile). Both
    // attach and detach count as a use.
    bool attach(const Template& t, uint32_t now_s);
    void detach(uint32_t slot, uint32_t now_s);

    // Connection sync: another director says template `t` (just claimed, found live) is
    // `real_server_id`'s as of `now_s`. Its timeout starts again; one that controls no connection
    // here takes that real server. False when the slot no longer holds it, or when connections
    // here follow it to another real server (then it stays as it is).
    bool renew(const Template& t, uint16_t real_server_id, uint32_t now_s);

    // Ends the template in `slot` now (expire_quiescent_template).
    void expire(uint32_t slot);

    uint32_t live(uint32_t now_s, uint32_t timeout_s) const;  // for tests and the console

    // ipvsadm's PersistConn: the live templates of each real server id, added to `counts`
    // (indexed by id). A template's timeout is its real server's service's, `timeout_of[id]`;
    // ids beyond either span are skipped. The control core, on demand: it reads every slot.
    void count_by_real_server(uint32_t now_s, std::span<const uint32_t> timeout_of, std::span<uint32_t> counts) const;

private:
    static constexpr uint32_t probe = 8;  // two cache lines of four slots
    static constexpr uint64_t controlled_mask = (uint64_t{1} << 24) - 1;
    struct alignas(16) Slot {
        std::atomic<uint64_t> word{0};       // tag << 40 | real server << 24 | controlled; 0 = empty
        std::atomic<uint32_t> last_use{0};   // seconds
    };

    static uint32_t tag_of(uint32_t service_id, uint32_t client);
    static uint32_t tag(uint64_t word) { return static_cast<uint32_t>(word >> 40); }
    static uint16_t real_server(uint64_t word) { return static_cast<uint16_t>(word >> 24); }
    static uint64_t make(uint32_t tag, uint16_t rs) { return uint64_t{tag} << 40 | uint64_t{rs} << 24; }
    static bool alive(const Slot& s, uint64_t word, uint32_t now_s, uint32_t timeout_s)
    {
        if (word == 0) return false;
        if ((word & controlled_mask) > 0) return true;
        // Signed: another worker's clock may be a moment ahead of this one's.
        return static_cast<int32_t>(now_s - s.last_use.load(std::memory_order_acquire)) < static_cast<int32_t>(timeout_s);
    }

    Slot* slots_ = nullptr;
    uint32_t mask_ = 0;
};

}  // namespace fulcrum::dataplane
