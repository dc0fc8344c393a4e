// Per-worker counters. Each worker writes only its own struct; readers sum across workers and
// accept a slightly stale total (plain 64-bit loads are atomic on x86-64).
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace fulcrum::dataplane {

// Why a packet was dropped. The enum and the names come from this one list.
#define FULCRUM_DROP_REASONS(X)                                                                    \
    X(too_short, "frame shorter than its headers")                                                 \
    X(not_for_our_mac, "unicast frame for another MAC address")                                    \
    X(unsupported_ethertype, "neither IPv4, IPv6 nor ARP (VLAN, ...)")                             \
    X(bad_ip_header, "IP version, lengths or IPv6 extension headers inconsistent")                 \
    X(bad_ip_checksum, "IPv4 header checksum wrong")                                               \
    X(ip_fragment, "IPv4 fragment addressed to a virtual service")                                 \
    X(bad_l4_header, "TCP/UDP/ICMP header truncated or inconsistent")                              \
    X(ttl_exceeded, "TTL would reach 0 when routed")                                               \
    X(no_service, "to a VIP on a port or protocol with no service")                                \
    X(vip_not_held, "to a VIP no kernel interface holds (high_availability.vip_ownership: kernel)") \
    X(tcp_not_syn, "TCP packet without SYN and without a connection")                              \
    X(tcp_bad_flags, "TCP flags no stack sends: SYN with FIN or RST, or none of SYN, ACK, RST")   \
    X(no_real_server, "the scheduler found no available real server")                              \
    X(conn_table_full, "connection table full")                                                    \
    X(drop_packet, "new connection refused by the drop_packet defence")                            \
    X(conn_conflict, "a NAT reply key already belongs to another connection")                      \
    X(not_for_us, "to an address that is neither ours, a VIP nor a connection's")                  \
    X(local_unhandled, "to the director's own address, not ICMP echo, and no kernel interface")     \
    X(icmp_unhandled, "ICMP that is not echo request and belongs to no connection")                \
    X(icmp_bad_checksum, "ICMP error whose checksum is wrong")                                     \
    X(icmp_forged, "ICMP error that quotes a connection but cannot be about it")                   \
    X(martian_source, "source never a client's: 0/8, 127/8, 224/3, broadcast, ours or a VIP")      \
    X(reply_wrong_port, "NAT reply that arrived on a port its real server is not reached by")     \
    X(arp_invalid, "ARP that is not Ethernet/IPv4")                                                \
    X(arp_not_for_us, "ARP request for an address we do not own")                                  \
    X(nd_invalid, "neighbour discovery failing RFC 4861's checks (hop limit, checksum, options)")  \
    X(nd_ignored, "router discovery and redirects: addresses and routes come from the file")      \
    X(nd_not_for_us, "neighbour solicitation for an address we do not own")                       \
    X(no_route, "no route to the destination")                                                     \
    X(neighbor_unresolved, "next hop did not answer ARP in time, or too many packets waiting")     \
    X(too_big_df, "TUN: larger than the egress MTU with DF set; ICMP fragmentation-needed sent")      \
    X(fragmentation_failed, "TUN: the outer packet could not be fragmented")                       \
    X(vlan_untagged, "untagged, on a device whose interfaces are all on VLANs")                      \
    X(vlan_unknown, "tagged with a VLAN no interface of its device is on, or tagged twice")          \
    X(vlan_untaggable, "leaving on a VLAN, without room for the tag (shared or no headroom)")      \
    X(kernel_too_big, "for the director itself, longer than its kernel interface's MTU takes")         \
    X(chain_unsendable, "a chain (fragment) its port cannot send, not copied into one mbuf")       \
    X(no_headroom, "no room in front of the packet for the outer header")                          \
    X(real_server_gone, "its real server left the service (expire_nodest_conn)")                   \
    X(handoff_full, "the owning worker's hand-off ring is full")                                  \
    X(kernel_rate_limited, "for the kernel, beyond dataplane.kernel_rate_limit")                  \
    X(icmp_rate_limited, "ICMP needing an answer beyond dataplane.icmp_rate_limit")                \
    X(tx_full, "transmit queue full")

enum class DropReason : uint8_t {
#define FULCRUM_ENUM(name, text) name,
    FULCRUM_DROP_REASONS(FULCRUM_ENUM)
#undef FULCRUM_ENUM
        count
};

inline constexpr size_t drop_reason_count = static_cast<size_t>(DropReason::count);

inline constexpr std::array<std::string_view, drop_reason_count> drop_reason_names = {
#define FULCRUM_NAME(name, text) #name,
    FULCRUM_DROP_REASONS(FULCRUM_NAME)
#undef FULCRUM_NAME
};

inline constexpr std::array<std::string_view, drop_reason_count> drop_reason_descriptions = {
#define FULCRUM_TEXT(name, text) text,
    FULCRUM_DROP_REASONS(FULCRUM_TEXT)
#undef FULCRUM_TEXT
};

// What each worker counts besides drops. The struct, `show workers`, the stop log's
// `stats worker=` line, telemetry's /fulcrum/workers and Prometheus's fulcrum_worker_NAME_total
// all come from this one list, so they show the same names.
#define FULCRUM_WORKER_COUNTERS(X)                                                                 \
    X(rx_packets, "packets received from the ports")                                               \
    X(tx_packets, "frames sent, to the kernel's TAP ports too")                                    \
    X(to_real_server, "packets forwarded from clients to real servers")                           \
    X(replies, "NAT replies forwarded from real servers to clients")                               \
    X(stateless_forwarded, "packets forwarded without a connection (flood_mode)")                  \
    X(connections_created, "connections made")                                                     \
    X(sloppy_connections, "connections opened by a TCP packet other than a SYN (sloppy_tcp)")       \
    X(connections_expired, "connections ended by their timeout")                                   \
    X(connections_evicted, "half-open or idle connections that gave way in a full table")          \
    X(removed_by_drop_entry, "connections removed by the drop_entry defence")                         \
    X(templates_evicted, "live persistence templates that controlled nothing and gave way")        \
    X(templates_full, "persistent clients that got no template: all they could take were in use") \
    X(arp_replies, "ARP replies sent for our addresses and VIPs")                                  \
    X(arp_requests, "ARP requests sent for next hops")                                             \
    X(nd_advertisements, "neighbour advertisements sent for our IPv6 addresses and VIPs")          \
    X(nd_solicitations, "neighbour solicitations sent for IPv6 next hops")                         \
    X(held_for_arp, "packets held while their next hop was resolved")                              \
    X(icmp_echo_replies, "echo requests answered")                                                 \
    X(icmp_related, "ICMP errors about connections forwarded")                                     \
    X(icmp_frag_needed, "fragmentation needed sent for tunnelled packets")                         \
    X(icmp_port_unreachable, "port unreachable sent: no real server available (ip_vs_leave)")     \
    X(icmp_rate_limited, "ICMP not sent: beyond dataplane.icmp_rate_limit")                        \
    X(tunnel_fragments, "outer fragments sent for tunnelled packets")                              \
    X(handed_off, "packets passed to the worker that owns their connection")                       \
    X(handoffs_received, "packets taken from other workers")                                       \
    X(to_kernel, "frames passed to the kernel through the exception path")                         \
    X(from_kernel, "frames the kernel sent out of a port")                                         \
    X(sync_sent, "connection sync records handed to the control thread to send")               \
    X(sync_ring_full, "sync records not sent: the ring to the control thread was full")           \
    X(sync_installed, "connections (and templates) installed from sync records")                 \
    X(sync_updated, "connections whose state a sync record updated")                             \
    X(sync_stale, "sync records of a connection since moved to another real server, ignored")    \
    X(sync_no_service, "sync records for a service (or persistent service) this director lacks") \
    X(sync_no_real_server, "sync records for a real server the service here does not have")      \
    X(sync_not_installed, "sync records refused by a full table or a NAT reply key in use")       \
    X(idle_polls, "polls that found nothing")

struct WorkerCounters {
#define FULCRUM_FIELD(name, text) uint64_t name = 0;
    FULCRUM_WORKER_COUNTERS(FULCRUM_FIELD)
#undef FULCRUM_FIELD
    std::array<uint64_t, drop_reason_count> drops{};

    uint64_t& drop(DropReason r) { return drops[static_cast<size_t>(r)]; }
    uint64_t drops_total() const
    {
        uint64_t sum = 0;
        for (uint64_t d : drops) sum += d;
        return sum;
    }
};

inline constexpr std::array worker_counter_names = {
#define FULCRUM_NAME(name, text) std::string_view{#name},
    FULCRUM_WORKER_COUNTERS(FULCRUM_NAME)
#undef FULCRUM_NAME
};
inline constexpr size_t worker_counter_count = worker_counter_names.size();

inline constexpr std::array<std::string_view, worker_counter_count> worker_counter_descriptions = {
#define FULCRUM_TEXT(name, text) text,
    FULCRUM_WORKER_COUNTERS(FULCRUM_TEXT)
#undef FULCRUM_TEXT
};

// The counters' fields in the list's order: counters.*worker_counter_fields[i].
inline constexpr std::array<uint64_t WorkerCounters::*, worker_counter_count> worker_counter_fields = {
#define FULCRUM_FIELD_OF(name, text) &WorkerCounters::name,
    FULCRUM_WORKER_COUNTERS(FULCRUM_FIELD_OF)
#undef FULCRUM_FIELD_OF
};

}  // namespace fulcrum::dataplane
