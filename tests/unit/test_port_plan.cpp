// Port set-up as a function of what the device offers (src/dataplane/port_plan.hpp), over the
// capabilities of the drivers operators use, recorded from DPDK 22.11 (unit/nic_capabilities.hpp).
#include <gtest/gtest.h>

#include "dataplane/port_plan.hpp"
#include "unit/nic_capabilities.hpp"

using namespace fulcrum::dataplane;

namespace {

// Eight workers on a port, as a production director would run them.
PortRequest eight_workers(uint16_t mtu = 1500)
{
    return PortRequest{8, 8, mtu, 1024, mbuf_data_room_for(std::vector<uint16_t>{mtu})};
}

bool within(uint16_t n, const rte_eth_desc_lim& limits)
{
    return (limits.nb_max == 0 || n <= limits.nb_max) && n >= limits.nb_min &&
           (limits.nb_align <= 1 || n % limits.nb_align == 0);
}

}  // namespace

// What rte_eth_dev_configure would refuse is never asked: offloads and RSS types the device does
// not offer. What the dataplane needs is asked where offered: multi-segment TX (tunnel
// fragments are chains) and RSS over addresses and ports with several queues.
TEST(PortPlan, EveryRecordedDeviceIsAskedOnlyWhatItOffers)
{
    for (const auto& [name, device] : fixture::nics::all) {
        SCOPED_TRACE(name);
        const uint16_t queues = std::min<uint16_t>(device->max_rx_queues, std::min<uint16_t>(device->max_tx_queues, 8));
        PortRequest request = eight_workers();
        request.rx_queues = request.tx_queues = queues;
        const PortPlan plan = plan_port(*device, request);
        ASSERT_EQ(plan.error, "");
        EXPECT_EQ(plan.conf.rxmode.offloads & ~device->rx_offloads, 0u);
        EXPECT_EQ(plan.conf.txmode.offloads & ~device->tx_offloads, 0u);
        EXPECT_EQ(plan.conf.rx_adv_conf.rss_conf.rss_hf & ~device->rss_hash_types, 0u);
        const bool multi_segs = (device->tx_offloads & RTE_ETH_TX_OFFLOAD_MULTI_SEGS) != 0;
        EXPECT_EQ(plan.sends_chains, multi_segs);
        EXPECT_EQ((plan.conf.txmode.offloads & RTE_ETH_TX_OFFLOAD_MULTI_SEGS) != 0, multi_segs);
        // IPv4 header checksums are checked by the device where it can; no other checksum offload.
        const bool checks = (device->rx_offloads & RTE_ETH_RX_OFFLOAD_IPV4_CKSUM) != 0;
        EXPECT_EQ(plan.conf.rxmode.offloads, checks ? RTE_ETH_RX_OFFLOAD_IPV4_CKSUM : 0u);
        // Fast free assumes one pool and no indirect mbufs: fragments are indirect.
        EXPECT_EQ(plan.conf.txmode.offloads & RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE, 0u);
        const bool rss = queues > 1 && (device->rss_hash_types & (RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP)) != 0;
        EXPECT_EQ(plan.conf.rxmode.mq_mode, rss ? RTE_ETH_MQ_RX_RSS : RTE_ETH_MQ_RX_NONE);
        if (rss) {
            EXPECT_NE(plan.rss_hash & device->rss_hash_types & RTE_ETH_RSS_IP, 0u);
            EXPECT_EQ(plan.conf.rx_adv_conf.rss_conf.rss_key, nullptr);  // the device's own key
        }
        EXPECT_EQ(plan.conf.rxmode.mtu, 1500u);
        EXPECT_TRUE(within(plan.rx_descriptors, device->rx_descriptors)) << plan.rx_descriptors;
        EXPECT_TRUE(within(plan.tx_descriptors, device->tx_descriptors)) << plan.tx_descriptors;
    }
}

// The NICs of production directors all offer what Fulcrum needs at eight workers.
TEST(PortPlan, HardwareNicsTakeEightWorkersWithRssAndChains)
{
    for (const auto* device : {&fixture::nics::ixgbe, &fixture::nics::i40e, &fixture::nics::ice, &fixture::nics::mlx5}) {
        SCOPED_TRACE(device->driver);
        const PortPlan plan = plan_port(*device, eight_workers());
        ASSERT_EQ(plan.error, "");
        EXPECT_EQ(plan.conf.rxmode.mq_mode, RTE_ETH_MQ_RX_RSS);
        EXPECT_TRUE(plan.sends_chains);
        EXPECT_TRUE(plan.notes.empty()) << plan.notes.front();
    }
}

