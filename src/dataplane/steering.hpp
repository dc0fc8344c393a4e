// Hardware steering: on a NIC with rte_flow RSS, packets to a VIP are hashed on their source
// (the client's address and port) and all other IPv4 packets on their destination (a NAT
// reply's client), with one symmetric key, so both directions of a connection reach the same
// queue and no packet needs handing off between workers. Virtual devices (af_packet refuses any
// rss_hf and has no rte_flow; net_tap's rte_flow is off on this kernel) fail the validation,
// and the director falls back to software hand-off.
#pragma once

#include <rte_byteorder.h>

#include <cstdint>
#include <string>
#include <vector>

struct rte_flow;

namespace fulcrum::dataplane {

class PortSteering {
public:
    PortSteering() = default;
    PortSteering(const PortSteering&) = delete;
    PortSteering& operator=(const PortSteering&) = delete;
    ~PortSteering() { clear(); }

    // Installs the rules for `vips` on `port_id`, spreading over queues 0..queues-1; replaces
    // what was installed before. Returns an empty string, or why the device cannot steer
    // (nothing is left installed then).
    std::string install(uint16_t port_id, const std::vector<rte_be32_t>& vips, uint16_t queues);

    void clear();

private:
    uint16_t port_id_ = 0;
    std::vector<rte_flow*> flows_;
};

}  // namespace fulcrum::dataplane
