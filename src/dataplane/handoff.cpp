#include "dataplane/handoff.hpp"

#include <rte_hash_crc.h>
#include <rte_ring.h>
#include <rte_thash.h>

#include <cstring>

#include "dataplane/parse.hpp"
#include "dataplane/steering.hpp"

namespace fulcrum::dataplane {

unsigned owner_of_client(rte_be32_t client_ip, rte_be16_t client_port, unsigned workers, OwnerHash hash)
{
    if (hash == OwnerHash::toeplitz) {
        // The NIC's input for source-only (or destination-only) hashing: the address, then the
        // port, in network order; rte_softrss takes host-order words.
        uint32_t tuple[2] = {rte_be_to_cpu_32(client_ip), uint32_t{rte_be_to_cpu_16(client_port)} << 16};
        return rte_softrss(tuple, 2, steering_rss_key.data()) & (workers - 1);
    }
    const uint32_t crc = rte_hash_crc_4byte(client_port, rte_hash_crc_4byte(client_ip, 0));
    return static_cast<unsigned>((uint64_t{crc} * workers) >> 32);
}

unsigned owner_of_client6(const Ipv6Address& client, rte_be16_t port, unsigned workers, OwnerHash hash)
{
    if (hash == OwnerHash::toeplitz) {
        uint32_t tuple[5];
        for (unsigned i = 0; i < 4; ++i) {
            rte_be32_t word;
            std::memcpy(&word, &client.bytes[4 * i], sizeof word);
            tuple[i] = rte_be_to_cpu_32(word);
        }
        tuple[4] = uint32_t{rte_be_to_cpu_16(port)} << 16;
        return rte_softrss(tuple, 5, steering_rss_key.data()) & (workers - 1);
    }
    return owner_of_client(rte_cpu_to_be_32(fold_ipv6(client)), port, workers);
}

namespace {

// The owner of the client whose IPv6 packet one of our tunnel packets carried, quoted at `offset`.
int inner_client_owner6(const uint8_t* frame, uint32_t offset, uint32_t available, unsigned workers,
                        OwnerHash hash)
{
    const auto inner = icmp6_quoted_key(frame, offset, available);
    return inner ? static_cast<int>(owner_of_client6(inner->src_ip, inner->src_port, workers, hash)) : -1;
}

// The same rules over IPv6, a client's address folded as the schedulers fold it.
int packet_owner6(const WorkerContext& w, const uint8_t* frame, const ParsedPacket& p)
{
    const unsigned workers = w.shared->worker_count;
    const OwnerHash hash = w.shared->owner_hash;
    if (p.key.proto == IPPROTO_TCP || p.key.proto == IPPROTO_UDP) {
        const FlowKey6 key = key6_of(frame, p);
        if (w.snapshot->is_vip(key.dst_ip)) return static_cast<int>(owner_of_client6(key.src_ip, key.src_port, workers, hash));
        return static_cast<int>(owner_of_client6(key.dst_ip, key.dst_port, workers, hash));
    }
    if (p.key.proto != IPPROTO_ICMPV6 || p.quote_offset == 0) return -1;
    // An ICMPv6 error quoting a TCP or UDP packet whose ports the quote holds (its extension
    // headers walked), or one of our tunnel packets: then the client is the inner packet's source.
    const auto* quote = reinterpret_cast<const rte_ipv6_hdr*>(frame + p.quote_offset);
    const uint32_t end = uint32_t{p.l4_offset} + p.l4_length;
    const uint32_t inner = p.quote_offset + static_cast<uint32_t>(sizeof(rte_ipv6_hdr));
    if (quote->proto == IPPROTO_IPV6 && end > inner) return inner_client_owner6(frame, inner, end - inner, workers, hash);
    if (quote->proto == IPPROTO_IPIP && end > inner) {
        const rte_ipv4_hdr* q = icmp_quoted_header(frame, inner, end - inner);
        return q == nullptr ? -1 : static_cast<int>(owner_of_client(q->src_addr, quoted_ports(q).first, workers, hash));
    }
    const auto quoted = icmp6_quoted_key(frame, p.quote_offset, end - p.quote_offset);
    if (!quoted) return -1;
    // Quoting VIP -> client (from the client's side) or client -> real server (from a NAT
    // real server's side).
    if (w.snapshot->is_vip(quoted->src_ip))
        return static_cast<int>(owner_of_client6(quoted->dst_ip, quoted->dst_port, workers, hash));
    return static_cast<int>(owner_of_client6(quoted->src_ip, quoted->src_port, workers, hash));
}

}  // namespace

int packet_owner(const WorkerContext& w, const uint8_t* frame, const ParsedPacket& p)
{
    const unsigned workers = w.shared->worker_count;
    const OwnerHash hash = w.shared->owner_hash;
    if (p.is_fragment) return -1;
    if (p.is_ipv6) return packet_owner6(w, frame, p);
    if (p.key.proto == IPPROTO_TCP || p.key.proto == IPPROTO_UDP) {
        // To a VIP the client is the source; anything else may be a NAT reply to the client.
        if (w.snapshot->is_vip(p.key.dst_ip)) return static_cast<int>(owner_of_client(p.key.src_ip, p.key.src_port, workers, hash));
        return static_cast<int>(owner_of_client(p.key.dst_ip, p.key.dst_port, workers, hash));
    }
    // An ICMP error belongs to the connection of the packet it quotes; other ICMP (echo and
    // the like) has no owner and stays here.
    if (p.key.proto != IPPROTO_ICMP || p.quote_offset == 0) return -1;
    const rte_ipv4_hdr* quote = p.quote(frame);
    if (quote->next_proto_id == IPPROTO_IPIP) {
        // One of our tunnel packets: the client is the inner packet's source.
        const rte_ipv4_hdr* inner = icmp_quoted_inner(frame, p);
        if (inner == nullptr) return -1;
        return static_cast<int>(owner_of_client(inner->src_addr, quoted_ports(inner).first, workers, hash));
    }
    if (quote->next_proto_id == IPPROTO_IPV6) {
        // One of our IPv6-in-IPv4 tunnel packets: the client is the inner IPv6 packet's source.
        const uint32_t outer = rte_ipv4_hdr_len(quote);
        if (p.quote_length() <= outer) return -1;
        return inner_client_owner6(frame, p.quote_offset + outer, p.quote_length() - outer, workers, hash);
    }
    const auto [sport, dport] = quoted_ports(quote);
    // Quoting VIP -> client (from the client's side) or client -> real server (from a NAT
    // real server's side).
    if (w.snapshot->is_vip(quote->src_addr)) return static_cast<int>(owner_of_client(quote->dst_addr, dport, workers, hash));
    return static_cast<int>(owner_of_client(quote->src_addr, sport, workers, hash));
}

bool hand_off(WorkerContext& w, unsigned owner, rte_mbuf* m)
{
    rte_ring* ring = w.shared->handoff_rings[w.worker_id * w.shared->worker_count + owner];
    if (rte_ring_sp_enqueue(ring, m) != 0) return false;
    ++w.counters.handed_off;
    return true;
}

uint16_t receive_handed_off(WorkerContext& w, rte_mbuf** mbufs, uint16_t max)
{
    const unsigned workers = w.shared->worker_count;
    uint16_t received = 0;
    for (unsigned from = 0; from < workers && received < max; ++from) {
        if (from == w.worker_id) continue;
        rte_ring* ring = w.shared->handoff_rings[from * workers + w.worker_id];
        received += static_cast<uint16_t>(rte_ring_sc_dequeue_burst(ring, reinterpret_cast<void**>(mbufs + received),
                                                                    max - received, nullptr));
    }
    w.counters.handoffs_received += received;
    return received;
}

}  // namespace fulcrum::dataplane
