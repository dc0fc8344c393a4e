// Connection sync in the worker: which client packets make it hand a record to the control
// thread (the kernel's ip_vs_sync_conn_needed at sync_threshold 3 and sync_period 50), what the
// records say, the paced full refresh, and installing received records so that the next packet
// of a synced connection goes where the master sent it.
#include <gtest/gtest.h>

#include <rte_ring.h>
#include <rte_ring_elem.h>

#include <algorithm>

#include "dataplane/pipeline.hpp"
#include "dataplane/sync.hpp"
#include "dataplane/worker.hpp"
#include "fixtures/world.hpp"

using namespace fulcrum;
using namespace fulcrum::dataplane;
using namespace fixture;

namespace {

class Sync : public ::testing::Test, public World {
protected:
    void SetUp() override { start(0); }
    void TearDown() override { teardown(); }

    // A world whose TCP :80 service has `persistence` seconds (/24), as a sync master.
    void start(uint32_t persistence, uint32_t full_refresh = 0, bool master = true)
    {
        ASSERT_EQ(build("rr", {1, 1, 1}, 1024, persistence, 24), "");
        control::Config c = config_;
        c.sync.master = master;
        c.sync.backup = true;
        c.sync.full_refresh = full_refresh;
        ASSERT_EQ(republish(c), "");
        w_->snapshot = snapshot_.get();
    }

    // Sends `count` client packets of an established connection (after a SYN), returning the
    // records handed over after each.
    std::vector<std::vector<SyncRecord>> client_packets(uint16_t client_port, uint16_t dport, int count)
    {
        std::vector<std::vector<SyncRecord>> seen;
        for (int i = 0; i < count; ++i) {
            const uint8_t flags = i == 0 ? SYN : ACK;
            run(from_client(client_port, dport).tcp(flags).bytes(), ext_port);
            take(int_port);
            seen.push_back(take_sync());
        }
        return seen;
    }

    Connection* connection(uint16_t client_port, uint16_t dport = 80, bool tcp = true)
    {
        Frame f = from_client(client_port, dport);
        if (tcp) f.tcp(ACK); else f.udp();
        return w_->conns.lookup(key_of(f)).conn;
    }

    SyncRecord record(uint16_t client_port, int real_server, TcpState state, uint32_t timeout = 900)
    {
        SyncRecord r;
        r.client_ip = client_ip;
        r.vip = vip;
        r.real_ip = rs_ip[real_server];
        r.client_port = client_port;
        r.vport = 80;
        r.real_port = 8080;
        r.protocol = 6;
        r.state = state;
        r.inactive = !tcp_state_is_active(state);
        r.timeout_seconds = timeout;
        return r;
    }

    // `c` exists, in `state`, counted in its real server's ActiveConn or InActConn as that says.
    template <typename C>
    void expect_counted(const C* c, TcpState state)
    {
        ASSERT_NE(c, nullptr);
        EXPECT_EQ(c->tcp.state, state);
        const bool active = tcp_state_is_active(state);
        EXPECT_EQ(w_->conn_counts[c->real_server_id].active.load(), active ? 1u : 0u);
        EXPECT_EQ(w_->conn_counts[c->real_server_id].inactive.load(), active ? 0u : 1u);
    }

    // `data` from the client leaves on int as `expected`, and the real server's `reply` goes
    // back to the client.
    template <typename F>
    void expect_both_ways(const F& data, const Bytes& expected, const F& reply)
    {
        ASSERT_EQ(run(data.bytes(), ext_port).kind, Verdict::Kind::transmit);
        const auto out = take(int_port);
        ASSERT_EQ(out.size(), 1u);
        EXPECT_EQ(out[0], expected);
        EXPECT_EQ(run(reply.bytes(), int_port).kind, Verdict::Kind::transmit);
        take(ext_port);
    }

    // The same over IPv6 (the world's services of vip6).
    std::vector<std::vector<SyncRecord>> client_packets6(uint16_t client_port, uint16_t dport, int count)
    {
        std::vector<std::vector<SyncRecord>> seen;
        for (int i = 0; i < count; ++i) {
            run(from_client6(client_port, dport).tcp(i == 0 ? SYN : ACK).bytes(), ext_port);
            take(int_port);
            seen.push_back(take_sync());
        }
        return seen;
    }

