// IPVS's TCP state machine, checked against the kernel's tables (ip_vs_proto_tcp.c) transcribed a
// second time, independently of src/dataplane/tcp_state.hpp and in another shape: the kernel's
// tables have one row per event and one column per current state; here each line is one current
// state followed by its next state on SYN, FIN, ACK and RST, spelled out as ipvsadm prints them.
#include <gtest/gtest.h>

#include <array>
#include <cctype>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "common/tcp_state.hpp"

using namespace fulcrum::dataplane;

namespace {

constexpr uint8_t FIN = tcp_flag_fin, SYN = tcp_flag_syn, RST = tcp_flag_rst, ACK = tcp_flag_ack;
constexpr uint8_t PSH = 0x08, URG = 0x20, ECE = 0x40, CWR = 0x80;

// The kernel's IP_VS_TCP_S_* order, written out here rather than taken from the module.
const std::vector<std::string> kernel_order = {
    "NONE", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT", "TIME_WAIT",
    "CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "SYNACK",
};

TcpState state_named(const std::string& name)
{
    for (size_t i = 0; i < kernel_order.size(); ++i)
        if (kernel_order[i] == name) return static_cast<TcpState>(i);
    ADD_FAILURE() << "no state named " << name;
    return TcpState::count;
}

// --- tcp_states (normal) -------------------------------------------------------------------------
//   current       on SYN       on FIN       on ACK       on RST
const char* const normal_input = R"(
    NONE          SYN_RECV     CLOSE        ESTABLISHED  CLOSE
    ESTABLISHED   ESTABLISHED  CLOSE_WAIT   ESTABLISHED  CLOSE
    SYN_SENT      ESTABLISHED  SYN_SENT     SYN_SENT     CLOSE
    SYN_RECV      SYN_RECV     TIME_WAIT    ESTABLISHED  SYN_RECV
    FIN_WAIT      SYN_RECV     TIME_WAIT    FIN_WAIT     CLOSE
    TIME_WAIT     SYN_RECV     TIME_WAIT    TIME_WAIT    CLOSE
    CLOSE         SYN_RECV     CLOSE        CLOSE        CLOSE
    CLOSE_WAIT    SYN_RECV     CLOSE_WAIT   CLOSE_WAIT   CLOSE
    LAST_ACK      SYN_RECV     LAST_ACK     CLOSE        LAST_ACK
    LISTEN        SYN_RECV     LISTEN       LISTEN       LISTEN
    SYNACK        SYN_RECV     TIME_WAIT    ESTABLISHED  SYN_RECV
)";
const char* const normal_output = R"(
    NONE          SYN_SENT     TIME_WAIT    ESTABLISHED  CLOSE
    ESTABLISHED   ESTABLISHED  FIN_WAIT     ESTABLISHED  CLOSE
    SYN_SENT      SYN_SENT     SYN_SENT     SYN_SENT     SYN_SENT
    SYN_RECV      SYN_RECV     TIME_WAIT    ESTABLISHED  CLOSE
    FIN_WAIT      SYN_SENT     FIN_WAIT     FIN_WAIT     CLOSE
    TIME_WAIT     SYN_SENT     TIME_WAIT    TIME_WAIT    TIME_WAIT
    CLOSE         SYN_SENT     CLOSE        CLOSE        CLOSE
    CLOSE_WAIT    SYN_SENT     TIME_WAIT    CLOSE_WAIT   CLOSE
    LAST_ACK      SYN_SENT     LAST_ACK     LAST_ACK     CLOSE
    LISTEN        LISTEN       LISTEN       ESTABLISHED  CLOSE
    SYNACK        SYN_RECV     TIME_WAIT    ESTABLISHED  CLOSE
)";
const char* const normal_input_only = R"(
    NONE          SYN_RECV     CLOSE        ESTABLISHED  CLOSE
    ESTABLISHED   ESTABLISHED  FIN_WAIT     ESTABLISHED  CLOSE
    SYN_SENT      ESTABLISHED  SYN_SENT     SYN_SENT     CLOSE
    SYN_RECV      SYN_RECV     TIME_WAIT    ESTABLISHED  SYN_RECV
    FIN_WAIT      SYN_RECV     FIN_WAIT     FIN_WAIT     CLOSE
    TIME_WAIT     SYN_RECV     TIME_WAIT    TIME_WAIT    CLOSE
    CLOSE         SYN_RECV     CLOSE        CLOSE        CLOSE
    CLOSE_WAIT    SYN_RECV     CLOSE_WAIT   CLOSE_WAIT   CLOSE
    LAST_ACK      SYN_RECV     LAST_ACK     CLOSE        LAST_ACK
    LISTEN        SYN_RECV     LISTEN       LISTEN       LISTEN
    SYNACK        SYN_RECV     TIME_WAIT    ESTABLISHED  CLOSE
)";

