#include "dataplane/nd.hpp"

#include <rte_mbuf.h>
#include <rte_ring.h>

#include <cstring>

#include "dataplane/egress.hpp"
#include "dataplane/icmp6.hpp"
#include "dataplane/martian.hpp"

namespace fulcrum::dataplane {

namespace {

constexpr uint8_t option_source_link_layer = 1;
constexpr uint8_t option_target_link_layer = 2;
constexpr uint8_t flag_router = 0x80, flag_solicited = 0x40, flag_override = 0x20;

// ICMPv6 header (8 bytes: the last 4 reserved or flags), then the target address.
constexpr uint32_t target_offset = 8;
constexpr uint32_t options_offset = target_offset + 16;
// Solicitation or advertisement with one link-layer address option.
constexpr uint16_t message_length = options_offset + 8;

// The link-layer address an option of `type` carries, if the message has one. False when an
// option is malformed (length 0, or beyond the message): the message is invalid.
bool find_link_layer_option(const uint8_t* message, uint32_t length, uint8_t type, const rte_ether_addr** mac)
{
    *mac = nullptr;
    for (uint32_t at = options_offset; at < length;) {
        if (length - at < 2 || message[at + 1] == 0) return false;
        const uint32_t option_length = message[at + 1] * 8u;
        if (option_length > length - at) return false;
        if (message[at] == type && option_length >= 8) *mac = reinterpret_cast<const rte_ether_addr*>(message + at + 2);
        at += option_length;
    }
    return true;
}

bool answers_for(const WorkerContext& w, const PortInfo& port, const Ipv6Address& ip)
{
    const ServiceSnapshot* s = w.snapshot;
    return port.is_local(ip) ||
           (s != nullptr && ((s->is_vip(ip) && s->serves_vip(ip)) || s->kernel_holds(port.port_id, ip)));
}

// What a message says about its sender goes to the control core. Only a solicited advertisement
// sent to one of our addresses makes an entry (the answer to our solicitation; RFC 4861 7.2.5
// discards an unsolicited one that finds none), so a flood of solicitations from made-up
// sources cannot fill the table; an entry that exists follows its owner's messages, to another
// MAC only with the override flag (7.2.5). The sender must be on the link and not claim an
// address no host has; a link-local one is known per port (neighbor_key).
void tell_control(WorkerContext& w, const PortInfo& port, const Ipv6Address& sender, const rte_ether_addr& mac,
                  bool may_create, bool may_override)
{
    if (!port.on_link(sender) || (!sender.is_link_local() && martian_source(*w.snapshot, sender))) return;
    if (sender.is_link_local() && port.is_local(sender)) return;
    const Ipv6Address key = neighbor_key(sender, port.port_id);
    if (const Neighbor6Table::Entry* entry = w.shared->neighbors6->find(key)) {
        rte_ether_addr known;
        if (Neighbor6Table::mac_for(*entry, key, w.now_tick / ticks_per_second, known) &&
            (rte_is_same_ether_addr(&known, &mac) || !may_override))
            return;
    } else if (!may_create) {
        return;
    }
    Neighbor6Update update{key, mac, port.port_id};
    rte_ring_mp_enqueue_elem(w.shared->neighbor6_updates, &update, sizeof update);
}

void write_message(uint8_t* message, uint8_t type, uint8_t flags, const Ipv6Address& target, uint8_t option,
                   const rte_ether_addr& mac)
{
    std::memset(message, 0, message_length);
    message[0] = type;
    message[4] = flags;
    target.to(message + target_offset);
    message[options_offset] = option;
    message[options_offset + 1] = 1;
    std::memcpy(message + options_offset + 2, mac.addr_bytes, RTE_ETHER_ADDR_LEN);
}

void write_ipv6_header(rte_ipv6_hdr* ip, const Ipv6Address& source, const Ipv6Address& destination)
{
    ip->vtc_flow = RTE_BE32(0x60000000);
    ip->payload_len = rte_cpu_to_be_16(message_length);
    ip->proto = IPPROTO_ICMPV6;
    ip->hop_limits = 255;  // RFC 4861: the receiver checks it, proof that no router forwarded it
    source.to(ip->src_addr);
    destination.to(ip->dst_addr);
}

// A frame of one ND message from `port`, headers and message written, checksum included.
rte_mbuf* build_message(rte_mempool* pool, const PortInfo& port, const rte_ether_addr& destination_mac,
                        const Ipv6Address& source, const Ipv6Address& destination, uint8_t type, uint8_t flags,
                        const Ipv6Address& target, uint8_t option)
{
    rte_mbuf* m = rte_pktmbuf_alloc(pool);
    if (m == nullptr) return nullptr;
    constexpr uint16_t length = sizeof(rte_ether_hdr) + sizeof(rte_ipv6_hdr) + message_length;
    auto* frame = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, length));
    auto* eth = header_at<rte_ether_hdr>(frame, 0);
    eth->dst_addr = destination_mac;
    eth->src_addr = port.mac;
    eth->ether_type = RTE_BE16(RTE_ETHER_TYPE_IPV6);
    auto* ip = header_at<rte_ipv6_hdr>(frame, sizeof(rte_ether_hdr));
    write_ipv6_header(ip, source, destination);
    uint8_t* message = frame + sizeof(rte_ether_hdr) + sizeof(rte_ipv6_hdr);
    write_message(message, type, flags, target, option, port.mac);
    const rte_be16_t checksum = icmp6_checksum(ip, message, message_length);
    std::memcpy(message + 2, &checksum, sizeof checksum);
    m->port = port.port_id;
    return m;
}

}  // namespace