    Connection6* connection6(uint16_t client_port, uint16_t dport = 80)
    {
        const FlowKey6 key{Ipv6Address{client_ip6}, Ipv6Address{vip6}, rte_cpu_to_be_16(client_port),
                           rte_cpu_to_be_16(dport), IPPROTO_TCP, {0, 0, 0}};
        return w_->conns6.lookup(key).conn;
    }

    SyncRecord record6(uint16_t client_port, int real_server, TcpState state, uint32_t timeout = 900)
    {
        SyncRecord r = record(client_port, real_server, state, timeout);
        r.client_ip = IpAddress::ipv6(client_ip6);
        r.vip = IpAddress::ipv6(vip6);
        r.real_ip = IpAddress::ipv6(rs_ip6[real_server]);
        return r;
    }

    // The IPv6 TCP :80 service persistent for 300 s with a /64 prefix.
    void persist6()
    {
        control::Config c = config_;
        c.services[6].persistence = 300;
        c.services[6].persistence_netmask = 64;
        ASSERT_EQ(republish(c), "");
        w_->snapshot = snapshot_.get();
    }

    // The persistence template of the client's /24 towards rs[real_server], for 300 s.
    SyncRecord template_record(int real_server)
    {
        SyncRecord t = record(0, real_server, TcpState::none, 300);
        t.client_ip = client_ip & 0xffffff00;
        t.is_template = true;
        t.inactive = true;
        return t;
    }
};

}  // namespace

TEST_F(Sync, AnEstablishedConnectionGoesAtTheThirdClientPacketThenEveryFiftieth)
{
    const auto seen = client_packets(40000, 80, 103);
    for (size_t i = 0; i < seen.size(); ++i) {
        const size_t packet = i + 1;
        EXPECT_EQ(seen[i].size(), packet == 3 || packet == 53 || packet == 103 ? 1u : 0u) << "packet " << packet;
    }
    ASSERT_EQ(seen[2].size(), 1u);
    const SyncRecord& r = seen[2][0];
    EXPECT_EQ(r.client_ip, client_ip);
    EXPECT_EQ(r.client_port, 40000);
    EXPECT_EQ(r.vip, vip);
    EXPECT_EQ(r.vport, 80);
    EXPECT_EQ(r.real_ip, rs_ip[0]);
    EXPECT_EQ(r.real_port, 8080);
    EXPECT_EQ(r.protocol, 6);
    EXPECT_EQ(r.method, ForwardMethod::nat);
    EXPECT_EQ(r.state, TcpState::established);
    EXPECT_FALSE(r.inactive);
    EXPECT_FALSE(r.no_output);
    EXPECT_FALSE(r.is_template);
    EXPECT_EQ(r.timeout_seconds, 900u);
    EXPECT_EQ(w_->counters.sync_sent, 3u);
}

TEST_F(Sync, HalfOpenConnectionsAreNotSentAndClosingStatesGoAtOnce)
{
    // SYN_RECV is not a state the kernel syncs, whatever the count.
    for (int i = 0; i < 5; ++i) run(from_client(40001).tcp(SYN).bytes(), ext_port);
    EXPECT_TRUE(take_sync().empty());
    take(int_port);

    client_packets(40002, 80, 3);  // ESTABLISHED, sent at the third
    run(from_client(40002).tcp(FIN | ACK).bytes(), ext_port);  // the client closes: CLOSE_WAIT (NAT)
    auto sent = take_sync();
    ASSERT_EQ(sent.size(), 1u);
    EXPECT_EQ(sent[0].state, TcpState::close_wait);
    EXPECT_TRUE(sent[0].inactive);
    EXPECT_EQ(sent[0].timeout_seconds, 60u);
    run(from_client(40002).tcp(ACK).bytes(), ext_port);  // no change: nothing
    EXPECT_TRUE(take_sync().empty());

    // A change made by the real server's reply goes with the client's next packet.
    client_packets(40003, 80, 3);
    const uint32_t server = rte_be_to_cpu_32(connection(40003)->real_ip);
    const Frame reply = Frame{}.from(rs_mac[0]).to(int_mac).src(server, 8080).dst(client_ip, 40003).tcp(FIN | ACK);
    run(reply.bytes(), int_port);  // the server closes first: FIN_WAIT
    EXPECT_TRUE(take_sync().empty());
    run(from_client(40003).tcp(ACK).bytes(), ext_port);
    sent = take_sync();
    ASSERT_EQ(sent.size(), 1u);
    EXPECT_EQ(sent[0].state, TcpState::fin_wait);
}