// --- tcp_states_dos (secure_tcp) -----------------------------------------------------------------
const char* const secure_input = R"(
    NONE          SYN_RECV     CLOSE        ESTABLISHED  CLOSE
    ESTABLISHED   ESTABLISHED  CLOSE_WAIT   ESTABLISHED  CLOSE
    SYN_SENT      ESTABLISHED  SYN_SENT     SYN_SENT     CLOSE
    SYN_RECV      SYN_RECV     TIME_WAIT    SYN_RECV     SYN_RECV
    FIN_WAIT      SYN_RECV     TIME_WAIT    FIN_WAIT     CLOSE
    TIME_WAIT     SYN_RECV     TIME_WAIT    TIME_WAIT    CLOSE
    CLOSE         SYN_RECV     CLOSE        CLOSE        CLOSE
    CLOSE_WAIT    SYN_RECV     CLOSE_WAIT   CLOSE_WAIT   CLOSE
    LAST_ACK      SYN_RECV     LAST_ACK     CLOSE        LAST_ACK
    LISTEN        SYN_RECV     LISTEN       LISTEN       LISTEN
    SYNACK        SYNACK       SYNACK       SYNACK       CLOSE
)";
const char* const secure_output = R"(
    NONE          SYN_SENT     TIME_WAIT    ESTABLISHED  CLOSE
    ESTABLISHED   ESTABLISHED  FIN_WAIT     ESTABLISHED  CLOSE
    SYN_SENT      SYN_SENT     SYN_SENT     SYN_SENT     SYN_SENT
    SYN_RECV      SYNACK       TIME_WAIT    ESTABLISHED  CLOSE
    FIN_WAIT      SYN_SENT     FIN_WAIT     FIN_WAIT     CLOSE
    TIME_WAIT     SYN_SENT     TIME_WAIT    TIME_WAIT    TIME_WAIT
    CLOSE         SYN_SENT     CLOSE        CLOSE        CLOSE
    CLOSE_WAIT    SYN_SENT     TIME_WAIT    CLOSE_WAIT   CLOSE
    LAST_ACK      SYN_SENT     LAST_ACK     LAST_ACK     CLOSE
    LISTEN        LISTEN       LISTEN       ESTABLISHED  CLOSE
    SYNACK        SYNACK       TIME_WAIT    ESTABLISHED  CLOSE
)";
const char* const secure_input_only = R"(
    NONE          SYNACK       CLOSE        ESTABLISHED  CLOSE
    ESTABLISHED   ESTABLISHED  FIN_WAIT     ESTABLISHED  CLOSE
    SYN_SENT      ESTABLISHED  SYN_SENT     SYN_SENT     CLOSE
    SYN_RECV      SYN_RECV     TIME_WAIT    ESTABLISHED  SYN_RECV
    FIN_WAIT      SYNACK       FIN_WAIT     FIN_WAIT     CLOSE
    TIME_WAIT     SYNACK       TIME_WAIT    TIME_WAIT    CLOSE
    CLOSE         SYNACK       CLOSE        CLOSE        CLOSE
    CLOSE_WAIT    SYNACK       CLOSE_WAIT   CLOSE_WAIT   CLOSE
    LAST_ACK      SYNACK       LAST_ACK     CLOSE        LAST_ACK
    LISTEN        SYNACK       LISTEN       LISTEN       LISTEN
    SYNACK        SYNACK       TIME_WAIT    ESTABLISHED  CLOSE
)";

