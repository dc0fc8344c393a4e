// Recorded device capabilities of the drivers operators run Fulcrum on, as
// fulcrum::dataplane::DeviceCapabilities, so that unit tests can check plan_port() and
// mbuf_data_room_for() against devices this machine has no NIC for.
//
// Each set is what rte_eth_dev_info_get() returns for that device under DPDK 22.11.11 -- the
// libdpdk-dev installed here (tag v22.11.11, commit ff0626010952913655a6df4c4e12fc386bea7fe4 of
// DPDK's 22.11 LTS branch) -- after ethdev's own defaults and clamps: ethdev fills in
// min_mtu 46 (RTE_ETHER_MIN_LEN - header - FCS), max_mtu UINT16_MAX and descriptor limits
// {UINT16_MAX, 0, 1, UINT16_MAX, UINT16_MAX} before it calls the driver, and afterwards caps
// both queue counts at RTE_MAX_QUEUES_PER_PORT (1024). Where 22.11.11 differs from the first
// 22.11 release (v22.11, f262f16087ea), the comment says what v22.11 reported.
//
// ixgbe, i40e, ice, mlx5 and virtio were read from the driver sources and are NOT verified on
// hardware; where a value depends on the device, its firmware or the host, the comment names
// the assumption. af_packet and tap were also recorded on this machine (2026-12-04, kernel
// 6.18, a veth pair and a TAP in a scratch network namespace, --no-huge --no-pci) and agree
// with their sources.
#pragma once

#include <rte_ethdev.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "dataplane/port_plan.hpp"