TEST_F(Sync, UdpDrAndTemplatesSayWhatTheKernelsWould)
{
    for (int i = 0; i < 3; ++i) run(from_client(5000, 5353).udp().with_payload("q").bytes(), ext_port);
    auto sent = take_sync();
    ASSERT_EQ(sent.size(), 1u);
    EXPECT_EQ(sent[0].protocol, 17);
    EXPECT_EQ(sent[0].state, TcpState::none);
    EXPECT_TRUE(sent[0].inactive);  // UDP counts in InActConn
    EXPECT_EQ(sent[0].timeout_seconds, 300u);

    sent = client_packets(40010, 8001, 3)[2];  // DR to rs2
    ASSERT_EQ(sent.size(), 1u);
    EXPECT_EQ(sent[0].method, ForwardMethod::dr);
    EXPECT_TRUE(sent[0].no_output);
    EXPECT_EQ(sent[0].real_port, 8001);
    EXPECT_EQ(sent[0].state, TcpState::established);

    start(300);  // TCP :80 persistent for 300 s, netmask /24
    sent = client_packets(40020, 80, 3)[2];
    ASSERT_EQ(sent.size(), 2u);
    EXPECT_FALSE(sent[0].is_template);
    const SyncRecord& t = sent[1];
    EXPECT_TRUE(t.is_template);
    EXPECT_EQ(t.client_ip, client_ip & 0xffffff00);
    EXPECT_EQ(t.client_port, 0);
    EXPECT_EQ(t.vport, 80);
    EXPECT_EQ(t.real_ip, sent[0].real_ip);
    EXPECT_EQ(t.real_port, 8080);
    EXPECT_EQ(t.timeout_seconds, 300u);
    EXPECT_TRUE(t.inactive);
}

TEST_F(Sync, NothingIsSentWithoutTheMasterRole)
{
    start(0, 60, false);
    client_packets(40030, 80, 60);
    EXPECT_TRUE(take_sync().empty());
    EXPECT_EQ(w_->counters.sync_sent, 0u);
}

TEST_F(Sync, AnInstalledConnectionTakesItsNextPacketToTheMastersRealServer)
{
    // rr would send a new client to rs1; the master had sent this one to rs2.
    sync_install(*w_, record(41000, 1, TcpState::established));
    EXPECT_EQ(w_->counters.sync_installed, 1u);
    expect_counted(connection(41000), TcpState::established);

    const Frame data = from_client(41000).tcp(ACK | PSH).with_payload("GET / HTTP/1.1\r\n\r\n");
    // And the real server's reply finds it.
    expect_both_ways(data, Frame(data).from(int_mac).to(rs_mac[1]).dst(rs_ip[1], 8080).bytes(),
                     Frame{}.from(rs_mac[1]).to(int_mac).src(rs_ip[1], 8080).dst(client_ip, 41000).tcp(ACK));
}

TEST_F(Sync, InstallingUpdatesReplacesOrIgnoresAsTheKernel)
{
    sync_install(*w_, record(41001, 1, TcpState::established));
    // The same real server: the state and counts follow.
    sync_install(*w_, record(41001, 1, TcpState::fin_wait, 120));
    EXPECT_EQ(w_->counters.sync_updated, 1u);
    expect_counted(connection(41001), TcpState::fin_wait);
    // An inactive record about another real server is an old expiry: ignored.
    sync_install(*w_, record(41001, 2, TcpState::close, 10));
    EXPECT_EQ(w_->counters.sync_stale, 1u);
    EXPECT_EQ(connection(41001)->real_ip, rte_cpu_to_be_32(rs_ip[1]));
    // An active one replaces the connection.
    sync_install(*w_, record(41001, 2, TcpState::established));
    EXPECT_EQ(connection(41001)->real_ip, rte_cpu_to_be_32(rs_ip[2]));
    EXPECT_EQ(w_->conns.size(), 1u);
}

TEST_F(Sync, ATimeoutFromTheWireIsBoundedByTheLocalOne)
{
    sync_install(*w_, record(41002, 0, TcpState::established, 10));
    Connection* c = connection(41002);
    ASSERT_NE(c, nullptr);
    // It expires 10 s from now: its idle clock started 890 s ago of the local 900.
    EXPECT_EQ(w_->now_tick - c->last_seen, (900u - 10u) * ticks_per_second);
    sync_install(*w_, record(41003, 0, TcpState::established, 1000000));
    EXPECT_EQ(w_->now_tick - connection(41003)->last_seen, 0u);  // not beyond the local 900 s
}