struct ExpectedBlock {
    const char* name;
    bool secure;
    TcpDirection rows;
    const char* text;
};
const ExpectedBlock expected_blocks[] = {
    {"normal input", false, TcpDirection::input, normal_input},
    {"normal output", false, TcpDirection::output, normal_output},
    {"normal input_only", false, TcpDirection::input_only, normal_input_only},
    {"secure input", true, TcpDirection::input, secure_input},
    {"secure output", true, TcpDirection::output, secure_output},
    {"secure input_only", true, TcpDirection::input_only, secure_input_only},
};

// next[current][event] with events in the order SYN, FIN, ACK, RST.
using Block = std::array<std::array<TcpState, 4>, tcp_state_count>;

Block parse_block(const ExpectedBlock& b)
{
    Block out{};
    std::istringstream in(b.text);
    std::string line;
    size_t row = 0;
    while (std::getline(in, line)) {
        std::istringstream words(line);
        std::vector<std::string> w;
        for (std::string s; words >> s;) w.push_back(s);
        if (w.empty()) continue;
        EXPECT_EQ(w.size(), 5u) << b.name << ": " << line;
        if (w.size() != 5) continue;
        // Lines must be in the kernel's state order, so a line cannot go missing unnoticed.
        EXPECT_LT(row, tcp_state_count) << b.name;
        if (row >= tcp_state_count) break;
        EXPECT_EQ(w[0], kernel_order[row]) << b.name;
        for (size_t e = 0; e < 4; ++e) out[row][e] = state_named(w[e + 1]);
        ++row;
    }
    EXPECT_EQ(row, tcp_state_count) << b.name;
    return out;
}

std::string name_of(TcpState s)
{
    const auto i = static_cast<size_t>(s);
    return i < kernel_order.size() ? kernel_order[i] : "#" + std::to_string(i);
}

const uint8_t event_flags[4] = {SYN, FIN, ACK, RST};
const char* const event_names[4] = {"SYN", "FIN", "ACK", "RST"};

// Flag bytes that the kernel files under each event (tcp_state_idx: RST, then SYN, FIN, ACK).
const std::vector<uint8_t> flags_for_event[4] = {
    {SYN, SYN | ACK, SYN | FIN, SYN | FIN | ACK, SYN | PSH, SYN | ECE | CWR, SYN | URG | ACK},
    {FIN, FIN | ACK, FIN | PSH | ACK, FIN | URG, FIN | ACK | ECE},
    {ACK, ACK | PSH, ACK | URG, ACK | ECE | CWR, ACK | PSH | URG},
    {RST, RST | ACK, RST | SYN, RST | FIN, RST | SYN | FIN | ACK, 0xff},
};
const std::vector<uint8_t> flags_without_event = {0x00, PSH, URG, ECE, CWR, PSH | URG, 0xe8};

}  // namespace

// --- Every entry of both tables ------------------------------------------------------------------

TEST(TcpStateTables, EveryTransitionMatchesTheKernel)
{
    int checked = 0;
    for (const ExpectedBlock& b : expected_blocks) {
        const Block expected = parse_block(b);
        for (size_t s = 0; s < tcp_state_count; ++s) {
            for (size_t e = 0; e < 4; ++e) {
                const auto current = static_cast<TcpState>(s);
                const TcpState got = tcp_next_state(current, b.rows, event_flags[e], b.secure);
                EXPECT_EQ(got, expected[s][e])
                    << b.name << ": " << name_of(current) << " + " << event_names[e] << " gave "
                    << name_of(got) << ", the kernel has " << name_of(expected[s][e]);
                ++checked;
            }
        }
    }
    EXPECT_EQ(checked, 2 * 3 * 11 * 4);
}

TEST(TcpStateTables, EveryFlagCombinationFollowsTheKernelsPrecedence)
{
    for (const ExpectedBlock& b : expected_blocks) {
        const Block expected = parse_block(b);
        for (size_t s = 0; s < tcp_state_count; ++s) {
            const auto current = static_cast<TcpState>(s);
            for (size_t e = 0; e < 4; ++e)
                for (uint8_t flags : flags_for_event[e])
                    EXPECT_EQ(tcp_next_state(current, b.rows, flags, b.secure), expected[s][e])
                        << b.name << " " << name_of(current) << " flags 0x" << std::hex
                        << int{flags};
            // No SYN, FIN, ACK or RST: the kernel keeps its initial CLOSE and skips the table.
            for (uint8_t flags : flags_without_event)
                EXPECT_EQ(tcp_next_state(current, b.rows, flags, b.secure), TcpState::close)
                    << b.name << " " << name_of(current) << " flags 0x" << std::hex
                    << int{flags};
        }
    }
}

