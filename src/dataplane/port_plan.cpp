#include "dataplane/port_plan.hpp"

#include <linux/if_packet.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <string>

namespace fulcrum::dataplane {

namespace {

// What RSS should spread by: the addresses, and the ports of TCP and UDP, so that one client's
// connections spread over the queues. A device hashes by the subset it offers.
constexpr uint64_t wanted_rss = RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP;

// As ethdev's own adjustment (rte_eth_dev_adjust_nb_rx_tx_desc): up to the alignment, then
// within the bounds.
uint16_t descriptors_within(uint16_t wanted, const rte_eth_desc_lim& limits)
{
    uint32_t n = wanted;
    if (limits.nb_align > 1) n = (n + limits.nb_align - 1) / limits.nb_align * limits.nb_align;
    if (limits.nb_max != 0) n = std::min<uint32_t>(n, limits.nb_max);
    n = std::max<uint32_t>(n, limits.nb_min);
    return static_cast<uint16_t>(n);
}

template <typename T>
std::string n(T value)
{
    return std::to_string(value);
}

}  // namespace

DeviceCapabilities capabilities_of(const rte_eth_dev_info& info)
{
    DeviceCapabilities d;
    d.driver = info.driver_name != nullptr ? info.driver_name : "";
    d.max_rx_queues = info.max_rx_queues;
    d.max_tx_queues = info.max_tx_queues;
    d.rx_offloads = info.rx_offload_capa;
    d.tx_offloads = info.tx_offload_capa;
    d.rss_hash_types = info.flow_type_rss_offloads;
    d.rx_descriptors = info.rx_desc_lim;
    d.tx_descriptors = info.tx_desc_lim;
    d.min_mtu = info.min_mtu;
    d.max_mtu = info.max_mtu;
    d.max_rx_frame = info.max_rx_pktlen;
    d.min_rx_buffer = info.min_rx_bufsize;
    return d;
}

uint16_t largest_mtu(const DeviceCapabilities& device)
{
    // As ethdev checks an MTU (eth_dev_validate_mtu): a device's overhead is what its longest
    // frame adds to its largest MTU, or an Ethernet header and FCS where it gives no largest MTU.
    const uint32_t overhead = device.max_mtu != UINT16_MAX && device.max_rx_frame > device.max_mtu
                                  ? device.max_rx_frame - device.max_mtu
                                  : uint32_t{RTE_ETHER_HDR_LEN} + RTE_ETHER_CRC_LEN;
    if (device.max_rx_frame <= overhead) return 0;
    return static_cast<uint16_t>(std::min<uint32_t>(device.max_mtu, device.max_rx_frame - overhead));
}

uint32_t frame_length(uint16_t mtu) { return uint32_t{mtu} + RTE_ETHER_HDR_LEN; }

PortPlan plan_port(const DeviceCapabilities& device, const PortRequest& request)
{
    PortPlan plan;
    if (request.rx_queues > device.max_rx_queues || request.tx_queues > device.max_tx_queues) {
        plan.error = "the device (" + device.driver + ") offers " + n(device.max_rx_queues) + " RX and " +
                     n(device.max_tx_queues) + " TX queues, " + n(request.rx_queues) + " and " + n(request.tx_queues) +
                     " are needed" + (device.driver == "net_af_packet" ? " (raise its qpairs=)" : "");
        return plan;
    }
    plan.device_mtu = request.mtu;
    if (request.mtu > largest_mtu(device) && !request.kernel_link.empty() && request.mtu >= device.min_mtu) {
        plan.device_mtu = largest_mtu(device);
        plan.link_mtu = request.mtu;
        plan.notes.push_back("ethdev takes an MTU of at most " + n(plan.device_mtu) + " for the device (" +
                             device.driver + "), a constant of its PMD: " + request.kernel_link +
                             ", the kernel link it is, gets MTU " + n(request.mtu) + " directly");
    } else if (request.mtu < device.min_mtu || request.mtu > device.max_mtu) {
        plan.error = "MTU " + n(request.mtu) + " is outside what the device (" + device.driver + ") takes, " +
                     n(device.min_mtu) + " to " + n(device.max_mtu);
        return plan;
    } else if (request.mtu > largest_mtu(device)) {
        const uint32_t overhead = device.max_rx_frame - largest_mtu(device);
        plan.error = "MTU " + n(request.mtu) + " needs frames of " + n(request.mtu + overhead) + " bytes, the device (" +
                     device.driver + ") receives at most " + n(device.max_rx_frame);
        return plan;
    }
    if (request.whole_frame != 0 && frame_length(request.mtu) > request.whole_frame) {
        plan.error = "frames of " + n(frame_length(request.mtu)) + " bytes (MTU " + n(request.mtu) +
                     ") do not fit the device's (" + device.driver + ") frames, which hold " + n(request.whole_frame) +
                     (device.driver == "net_af_packet" ? " (raise its framesz= and blocksz=)" : "");
        return plan;
    }
    const uint32_t frame = frame_length(request.mtu);
    if (frame > request.mbuf_data_room) {
        plan.error = "frames of " + n(frame) + " bytes (MTU " + n(request.mtu) + ") do not fit the pool's mbufs of " +
                     n(request.mbuf_data_room) + " bytes";
        return plan;
    }
    if (request.mbuf_data_room < device.min_rx_buffer) {
        plan.error = "the device (" + device.driver + ") needs RX mbufs of at least " + n(device.min_rx_buffer) +
                     " bytes, the pool's hold " + n(request.mbuf_data_room);
        return plan;
    }
    plan.conf.rxmode.mtu = plan.device_mtu;
    // The device checks IPv4 header checksums and the parser no longer sums them. The other
    // checksum offloads are not asked for: a rewrite updates its checksums incrementally (RFC
    // 1624), a few additions, cheaper than preparing a pseudo-header checksum for the device.
    if ((device.rx_offloads & RTE_ETH_RX_OFFLOAD_IPV4_CKSUM) != 0) plan.conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_IPV4_CKSUM;

    if (request.rx_queues > 1) {
        plan.rss_hash = wanted_rss & device.rss_hash_types;
        if (plan.rss_hash != 0) {
            plan.conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
            plan.conf.rx_adv_conf.rss_conf.rss_hf = plan.rss_hash;  // the device's own key
        } else {
            plan.notes.push_back("the device (" + device.driver + ") hashes no IP fields for RSS: its " +
                                 n(request.rx_queues) +
                                 " RX queues are filled as the device alone decides (af_packet: the kernel's fanout)");
        }
    }

    if ((device.tx_offloads & RTE_ETH_TX_OFFLOAD_MULTI_SEGS) != 0) {
        plan.conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
        plan.sends_chains = true;
    } else {
        plan.notes.push_back("the device (" + device.driver +
                             ") cannot send chained mbufs: tunnel fragments are copied into one mbuf before they are sent");
    }

    plan.rx_descriptors = descriptors_within(request.descriptors, device.rx_descriptors);
    plan.tx_descriptors = descriptors_within(request.descriptors, device.tx_descriptors);
    return plan;
}

uint32_t mbuf_data_room_for(std::span<const uint16_t> mtus, uint32_t device_frame)
{
    uint32_t room = std::max<uint32_t>(RTE_MBUF_DEFAULT_DATAROOM, device_frame);
    for (uint16_t mtu : mtus) room = std::max(room, frame_length(mtu));
    return room;
}

namespace {

// af_packet's `framesz=` (DPDK's default 2048), or 0 for another device or a value the PMD
// itself refuses at probe time.
uint32_t af_packet_frame_size(std::string_view device)
{
    if (!device.starts_with("net_af_packet")) return 0;
    uint32_t frame = 2048;
    for (size_t at = device.find(','); at != std::string_view::npos; at = device.find(',', at + 1)) {
        const std::string_view arg = device.substr(at + 1, device.find(',', at + 1) - (at + 1));
        if (!arg.starts_with("framesz=")) continue;
        const std::string_view digits = arg.substr(8);
        if (std::from_chars(digits.data(), digits.data() + digits.size(), frame).ec != std::errc{}) return 0;
    }
    return frame;
}

}  // namespace

uint32_t af_packet_frame_data(std::string_view device)
{
    constexpr uint32_t header = TPACKET2_HDRLEN - sizeof(sockaddr_ll);
    const uint32_t frame = af_packet_frame_size(device);
    return frame > header ? frame - header : 0;
}

uint32_t af_packet_whole_frame(std::string_view device)
{
    constexpr uint32_t mac_offset = TPACKET_ALIGN(TPACKET2_HDRLEN + 16) - RTE_ETHER_HDR_LEN;
    const uint32_t frame = af_packet_frame_size(device);
    return frame > mac_offset ? frame - mac_offset : 0;
}

void PoolDemand::add_port(const PortPlan& plan, const PortRequest& request)
{
    descriptors += uint64_t{request.rx_queues} * plan.rx_descriptors + uint64_t{request.tx_queues} * plan.tx_descriptors;
}

uint64_t PoolDemand::total() const
{
    return descriptors + per_worker * workers + uint64_t{cache_size} * lcores;
}

std::string check_pool(uint32_t mbufs, const PoolDemand& demand)
{
    if (mbufs >= demand.total()) return {};
    return "dataplane.mbufs " + n(mbufs) + " is too few: the ports' RX and TX descriptors hold " + n(demand.descriptors) +
           ", " + n(demand.workers) + " workers' bursts and waiting frames " + n(demand.per_worker * demand.workers) +
           ", and the pool's caches on " + n(demand.lcores) + " lcores " + n(uint64_t{demand.cache_size} * demand.lcores) +
           "; at least " + n(demand.total()) + " are needed";
}

std::vector<rte_ether_addr> multicast_macs(std::span<const rte_be32_t> ipv4_groups,
                                           std::span<const Ipv6Address> ipv6_unicast)
{
    std::vector<rte_ether_addr> out;
    // RFC 1112 6.4: 01:00:5e and the group's low 23 bits.
    const auto add_ipv4 = [&](rte_be32_t group) {
        const uint32_t g = rte_be_to_cpu_32(group);
        out.push_back({{0x01, 0x00, 0x5e, static_cast<uint8_t>((g >> 16) & 0x7f), static_cast<uint8_t>(g >> 8),
                        static_cast<uint8_t>(g)}});
    };
    // RFC 2464 7: 33:33 and the group's last four bytes.
    const auto add_ipv6 = [&](uint8_t b12, uint8_t b13, uint8_t b14, uint8_t b15) {
        out.push_back({{0x33, 0x33, b12, b13, b14, b15}});
    };
    add_ipv4(RTE_BE32(0xe0000012));    // 224.0.0.18, VRRP
    for (rte_be32_t group : ipv4_groups) add_ipv4(group);
    add_ipv6(0, 0, 0, 0x01);           // ff02::1, all nodes
    add_ipv6(0, 0, 0, 0x12);           // ff02::12, VRRP
    // RFC 4291 2.7.1: ff02::1:ff00:0/104 and the address's last three bytes.
    for (const Ipv6Address& a : ipv6_unicast) add_ipv6(0xff, a.bytes[13], a.bytes[14], a.bytes[15]);
    const auto key = [](const rte_ether_addr& m) { return std::to_array(m.addr_bytes); };
    std::sort(out.begin(), out.end(), [&](const rte_ether_addr& a, const rte_ether_addr& b) { return key(a) < key(b); });
    out.erase(std::unique(out.begin(), out.end(), [&](const rte_ether_addr& a, const rte_ether_addr& b) { return key(a) == key(b); }),
              out.end());
    return out;
}

}  // namespace fulcrum::dataplane
