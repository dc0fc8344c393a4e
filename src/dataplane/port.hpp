// Ports, queues and the packet pool: turning configured devices into started DPDK ports.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/types.hpp"

struct rte_mempool;

namespace fulcrum::dataplane {

// The EAL device name of a configured device: the vdev name before its first ',', or the PCI
// address itself.
std::string_view device_name(std::string_view device);
bool is_pci_address(std::string_view device);

// The kernel interface an af_packet device reads ("veth10" of "net_af_packet0,iface=veth10"),
// or "" for any other device.
std::string af_packet_interface(std::string_view device);

// The port EAL created for `device`, if any.
std::optional<uint16_t> find_port(std::string_view device);

// Configures `rx_queues` RX and `tx_queues` TX queues on the port, sets the MTU when the device
// allows it, and starts the port. Returns an empty string, or what failed, with DPDK's reason.
// `descriptors` per queue, as the device adjusts them (net_tap fills every RX descriptor with an
// mbuf from `pool` at once).
std::string port_start(uint16_t port_id, uint16_t rx_queues, uint16_t tx_queues, uint16_t mtu, rte_mempool* pool,
                       uint16_t descriptors = 1024);

void port_stop(uint16_t port_id);

// Creates a net_tap port after EAL start-up (the MAC it must carry is known only then): the
// kernel interface `kernel_name`, with `mac`, in the caller's network namespace. EAL knows it as
// `vdev_name`, which must start with "net_tap". Sets `port_id`; returns "" or what failed.
std::string port_create_tap(const std::string& vdev_name, const std::string& kernel_name, const MacAddress& mac,
                            uint16_t& port_id);

}  // namespace fulcrum::dataplane
