// Ports, queues and the packet pool: turning configured devices into started DPDK ports.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/types.hpp"
#include "dataplane/port_plan.hpp"

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

// What the port's device offers (rte_eth_dev_info_get). Returns "" or why it could not be read.
std::string port_capabilities(uint16_t port_id, DeviceCapabilities& out);

// Configures the port as `plan` says (made by plan_port for `request`), sets the MTU and starts
// it. Returns an empty string, or what failed, with DPDK's reason. RX queues take their mbufs
// from `pool` (net_tap fills every RX descriptor at once).
std::string port_start(uint16_t port_id, const PortPlan& plan, const PortRequest& request, rte_mempool* pool);
// The same, planned here from the device's capabilities (tools and benchmarks).
std::string port_start(uint16_t port_id, const PortRequest& request, rte_mempool* pool);

void port_stop(uint16_t port_id);

// Creates a net_tap port after EAL start-up (the MAC it must carry is known only then): the
// kernel interface `kernel_name`, with `mac`, in the caller's network namespace. EAL knows it as
// `vdev_name`, which must start with "net_tap". Sets `port_id`; returns "" or what failed.
std::string port_create_tap(const std::string& vdev_name, const std::string& kernel_name, const MacAddress& mac,
                            uint16_t& port_id);

}  // namespace fulcrum::dataplane