// Descriptor counts are aligned up, then kept within the device's bounds, as ethdev adjusts them.
TEST(PortPlan, DescriptorsAreAlignedAndBounded)
{
    DeviceCapabilities device;
    device.driver = "test";
    device.max_rx_queues = device.max_tx_queues = 1;
    device.rx_descriptors = {4096, 32, 8, 40, 40};
    device.tx_descriptors = {512, 64, 32, 40, 40};
    const auto plan_for = [&](uint16_t wanted) {
        PortRequest request;
        request.descriptors = wanted;
        return plan_port(device, request);
    };
    EXPECT_EQ(plan_for(1024).rx_descriptors, 1024);
    EXPECT_EQ(plan_for(1001).rx_descriptors, 1008);
    EXPECT_EQ(plan_for(1001).tx_descriptors, 512);
    EXPECT_EQ(plan_for(10).rx_descriptors, 32);
    EXPECT_EQ(plan_for(10).tx_descriptors, 64);
    EXPECT_EQ(plan_for(65000).rx_descriptors, 4096);
    EXPECT_EQ(plan_for(100).tx_descriptors, 128);
}

// What cannot be set up is refused with the numbers, before anything is created.
TEST(PortPlan, RefusalsNameTheNumbers)
{
    DeviceCapabilities one_queue = fixture::nics::af_packet;
    one_queue.max_rx_queues = one_queue.max_tx_queues = 1;
    EXPECT_EQ(plan_port(one_queue, PortRequest{2, 2, 1500, 1024, 2048}).error,
              "the device (net_af_packet) offers 1 RX and 1 TX queues, 2 and 2 are needed (raise its qpairs=)");

    DeviceCapabilities small = fixture::nics::ixgbe;
    small.max_mtu = 1500;
    small.max_rx_frame = 1518;
    EXPECT_EQ(plan_port(small, eight_workers(9000)).error, "MTU 9000 is outside what the device (net_ixgbe) takes, 68 to 1500");
    EXPECT_EQ(plan_port(small, eight_workers(60)).error, "MTU 60 is outside what the device (net_ixgbe) takes, 68 to 1500");

    // No largest MTU given: ethdev's own overhead of header and FCS against the longest frame.
    DeviceCapabilities unbounded;
    unbounded.driver = "test";
    unbounded.max_rx_frame = 1518;
    EXPECT_EQ(plan_port(unbounded, PortRequest{1, 1, 1500, 1024, 2048}).error, "");
    EXPECT_EQ(plan_port(unbounded, PortRequest{1, 1, 1501, 1024, 2048}).error,
              "MTU 1501 needs frames of 1519 bytes, the device (test) receives at most 1518");

    // The pool's mbufs too short for the MTU's frames, or for what the device needs.
    EXPECT_EQ(plan_port(fixture::nics::ixgbe, PortRequest{1, 1, 9000, 1024, 2048}).error,
              "frames of 9014 bytes (MTU 9000) do not fit the pool's mbufs of 2048 bytes");
    DeviceCapabilities picky = fixture::nics::ixgbe;
    picky.min_rx_buffer = 4096;
    EXPECT_EQ(plan_port(picky, PortRequest{1, 1, 1500, 1024, 2048}).error,
              "the device (net_ixgbe) needs RX mbufs of at least 4096 bytes, the pool's hold 2048");
}

// Jumbo frames: every mbuf holds the longest frame, on every device, so no chain is received.
TEST(PortPlan, MbufsHoldTheLongestFrame)
{
    EXPECT_EQ(mbuf_data_room_for(std::vector<uint16_t>{1500}), uint32_t{RTE_MBUF_DEFAULT_DATAROOM});
    EXPECT_EQ(mbuf_data_room_for(std::vector<uint16_t>{1500, 9000, 4000}), 9014u);
    EXPECT_EQ(mbuf_data_room_for(std::vector<uint16_t>{}), uint32_t{RTE_MBUF_DEFAULT_DATAROOM});
    for (const auto* device : {&fixture::nics::ixgbe, &fixture::nics::i40e, &fixture::nics::ice, &fixture::nics::mlx5}) {
        SCOPED_TRACE(device->driver);
        const PortPlan plan = plan_port(*device, eight_workers(9000));
        ASSERT_EQ(plan.error, "");
        EXPECT_EQ(plan.conf.rxmode.mtu, 9000u);
        EXPECT_EQ(plan.conf.rxmode.offloads & RTE_ETH_RX_OFFLOAD_SCATTER, 0u);
    }
}

