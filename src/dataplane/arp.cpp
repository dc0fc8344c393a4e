#include "dataplane/arp.hpp"

#include <rte_arp.h>
#include <rte_mbuf.h>
#include <rte_ring_elem.h>

#include "dataplane/egress.hpp"
#include "dataplane/martian.hpp"
#include "dataplane/packet.hpp"

namespace fulcrum::dataplane {

namespace {

bool answers_for(const WorkerContext& w, const PortInfo& port, rte_be32_t ip)
{
    for (rte_be32_t own : port.local_ips)
        if (own == ip) return true;
    if (w.snapshot == nullptr) return false;
    return (w.snapshot->is_vip(ip) && w.snapshot->serves_vip(ip)) || w.snapshot->kernel_holds(port.port_id, ip);
}

// As the kernel's arp_process: a neighbour is learned from ARP addressed to us (a request for
// one of our addresses, or a reply to one), and an entry that exists is updated from any ARP
// its owner sends (gratuitous ARP after a failover). ARP between other hosts teaches nothing
// new, so it cannot fill the table; nor can a sender that is off-link or claims an address no
// host has: ours on any port, a subnet's broadcast, a VIP (the snapshot's never_sources, which
// the workers have from before they start).
void tell_control(WorkerContext& w, const rte_arp_ipv4& data, const PortInfo& port)
{
    const rte_be32_t sender = data.arp_sip;
    if (!port.on_link(sender) || martian_source(*w.snapshot, sender)) return;
    if (const NeighborTable::Entry* entry = w.shared->neighbors->find(sender)) {
        // Heard again with the MAC it has: still there (kept from garbage collection).
        rte_ether_addr known;
        if (NeighborTable::mac_for(*entry, sender, w.now_tick / ticks_per_second, known) &&
            rte_is_same_ether_addr(&known, &data.arp_sha))
            return;
    } else if (!answers_for(w, port, data.arp_tip)) {
        return;
    }
    NeighborUpdate update{sender, data.arp_sha, port.port_id};
    // A full ring loses a learning opportunity, not a packet: the neighbour will ARP again.
    rte_ring_mp_enqueue_elem(w.shared->neighbor_updates, &update, sizeof update);
}

}  // namespace

Verdict arp_receive(WorkerContext& w, const rte_mbuf* m, uint8_t* frame, const PortInfo& port)
{
    auto* eth = header_at<rte_ether_hdr>(frame, 0);
    auto* arp = header_at<rte_arp_hdr>(frame, sizeof(rte_ether_hdr));
    if (arp->arp_hardware != RTE_BE16(RTE_ARP_HRD_ETHER) ||
        arp->arp_protocol != RTE_BE16(RTE_ETHER_TYPE_IPV4) || arp->arp_hlen != RTE_ETHER_ADDR_LEN ||
        arp->arp_plen != sizeof(rte_be32_t))
        return Verdict::drop(DropReason::arp_invalid);

    tell_control(w, arp->arp_data, port);
    // The kernel behind the exception path asks for its neighbours itself: it hears the answers.
    if (arp->arp_opcode == RTE_BE16(RTE_ARP_OP_REPLY) && port.kernel_port != no_port)
        return egress_to_kernel(w, m, port.kernel_port);
    if (arp->arp_opcode != RTE_BE16(RTE_ARP_OP_REQUEST) || !answers_for(w, port, arp->arp_data.arp_tip))
        return Verdict::drop(DropReason::arp_not_for_us);

    rte_arp_ipv4& data = arp->arp_data;
    arp->arp_opcode = RTE_BE16(RTE_ARP_OP_REPLY);
    data.arp_tha = data.arp_sha;
    data.arp_sha = port.mac;
    const rte_be32_t requester = data.arp_sip;
    data.arp_sip = data.arp_tip;
    data.arp_tip = requester;
    eth->dst_addr = data.arp_tha;
    eth->src_addr = port.mac;
    ++w.counters.arp_replies;
    return Verdict::transmit(port.port_id);
}

rte_mbuf* arp_build_request(rte_mempool* pool, const PortInfo& port, rte_be32_t sender_ip,
                            rte_be32_t target_ip)
{
    rte_mbuf* m = rte_pktmbuf_alloc(pool);
    if (m == nullptr) return nullptr;
    constexpr uint16_t length = sizeof(rte_ether_hdr) + sizeof(rte_arp_hdr);
    auto* frame = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, length));
    auto* eth = header_at<rte_ether_hdr>(frame, 0);
    auto* arp = header_at<rte_arp_hdr>(frame, sizeof(rte_ether_hdr));
    std::memset(eth->dst_addr.addr_bytes, 0xff, RTE_ETHER_ADDR_LEN);
    eth->src_addr = port.mac;
    eth->ether_type = RTE_BE16(RTE_ETHER_TYPE_ARP);
    arp->arp_hardware = RTE_BE16(RTE_ARP_HRD_ETHER);
    arp->arp_protocol = RTE_BE16(RTE_ETHER_TYPE_IPV4);
    arp->arp_hlen = RTE_ETHER_ADDR_LEN;
    arp->arp_plen = sizeof(rte_be32_t);
    arp->arp_opcode = RTE_BE16(RTE_ARP_OP_REQUEST);
    arp->arp_data.arp_sha = port.mac;
    arp->arp_data.arp_sip = sender_ip;
    std::memset(arp->arp_data.arp_tha.addr_bytes, 0, RTE_ETHER_ADDR_LEN);
    arp->arp_data.arp_tip = target_ip;
    m->port = port.port_id;
    return m;
}

}  // namespace fulcrum::dataplane
