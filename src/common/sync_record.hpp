// One connection (or persistence template) as connection sync carries it between directors:
// what a worker hands the control thread to send, and what the control thread hands the owning
// worker after a datagram was read. The wire format is the kernel's IPVS sync protocol
// (control/sync/wire.hpp); this is its meaning, without the kernel's flag bits. A ring element:
// trivially copyable, a multiple of 4 bytes.
#pragma once

#include <cstdint>
#include <type_traits>

#include "common/address.hpp"
#include "common/tcp_state.hpp"
#include "common/types.hpp"

namespace fulcrum {

struct SyncRecord {
    // The VIP's family is the connection's, and the wire record's type. The client's is always
    // the VIP's; the real server's may differ (an IPv6 service's IPv4 tunnel real server). A
    // template's client is the client's address under the service's netmask.
    IpAddress client_ip;
    IpAddress vip;
    IpAddress real_ip;
    uint16_t client_port = 0;  // host order; 0 in a template
    uint16_t vport = 0;
    uint16_t real_port = 0;
    uint8_t protocol = 0;      // IP protocol number: 6 or 17
    ForwardMethod method = ForwardMethod::nat;
    bool is_template = false;
    // IPVS's IP_VS_CONN_F_NOOUTPUT: a DR or TUN connection that has seen no reply (TCP rows).
    bool no_output = false;
    // IPVS's IP_VS_CONN_F_INACTIVE: not counted in ActiveConn. A receiver ignores an inactive
    // record for a connection it already has towards another real server (the master's
    // expiry of a connection it has since replaced), as the kernel does.
    bool inactive = false;
    dataplane::TcpState state = dataplane::TcpState::none;  // TCP connections; none otherwise
    uint32_t timeout_seconds = 0;  // the full timeout of its state (a template's: persistence)

    bool is_ipv6() const { return vip.is_ipv6(); }
    bool operator==(const SyncRecord&) const = default;
};
static_assert(std::is_trivially_copyable_v<SyncRecord>);
// Three family-tagged addresses (17 bytes each) rather than a family byte and a union: the
// rings carry a few hundred records a millisecond at most, and the record compares and prints
// as the values it holds.
static_assert(sizeof(IpAddress) == 17);
static_assert(sizeof(SyncRecord) % 4 == 0 && sizeof(SyncRecord) == 68);

}  // namespace fulcrum
