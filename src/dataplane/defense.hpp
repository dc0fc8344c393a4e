// IPVS's defences against a connection table that fills up (ip_vs_ctl.c update_defense_level,
// ip_vs_conn.c ip_vs_random_dropentry), with IPVS's names and levels, and a stateless mode for
// hash-scheduled DR and TUN services while the table is under a flood (Katran's "flood mode").
//
// IPVS measures the machine's free memory against amemthresh; here each worker measures the
// free slots of its own tables, the thing a flood exhausts: the defences are on while either
// family's table is short (the IPv4 or the IPv6 one; a flood fills one of them). Once a second a
// worker decides which defences are on; drop_entry then sweeps a 32nd of each table over the
// following loop iterations.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

#include "dataplane/conn_table.hpp"

namespace fulcrum::dataplane {

// Where a table's next search for a connection to evict starts, and the tick before which a
// full table is not searched again after a search found nothing (conn_pressure.hpp).
struct EvictionSearch {
    uint32_t cursor = 0;
    Tick not_until = 0;
};

struct WorkerContext;

// The settings (DefenseSettings, levels 0-3) are in types.hpp, shared with the configuration.

// A worker's defences. The levels are written by the worker and read by the control core.
struct DefenseState {
    std::atomic<uint8_t> drop_entry{0};
    std::atomic<uint8_t> drop_packet{0};
    std::atomic<uint8_t> secure_tcp{0};
    std::atomic<uint8_t> flood_mode{0};
    bool secure_tcp_on = false;   // TCP states follow IPVS's tcp_states_dos
    bool flood_on = false;        // hash-scheduled DR/TUN connections are not entered
    uint32_t drop_rate = 0;       // drop_packet: one new connection in drop_rate is refused; 0 none
    uint32_t drop_counter = 0;
    // drop_entry: a connection with n packets from its client (1..8) goes every n-th time one
    // is found, so those that carried least go first (IPVS's dropentry_counters).
    std::array<int32_t, 8> entry_counters{};
    // Where drop_entry's sweep goes on, and the slots this second's sweep has still to look
    // at, in the IPv4 table and in the IPv6 one.
    uint32_t sweep_cursor = 0;
    uint32_t sweep_left = 0;
    uint32_t sweep_cursor6 = 0;
    uint32_t sweep_left6 = 0;
    Tick next_update = 0;
};

// A worker's connection table of either family is short of free slots (IPVS's "nomem").
bool table_short(const WorkerContext& w);

// Once a second, sets which defences are on from the snapshot's settings and the table; then
// goes on with drop_entry's sweep, at most `budget` slots per call. Called from the worker loop.
void defense_run(WorkerContext& w, uint32_t budget);

// drop_packet (IPVS's ip_vs_todrop): whether this new connection is to be refused.
bool defense_refuses_new_connection(WorkerContext& w);

}  // namespace fulcrum::dataplane
