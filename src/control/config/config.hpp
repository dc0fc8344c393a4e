// The typed configuration: what a YAML file says once it has been checked completely.
// Nothing here is read by the dataplane; the control plane turns it into a ServiceSnapshot.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/tcp_state.hpp"
#include "common/types.hpp"
#include "sched/scheduler.hpp"

namespace fulcrum::control {

struct DataplaneConfig {
    unsigned workers = 1;                // worker lcores; the main lcore runs the control plane
    std::vector<std::string> eal;        // extra EAL arguments, after the generated ones
    uint32_t conn_table_size = 65536;    // connections per worker
    // IPv6 connections per worker, in a table of their own; 0 = not given: conn_table_size when
    // an interface has an IPv6 address, else the least (ipv6_conn_table_size), so that an IPv4-only
    // director does not pay for a table it never fills.
    uint32_t conn_table_size_ipv6 = 0;
    uint32_t mbufs = 16384;              // packet buffers in the pool shared by all ports
    // IPVS's sysctl: a packet of a connection whose real server has left its service ends the
    // connection (dropped) instead of still reaching the old server.
    bool expire_nodest_conn = false;
    // IPVS's sysctl: a TCP packet other than a SYN or a RST that belongs to no connection opens
    // one, scheduled as a SYN would be, its state from what the packet shows. Behind ECMP a flow
    // that moves from another director goes on; without it such a packet is dropped (tcp_not_syn).
    bool sloppy_tcp = false;
    // Frames each worker may pass to the kernel's exception path per second (and in a burst of a
    // tenth of that): a flood at the director's own address costs a system call per frame there.
    uint32_t kernel_rate_limit = 20000;
    // ICMP messages each worker may generate per second (echo replies, port unreachable,
    // fragmentation needed), in bursts of a twentieth: the kernel's icmp_msgs_per_sec and burst.
    uint32_t icmp_rate_limit = 1000;
    // IPVS's drop_entry, drop_packet, secure_tcp, amemthresh and am_droprate, and flood_mode
    // (docs/security.md). May change on reload.
    DefenseSettings defense;
};

struct InterfaceConfig {
    std::string name;                    // label used in logs, routes and the console
    std::string device;                  // vdev specification ("net_af_packet0,iface=veth10") or PCI address
    // The director's own addresses on this link, of either family or both; never IPv6
    // link-local (the director derives its fe80:: address from the port's MAC) nor multicast.
    std::vector<IpPrefix> addresses;
    uint16_t mtu = 1500;
    uint16_t queues = 0;                 // RX queues; 0 = one per worker
    // The 802.1Q VLAN (1..4094) this interface is on `device`, whose frames arrive and leave
    // with its tag; 0 = untagged. One device may carry several interfaces, one per VLAN (and one
    // untagged), with the same device string, MTU and queues.
    uint16_t vlan = 0;
    // The kernel TAP interface of the exception path ("fl-" + name unless set); "" = none.
    std::string kernel_interface;
    bool operator==(const InterfaceConfig&) const = default;
};

struct RouteConfig {
    IpPrefix dst;                        // 0.0.0.0/0 or ::/0 is a default route
    // Next hop, of dst's family: in a connected subnet (of `interface` when given), or an IPv6
    // link-local address (fe80::/10), which needs `interface`.
    IpAddress via;
    std::string interface;               // optional; empty = the interface whose subnet holds `via`
    bool operator==(const RouteConfig&) const = default;
};

struct NeighborConfig {
    IpAddress ip;                        // in a connected subnet; not link-local (no interface to say which link)
    MacAddress mac{};
    bool operator==(const NeighborConfig&) const = default;
};

enum class HealthCheckType : uint8_t { none, tcp, http };
enum class OnFailure : uint8_t { remove, quiesce };
std::string_view health_check_type_name(HealthCheckType type);  // as the file writes it: "none", "tcp", "http"
std::string_view on_failure_name(OnFailure action);              // "remove", "quiesce"

// An inclusive range of HTTP status codes a check accepts.
struct StatusRange {
    uint16_t low = 200;
    uint16_t high = 299;
    bool operator==(const StatusRange&) const = default;
};

struct HttpCheckConfig {
    std::string path = "/";
    std::string host;                            // Host header; "" = the real server's address
    // Any of these; empty means 200-299 (an initialiser list here trips a GCC 12 false warning).
    std::vector<StatusRange> expect_status;
    std::string expect_body;                     // ECMAScript regex searched in the body; "" = any
    bool operator==(const HttpCheckConfig&) const = default;
};

// ldirectord's and keepalived's checkers: a real server is taken out after `fall` failed checks
// in a row and put back after `rise` good ones.
struct HealthCheckConfig {
    HealthCheckType type = HealthCheckType::none;
    uint16_t port = 0;                   // 0 = the real server's port
    uint32_t interval_ms = 5000;         // from the start of one check to the start of the next
    uint32_t timeout_ms = 3000;          // a check not finished by then has failed
    uint32_t rise = 2;
    uint32_t fall = 3;
    OnFailure on_failure = OnFailure::remove;  // quiesce: weight 0, connections kept (ldirectord's quiescent)
    HttpCheckConfig http;
    bool operator==(const HealthCheckConfig&) const = default;
};

// Takes new connections (NAT) while none of the service's real servers is up.
struct SorryServerConfig {
    IpAddress address;                   // of the service's family
    uint16_t port = 0;                   // 0 = the virtual port
    bool operator==(const SorryServerConfig&) const = default;
};

struct RealServerConfig {
    IpAddress address;                   // the service's family, or either for tun (as IPVS allows)
    uint16_t port = 0;
    uint32_t weight = 1;                 // 0 = quiescent: no new connections
    ForwardMethod forward = ForwardMethod::nat;
    uint32_t upper_threshold = 0;        // ipvsadm -x: overloaded at this many connections; 0 = none
    uint32_t lower_threshold = 0;        // ipvsadm -y: no longer overloaded below this; 0 = 3/4 of upper
    // The service's check with this real server's own settings over it (what is run).
    HealthCheckConfig health_check;
    bool health_check_overridden = false;  // the file gave this real server settings of its own
};

struct ServiceConfig {
    IpAddress vip;                       // IPv4 or IPv6
    uint16_t port = 0;
    Protocol protocol = Protocol::tcp;
    std::string scheduler = "wlc";       // ipvsadm -s name; wlc when left out, as ipvsadm
    ForwardMethod forward = ForwardMethod::nat;  // default for real servers that name none
    std::vector<RealServerConfig> real_servers;
    sched::Flags scheduler_flags;        // ipvsadm -b: sh-port, sh-fallback, mh-port, mh-fallback
    uint32_t mh_table_size = sched::default_mh_table_size;  // with mh_compat kernel: 4093 unless given
    sched::MhCompat mh_compat = sched::MhCompat::fulcrum;   // which Maglev table mh builds
    uint32_t persistence = 0;            // ipvsadm -p, seconds; 0 = off
    // ipvsadm -M, as a prefix length: 0..32 for an IPv4 service, 0..128 for an IPv6 one;
    // full_length(vip.family()) when not given.
    uint8_t persistence_netmask = 32;
    bool expire_quiescent_template = false;  // IPVS's sysctl, per service here
    HealthCheckConfig health_check;      // the default for its real servers
    std::optional<SorryServerConfig> sorry_server;