TEST_F(Sync, RecordsForWhatThisDirectorLacksAreCountedAndDropped)
{
    SyncRecord other_vip = record(41004, 0, TcpState::established);
    other_vip.vip = vip + 1;
    sync_install(*w_, other_vip);
    SyncRecord other_port = record(41004, 0, TcpState::established);
    other_port.vport = 81;
    sync_install(*w_, other_port);
    EXPECT_EQ(w_->counters.sync_no_service, 2u);
    SyncRecord stranger = record(41004, 0, TcpState::established);
    stranger.real_ip = rs_ip[0] + 100;
    sync_install(*w_, stranger);
    SyncRecord wrong_port = record(41004, 0, TcpState::established);
    wrong_port.real_port = 8081;  // NAT real servers are matched by port too
    sync_install(*w_, wrong_port);
    EXPECT_EQ(w_->counters.sync_no_real_server, 2u);
    SyncRecord template_of_plain = record(0, 0, TcpState::none);
    template_of_plain.is_template = true;
    sync_install(*w_, template_of_plain);  // TCP :80 is not persistent here
    EXPECT_EQ(w_->counters.sync_no_service, 3u);
    EXPECT_EQ(w_->conns.size(), 0u);
    EXPECT_EQ(w_->counters.sync_installed, 0u);
}

TEST_F(Sync, AnInstalledTemplateKeepsTheClientsNetworkOnItsRealServer)
{
    start(300);
    SyncRecord t = template_record(2);
    sync_install(*w_, t);
    EXPECT_EQ(w_->counters.sync_installed, 1u);
    // A new connection from the client (rr would pick rs1) follows the template to rs3.
    for (uint16_t port : {42000, 42001}) {
        run(from_client(port).tcp(SYN).bytes(), ext_port);
        take(int_port);  // rs3's MAC is unknown: the SYN waits for ARP
        Connection* c = connection(port);
        ASSERT_NE(c, nullptr);
        EXPECT_EQ(c->real_ip, rte_cpu_to_be_32(rs_ip[2])) << port;
    }
}

TEST_F(Sync, AReceivedTemplateIsRenewedAndFollowsTheMastersRealServer)
{
    start(300);
    SyncRecord t = template_record(2);
    sync_install(*w_, t);
    // The master's template moved to rs2 before any connection here used it: so does this one.
    t.real_ip = rs_ip[1];
    sync_install(*w_, t);
    EXPECT_EQ(w_->counters.sync_installed, 1u);
    EXPECT_EQ(w_->counters.sync_updated, 1u);
    // Re-sent 200 s later, it lives 300 s from then: at 450 s it still holds the client.
    const uint64_t t0 = w_->now;
    worker_set_clock(*w_, t0 + 200 * ticks_per_second * shared_->tsc_per_tick);
    sync_install(*w_, t);
    worker_set_clock(*w_, t0 + 450 * ticks_per_second * shared_->tsc_per_tick);
    run(from_client(42100).tcp(SYN).bytes(), ext_port);
    take(int_port);
    ASSERT_NE(connection(42100), nullptr);
    EXPECT_EQ(connection(42100)->real_ip, rte_cpu_to_be_32(rs_ip[1]));
    // Now a connection here follows it: a record naming another real server changes nothing.
    t.real_ip = rs_ip[0];
    sync_install(*w_, t);
    EXPECT_EQ(w_->counters.sync_stale, 1u);
    run(from_client(42101).tcp(SYN).bytes(), ext_port);
    take(int_port);
    EXPECT_EQ(connection(42101)->real_ip, rte_cpu_to_be_32(rs_ip[1]));
}

