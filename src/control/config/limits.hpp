// Every bound of the configuration, in one place: the checker reads them, and so do the console's
// edits, which must refuse what a file could not say. docs/configuration.md lists them.
#pragma once

#include <cstddef>
#include <cstdint>

namespace fulcrum::control::limits {

inline constexpr uint64_t max_workers = 64;
inline constexpr uint64_t min_conn_table_size = 1024;
inline constexpr uint64_t max_conn_table_size = 16777216;  // 2^24 per worker
inline constexpr uint64_t min_mbufs = 1024;
inline constexpr uint64_t max_mbufs = 1048576;
inline constexpr uint64_t min_kernel_rate = 100;           // frames per second and worker
inline constexpr uint64_t max_kernel_rate = 10000000;
inline constexpr uint64_t min_icmp_rate = 10;              // ICMP messages per second and worker
inline constexpr uint64_t max_icmp_rate = 10000000;
inline constexpr uint64_t max_defense_level = 3;           // 0 never, 1 automatic, 3 always
inline constexpr uint64_t max_am_droprate = 1000000;
inline constexpr uint64_t min_mtu = 68;                    // RFC 791's minimum
inline constexpr uint64_t max_mtu = 9000;
inline constexpr size_t max_interface_name = 15;           // IFNAMSIZ - 1, so names fit kernel-style fields
inline constexpr uint64_t max_timeout = 31536000;          // one year, in seconds
inline constexpr uint32_t max_port = 65535;
inline constexpr uint32_t max_weight = 65535;              // ipvsadm's -w
inline constexpr uint32_t max_quorum = 4096;               // announce.quorum: a service's real servers at most
inline constexpr uint32_t max_threshold = 1u << 30;        // upper_threshold, lower_threshold (-x, -y)
// A persistence template's timeout fits the dataplane's 15 bits (runtime/snapshot_builder.cpp
// asserts it is PersistenceTable's bound).
inline constexpr uint32_t max_persistence_seconds = 86400 * 31;  // ipvsadm -p (MAX_TIMEOUT)
// Connection sync: a datagram holds the 8-byte header and at least one record of either family
// (72 bytes for an IPv6 connection), and at most what one UDP datagram carries; a full refresh
// at most once a day.
inline constexpr uint64_t min_sync_length = 80;
inline constexpr uint64_t max_sync_length = 65507;
inline constexpr uint64_t max_full_refresh = 86400;
inline constexpr uint64_t min_check_ms = 10;               // a health check's interval and timeout
inline constexpr uint64_t max_check_ms = 3600 * 1000;
inline constexpr uint64_t max_rise_fall = 1000;
inline constexpr size_t max_body_regex_length = 64;
inline constexpr uint64_t max_body_regex_repeat = 32;

}  // namespace fulcrum::control::limits
