#include "dataplane/vlan.hpp"

#include <cstring>

namespace fulcrum::dataplane {

namespace {

Verdict untagged(const PortInfo& device)
{
    return device.untagged ? Verdict::next() : Verdict::drop(DropReason::vlan_untagged);
}

}  // namespace

Verdict vlan_receive(WorkerContext& w, rte_mbuf* m)
{
    const PortInfo& device = w.shared->ports[m->port];
    uint16_t tci = 0;
    if ((m->ol_flags & RTE_MBUF_F_RX_VLAN_STRIPPED) != 0) {
        tci = m->vlan_tci;
    } else {
        auto* eth = rte_pktmbuf_mtod(m, rte_ether_hdr*);
        if (rte_pktmbuf_data_len(m) < sizeof(rte_ether_hdr) + sizeof(rte_vlan_hdr) ||
            eth->ether_type != RTE_BE16(RTE_ETHER_TYPE_VLAN))
            return untagged(device);
        const auto* tag = reinterpret_cast<const rte_vlan_hdr*>(eth + 1);
        tci = rte_be_to_cpu_16(tag->vlan_tci);
        // The addresses move up over the tag, which leaves with the 4 bytes before them.
        std::memmove(reinterpret_cast<uint8_t*>(eth) + sizeof(rte_vlan_hdr), eth, 2 * RTE_ETHER_ADDR_LEN);
        rte_pktmbuf_adj(m, sizeof(rte_vlan_hdr));
    }
    // Whichever way it came, the frame is untagged now: a hand-off to another worker must not
    // take the tag off twice.
    m->ol_flags &= ~(RTE_MBUF_F_RX_VLAN | RTE_MBUF_F_RX_VLAN_STRIPPED);
    // A tag inside an interface's own (802.1ad stacking) is not a VLAN of the device.
    if (device.vlan != 0) return Verdict::drop(DropReason::vlan_unknown);
    const uint16_t vid = tci & RTE_VLAN_ID_MASK;
    if (vid == 0) return untagged(device);
    for (const auto& [id, port] : device.vlan_ports) {
        if (id != vid) continue;
        m->port = port;
        return Verdict::next();
    }
    return Verdict::drop(DropReason::vlan_unknown);
}

bool vlan_tag(rte_mbuf*& m, const PortInfo& port)
{
    m->vlan_tci = port.vlan;
    return rte_vlan_insert(&m) == 0;
}

}  // namespace fulcrum::dataplane