TEST(TcpStateTables, AllEightBitFlagBytesClassify)
{
    for (int f = 0; f < 256; ++f) {
        const auto flags = static_cast<uint8_t>(f);
        TcpEvent want = TcpEvent::other;
        if (flags & 0x04) want = TcpEvent::rst;
        else if (flags & 0x02) want = TcpEvent::syn;
        else if (flags & 0x01) want = TcpEvent::fin;
        else if (flags & 0x10) want = TcpEvent::ack;
        EXPECT_EQ(tcp_event(flags), want) << f;
    }
}

TEST(TcpStateTables, EntriesAreStatesAndInvalidCurrentGivesClose)
{
    for (const auto* table : {&tcp_tables::normal, &tcp_tables::secure})
        for (const auto& row : *table)
            for (TcpState s : row) EXPECT_LT(static_cast<size_t>(s), tcp_state_count);
    EXPECT_EQ(tcp_next_state(TcpState::count, TcpDirection::input, SYN), TcpState::close);
    EXPECT_EQ(tcp_next_state(static_cast<TcpState>(200), TcpDirection::output, ACK, true),
              TcpState::close);
}

TEST(TcpStateTables, UsableAtCompileTime)
{
    static_assert(tcp_next_state(TcpState::none, TcpDirection::input, SYN) == TcpState::syn_recv);
    static_assert(tcp_next_state(TcpState::syn_recv, TcpDirection::output, SYN | ACK, true) ==
                  TcpState::synack);
    static_assert(tcp_step({TcpState::none, true}, TcpDirection::input, SYN, true).state ==
                  TcpState::synack);
    static_assert(tcp_event(SYN | RST) == TcpEvent::rst);
    static_assert(ConnTimeouts::ipvs_defaults().of(TcpState::established) == 900);
    SUCCEED();
}

// In the normal table no transition leads into LISTEN, LAST_ACK or SYNACK from another state:
// LISTEN is only ever set directly (ip_vs_tcp_conn_listen, for FTP data connections), and
// LAST_ACK is unreachable. The secure table reaches SYNACK.
TEST(TcpStateTables, StatesReachableFromNone)
{
    for (bool secure : {false, true}) {
        std::set<std::pair<TcpState, bool>> seen;
        std::vector<TcpConnState> todo = {{TcpState::none, false}, {TcpState::none, true}};
        while (!todo.empty()) {
            TcpConnState c = todo.back();
            todo.pop_back();
            if (!seen.insert({c.state, c.no_output}).second) continue;
            for (TcpDirection d : {TcpDirection::input, TcpDirection::output})
                for (uint8_t f : {SYN, FIN, ACK, RST, PSH})
                    todo.push_back(tcp_step(c, d, f, secure));
        }
        std::set<std::string> states;
        for (const auto& [s, no_output] : seen) states.insert(name_of(s));
        std::set<std::string> want = {"NONE",      "ESTABLISHED", "SYN_SENT", "SYN_RECV",
                                      "FIN_WAIT",  "TIME_WAIT",   "CLOSE",    "CLOSE_WAIT"};
        if (secure) want.insert("SYNACK");
        EXPECT_EQ(states, want) << (secure ? "secure" : "normal");
    }
}

// --- set_tcp_state's choice of rows --------------------------------------------------------------

TEST(TcpStep, NoOutputSendsInputPacketsToInputOnlyRows)
{
    // ESTABLISHED + FIN is where input and input_only differ: CLOSE_WAIT vs FIN_WAIT.
    EXPECT_EQ(tcp_step({TcpState::established, false}, TcpDirection::input, FIN | ACK),
              (TcpConnState{TcpState::close_wait, false}));
    EXPECT_EQ(tcp_step({TcpState::established, true}, TcpDirection::input, FIN | ACK),
              (TcpConnState{TcpState::fin_wait, true}));
    // An input_only packet direction uses those rows whatever the flag says.
    EXPECT_EQ(tcp_step({TcpState::established, false}, TcpDirection::input_only, FIN),
              (TcpConnState{TcpState::fin_wait, false}));
}