namespace fixture::nics {

using fulcrum::dataplane::DeviceCapabilities;

// What ethdev reports when a driver leaves a field alone.
inline constexpr uint16_t ethdev_default_min_mtu = RTE_ETHER_MIN_LEN - RTE_ETHER_HDR_LEN - RTE_ETHER_CRC_LEN;  // 46
inline constexpr rte_eth_desc_lim ethdev_default_desc_lim{
    .nb_max = UINT16_MAX, .nb_min = 0, .nb_align = 1, .nb_seg_max = UINT16_MAX, .nb_mtu_seg_max = UINT16_MAX};

// Intel 82599 / X520, physical function, SR-IOV off.
// drivers/net/ixgbe/ixgbe_ethdev.c: ixgbe_dev_info_get(), rx_desc_lim / tx_desc_lim;
// drivers/net/ixgbe/ixgbe_rxtx.c: ixgbe_get_rx_port_offloads(), ixgbe_get_rx_queue_offloads(),
// ixgbe_get_tx_port_offloads(); ixgbe_rxtx.h and ixgbe_ethdev.h for the constants;
// base/ixgbe_82599.c for the MAC's queue counts.
// - Queues: the 82599 MAC has 128 of each; with SR-IOV off and txmode.mq_mode NONE the driver
//   reports 64 TX queues (IXGBE_NONE_MODE_TX_NB_QUEUES). RSS itself spreads over at most 16 RX
//   queues on the 82599 (its redirection table holds 4-bit queue numbers; hardware, not dev_info).
// - Descriptors: nb_min was 32 up to 22.11.7 and is 64 from 22.11.8 (IXGBE_MIN_RING_DESC).
//   Alignment is 128 bytes of 16-byte descriptors. The RX limits leave the segment fields 0.
// - SECURITY (inline IPsec) is offered only when the port passes the SECRXCTRL write test
//   (ixgbe_crypto_capable(), i.e. a crypto-enabled 82599 SKU); the Debian build has
//   RTE_LIB_SECURITY. MACSEC_* are 82599/X540 only, TCP_LRO needs SR-IOV off.
// - MTU: max_rx_pktlen 15872 (MAXFRS, with FCS) less header and FCS.
inline const DeviceCapabilities ixgbe{
    .driver = "net_ixgbe",
    .max_rx_queues = 128,
    .max_tx_queues = 64,
    .rx_offloads = RTE_ETH_RX_OFFLOAD_IPV4_CKSUM | RTE_ETH_RX_OFFLOAD_UDP_CKSUM | RTE_ETH_RX_OFFLOAD_TCP_CKSUM |
                   RTE_ETH_RX_OFFLOAD_KEEP_CRC | RTE_ETH_RX_OFFLOAD_VLAN_FILTER | RTE_ETH_RX_OFFLOAD_SCATTER |
                   RTE_ETH_RX_OFFLOAD_RSS_HASH | RTE_ETH_RX_OFFLOAD_VLAN_EXTEND | RTE_ETH_RX_OFFLOAD_TCP_LRO |
                   RTE_ETH_RX_OFFLOAD_MACSEC_STRIP | RTE_ETH_RX_OFFLOAD_SECURITY |
                   // ixgbe_get_rx_queue_offloads(): per queue on every MAC but the 82598
                   RTE_ETH_RX_OFFLOAD_VLAN_STRIP,
    .tx_offloads = RTE_ETH_TX_OFFLOAD_VLAN_INSERT | RTE_ETH_TX_OFFLOAD_IPV4_CKSUM | RTE_ETH_TX_OFFLOAD_UDP_CKSUM |
                   RTE_ETH_TX_OFFLOAD_TCP_CKSUM | RTE_ETH_TX_OFFLOAD_SCTP_CKSUM | RTE_ETH_TX_OFFLOAD_TCP_TSO |
                   RTE_ETH_TX_OFFLOAD_MULTI_SEGS | RTE_ETH_TX_OFFLOAD_MACSEC_INSERT | RTE_ETH_TX_OFFLOAD_SECURITY,
    // IXGBE_RSS_OFFLOAD_ALL
    .rss_hash_types = RTE_ETH_RSS_IPV4 | RTE_ETH_RSS_NONFRAG_IPV4_TCP | RTE_ETH_RSS_NONFRAG_IPV4_UDP |
                      RTE_ETH_RSS_IPV6 | RTE_ETH_RSS_NONFRAG_IPV6_TCP | RTE_ETH_RSS_NONFRAG_IPV6_UDP |
                      RTE_ETH_RSS_IPV6_EX | RTE_ETH_RSS_IPV6_TCP_EX | RTE_ETH_RSS_IPV6_UDP_EX,
    .rx_descriptors = {.nb_max = 4096, .nb_min = 64, .nb_align = 8, .nb_seg_max = 0, .nb_mtu_seg_max = 0},
    .tx_descriptors = {.nb_max = 4096, .nb_min = 64, .nb_align = 8, .nb_seg_max = 40, .nb_mtu_seg_max = 40},
    .min_mtu = RTE_ETHER_MIN_MTU,
    .max_mtu = 15872 - (RTE_ETHER_HDR_LEN + RTE_ETHER_CRC_LEN),  // 15854
    .max_rx_frame = 15872,
    .min_rx_buffer = 1024,  // SRRCTL.BSIZEPACKET granularity
};

// Intel X710 / XL710 (Fortville), physical function, no VFs.
// drivers/net/i40e/i40e_ethdev.c: i40e_dev_info_get(), i40e_pf_parameter_init();
// drivers/net/i40e/i40e_rxtx.c: i40e_set_default_pctype_table() (flow_types_mask, the RSS
// types); i40e_ethdev.h, i40e_rxtx.h and config/rte_config.h for the constants.
// - Queues: the main VSI has RTE_LIBRTE_I40E_QUEUE_NUM_PER_PF (64) queue pairs, and with the
//   firmware's usual function capabilities (VMDq, >= 321 queues for the PF) the driver adds
//   64 VMDq pools of 4 (RTE_LIBRTE_I40E_QUEUE_NUM_PER_VM), so dev_info says 320 (vmdq_queue_base
//   64). RSS spreads over the first 64 only (i40e_pf_calc_configured_queues_num()); queues
//   64..319 are reached through VMDq pools. Without VMDq in the firmware caps it is 64.
// - TX OUTER_UDP_CKSUM is offered only by the X722 from 22.11.6 on; v22.11 offered it on every
//   MAC (the X710 does not do it).
// - RSS: RTE_ETH_RSS_IPV4 is offered from 22.11.9 on; v22.11 lacked it. There is no plain
//   RTE_ETH_RSS_IPV6 type. The X722 maps more packet classifier types to the same flow types,
//   which does not change the mask.
// - Descriptors: the RX limits leave the segment fields 0; TX allows 255 segments per packet,
//   8 per MTU-sized segment.
// - MTU: 9728-byte frames less header, FCS and two VLAN tags (I40E_ETH_OVERHEAD, 26).
inline const DeviceCapabilities i40e{
    .driver = "net_i40e",
    .max_rx_queues = 320,
    .max_tx_queues = 320,
    .rx_offloads = RTE_ETH_RX_OFFLOAD_VLAN_STRIP | RTE_ETH_RX_OFFLOAD_QINQ_STRIP | RTE_ETH_RX_OFFLOAD_IPV4_CKSUM |
                   RTE_ETH_RX_OFFLOAD_UDP_CKSUM | RTE_ETH_RX_OFFLOAD_TCP_CKSUM | RTE_ETH_RX_OFFLOAD_OUTER_IPV4_CKSUM |
                   RTE_ETH_RX_OFFLOAD_KEEP_CRC | RTE_ETH_RX_OFFLOAD_SCATTER | RTE_ETH_RX_OFFLOAD_VLAN_EXTEND |
                   RTE_ETH_RX_OFFLOAD_VLAN_FILTER | RTE_ETH_RX_OFFLOAD_RSS_HASH,
    .tx_offloads = RTE_ETH_TX_OFFLOAD_VLAN_INSERT | RTE_ETH_TX_OFFLOAD_QINQ_INSERT | RTE_ETH_TX_OFFLOAD_IPV4_CKSUM |
                   RTE_ETH_TX_OFFLOAD_UDP_CKSUM | RTE_ETH_TX_OFFLOAD_TCP_CKSUM | RTE_ETH_TX_OFFLOAD_SCTP_CKSUM |
                   RTE_ETH_TX_OFFLOAD_OUTER_IPV4_CKSUM | RTE_ETH_TX_OFFLOAD_TCP_TSO | RTE_ETH_TX_OFFLOAD_VXLAN_TNL_TSO |
                   RTE_ETH_TX_OFFLOAD_GRE_TNL_TSO | RTE_ETH_TX_OFFLOAD_IPIP_TNL_TSO |
                   RTE_ETH_TX_OFFLOAD_GENEVE_TNL_TSO | RTE_ETH_TX_OFFLOAD_MULTI_SEGS |
                   // tx_queue_offload_capa, ORed in
                   RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE,
    // One bit per RTE_ETH_FLOW_* type that has a packet classifier type, in the table's order.
    .rss_hash_types = RTE_ETH_RSS_IPV4 | RTE_ETH_RSS_FRAG_IPV4 | RTE_ETH_RSS_NONFRAG_IPV4_UDP |
                      RTE_ETH_RSS_NONFRAG_IPV4_TCP | RTE_ETH_RSS_NONFRAG_IPV4_SCTP | RTE_ETH_RSS_NONFRAG_IPV4_OTHER |
                      RTE_ETH_RSS_FRAG_IPV6 | RTE_ETH_RSS_NONFRAG_IPV6_UDP | RTE_ETH_RSS_NONFRAG_IPV6_TCP |
                      RTE_ETH_RSS_NONFRAG_IPV6_SCTP | RTE_ETH_RSS_NONFRAG_IPV6_OTHER | RTE_ETH_RSS_L2_PAYLOAD,
    .rx_descriptors = {.nb_max = 4096, .nb_min = 64, .nb_align = 32, .nb_seg_max = 0, .nb_mtu_seg_max = 0},
    .tx_descriptors = {.nb_max = 4096, .nb_min = 64, .nb_align = 32, .nb_seg_max = UINT8_MAX, .nb_mtu_seg_max = 8},
    .min_mtu = RTE_ETHER_MIN_MTU,
    .max_mtu = 9728 - (RTE_ETHER_HDR_LEN + RTE_ETHER_CRC_LEN + 2 * RTE_VLAN_HLEN),  // 9702
    .max_rx_frame = 9728,
    .min_rx_buffer = 1024,
};

// Intel E810 (Columbiaville), physical function, DDP package loaded (not safe mode).
// drivers/net/ice/ice_ethdev.c: ice_dev_info_get(), ice_pf_sw_init(),
// ice_vsi_config_tc_queue_mapping(); ice_ethdev.h (ICE_RSS_OFFLOAD_ALL) and ice_rxtx.h.
// - Queues: min(num_msix_vectors - 2, LAN queues of the PF less one for flow director, 256
//   (ICE_MAX_Q_PER_TC)); a 1- or 2-port E810 PF has 1024 MSI-X vectors and more queues than
//   that, so 256. Ports split 8 ways get fewer.
// - In safe mode (no DDP package) the checksum, QinQ, RSS-hash, timestamp and tunnel offloads
//   and every RSS type disappear; only the first group of each list below stays.
// - TX tunnel TSO (VXLAN/GRE/IPIP/GENEVE) is offered from 22.11.5 on; v22.11 lacked it.
// - Descriptors: v22.11 left the TX segment fields 0; 22.11.4 on reports 4096 segments per
//   packet and 8 per MTU-sized segment. The RX limits leave the segment fields 0.
// - MTU: 9728-byte frames less header, FCS and two VLAN tags (ICE_ETH_OVERHEAD, 26).
inline const DeviceCapabilities ice{
    .driver = "net_ice",
    .max_rx_queues = 256,
    .max_tx_queues = 256,
    .rx_offloads = RTE_ETH_RX_OFFLOAD_VLAN_STRIP | RTE_ETH_RX_OFFLOAD_KEEP_CRC | RTE_ETH_RX_OFFLOAD_SCATTER |
                   RTE_ETH_RX_OFFLOAD_VLAN_FILTER |
                   // unless in safe mode
                   RTE_ETH_RX_OFFLOAD_IPV4_CKSUM | RTE_ETH_RX_OFFLOAD_UDP_CKSUM | RTE_ETH_RX_OFFLOAD_TCP_CKSUM |
                   RTE_ETH_RX_OFFLOAD_QINQ_STRIP | RTE_ETH_RX_OFFLOAD_OUTER_IPV4_CKSUM |
                   RTE_ETH_RX_OFFLOAD_VLAN_EXTEND | RTE_ETH_RX_OFFLOAD_RSS_HASH | RTE_ETH_RX_OFFLOAD_TIMESTAMP |
                   RTE_ETH_RX_OFFLOAD_BUFFER_SPLIT,
    .tx_offloads = RTE_ETH_TX_OFFLOAD_VLAN_INSERT | RTE_ETH_TX_OFFLOAD_TCP_TSO | RTE_ETH_TX_OFFLOAD_MULTI_SEGS |
                   RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE |
                   // unless in safe mode
                   RTE_ETH_TX_OFFLOAD_QINQ_INSERT | RTE_ETH_TX_OFFLOAD_IPV4_CKSUM | RTE_ETH_TX_OFFLOAD_UDP_CKSUM |
                   RTE_ETH_TX_OFFLOAD_TCP_CKSUM | RTE_ETH_TX_OFFLOAD_SCTP_CKSUM |
                   RTE_ETH_TX_OFFLOAD_OUTER_IPV4_CKSUM | RTE_ETH_TX_OFFLOAD_OUTER_UDP_CKSUM |
                   RTE_ETH_TX_OFFLOAD_VXLAN_TNL_TSO | RTE_ETH_TX_OFFLOAD_GRE_TNL_TSO |
                   RTE_ETH_TX_OFFLOAD_IPIP_TNL_TSO | RTE_ETH_TX_OFFLOAD_GENEVE_TNL_TSO,
    // ICE_RSS_OFFLOAD_ALL (0 in safe mode)
    .rss_hash_types = RTE_ETH_RSS_IPV4 | RTE_ETH_RSS_FRAG_IPV4 | RTE_ETH_RSS_NONFRAG_IPV4_TCP |
                      RTE_ETH_RSS_NONFRAG_IPV4_UDP | RTE_ETH_RSS_NONFRAG_IPV4_SCTP | RTE_ETH_RSS_NONFRAG_IPV4_OTHER |
                      RTE_ETH_RSS_IPV6 | RTE_ETH_RSS_FRAG_IPV6 | RTE_ETH_RSS_NONFRAG_IPV6_TCP |
                      RTE_ETH_RSS_NONFRAG_IPV6_UDP | RTE_ETH_RSS_NONFRAG_IPV6_SCTP | RTE_ETH_RSS_NONFRAG_IPV6_OTHER |
                      RTE_ETH_RSS_L2_PAYLOAD,
    .rx_descriptors = {.nb_max = 4096, .nb_min = 64, .nb_align = 32, .nb_seg_max = 0, .nb_mtu_seg_max = 0},
    .tx_descriptors = {.nb_max = 4096, .nb_min = 64, .nb_align = 32, .nb_seg_max = 4096, .nb_mtu_seg_max = 8},
    .min_mtu = RTE_ETHER_MIN_MTU,
    .max_mtu = 9728 - (RTE_ETHER_HDR_LEN + RTE_ETHER_CRC_LEN + 2 * RTE_VLAN_HLEN),  // 9702
    .max_rx_frame = 9728,
    .min_rx_buffer = 1024,
};

// NVIDIA/Mellanox ConnectX-5 / ConnectX-6 (Dx), physical function, Linux, DevX, default devargs.
// drivers/net/mlx5/mlx5_ethdev.c: mlx5_dev_infos_get(), mlx5_set_txlimit_params(),
// mlx5_dev_get_max_wq_size(), mlx5_get_mtu_bounds(); mlx5_rxq.c: mlx5_get_rx_port_offloads(),
// mlx5_get_rx_queue_offloads(); mlx5_txq.c: mlx5_get_tx_port_offloads(); mlx5_defs.h
// (MLX5_RSS_HF_MASK); linux/mlx5_os.c and mlx5.c for the device capabilities they test.
// - Queues: min(max CQs, max QPs) of the device, far above what ethdev allows, so 1024
//   (RTE_MAX_QUEUES_PER_PORT).
// - Offloads assume the device reports checksum, TSO, VLAN stripping, FCS scatter, LRO (DevX),
//   software-parser checksum and TSO (OUTER_IPV4_CKSUM, IP/UDP_TNL_TSO) and VXLAN/GRE/GENEVE
//   tunnel offloads, as ConnectX-5/6 do, and that Multi-Packet RQ is off (mprq_en=0, the
//   default), which is what offers BUFFER_SPLIT and MBUF_FAST_FREE. SEND_ON_TIMESTAMP is left
//   out: it needs tx_pp= or a device with wait-on-time (ConnectX-6 Dx with recent firmware,
//   ConnectX-7).
// - MTU: 22.11.11 asks the kernel (IFLA_MIN_MTU/IFLA_MAX_MTU): 68 and 9978 on ConnectX-4/5/6,
//   which is also the driver's fallback; max_rx_pktlen adds header, one VLAN tag and FCS (22).
//   v22.11 reported min_mtu 46, max_mtu 65535 and max_rx_pktlen 65536 instead.
// - Descriptors: 1 << log_max_wq_sz of the device, 32768 on ConnectX-5/6 (22.11.7 on; v22.11
//   reported 65535). nb_min 0 and nb_align 1 are ethdev's defaults. TX segments per packet are
//   40 with the default inline setting (txq_inline_max unset: 290 inline bytes).
// - min_rx_bufsize is a fixed 32.
inline const DeviceCapabilities mlx5{
    .driver = "mlx5_pci",
    .max_rx_queues = 1024,
    .max_tx_queues = 1024,
    .rx_offloads = RTE_ETH_RX_OFFLOAD_VLAN_FILTER |
                   // mlx5_get_rx_queue_offloads()
                   RTE_ETH_RX_OFFLOAD_SCATTER | RTE_ETH_RX_OFFLOAD_TIMESTAMP | RTE_ETH_RX_OFFLOAD_RSS_HASH |
                   RTE_ETH_RX_OFFLOAD_BUFFER_SPLIT | RTE_ETH_RX_OFFLOAD_KEEP_CRC | RTE_ETH_RX_OFFLOAD_IPV4_CKSUM |
                   RTE_ETH_RX_OFFLOAD_UDP_CKSUM | RTE_ETH_RX_OFFLOAD_TCP_CKSUM | RTE_ETH_RX_OFFLOAD_VLAN_STRIP |
                   RTE_ETH_RX_OFFLOAD_TCP_LRO,
    .tx_offloads = RTE_ETH_TX_OFFLOAD_MULTI_SEGS | RTE_ETH_TX_OFFLOAD_VLAN_INSERT | RTE_ETH_TX_OFFLOAD_IPV4_CKSUM |
                   RTE_ETH_TX_OFFLOAD_UDP_CKSUM | RTE_ETH_TX_OFFLOAD_TCP_CKSUM | RTE_ETH_TX_OFFLOAD_TCP_TSO |
                   RTE_ETH_TX_OFFLOAD_OUTER_IPV4_CKSUM | RTE_ETH_TX_OFFLOAD_IP_TNL_TSO |
                   RTE_ETH_TX_OFFLOAD_UDP_TNL_TSO | RTE_ETH_TX_OFFLOAD_VXLAN_TNL_TSO | RTE_ETH_TX_OFFLOAD_GRE_TNL_TSO |
                   RTE_ETH_TX_OFFLOAD_GENEVE_TNL_TSO | RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE,
    // ~MLX5_RSS_HF_MASK
    .rss_hash_types = RTE_ETH_RSS_IP | RTE_ETH_RSS_UDP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_L3_SRC_ONLY |
                      RTE_ETH_RSS_L3_DST_ONLY | RTE_ETH_RSS_L4_SRC_ONLY | RTE_ETH_RSS_L4_DST_ONLY | RTE_ETH_RSS_ESP,
    .rx_descriptors = {.nb_max = 32768, .nb_min = 0, .nb_align = 1, .nb_seg_max = UINT16_MAX, .nb_mtu_seg_max = UINT16_MAX},
    .tx_descriptors = {.nb_max = 32768, .nb_min = 0, .nb_align = 1, .nb_seg_max = 40, .nb_mtu_seg_max = 40},
    .min_mtu = RTE_ETHER_MIN_MTU,
    .max_mtu = 9978,
    .max_rx_frame = 9978 + (RTE_ETHER_HDR_LEN + RTE_VLAN_HLEN + RTE_ETHER_CRC_LEN),  // 10000
    .min_rx_buffer = 32,
};

// virtio-net PCI (net_virtio) as QEMU/KVM offers it by default with vhost-net: split rings,
// no multiqueue, no RSS, no host MTU advice.
// drivers/net/virtio/virtio_ethdev.c: virtio_dev_info_get(), virtio_init_device() (max queue
// pairs, max MTU, header size); virtio_ethdev.h, virtqueue.h and virtio_rxtx_simple.h for the
// constants.
// - Offloads follow the device's offered features: SCATTER with MRG_RXBUF, RX TCP/UDP checksum
//   with GUEST_CSUM, VLAN_FILTER with CTRL_VLAN, TCP_LRO with GUEST_TSO4+6, TX TCP/UDP checksum
//   with CSUM, TCP_TSO with HOST_TSO4+6 -- all on in QEMU's defaults. There is no IPv4 header
//   checksum offload in virtio; VLAN strip and insert are done in software.
// - Queues: 1 without VIRTIO_NET_F_MQ; with mq=on,queues=N it is N (at most 128). RSS types are
//   0 unless the device offers VIRTIO_NET_F_RSS (QEMU rss=on), whatever the queue count.
// - Descriptors: 32768 for split rings, UINT16_MAX with packed rings (packed=on); nb_min is the
//   32-descriptor free/rearm threshold; segment fields are ethdev's defaults.
// - MTU: without VIRTIO_NET_F_MTU, 9728 less header, a VLAN tag and the 12-byte virtio-net
//   header (VERSION_1 or MRG_RXBUF); with host_mtu= set it is that value. min_mtu is ethdev's 46.
inline const DeviceCapabilities virtio{
    .driver = "net_virtio",
    .max_rx_queues = 1,
    .max_tx_queues = 1,
    .rx_offloads = RTE_ETH_RX_OFFLOAD_VLAN_STRIP | RTE_ETH_RX_OFFLOAD_SCATTER | RTE_ETH_RX_OFFLOAD_TCP_CKSUM |
                   RTE_ETH_RX_OFFLOAD_UDP_CKSUM | RTE_ETH_RX_OFFLOAD_VLAN_FILTER | RTE_ETH_RX_OFFLOAD_TCP_LRO,
    .tx_offloads = RTE_ETH_TX_OFFLOAD_MULTI_SEGS | RTE_ETH_TX_OFFLOAD_VLAN_INSERT | RTE_ETH_TX_OFFLOAD_UDP_CKSUM |
                   RTE_ETH_TX_OFFLOAD_TCP_CKSUM | RTE_ETH_TX_OFFLOAD_TCP_TSO,
    .rss_hash_types = 0,
    .rx_descriptors = {.nb_max = 32768, .nb_min = 32, .nb_align = 1, .nb_seg_max = UINT16_MAX, .nb_mtu_seg_max = UINT16_MAX},
    .tx_descriptors = {.nb_max = 32768, .nb_min = 32, .nb_align = 1, .nb_seg_max = UINT16_MAX, .nb_mtu_seg_max = UINT16_MAX},
    .min_mtu = ethdev_default_min_mtu,
    .max_mtu = 9728 - RTE_ETHER_HDR_LEN - 4 - 12,  // 9698
    .max_rx_frame = 9728,
    .min_rx_buffer = 64,
};

// net_af_packet on a veth (iface=..., default qpairs=1, blocksz, framesz=2048, framecnt=512).
// drivers/net/af_packet/rte_eth_af_packet.c: eth_dev_info(). Recorded here as well: equal.
// - Queues are the qpairs= devarg.
// - No descriptor limits, MTU bounds or RSS of its own: ethdev's defaults. Through ethdev's
//   check (max_mtu UINT16_MAX, so 18 bytes of overhead against max_rx_pktlen 1518) the MTU can
//   be at most 1500; the driver's own mtu_set also refuses more than framesz - 52
//   (TPACKET2_HDRLEN), 1996 with the default framesz.
// - No SCATTER: each frame is copied into one mbuf, which must hold the whole frame (the driver
//   does not check the mbuf's room).
inline const DeviceCapabilities af_packet{
    .driver = "net_af_packet",
    .max_rx_queues = 1,
    .max_tx_queues = 1,
    .rx_offloads = RTE_ETH_RX_OFFLOAD_VLAN_STRIP,
    .tx_offloads = RTE_ETH_TX_OFFLOAD_MULTI_SEGS | RTE_ETH_TX_OFFLOAD_VLAN_INSERT,
    .rss_hash_types = 0,
    .rx_descriptors = ethdev_default_desc_lim,
    .tx_descriptors = ethdev_default_desc_lim,
    .min_mtu = ethdev_default_min_mtu,
    .max_mtu = UINT16_MAX,
    .max_rx_frame = RTE_ETHER_MAX_LEN,  // 1518
    .min_rx_buffer = 0,
};

// net_tap (iface=...). drivers/net/tap/rte_eth_tap.c: tap_dev_info(), TAP_RX_OFFLOAD,
// TAP_TX_OFFLOAD; tap_rss.h (TAP_RSS_HF_MASK); meson.build (TAP_MAX_QUEUES=16). Recorded here
// as well: equal.
// - The RSS types are reported whatever the kernel offers, but RSS on a TAP works through
//   rte_flow and eBPF, which the driver turns off when it cannot create its multiq qdisc (as
//   on this machine, where sch_multiq is missing).
// - No descriptor limits or MTU bounds of its own: ethdev's defaults; with max_rx_pktlen 1522
//   and 18 bytes of overhead ethdev lets the MTU reach 1504.
inline const DeviceCapabilities tap{
    .driver = "net_tap",
    .max_rx_queues = 16,
    .max_tx_queues = 16,
    .rx_offloads = RTE_ETH_RX_OFFLOAD_SCATTER | RTE_ETH_RX_OFFLOAD_IPV4_CKSUM | RTE_ETH_RX_OFFLOAD_UDP_CKSUM |
                   RTE_ETH_RX_OFFLOAD_TCP_CKSUM,
    .tx_offloads = RTE_ETH_TX_OFFLOAD_MULTI_SEGS | RTE_ETH_TX_OFFLOAD_IPV4_CKSUM | RTE_ETH_TX_OFFLOAD_UDP_CKSUM |
                   RTE_ETH_TX_OFFLOAD_TCP_CKSUM | RTE_ETH_TX_OFFLOAD_TCP_TSO,
    // ~TAP_RSS_HF_MASK
    .rss_hash_types = RTE_ETH_RSS_IP | RTE_ETH_RSS_UDP | RTE_ETH_RSS_TCP,
    .rx_descriptors = ethdev_default_desc_lim,
    .tx_descriptors = ethdev_default_desc_lim,
    .min_mtu = ethdev_default_min_mtu,
    .max_mtu = UINT16_MAX,
    .max_rx_frame = RTE_ETHER_MAX_VLAN_FRAME_LEN,  // 1522
    .min_rx_buffer = 0,
};

// Every device above, by its name here.
inline const std::vector<std::pair<std::string, const DeviceCapabilities*>> all{
    {"ixgbe", &ixgbe},   {"i40e", &i40e},         {"ice", &ice}, {"mlx5", &mlx5},
    {"virtio", &virtio}, {"af_packet", &af_packet}, {"tap", &tap},
};

}  // namespace fixture::nics