// A device without multi-segment TX still works: its fragments are copied (a note says so).
TEST(PortPlan, NoMultiSegmentTxMeansCopiedFragments)
{
    DeviceCapabilities device = fixture::nics::virtio;
    device.tx_offloads &= ~uint64_t{RTE_ETH_TX_OFFLOAD_MULTI_SEGS};
    const PortPlan plan = plan_port(device, PortRequest{});
    ASSERT_EQ(plan.error, "");
    EXPECT_FALSE(plan.sends_chains);
    EXPECT_EQ(plan.conf.txmode.offloads & RTE_ETH_TX_OFFLOAD_MULTI_SEGS, 0u);
    ASSERT_EQ(plan.notes.size(), 1u);
    EXPECT_NE(plan.notes[0].find("copied into one mbuf"), std::string::npos);
}

// The issue's own case: the default 16,384 mbufs are too few for 8 workers on two ports of 1,024
// descriptors each way; the error says how many are needed and why.
TEST(PortPlan, ThePoolIsCheckedAgainstDescriptorsBurstsAndCaches)
{
    PoolDemand demand;
    for (int port = 0; port < 2; ++port) {
        const PortRequest request = eight_workers();
        demand.add_port(plan_port(fixture::nics::i40e, request), request);
    }
    demand.workers = 8;
    demand.per_worker = 32 + 4 * 64 + 128;
    demand.cache_size = 256;
    demand.lcores = 9;
    EXPECT_EQ(demand.descriptors, 32768u);
    EXPECT_EQ(demand.total(), 32768u + 8 * 416 + 9 * 256);
    EXPECT_EQ(check_pool(16384, demand),
              "dataplane.mbufs 16384 is too few: the ports' RX and TX descriptors hold 32768, 8 workers' bursts and "
              "waiting frames 3328, and the pool's caches on 9 lcores 2304; at least 38400 are needed");
    EXPECT_EQ(check_pool(38400, demand), "");
    EXPECT_NE(check_pool(38399, demand), "");
}

// A NIC that filters multicast and refuses allmulticast is given the groups the director needs:
// VRRP, the sync group, IPv6 all-nodes and each address's solicited-node group, mapped to MACs
// as RFC 1112 and RFC 2464 say, each once.
TEST(PortPlan, MulticastListHoldsTheGroupsTheDirectorNeeds)
{
    const auto text = [](const rte_ether_addr& m) {
        char buffer[RTE_ETHER_ADDR_FMT_SIZE];
        rte_ether_format_addr(buffer, sizeof buffer, &m);
        return std::string(buffer);
    };
    const auto six = [](std::initializer_list<uint8_t> last) {
        Ipv6Address a;
        a.bytes[0] = 0x20;
        a.bytes[1] = 0x01;
        size_t at = 16 - last.size();
        for (uint8_t b : last) a.bytes[at++] = b;
        return a;
    };
    const std::vector<rte_be32_t> groups{rte_cpu_to_be_32(0xe0800051)};   // 224.128.0.81: bit 23 is not mapped
    const std::vector<Ipv6Address> unicast{six({0xab, 0x12, 0x34, 0x56}), six({0x01, 0x12, 0x34, 0x56}),
                                           six({0x00, 0x00, 0x01})};
    std::vector<std::string> macs;
    for (const rte_ether_addr& m : multicast_macs(groups, unicast)) macs.push_back(text(m));
    EXPECT_EQ(macs, (std::vector<std::string>{"01:00:5E:00:00:12", "01:00:5E:00:00:51", "33:33:00:00:00:01",
                                              "33:33:00:00:00:12", "33:33:FF:00:00:01", "33:33:FF:12:34:56"}));
    EXPECT_EQ(multicast_macs({}, {}).size(), 3u);
}

// af_packet copies a whole ring frame's worth into one mbuf and its RX queue set-up refuses
// mbufs with less room than that: the pool's mbufs follow `framesz=` (2048 unless given), less
// the 32 bytes of packet header the PMD counts (TPACKET2_HDRLEN less the sockaddr_ll).
TEST(PortPlan, AfPacketFrameSizeSetsTheMbufsRoom)
{
    EXPECT_EQ(af_packet_frame_data("net_af_packet0,iface=dir-ext"), 2016u);
    EXPECT_EQ(af_packet_frame_data("net_af_packet1,iface=dir-int,framesz=4096,blocksz=4096"), 4064u);
    EXPECT_EQ(af_packet_frame_data("net_af_packet1,framesz=16384,iface=dir-int"), 16352u);
    EXPECT_EQ(af_packet_frame_data("net_tap0,iface=x"), 0u);
    EXPECT_EQ(af_packet_frame_data("0000:03:00.0"), 0u);
    EXPECT_EQ(af_packet_frame_data("net_af_packet0,iface=a,framesz=lots"), 0u);
    EXPECT_EQ(mbuf_data_room_for(std::vector<uint16_t>{1500}, 2016), uint32_t{RTE_MBUF_DEFAULT_DATAROOM});
    EXPECT_EQ(mbuf_data_room_for(std::vector<uint16_t>{1500}, 4064), 4064u);
    EXPECT_EQ(mbuf_data_room_for(std::vector<uint16_t>{9000}, 4064), 9014u);
}

