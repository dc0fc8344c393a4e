// 802.1Q: a device may carry several interfaces, one per VLAN (and one untagged). Each is a port
// of its own to the rest of the dataplane (PortInfo::vlan, an id from max_device_ports up), so
// that routes, neighbours, the exception path and every stage after this one see an interface,
// never a tag: the tag is taken off as a frame arrives and put on as it leaves by the device.
#pragma once

#include <rte_mbuf.h>

#include "dataplane/verdict.hpp"
#include "dataplane/worker_context.hpp"

namespace fulcrum::dataplane {

// Whether a frame must pass vlan_receive first: the device stripped a tag into vlan_tci, or,
// where VLANs are configured, the frame carries its tag in-line or arrived untagged on a device
// with no untagged interface. Without VLANs the port and the frame are not looked at: a tagged
// frame is then dropped by parse as no protocol of ours.
inline bool vlan_needs_receive(const rte_mbuf* m, const DataplaneShared& shared)
{
    if ((m->ol_flags & RTE_MBUF_F_RX_VLAN_STRIPPED) != 0) return true;
    if (!shared.vlans) return false;
    const auto* eth = rte_pktmbuf_mtod(m, const rte_ether_hdr*);
    return !shared.ports[m->port].untagged ||
           (rte_pktmbuf_data_len(m) >= sizeof(rte_ether_hdr) && eth->ether_type == RTE_BE16(RTE_ETHER_TYPE_VLAN));
}

// Moves the frame to the port of the interface its tag names, the tag taken off (m->port
// changes; the frame starts 4 bytes later). A VLAN id 0 (priority tag) is the untagged
// interface's. An unknown VLAN, or an untagged frame where the device has no untagged
// interface, is dropped.
Verdict vlan_receive(WorkerContext& w, rte_mbuf* m);

// Puts `port`'s tag on a frame leaving by its device: false when the frame cannot take it (an
// mbuf shared or without headroom), which the caller drops.
bool vlan_tag(rte_mbuf*& m, const PortInfo& port);

}  // namespace fulcrum::dataplane