TEST(TcpStep, AnOutputPacketClearsNoOutputForGood)
{
    TcpConnState c{TcpState::established, true};
    c = tcp_step(c, TcpDirection::output, ACK);
    EXPECT_EQ(c, (TcpConnState{TcpState::established, false}));
    c = tcp_step(c, TcpDirection::input, FIN | ACK);
    EXPECT_EQ(c, (TcpConnState{TcpState::close_wait, false}));  // the input rows now
    // The output packet is looked up in the output rows even as it clears the flag.
    EXPECT_EQ(tcp_step({TcpState::established, true}, TcpDirection::output, FIN | ACK),
              (TcpConnState{TcpState::fin_wait, false}));
    EXPECT_EQ(tcp_step({TcpState::none, true}, TcpDirection::output, SYN),
              (TcpConnState{TcpState::syn_sent, false}));
}

TEST(TcpStep, FlagWithoutEventStillUpdatesTheFlag)
{
    EXPECT_EQ(tcp_step({TcpState::established, true}, TcpDirection::output, PSH),
              (TcpConnState{TcpState::close, false}));
    EXPECT_EQ(tcp_step({TcpState::established, true}, TcpDirection::input, 0),
              (TcpConnState{TcpState::close, true}));
}

// --- Typical sequences, with the ActiveConn / InActConn bookkeeping ------------------------------