TEST_F(Sync, TheRefreshSendsTheTimeLeftAndNeverOverrunsItsRing)
{
    start(0, 1);
    client_packets(46000, 80, 2);  // ESTABLISHED, not yet sent
    const uint64_t t0 = w_->now;
    // 100 s idle: the record says 800 s of the 900, so a backup's copy ends when this one does.
    worker_set_clock(*w_, t0 + 100 * ticks_per_second * shared_->tsc_per_tick);
    w_->sync_refresh_tick = w_->now_tick;  // 64 ticks from here: the whole table once
    std::vector<SyncRecord> sent;
    for (unsigned tick = 1; tick <= 64; ++tick) {
        worker_set_clock(*w_, w_->now + shared_->tsc_per_tick);
        sync_refresh_some(*w_);
        for (const SyncRecord& r : take_sync()) sent.push_back(r);
    }
    ASSERT_EQ(sent.size(), 1u);
    EXPECT_GE(sent[0].timeout_seconds, 799u);
    EXPECT_LE(sent[0].timeout_seconds, 800u);
    // A ring with room for one record: the connection waits, the cursor with it.
    SyncRecord filler{};
    while (rte_ring_free_count(w_->sync_out) > 1) rte_ring_sp_enqueue_elem(w_->sync_out, &filler, sizeof filler);
    const uint64_t full_before = w_->counters.sync_ring_full;
    for (unsigned tick = 1; tick <= 64; ++tick) {
        worker_set_clock(*w_, w_->now + shared_->tsc_per_tick);
        sync_refresh_some(*w_);
    }
    EXPECT_GT(w_->counters.sync_ring_full, full_before);
    const uint32_t stuck_at = w_->sync_refresh_cursor;
    EXPECT_EQ(&w_->conns.slot(stuck_at), connection(46000)) << "the cursor waits on the connection it could not send";
    take_sync();
}

TEST_F(Sync, TheFullRefreshSendsTheWholeTableOncePerPeriodInEvenShares)
{
    start(0, 1);  // every connection within 1 s
    for (uint16_t port = 43000; port < 43010; ++port) client_packets(port, 80, 2);  // established, not yet sent
    for (int i = 0; i < 3; ++i) run(from_client(43100).tcp(SYN).bytes(), ext_port);  // SYN_RECV: not refreshed
    take(int_port);
    EXPECT_TRUE(take_sync().empty());
    // 1024 IPv4 and 1024 IPv6 slots over 64 ticks: 32 slots a tick.
    const uint64_t start_tsc = w_->now;
    size_t sent = 0;
    uint32_t cursor_before = w_->sync_refresh_cursor;
    for (unsigned tick = 1; tick <= 64; ++tick) {
        worker_set_clock(*w_, start_tsc + tick * shared_->tsc_per_tick);
        sync_refresh_some(*w_);
        EXPECT_EQ((w_->sync_refresh_cursor - cursor_before) % 2048, 32u) << "tick " << tick;
        cursor_before = w_->sync_refresh_cursor;
        sent += take_sync().size();
        sync_refresh_some(*w_);  // the same tick again: nothing more
        EXPECT_TRUE(take_sync().empty());
    }
    EXPECT_EQ(sent, 10u);
}

// Runs the full refresh over a whole period (1 s here) and returns the client ports it sent.
static std::vector<uint16_t> refresh_once(World& w)
{
    const uint64_t start_tsc = w.w_->now;
    std::vector<uint16_t> ports;
    for (unsigned tick = 1; tick <= 64; ++tick) {
        worker_set_clock(*w.w_, start_tsc + tick * w.shared_->tsc_per_tick);
        sync_refresh_some(*w.w_);
        for (const SyncRecord& r : w.take_sync()) ports.push_back(r.client_port);
    }
    std::sort(ports.begin(), ports.end());
    return ports;
}

TEST_F(Sync, TheFullRefreshLeavesOtherDirectorsCopiesToThem)
{
    start(0, 1);
    client_packets(44000, 80, 3);  // scheduled here
    take_sync();
    sync_install(*w_, record(44001, 1, TcpState::established));  // a copy of another director's
    EXPECT_EQ(refresh_once(*this), std::vector<uint16_t>{44000});
    // Once a packet of the copy comes here, this director carries it and speaks for it.
    run(from_client(44001).tcp(ACK).bytes(), ext_port);
    take(int_port);
    take_sync();
    EXPECT_EQ(refresh_once(*this), (std::vector<uint16_t>{44000, 44001}));
}

TEST_F(Sync, UnderKernelOwnershipTheHolderOfTheVipSpeaksForAllItsConnections)
{
    start(0, 1);
    control::Config c = config_;
    c.high_availability.vip_ownership = control::VipOwnership::kernel;
    ASSERT_EQ(republish(c, {{"ext", {ext_ip, vip}}}), "");
    client_packets(45000, 80, 3);
    take_sync();
    sync_install(*w_, record(45001, 1, TcpState::established));
    EXPECT_EQ(refresh_once(*this), (std::vector<uint16_t>{45000, 45001})) << "the holder re-sends its copies too";
    // Once keepalived has moved the VIP away, this director keeps quiet.
    ASSERT_EQ(republish(c, {{"ext", {ext_ip}}}), "");
    EXPECT_TRUE(refresh_once(*this).empty());
}

