#include "dataplane/sync.hpp"

#include <rte_byteorder.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include <algorithm>
#include <cstring>
#include <type_traits>

#include "dataplane/connection_steps.hpp"
#include "dataplane/pipeline.hpp"

namespace fulcrum::dataplane {

namespace {

bool tcp_state_synced(TcpState s)
{
    return s == TcpState::established || s == TcpState::fin_wait || s == TcpState::close ||
           s == TcpState::close_wait || s == TcpState::time_wait;
}

// Under vip_ownership kernel, the director that holds a VIP speaks for all its connections, the
// copies it took over included, and the other keeps quiet: its refresh would push stale states
// onto the live connections of the master. Directors that serve alike (vip_ownership always)
// re-send only what they scheduled or carried themselves, so that two of them do not keep each
// other's copies alive for ever.
template <typename Conn>
bool worth_refreshing(const ServiceSnapshot& s, const Conn& c)
{
    if (!c.in_use || (c.client_key.proto == IPPROTO_TCP && !tcp_state_synced(c.tcp.state))) return false;
    return s.vips_follow_kernel ? s.serves_vip(c.client_key.dst_ip) : !c.installed_by_sync;
}

// A connection's addresses as a record holds them.
IpAddress record_address(rte_be32_t a) { return rte_be_to_cpu_32(a); }
IpAddress record_address(const Ipv6Address& a) { return IpAddress::ipv6(a.bytes); }
// An IPv6 connection holds an IPv4 tunnel real server IPv4-mapped; the record names it as the
// IPv4 address it is, which the encoder writes as the kernel does.
IpAddress real_server_address(rte_be32_t a) { return record_address(a); }
IpAddress real_server_address(const Ipv6Address& a) { return ip_address_of(a); }

void hand_to_control(WorkerContext& w, const SyncRecord& r)
{
    SyncRecord copy = r;  // DPDK 22.11 takes a non-const pointer
    if (w.sync_out != nullptr && rte_ring_sp_enqueue_elem(w.sync_out, &copy, sizeof copy) == 0)
        ++w.counters.sync_sent;
    else
        ++w.counters.sync_ring_full;
}

// A connection's record, then its template's (the kernel sends the template every time a
// connection it controls is looked at; here with the connection's records, which is as often as
// a backup needs it). `time_left`: the record's timeout is what remains of the connection's,
// not its state's full timeout (the refresh, for a connection that may have been idle).
template <typename Conn>
void send(WorkerContext& w, const Conn& c, bool time_left = false)
{
    // An IPv4 connection tunnelled to an IPv6 real server holds a handle of this director's, no
    // address another could bind; the kernel's IPv4 record has 4 bytes for it too. Not sent.
    if constexpr (std::is_same_v<Conn, Connection>)
        if (ServiceSnapshot::is_ipv6_tunnel_handle(c.real_ip)) return;
    SyncRecord record = sync_record_of(w, c);
    if (time_left) {
        const Tick left = connection_time_left(c, *w.snapshot, w.now_tick);
        record.timeout_seconds = std::max<uint32_t>(1, (left + ticks_per_second - 1) / ticks_per_second);
    }
    hand_to_control(w, record);
    if (c.template_slot == PersistenceTable::none) return;
    const ServiceEntry* service = w.snapshot->service_with_id(c.service_id);
    if (service != nullptr && service->persistence_seconds != 0) hand_to_control(w, sync_template_of(c, *service));
}

// Whether `rs` is the real server at `address`. An IPv6 record names an IPv4 tunnel real server
// as the kernel writes it: its 4 bytes, then 12 zeros (struct ip_vs_sync_v6 has no family of
// its own for the destination).
bool is_at(const RealServerEntry& rs, const IpAddress& address)
{
    if (address.is_ipv4()) return !rs.is_ipv6 && rs.address == rte_cpu_to_be_32(address.ipv4());
    if (rs.is_ipv6) return rs.address6.bytes == address.bytes();
    const auto& b = address.bytes();
    if (std::any_of(b.begin() + 4, b.end(), [](uint8_t x) { return x != 0; })) return false;
    return std::memcmp(&rs.address, b.data(), sizeof rs.address) == 0;
}

// The real server of `service` a record names. DR and TUN real servers are reached on the
// virtual port whatever their configured one, so only their address must match.
const RealServerEntry* real_server_named(const ServiceSnapshot& s, const ServiceEntry& service, const SyncRecord& r)
{
    const rte_be16_t port = rte_cpu_to_be_16(r.real_port);
    for (const RealServerEntry& rs : s.real_servers_of(service))
        if (is_at(rs, r.real_ip) && (!replies_through_director(rs.method) || rs.port == port)) return &rs;
    return nullptr;
}

// The record's timeout, in ticks, but never beyond this director's own for the state: a
// backup's policy bounds how long a message from the network may keep a connection.
Tick synced_timeout(const SyncRecord& r, Tick local)
{
    if (r.timeout_seconds == 0) return local;
    return static_cast<Tick>(std::min<uint64_t>(uint64_t{r.timeout_seconds} * ticks_per_second, local));
}

// Sets `c`'s state from the record, moving it between ActiveConn and InActConn, and its idle
// clock so that it expires when the record says.
template <typename Conn>
void take_state(WorkerContext& w, Conn& c, const SyncRecord& r)
{
    c.installed_by_sync = true;
    const TcpState before = c.tcp.state;
    if (c.client_key.proto == IPPROTO_TCP) c.tcp.state = r.state;
    c.synced_state = c.tcp.state;
    recount_after_state_change(w, c, before);
    const Tick local = connection_timeout(c, *w.snapshot);
    const Tick timeout = synced_timeout(r, local);
    c.last_seen = w.now_tick - (local - timeout);
    table_of(w, c).reschedule(&c, w.now_tick + timeout);
}

// `client`: the template's key, the record's client under this director's netmask for the
// service (persistence_client).
void install_template(WorkerContext& w, uint32_t client, const ServiceEntry& service, const RealServerEntry& rs)
{
    const uint32_t now_s = w.now_tick / ticks_per_second;
    const auto rs_id = static_cast<uint16_t>(rs.id);
    PersistenceTable::ClaimResult how;
    const auto claimed =
        w.shared->templates->claim(service.id, client, rs_id, now_s, service.persistence_seconds, &how);
    if (!claimed)
        ++w.counters.sync_not_installed;
    else if (how != PersistenceTable::ClaimResult::joined)
        ++w.counters.sync_installed;
    else if (w.shared->templates->renew(*claimed, rs_id, now_s))
        ++w.counters.sync_updated;  // its timeout runs again, towards the record's real server
    else
        ++w.counters.sync_stale;    // connections here follow it elsewhere: kept
}

}  // namespace

template <typename Conn>
bool sync_wanted(const Conn& c)
{
    if (c.client_key.proto == IPPROTO_TCP) {
        if (!tcp_state_synced(c.tcp.state)) return false;
        if (c.tcp.state != c.synced_state && c.tcp.state != TcpState::established) return true;
    }
    return c.in_packets % sync_period == sync_threshold;
}

template <typename Conn>
void sync_after_packet(WorkerContext& w, Conn& c)
{
    // A client's packet came here: this director carries the connection now. (Only a sender's
    // refresh reads the flag, so a director that does not send need not clear it.)
    c.installed_by_sync = false;
    if (!sync_wanted(c)) return;
    c.synced_state = c.tcp.state;
    send(w, c);
}

template <typename Conn>
SyncRecord sync_record_of(const WorkerContext& w, const Conn& c)
{
    SyncRecord r;
    r.client_ip = record_address(c.client_key.src_ip);
    r.vip = record_address(c.client_key.dst_ip);
    r.real_ip = real_server_address(c.real_ip);
    r.client_port = rte_be_to_cpu_16(c.client_key.src_port);
    r.vport = rte_be_to_cpu_16(c.client_key.dst_port);
    r.real_port = rte_be_to_cpu_16(c.real_port);
    r.protocol = c.client_key.proto;
    r.method = c.method;
    r.no_output = c.tcp.no_output;
    r.inactive = !c.counts_active();
    r.state = c.client_key.proto == IPPROTO_TCP ? c.tcp.state : TcpState::none;
    r.timeout_seconds = connection_timeout(c, *w.snapshot) / ticks_per_second;
    return r;
}

// The client's network, as the kernel's template holds it: IPv4 under the netmask, IPv6 under
// the prefix length (ip_vs_sched_persist).
static IpAddress template_client(const FlowKey& key, const ServiceEntry& service)
{
    return rte_be_to_cpu_32(key.src_ip) & service.persistence_mask;
}
static IpAddress template_client(const FlowKey6& key, const ServiceEntry& service)
{
    return IpAddress::ipv6(persistence_network(service, key).bytes);
}

template <typename Conn>
SyncRecord sync_template_of(const Conn& c, const ServiceEntry& service)
{
    SyncRecord r;
    r.client_ip = template_client(c.client_key, service);
    r.vip = record_address(c.client_key.dst_ip);
    r.real_ip = real_server_address(c.real_ip);
    r.vport = rte_be_to_cpu_16(c.client_key.dst_port);
    r.real_port = rte_be_to_cpu_16(c.real_port);
    r.protocol = c.client_key.proto;
    r.method = c.method;
    r.is_template = true;
    // As the kernel's templates, which take their real server's flags: INACTIVE, and NOOUTPUT
    // for the methods whose replies bypass the director.
    r.inactive = true;
    r.no_output = !replies_through_director(c.method);
    r.timeout_seconds = service.persistence_seconds;
    return r;
}

template bool sync_wanted(const Connection&);
template bool sync_wanted(const Connection6&);
template void sync_after_packet(WorkerContext&, Connection&);
template void sync_after_packet(WorkerContext&, Connection6&);
template SyncRecord sync_record_of(const WorkerContext&, const Connection&);
template SyncRecord sync_record_of(const WorkerContext&, const Connection6&);
template SyncRecord sync_template_of(const Connection&, const ServiceEntry&);
template SyncRecord sync_template_of(const Connection6&, const ServiceEntry&);

void sync_refresh_some(WorkerContext& w)
{
    const uint32_t period = w.snapshot->sync.full_refresh_seconds;
    if (!w.snapshot->sync.send || period == 0 || w.now_tick == w.sync_refresh_tick) return;
    // The loop comes here many times a tick. A longer gap (the first call, or sync just turned
    // on) counts as one tick, so that the refresh starts without a burst.
    const Tick elapsed = w.now_tick - w.sync_refresh_tick;
    const uint64_t ticks = elapsed <= 4 ? elapsed : 1;
    w.sync_refresh_tick = w.now_tick;
    // One cursor over both tables, the IPv4 one's slots first: a period covers every
    // connection of either family once.
    const uint32_t capacity4 = w.conns.capacity();
    const uint32_t capacity = capacity4 + w.conns6.capacity();
    if (capacity == 0) return;
    const uint64_t share = (uint64_t{capacity} * ticks + uint64_t{period} * ticks_per_second - 1) /
                           (uint64_t{period} * ticks_per_second);
    auto refresh = [&](const auto& c) {
        if (!worth_refreshing(*w.snapshot, c)) return true;
        // Room for a connection and its template, or the rest waits for the next tick (the
        // cursor stays), so that a large table's share never overruns the ring.
        if (w.sync_out != nullptr && rte_ring_free_count(w.sync_out) < 2) {
            ++w.counters.sync_ring_full;
            return false;
        }
        send(w, c, true);
        return true;
    };
    for (uint64_t n = 0; n < share; ++n) {
        if (w.sync_refresh_cursor >= capacity) w.sync_refresh_cursor = 0;  // a table shrank
        const uint32_t i = w.sync_refresh_cursor;
        if (!(i < capacity4 ? refresh(w.conns.slot(i)) : refresh(w.conns6.slot(i - capacity4)))) return;
        w.sync_refresh_cursor = i + 1 == capacity ? 0 : i + 1;
    }
}

namespace {

// Installs a record of `service`'s connection towards `rs` into the table of `key`'s family.
template <typename Key>
void install_connection(WorkerContext& w, const SyncRecord& r, const Key& key, const ServiceEntry& service,
                        const RealServerEntry& rs)
{
    auto& table = table_for(w, key);
    using Table = std::remove_reference_t<decltype(table)>;
    const auto& real_ip = address_of(rs, key);
    const rte_be16_t real_port = replies_through_director(rs.method) ? rs.port : key.dst_port;
    if (const auto hit = table.lookup(key); hit.conn != nullptr && !hit.is_reply) {
        auto& c = *hit.conn;
        if (c.real_ip == real_ip && c.real_port == real_port) {
            take_state(w, c, r);
            ++w.counters.sync_updated;
            return;
        }
        // As the kernel: an inactive record about another real server is the master's expiry
        // of a connection it has since replaced; an active one replaces ours.
        if (r.inactive) {
            ++w.counters.sync_stale;
            return;
        }
        forget_connection(w, c);
    }
    typename Table::Connection* c = nullptr;
    const Tick first = r.protocol == IPPROTO_TCP ? w.snapshot->tcp_timeout[0] : w.snapshot->udp_timeout;
    if (table.insert(key, real_ip, real_port, rs.method, w.now_tick, first, &c) != Table::InsertResult::ok) {
        ++w.counters.sync_not_installed;
        return;
    }
    c->service_id = static_cast<uint16_t>(service.id);
    c->real_server_id = static_cast<uint16_t>(rs.id);
    // The local real server's method decides (the kernel's synced connections inherit their
    // destination's): DR and TUN replies bypass this director too.
    c->tcp = {TcpState::none, !replies_through_director(rs.method)};
    c->in_packets = sync_threshold;  // as the kernel sets in_pkts of a synced connection
    count_add(w.conn_counts[rs.id].inactive, 1);
    take_state(w, *c, r);
    ++w.counters.sync_installed;
}

// A record of `service` towards `rs`, whose client's flow is `key`: a template (keyed by the
// client's network under this director's netmask) or a connection.
template <typename Key>
void install(WorkerContext& w, const SyncRecord& r, const Key& key, const ServiceEntry& service,
             const RealServerEntry& rs)
{
    if (r.is_template)
        install_template(w, persistence_client(service, key), service, rs);
    else
        install_connection(w, r, key, service, rs);
}

Ipv6Address ipv6_of(const IpAddress& a) { return Ipv6Address{a.bytes()}; }

}  // namespace

void sync_install(WorkerContext& w, const SyncRecord& r)
{
    const ServiceSnapshot& s = *w.snapshot;
    const rte_be16_t vport = rte_cpu_to_be_16(r.vport);
    const ServiceEntry* service = r.is_ipv6() ? s.find_service(ipv6_of(r.vip), vport, r.protocol)
                                              : s.find_service(rte_cpu_to_be_32(r.vip.ipv4()), vport, r.protocol);
    // An IPv6 connection's client is IPv6 too; a record that mixes them names no flow.
    if (service == nullptr || r.client_ip.family() != r.vip.family() ||
        (r.is_template && service->persistence_seconds == 0)) {
        ++w.counters.sync_no_service;
        return;
    }
    const RealServerEntry* rs = real_server_named(s, *service, r);
    if (rs == nullptr) {
        ++w.counters.sync_no_real_server;
        return;
    }
    const rte_be16_t cport = rte_cpu_to_be_16(r.client_port);
    if (r.is_ipv6())
        install(w, r, FlowKey6{ipv6_of(r.client_ip), ipv6_of(r.vip), cport, vport, r.protocol, {0, 0, 0}}, *service, *rs);
    else
        install(w, r,
                FlowKey{rte_cpu_to_be_32(r.client_ip.ipv4()), rte_cpu_to_be_32(r.vip.ipv4()), cport, vport, r.protocol,
                        {0, 0, 0}},
                *service, *rs);
}

unsigned sync_install_some(WorkerContext& w, unsigned budget)
{
    if (w.sync_in == nullptr) return 0;
    SyncRecord records[32];
    unsigned taken = 0;
    while (taken < budget) {
        const unsigned n = rte_ring_sc_dequeue_burst_elem(w.sync_in, records, sizeof(SyncRecord),
                                                          std::min<unsigned>(32, budget - taken), nullptr);
        for (unsigned i = 0; i < n; ++i) sync_install(w, records[i]);
        taken += n;
        if (n == 0) break;
    }
    return taken;
}

}  // namespace fulcrum::dataplane