namespace {

struct Packet {
    TcpDirection direction;  // as the packet is seen: input (from the client) or output
    uint8_t flags;
    const char* expect;      // the state afterwards, as ipvsadm names it
};

struct Sequence {
    const char* description;
    bool no_output;  // DR or TUN
    bool secure;
    std::vector<Packet> packets;
};

constexpr auto IN = TcpDirection::input;
constexpr auto OUT = TcpDirection::output;

const std::vector<Sequence> sequences = {
    {"NAT: handshake, data, the client closes first", false, false,
     {{IN, SYN, "SYN_RECV"},
      {OUT, SYN | ACK, "SYN_RECV"},  // a SYN-ACK counts as SYN: no change in SYN_RECV
      {IN, ACK, "ESTABLISHED"},
      {IN, PSH | ACK, "ESTABLISHED"},
      {OUT, PSH | ACK, "ESTABLISHED"},
      {IN, FIN | ACK, "CLOSE_WAIT"},
      {OUT, ACK, "CLOSE_WAIT"},
      {OUT, FIN | ACK, "TIME_WAIT"},
      {IN, ACK, "TIME_WAIT"}}},
    {"NAT: the server closes first", false, false,
     {{IN, SYN, "SYN_RECV"},
      {OUT, SYN | ACK, "SYN_RECV"},
      {IN, ACK, "ESTABLISHED"},
      {OUT, FIN | ACK, "FIN_WAIT"},
      {IN, ACK, "FIN_WAIT"},
      {IN, FIN | ACK, "TIME_WAIT"},
      {OUT, ACK, "TIME_WAIT"}}},
    {"NAT: the server's SYN-ACK lost, client's ACK still establishes", false, false,
     {{IN, SYN, "SYN_RECV"}, {IN, ACK, "ESTABLISHED"}}},
    {"NAT: the client resets an established connection", false, false,
     {{IN, SYN, "SYN_RECV"}, {OUT, SYN | ACK, "SYN_RECV"}, {IN, ACK, "ESTABLISHED"},
      {IN, RST | ACK, "CLOSE"}, {IN, ACK, "CLOSE"}}},
    {"NAT: the server refuses (RST to the SYN)", false, false,
     {{IN, SYN, "SYN_RECV"}, {OUT, RST | ACK, "CLOSE"}}},
    {"NAT: a client RST during the handshake is ignored", false, false,
     {{IN, SYN, "SYN_RECV"}, {IN, RST, "SYN_RECV"}, {OUT, SYN | ACK, "SYN_RECV"},
      {IN, ACK, "ESTABLISHED"}}},
    {"NAT: a SYN retransmitted after the handshake changes nothing", false, false,
     {{IN, SYN, "SYN_RECV"}, {OUT, SYN | ACK, "SYN_RECV"}, {IN, ACK, "ESTABLISHED"},
      {IN, SYN, "ESTABLISHED"}, {OUT, SYN | ACK, "ESTABLISHED"}}},
    {"NAT: the real server opens (active FTP data)", false, false,
     {{OUT, SYN, "SYN_SENT"}, {IN, SYN | ACK, "ESTABLISHED"}, {OUT, ACK, "ESTABLISHED"}}},
    {"NAT: a segment with no SYN/FIN/ACK/RST closes", false, false,
     {{IN, SYN, "SYN_RECV"}, {OUT, SYN | ACK, "SYN_RECV"}, {IN, ACK, "ESTABLISHED"},
      {IN, PSH, "CLOSE"}}},
    {"NAT: a new SYN on a TIME_WAIT entry reopens it", false, false,
     {{IN, SYN, "SYN_RECV"}, {IN, ACK, "ESTABLISHED"}, {OUT, FIN | ACK, "FIN_WAIT"},
      {IN, FIN | ACK, "TIME_WAIT"}, {IN, SYN, "SYN_RECV"}, {IN, ACK, "ESTABLISHED"}}},
    {"DR: the director sees only the client", true, false,
     {{IN, SYN, "SYN_RECV"},
      {IN, ACK, "ESTABLISHED"},
      {IN, PSH | ACK, "ESTABLISHED"},
      {IN, FIN | ACK, "FIN_WAIT"},
      {IN, ACK, "FIN_WAIT"}}},
    {"DR: the client resets", true, false,
     {{IN, SYN, "SYN_RECV"}, {IN, ACK, "ESTABLISHED"}, {IN, RST, "CLOSE"}}},
    {"DR: a client RST during the handshake is ignored", true, false,
     {{IN, SYN, "SYN_RECV"}, {IN, RST, "SYN_RECV"}, {IN, ACK, "ESTABLISHED"}}},
    {"DR: FIN before the handshake completes", true, false,
     {{IN, SYN, "SYN_RECV"}, {IN, FIN, "TIME_WAIT"}}},
    {"secure_tcp NAT: ESTABLISHED only on the server's ACK", false, true,
     {{IN, SYN, "SYN_RECV"},
      {OUT, SYN | ACK, "SYNACK"},
      {IN, ACK, "SYNACK"},
      {IN, PSH | ACK, "SYNACK"},
      {OUT, ACK, "ESTABLISHED"},
      {IN, FIN | ACK, "CLOSE_WAIT"}}},
    {"secure_tcp NAT: the client's ACK without the server's SYN-ACK", false, true,
     {{IN, SYN, "SYN_RECV"}, {IN, ACK, "SYN_RECV"}, {IN, ACK, "SYN_RECV"}}},
    {"secure_tcp NAT: a client RST in SYNACK closes", false, true,
     {{IN, SYN, "SYN_RECV"}, {OUT, SYN | ACK, "SYNACK"}, {IN, RST, "CLOSE"}}},
    {"secure_tcp DR: the SYN leads to SYNACK", true, true,
     {{IN, SYN, "SYNACK"}, {IN, ACK, "ESTABLISHED"}, {IN, FIN | ACK, "FIN_WAIT"}}},
};

}  // namespace

TEST(TcpSequences, StatesAndActiveCounts)
{
    for (const Sequence& seq : sequences) {
        SCOPED_TRACE(seq.description);
        TcpConnState c{TcpState::none, seq.no_output};
        // A new connection is bound to its real server as inactive (IP_VS_CONN_F_INACTIVE).
        int active = 0, inactive = 1;
        for (const Packet& p : seq.packets) {
            const TcpConnState next = tcp_step(c, p.direction, p.flags, seq.secure);
            EXPECT_EQ(name_of(next.state), p.expect);
            const int delta = tcp_active_delta(c.state, next.state);
            active += delta;
            inactive -= delta;
            c = next;
            EXPECT_EQ(active, tcp_state_is_active(c.state) ? 1 : 0) << name_of(c.state);
            EXPECT_EQ(active + inactive, 1);
        }
    }
}

