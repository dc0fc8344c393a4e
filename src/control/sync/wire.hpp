// The kernel's IPVS connection-sync protocol, version 1 (net/netfilter/ipvs/ip_vs_sync.c): the
// datagrams a master multicasts and a backup reads, so that Fulcrum and kernel IPVS directors
// sync with each other. Plain C++: no DPDK, no sockets.
//
// A datagram is an 8-byte header (reserved 0, sync id, size = the datagram's length, number of
// records, version 1, spare 0) and that many records, each 4-byte aligned: a 24-byte head (type,
// protocol, version and size, flags, state, client/virtual/destination ports, firewall mark,
// timeout in seconds), the client/virtual/destination addresses, then option TLVs. The type's
// bit 0 says the family: 0 an IPv4 connection (three 4-byte addresses, 36 bytes, struct
// ip_vs_sync_v4), 1 an IPv6 one (three 16-byte addresses, 72 bytes, struct ip_vs_sync_v6). Every
// field is big-endian.
//
// The family is the service's. The kernel writes an IPv6 service's IPv4 tunnel real server
// into the 16-byte destination as its 4 bytes and 12 zeros (its union nf_inet_addr), and a
// kernel backup reads that back as an IPv6 address (ip_vs_proc_conn assumes the real server is
// of the service's family); so do the encoder and decoder here: which real server such a
// record names is the dataplane's question (dataplane/sync.hpp).
//
// Decoding is stricter than the kernel's, because sync is unauthenticated multicast: where the
// kernel keeps the records before a malformed one, the whole datagram is dropped here.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "common/sync_record.hpp"

namespace fulcrum::control::sync {

inline constexpr Ipv4 default_group = 0xe0000051;  // 224.0.0.81, IP_VS_SYNC_GROUP
inline constexpr uint16_t default_port = 8848;     // IP_VS_SYNC_PORT
inline constexpr size_t header_size = 8;           // struct ip_vs_sync_mesg
inline constexpr size_t ipv4_record_size = 36;     // struct ip_vs_sync_v4
inline constexpr size_t ipv6_record_size = 72;     // struct ip_vs_sync_v6
inline constexpr size_t max_records_per_message = 255;  // nr_conns is one byte

// Why a datagram or one of its records was not taken. The first group drops the whole
// datagram; the second skips one record and keeps the others. The enum, the counters' names and
// their descriptions come from this one list.
#define FULCRUM_SYNC_REFUSALS(X)                                                                   \
    X(too_short, true, "datagram shorter than the 8-byte header")                                  \
    X(bad_size, true, "header's size differs from the datagram's length")                          \
    X(other_syncid, true, "sync id other than the one this backup accepts")                         \
    X(bad_version, true, "not a version 1 message (reserved, version or spare field)")             \
    X(truncated_record, true, "a record runs past the end of the datagram")                        \
    X(bad_record, true, "record version not 0, unknown type bits, or shorter than its fixed part")  \
    X(bad_option, true, "option of length 0, past its record, or a sequence option malformed")     \
    X(unknown_option, false, "mandatory option this director does not know")                       \
    X(persistence_engine, false, "persistence-engine data (ipvsadm --pe), which Fulcrum lacks")    \
    X(firewall_mark, false, "connection of a firewall-mark service")                               \
    X(unsupported_protocol, false, "protocol other than TCP and UDP")                              \
    X(bad_state, false, "state number beyond the protocol's states")                               \
    X(unsupported_method, false, "forwarding method other than NAT, DR and TUN")

enum class SyncRefusal : uint8_t {
#define FULCRUM_SYNC_ENUM(name, whole, text) name,
    FULCRUM_SYNC_REFUSALS(FULCRUM_SYNC_ENUM)
#undef FULCRUM_SYNC_ENUM
        count
};
inline constexpr size_t sync_refusal_count = static_cast<size_t>(SyncRefusal::count);

inline constexpr std::array<std::string_view, sync_refusal_count> sync_refusal_names = {
#define FULCRUM_SYNC_NAME(name, whole, text) #name,
    FULCRUM_SYNC_REFUSALS(FULCRUM_SYNC_NAME)
#undef FULCRUM_SYNC_NAME
};
inline constexpr std::array<std::string_view, sync_refusal_count> sync_refusal_descriptions = {
#define FULCRUM_SYNC_TEXT(name, whole, text) text,
    FULCRUM_SYNC_REFUSALS(FULCRUM_SYNC_TEXT)
#undef FULCRUM_SYNC_TEXT
};
// Whether a refusal drops the whole datagram (true) or one record.
inline constexpr std::array<bool, sync_refusal_count> sync_refusal_drops_message = {
#define FULCRUM_SYNC_WHOLE(name, whole, text) whole,
    FULCRUM_SYNC_REFUSALS(FULCRUM_SYNC_WHOLE)
#undef FULCRUM_SYNC_WHOLE
};

// Fills datagrams of at most `max_length` bytes (the kernel's sync_maxlen) with records.
class MessageBuilder {
public:
    // `max_length`: at least header_size + ipv6_record_size (the configuration's minimum), so
    // that a record of either family fits an empty datagram.
    MessageBuilder(uint8_t syncid, size_t max_length);

    // Appends `record`. False, and nothing appended, when the datagram has no room left (send
    // bytes(), then clear()).
    bool add(const SyncRecord& record);
    void clear();

    std::span<const uint8_t> bytes() const { return {buffer_.data(), length_}; }
    size_t records() const { return records_; }
    bool empty() const { return records_ == 0; }

private:
    std::vector<uint8_t> buffer_;  // max_length bytes, reserved once
    size_t length_ = header_size;
    size_t records_ = 0;
};

struct DecodeResult {
    // Set when the whole datagram was dropped (then no record was appended).
    std::optional<SyncRefusal> dropped;
    // Records skipped, by reason (only the record-level reasons count here).
    std::array<uint32_t, sync_refusal_count> skipped{};
    size_t accepted = 0;
};

// Decodes `datagram`, appending its records to `out`. A backup with `accepted_syncid` 0 takes
// any sync id, as the kernel's.
DecodeResult decode_message(std::span<const uint8_t> datagram, uint8_t accepted_syncid, std::vector<SyncRecord>& out);

}  // namespace fulcrum::control::sync
