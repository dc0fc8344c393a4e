// What a stage decided about a packet. Each stage either settles the packet (transmit, drop,
// held) or lets the next stage continue, so the pipeline reads top to bottom.
#pragma once

#include <cstdint>

#include "common/counters.hpp"

namespace fulcrum::dataplane {

struct Verdict {
    enum class Kind : uint8_t {
        next,      // not settled: the following stage decides
        transmit,  // the frame is ready; send it out of `port`
        drop,      // count `reason` and free the packet
        held,      // kept by the stage (waiting for ARP); nothing more to do now
    };
    Kind kind = Kind::next;
    DropReason reason = DropReason::count;
    uint16_t port = 0;

    static constexpr Verdict next() { return {}; }
    static constexpr Verdict drop(DropReason r) { return {Kind::drop, r, 0}; }
    static constexpr Verdict transmit(uint16_t port) { return {Kind::transmit, DropReason::count, port}; }
    static constexpr Verdict held() { return {Kind::held, DropReason::count, 0}; }
    bool settled() const { return kind != Kind::next; }
};

}  // namespace fulcrum::dataplane
