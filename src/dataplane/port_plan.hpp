// How a port is set up, decided from what its device offers: a pure function of the device's
// capabilities (as rte_eth_dev_info_get reports them) and of what the configuration asks, so
// that the decisions for drivers this machine has no NIC for (ixgbe, i40e, ice, mlx5) are
// tested against their recorded capabilities (tests/unit/nic_capabilities.hpp, docs/nics.md).
// port.cpp applies a plan; nothing here calls the device.
#pragma once

#include <rte_ethdev.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dataplane/ipv6.hpp"

namespace fulcrum::dataplane {

// The parts of rte_eth_dev_info that set-up decides by.
struct DeviceCapabilities {
    std::string driver;                  // driver_name, for messages
    uint16_t max_rx_queues = 1;
    uint16_t max_tx_queues = 1;
    uint64_t rx_offloads = 0;            // rx_offload_capa: RTE_ETH_RX_OFFLOAD_*
    uint64_t tx_offloads = 0;            // tx_offload_capa: RTE_ETH_TX_OFFLOAD_*
    uint64_t rss_hash_types = 0;         // flow_type_rss_offloads: RTE_ETH_RSS_*; 0 = no RSS
    rte_eth_desc_lim rx_descriptors{UINT16_MAX, 0, 1, UINT16_MAX, UINT16_MAX};
    rte_eth_desc_lim tx_descriptors{UINT16_MAX, 0, 1, UINT16_MAX, UINT16_MAX};
    uint16_t min_mtu = RTE_ETHER_MIN_MTU;
    uint16_t max_mtu = UINT16_MAX;
    uint32_t max_rx_frame = UINT32_MAX;  // max_rx_pktlen: the longest frame it receives
    uint32_t min_rx_buffer = 0;          // min_rx_bufsize: the least data room of an RX mbuf
};

DeviceCapabilities capabilities_of(const rte_eth_dev_info& info);

// What the configuration asks of one port.
struct PortRequest {
    uint16_t rx_queues = 1;
    uint16_t tx_queues = 1;
    uint16_t mtu = 1500;
    uint16_t descriptors = 1024;         // per queue, before the device's limits
    uint32_t mbuf_data_room = RTE_MBUF_DEFAULT_DATAROOM;  // packet bytes one mbuf of the pool holds
    // The kernel interface whose MTU is the port's, for the PMDs that are a kernel link's
    // (af_packet's iface=): "" for a NIC. ethdev takes no MTU above such a PMD's constant
    // max_rx_pktlen (af_packet 1518), though the link carries more; the plan then gives ethdev
    // what it takes and the link the configured MTU (link_mtu).
    std::string kernel_link;
    // The longest frame the device delivers whole, where it has a limit of its own
    // (af_packet_whole_frame); 0 = none.
    uint32_t whole_frame = 0;
};

struct PortPlan {
    std::string error;                   // non-empty: the port cannot be set up so, and why (with numbers)
    rte_eth_conf conf{};                 // for rte_eth_dev_configure
    uint16_t device_mtu = 0;             // what ethdev is told (rxmode.mtu, rte_eth_dev_set_mtu)
    uint16_t link_mtu = 0;               // set on request.kernel_link after ethdev's; 0 = not needed
    uint16_t rx_descriptors = 0;         // per queue, within the device's limits
    uint16_t tx_descriptors = 0;
    // The device sends chains (RTE_ETH_TX_OFFLOAD_MULTI_SEGS): fragments of tunnelled packets are
    // a header mbuf and an indirect one. Without it they are copied into one mbuf first.
    bool sends_chains = false;
    uint64_t rss_hash = 0;               // what RSS spreads by; 0 = every frame on queue 0
    std::vector<std::string> notes;      // what was left off and why, for the log
};

// The largest MTU ethdev accepts for the device: its max_mtu, and no more than its longest
// frame less the overhead ethdev assumes (eth_dev_validate_mtu).
uint16_t largest_mtu(const DeviceCapabilities& device);

// The longest frame a port with `mtu` receives, as an mbuf holds it (the FCS stripped).
uint32_t frame_length(uint16_t mtu);

PortPlan plan_port(const DeviceCapabilities& device, const PortRequest& request);

// The data room of the shared pool's mbufs: the default, or the longest frame of the ports'
// MTUs where that is longer. Every received frame then fits one mbuf, on every device, and the
// parser never meets a chain; scattered RX would save memory on the NICs that offer it at the
// price of a parser that walks segments (docs/nics.md).
// `device_frame` is the most any device of the ports copies into one mbuf whatever the MTU
// (af_packet's frame size less its header: af_packet_frame_data), which the mbufs must hold too.
uint32_t mbuf_data_room_for(std::span<const uint16_t> mtus, uint32_t device_frame = 0);

// What one af_packet frame carries into an mbuf, from the device string's `framesz=` (DPDK's
// default 2048) less the packet header the PMD counts (TPACKET2_HDRLEN less the sockaddr_ll):
// its RX queue setup refuses mbufs with less room. 0 for any other device.
uint32_t af_packet_frame_data(std::string_view device);

// The longest frame an af_packet ring frame holds whole, from `framesz=` (default 2048): the
// kernel puts a frame at TPACKET_ALIGN(TPACKET2_HDRLEN + 16) less its Ethernet header (66 bytes
// in) and truncates what does not fit, and the PMD passes the stump on (tpacket_rcv; the PMD
// reads tp_snaplen, not tp_len). 0 for any other device.
uint32_t af_packet_whole_frame(std::string_view device);

// The mbufs that can be out of the pool at once: every RX descriptor filled, every TX
// descriptor holding a frame sent, each worker's bursts and staged frames, frames waiting for
// ARP or neighbour discovery, and the per-lcore caches of the pool.
struct PoolDemand {
    uint64_t descriptors = 0;            // RX and TX descriptors of every port and TAP
    uint64_t per_worker = 0;             // bursts, staging and held frames of one worker
    unsigned workers = 0;
    unsigned cache_size = 0;             // the pool's per-lcore cache
    unsigned lcores = 0;                 // lcores with a cache (the workers and the control core)

    void add_port(const PortPlan& plan, const PortRequest& request);
    uint64_t total() const;
};

// "" when a pool of `mbufs` covers `demand`, else an error naming the numbers.
std::string check_pool(uint32_t mbufs, const PoolDemand& demand);

// The multicast MACs a port must let in when its device filters multicast and refuses
// allmulticast: VRRP's groups (224.0.0.18, ff02::12) for keepalived behind the TAP, IPv6's
// all-nodes group, the solicited-node group of each IPv6 address in `ipv6_unicast` (the port's,
// its link-local one, the VIPs: neighbour discovery asks there), and `ipv4_groups` (the sync
// group). Sorted, each once: a NIC's list has room for few.
std::vector<rte_ether_addr> multicast_macs(std::span<const rte_be32_t> ipv4_groups,
                                           std::span<const Ipv6Address> ipv6_unicast);

}  // namespace fulcrum::dataplane