    ServiceKey key() const { return {protocol, vip, port}; }
};

inline RealServerKey key_of(const ServiceConfig& s, const RealServerConfig& rs) { return {s.key(), rs.address, rs.port}; }

// Who answers for the VIPs (high_availability.vip_ownership): `always` (one director alone, or
// ECMP), or `kernel`: only while one of the director's kernel interfaces holds the address, so
// that keepalived's VRRP, moving the VIPs between directors' kernel interfaces, decides.
enum class VipOwnership : uint8_t { always, kernel };
std::string_view vip_ownership_name(VipOwnership ownership);  // "always", "kernel"

struct HighAvailabilityConfig {
    VipOwnership vip_ownership = VipOwnership::always;
    bool operator==(const HighAvailabilityConfig&) const = default;
};

// Connection sync in the kernel's IPVS protocol (`sync:`; ipvsadm --start-daemon). One director
// may be master (sends), backup (receives) or both; both share the interface and sync id.
struct SyncConfig {
    bool master = false;
    bool backup = false;
    std::string interface;       // a configured interface; its kernel interface sends and receives
    uint8_t syncid = 0;          // a backup with 0 accepts any
    Ipv4 group = 0xe0000051;     // 224.0.0.81
    uint16_t port = 8848;
    uint8_t ttl = 1;
    uint16_t max_length = 1472;  // bytes of a datagram's UDP payload
    uint32_t full_refresh = 60;  // seconds within which a master re-sends every connection; 0 = never

