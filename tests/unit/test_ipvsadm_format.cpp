#include <gtest/gtest.h>

#include "control/ipvsadm_format.hpp"

using namespace fulcrum;
using namespace fulcrum::control;

TEST(IpvsadmFormat, ListLooksLikeIpvsadmLn)
{
    Config c;
    ServiceConfig udp{0xC6120064, 53, Protocol::udp, "rr", ForwardMethod::nat, {{0xC613000B, 53, 1, ForwardMethod::nat}}};
    ServiceConfig tcp{0xC6120064, 80, Protocol::tcp, "wrr", ForwardMethod::nat,
                      {{0xC613000D, 80, 1, ForwardMethod::tun},
                       {0xC613000B, 8080, 3, ForwardMethod::nat},
                       {0xC612000E, 80, 0, ForwardMethod::dr}}};
    ServiceConfig tcp_low{0x0A000001, 443, Protocol::tcp, "rr", ForwardMethod::nat, {}};
    c.services = {udp, tcp, tcp_low};
    const std::string text = format_ipvsadm_list(c, 4096, [](const ServiceConfig& s, const RealServerConfig& rs) {
        return s.port == 80 && rs.weight == 3 ? RealServerCounts{12, 345} : RealServerCounts{};
    });
    EXPECT_EQ(text,
              "IP Virtual Server version 1.2.1 (size=4096)\n"
              "Prot LocalAddress:Port Scheduler Flags\n"
              "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n"
              "TCP  10.0.0.1:443 rr\n"
              "TCP  198.18.0.100:80 wrr\n"
              "  -> 198.18.0.14:80               Route   0      0          0         \n"
              "  -> 198.19.0.11:8080             Masq    3      12         345       \n"
              "  -> 198.19.0.13:80               Tunnel  1      0          0         \n"
              "UDP  198.18.0.100:53 rr\n"
              "  -> 198.19.0.11:53               Masq    1      0          0         \n");
}
