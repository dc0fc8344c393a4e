// IPVS's TCP connection states (net/netfilter/ipvs/ip_vs_proto_tcp.c): the two transition tables,
// how a packet's flags and direction pick an entry, the default timeouts, and which states count
// as ActiveConn. Pure C++ with no DPDK, no allocation and no exceptions: the transition functions
// are constexpr table lookups, meant to be inlined into the packet path.
//
// The tables are those of current kernels (checked against 4.19 and a recent 6.x tree);
// docs/connection-states.md shows them as readable tables and lists what older kernels did.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace fulcrum::dataplane {

// IP_VS_TCP_S_*, in the kernel's numeric order (the order ipvsadm and the sync protocol use).
enum class TcpState : uint8_t {
    none,
    established,
    syn_sent,
    syn_recv,
    fin_wait,
    time_wait,
    close,
    close_wait,
    last_ack,
    listen,
    synack,
    count,  // not a state: the number of states (IP_VS_TCP_S_LAST)
};
inline constexpr size_t tcp_state_count = static_cast<size_t>(TcpState::count);

// Which block of table rows a packet uses (the kernel's TCP_DIR_* offsets 0, 4, 8).
//  input:      client -> server, a packet the director receives from the client;
//  output:     server -> client, a NAT reply passing back through the director;
//  input_only: the client's packets of a connection whose replies bypass the director (DR, TUN).
enum class TcpDirection : uint8_t { input, output, input_only };

// Flag bits of the TCP header's flags byte (offset 13).
inline constexpr uint8_t tcp_flag_fin = 0x01;
inline constexpr uint8_t tcp_flag_syn = 0x02;
inline constexpr uint8_t tcp_flag_rst = 0x04;
inline constexpr uint8_t tcp_flag_ack = 0x10;

// The row within a direction block (the kernel's tcp_state_idx): RST wins over SYN, SYN over FIN,
// FIN over ACK. `other` is a segment with none of the four (PSH or URG alone, or no flags).
enum class TcpEvent : uint8_t { syn, fin, ack, rst, other };

constexpr TcpEvent tcp_event(uint8_t tcp_flags)
{
    if (tcp_flags & tcp_flag_rst) return TcpEvent::rst;
    if (tcp_flags & tcp_flag_syn) return TcpEvent::syn;
    if (tcp_flags & tcp_flag_fin) return TcpEvent::fin;
    if (tcp_flags & tcp_flag_ack) return TcpEvent::ack;
    return TcpEvent::other;
}