TEST_F(Sync, UnderKernelOwnershipTheHolderOfTheIpv6VipSpeaksForItsConnections)
{
    start(0, 1);
    control::Config c = config_;
    c.high_availability.vip_ownership = control::VipOwnership::kernel;
    ASSERT_EQ(republish(c, {{"ext", {ext_ip, vip, IpAddress::ipv6(vip6)}}}), "");
    client_packets6(45100, 80, 3);
    take_sync();
    EXPECT_EQ(refresh_once(*this), (std::vector<uint16_t>{45100}));
    // keepalived moved the IPv6 VIP away, the IPv4 one stays: quiet about the IPv6 connections.
    ASSERT_EQ(republish(c, {{"ext", {ext_ip, vip}}}), "");
    EXPECT_TRUE(refresh_once(*this).empty());
}

// An IPv4 connection tunnelled to an IPv6 real server holds this director's handle for it, which
// no record can carry (the kernel's IPv4 record has 4 bytes for the destination): never sent.
TEST_F(Sync, AnIpv4ConnectionTunnelledOverIpv6IsNotSent)
{
    resolve_rs3();
    const auto seen = client_packets(45200, 8004, 3);  // tun4_over_6: rs3's IPv6 address
    ASSERT_NE(connection(45200, 8004), nullptr);
    for (const auto& records : seen) EXPECT_TRUE(records.empty());
    EXPECT_EQ(client_packets(45201, 8002, 3)[2].size(), 1u) << "the IPv4 tunnel's connections are";
}

// The client's /64, as the kernel's IPv6 template holds it.
static IpAddress client_network6()
{
    IpAddress::Bytes b = client_ip6;
    std::fill(b.begin() + 8, b.end(), 0);
    return IpAddress::ipv6(b);
}

TEST_F(Sync, AnIpv6ConnectionGoesAtTheThirdClientPacketThenEveryFiftieth)
{
    const auto seen = client_packets6(40000, 80, 53);
    for (size_t i = 0; i < seen.size(); ++i) {
        const size_t packet = i + 1;
        EXPECT_EQ(seen[i].size(), packet == 3 || packet == 53 ? 1u : 0u) << "packet " << packet;
    }
    ASSERT_EQ(seen[2].size(), 1u);
    const SyncRecord& r = seen[2][0];
    EXPECT_TRUE(r.is_ipv6());
    EXPECT_EQ(r.client_ip, IpAddress::ipv6(client_ip6));
    EXPECT_EQ(r.client_port, 40000);
    EXPECT_EQ(r.vip, IpAddress::ipv6(vip6));
    EXPECT_EQ(r.vport, 80);
    EXPECT_EQ(r.real_ip, IpAddress::ipv6(rs_ip6[0]));
    EXPECT_EQ(r.real_port, 8080);
    EXPECT_EQ(r.protocol, 6);
    EXPECT_EQ(r.method, ForwardMethod::nat);
    EXPECT_EQ(r.state, TcpState::established);
    EXPECT_FALSE(r.inactive);
    EXPECT_FALSE(r.no_output);
    EXPECT_FALSE(r.is_template);
    EXPECT_EQ(r.timeout_seconds, 900u);
    // A state change goes at once, as over IPv4.
    run(from_client6(40000).tcp(FIN | ACK).bytes(), ext_port);
    take(int_port);
    const auto closing = take_sync();
    ASSERT_EQ(closing.size(), 1u);
    EXPECT_EQ(closing[0].state, TcpState::close_wait);
    EXPECT_TRUE(closing[0].inactive);
}

TEST_F(Sync, AnIpv6ConnectionsTemplateGoesWithItUnderThePrefixLength)
{
    persist6();
    const auto sent = client_packets6(40040, 80, 3)[2];
    ASSERT_EQ(sent.size(), 2u);
    EXPECT_FALSE(sent[0].is_template);
    const SyncRecord& t = sent[1];
    EXPECT_TRUE(t.is_template);
    EXPECT_EQ(t.client_ip, client_network6());
    EXPECT_EQ(t.client_port, 0);
    EXPECT_EQ(t.vip, IpAddress::ipv6(vip6));
    EXPECT_EQ(t.real_ip, sent[0].real_ip);
    EXPECT_EQ(t.real_port, 8080);
    EXPECT_EQ(t.timeout_seconds, 300u);
    EXPECT_TRUE(t.inactive);
}

