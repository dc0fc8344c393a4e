// Which worker owns a connection, and handing packets to it. A NAT connection's two directions
// may arrive on different queues (the NIC or the kernel spreads them by their own 5-tuples);
// the owner is a function of the client's address and port, which both directions carry, so
// every worker computes the same owner and passes the packet on through a single-producer,
// single-consumer ring for that pair of workers.
#pragma once

#include <rte_byteorder.h>

#include <cstdint>

#include "dataplane/parse.hpp"
#include "dataplane/worker_context.hpp"

struct rte_mbuf;

namespace fulcrum::dataplane {

// The worker (0..workers-1) that owns connections of this client. Spreads clients evenly:
// CRC32 of address and port, scaled into the range; or (toeplitz, hardware steering, `workers`
// a power of two) the low bits of the Toeplitz hash of address then port under the steering
// rules' symmetric key, which is the queue a NIC's RSS indirection table filled round-robin
// over `workers` queues picks.
unsigned owner_of_client(rte_be32_t client_ip, rte_be16_t client_port, unsigned workers, OwnerHash hash = OwnerHash::crc);
// The same for an IPv6 client: its address folded as the schedulers fold it (crc), or whole
// (toeplitz).
unsigned owner_of_client6(const Ipv6Address& client, rte_be16_t client_port, unsigned workers,
                          OwnerHash hash = OwnerHash::crc);

// The owner of the connection `p` belongs to, or -1 when any worker may handle the packet
// (ARP, ICMP echo, fragments and other traffic that needs no connection).
int packet_owner(const WorkerContext& w, const uint8_t* frame, const ParsedPacket& p);

// Passes `m` to worker `owner`. False (and nothing done) when that ring is full.
bool hand_off(WorkerContext& w, unsigned owner, rte_mbuf* m);

// Receives what other workers handed to this one, at most `max` packets.
uint16_t receive_handed_off(WorkerContext& w, rte_mbuf** mbufs, uint16_t max);

}  // namespace fulcrum::dataplane