TEST(TcpActive, WhichStatesAreActive)
{
    const std::set<std::string> active = {"ESTABLISHED", "SYN_SENT", "SYN_RECV", "SYNACK"};
    for (size_t i = 0; i < tcp_state_count; ++i) {
        const auto s = static_cast<TcpState>(i);
        EXPECT_EQ(tcp_state_is_active(s), active.count(kernel_order[i]) == 1) << kernel_order[i];
    }
    EXPECT_FALSE(tcp_state_is_active(TcpState::count));
}

TEST(TcpActive, Delta)
{
    EXPECT_EQ(tcp_active_delta(TcpState::none, TcpState::syn_recv), 1);
    EXPECT_EQ(tcp_active_delta(TcpState::syn_recv, TcpState::established), 0);
    EXPECT_EQ(tcp_active_delta(TcpState::established, TcpState::close_wait), -1);
    EXPECT_EQ(tcp_active_delta(TcpState::time_wait, TcpState::syn_recv), 1);
    EXPECT_EQ(tcp_active_delta(TcpState::close, TcpState::close), 0);
    EXPECT_EQ(tcp_active_delta(TcpState::syn_recv, TcpState::synack), 0);
}

TEST(TcpReuse, NewConnExpected)
{
    for (size_t i = 0; i < tcp_state_count; ++i) {
        const auto s = static_cast<TcpState>(i);
        const bool closed = s == TcpState::time_wait || s == TcpState::close;
        for (bool no_output : {false, true}) {
            EXPECT_FALSE(tcp_new_conn_expected(s, no_output, 0)) << kernel_order[i];
            EXPECT_EQ(tcp_new_conn_expected(s, no_output, 1), closed) << kernel_order[i];
            EXPECT_EQ(tcp_new_conn_expected(s, no_output),
                      tcp_new_conn_expected(s, no_output, 1));
            EXPECT_EQ(tcp_new_conn_expected(s, no_output, 3),
                      closed || (s == TcpState::fin_wait && no_output))
                << kernel_order[i] << " no_output " << no_output;
        }
    }
    EXPECT_FALSE(tcp_new_conn_expected(TcpState::fin_wait, true, 1));
    EXPECT_TRUE(tcp_new_conn_expected(TcpState::fin_wait, true, 2));
}

// --- Names ---------------------------------------------------------------------------------------

TEST(TcpNames, IpvsadmNamesInKernelOrder)
{
    for (size_t i = 0; i < tcp_state_count; ++i)
        EXPECT_EQ(tcp_state_name(static_cast<TcpState>(i)), kernel_order[i]);
    EXPECT_EQ(tcp_state_name(TcpState::count), "ERR!");
    EXPECT_EQ(tcp_state_count, 11u);
}

TEST(TcpNames, RoundTripAndLowerCaseKeys)
{
    for (size_t i = 0; i < tcp_state_count; ++i) {
        const auto s = static_cast<TcpState>(i);
        std::string lower = kernel_order[i];
        for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        EXPECT_EQ(tcp_state_key(s), lower);
        EXPECT_EQ(tcp_state_from_name(tcp_state_name(s)), s);
        EXPECT_EQ(tcp_state_from_name(tcp_state_key(s)), s);
        EXPECT_EQ(tcp_state_from_name(lower), s);
    }
    EXPECT_EQ(tcp_state_from_name("Syn_Recv"), TcpState::syn_recv);
    EXPECT_EQ(tcp_state_from_name("synack"), TcpState::synack);
}

TEST(TcpNames, UnknownNames)
{
    for (const char* bad : {"", "count", "COUNT", "ERR!", "BUG!", "SYN-RECV", "SYN_RECV ",
                            " none", "ESTABLISHE", "ESTABLISHEDX", "UDP", "syn recv"})
        EXPECT_EQ(tcp_state_from_name(bad), std::nullopt) << '"' << bad << '"';
    EXPECT_EQ(tcp_state_key(TcpState::count), "?");
}

// --- Timeouts ------------------------------------------------------------------------------------

