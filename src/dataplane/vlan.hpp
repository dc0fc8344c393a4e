// 802.1Q: a device may carry several interfaces, one per VLAN (and one untagged). Each is a port
// of its own to the rest of the dataplane (PortInfo::vlan, an id from max_device_ports up), so
// that routes, neighbours, the exception path and every stage after this one see an interface,
// never a tag: the tag is taken off as a frame arrives and put on as it leaves by the device.
#pragma once

#include <rte_mbuf.h>

#include "dataplane/verdict.hpp"
#include "dataplane/worker_context.hpp"

namespace fulcrum::dataplane {

// Whether a frame from its port must pass vlan_receive first: it is tagged (in-line, or with the
// tag stripped into vlan_tci by the device), or arrived untagged on a device with no untagged
// interface.
inline bool vlan_needs_receive(const rte_mbuf* m, const PortInfo& port)
{
    const auto* eth = rte_pktmbuf_mtod(m, const rte_ether_hdr*);
    return (m->ol_flags & RTE_MBUF_F_RX_VLAN_STRIPPED) != 0 || !port.untagged ||
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
