// NAT (masquerading) rewriting on plain bytes: client packets get the real server as their
// destination, real-server replies get the VIP back as their source. IP and TCP/UDP checksums
// are updated incrementally (RFC 1624), never recomputed.
#pragma once

#include <rte_byteorder.h>

#include <cstdint>

#include "dataplane/parse.hpp"

namespace fulcrum::dataplane {

// Client -> real server: destination address and port become the real server's.
void nat_rewrite_destination(uint8_t* frame, const ParsedPacket& p, rte_be32_t real_ip,
                             rte_be16_t real_port);

// Real server -> client: source address and port become the virtual service's.
void nat_rewrite_source(uint8_t* frame, const ParsedPacket& p, rte_be32_t vip, rte_be16_t vport);

// Decrements the TTL of a routed packet and patches the header checksum. Returns false, leaving
// the packet unchanged, when the TTL would reach 0.
bool decrement_ttl(rte_ipv4_hdr* ip);

}  // namespace fulcrum::dataplane