// af_packet is a kernel link: ethdev refuses it an MTU above 1500 (max_rx_pktlen 1518, a
// constant of the PMD), though the link carries jumbo frames. The plan gives ethdev 1500 and the
// link the configured MTU, provided the ring's frames hold such frames whole; a NIC with the
// same limit is refused.
TEST(PortPlan, AfPacketJumboFramesGoToItsKernelLink)
{
    const std::string device = "net_af_packet0,iface=dir-ext,framesz=10240,blocksz=20480";
    EXPECT_EQ(af_packet_whole_frame(device), 10240u - 66u);
    EXPECT_EQ(af_packet_whole_frame("net_af_packet0,iface=dir-ext"), 1982u);
    EXPECT_EQ(af_packet_whole_frame("net_tap0,iface=x"), 0u);
    EXPECT_EQ(largest_mtu(fixture::nics::af_packet), 1500u);
    EXPECT_EQ(largest_mtu(fixture::nics::tap), 1504u);
    EXPECT_EQ(largest_mtu(fixture::nics::ixgbe), fixture::nics::ixgbe.max_mtu);

    const uint32_t room = mbuf_data_room_for(std::vector<uint16_t>{9000}, af_packet_frame_data(device));
    const PortRequest jumbo{1, 1, 9000, 1024, room, "dir-ext", af_packet_whole_frame(device)};
    const PortPlan plan = plan_port(fixture::nics::af_packet, jumbo);
    ASSERT_EQ(plan.error, "");
    EXPECT_EQ(plan.device_mtu, 1500u);
    EXPECT_EQ(plan.conf.rxmode.mtu, 1500u);
    EXPECT_EQ(plan.link_mtu, 9000u);
    ASSERT_FALSE(plan.notes.empty());
    EXPECT_EQ(plan.notes.front(), "ethdev takes an MTU of at most 1500 for the device (net_af_packet), a constant of "
                                  "its PMD: dir-ext, the kernel link it is, gets MTU 9000 directly");

    // Within ethdev's limit the link is left to ethdev (af_packet's mtu_set writes it).
    const PortPlan plain = plan_port(fixture::nics::af_packet, PortRequest{1, 1, 1500, 1024, 2048, "dir-ext", 1982});
    EXPECT_EQ(plain.error, "");
    EXPECT_EQ(plain.device_mtu, 1500u);
    EXPECT_EQ(plain.link_mtu, 0u);

    // The default ring frames (2048) would truncate 9014-byte frames.
    EXPECT_EQ(plan_port(fixture::nics::af_packet, PortRequest{1, 1, 9000, 1024, 9014, "dir-ext", 1982}).error,
              "frames of 9014 bytes (MTU 9000) do not fit the device's (net_af_packet) frames, which hold 1982 "
              "(raise its framesz= and blocksz=)");
    // Without a kernel link the limit is the device's.
    EXPECT_EQ(plan_port(fixture::nics::af_packet, PortRequest{1, 1, 9000, 1024, room}).error,
              "MTU 9000 needs frames of 9018 bytes, the device (net_af_packet) receives at most 1518");
    EXPECT_EQ(plan_port(fixture::nics::af_packet, PortRequest{1, 1, 1501, 1024, room, "", 10174}).error,
              "MTU 1501 needs frames of 1519 bytes, the device (net_af_packet) receives at most 1518");
}

// Which of the recorded devices check IPv4 header checksums for the parser.
TEST(PortPlan, HardwareNicsCheckIpv4HeaderChecksums)
{
    for (const auto* device : {&fixture::nics::ixgbe, &fixture::nics::i40e, &fixture::nics::ice, &fixture::nics::mlx5}) {
        SCOPED_TRACE(device->driver);
        EXPECT_NE(plan_port(*device, eight_workers()).conf.rxmode.offloads & RTE_ETH_RX_OFFLOAD_IPV4_CKSUM, 0u);
    }
    EXPECT_EQ(plan_port(fixture::nics::af_packet, PortRequest{1, 1, 1500, 1024, 2048}).conf.rxmode.offloads &
                  RTE_ETH_RX_OFFLOAD_IPV4_CKSUM,
              0u);
}