namespace tcp_tables {

// Row direction * 4 + event (syn, fin, ack, rst); column = the current state.
using Row = std::array<TcpState, tcp_state_count>;
using Table = std::array<Row, 12>;

namespace abbrev {
inline constexpr TcpState NO = TcpState::none, ES = TcpState::established,
                          SS = TcpState::syn_sent, SR = TcpState::syn_recv,
                          FW = TcpState::fin_wait, TW = TcpState::time_wait,
                          CL = TcpState::close, CW = TcpState::close_wait,
                          LA = TcpState::last_ack, LI = TcpState::listen,
                          SA = TcpState::synack;
}  // namespace abbrev

// tcp_states: the table in use unless the secure_tcp defense is on.
inline constexpr Table normal = [] {
    using namespace abbrev;
    return Table{{
        //  current: NO  ES  SS  SR  FW  TW  CL  CW  LA  LI  SA
        /* input syn */ {SR, ES, ES, SR, SR, SR, SR, SR, SR, SR, SR},
        /* input fin */ {CL, CW, SS, TW, TW, TW, CL, CW, LA, LI, TW},
        /* input ack */ {ES, ES, SS, ES, FW, TW, CL, CW, CL, LI, ES},
        /* input rst */ {CL, CL, CL, SR, CL, CL, CL, CL, LA, LI, SR},
        /* output syn */ {SS, ES, SS, SR, SS, SS, SS, SS, SS, LI, SR},
        /* output fin */ {TW, FW, SS, TW, FW, TW, CL, TW, LA, LI, TW},
        /* output ack */ {ES, ES, SS, ES, FW, TW, CL, CW, LA, ES, ES},
        /* output rst */ {CL, CL, SS, CL, CL, TW, CL, CL, CL, CL, CL},
        /* input_only syn */ {SR, ES, ES, SR, SR, SR, SR, SR, SR, SR, SR},
        /* input_only fin */ {CL, FW, SS, TW, FW, TW, CL, CW, LA, LI, TW},
        /* input_only ack */ {ES, ES, SS, ES, FW, TW, CL, CW, CL, LI, ES},
        /* input_only rst */ {CL, CL, CL, SR, CL, CL, CL, CL, LA, LI, CL},
    }};
}();

// tcp_states_dos: the secure_tcp variant. A NAT connection becomes ESTABLISHED only on an ACK
// from the real server (the client's ACK leaves it in SYN_RECV, or SYNACK once the server's
// SYN-ACK was seen); a DR/TUN client's SYN leads to SYNACK instead of SYN_RECV.
inline constexpr Table secure = [] {
    using namespace abbrev;
    return Table{{
        //  current: NO  ES  SS  SR  FW  TW  CL  CW  LA  LI  SA
        /* input syn */ {SR, ES, ES, SR, SR, SR, SR, SR, SR, SR, SA},
        /* input fin */ {CL, CW, SS, TW, TW, TW, CL, CW, LA, LI, SA},
        /* input ack */ {ES, ES, SS, SR, FW, TW, CL, CW, CL, LI, SA},
        /* input rst */ {CL, CL, CL, SR, CL, CL, CL, CL, LA, LI, CL},
        /* output syn */ {SS, ES, SS, SA, SS, SS, SS, SS, SS, LI, SA},
        /* output fin */ {TW, FW, SS, TW, FW, TW, CL, TW, LA, LI, TW},
        /* output ack */ {ES, ES, SS, ES, FW, TW, CL, CW, LA, ES, ES},
        /* output rst */ {CL, CL, SS, CL, CL, TW, CL, CL, CL, CL, CL},
        /* input_only syn */ {SA, ES, ES, SR, SA, SA, SA, SA, SA, SA, SA},
        /* input_only fin */ {CL, FW, SS, TW, FW, TW, CL, CW, LA, LI, TW},
        /* input_only ack */ {ES, ES, SS, ES, FW, TW, CL, CW, CL, LI, ES},
        /* input_only rst */ {CL, CL, CL, SR, CL, CL, CL, CL, LA, LI, CL},
    }};
}();

}  // namespace tcp_tables

// The state after a packet with `tcp_flags` (the header's flags byte) that uses the `rows` block,
// in a connection now in `current`. A packet with none of SYN, FIN, ACK and RST moves any
// connection to CLOSE: the kernel starts from CLOSE and skips the lookup for such a packet.
// A `current` that is not a state (count or beyond) also gives CLOSE.
constexpr TcpState tcp_next_state(TcpState current, TcpDirection rows, uint8_t tcp_flags,
                                  bool secure_tcp = false)
{
    const TcpEvent event = tcp_event(tcp_flags);
    const auto column = static_cast<size_t>(current);
    if (event == TcpEvent::other || column >= tcp_state_count) return TcpState::close;
    const tcp_tables::Table& table = secure_tcp ? tcp_tables::secure : tcp_tables::normal;
    return table[static_cast<size_t>(rows) * 4 + static_cast<size_t>(event)][column];
}

// A connection's TCP state plus IPVS's IP_VS_CONN_F_NOOUTPUT flag.
struct TcpConnState {
    TcpState state = TcpState::none;
    // Set when a DR or TUN connection is created (every method but NAT): its input packets use
    // the input_only rows. The first packet seen in the output direction clears it for good, and
    // from then on input packets use the input rows.
    bool no_output = false;

    bool operator==(const TcpConnState&) const = default;
};

// The kernel's set_tcp_state() minus the counters: the rows `packet_direction` (input or output,
// as the packet was seen) maps to given `no_output`, and the resulting state and flag.
constexpr TcpConnState tcp_step(TcpConnState conn, TcpDirection packet_direction, uint8_t tcp_flags,
                           bool secure_tcp = false)
{
    TcpDirection rows = packet_direction;
    if (conn.no_output) {
        if (packet_direction == TcpDirection::output)
            conn.no_output = false;
        else
            rows = TcpDirection::input_only;
    }
    conn.state = tcp_next_state(conn.state, rows, tcp_flags, secure_tcp);
    return conn;
}

// Whether a connection in `state` counts in its real server's ActiveConn (true) or InActConn
// (false), as `ipvsadm -L -n` shows them: ESTABLISHED and the three handshake states SYN_SENT,
// SYN_RECV and SYNACK are active (current kernels' tcp_state_active_table; the 2.6/3.x sources
// counted ESTABLISHED only). A new connection starts in NONE, inactive.
constexpr bool tcp_state_is_active(TcpState state)
{
    return state == TcpState::established || state == TcpState::syn_sent ||
           state == TcpState::syn_recv || state == TcpState::synack;
}