TEST_F(Sync, AnIpv6ConnectionToAnIpv4TunnelRealServerNamesItAsIpv4)
{
    const auto sent = client_packets6(40050, 8003, 3)[2];  // tun6_over_4: rs3 over IPv4
    ASSERT_EQ(sent.size(), 1u);
    EXPECT_TRUE(sent[0].is_ipv6());
    EXPECT_EQ(sent[0].real_ip, IpAddress(rs_ip[2]));
    EXPECT_EQ(sent[0].method, ForwardMethod::tun);
    EXPECT_TRUE(sent[0].no_output);
}

TEST_F(Sync, AnInstalledIpv6ConnectionTakesItsNextPacketToTheMastersRealServer)
{
    sync_install(*w_, record6(41000, 1, TcpState::established));
    EXPECT_EQ(w_->counters.sync_installed, 1u);
    EXPECT_EQ(w_->conns.size(), 0u);
    expect_counted(connection6(41000), TcpState::established);
    EXPECT_EQ(connection6(41000)->real_ip, Ipv6Address{rs_ip6[1]});

    // rr would send a new client to rs1; this one goes to rs2 without a SYN.
    const Frame6 data = from_client6(41000).tcp(ACK | PSH).with_payload("GET / HTTP/1.1\r\n\r\n");
    expect_both_ways(data, Frame6(data).from(int_mac).to(rs_mac[1]).dst(rs_ip6[1], 8080).bytes(),
                     Frame6{}.from(rs_mac[1]).to(int_mac).src(rs_ip6[1], 8080).dst(client_ip6, 41000).tcp(ACK));
}

TEST_F(Sync, InstallingIpv6RecordsUpdatesReplacesOrIgnoresAsTheKernel)
{
    sync_install(*w_, record6(41001, 1, TcpState::established));
    sync_install(*w_, record6(41001, 1, TcpState::fin_wait, 120));
    EXPECT_EQ(w_->counters.sync_updated, 1u);
    expect_counted(connection6(41001), TcpState::fin_wait);
    // Its clock: 120 s left of the local 120 s.
    EXPECT_EQ(w_->now_tick - connection6(41001)->last_seen, 0u);
    sync_install(*w_, record6(41001, 2, TcpState::close, 10));  // inactive, another real server: stale
    EXPECT_EQ(w_->counters.sync_stale, 1u);
    EXPECT_EQ(connection6(41001)->real_ip, Ipv6Address{rs_ip6[1]});
    sync_install(*w_, record6(41001, 2, TcpState::established));  // active: replaces
    EXPECT_EQ(connection6(41001)->real_ip, Ipv6Address{rs_ip6[2]});
    EXPECT_EQ(w_->conns6.size(), 1u);
    EXPECT_EQ(w_->counters.sync_installed, 2u);
}

TEST_F(Sync, Ipv6RecordsForWhatThisDirectorLacksAreCountedAndDropped)
{
    SyncRecord stranger = record6(41004, 0, TcpState::established);
    IpAddress::Bytes b = rs_ip6[0];
    b[15] = 0x99;
    stranger.real_ip = IpAddress::ipv6(b);
    sync_install(*w_, stranger);
    // An IPv4 real server of the IPv6 NAT service does not exist: its kernel form names none.
    SyncRecord v4_form = record6(41004, 0, TcpState::established);
    v4_form.real_ip = IpAddress::ipv6({0xc6, 0x13, 0x00, 0x0b});  // 198.19.0.11, rs1's IPv4 address
    sync_install(*w_, v4_form);
    EXPECT_EQ(w_->counters.sync_no_real_server, 2u);
    SyncRecord other_vip = record6(41004, 0, TcpState::established);
    other_vip.vip = IpAddress::ipv6(ext_ip6);
    sync_install(*w_, other_vip);
    // The IPv4 VIP's address in an IPv6 record is no IPv4 service.
    SyncRecord v4_vip = record6(41004, 0, TcpState::established);
    v4_vip.vip = IpAddress::ipv6({0xc6, 0x12, 0x00, 0x64});
    sync_install(*w_, v4_vip);
    // Nor does a client of the other family belong to an IPv6 service.
    SyncRecord v4_client = record6(41004, 0, TcpState::established);
    v4_client.client_ip = client_ip;
    sync_install(*w_, v4_client);
    EXPECT_EQ(w_->counters.sync_no_service, 3u);
    EXPECT_EQ(w_->conns6.size(), 0u);
    EXPECT_EQ(w_->conns.size(), 0u);
}

