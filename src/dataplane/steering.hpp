// Hardware steering: on a NIC with rte_flow RSS, packets to a VIP are hashed on their source
// (the client's address and port) and all other IPv4 packets on their destination (a NAT
// reply's client), with one symmetric key, so both directions of a connection reach the same
// queue. The owner function then is that same hash (OwnerHash::toeplitz, handoff.hpp), so the
// queue the NIC picks is the owner's; what it cannot steer so (ICMP errors, IPv6, a VIP whose
// rule failed) is handed off as without steering. Virtual devices (af_packet has no rte_flow;
// net_tap's is off on this kernel) fail the validation, and the director uses the CRC owner
// function and hand-off alone.
#pragma once

#include <rte_byteorder.h>
#include <rte_ethdev.h>
#include <rte_flow.h>

#include "dataplane/worker_context.hpp"

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace fulcrum::dataplane {

// A symmetric Toeplitz key (0x6d5a repeated): with a period of 16 bits, a field's contribution
// does not depend on which 16-bit-aligned slot it is in, so hashing the source of a request and
// the destination of its reply give one client the same hash.
inline constexpr std::array<uint8_t, 40> steering_rss_key = {
    0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
    0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
    0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a};

// The calls steering makes into DPDK, replaceable by tests (no device here has rte_flow).
struct FlowCalls {
    decltype(&rte_eth_dev_info_get) device_info = rte_eth_dev_info_get;
    decltype(&rte_flow_validate) validate = rte_flow_validate;
    decltype(&rte_flow_create) create = rte_flow_create;
    decltype(&rte_flow_destroy) destroy = rte_flow_destroy;
};

// The rules of one port, spreading over its queues 0..queues-1.
class PortSteering {
public:
    PortSteering(uint16_t port_id, uint16_t queues, FlowCalls calls = {})
        : calls_(calls), port_id_(port_id), queues_(queues) {}
    PortSteering(const PortSteering&) = delete;
    PortSteering& operator=(const PortSteering&) = delete;
    ~PortSteering() { clear(); }

    // Installs the rules for `vips`: the first time every rule; later the rules of new VIPs, then
    // the removal of those of VIPs that left, so that there is no moment without rules. Returns an
    // empty string, or why the device cannot steer so; then the rules installed before stay,
    // untouched.
    std::string install(const std::vector<rte_be32_t>& vips);

    uint16_t port() const { return port_id_; }
    void clear();

private:
    FlowCalls calls_;
    uint16_t port_id_;
    uint16_t queues_;
    std::map<rte_be32_t, rte_flow*> vip_rules_;
    rte_flow* catch_all_ = nullptr;
};

// The rules of every port, and the owner function they allow.
class Steering {
public:
    explicit Steering(FlowCalls calls = {}) : calls_(calls) {}

    // At start, before any worker runs: the NIC's hash (toeplitz) when every port of
    // `rx_queue_counts` (port id, RX queues) takes the rules, else crc with no rule left anywhere
    // and `why` saying what refused. The answer is the owner function for the director's life.
    OwnerHash start(unsigned workers, const std::map<uint16_t, uint16_t>& rx_queue_counts,
                    const std::vector<rte_be32_t>& vips, std::string& why);

    // After a reload, the VIPs' rules on every port that steers. A port that refuses keeps its
    // old rules (one line each in the result); the owner function is not this function's to change.
    std::vector<std::string> update(const std::vector<rte_be32_t>& vips);

    bool active() const { return !ports_.empty(); }
    void clear() { ports_.clear(); }

private:
    FlowCalls calls_;
    std::vector<std::unique_ptr<PortSteering>> ports_;
};

}  // namespace fulcrum::dataplane
