// ARP: answering for the director's addresses and VIPs, learning neighbours, and building the
// requests and gratuitous announcements the director sends.
#pragma once

#include <rte_byteorder.h>

#include "dataplane/verdict.hpp"
#include "dataplane/worker_context.hpp"

struct rte_mbuf;
struct rte_mempool;

namespace fulcrum::dataplane {

// An ARP frame received on `port`. A request for one of our addresses or a VIP is turned into
// its reply in place (transmit on the same port). What the frame says about its sender goes
// to the control core, which owns the neighbour table.
Verdict arp_receive(WorkerContext& w, const rte_mbuf* m, uint8_t* frame, const PortInfo& port);

// A broadcast ARP request from `sender_ip` for `target_ip`; with sender_ip == target_ip it is a
// gratuitous announcement. nullptr when the pool is empty.
rte_mbuf* arp_build_request(rte_mempool* pool, const PortInfo& port, rte_be32_t sender_ip,
                            rte_be32_t target_ip);

}  // namespace fulcrum::dataplane
