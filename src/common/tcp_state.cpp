#include "common/tcp_state.hpp"

namespace fulcrum::dataplane {

namespace {

constexpr std::array<std::string_view, tcp_state_count> ipvsadm_names = {
    "NONE", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT", "TIME_WAIT",
    "CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "SYNACK",
};

constexpr std::array<std::string_view, 3 + tcp_state_count> config_keys = {
    "tcp", "tcp_fin", "udp",
    "none", "established", "syn_sent", "syn_recv", "fin_wait", "time_wait",
    "close", "close_wait", "last_ack", "listen", "synack",
};

// The state names are the configuration keys past the three ipvsadm --set ones.
constexpr size_t first_state_key = 3;

constexpr char ascii_upper(char c)
{
    return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c;
}

constexpr bool equal_ignoring_case(std::string_view a, std::string_view upper)
{
    if (a.size() != upper.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
        if (ascii_upper(a[i]) != upper[i]) return false;
    return true;
}

}  // namespace

std::string_view tcp_state_name(TcpState state)
{
    const auto i = static_cast<size_t>(state);
    return i < tcp_state_count ? ipvsadm_names[i] : "ERR!";
}

std::string_view tcp_state_key(TcpState state)
{
    const auto i = static_cast<size_t>(state);
    return i < tcp_state_count ? config_keys[first_state_key + i] : "?";
}

std::optional<TcpState> tcp_state_from_name(std::string_view name)
{
    for (size_t i = 0; i < tcp_state_count; ++i)
        if (equal_ignoring_case(name, ipvsadm_names[i])) return static_cast<TcpState>(i);
    return std::nullopt;
}

std::optional<TimeoutKey> timeout_key_from_name(std::string_view name)
{
    if (name == "tcp") return TimeoutKey{false, TcpState::established};
    if (name == "tcp_fin") return TimeoutKey{false, TcpState::fin_wait};
    if (name == "udp") return TimeoutKey{true, TcpState::none};
    for (size_t i = 0; i < tcp_state_count; ++i)
        if (name == config_keys[first_state_key + i])
            return TimeoutKey{false, static_cast<TcpState>(i)};
    return std::nullopt;
}

const std::array<std::string_view, 3 + tcp_state_count>& timeout_key_names()
{
    return config_keys;
}

void ConnTimeouts::set_like_ipvsadm(uint32_t tcp_seconds, uint32_t tcpfin_seconds,
                                    uint32_t udp_seconds)
{
    if (tcp_seconds != 0) of(TcpState::established) = tcp_seconds;
    if (tcpfin_seconds != 0) of(TcpState::fin_wait) = tcpfin_seconds;
    if (udp_seconds != 0) udp = udp_seconds;
}

}  // namespace fulcrum::dataplane
