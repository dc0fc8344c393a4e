// Stage 1: parse. Checks the Ethernet, ARP/IPv4 and TCP/UDP/ICMP headers of a frame held in
// plain bytes and records where each one starts. Nothing is modified.
#pragma once

#include <rte_ether.h>

#include <cstdint>

#include "dataplane/packet.hpp"
#include "dataplane/verdict.hpp"

namespace fulcrum::dataplane {

struct ParsedPacket {
    bool is_arp = false;
    bool is_fragment = false;     // MF set or offset non-zero: no L4 header was parsed
    bool has_ip_options = false;
    uint8_t tcp_flags = 0;
    uint16_t l3_offset = 0;
    uint16_t l4_offset = 0;
    uint16_t l4_length = 0;
    // Ethernet header plus the IPv4 total length: anything past it is link padding, which the
    // caller trims so that rewritten lengths and checksums cover only the datagram.
    uint32_t frame_length = 0;
    FlowKey key;                  // ports are 0 for ICMP and fragments

    rte_ipv4_hdr* ip(uint8_t* frame) const { return header_at<rte_ipv4_hdr>(frame, l3_offset); }
};

// Returns next() with `out` filled, or drop(reason). `port_mac` is the receiving port's address:
// unicast frames for other addresses are dropped (af_packet sees everything on the link).
Verdict parse_frame(uint8_t* frame, uint32_t length, const rte_ether_addr& port_mac,
                    ParsedPacket& out);

}  // namespace fulcrum::dataplane