// How a transition moves a connection between ActiveConn and InActConn: +1 when it becomes
// active (InActConn loses it), -1 when it stops being active (InActConn gains it), else 0.
constexpr int tcp_active_delta(TcpState from, TcpState to)
{
    return static_cast<int>(tcp_state_is_active(to)) - static_cast<int>(tcp_state_is_active(from));
}

// The kernel's is_new_conn_expected() for TCP: whether a SYN arriving on an existing connection
// should expire it and be scheduled afresh (the client reused its port) instead of being fed to
// the state table on the old real server. `conn_reuse_mode` is the sysctl (default 1; 0 turns
// the rescheduling off altogether); its value-2 bit adds FIN_WAIT for DR/TUN connections, whose
// FIN_WAIT the director cannot tell apart from a finished connection. The kernel asks this for
// any packet with SYN set, and also requires the connection not to be controlled (persistence
// template, FTP data).
constexpr bool tcp_new_conn_expected(TcpState state, bool no_output, uint32_t conn_reuse_mode = 1)
{
    if (conn_reuse_mode == 0) return false;
    return state == TcpState::time_wait || state == TcpState::close ||
           ((conn_reuse_mode & 2) != 0 && state == TcpState::fin_wait && no_output);
}

// The name `ipvsadm -L -c` prints ("ESTABLISHED", "SYN_RECV", ...); "ERR!" for count or beyond.
std::string_view tcp_state_name(TcpState state);
// The lower-case name configuration files use ("established", "syn_recv", ...).
std::string_view tcp_state_key(TcpState state);
// Parses either spelling: ASCII case is ignored, so "SYN_RECV", "syn_recv" and "Syn_Recv" are
// all SYN_RECV. nullopt for anything else (including "count" and the empty string).
std::optional<TcpState> tcp_state_from_name(std::string_view name);

// A key of the configuration's `timeouts:` mapping: `tcp`, `tcp_fin` and `udp` as ipvsadm --set
// names them, or a TCP state by its lower-case name. `tcp` and `established` name the same
// entry, as do `tcp_fin` and `fin_wait`.
struct TimeoutKey {
    bool udp = false;
    TcpState state = TcpState::none;  // when !udp

    bool operator==(const TimeoutKey&) const = default;
};
// Exact, lower-case match only (YAML keys are case-sensitive); nullopt for an unknown key.
std::optional<TimeoutKey> timeout_key_from_name(std::string_view name);
// Every accepted key, for "expected one of: ..." messages: tcp, tcp_fin, udp, then the states
// in the kernel's order.
const std::array<std::string_view, 3 + tcp_state_count>& timeout_key_names();

// Idle timeouts in seconds: one per TCP state, and UDP's. The kernel re-arms a connection's timer
// on every packet with the entry of the state that packet left it in.
struct ConnTimeouts {
    std::array<uint32_t, tcp_state_count> tcp{};
    uint32_t udp = 0;

    // tcp_timeouts[] of ip_vs_proto_tcp.c and udp_timeouts[] of ip_vs_proto_udp.c.
    static constexpr ConnTimeouts ipvs_defaults()
    {
        ConnTimeouts t;
        t.tcp = {2, 900, 120, 60, 120, 120, 10, 60, 30, 120, 120};
        t.udp = 300;
        return t;
    }

    // `state` must be a state (below TcpState::count).
    constexpr uint32_t of(TcpState state) const { return tcp[static_cast<size_t>(state)]; }
    constexpr uint32_t& of(TcpState state) { return tcp[static_cast<size_t>(state)]; }
    constexpr uint32_t entry(TimeoutKey key) const { return key.udp ? udp : of(key.state); }
    constexpr uint32_t& entry(TimeoutKey key) { return key.udp ? udp : of(key.state); }

    // ipvsadm --set tcp tcpfin udp (the kernel's ip_vs_set_timeout): `tcp` is the ESTABLISHED
    // entry, `tcpfin` the FIN_WAIT entry, `udp` UDP's; 0 leaves that entry as it is.
    void set_like_ipvsadm(uint32_t tcp_seconds, uint32_t tcpfin_seconds, uint32_t udp_seconds);

    bool operator==(const ConnTimeouts&) const = default;
};

}  // namespace fulcrum::dataplane