TEST(TcpTimeouts, KernelDefaults)
{
    const ConnTimeouts t = ConnTimeouts::ipvs_defaults();
    // tcp_timeouts[]: 2*HZ, 15*60*HZ, 2*60*HZ, 1*60*HZ, 2*60*HZ, 2*60*HZ, 10*HZ, 60*HZ, 30*HZ,
    // 2*60*HZ, 120*HZ; udp_timeouts[IP_VS_UDP_S_NORMAL]: 5*60*HZ.
    const std::vector<std::pair<std::string, uint32_t>> want = {
        {"NONE", 2},         {"ESTABLISHED", 900}, {"SYN_SENT", 120}, {"SYN_RECV", 60},
        {"FIN_WAIT", 120},   {"TIME_WAIT", 120},   {"CLOSE", 10},     {"CLOSE_WAIT", 60},
        {"LAST_ACK", 30},    {"LISTEN", 120},      {"SYNACK", 120},
    };
    ASSERT_EQ(want.size(), tcp_state_count);
    for (const auto& [name, seconds] : want) EXPECT_EQ(t.of(state_named(name)), seconds) << name;
    EXPECT_EQ(t.udp, 300u);
}

TEST(TcpTimeouts, IpvsadmSetMapsOntoTheTable)
{
    ConnTimeouts t = ConnTimeouts::ipvs_defaults();
    t.set_like_ipvsadm(3600, 30, 60);
    ConnTimeouts want = ConnTimeouts::ipvs_defaults();
    want.of(TcpState::established) = 3600;
    want.of(TcpState::fin_wait) = 30;
    want.udp = 60;
    EXPECT_EQ(t, want);
    // 0 leaves an entry alone, as the kernel's ip_vs_set_timeout does.
    t.set_like_ipvsadm(0, 0, 0);
    EXPECT_EQ(t, want);
    t.set_like_ipvsadm(0, 45, 0);
    want.of(TcpState::fin_wait) = 45;
    EXPECT_EQ(t, want);
    // Nothing else moves: TIME_WAIT and CLOSE_WAIT keep their own entries.
    EXPECT_EQ(t.of(TcpState::time_wait), 120u);
    EXPECT_EQ(t.of(TcpState::close_wait), 60u);
}

TEST(TcpTimeouts, ConfigurationKeys)
{
    EXPECT_EQ(timeout_key_from_name("tcp"), (TimeoutKey{false, TcpState::established}));
    EXPECT_EQ(timeout_key_from_name("tcp_fin"), (TimeoutKey{false, TcpState::fin_wait}));
    EXPECT_EQ(timeout_key_from_name("udp"), (TimeoutKey{true, TcpState::none}));
    for (size_t i = 0; i < tcp_state_count; ++i) {
        const auto s = static_cast<TcpState>(i);
        EXPECT_EQ(timeout_key_from_name(tcp_state_key(s)), (TimeoutKey{false, s}));
    }
    EXPECT_EQ(timeout_key_from_name("established"), timeout_key_from_name("tcp"));
    EXPECT_EQ(timeout_key_from_name("fin_wait"), timeout_key_from_name("tcp_fin"));
    for (const char* bad : {"", "TCP", "tcpfin", "tcp-fin", "SYN_RECV", "Established", "count",
                            "udp ", "sctp"})
        EXPECT_EQ(timeout_key_from_name(bad), std::nullopt) << '"' << bad << '"';

    const auto& names = timeout_key_names();
    EXPECT_EQ(names[0], "tcp");
    EXPECT_EQ(names[1], "tcp_fin");
    EXPECT_EQ(names[2], "udp");
    for (std::string_view n : names) EXPECT_TRUE(timeout_key_from_name(n).has_value()) << n;

    ConnTimeouts t = ConnTimeouts::ipvs_defaults();
    t.entry(*timeout_key_from_name("syn_recv")) = 5;
    t.entry(*timeout_key_from_name("udp")) = 7;
    t.entry(*timeout_key_from_name("tcp")) = 1000;
    EXPECT_EQ(t.of(TcpState::syn_recv), 5u);
    EXPECT_EQ(t.udp, 7u);
    EXPECT_EQ(t.of(TcpState::established), 1000u);
    EXPECT_EQ(t.entry(*timeout_key_from_name("established")), 1000u);
}
