// Schedulers pick a real server for a new connection. Pure logic: no DPDK, no allocation.
//
// The control plane prepares whatever a scheduler needs from the real-server list (a WrrTable,
// later a Maglev ring) when it builds a snapshot; a worker keeps its own mutable cursor per
// service (SchedCursor), as DPVS keeps per-lcore scheduler state, so no two cores share a line.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace fulcrum::sched {

enum class Kind : uint8_t { rr, wrr };

// ipvsadm -s names; nullopt for a name that is not (yet) a scheduler.
std::optional<Kind> kind_from_name(std::string_view name);
std::string_view kind_name(Kind kind);

// What a scheduler sees of one real server.
struct Destination {
    uint32_t weight = 0;      // 0 = quiescent: never picked for a new connection
    bool overloaded = false;  // above its upper threshold (IP_VS_DEST_F_OVERLOAD)
};

// A worker's mutable per-service state. `last` is the index of the previous pick, -1 before the
// first (the kernel's "list head"); `current_weight` is wrr's cw.
struct SchedCursor {
    int32_t last = -1;
    int32_t current_weight = 0;
};

constexpr int32_t no_destination = -1;

// ip_vs_rr: the next destination after the previous pick that has weight > 0 and is not
// overloaded. Returns its index, or no_destination.
int32_t pick_rr(std::span<const Destination> dests, SchedCursor& cursor);

// What wrr precomputes from the weights (ip_vs_wrr_mark's mw and di).
struct WrrTable {
    int32_t max_weight = 0;
    int32_t gcd = 1;
};
WrrTable prepare_wrr(std::span<const Destination> dests);

// ip_vs_wrr: steps the current weight down by gcd from max_weight and picks, in list order, the
// destinations whose weight reaches it. Weights 3:2:1 give A A B A B C.
int32_t pick_wrr(std::span<const Destination> dests, const WrrTable& table, SchedCursor& cursor);

}  // namespace fulcrum::sched