    bool enabled() const { return master || backup; }
    bool operator==(const SyncConfig&) const = default;
};
std::string_view sync_role_name(const SyncConfig& sync);  // "master", "backup", "both" (or "" when off)
// The most one frame of an interface of `mtu` carries (IP and UDP headers take 28 bytes), and the
// length a sync datagram takes when none is given: that, up to the kernel's default of 1472.
constexpr unsigned sync_length_carried(uint16_t mtu) { return mtu - 28u; }
constexpr uint16_t default_sync_length(uint16_t mtu)
{
    return static_cast<uint16_t>(sync_length_carried(mtu) < SyncConfig{}.max_length ? sync_length_carried(mtu)
                                                                                    : SyncConfig{}.max_length);
}

// Route health injection (`announce:`): while a VIP is available (one of its services has
// `quorum` usable real servers: up, weight above 0), a host route to it in routing table `table`
// of the director's own namespace, over the kernel interface of `interface`, for a routing
// daemon (BIRD) to announce. docs/ecmp.md.
struct AnnounceConfig {
    uint32_t table = 0;     // 0 = off
    uint32_t quorum = 1;
    std::string interface;  // a configured interface; the first with a kernel interface when not given
    bool enabled() const { return table != 0; }
    bool operator==(const AnnounceConfig&) const = default;
};

// The console's two doors (docs/console.md). The Unix socket is the administrator's: its file is
// mode 0660 (0600 without a group) and every peer is checked with SO_PEERCRED. The TCP listener,
// off by default, reaches anyone who reaches its address.
struct ConsoleConfig {
    std::string socket = "/run/fulcrum/console.sock";  // "" = off
    std::string group;          // may use the socket besides root; "" = root only
    std::string listen;         // "ADDRESS:PORT" for the telnet-style console; "" = off
    bool allow_remote = false;  // a listen address outside 127.0.0.0/8 is refused without it

    bool operator==(const ConsoleConfig&) const = default;
};

struct Config {
    std::string source_file;
    DataplaneConfig dataplane;
    std::vector<InterfaceConfig> interfaces;
    std::vector<RouteConfig> routes;
    std::vector<NeighborConfig> neighbors;
    std::vector<ServiceConfig> services;
    // Seconds per TCP state and for UDP: IPVS's defaults, changed by `timeouts:` (tcp, tcp_fin
    // and udp as ipvsadm --set, or a state by name).
    dataplane::ConnTimeouts timeouts = dataplane::ConnTimeouts::ipvs_defaults();
    ConsoleConfig console;
    std::string metrics_listen;                     // Prometheus text over HTTP; "" = off
    HighAvailabilityConfig high_availability;
    SyncConfig sync;                                // off unless `sync:` is given
    AnnounceConfig announce;                        // off unless `announce:` is given
};

struct ConfigError {
    std::string file;
    int line = 0;     // 1-based; 0 when the problem has no place in the file (unreadable file)
    int column = 0;   // 1-based
    std::string message;

    // "FILE:LINE:COLUMN: message", or "FILE: message" without a place.
    std::string to_string() const;
};

struct ConfigResult {
    std::optional<Config> config;        // set only when errors is empty
    std::vector<ConfigError> errors;     // every problem found, in file order
};

// The interface whose connected subnet holds `ip` (among those named `only`, when given): the
// last such, as the FIB, built in interface order, resolves overlapping subnets. nullptr if none.
// Every interface holds the IPv6 link-local subnet, so a link-local `ip` is held by `only` when
// it names an interface and by none otherwise (the link is not known).
// A route's next hop `via` leaves through interface_holding(config, via, route.interface).
const InterfaceConfig* interface_holding(const Config& config, const IpAddress& ip, std::string_view only = {});

// The IPv6 connection table's size per worker, as conn_table_size_ipv6 says or derived from
// the configuration.
uint32_t ipv6_conn_table_size(const Config& config);

// The interface's IPv4 addresses, for the parts that are IPv4 only today (the dataplane's ports,
// the TAP's addresses, gratuitous ARP); the dataplane's IPv6 part takes the others.
std::vector<Ipv4Prefix> ipv4_addresses(const InterfaceConfig& iface);

// Reads and validates a file. Errors name `path` as the file.
ConfigResult load_config_file(const std::string& path);
// Validates YAML text; `file_name` is used in error messages.
ConfigResult parse_config(const std::string& yaml_text, const std::string& file_name);

}  // namespace fulcrum::control