TEST_F(Sync, AnIpv6RecordNamesAnIpv4TunnelRealServerInTheKernelsForm)
{
    // What a kernel master writes for an IPv6 service's IPv4 real server: 4 bytes, 12 zeros.
    SyncRecord r = record6(41010, 0, TcpState::established);
    r.vport = 8003;
    r.real_port = 8003;
    r.method = ForwardMethod::tun;
    r.real_ip = IpAddress::ipv6({0xc6, 0x13, 0x00, 0x0d});  // 198.19.0.13, rs3
    sync_install(*w_, r);
    EXPECT_EQ(w_->counters.sync_installed, 1u);
    Connection6* c = connection6(41010, 8003);
    ASSERT_NE(c, nullptr);
    EXPECT_EQ(c->real_ip, ipv4_mapped(rte_cpu_to_be_32(rs_ip[2])));
    EXPECT_EQ(c->method, ForwardMethod::tun);
    // The same record as this director's own encoder is given it (IPv4) finds it too.
    r.real_ip = rs_ip[2];
    r.state = TcpState::fin_wait;
    sync_install(*w_, r);
    EXPECT_EQ(w_->counters.sync_updated, 1u);
    // Anything but zeros after the 4 bytes is an IPv6 address, which this service lacks.
    r.client_port = 41011;
    r.real_ip = IpAddress::ipv6({0xc6, 0x13, 0x00, 0x0d, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1});
    sync_install(*w_, r);
    EXPECT_EQ(w_->counters.sync_no_real_server, 1u);
    EXPECT_EQ(w_->conns6.size(), 1u);
}

TEST_F(Sync, AnInstalledIpv6TemplateKeepsTheClientsPrefixOnItsRealServer)
{
    persist6();
    SyncRecord t = record6(0, 2, TcpState::none, 300);
    t.client_ip = client_network6();
    t.is_template = true;
    t.inactive = true;
    sync_install(*w_, t);
    EXPECT_EQ(w_->counters.sync_installed, 1u);
    EXPECT_EQ(w_->conns6.size(), 0u);
    // New connections from the client (rr would pick rs1) follow the template to rs3.
    for (uint16_t port : {42000, 42001}) {
        run(from_client6(port).tcp(SYN).bytes(), ext_port);
        take(int_port);
        Connection6* c = connection6(port);
        ASSERT_NE(c, nullptr);
        EXPECT_EQ(c->real_ip, Ipv6Address{rs_ip6[2]}) << port;
    }
    // Renewed towards another real server once connections follow it: kept.
    t.real_ip = IpAddress::ipv6(rs_ip6[0]);
    sync_install(*w_, t);
    EXPECT_EQ(w_->counters.sync_stale, 1u);
}

TEST_F(Sync, TheFullRefreshCoversTheIpv6TableToo)
{
    start(0, 1);
    client_packets(47000, 80, 2);   // established, not yet sent
    client_packets6(47001, 80, 2);
    sync_install(*w_, record6(47002, 1, TcpState::established));  // another director's copy
    EXPECT_TRUE(take_sync().empty());
    const uint64_t start_tsc = w_->now;
    std::vector<SyncRecord> sent;
    for (unsigned tick = 1; tick <= 64; ++tick) {
        worker_set_clock(*w_, start_tsc + tick * shared_->tsc_per_tick);
        sync_refresh_some(*w_);
        for (const SyncRecord& r : take_sync()) sent.push_back(r);
    }
    ASSERT_EQ(sent.size(), 2u);
    EXPECT_FALSE(sent[0].is_ipv6());
    EXPECT_EQ(sent[0].client_port, 47000);
    EXPECT_TRUE(sent[1].is_ipv6());
    EXPECT_EQ(sent[1].client_port, 47001);
    EXPECT_EQ(w_->sync_refresh_cursor, 0u) << "both tables, 2048 slots, once in the period";
}