Verdict nd_receive(WorkerContext& w, rte_mbuf* m, uint8_t* frame, const ParsedPacket& p, const PortInfo& port)
{
    const rte_ipv6_hdr* ip = p.ip6(frame);
    const uint8_t* message = frame + p.l4_offset;
    const uint8_t type = message[0];
    if (type != icmp6_neighbor_solicitation && type != icmp6_neighbor_advertisement)
        return Verdict::drop(DropReason::nd_ignored);
    if (ip->hop_limits != 255 || message[1] != 0 || p.l4_length < options_offset ||
        icmp6_checksum(ip, message, p.l4_length) != 0)
        return Verdict::drop(DropReason::nd_invalid);
    const Ipv6Address source = Ipv6Address::from(ip->src_addr);
    const Ipv6Address destination = Ipv6Address::from(ip->dst_addr);
    const Ipv6Address target = Ipv6Address::from(message + target_offset);
    if (target.is_multicast()) return Verdict::drop(DropReason::nd_invalid);
    const bool solicitation = type == icmp6_neighbor_solicitation;
    const rte_ether_addr* link_layer = nullptr;
    if (!find_link_layer_option(message, p.l4_length, solicitation ? option_source_link_layer : option_target_link_layer,
                                &link_layer))
        return Verdict::drop(DropReason::nd_invalid);

    if (!solicitation) {
        // RFC 4861 7.1.2: a solicited advertisement is never multicast.
        if (destination.is_multicast() && (message[4] & flag_solicited)) return Verdict::drop(DropReason::nd_invalid);
        const bool solicited = (message[4] & flag_solicited) != 0;
        if (link_layer != nullptr)
            tell_control(w, port, target, *link_layer, solicited && answers_for(w, port, destination),
                         (message[4] & flag_override) != 0);
        // The kernel behind the port resolves its own neighbours: it hears the answers.
        if (port.kernel_port != no_port) return egress_to_kernel(w, m, port.kernel_port);
        return Verdict::drop(DropReason::nd_not_for_us);
    }

    // A duplicate-address probe comes from :: to the solicited-node group, without a
    // link-layer address (RFC 4861 7.1.1).
    const bool probe = source.is_unspecified();
    if (probe && (link_layer != nullptr || destination != solicited_node_group(target)))
        return Verdict::drop(DropReason::nd_invalid);
    // A solicitation for an address not ours is discarded whole (7.2.3); one for ours updates
    // what we know of its sender, and makes no entry.
    if (!answers_for(w, port, target)) return Verdict::drop(DropReason::nd_not_for_us);
    if (!probe && link_layer != nullptr) tell_control(w, port, source, *link_layer, false, true);

    // The advertisement, in place: to the solicitation's sender, or to all nodes for a probe
    // (which then learns that the address is taken).
    const Ipv6Address reply_to = probe ? all_nodes_group() : source;
    auto* eth = header_at<rte_ether_hdr>(frame, 0);
    eth->dst_addr = probe ? multicast_mac(reply_to) : eth->src_addr;
    eth->src_addr = port.mac;
    // Rewritten whole from what was read above, without the solicitation's options or any
    // extension headers before it.
    const uint32_t new_length = sizeof(rte_ether_hdr) + sizeof(rte_ipv6_hdr) + message_length;
    if (rte_pktmbuf_pkt_len(m) < new_length) {
        if (rte_pktmbuf_append(m, static_cast<uint16_t>(new_length - rte_pktmbuf_pkt_len(m))) == nullptr)
            return Verdict::drop(DropReason::too_short);
    } else if (rte_pktmbuf_pkt_len(m) > new_length) {
        rte_pktmbuf_trim(m, static_cast<uint16_t>(rte_pktmbuf_pkt_len(m) - new_length));
    }
    auto* out_ip = header_at<rte_ipv6_hdr>(frame, sizeof(rte_ether_hdr));
    write_ipv6_header(out_ip, target, reply_to);
    uint8_t* out = frame + sizeof(rte_ether_hdr) + sizeof(rte_ipv6_hdr);
    write_message(out, icmp6_neighbor_advertisement, flag_router | flag_override | (probe ? 0 : flag_solicited), target,
                  option_target_link_layer, port.mac);
    const rte_be16_t checksum = icmp6_checksum(out_ip, out, message_length);
    std::memcpy(out + 2, &checksum, sizeof checksum);
    ++w.counters.nd_advertisements;
    return Verdict::transmit(port.port_id);
}

rte_mbuf* nd_build_solicitation(rte_mempool* pool, const PortInfo& port, const Ipv6Address& source,
                                const Ipv6Address& target)
{
    const Ipv6Address group = solicited_node_group(target);
    return build_message(pool, port, multicast_mac(group), source, group, icmp6_neighbor_solicitation, 0, target,
                         option_source_link_layer);
}

rte_mbuf* nd_build_advertisement(rte_mempool* pool, const PortInfo& port, const Ipv6Address& address)
{
    const Ipv6Address group = all_nodes_group();
    return build_message(pool, port, multicast_mac(group), address, group, icmp6_neighbor_advertisement,
                         flag_router | flag_override, address, option_target_link_layer);
}

}  // namespace fulcrum::dataplane
