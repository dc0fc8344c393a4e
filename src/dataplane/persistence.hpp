// Persistence templates (ipvsadm -p): a client (its address under the service's netmask) keeps
// going to the real server its first connection got, while the template lives.
//
// One table shared by every worker, lock-free: a worker owns a connection by its client's
// address and port, so one client's connections land on several workers, and all of them must
// see the same template. A slot is one 64-bit word (a 32-bit tag of service and masked client,
// the real server id, and the last use in seconds) changed only by compare-and-swap, plus a
// count of the connections the template controls. A template lives while it controls
// connections or was used less than its timeout ago (IPVS restarts the template's timer while
// controlled connections remain); dead slots are taken over by the next template that hashes
// there. Two different clients whose tags collide (one chance in 2^32 per probe) share a
// template: they go to the same real server, nothing worse.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>

namespace fulcrum::dataplane {

class PersistenceTable {
public:
    static constexpr uint32_t none = UINT32_MAX;
    static constexpr uint32_t max_timeout_seconds = 32767;  // last use is kept modulo 65536 s

    struct Template {
        uint32_t slot;
        uint16_t real_server_id;
    };

    // `slots`: a power of two. False when the memory cannot be had.
    bool init(uint32_t slots, int socket);
    ~PersistenceTable();

    // The live template of (service, masked client), if any.
    std::optional<Template> find(uint32_t service_id, uint32_t client, uint32_t now_s, uint32_t timeout_s) const;

    // Creates the template with `real_server_id`, or returns the one another worker made first.
    // nullopt when every slot of its probe window holds a live template of another client.
    std::optional<Template> claim(uint32_t service_id, uint32_t client, uint16_t real_server_id, uint32_t now_s,
                                  uint32_t timeout_s);

    // A new connection is controlled by the template in `slot` (which the caller just found or
    // claimed); and, later, that connection is gone. Both count as a use.
    void attach(uint32_t slot, uint32_t now_s);
    void detach(uint32_t slot, uint32_t now_s);

    // Ends the template in `slot` now (expire_quiescent_template).
    void expire(uint32_t slot);

    uint32_t live(uint32_t now_s, uint32_t timeout_s) const;  // for tests and the console

private:
    static constexpr uint32_t probe = 8;  // two cache lines of four slots
    struct alignas(16) Slot {
        std::atomic<uint64_t> word{0};    // tag << 32 | real server << 16 | last use (s); 0 = empty
        std::atomic<uint32_t> controlled{0};
    };

    static uint32_t tag_of(uint32_t service_id, uint32_t client);
    static uint64_t make(uint32_t tag, uint16_t rs, uint32_t now_s)
    {
        return uint64_t{tag} << 32 | uint64_t{rs} << 16 | (now_s & 0xffff);
    }
    static bool alive(const Slot& s, uint64_t word, uint32_t now_s, uint32_t timeout_s)
    {
        if (word == 0) return false;
        if (s.controlled.load(std::memory_order_acquire) > 0) return true;
        return static_cast<uint16_t>(now_s - (word & 0xffff)) < timeout_s;
    }
    void touch(Slot& s, uint32_t now_s);

    Slot* slots_ = nullptr;
    uint32_t mask_ = 0;
};

}  // namespace fulcrum::dataplane
