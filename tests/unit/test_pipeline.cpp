// Packet tables through the real pipeline (process_burst) on mbufs: {input frame, expected
// verdict, expected output bytes and port}, with a snapshot built by the control plane's own
// builder from a typed Config.
#include <gtest/gtest.h>

#include <rte_cycles.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include <arpa/inet.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <random>
#include <set>

#include "control/runtime/snapshot_builder.hpp"
#include "control/runtime/snapshot_publisher.hpp"
#include "dataplane/defense.hpp"
#include "dataplane/egress.hpp"
#include "dataplane/handoff.hpp"
#include "dataplane/persistence.hpp"
#include "dataplane/pipeline.hpp"
#include "dataplane/steering.hpp"
#include "dataplane/vlan.hpp"
#include "dataplane/worker.hpp"
#include "fixtures/packet_builder.hpp"
#include "fixtures/world.hpp"

using namespace fulcrum;
using namespace fulcrum::dataplane;
using namespace fixture;

namespace {

// The world of fixtures/world.hpp, with GoogleTest's assertions on top.
class Pipeline : public ::testing::Test, public World {
protected:
    void SetUp() override { build("rr", {1, 1, 1}, 1024); }
    void TearDown() override { teardown(); }

    void build(const std::string& scheduler, std::vector<uint32_t> weights, uint32_t conn_capacity,
               uint32_t persistence = 0, uint8_t persistence_netmask = 32)
    {
        ASSERT_EQ(World::build(scheduler, std::move(weights), conn_capacity, persistence, persistence_netmask), "");
    }

    void republish(const control::Config& c) { ASSERT_EQ(World::republish(c), ""); }

    // Expects `frame` to leave on `out_port` as exactly `expected`.
    void expect_forwarded(const Bytes& frame, uint16_t in_port, uint16_t out_port, const Bytes& expected)
    {
        Verdict v = run(frame, in_port);
        ASSERT_EQ(v.kind, Verdict::Kind::transmit);
        EXPECT_EQ(v.port, out_port);
        auto sent = take(out_port);
        ASSERT_EQ(sent.size(), 1u);
        EXPECT_EQ(sent[0], expected);
        EXPECT_TRUE(ip_checksum_ok(sent[0]));
        EXPECT_TRUE(l4_checksum_ok(sent[0]));
    }

    void expect_dropped(const Bytes& frame, uint16_t in_port, DropReason reason)
    {
        const uint64_t before = w_->counters.drops[static_cast<size_t>(reason)];
        Verdict v = run(frame, in_port);
        EXPECT_EQ(v.kind, Verdict::Kind::drop);
        EXPECT_EQ(v.reason, reason) << drop_reason_names[static_cast<size_t>(v.reason)];
        EXPECT_EQ(w_->counters.drops[static_cast<size_t>(reason)], before + 1);
        EXPECT_EQ(take(in_port).size() + take(ext_port).size() + take(int_port).size(), 0u);
    }
};

}  // namespace

TEST_F(Pipeline, NatSynGoesToFirstRealServerByteExact)
{
    Frame syn = from_client(40000).tcp(SYN);
    // Only the destination and the MACs change; the TTL is kept (IPVS treats the VIP as local).
    Bytes expected = Frame(syn).from(int_mac).to(rs_mac[0]).dst(rs_ip[0], 8080).bytes();
    expect_forwarded(syn.bytes(), ext_port, int_port, expected);
    EXPECT_EQ(w_->counters.connections_created, 1u);
    EXPECT_EQ(w_->conns.size(), 1u);
}

TEST_F(Pipeline, Ipv6RoutesCachedByAWorkerFollowAReload)
{
    // rs1's IPv6 subnet is on int: its first SYN leaves there, and the route is cached.
    const Frame6 first = from_client6(40000).tcp(SYN);
    ASSERT_EQ(run(first.bytes(), ext_port).kind, Verdict::Kind::transmit);
    ASSERT_EQ(take(int_port).size(), 1u);
    // A reload moves that subnet to ext (and ext's to int): the cached route belongs to the old
    // snapshot, and the next SYN to rs1 must leave by ext.
    control::Config c = config_;
    std::swap(c.interfaces[0].addresses[1], c.interfaces[1].addresses[1]);
    republish(c);
    // The client's subnet is int's now: it sends there.
    const Frame6 again = from_client6(40003).to(int_mac).tcp(SYN);  // rr: rs1 again, after rs2's and rs3's turns
    const Verdict second = run(from_client6(40001).to(int_mac).tcp(SYN).bytes(), int_port);
    ASSERT_EQ(second.kind, Verdict::Kind::transmit) << drop_reason_names[static_cast<size_t>(second.reason)];
    ASSERT_EQ(run(from_client6(40002).to(int_mac).tcp(SYN).bytes(), int_port).kind, Verdict::Kind::held);  // rs3 unknown
    Verdict v = run(again.bytes(), int_port);
    ASSERT_EQ(v.kind, Verdict::Kind::transmit);
    EXPECT_EQ(v.port, ext_port);
    const auto sent = take(ext_port);
    ASSERT_FALSE(sent.empty());
    EXPECT_EQ(sent.back(), Frame6(again).from(ext_mac).to(rs_mac[0]).dst(rs_ip6[0], 8080).bytes());
}

TEST_F(Pipeline, SloppyTcpOpensAConnectionFromAnyPacketButARst)
{
    // Off (IPVS's default): a mid-flow packet with no connection is dropped and counted.
    expect_dropped(from_client(40000).tcp(ACK).with_payload("mid-flow").bytes(), ext_port, DropReason::tcp_not_syn);
    control::Config c = config_;
    c.dataplane.sloppy_tcp = true;
    republish(c);
    // On: a flow ECMP moved from another director goes on, byte for byte as a SYN's would.
    Frame ack = from_client(40000).tcp(ACK).with_payload("mid-flow");
    expect_forwarded(ack.bytes(), ext_port, int_port, Frame(ack).from(int_mac).to(rs_mac[0]).dst(rs_ip[0], 8080).bytes());
    ConnTable::Hit hit = w_->conns.lookup(key_of(from_client(40000)));
    ASSERT_NE(hit.conn, nullptr);
    EXPECT_EQ(hit.conn->tcp.state, TcpState::established);  // the input table's NONE + ACK
    EXPECT_EQ(w_->counters.connections_created, 1u);
    EXPECT_EQ(w_->counters.sloppy_connections, 1u);
    // Its replies find it, and it is scheduled as a SYN would be: the next flow, rr, goes on.
    Frame reply = Frame{}.from(rs_mac[0]).to(int_mac).src(rs_ip[0], 8080).dst(client_ip, 40000).tcp(ACK).with_ttl(64);
    expect_forwarded(reply.bytes(), int_port, ext_port, Frame(reply).from(ext_mac).to(client_mac).src(vip, 80).with_ttl(63).bytes());
    Frame fin = from_client(40001).tcp(FIN | ACK);
    expect_forwarded(fin.bytes(), ext_port, int_port, Frame(fin).from(int_mac).to(rs_mac[1]).dst(rs_ip[1], 8080).bytes());
    hit = w_->conns.lookup(key_of(from_client(40001)));
    ASSERT_NE(hit.conn, nullptr);
    EXPECT_EQ(hit.conn->tcp.state, TcpState::close);  // NONE + FIN
    // A RST never opens one; a SYN still does (and is not counted as sloppy).
    expect_dropped(from_client(40002).tcp(RST).bytes(), ext_port, DropReason::tcp_not_syn);
    expect_dropped(from_client(40002).tcp(RST | ACK).bytes(), ext_port, DropReason::tcp_not_syn);
    run(from_client(40003).tcp(SYN).bytes(), ext_port);
    take(int_port);
    EXPECT_EQ(w_->counters.connections_created, 3u);
    EXPECT_EQ(w_->counters.sloppy_connections, 2u);
    // Off again by reload: as before.
    c.dataplane.sloppy_tcp = false;
    republish(c);
    expect_dropped(from_client(40004).tcp(ACK).bytes(), ext_port, DropReason::tcp_not_syn);
}

TEST_F(Pipeline, NatReplyGetsTheVipBackAndOneTtlLess)
{
    run(from_client(40000).tcp(SYN).bytes(), ext_port);
    take(int_port);
    Frame reply = Frame{}.from(rs_mac[0]).to(int_mac).src(rs_ip[0], 8080).dst(client_ip, 40000).tcp(SYN | ACK).with_ttl(64);
    Bytes expected = Frame(reply).from(ext_mac).to(client_mac).src(vip, 80).with_ttl(63).bytes();
    expect_forwarded(reply.bytes(), int_port, ext_port, expected);
    EXPECT_EQ(w_->counters.replies, 1u);

    // The rest of the connection follows the same real server.
    Frame ack = from_client(40000).tcp(ACK).with_payload("GET / HTTP/1.0\r\n\r\n");
    expect_forwarded(ack.bytes(), ext_port, int_port, Frame(ack).from(int_mac).to(rs_mac[0]).dst(rs_ip[0], 8080).bytes());
    EXPECT_EQ(w_->conns.size(), 1u);
}

TEST_F(Pipeline, RoundRobinOverNewConnections)
{
    // rs3 has no neighbour entry: its SYN is held for ARP and an ARP request goes out.
    std::map<uint32_t, int> picks;
    for (uint16_t p = 0; p < 2; ++p) {
        ASSERT_EQ(run(from_client(static_cast<uint16_t>(41000 + p)).tcp(SYN).bytes(), ext_port).kind, Verdict::Kind::transmit);
        auto sent = take(int_port);
        ASSERT_EQ(sent.size(), 1u);
        picks[(uint32_t{sent[0][30]} << 24) | (uint32_t{sent[0][31]} << 16) | (uint32_t{sent[0][32]} << 8) | sent[0][33]]++;
    }
    EXPECT_EQ(picks[rs_ip[0]], 1);
    EXPECT_EQ(picks[rs_ip[1]], 1);

    Frame third = from_client(41002).tcp(SYN);
    ASSERT_EQ(run(third.bytes(), ext_port).kind, Verdict::Kind::held);
    EXPECT_EQ(w_->next_hops.pending_count, 1u);
    auto arp = take(int_port);
    ASSERT_EQ(arp.size(), 1u);
    EXPECT_EQ(arp[0], arp_request_from_director(rs_ip[2]).bytes());

    // The neighbour answers; once the control core has learned it, the held SYN goes out.
    neighbors_->update(rte_cpu_to_be_32(rs_ip[2]), ether(rs_mac[2]), int_port, false);
    egress_retry_pending(*w_);
    EXPECT_EQ(w_->next_hops.pending_count, 0u);
    auto sent = take(int_port);
    ASSERT_EQ(sent.size(), 1u);
    EXPECT_EQ(sent[0], Frame(third).from(int_mac).to(rs_mac[2]).dst(rs_ip[2], 8080).bytes());
}

TEST_F(Pipeline, HeldPacketIsDroppedWhenArpGoesUnanswered)
{
    ASSERT_EQ(run(from_client(42000).tcp(SYN).bytes(), ext_port).kind, Verdict::Kind::transmit);
    ASSERT_EQ(run(from_client(42001).tcp(SYN).bytes(), ext_port).kind, Verdict::Kind::transmit);
    ASSERT_EQ(run(from_client(42002).tcp(SYN).bytes(), ext_port).kind, Verdict::Kind::held);
    take(int_port);
    worker_set_clock(*w_, w_->now + 2 * shared_->tsc_hz);
    egress_retry_pending(*w_);
    EXPECT_EQ(w_->next_hops.pending_count, 0u);
    EXPECT_EQ(w_->counters.drop(DropReason::neighbor_unresolved), 1u);
}

TEST_F(Pipeline, WeightedRoundRobin321)
{
    build("wrr", {3, 2, 1}, 1024);
    neighbors_->update(rte_cpu_to_be_32(rs_ip[2]), ether(rs_mac[2]), int_port, false);
    std::string order;
    for (uint16_t p = 0; p < 12; ++p) {
        ASSERT_EQ(run(from_client(static_cast<uint16_t>(43000 + p)).tcp(SYN).bytes(), ext_port).kind, Verdict::Kind::transmit);
        auto sent = take(int_port);
        ASSERT_EQ(sent.size(), 1u);
        order += static_cast<char>('0' + sent[0][33] - 10);
    }
    EXPECT_EQ(order, "112123112123");
}

TEST_F(Pipeline, UdpNatBothWays)
{
    Frame query = from_client(50000, 5353).udp().with_payload("hello");
    expect_forwarded(query.bytes(), ext_port, int_port, Frame(query).from(int_mac).to(rs_mac[0]).dst(rs_ip[0], 5353).bytes());
    Frame answer = Frame{}.from(rs_mac[0]).to(int_mac).src(rs_ip[0], 5353).dst(client_ip, 50000).udp().with_payload("rs1:hello");
    expect_forwarded(answer.bytes(), int_port, ext_port, Frame(answer).from(ext_mac).to(client_mac).src(vip, 5353).with_ttl(63).bytes());
}

TEST_F(Pipeline, TcpFlagsNoStackSendsAreDroppedBeforeTheyTouchAConnection)
{
    // A spoofed SYN+FIN would open a connection IPVS-style, so that the client's own SYN on that
    // port, seconds later, went to the server the spoofer's packet was scheduled to.
    expect_dropped(from_client(40000).tcp(SYN | FIN).bytes(), ext_port, DropReason::tcp_bad_flags);
    EXPECT_EQ(w_->conns.size(), 0u);
    // A segment without SYN, ACK or RST would move a live connection to CLOSE (10 s).
    run(from_client(40001).tcp(SYN).bytes(), ext_port);
    run(from_client(40001).tcp(ACK).bytes(), ext_port);
    take(int_port);
    for (uint8_t flags : {uint8_t{0}, uint8_t{FIN | PSH | 0x20}, uint8_t{SYN | FIN}, uint8_t{SYN | RST}})
        expect_dropped(from_client(40001).tcp(flags).bytes(), ext_port, DropReason::tcp_bad_flags);
    ConnTable::Hit hit = w_->conns.lookup(key_of(from_client(40001)));
    ASSERT_NE(hit.conn, nullptr);
    EXPECT_EQ(hit.conn->tcp.state, TcpState::established);
    // What stacks do send still passes: FIN with ACK, RST alone.
    EXPECT_EQ(run(from_client(40001).tcp(FIN | ACK).bytes(), ext_port).kind, Verdict::Kind::transmit);
    EXPECT_EQ(run(from_client(40001).tcp(RST).bytes(), ext_port).kind, Verdict::Kind::transmit);
}

TEST_F(Pipeline, DropsByReason)
{
    expect_dropped(from_client(40000).tcp(ACK).bytes(), ext_port, DropReason::tcp_not_syn);
    // Only a SYN alone opens a connection: not SYN with ACK or RST.
    expect_dropped(from_client(40000).tcp(SYN | ACK).bytes(), ext_port, DropReason::tcp_not_syn);
    expect_dropped(from_client(40000).tcp(SYN | RST).bytes(), ext_port, DropReason::tcp_bad_flags);
    expect_dropped(from_client(40000, 81).tcp(SYN).bytes(), ext_port, DropReason::no_service);
    expect_dropped(from_client(40000, 5353).tcp(SYN).bytes(), ext_port, DropReason::no_service);
    expect_dropped(from_client(40000).udp().with_frag(0x2000).bytes(), ext_port, DropReason::ip_fragment);
    expect_dropped(Frame{}.from(client_mac).to(ext_mac).src(client_ip, 1).dst(ipv4(198, 18, 0, 77), 80).tcp(SYN).bytes(),
                   ext_port, DropReason::not_for_us);
    expect_dropped(Frame{}.from(client_mac).to(ext_mac).src(client_ip, 1).dst(ext_ip, 22).tcp(SYN).bytes(),
                   ext_port, DropReason::local_unhandled);
    expect_dropped(Frame{}.from(client_mac).to(ext_mac).src(client_ip).dst(vip).icmp(13).bytes(), ext_port,
                   DropReason::icmp_unhandled);
    // A reply from a real server that has no connection is not ours to forward.
    expect_dropped(Frame{}.from(rs_mac[0]).to(int_mac).src(rs_ip[0], 8080).dst(client_ip, 1).tcp(ACK).bytes(),
                   int_port, DropReason::not_for_us);
    EXPECT_EQ(w_->conns.size(), 0u);
}

TEST_F(Pipeline, ReplyWithTtlOneIsDropped)
{
    run(from_client(40000).tcp(SYN).bytes(), ext_port);
    take(int_port);
    expect_dropped(Frame{}.from(rs_mac[0]).to(int_mac).src(rs_ip[0], 8080).dst(client_ip, 40000).tcp(ACK).with_ttl(1).bytes(),
                   int_port, DropReason::ttl_exceeded);
}

TEST_F(Pipeline, ArpRequestForVipIsAnsweredByteExact)
{
    const Arp request = arp_request_from_client(vip);
    const Arp reply = arp_reply_to_client(ext_mac, vip);
    Verdict v = run(request.bytes(), ext_port);
    ASSERT_EQ(v.kind, Verdict::Kind::transmit);
    auto sent = take(ext_port);
    ASSERT_EQ(sent.size(), 1u);
    EXPECT_EQ(sent[0], reply.bytes());
    EXPECT_EQ(w_->counters.arp_replies, 1u);

    // What it taught about the client went to the control core, which owns the neighbour table.
    NeighborUpdate update{};
    // The client is a static neighbour with the same MAC: nothing new to learn.
    EXPECT_EQ(rte_ring_dequeue_elem(shared_->neighbor_updates, &update, sizeof update), -ENOENT);

    // A request for our address from a new neighbour teaches its address.
    Arp asking = request;
    asking.sender_ip = ipv4(198, 18, 0, 9);
    asking.sender_mac = {0x02, 0xcc, 0, 0, 0, 0x09};
    asking.target_ip = ext_ip;
    run(asking.bytes(), ext_port);
    take(ext_port);
    ASSERT_EQ(rte_ring_dequeue_elem(shared_->neighbor_updates, &update, sizeof update), 0);
    EXPECT_EQ(update.ip, rte_cpu_to_be_32(ipv4(198, 18, 0, 9)));
    EXPECT_EQ(update.port, ext_port);
    EXPECT_EQ(update.mac.addr_bytes[5], 0x09);
}

TEST_F(Pipeline, ArpBetweenOtherHostsTeachesNothingNewButUpdatesWhatIsKnown)
{
    // As the kernel: a request between two other hosts (or a gratuitous ARP) creates no entry,
    // so a flood of them cannot fill the table...
    NeighborUpdate update{};
    for (uint8_t host = 10; host < 60; ++host) {
        Arp other;
        other.src_mac = {0x02, 0xcc, 0, 0, 0, host};
        other.sender_mac = other.src_mac;
        other.sender_ip = ipv4(198, 18, 0, host);
        other.target_ip = host % 2 ? ipv4(198, 18, 0, 250) : other.sender_ip;
        expect_dropped(other.bytes(), ext_port, DropReason::arp_not_for_us);
    }
    EXPECT_EQ(rte_ring_dequeue_elem(shared_->neighbor_updates, &update, sizeof update), -ENOENT);
    // ...nor does one that claims our own address, a VIP or the subnet's broadcast address.
    for (uint32_t ours : {ext_ip, vip, ipv4(198, 18, 0, 255)}) {
        Arp claim;
        claim.sender_ip = ours;
        claim.target_ip = ext_ip;
        run(claim.bytes(), ext_port);
        take(ext_port);
    }
    EXPECT_EQ(rte_ring_dequeue_elem(shared_->neighbor_updates, &update, sizeof update), -ENOENT);
    // A known neighbour that moves to another MAC is followed, whoever it talks to.
    neighbors_->update(rte_cpu_to_be_32(ipv4(198, 18, 0, 20)), ether({0x02, 0xcc, 0, 0, 0, 0x20}), ext_port, false);
    Arp moved;
    moved.src_mac = {0x02, 0xdd, 0, 0, 0, 0x20};
    moved.sender_mac = moved.src_mac;
    moved.sender_ip = ipv4(198, 18, 0, 20);
    moved.target_ip = moved.sender_ip;
    expect_dropped(moved.bytes(), ext_port, DropReason::arp_not_for_us);
    ASSERT_EQ(rte_ring_dequeue_elem(shared_->neighbor_updates, &update, sizeof update), 0);
    EXPECT_EQ(update.ip, rte_cpu_to_be_32(ipv4(198, 18, 0, 20)));
    EXPECT_EQ(update.mac.addr_bytes[1], 0xdd);
}

namespace {

// A neighbour advertisement of `target` at `mac`, from `target` to `to` on a link.
Bytes advertisement6(const Mac& from_mac, const Mac& to_mac, const Ip6& target, const Ip6& to, uint8_t flags,
                     const Mac& mac)
{
    Bytes body{flags, 0, 0, 0};
    body.insert(body.end(), target.begin(), target.end());
    body.insert(body.end(), {2, 1});
    body.insert(body.end(), mac.begin(), mac.end());
    return Frame6{}.from(from_mac).to(to_mac).src(target).dst(to).icmp(ND_ADVERT).with_icmp_body(body).with_hop_limit(255).bytes();
}

const Ip6 all_nodes6 = ipv6(0xff02, 0, 0, 0, 0, 0, 0, 1);
const Mac all_nodes_mac{0x33, 0x33, 0, 0, 0, 1};

Ip6 link_local6(const Mac& m)
{
    return {0xfe, 0x80, 0, 0, 0, 0, 0, 0, static_cast<uint8_t>(m[0] ^ 2), m[1], m[2], 0xff, 0xfe, m[3], m[4], m[5]};
}

}  // namespace

TEST_F(Pipeline, IPv6NeighboursAreLearnedOnlyFromAnswersAndLinkLocalOnesPerLink)
{
    constexpr uint8_t solicited_override = 0x40 | 0x20, override_only = 0x20, solicited_only = 0x40;
    const Ip6 router = ipv6(0xfe80, 0, 0, 0, 0, 0, 0, 1);
    const Mac uplink_router{0x02, 0xaa, 0, 0, 0, 1}, impostor{0x02, 0xbb, 0, 0, 0, 1};
    auto learned = [&]() {
        std::vector<Neighbor6Update> out;
        Neighbor6Update u{};
        while (rte_ring_dequeue_elem(shared_->neighbor6_updates, &u, sizeof u) == 0) {
            neighbors6_->update(u.ip, u.mac, u.port, false, 0);
            out.push_back(u);
        }
        return out;
    };
    // The uplink's router answers a solicitation of ours: learned, keyed with the port it is on.
    run(advertisement6(uplink_router, ext_mac, router, link_local6(ext_mac), solicited_override, uplink_router), ext_port);
    auto got = learned();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].ip, neighbor_key(Ipv6Address{router}, ext_port));
    EXPECT_EQ(got[0].port, ext_port);
    // A host on the other link claims fe80::1 with its own MAC, every way it can: the uplink's
    // router is not touched. Unsolicited, it makes nothing; solicited, it makes int's fe80::1.
    run(advertisement6(impostor, all_nodes_mac, router, all_nodes6, override_only, impostor), int_port);
    EXPECT_TRUE(learned().empty());
    run(advertisement6(impostor, int_mac, router, link_local6(int_mac), solicited_override, impostor), int_port);
    got = learned();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].ip, neighbor_key(Ipv6Address{router}, int_port));
    rte_ether_addr mac;
    ASSERT_TRUE(neighbors6_->lookup(neighbor_key(Ipv6Address{router}, ext_port), mac));
    EXPECT_EQ(mac.addr_bytes[1], 0xaa);
    // On the uplink itself, an advertisement without the override flag does not move a known
    // neighbour to another MAC; with it, it does (RFC 4861 7.2.5).
    run(advertisement6(impostor, ext_mac, router, link_local6(ext_mac), solicited_only, impostor), ext_port);
    EXPECT_TRUE(learned().empty());
    run(advertisement6(impostor, all_nodes_mac, router, all_nodes6, override_only, impostor), ext_port);
    EXPECT_EQ(learned().size(), 1u);
    // A solicitation for one of our addresses from a host not known makes no entry (a flood of
    // them from made-up sources cannot fill the table), though it is answered.
    const Ip6 stranger = ipv6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x77);
    Bytes body{0, 0, 0, 0};
    body.insert(body.end(), vip6.begin(), vip6.end());
    body.insert(body.end(), {1, 1, 0x02, 0xcc, 0, 0, 0, 0x77});
    const Ip6 group = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, vip6[13], vip6[14], vip6[15]};
    Frame6 ns = Frame6{}.from({0x02, 0xcc, 0, 0, 0, 0x77}).to({0x33, 0x33, 0xff, vip6[13], vip6[14], vip6[15]})
                    .src(stranger).dst(group).icmp(ND_SOLICIT).with_icmp_body(body).with_hop_limit(255);
    EXPECT_EQ(run(ns.bytes(), ext_port).kind, Verdict::Kind::transmit);
    take(ext_port);
    EXPECT_TRUE(learned().empty());
    // An advertisement sent to one of our addresses that nobody asked for (no solicited flag)
    // makes no entry either; the same answering a solicitation does.
    const Ip6 newcomer = ipv6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x78);
    const Mac newcomer_mac{0x02, 0xcc, 0, 0, 0, 0x78};
    run(advertisement6(newcomer_mac, ext_mac, newcomer, ext_ip6, override_only, newcomer_mac), ext_port);
    EXPECT_TRUE(learned().empty());
    run(advertisement6(newcomer_mac, ext_mac, newcomer, ext_ip6, solicited_override, newcomer_mac), ext_port);
    EXPECT_EQ(learned().size(), 1u);
}

TEST_F(Pipeline, NoNeighbourIsLearnedFromAnOffLinkSender)
{
    // A sender outside the port's subnets is not a neighbour: learning it would let anyone on
    // the link fill the table with addresses we route elsewhere.
    Arp request;
    request.src_mac = {0x02, 0xcc, 0, 0, 0, 0x44};
    request.sender_mac = request.src_mac;
    request.sender_ip = ipv4(10, 9, 9, 9);
    request.target_ip = vip;
    run(request.bytes(), ext_port);
    take(ext_port);
    NeighborUpdate update{};
    EXPECT_EQ(rte_ring_dequeue_elem(shared_->neighbor_updates, &update, sizeof update), -ENOENT);
    // The same from an on-link address is learned.
    request.sender_ip = ipv4(198, 18, 0, 44);
    run(request.bytes(), ext_port);
    take(ext_port);
    ASSERT_EQ(rte_ring_dequeue_elem(shared_->neighbor_updates, &update, sizeof update), 0);
    EXPECT_EQ(update.ip, rte_cpu_to_be_32(ipv4(198, 18, 0, 44)));
}

TEST_F(Pipeline, PingToDirectorAndVip)
{
    for (uint32_t target : {ext_ip, vip}) {
        Frame ping = Frame{}.from(client_mac).to(ext_mac).src(client_ip).dst(target).icmp(8).with_payload("abc").with_ttl(50);
        Bytes expected = Frame(ping).from(ext_mac).to(client_mac).src(target).dst(client_ip).icmp(0).with_ttl(64).bytes();
        expect_forwarded(ping.bytes(), ext_port, ext_port, expected);
    }
    EXPECT_EQ(w_->counters.icmp_echo_replies, 2u);
}

TEST_F(Pipeline, IdleConnectionsExpire)
{
    run(from_client(40000, 5353).udp().bytes(), ext_port);
    run(from_client(40001).tcp(SYN).bytes(), ext_port);
    take(int_port);
    ASSERT_EQ(w_->conns.size(), 2u);
    // The SYN-only TCP connection expires after IPVS's 60 s SYN_RECV timeout, UDP after 300 s.
    worker_set_clock(*w_, w_->now + 61 * shared_->tsc_hz);
    worker_expire_some(*w_, 1024);
    EXPECT_EQ(w_->conns.size(), 1u);
    // The one left is the UDP connection.
    EXPECT_NE(w_->conns.lookup(key_of(from_client(40000, 5353).udp())).conn, nullptr);
    EXPECT_EQ(w_->conns.lookup(key_of(from_client(40001).tcp(SYN))).conn, nullptr);
    worker_set_clock(*w_, w_->now + 240 * shared_->tsc_hz);
    worker_expire_some(*w_, 1024);
    EXPECT_EQ(w_->conns.size(), 0u);
    EXPECT_EQ(w_->counters.connections_expired, 2u);
    expect_dropped(Frame{}.from(rs_mac[0]).to(int_mac).src(rs_ip[0], 5353).dst(client_ip, 40000).udp().bytes(),
                   int_port, DropReason::not_for_us);
}

TEST_F(Pipeline, AConnectionExpiresOnTheTimeoutOfTheStateItMovedTo)
{
    // Established connections (900 s) closed by the client's RST (CLOSE: 10 s) or FIN
    // (CLOSE_WAIT: 60 s, IPVS's input row) go when the new state's timeout has passed, not when
    // the old one would have.
    for (const uint8_t closing : {RST, uint8_t(FIN | ACK)}) {
        SCOPED_TRACE(closing == RST ? "RST" : "FIN");
        SetUp();
        const Frame client = from_client(40100);
        run(Frame(client).tcp(SYN).bytes(), ext_port);
        run(Frame{}.from(rs_mac[0]).to(int_mac).src(rs_ip[0], 8080).dst(client_ip, 40100).tcp(SYN | ACK).bytes(), int_port);
        run(Frame(client).tcp(ACK).bytes(), ext_port);
        take(int_port);
        take(ext_port);
        ConnTable::Hit hit = w_->conns.lookup(key_of(client));
        ASSERT_NE(hit.conn, nullptr);
        ASSERT_EQ(hit.conn->tcp.state, TcpState::established);
        // Let the wheel pass the connection's first deadline, so that it sits at the
        // established one.
        worker_set_clock(*w_, w_->now + 5 * shared_->tsc_hz);
        worker_expire_some(*w_, 1024);
        ASSERT_EQ(w_->conns.size(), 1u);

        run(Frame(client).tcp(closing).bytes(), ext_port);
        take(int_port);
        const int timeout = closing == RST ? 10 : 60;
        ASSERT_EQ(hit.conn->tcp.state, closing == RST ? TcpState::close : TcpState::close_wait);
        worker_set_clock(*w_, w_->now + (timeout - 1) * shared_->tsc_hz);
        worker_expire_some(*w_, 1024);
        EXPECT_EQ(w_->conns.size(), 1u);
        worker_set_clock(*w_, w_->now + 2 * shared_->tsc_hz);
        worker_expire_some(*w_, 1024);
        EXPECT_EQ(w_->conns.size(), 0u);
    }
}

TEST_F(Pipeline, FullTableOfEstablishedConnectionsDropsNewOnesAndKeepsTheOld)
{
    build("rr", {1, 1, 0}, 2);
    // DR: the client's ACK establishes the connection (input-only states).
    for (uint16_t port : {40000, 40001}) {
        run(from_client(port, 8001).tcp(SYN).bytes(), ext_port);
        run(from_client(port, 8001).tcp(ACK).bytes(), ext_port);
    }
    take(int_port);
    expect_dropped(from_client(40002, 8001).tcp(SYN).bytes(), ext_port, DropReason::conn_table_full);
    expect_dropped(from_client(40003, 5353).udp().bytes(), ext_port, DropReason::conn_table_full);
    EXPECT_EQ(w_->counters.connections_evicted, 0u);
    // Nor does a UDP flow in use give way: one established connection and one UDP flow that has
    // sent within the last second.
    build("rr", {1, 1, 0}, 2);
    run(from_client(40000, 8001).tcp(SYN).bytes(), ext_port);
    run(from_client(40000, 8001).tcp(ACK).bytes(), ext_port);
    run(from_client(40001, 5353).udp().bytes(), ext_port);
    worker_set_clock(*w_, w_->now + 5 * shared_->tsc_hz);
    run(from_client(40001, 5353).udp().bytes(), ext_port);  // still talking
    take(int_port);
    expect_dropped(from_client(40004, 5353).udp().bytes(), ext_port, DropReason::conn_table_full);
    EXPECT_EQ(w_->counters.connections_evicted, 0u);
    Frame data = from_client(40000, 8001).tcp(ACK).with_payload("GET");
    expect_forwarded(data.bytes(), ext_port, int_port, Frame(data).from(int_mac).to(rs_mac[1]).bytes());
}

TEST_F(Pipeline, HalfOpenAndIdleConnectionsGiveWayInAFullTable)
{
    // A table of 64 filled by a flood: 32 spoofed SYNs that never complete and 31 spoofed UDP
    // datagrams, and one real client whose connection is established.
    build("rr", {1, 1, 0}, 64);
    run(from_client(30000, 8001).tcp(SYN).bytes(), ext_port);
    run(from_client(30000, 8001).tcp(ACK).bytes(), ext_port);
    for (uint16_t i = 0; i < 32; ++i)
        run(Frame{}.from(client_mac).to(ext_mac).src(ipv4(203, 0, 113, static_cast<uint8_t>(i)), 1000).dst(vip, 8001).tcp(SYN).bytes(),
            ext_port);
    for (uint16_t i = 0; i < 31; ++i)
        run(Frame{}.from(client_mac).to(ext_mac).src(ipv4(203, 0, 114, static_cast<uint8_t>(i)), 1000).dst(vip, 5353).udp().bytes(),
            ext_port);
    take(int_port);
    ASSERT_EQ(w_->conns.size(), 64u);

    // Half-open TCP gives way at once; new clients of either protocol get in.
    for (uint16_t port = 41000; port < 41010; ++port)
        EXPECT_EQ(run(from_client(port, 8001).tcp(SYN).bytes(), ext_port).kind, Verdict::Kind::transmit) << port;
    // The UDP entries are idle after a second; then they give way too, once the half-open ones
    // are gone.
    worker_set_clock(*w_, w_->now + 2 * shared_->tsc_hz);
    for (uint16_t port = 42000; port < 42050; ++port) {
        EXPECT_EQ(run(from_client(port, 5353).udp().bytes(), ext_port).kind, Verdict::Kind::transmit) << port;
    }
    take(int_port);
    EXPECT_EQ(w_->counters.connections_evicted, 60u);
    // The established connection was never a candidate.
    ConnTable::Hit kept = w_->conns.lookup(key_of(from_client(30000, 8001)));
    ASSERT_NE(kept.conn, nullptr);
    EXPECT_EQ(kept.conn->tcp.state, TcpState::established);
    EXPECT_EQ(w_->conns.size(), 64u);
}

// ---------------------------------------------------------------------------------------------
// IPVS's defences (drop_packet, secure_tcp, drop_entry) and flood_mode

class Defense : public Pipeline {
protected:
    void set(DefenseSettings d)
    {
        control::Config c = config_;
        c.dataplane.defense = d;
        republish(c);
    }
    // A second later, the worker's once-a-second decision (and up to `budget` slots of sweep).
    void next_second(uint32_t budget = 0)
    {
        worker_set_clock(*w_, w_->now + shared_->tsc_hz);
        defense_run(*w_, budget);
    }
    void open_half_connections(uint16_t first, uint16_t count)
    {
        for (uint16_t port = first; port < first + count; ++port)
            ASSERT_NE(run(from_client(port).tcp(SYN).bytes(), ext_port).kind, Verdict::Kind::drop) << port;
        take(int_port);
    }
    uint64_t drops(DropReason r) const { return w_->counters.drops[static_cast<size_t>(r)]; }
};

TEST_F(Defense, DropPacketAlwaysRefusesOneNewConnectionInAmDroprate)
{
    set({.drop_packet = defense_always, .am_droprate = 4});
    next_second();
    EXPECT_EQ(w_->defense.drop_packet.load(), defense_always);
    std::string refused;
    for (uint16_t port = 40000; port < 40012; ++port)
        refused += run(from_client(port).tcp(SYN).bytes(), ext_port).kind == Verdict::Kind::drop ? 'x' : '.';
    // As IPVS, whose counter starts at 0 at level 3: the first is refused.
    EXPECT_EQ(refused, "x...x...x...");
    EXPECT_EQ(drops(DropReason::drop_packet), 3u);
    EXPECT_EQ(w_->conns.size(), 9u);
    // Packets of existing connections are never refused.
    for (int i = 0; i < 8; ++i) EXPECT_NE(run(from_client(40001).tcp(ACK).bytes(), ext_port).kind, Verdict::Kind::drop);
    take(int_port);
    set({.drop_packet = defense_never});
    next_second();
    EXPECT_EQ(w_->defense.drop_packet.load(), defense_never);
    open_half_connections(41000, 20);
    EXPECT_EQ(drops(DropReason::drop_packet), 3u);
}

TEST_F(Defense, DropPacketAutomaticRefusesMoreTheFewerSlotsAreFree)
{
    build("rr", {1, 1, 1}, 64);
    set({.drop_packet = defense_automatic, .amemthresh = 16});
    open_half_connections(40000, 40);  // 24 slots free: not short of the 16
    next_second();
    EXPECT_EQ(w_->defense.drop_packet.load(), defense_automatic);
    open_half_connections(40100, 16);  // 8 free
    EXPECT_EQ(drops(DropReason::drop_packet), 0u);
    next_second();
    // Short: IPVS's rate, amemthresh / (amemthresh - free) = 16 / 8: every second one.
    EXPECT_EQ(w_->defense.drop_packet.load(), defense_automatic_on);
    std::string refused;
    for (uint16_t port = 40200; port < 40208; ++port)
        refused += run(from_client(port).tcp(SYN).bytes(), ext_port).kind == Verdict::Kind::drop ? 'x' : '.';
    EXPECT_EQ(refused, ".x.x.x.x");
    EXPECT_EQ(drops(DropReason::drop_packet), 4u);
    take(int_port);
    // 4 free: 16 / 12 = 1, every one, UDP too.
    next_second();
    EXPECT_EQ(run(from_client(40300).tcp(SYN).bytes(), ext_port).reason, DropReason::drop_packet);
    EXPECT_EQ(run(from_client(40301, 5353).udp().bytes(), ext_port).reason, DropReason::drop_packet);
    EXPECT_EQ(w_->conns.size(), 60u);
}

TEST_F(Defense, SecureTcpKeepsANatConnectionHalfOpenUntilItsServerAnswers)
{
    auto state_after_client_ack = [&](uint16_t port) {
        run(from_client(port).tcp(SYN).bytes(), ext_port);
        run(from_client(port).tcp(ACK).bytes(), ext_port);
        take(int_port);
        return w_->conns.lookup(key_of(from_client(port))).conn->tcp.state;
    };
    build("rr", {1, 0, 0}, 1024);  // every connection to the first real server
    // A spoofed client can complete its side of the handshake without a server: the normal
    // table believes its ACK, tcp_states_dos does not.
    EXPECT_EQ(state_after_client_ack(40000), TcpState::established);
    set({.secure_tcp = defense_always});
    next_second();
    EXPECT_EQ(w_->defense.secure_tcp.load(), defense_always);
    EXPECT_EQ(state_after_client_ack(40001), TcpState::syn_recv);
    // The real server's SYN-ACK and the client's ACK establish it.
    run(from_client(40002).tcp(SYN).bytes(), ext_port);
    take(int_port);
    run(Frame{}.from(rs_mac[0]).to(int_mac).src(rs_ip[0], 8080).dst(client_ip, 40002).tcp(SYN | ACK).bytes(), int_port);
    run(from_client(40002).tcp(ACK).bytes(), ext_port);
    take(ext_port);
    take(int_port);
    EXPECT_EQ(w_->conns.lookup(key_of(from_client(40002))).conn->tcp.state, TcpState::synack);
    run(Frame{}.from(rs_mac[0]).to(int_mac).src(rs_ip[0], 8080).dst(client_ip, 40002).tcp(ACK).bytes(), int_port);
    take(ext_port);
    EXPECT_EQ(w_->conns.lookup(key_of(from_client(40002))).conn->tcp.state, TcpState::established);
    // Automatic: off while the table has room.
    set({.secure_tcp = defense_automatic});
    next_second();
    EXPECT_EQ(w_->defense.secure_tcp.load(), defense_automatic);
    EXPECT_EQ(state_after_client_ack(40003), TcpState::established);
}

TEST_F(Defense, DropEntrySweepsHalfOpenAndQuietConnectionsThatCarriedLittle)
{
    build("rr", {1, 1, 1}, 64);
    open_half_connections(40000, 5);                        // SYN_RECV
    for (uint16_t port : {41000, 41001}) {                  // DR, established, 2 packets each
        run(from_client(port, 8001).tcp(SYN).bytes(), ext_port);
        run(from_client(port, 8001).tcp(ACK).bytes(), ext_port);
    }
    run(from_client(41002, 8001).tcp(SYN).bytes(), ext_port);  // DR, established, 10 packets
    for (int i = 0; i < 9; ++i) run(from_client(41002, 8001).tcp(ACK).bytes(), ext_port);
    run(from_client(42000, 5353).udp().bytes(), ext_port);     // UDP, 1 packet
    take(int_port);
    ASSERT_EQ(w_->conns.size(), 9u);

    // Off: a minute of sweeps removes nothing.
    for (int s = 0; s < 61; ++s) next_second(1024);
    EXPECT_EQ(w_->conns.size(), 9u);
    run(from_client(43000, 8001).tcp(SYN).bytes(), ext_port);  // established and fresh
    run(from_client(43000, 8001).tcp(ACK).bytes(), ext_port);
    take(int_port);

    set({.drop_entry = defense_always});
    // A 32nd of the table (2 slots) a second: 32 seconds look at every slot once.
    for (int s = 0; s < 32; ++s) next_second(1024);
    EXPECT_EQ(w_->defense.drop_entry.load(), defense_always);
    EXPECT_EQ(w_->counters.removed_by_drop_entry, 7u);
    for (uint16_t port = 40000; port < 40005; ++port) EXPECT_EQ(w_->conns.lookup(key_of(from_client(port))).conn, nullptr);
    // Of two quiet connections with 2 packets, one goes on this pass; 10 packets and a
    // connection seen within the minute are spared; the quiet one-datagram UDP flow goes.
    const bool first_gone = w_->conns.lookup(key_of(from_client(41000, 8001))).conn == nullptr;
    const bool second_gone = w_->conns.lookup(key_of(from_client(41001, 8001))).conn == nullptr;
    EXPECT_NE(first_gone, second_gone);
    EXPECT_NE(w_->conns.lookup(key_of(from_client(41002, 8001))).conn, nullptr);
    EXPECT_NE(w_->conns.lookup(key_of(from_client(43000, 8001))).conn, nullptr);
    EXPECT_EQ(w_->conns.lookup(key_of(from_client(42000, 5353))).conn, nullptr);
    EXPECT_EQ(w_->conns.size(), 3u);
    // The counts ipvsadm shows went down with them.
    uint32_t active = 0, inactive = 0;
    for (uint32_t id = 0; id < 16; ++id) {
        active += w_->conn_counts[id].active.load();
        inactive += w_->conn_counts[id].inactive.load();
    }
    EXPECT_EQ(active + inactive, 3u);
}

TEST_F(Defense, FloodModeForwardsHashScheduledDrAndTunFlowsWithoutConnections)
{
    control::Config c = config_;
    c.services[2].scheduler = "sh";  // DR, port 8001
    c.services[3].scheduler = "mh";  // TUN, port 8002
    c.dataplane.defense.flood_mode = defense_always;
    resolve_rs3();
    republish(c);
    next_second();
    EXPECT_EQ(w_->defense.flood_mode.load(), defense_always);
    Frame syn = from_client(40000, 8001).tcp(SYN);
    expect_forwarded(syn.bytes(), ext_port, int_port, Frame(syn).from(int_mac).to(rs_mac[1]).bytes());
    Frame ack = from_client(40000, 8001).tcp(ACK).with_payload("GET");
    expect_forwarded(ack.bytes(), ext_port, int_port, Frame(ack).from(int_mac).to(rs_mac[1]).bytes());
    EXPECT_EQ(run(from_client(40001, 8002).tcp(SYN).bytes(), ext_port).kind, Verdict::Kind::transmit);
    auto tunnelled = take(int_port);
    ASSERT_EQ(tunnelled.size(), 1u);
    EXPECT_EQ(tunnelled[0].size(), from_client(40001, 8002).tcp(SYN).bytes().size() + 20);  // IP in IP
    EXPECT_EQ(w_->counters.stateless_forwarded, 3u);
    EXPECT_EQ(w_->conns.size(), 0u);
    // rr and NAT services keep their connections.
    run(from_client(40002).tcp(SYN).bytes(), ext_port);
    run(from_client(40003, 5353).udp().bytes(), ext_port);
    take(int_port);
    EXPECT_EQ(w_->conns.size(), 2u);
    EXPECT_EQ(w_->counters.stateless_forwarded, 3u);

    // Automatic, with room in the table: SYNs make connections again, but a flow that began
    // during the flood still gets through without one.
    c.dataplane.defense.flood_mode = defense_automatic;
    republish(c);
    next_second();
    EXPECT_EQ(w_->defense.flood_mode.load(), defense_automatic);
    run(from_client(40004, 8001).tcp(SYN).bytes(), ext_port);
    take(int_port);
    EXPECT_EQ(w_->conns.size(), 3u);
    expect_forwarded(ack.bytes(), ext_port, int_port, Frame(ack).from(int_mac).to(rs_mac[1]).bytes());
    EXPECT_EQ(w_->counters.stateless_forwarded, 4u);
    // Never: such a packet is what it is without flood_mode, a TCP packet with no connection.
    c.dataplane.defense.flood_mode = defense_never;
    republish(c);
    next_second();
    expect_dropped(ack.bytes(), ext_port, DropReason::tcp_not_syn);
    // A NAT service's stray ACK is dropped whatever the mode.
    c.dataplane.defense.flood_mode = defense_always;
    c.services[0].scheduler = "sh";
    republish(c);
    next_second();
    expect_dropped(from_client(40005).tcp(ACK).bytes(), ext_port, DropReason::tcp_not_syn);

    // With sloppy_tcp, during the flood: the DR flow still goes on without a connection; the
    // NAT one, which cannot, opens a connection.
    c.dataplane.sloppy_tcp = true;
    republish(c);
    next_second();
    const size_t before = w_->conns.size();
    expect_forwarded(ack.bytes(), ext_port, int_port, Frame(ack).from(int_mac).to(rs_mac[1]).bytes());
    EXPECT_EQ(w_->counters.stateless_forwarded, 5u);
    EXPECT_EQ(w_->conns.size(), before);
    EXPECT_EQ(run(from_client(40005).tcp(ACK).bytes(), ext_port).kind, Verdict::Kind::transmit);
    take(int_port);
    EXPECT_EQ(w_->conns.size(), before + 1);
    EXPECT_EQ(w_->counters.sloppy_connections, 1u);
    // No flood: the DR flow's packet opens a connection too.
    c.dataplane.defense.flood_mode = defense_never;
    republish(c);
    next_second();
    expect_forwarded(ack.bytes(), ext_port, int_port, Frame(ack).from(int_mac).to(rs_mac[1]).bytes());
    EXPECT_EQ(w_->counters.stateless_forwarded, 5u);
    EXPECT_EQ(w_->conns.size(), before + 2);
    EXPECT_EQ(w_->counters.sloppy_connections, 2u);
}

// During a flood a DR flow's packet that sloppy_tcp would have opened a connection with goes on
// without one, as any mid-flow packet of such a flow: it opens nothing, so drop_packet, which
// refuses new connections, does not refuse it.
TEST_F(Defense, DuringAFloodSloppyMidFlowPacketsOfDrFlowsAreNotNewConnections)
{
    control::Config c = config_;
    c.services[2].scheduler = "sh";  // DR, port 8001
    c.dataplane.sloppy_tcp = true;
    c.dataplane.defense = {.drop_packet = defense_always, .flood_mode = defense_always, .am_droprate = 2};
    republish(c);
    next_second();
    for (uint16_t port = 40000; port < 40006; ++port) {
        Frame ack = from_client(port, 8001).tcp(ACK).with_payload("GET");
        expect_forwarded(ack.bytes(), ext_port, int_port, Frame(ack).from(int_mac).to(rs_mac[1]).bytes());
    }
    EXPECT_EQ(w_->counters.stateless_forwarded, 6u);
    EXPECT_EQ(drops(DropReason::drop_packet), 0u);
    EXPECT_EQ(w_->conns.size(), 0u);
    // A SYN does ask for a connection, which drop_packet refuses one time in two.
    std::string refused;
    for (uint16_t port = 41000; port < 41004; ++port)
        refused += run(from_client(port, 8001).tcp(SYN).bytes(), ext_port).kind == Verdict::Kind::drop ? 'x' : '.';
    take(int_port);
    EXPECT_EQ(refused, "x.x.");
}

TEST_F(Defense, FloodModeAutomaticStartsWhenTheTableIsShort)
{
    build("rr", {1, 1, 1}, 64);
    control::Config c = config_;
    c.services[2].scheduler = "sh";
    c.dataplane.defense = {.flood_mode = defense_automatic, .amemthresh = 16};
    republish(c);
    open_half_connections(40000, 50);  // 14 free
    run(from_client(41000, 8001).tcp(SYN).bytes(), ext_port);
    take(int_port);
    EXPECT_EQ(w_->conns.size(), 51u);  // the decision is made once a second
    next_second();
    EXPECT_EQ(w_->defense.flood_mode.load(), defense_automatic_on);
    for (uint16_t port = 41001; port < 41101; ++port)
        ASSERT_EQ(run(from_client(port, 8001).tcp(SYN).bytes(), ext_port).kind, Verdict::Kind::transmit);
    take(int_port);
    EXPECT_EQ(w_->conns.size(), 51u);
    EXPECT_EQ(w_->counters.stateless_forwarded, 100u);
}

// Beyond a link-local router a tunnel packet leaves from the port's global address: a
// link-local source would not be routed back. An IPv4 service's IPv6 real server is reached so too.
TEST_F(Pipeline, TunnelsBeyondALinkLocalRouterLeaveFromAGlobalAddress)
{
    const Ip6 router = ipv6(0xfe80, 0, 0, 0, 0, 0, 0, 1);
    const Ip6 far = ipv6(0x2001, 0xdb8, 5, 0, 0, 0, 0, 7);
    const Mac router_mac{0x02, 0xaa, 0, 0, 0, 1};
    control::Config c = config_;
    c.routes.push_back({{IpAddress::ipv6(ipv6(0x2001, 0xdb8, 5, 0, 0, 0, 0, 0)), 48}, IpAddress::ipv6(router), "int"});
    c.services.push_back({IpAddress::ipv6(vip6), 8005, Protocol::tcp, "rr", ForwardMethod::tun,
                          {{IpAddress::ipv6(far), 8005, 1, ForwardMethod::tun}}});
    c.services.push_back({IpAddress(vip), 8005, Protocol::tcp, "rr", ForwardMethod::tun,
                          {{IpAddress::ipv6(far), 8005, 1, ForwardMethod::tun}}});
    republish(c);
    neighbors6_->update(neighbor_key(Ipv6Address{router}, int_port), ether(router_mac), int_port, true);
    for (const Bytes& syn : {from_client6(46000, 8005).tcp(SYN).bytes(), from_client(46000, 8005).tcp(SYN).bytes()}) {
        ASSERT_EQ(run(syn, ext_port).kind, Verdict::Kind::transmit);
        const auto sent = take(int_port);
        ASSERT_EQ(sent.size(), 1u);
        const Bytes& f = sent[0];
        EXPECT_TRUE(std::equal(router_mac.begin(), router_mac.end(), f.begin()));
        EXPECT_EQ(get16(f, 12), 0x86dd);
        EXPECT_EQ(f[20], syn[12] == 0x86 ? 41 : 4);
        EXPECT_TRUE(std::equal(int_ip6.begin(), int_ip6.end(), f.begin() + 22));
        EXPECT_TRUE(std::equal(far.begin(), far.end(), f.begin() + 38));
        EXPECT_TRUE(std::equal(syn.begin() + 14, syn.end(), f.begin() + 54));
    }
}

// The IPv6 table is defended as the IPv4 one: eviction when full, drop_entry's sweep, and the
// automatic defences turned on by its shortage alone.
TEST_F(Pipeline, Ipv6HalfOpenConnectionsGiveWayInAFullTable)
{
    build("rr", {1, 1, 0}, 64);
    run(from_client6(30000).tcp(SYN).bytes(), ext_port);
    run(from_client6(30000).tcp(ACK).bytes(), ext_port);
    for (uint16_t port = 31000; port < 31063; ++port) run(from_client6(port).tcp(SYN).bytes(), ext_port);
    take(int_port);
    ASSERT_EQ(w_->conns6.size(), 64u);
    for (uint16_t port = 41000; port < 41010; ++port)
        EXPECT_EQ(run(from_client6(port).tcp(SYN).bytes(), ext_port).kind, Verdict::Kind::transmit) << port;
    take(int_port);
    EXPECT_EQ(w_->counters.connections_evicted, 10u);
    EXPECT_EQ(w_->conns6.size(), 64u);
    EXPECT_EQ(w_->conns.size(), 0u);
    const auto kept = w_->conns6.lookup(fulcrum::dataplane::FlowKey6{
        Ipv6Address{client_ip6}, Ipv6Address{vip6}, rte_cpu_to_be_16(30000), rte_cpu_to_be_16(80), IPPROTO_TCP, {0, 0, 0}});
    ASSERT_NE(kept.conn, nullptr);
    EXPECT_EQ(kept.conn->tcp.state, TcpState::established);
}

TEST_F(Defense, DropEntryAndDropPacketWatchTheIpv6TableToo)
{
    build("rr", {1, 1, 0}, 64);
    set({.drop_entry = defense_always, .drop_packet = defense_automatic, .amemthresh = 16});
    for (uint16_t port = 40000; port < 40050; ++port) run(from_client6(port).tcp(SYN).bytes(), ext_port);
    take(int_port);
    ASSERT_EQ(w_->conns6.size(), 50u);  // 14 free of 64: short, while the IPv4 table is empty
    next_second();
    EXPECT_TRUE(table_short(*w_));
    EXPECT_EQ(w_->defense.drop_packet.load(), defense_automatic_on);
    // 16 / (16 - 14) = 8: one new connection in 8 is refused, of either family.
    std::string refused;
    for (uint16_t port = 42000; port < 42008; ++port)
        refused += run(from_client(port).tcp(SYN).bytes(), ext_port).kind == Verdict::Kind::drop ? 'x' : '.';
    EXPECT_EQ(refused, ".......x");
    take(int_port);
    // drop_entry sweeps 2 slots of each table a second: the half-open IPv6 connections go.
    for (int s = 0; s < 32; ++s) next_second(1024);
    EXPECT_EQ(w_->conns6.size(), 0u);
    EXPECT_EQ(w_->counters.removed_by_drop_entry, 57u);  // and the 7 half-open IPv4 ones
    next_second();
    EXPECT_FALSE(table_short(*w_));
    EXPECT_EQ(w_->defense.drop_packet.load(), defense_automatic);
}

TEST_F(Pipeline, ShowConnsCopiesTheTableASliceAtATime)
{
    build("rr", {1, 1, 0}, 8192);
    for (uint16_t port = 40000; port < 40010; ++port) run(from_client(port).tcp(SYN).bytes(), ext_port);
    run(from_client(40010, 5353).udp().bytes(), ext_port);
    // Two IPv6 connections, in the IPv6 table: listed after the IPv4 ones.
    for (uint16_t port : {40020, 40021}) run(from_client6(port).tcp(SYN).bytes(), ext_port);
    take(int_port);
    ConnectionDump& dump = w_->dump;
    EXPECT_FALSE(worker_dump_connections(*w_, 4096));  // nothing asked
    ASSERT_TRUE(dump.request(100));
    // 8192 IPv4 slots then 8192 IPv6 ones, 4096 a call: four calls, and the control core cannot
    // ask again meanwhile.
    for (int call = 0; call < 3; ++call) {
        EXPECT_TRUE(worker_dump_connections(*w_, 4096));
        EXPECT_FALSE(dump.ready());
        EXPECT_FALSE(dump.request(100));
    }
    EXPECT_TRUE(worker_dump_connections(*w_, 4096));
    ASSERT_TRUE(dump.ready());
    ASSERT_EQ(dump.rows.size(), 13u);
    std::set<uint16_t> ports;
    auto port_of = [](const ConnectionDump::Row& row) {
        return rte_be_to_cpu_16(row.is_ipv6 ? row.client_key6.src_port : row.client_key.src_port);
    };
    for (const ConnectionDump::Row& row : dump.rows) {
        ports.insert(port_of(row));
        const bool udp = (row.is_ipv6 ? row.client_key6.proto : row.client_key.proto) == IPPROTO_UDP;
        EXPECT_EQ(row.state, udp ? TcpState::count : TcpState::syn_recv);
        EXPECT_EQ(row.expires_in, (udp ? 300u : 60u) * ticks_per_second);
        EXPECT_EQ(row.is_ipv6, port_of(row) >= 40020);
        if (row.is_ipv6) {
            EXPECT_EQ(row.client_key6.src_ip, Ipv6Address{client_ip6});
        }
    }
    EXPECT_EQ(dump.rows.back().real_ip6, Ipv6Address{rs_ip6[1]});  // rr's second IPv6 pick
    EXPECT_EQ(ports.size(), 13u);
    dump.release();
    EXPECT_FALSE(worker_dump_connections(*w_, 4096));

    // A limit stops the copy early.
    ASSERT_TRUE(dump.request(3));
    for (int i = 0; i < 2 && !dump.ready(); ++i) worker_dump_connections(*w_, 4096);
    ASSERT_TRUE(dump.ready());
    EXPECT_EQ(dump.rows.size(), 3u);
    // A finished copy nobody collected is discarded by the next request.
    ASSERT_TRUE(dump.request(5));
    EXPECT_TRUE(dump.rows.empty());
    // A request withdrawn before the worker took it is not worked on.
    dump.cancel();
    EXPECT_FALSE(worker_dump_connections(*w_, 4096));
    EXPECT_TRUE(dump.request(5));
    dump.cancel();

    // Page after page (ipvsadm -L -c): each request goes on from where the last one stopped,
    // and together they hold every connection once.
    std::set<uint16_t> paged;
    uint32_t from = 0;
    for (int page = 0; page < 10 && from < dump_slots(*w_); ++page) {
        ASSERT_TRUE(dump.request(4, from));
        for (int i = 0; i < 8 && !dump.ready(); ++i) worker_dump_connections(*w_, 4096);
        ASSERT_TRUE(dump.ready());
        EXPECT_LE(dump.rows.size(), 4u);
        for (const ConnectionDump::Row& row : dump.rows) EXPECT_TRUE(paged.insert(port_of(row)).second);
        EXPECT_GT(dump.next_slot, from);
        from = dump.next_slot;
        dump.release();
    }
    EXPECT_EQ(paged, ports);
}

TEST_F(Pipeline, NewSynOnClosingConnectionIsScheduledAgain)
{
    run(from_client(40000).tcp(SYN).bytes(), ext_port);
    run(from_client(40000).tcp(FIN | ACK).bytes(), ext_port);
    take(int_port);
    Frame syn = from_client(40000).tcp(SYN);
    expect_forwarded(syn.bytes(), ext_port, int_port, Frame(syn).from(int_mac).to(rs_mac[1]).dst(rs_ip[1], 8080).bytes());
    EXPECT_EQ(w_->conns.size(), 1u);
}

TEST_F(Pipeline, ASynThroughAnotherVirtualPortReplacesAClosedConnectionToTheSameRealServerPort)
{
    // VIP:81 reaches rs1:8080 as VIP:80 does: one client port through both is, at rs1, one
    // four-tuple, whose replies only one connection may own.
    control::Config c = config_;
    c.services.push_back({vip, 81, Protocol::tcp, "rr", ForwardMethod::nat, {{rs_ip[0], 8080, 1, ForwardMethod::nat}}});
    republish(c);
    run(from_client(41000).tcp(SYN).bytes(), ext_port);  // VIP:80, rr's first pick: rs1
    take(int_port);
    ASSERT_EQ(w_->conns.size(), 1u);
    // While that connection lives, the SYN through VIP:81 is refused and nothing changes.
    expect_dropped(from_client(41000, 81).tcp(SYN).bytes(), ext_port, DropReason::conn_conflict);
    EXPECT_EQ(w_->conns.size(), 1u);
    // Once it is over (established, then reset by the client: CLOSE), the SYN opens the new
    // one in its place...
    run(Frame{}.from(rs_mac[0]).to(int_mac).src(rs_ip[0], 8080).dst(client_ip, 41000).tcp(SYN | ACK).bytes(), int_port);
    run(from_client(41000).tcp(ACK).bytes(), ext_port);
    run(from_client(41000).tcp(RST).bytes(), ext_port);
    take(int_port);
    take(ext_port);
    Frame syn = from_client(41000, 81).tcp(SYN);
    expect_forwarded(syn.bytes(), ext_port, int_port, Frame(syn).from(int_mac).to(rs_mac[0]).dst(rs_ip[0], 8080).bytes());
    EXPECT_EQ(w_->conns.size(), 1u);
    EXPECT_EQ(w_->counters.connections_created, 2u);
    // ...and rs1's replies go back from VIP:81.
    Frame reply = Frame{}.from(rs_mac[0]).to(int_mac).src(rs_ip[0], 8080).dst(client_ip, 41000).tcp(SYN | ACK).with_ttl(64);
    expect_forwarded(reply.bytes(), int_port, ext_port, Frame(reply).from(ext_mac).to(client_mac).src(vip, 81).with_ttl(63).bytes());
}

TEST_F(Pipeline, QuiescentServerGetsNoNewConnections)
{
    build("rr", {0, 1, 0}, 64);
    for (uint16_t p = 0; p < 3; ++p) {
        run(from_client(static_cast<uint16_t>(44000 + p)).tcp(SYN).bytes(), ext_port);
        auto sent = take(int_port);
        ASSERT_EQ(sent.size(), 1u);
        EXPECT_EQ(sent[0][33], 12);
    }
}

TEST_F(Pipeline, RandomFramesAreCountedNeverCrash)
{
    std::mt19937 rng(7);
    Bytes seeds[] = {from_client(40000).tcp(SYN).with_payload("abcdef").bytes(),
                     from_client(40000, 5353).udp().with_payload("xyz").bytes()};
    uint64_t total = 0;
    for (int i = 0; i < 5000; ++i) {
        Bytes b = seeds[i & 1];
        b.resize(1 + rng() % b.size());
        for (int f = 0; f < 3; ++f) b[rng() % b.size()] = static_cast<uint8_t>(rng());
        Verdict v = run(b, static_cast<uint16_t>(rng() & 1));
        if (v.kind == Verdict::Kind::drop) ++total;
        take(ext_port);
        take(int_port);
        egress_release_pending(*w_);
    }
    EXPECT_EQ(w_->counters.drops_total(), total);
}

namespace {


}  // namespace

TEST_F(Pipeline, DirectRoutingChangesOnlyTheMacs)
{
    Frame syn = from_client(45000, 8001).tcp(SYN).with_payload("x");
    expect_forwarded(syn.bytes(), ext_port, int_port, Frame(syn).from(int_mac).to(rs_mac[1]).bytes());
    Frame data = from_client(45000, 8001).tcp(ACK).with_payload("more");
    expect_forwarded(data.bytes(), ext_port, int_port, Frame(data).from(int_mac).to(rs_mac[1]).bytes());
    EXPECT_EQ(w_->conns.size(), 1u);
}

TEST_F(Pipeline, TunnelWrapsTheUntouchedPacket)
{
    resolve_rs3();
    Frame syn = from_client(46000, 8002).tcp(SYN).with_ttl(57);
    syn.tos = 0x10;
    Bytes inner = Frame(syn).from(int_mac).to(rs_mac[2]).bytes();
    expect_forwarded(syn.bytes(), ext_port, int_port, tunnelled(inner, 0));
    Frame ack = from_client(46000, 8002).tcp(ACK).with_payload("GET /");
    expect_forwarded(ack.bytes(), ext_port, int_port, tunnelled(Frame(ack).from(int_mac).to(rs_mac[2]).bytes(), 1));
}

TEST_F(Pipeline, MixedServiceUsesEachRealServersMethod)
{
    resolve_rs3();
    Frame a = from_client(47000, 8000).tcp(SYN), b = from_client(47001, 8000).tcp(SYN), c = from_client(47002, 8000).tcp(SYN);
    expect_forwarded(a.bytes(), ext_port, int_port, Frame(a).from(int_mac).to(rs_mac[0]).dst(rs_ip[0], 8000).bytes());
    expect_forwarded(b.bytes(), ext_port, int_port, Frame(b).from(int_mac).to(rs_mac[1]).bytes());
    expect_forwarded(c.bytes(), ext_port, int_port, tunnelled(Frame(c).from(int_mac).to(rs_mac[2]).bytes(), 0));
}

TEST_F(Pipeline, TunnelTooBigWithDfGetsFragmentationNeeded)
{
    resolve_rs3();
    shared_->ports[int_port].mtu = 100;
    // Inner packet of 120 bytes: 140 with the outer header, over the MTU of 100.
    Frame big = from_client(48000, 8002).tcp(SYN).with_payload(std::string(80, 'z'));
    const Bytes in = big.bytes();
    Verdict v = run(in, ext_port);
    EXPECT_EQ(v.kind, Verdict::Kind::drop);
    EXPECT_EQ(v.reason, DropReason::too_big_df);
    EXPECT_EQ(take(int_port).size(), 0u);
    auto sent = take(ext_port);
    ASSERT_EQ(sent.size(), 1u);
    const Bytes& icmp = sent[0];
    const size_t quoted = in.size() - 14;
    Frame expected = Frame{}.from(ext_mac).to(client_mac).src(vip).dst(client_ip).icmp(3, 4).with_ttl(64)
                         .with_payload(as_string(in, 14, quoted));
    expected.frag = 0;
    expected.ip_id = 0;
    expected.icmp_id = 0;
    expected.icmp_seq = 80;  // the MTU less the 20-byte tunnel header
    EXPECT_EQ(icmp, expected.bytes());
    EXPECT_TRUE(ip_checksum_ok(icmp));
    EXPECT_TRUE(l4_checksum_ok(icmp));
    EXPECT_EQ(w_->counters.icmp_frag_needed, 1u);
}

TEST_F(Pipeline, TunnelTooBigWithoutDfIsFragmented)
{
    resolve_rs3();
    shared_->ports[int_port].mtu = 100;
    Frame big = from_client(49000, 8002).udp().with_payload(std::string(150, 'q')).with_frag(0);
    Bytes inner = Frame(big).from(int_mac).to(rs_mac[2]).bytes();
    const Bytes whole = tunnelled(inner, 0);
    Verdict v = run(big.bytes(), ext_port);
    EXPECT_EQ(v.kind, Verdict::Kind::held);
    auto fragments = take(int_port);
    ASSERT_EQ(fragments.size(), 3u);  // 178 bytes of tunnel payload in 80-byte pieces
    Bytes reassembled;
    for (size_t i = 0; i < fragments.size(); ++i) {
        const Bytes& f = fragments[i];
        EXPECT_LE(f.size() - 14, 100u);
        EXPECT_TRUE(ip_checksum_ok(f));
        EXPECT_EQ(f[23], 4);
        EXPECT_EQ(std::vector<uint8_t>(f.begin(), f.begin() + 12), std::vector<uint8_t>(whole.begin(), whole.begin() + 12));
        const uint16_t frag = get16(f, 20);
        EXPECT_EQ((frag & 0x1fff) * 8u, reassembled.size());
        EXPECT_EQ((frag & 0x2000) != 0, i + 1 < fragments.size());
        reassembled.insert(reassembled.end(), f.begin() + 34, f.end());
    }
    EXPECT_EQ(reassembled, Bytes(whole.begin() + 34, whole.end()));
}

// A port whose device cannot send chains (no RTE_ETH_TX_OFFLOAD_MULTI_SEGS) gets each fragment
// copied into one mbuf at staging: the same bytes, one segment each.
TEST_F(Pipeline, FragmentsForAPortThatCannotSendChainsAreCopiedIntoOneMbuf)
{
    resolve_rs3();
    shared_->ports[int_port].mtu = 100;
    const Bytes big = from_client(49000, 8002).udp().with_payload(std::string(150, 'q')).with_frag(0).bytes();
    ASSERT_EQ(run(big, ext_port).kind, Verdict::Kind::held);
    ASSERT_EQ(w_->tx_count[int_port], 3u);
    for (unsigned i = 0; i < 3; ++i) EXPECT_EQ(w_->tx[int_port][i]->nb_segs, 2u);
    const auto chained = take(int_port);

    shared_->ports[int_port].sends_chains = false;
    ASSERT_EQ(run(big, ext_port).kind, Verdict::Kind::held);
    ASSERT_EQ(w_->tx_count[int_port], 3u);
    for (unsigned i = 0; i < 3; ++i) EXPECT_EQ(w_->tx[int_port][i]->nb_segs, 1u);
    const auto copied = take(int_port);
    ASSERT_EQ(copied.size(), chained.size());
    for (size_t i = 0; i < copied.size(); ++i) {
        EXPECT_TRUE(ip_checksum_ok(copied[i]));
        // The same bytes but the outer header's IP id, and its checksum.
        Bytes a = copied[i], b = chained[i];
        for (size_t at : {18, 19, 24, 25}) a[at] = b[at] = 0;
        EXPECT_EQ(a, b) << "fragment " << i;
    }
    EXPECT_EQ(w_->counters.drop(DropReason::chain_unsendable), 0u);
}

TEST_F(Pipeline, IcmpFromRealServerIsNattedBackToTheClient)
{
    Frame syn = from_client(40000).tcp(SYN);
    run(syn.bytes(), ext_port);
    Bytes to_rs = take(int_port).at(0);
    // rs1 says the packet the client sent it was too big: the quote is that packet's IP header
    // and first 8 bytes, as rs1 saw it (client -> rs1:8080).
    const std::string quote = as_string(to_rs, 14, 28);
    Frame icmp = Frame{}.from(rs_mac[0]).to(int_mac).src(rs_ip[0]).dst(client_ip).icmp(3, 4).with_payload(quote);
    icmp.icmp_id = 0;
    icmp.icmp_seq = 1400;
    const Bytes syn_bytes = syn.bytes();
    const Bytes original_quote(syn_bytes.begin() + 14, syn_bytes.begin() + 42);
    Frame expected = Frame(icmp).from(ext_mac).to(client_mac).src(vip).with_ttl(63)
                         .with_payload(std::string(original_quote.begin(), original_quote.end()));
    expect_forwarded(icmp.bytes(), int_port, ext_port, expected.bytes());
    EXPECT_EQ(w_->counters.icmp_related, 1u);
}

TEST_F(Pipeline, SpoofedSourcesOpenNoConnectionAndGetNoAnswer)
{
    // The kernel's martian sources, the director's own addresses, a subnet broadcast and the VIP.
    const uint32_t spoofed[] = {int_ip, ext_ip, vip, ipv4(127, 0, 0, 1), ipv4(0, 1, 2, 3), ipv4(224, 0, 0, 5),
                                ipv4(239, 1, 1, 1), ipv4(240, 0, 0, 1), ipv4(255, 255, 255, 255), ipv4(198, 18, 0, 255),
                                ipv4(198, 19, 0, 255)};
    for (uint32_t source : spoofed) {
        SCOPED_TRACE(source);
        expect_dropped(Frame{}.from(client_mac).to(ext_mac).src(source, 40000).dst(vip, 80).tcp(SYN).bytes(), ext_port,
                       DropReason::martian_source);
        expect_dropped(Frame{}.from(client_mac).to(ext_mac).src(source, 40000).dst(vip, 5353).udp().bytes(), ext_port,
                       DropReason::martian_source);
        // Not even an echo reply, which would go to the spoofed address.
        expect_dropped(Frame{}.from(client_mac).to(ext_mac).src(source).dst(vip).icmp(8).bytes(), ext_port,
                       DropReason::martian_source);
    }
    EXPECT_EQ(w_->conns.size(), 0u);
    // Addresses next to them are clients like any other.
    resolve_rs3();
    for (uint32_t source : {ipv4(198, 18, 0, 254), ipv4(223, 255, 255, 254), ipv4(1, 0, 0, 1), ipv4(126, 255, 255, 255)}) {
        EXPECT_EQ(run(Frame{}.from(client_mac).to(ext_mac).src(source, 40000).dst(vip, 80).tcp(SYN).bytes(), ext_port).kind,
                  Verdict::Kind::transmit);
        take(int_port);
    }
    EXPECT_EQ(w_->conns.size(), 4u);
}

TEST_F(Pipeline, ReplyOnAPortItsRealServerIsNotReachedByIsDropped)
{
    run(from_client(40000).tcp(SYN).bytes(), ext_port);
    take(int_port);
    // rs1's address and port, to the client, but from the client's side of the director: the
    // reply key matches, the port does not. It must neither be translated nor move the state.
    Frame forged = Frame{}.from(client_mac).to(ext_mac).src(rs_ip[0], 8080).dst(client_ip, 40000).tcp(RST);
    expect_dropped(forged.bytes(), ext_port, DropReason::reply_wrong_port);
    ConnTable::Hit hit = w_->conns.lookup(key_of(from_client(40000)));
    ASSERT_NE(hit.conn, nullptr);
    EXPECT_EQ(hit.conn->tcp.state, TcpState::syn_recv);
    // The real reply, on the port rs1 is reached by, goes through.
    Frame reply = Frame{}.from(rs_mac[0]).to(int_mac).src(rs_ip[0], 8080).dst(client_ip, 40000).tcp(SYN | ACK);
    expect_forwarded(reply.bytes(), int_port, ext_port, Frame(reply).from(ext_mac).to(client_mac).src(vip, 80).with_ttl(63).bytes());
}

TEST_F(Pipeline, IcmpErrorsThatCannotBeAboutTheirConnectionAreDropped)
{
    Frame syn = from_client(40000).tcp(SYN);
    run(syn.bytes(), ext_port);
    const std::string quote = as_string(take(int_port).at(0), 14, 28);
    auto from_rs1 = [&](uint32_t outer_destination) {
        Frame icmp = Frame{}.from(rs_mac[0]).to(int_mac).src(rs_ip[0]).dst(outer_destination).icmp(3, 1).with_payload(quote);
        icmp.icmp_id = 0;
        icmp.icmp_seq = 0;
        return icmp;
    };
    // A corrupt checksum is never made valid by the NAT's recomputation.
    Bytes corrupt = from_rs1(client_ip).bytes();
    corrupt[34 + 2] ^= 0x40;
    expect_dropped(corrupt, int_port, DropReason::icmp_bad_checksum);
    // From the real server's side, it must go to the client the quoted packet came from: with
    // another destination, the VIP would send it anywhere.
    expect_dropped(from_rs1(ipv4(203, 0, 113, 7)).bytes(), int_port, DropReason::icmp_forged);
    // From the client's side, to the VIP the quoted reply came from.
    Frame answer = Frame{}.src(vip, 80).dst(client_ip, 40000).tcp(SYN | ACK);
    Frame from_client_side = Frame{}.from(client_mac).to(ext_mac).src(client_ip).dst(ext_ip).icmp(3, 3)
                                 .with_payload(as_string(answer.bytes(), 14, 28));
    expect_dropped(from_client_side.bytes(), ext_port, DropReason::icmp_forged);
    EXPECT_EQ(w_->counters.icmp_related, 0u);
    // The genuine one still goes through.
    expect_forwarded(from_rs1(client_ip).bytes(), int_port, ext_port,
                     Frame(from_rs1(client_ip)).from(ext_mac).to(client_mac).src(vip).with_ttl(63)
                         .with_payload(as_string(syn.bytes(), 14, 28)).bytes());
}

TEST_F(Pipeline, ForgedFragmentationNeededForATunnelIsNotBelieved)
{
    resolve_rs3();
    Frame syn = from_client(51000, 8002).tcp(SYN);
    run(syn.bytes(), ext_port);
    Bytes tunnel_packet = take(int_port).at(0);
    auto frag_needed = [&](const Bytes& quoted, uint16_t mtu, uint32_t to = int_ip) {
        Frame icmp = Frame{}.from(rs_mac[2]).to(int_mac).src(rs_ip[2]).dst(to).icmp(3, 4).with_payload(as_string(quoted, 14, 48));
        icmp.icmp_id = 0;
        icmp.icmp_seq = mtu;
        return icmp.bytes();
    };
    // An MTU the kernel would ignore (below 552 once the tunnel header is taken off).
    expect_dropped(frag_needed(tunnel_packet, 571), int_port, DropReason::icmp_forged);
    // Sent to another address than the tunnel packet's source.
    expect_dropped(frag_needed(tunnel_packet, 1000, ipv4(198, 19, 0, 99)), int_port, DropReason::icmp_forged);
    // Quoting a tunnel packet without DF: we would have fragmented it ourselves.
    Bytes without_df = tunnel_packet;
    without_df[20] &= ~0x40;
    expect_dropped(frag_needed(without_df, 1000), int_port, DropReason::icmp_forged);
    // Quoting a tunnel to another real server than the connection's.
    Bytes elsewhere = tunnel_packet;
    put32(elsewhere, 30, rs_ip[1]);
    expect_dropped(frag_needed(elsewhere, 1000), int_port, DropReason::icmp_forged);
    EXPECT_EQ(w_->counters.icmp_frag_needed, 0u);
    // For a NAT connection there was no tunnel packet to be too big, even when the quote names
    // its real server as the tunnel's end.
    const Bytes nat_syn = from_client(51001, 80).tcp(SYN).bytes();
    run(nat_syn, ext_port);
    take(int_port);
    ConnTable::Hit nat = w_->conns.lookup(key_of(from_client(51001, 80).tcp(SYN)));
    ASSERT_NE(nat.conn, nullptr);
    Bytes pretend = tunnel_packet;
    std::copy(nat_syn.begin() + 14, nat_syn.begin() + 42, pretend.begin() + 34);
    put32(pretend, 30, rte_be_to_cpu_32(nat.conn->real_ip));
    expect_dropped(frag_needed(pretend, 1000), int_port, DropReason::icmp_forged);
    // The real one, at the smallest MTU believed, is.
    EXPECT_EQ(run(frag_needed(tunnel_packet, 572), int_port).kind, Verdict::Kind::held);
    EXPECT_EQ(w_->counters.icmp_frag_needed, 1u);
    take(ext_port);
}

TEST_F(Pipeline, IcmpFromClientIsNattedToTheRealServer)
{
    Frame query = from_client(50000, 5353).udp().with_payload("q");
    run(query.bytes(), ext_port);
    take(int_port);
    // The client says the answer it got (VIP:5353 -> client:50000) hit a closed port.
    Frame answer = Frame{}.src(vip, 5353).dst(client_ip, 50000).udp().with_payload("rs1:q");
    const Bytes answer_bytes = answer.bytes();
    Frame icmp = Frame{}.from(client_mac).to(ext_mac).src(client_ip).dst(vip).icmp(3, 3).with_payload(as_string(answer_bytes, 14, 28));
    icmp.icmp_id = 0;
    icmp.icmp_seq = 0;
    // The quoted source becomes rs1:5353 (with its IP header checksum), the outer destination rs1.
    Bytes requoted = Frame(answer).src(rs_ip[0], 5353).bytes();
    Bytes expected_quote(requoted.begin() + 14, requoted.begin() + 42);
    // The quoted UDP checksum is left as it was quoted (IPVS does not patch it either).
    expected_quote[26] = answer_bytes[14 + 26];
    expected_quote[27] = answer_bytes[14 + 27];
    Frame expected = Frame(icmp).from(int_mac).to(rs_mac[0]).dst(rs_ip[0]).with_payload(std::string(expected_quote.begin(), expected_quote.end()));
    expect_forwarded(icmp.bytes(), ext_port, int_port, expected.bytes());
}

TEST_F(Pipeline, FragmentationNeededForOurTunnelPacketReachesTheClient)
{
    resolve_rs3();
    Frame syn = from_client(51000, 8002).tcp(SYN);
    run(syn.bytes(), ext_port);
    Bytes tunnel_packet = take(int_port).at(0);
    // A router between the director and rs3 quotes the outer header, the inner header and 8 bytes.
    const std::string quote = as_string(tunnel_packet, 14, 20 + 20 + 8);
    Frame icmp = Frame{}.from(rs_mac[2]).to(int_mac).src(rs_ip[2]).dst(int_ip).icmp(3, 4).with_payload(quote);
    icmp.icmp_id = 0;
    icmp.icmp_seq = 1000;
    Verdict v = run(icmp.bytes(), int_port);
    EXPECT_EQ(v.kind, Verdict::Kind::held);
    auto sent = take(ext_port);
    ASSERT_EQ(sent.size(), 1u);
    const Bytes syn_bytes = syn.bytes();
    const Bytes inner_quote(syn_bytes.begin() + 14, syn_bytes.begin() + 42);
    Frame expected = Frame{}.from(ext_mac).to(client_mac).src(vip).dst(client_ip).icmp(3, 4).with_ttl(64)
                         .with_payload(std::string(inner_quote.begin(), inner_quote.end()));
    expected.frag = 0;
    expected.ip_id = 0;
    expected.icmp_id = 0;
    expected.icmp_seq = 980;
    EXPECT_EQ(sent[0], expected.bytes());
    EXPECT_TRUE(l4_checksum_ok(sent[0]));
}

TEST_F(Pipeline, IcmpErrorQuotingNoConnectionIsDropped)
{
    Frame stray = Frame{}.src(vip, 80).dst(client_ip, 1234).tcp(ACK);
    Frame icmp = Frame{}.from(client_mac).to(ext_mac).src(client_ip).dst(vip).icmp(3, 3).with_payload(as_string(stray.bytes(), 14, 28));
    expect_dropped(icmp.bytes(), ext_port, DropReason::icmp_unhandled);
    Frame cut = Frame{}.from(client_mac).to(ext_mac).src(client_ip).dst(vip).icmp(11).with_payload("short");
    expect_dropped(cut.bytes(), ext_port, DropReason::icmp_unhandled);
}

TEST_F(Pipeline, BurstWithSeveralPacketsOfANewFlow)
{
    // Connections are looked up for the whole burst before the first packet is processed: the
    // second datagram of a new flow must find the connection the first one created.
    Frame first = from_client(52000, 5353).udp().with_payload("1");
    Frame second = from_client(52000, 5353).udp().with_payload("2");
    Frame other = from_client(52001, 5353).udp().with_payload("3");
    rte_mbuf* burst[3] = {mbuf_of(first.bytes(), ext_port), mbuf_of(second.bytes(), ext_port), mbuf_of(other.bytes(), ext_port)};
    process_burst(*w_, burst, 3);
    auto sent = take(int_port);
    ASSERT_EQ(sent.size(), 3u);
    EXPECT_EQ(sent[0], Frame(first).from(int_mac).to(rs_mac[0]).dst(rs_ip[0], 5353).bytes());
    EXPECT_EQ(sent[1], Frame(second).from(int_mac).to(rs_mac[0]).dst(rs_ip[0], 5353).bytes());
    EXPECT_EQ(sent[2], Frame(other).from(int_mac).to(rs_mac[1]).dst(rs_ip[1], 5353).bytes());
    EXPECT_EQ(w_->conns.size(), 2u);
    EXPECT_EQ(w_->counters.drops_total(), 0u);
}

TEST_F(Pipeline, BurstThatReusesAClosingConnection)
{
    // Handshake, then the client resets: the connection is in CLOSE.
    run(from_client(53000).tcp(SYN).bytes(), ext_port);
    run(Frame{}.from(rs_mac[0]).to(int_mac).src(rs_ip[0], 8080).dst(client_ip, 53000).tcp(SYN | ACK).bytes(), int_port);
    run(from_client(53000).tcp(ACK).bytes(), ext_port);
    run(from_client(53000).tcp(RST).bytes(), ext_port);
    take(int_port);
    take(ext_port);
    // In one burst: a new SYN replaces the closed connection, then its retransmission follows it.
    Frame syn = from_client(53000).tcp(SYN);
    rte_mbuf* burst[2] = {mbuf_of(syn.bytes(), ext_port), mbuf_of(syn.bytes(), ext_port)};
    process_burst(*w_, burst, 2);
    auto sent = take(int_port);
    ASSERT_EQ(sent.size(), 2u);
    const Bytes expected = Frame(syn).from(int_mac).to(rs_mac[1]).dst(rs_ip[1], 8080).bytes();
    EXPECT_EQ(sent[0], expected);
    EXPECT_EQ(sent[1], expected);
    EXPECT_EQ(w_->conns.size(), 1u);
}

TEST_F(Pipeline, ActiveAndInactiveConnectionsPerRealServer)
{
    auto counts = [&](int rs) {
        const uint32_t id = snapshot_->real_servers[static_cast<size_t>(rs)].id;  // the HTTP service's rs1..3
        return std::pair<uint32_t, uint32_t>{w_->conn_counts[id].active.load(), w_->conn_counts[id].inactive.load()};
    };
    using P = std::pair<uint32_t, uint32_t>;
    run(from_client(54000).tcp(SYN).bytes(), ext_port);
    Connection* c = w_->conns.lookup({rte_cpu_to_be_32(client_ip), rte_cpu_to_be_32(vip), rte_cpu_to_be_16(54000),
                                      rte_cpu_to_be_16(80), IPPROTO_TCP, {0, 0, 0}}).conn;
    ASSERT_NE(c, nullptr);
    EXPECT_EQ(c->tcp.state, TcpState::syn_recv);
    EXPECT_FALSE(c->tcp.no_output);
    EXPECT_EQ(counts(0), (P{1, 0}));  // SYN_RECV counts as active, as in current kernels
    run(Frame{}.from(rs_mac[0]).to(int_mac).src(rs_ip[0], 8080).dst(client_ip, 54000).tcp(SYN | ACK).bytes(), int_port);
    run(from_client(54000).tcp(ACK).bytes(), ext_port);
    EXPECT_EQ(c->tcp.state, TcpState::established);
    EXPECT_EQ(counts(0), (P{1, 0}));
    run(from_client(54000).tcp(FIN | ACK).bytes(), ext_port);
    EXPECT_EQ(c->tcp.state, TcpState::close_wait);
    EXPECT_EQ(counts(0), (P{0, 1}));
    take(int_port);
    take(ext_port);

    // UDP is always inactive; expiry takes connections off the counts.
    run(from_client(54001, 5353).udp().bytes(), ext_port);
    take(int_port);
    const uint32_t udp_rs = snapshot_->real_servers[3].id;  // the echo service's rs1
    EXPECT_EQ(w_->conn_counts[udp_rs].inactive.load(), 1u);
    worker_set_clock(*w_, w_->now + 400 * shared_->tsc_hz);
    worker_expire_some(*w_, 1024);
    EXPECT_EQ(counts(0), (P{0, 0}));
    EXPECT_EQ(w_->conn_counts[udp_rs].inactive.load(), 0u);
}

TEST_F(Pipeline, DirectRoutingUsesInputOnlyStates)
{
    run(from_client(55000, 8001).tcp(SYN).bytes(), ext_port);
    ConnTable::Hit hit = w_->conns.lookup({rte_cpu_to_be_32(client_ip), rte_cpu_to_be_32(vip), rte_cpu_to_be_16(55000),
                                           rte_cpu_to_be_16(8001), IPPROTO_TCP, {0, 0, 0}});
    ASSERT_NE(hit.conn, nullptr);
    EXPECT_TRUE(hit.conn->tcp.no_output);
    EXPECT_EQ(hit.conn->tcp.state, TcpState::syn_recv);
    run(from_client(55000, 8001).tcp(ACK).bytes(), ext_port);
    EXPECT_EQ(hit.conn->tcp.state, TcpState::established);
    run(from_client(55000, 8001).tcp(FIN | ACK).bytes(), ext_port);
    EXPECT_EQ(hit.conn->tcp.state, TcpState::fin_wait);
    take(int_port);
}

namespace {

// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) of a 32-bit word, least significant
// byte first, without pre- or post-inversion: what the SSE4.2 crc32 instruction computes.
uint32_t crc32c_word(uint32_t data, uint32_t crc)
{
    crc ^= data;
    for (int bit = 0; bit < 32; ++bit) crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
    return crc;
}

}  // namespace

TEST(Owner, IsTheCrcOfAddressThenPortScaledToTheWorkers)
{
    std::mt19937 rng(11);
    for (int i = 0; i < 2000; ++i) {
        const uint32_t ip = static_cast<uint32_t>(rng());
        const uint16_t port = static_cast<uint16_t>(rng());
        const unsigned workers = 1 + static_cast<unsigned>(rng() % 16);
        const uint32_t hash = crc32c_word(port, crc32c_word(ip, 0));
        ASSERT_EQ(owner_of_client(ip, port, workers), static_cast<unsigned>((uint64_t{hash} * workers) >> 32))
            << std::hex << ip << " " << port << " " << workers;
    }
}

TEST(Owner, OneClientsPortsSpreadOverTheWorkers)
{
    // A single client address (one NAT gateway in front of many users) must not land on one
    // worker: its connections differ only in the source port.
    for (unsigned workers : {2u, 3u, 4u}) {
        std::vector<unsigned> per_worker(workers);
        for (uint32_t port = 1024; port < 65536; ++port)
            ++per_worker[owner_of_client(rte_cpu_to_be_32(client_ip), rte_cpu_to_be_16(static_cast<uint16_t>(port)), workers)];
        const double ideal = (65536.0 - 1024) / workers;
        for (unsigned n : per_worker) EXPECT_NEAR(n, ideal, ideal * 0.03) << workers;
    }
}

TEST(Owner, SpreadsClientsEvenlyAndIsStable)
{
    for (unsigned workers : {2u, 3u, 4u, 8u}) {
        std::vector<unsigned> per_worker(workers);
        for (uint32_t i = 0; i < 80000; ++i) {
            const unsigned o = owner_of_client(rte_cpu_to_be_32(0xC6120000u + i / 1000), rte_cpu_to_be_16(static_cast<uint16_t>(30000 + i % 1000)), workers);
            ASSERT_LT(o, workers);
            ++per_worker[o];
        }
        for (unsigned n : per_worker) EXPECT_NEAR(n, 80000.0 / workers, 80000.0 / workers * 0.05) << workers;
    }
    EXPECT_EQ(owner_of_client(rte_cpu_to_be_32(0xC6120002), rte_cpu_to_be_16(40000), 4),
              owner_of_client(rte_cpu_to_be_32(0xC6120002), rte_cpu_to_be_16(40000), 4));
}

TEST_F(Pipeline, BothDirectionsAndTheirIcmpErrorsHaveTheSameOwner)
{
    shared_->worker_count = 8;
    auto owner = [&](const Bytes& frame, uint16_t port) {
        Bytes b = frame;
        ParsedPacket p;
        EXPECT_EQ(parse_frame(b.data(), static_cast<uint32_t>(b.size()), shared_->ports[port].mac, p).kind, Verdict::Kind::next);
        return packet_owner(*w_, b.data(), p);
    };
    for (uint16_t client_port = 40000; client_port < 40064; ++client_port) {
        const Bytes to_vip = from_client(client_port).tcp(SYN).bytes();
        const int expected = owner(to_vip, ext_port);
        ASSERT_GE(expected, 0);
        // The NAT reply from a real server to the client.
        const Bytes reply = Frame{}.from(rs_mac[1]).to(int_mac).src(rs_ip[1], 8080).dst(client_ip, client_port).tcp(ACK).bytes();
        EXPECT_EQ(owner(reply, int_port), expected);
        // ICMP from the real server quoting what the client sent it.
        const Bytes seen_by_rs = Frame{}.src(client_ip, client_port).dst(rs_ip[1], 8080).tcp(ACK).bytes();
        Frame from_rs = Frame{}.from(rs_mac[1]).to(int_mac).src(rs_ip[1]).dst(client_ip).icmp(3, 4)
                            .with_payload(std::string(seen_by_rs.begin() + 14, seen_by_rs.begin() + 42));
        EXPECT_EQ(owner(from_rs.bytes(), int_port), expected);
        // ICMP from the client quoting what the director sent it (VIP -> client).
        const Bytes seen_by_client = Frame{}.src(vip, 80).dst(client_ip, client_port).tcp(ACK).bytes();
        Frame from_client_side = Frame{}.from(client_mac).to(ext_mac).src(client_ip).dst(vip).icmp(3, 3)
                                     .with_payload(std::string(seen_by_client.begin() + 14, seen_by_client.begin() + 42));
        EXPECT_EQ(owner(from_client_side.bytes(), ext_port), expected);
    }
    // Echo requests and ARP are anyone's.
    EXPECT_EQ(owner(Frame{}.from(client_mac).to(ext_mac).src(client_ip).dst(vip).icmp(8).bytes(), ext_port), -1);
}

TEST_F(Pipeline, BothDirectionsAndTheirIcmpv6ErrorsHaveTheSameOwner)
{
    shared_->worker_count = 8;
    auto owner = [&](const Bytes& frame, uint16_t port) {
        Bytes b = frame;
        ParsedPacket p;
        EXPECT_EQ(parse_frame(b.data(), static_cast<uint32_t>(b.size()), shared_->ports[port].mac, p).kind, Verdict::Kind::next);
        return packet_owner(*w_, b.data(), p);
    };
    auto error = [](const Mac& from, const Mac& to, const Ip6& src, const Ip6& dst, uint8_t type, const Bytes& quoted) {
        Bytes body{0, 0, 0x05, 0x00};
        body.insert(body.end(), quoted.begin() + 14, quoted.end());
        return Frame6{}.from(from).to(to).src(src).dst(dst).icmp(type).with_icmp_body(body).bytes();
    };
    std::set<int> owners;
    for (uint16_t client_port = 40000; client_port < 40064; ++client_port) {
        const int expected = owner(from_client6(client_port).tcp(SYN).bytes(), ext_port);
        ASSERT_GE(expected, 0);
        owners.insert(expected);
        const Frame6 reply = Frame6{}.from(rs_mac[1]).to(int_mac).src(rs_ip6[1], 8080).dst(client_ip6, client_port).tcp(ACK);
        EXPECT_EQ(owner(reply.bytes(), int_port), expected);
        // Packet too big from the real server, quoting what the client sent it (behind a
        // destination-options header).
        const Bytes seen_by_rs = Frame6{}.src(client_ip6, client_port).dst(rs_ip6[1], 8080).tcp(ACK)
                                     .with_extension(padding_options(60)).bytes();
        EXPECT_EQ(owner(error(rs_mac[1], int_mac, rs_ip6[1], client_ip6, 2, seen_by_rs), int_port), expected);
        // Unreachable from the client's side, quoting VIP -> client.
        const Bytes seen_by_client = Frame6{}.src(vip6, 80).dst(client_ip6, client_port).tcp(ACK).bytes();
        EXPECT_EQ(owner(error(client_mac, ext_mac, client_ip6, vip6, 1, seen_by_client), ext_port), expected);
        // A router's packet too big about our tunnel packet of the client's: IPv6 in IPv6, and
        // (fragmentation-needed) IPv6 in IPv4.
        const Bytes inner = from_client6(client_port, 8002).tcp(ACK).bytes();
        Bytes in6 = Frame6{}.src(int_ip6).dst(rs_ip6[2]).udp().bytes();  // its header, then the inner packet
        in6.resize(14 + 40);
        in6[20] = 41;
        in6.insert(in6.end(), inner.begin() + 14, inner.end());
        put16(in6, 18, static_cast<uint16_t>(in6.size() - 54));
        EXPECT_EQ(owner(error(rs_mac[2], int_mac, rs_ip6[2], int_ip6, 2, in6), int_port), expected);
        Bytes in4 = Frame{}.src(int_ip).dst(rs_ip[2]).udp().bytes();
        in4.resize(14 + 20);
        in4[23] = 41;
        in4.insert(in4.end(), inner.begin() + 14, inner.end());
        Frame frag_needed = Frame{}.from(rs_mac[2]).to(int_mac).src(rs_ip[2]).dst(int_ip).icmp(3, 4)
                                .with_payload(as_string(in4, 14, in4.size() - 14));
        EXPECT_EQ(owner(frag_needed.bytes(), int_port), expected);
        // IPv4 in IPv6: the IPv4 client's owner.
        const Bytes inner4 = from_client(client_port, 8004).tcp(ACK).bytes();
        Bytes in6_4 = in6;
        in6_4.resize(14 + 40);
        in6_4[20] = 4;
        in6_4.insert(in6_4.end(), inner4.begin() + 14, inner4.end());
        EXPECT_EQ(owner(error(rs_mac[2], int_mac, rs_ip6[2], int_ip6, 2, in6_4), int_port),
                  owner(from_client(client_port, 8004).tcp(ACK).bytes(), ext_port));
    }
    EXPECT_GT(owners.size(), 4u);  // the clients spread over the workers
    // A quote cut before its ports, and echo requests: anyone's.
    const Bytes cut = Frame6{}.src(vip6, 80).dst(client_ip6, 40000).tcp(ACK).bytes();
    Bytes short_body{0, 0, 0, 0};
    short_body.insert(short_body.end(), cut.begin() + 14, cut.begin() + 14 + 40 + 8);
    Bytes shorter = short_body;
    shorter.resize(short_body.size() - 5);
    EXPECT_GE(owner(Frame6{}.from(client_mac).to(ext_mac).src(client_ip6).dst(vip6).icmp(1).with_icmp_body(short_body).bytes(),
                    ext_port), 0);
    EXPECT_EQ(owner(Frame6{}.from(client_mac).to(ext_mac).src(client_ip6).dst(vip6).icmp(1).with_icmp_body(shorter).bytes(),
                    ext_port), -1);
    EXPECT_EQ(owner(Frame6{}.from(client_mac).to(ext_mac).src(client_ip6).dst(vip6).icmp(ECHO6_REQUEST).bytes(), ext_port), -1);
}

TEST_F(Pipeline, TheOwnerOfAnIcmpErrorIsReadOnlyFromAQuoteThatHoldsIt)
{
    auto owner = [&](const Bytes& frame) {
        Bytes b = frame;
        ParsedPacket p;
        EXPECT_EQ(parse_frame(b.data(), static_cast<uint32_t>(b.size()), shared_->ports[int_port].mac, p).kind, Verdict::Kind::next);
        return packet_owner(*w_, b.data(), p);
    };
    // A fragmentation-needed quoting one of our tunnel packets: outer header, inner header, 8 bytes.
    resolve_rs3();
    run(from_client(40000, 8002).tcp(SYN).bytes(), ext_port);
    const std::string whole = as_string(take(int_port).at(0), 14, 20 + 28);
    shared_->worker_count = 8;  // ownership by hash from here on (the SYN above was this worker's)
    auto error_quoting = [&](std::string quote) {
        return Frame{}.from(rs_mac[2]).to(int_mac).src(rs_ip[2]).dst(int_ip).icmp(3, 4).with_payload(std::move(quote)).bytes();
    };
    EXPECT_EQ(owner(error_quoting(whole)), static_cast<int>(owner_of_client(rte_cpu_to_be_32(client_ip), rte_cpu_to_be_16(40000), 8)));
    // The inner header claims 60 bytes (IHL 15): its ports would lie beyond the quote.
    std::string long_inner = whole;
    long_inner[20] = 0x4f;
    EXPECT_EQ(owner(error_quoting(long_inner)), -1);
    // The outer header claims 60 bytes: the inner header is not there at all.
    std::string long_outer = whole;
    long_outer[0] = 0x4f;
    EXPECT_EQ(owner(error_quoting(long_outer)), -1);
    // Cut short of the inner ports.
    EXPECT_EQ(owner(error_quoting(whole.substr(0, 20 + 24))), -1);
}

TEST_F(Pipeline, PacketForAnotherWorkerIsHandedOffAndProcessedThere)
{
    shared_->worker_count = 2;
    rte_ring* rings[4] = {nullptr, rte_ring_create("ho01", 64, 0, RING_F_SP_ENQ | RING_F_SC_DEQ),
                          rte_ring_create("ho10", 64, 0, RING_F_SP_ENQ | RING_F_SC_DEQ), nullptr};
    shared_->handoff_rings.assign(rings, rings + 4);
    w_->worker_id = 0;
    // Find a client port that worker 1 owns.
    uint16_t port = 40000;
    while (owner_of_client(rte_cpu_to_be_32(client_ip), rte_cpu_to_be_16(port), 2) != 1) ++port;
    Frame syn = from_client(port).tcp(SYN);
    rte_mbuf* m = mbuf_of(syn.bytes(), ext_port);
    process_burst(*w_, &m, 1);
    EXPECT_EQ(w_->counters.handed_off, 1u);
    EXPECT_EQ(w_->conns.size(), 0u);
    EXPECT_EQ(take(int_port).size(), 0u);

    // Worker 1 (played by the same context) takes it and forwards it.
    w_->worker_id = 1;
    rte_mbuf* received[4];
    ASSERT_EQ(receive_handed_off(*w_, received, 4), 1u);
    process_burst(*w_, received, 1, true);
    auto sent = take(int_port);
    ASSERT_EQ(sent.size(), 1u);
    EXPECT_EQ(sent[0], Frame(syn).from(int_mac).to(rs_mac[0]).dst(rs_ip[0], 8080).bytes());
    EXPECT_EQ(w_->counters.handoffs_received, 1u);
    shared_->worker_count = 1;
    rte_ring_free(rings[1]);
    rte_ring_free(rings[2]);
}

namespace {

// Toeplitz as the Microsoft RSS specification defines it, a bit at a time: for each set bit of
// the input (most significant first), the 32 bits of the key starting at that bit are XORed in.
uint32_t toeplitz(const uint8_t* key, size_t key_length, const std::vector<uint8_t>& input)
{
    uint32_t result = 0;
    for (size_t bit = 0; bit < input.size() * 8; ++bit) {
        if (((input[bit / 8] >> (7 - bit % 8)) & 1) == 0) continue;
        uint32_t window = 0;
        for (size_t k = 0; k < 32; ++k) {
            const size_t at = bit + k;
            const uint32_t key_bit = at / 8 < key_length ? (key[at / 8] >> (7 - at % 8)) & 1 : 0;
            window = window << 1 | key_bit;
        }
        result ^= window;
    }
    return result;
}

std::vector<uint8_t> bytes_of(std::initializer_list<uint32_t> words32, std::initializer_list<uint16_t> words16)
{
    std::vector<uint8_t> out;
    for (uint32_t w : words32)
        for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(w >> shift));
    for (uint16_t w : words16) {
        out.push_back(static_cast<uint8_t>(w >> 8));
        out.push_back(static_cast<uint8_t>(w));
    }
    return out;
}

}  // namespace

// With hardware steering the owner is the NIC's hash of the client's address then port under the
// steering key, its low bits picking one of a power-of-two count of workers. Checked against the
// specification's Toeplitz written above, itself checked against the specification's own
// verification values (its key, 66.9.149.187:2794 -> 161.142.100.80:1766).
TEST(Owner, ToeplitzIsTheNicsHashOfTheClientsAddressThenPort)
{
    const uint8_t microsoft_key[40] = {0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3,
                                       0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3,
                                       0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa};
    EXPECT_EQ(toeplitz(microsoft_key, 40, bytes_of({0x420995bb, 0xa18e6450}, {})), 0x323e8fc2u);
    EXPECT_EQ(toeplitz(microsoft_key, 40, bytes_of({0x420995bb, 0xa18e6450}, {2794, 1766})), 0x51ccc178u);

    const uint8_t* key = steering_rss_key.data();
    std::mt19937 rng(17);
    for (int i = 0; i < 2000; ++i) {
        const uint32_t ip = static_cast<uint32_t>(rng());
        const auto port = static_cast<uint16_t>(rng());
        const unsigned workers = 2u << (rng() % 4);
        const uint32_t hash = toeplitz(key, 40, bytes_of({ip}, {port}));
        ASSERT_EQ(owner_of_client(rte_cpu_to_be_32(ip), rte_cpu_to_be_16(port), workers, OwnerHash::toeplitz),
                  hash & (workers - 1))
            << std::hex << ip << " " << port << " " << workers;
        // The key is symmetric: the whole 4-tuple hashes alike from either side.
        const uint32_t vip = static_cast<uint32_t>(rng());
        const auto vport = static_cast<uint16_t>(rng());
        ASSERT_EQ(toeplitz(key, 40, bytes_of({ip, vip}, {port, vport})), toeplitz(key, 40, bytes_of({vip, ip}, {vport, port})));
        Ipv6Address six;
        for (auto& b : six.bytes) b = static_cast<uint8_t>(rng());
        std::vector<uint8_t> input(six.bytes.begin(), six.bytes.end());
        input.push_back(static_cast<uint8_t>(port >> 8));
        input.push_back(static_cast<uint8_t>(port));
        ASSERT_EQ(owner_of_client6(six, rte_cpu_to_be_16(port), workers, OwnerHash::toeplitz),
                  toeplitz(key, 40, input) & (workers - 1));
    }
}

// Hardware steering puts a connection's packets on its owner's queue, but not an ICMP error a
// router or real server sends about it: that is handed to the owner, which forwards it.
TEST_F(Pipeline, WithHardwareSteeringAnIcmpErrorReachesItsConnectionsOwner)
{
    shared_->worker_count = 2;
    shared_->owner_hash = OwnerHash::toeplitz;
    shared_->hardware_steering = true;
    rte_ring* rings[4] = {nullptr, rte_ring_create("hs01", 64, 0, RING_F_SP_ENQ | RING_F_SC_DEQ),
                          rte_ring_create("hs10", 64, 0, RING_F_SP_ENQ | RING_F_SC_DEQ), nullptr};
    shared_->handoff_rings.assign(rings, rings + 4);
    uint16_t port = 40000;
    while (owner_of_client(rte_cpu_to_be_32(client_ip), rte_cpu_to_be_16(port), 2, OwnerHash::toeplitz) != 1) ++port;
    // The NIC steered the SYN to worker 1's queue.
    w_->worker_id = 1;
    Frame syn = from_client(port).tcp(SYN);
    rte_mbuf* m = mbuf_of(syn.bytes(), ext_port);
    process_burst(*w_, &m, 1);
    const Bytes to_rs = take(int_port).at(0);
    EXPECT_EQ(w_->counters.handed_off, 0u);
    ASSERT_EQ(w_->conns.size(), 1u);

    // rs1's ICMP error is hashed on its own addresses: it lands on worker 0, which hands it off.
    w_->worker_id = 0;
    Frame icmp = Frame{}.from(rs_mac[0]).to(int_mac).src(rs_ip[0]).dst(client_ip).icmp(3, 4).with_payload(as_string(to_rs, 14, 28));
    icmp.icmp_id = 0;
    icmp.icmp_seq = 1400;
    m = mbuf_of(icmp.bytes(), int_port);
    process_burst(*w_, &m, 1);
    EXPECT_EQ(w_->counters.handed_off, 1u);
    EXPECT_EQ(take(ext_port).size(), 0u);

    w_->worker_id = 1;
    rte_mbuf* received[4];
    ASSERT_EQ(receive_handed_off(*w_, received, 4), 1u);
    process_burst(*w_, received, 1, true);
    const Bytes syn_bytes = syn.bytes();
    Frame expected = Frame(icmp).from(ext_mac).to(client_mac).src(vip).with_ttl(63)
                         .with_payload(std::string(syn_bytes.begin() + 14, syn_bytes.begin() + 42));
    const auto sent = take(ext_port);
    ASSERT_EQ(sent.size(), 1u);
    EXPECT_EQ(sent[0], expected.bytes());
    EXPECT_EQ(w_->counters.icmp_related, 1u);
    shared_->worker_count = 1;
    shared_->owner_hash = OwnerHash::crc;
    shared_->hardware_steering = false;
    rte_ring_free(rings[1]);
    rte_ring_free(rings[2]);
}

TEST_F(Pipeline, LeastConnectionReadsTheWorkersCountsAndOverload)
{
    build("wlc", {1, 1, 1}, 1024);
    resolve_rs3();
    auto picked = [&](uint16_t port) {
        run(from_client(port).tcp(SYN).bytes(), ext_port);
        auto sent = take(int_port);
        return sent.size() == 1 ? static_cast<int>(sent[0][33]) - 10 : -1;
    };
    // Each new connection is active (SYN_RECV): wlc spreads them one by one.
    EXPECT_EQ(picked(56000), 1);
    EXPECT_EQ(picked(56001), 2);
    EXPECT_EQ(picked(56002), 3);
    EXPECT_EQ(picked(56003), 1);
    // rs1 over its threshold (the control core's flag): wlc leaves it out.
    shared_->overloaded[snapshot_->real_servers[0].id].store(true);
    EXPECT_EQ(picked(56004), 2);
    EXPECT_EQ(picked(56005), 3);
    EXPECT_EQ(picked(56006), 2);
    shared_->overloaded[snapshot_->real_servers[0].id].store(false);
}

TEST_F(Pipeline, MaglevKeepsAClientOnOneRealServer)
{
    build("mh", {1, 1, 1}, 1024);
    resolve_rs3();
    // mh hashes the source address: every port of one client lands on the same real server.
    std::set<int> servers;
    for (uint16_t port = 57000; port < 57020; ++port) {
        run(from_client(port).tcp(SYN).bytes(), ext_port);
        auto sent = take(int_port);
        ASSERT_EQ(sent.size(), 1u);
        servers.insert(sent[0][33]);
    }
    EXPECT_EQ(servers.size(), 1u);
}

TEST_F(Pipeline, PersistenceKeepsAClientOnItsRealServerUntilTheTemplateExpires)
{
    build("rr", {1, 1, 1}, 1024, 5, 24);
    resolve_rs3();
    auto picked = [&](uint32_t client, uint16_t port) {
        run(Frame{}.from(client_mac).to(ext_mac).src(client, port).dst(vip, 80).tcp(SYN).bytes(), ext_port);
        auto sent = take(int_port);
        return sent.size() == 1 ? static_cast<int>(sent[0][33]) - 10 : -1;
    };
    for (uint16_t port = 58000; port < 58010; ++port) EXPECT_EQ(picked(client_ip, port), 1) << port;
    // The same /24: the same template.
    EXPECT_EQ(picked(ipv4(198, 18, 0, 77), 40000), 1);
    // Another /24 is scheduled (rr goes on) and gets a template of its own.
    EXPECT_EQ(picked(ipv4(198, 18, 1, 5), 40000), 2);
    EXPECT_EQ(picked(ipv4(198, 18, 1, 6), 40001), 2);
    EXPECT_EQ(templates_->live(static_cast<uint32_t>(w_->now_tick / ticks_per_second), 5), 2u);

    // The connections expire (SYN_RECV: 60 s); the templates outlive them by 5 s, then go.
    worker_set_clock(*w_, w_->now + 61 * shared_->tsc_hz);
    worker_expire_some(*w_, 100000);
    ASSERT_EQ(w_->conns.size(), 0u);
    EXPECT_EQ(picked(client_ip, 58100), 1);  // within 5 s of the last connection: still rs1
    worker_set_clock(*w_, w_->now + 61 * shared_->tsc_hz);
    worker_expire_some(*w_, 100000);
    ASSERT_EQ(w_->conns.size(), 0u);
    worker_set_clock(*w_, w_->now + 6 * shared_->tsc_hz);
    EXPECT_EQ(picked(client_ip, 58200), 3);  // template gone: rr's next
}

// An IPv6 service with mh_compat kernel picks as ip_vs_mh does: the real servers' and the clients'
// addresses folded into 32 bits by the kernel's XOR of words. Checked against the independent
// ip_vs_mh of tests/unit/ip_vs_mh_reference.py (IP_VS_MH_REFERENCE), which folds on its own.
TEST_F(Pipeline, Ipv6MhKernelPicksAsTheKernelsReference)
{
    const char* script = std::getenv("IP_VS_MH_REFERENCE");
    ASSERT_NE(script, nullptr) << "IP_VS_MH_REFERENCE is not set (meson test sets it)";
    build("mh", {1, 2, 3}, 4096);
    resolve_rs3();
    control::Config c = config_;
    c.services[6].mh_compat = sched::MhCompat::kernel;
    c.services[6].mh_table_size = 509;
    republish(c);
    const auto text = [](const Ip6& a) {
        char buffer[INET6_ADDRSTRLEN];
        return std::string(inet_ntop(AF_INET6, a.data(), buffer, sizeof buffer));
    };
    std::mt19937 random(15);
    std::vector<Ip6> clients;
    std::vector<int> picked;
    std::string command = std::string("/usr/bin/python3 ") + script + " 509";
    for (int i = 0; i < 3; ++i) command += " [" + text(rs_ip6[i]) + "]:8080:" + std::to_string(i + 1);
    command += " --flows ";
    for (int i = 0; i < 200; ++i) {
        Ip6 client{};
        for (auto& b : client) b = static_cast<uint8_t>(random());
        client[0] = 0x20;  // global unicast
        clients.push_back(client);
        run(Frame6{}.from(client_mac).to(ext_mac).src(client, 1024).dst(vip6, 80).tcp(SYN).bytes(), ext_port);
        auto sent = take(int_port);
        ASSERT_EQ(sent.size(), 1u) << text(client);
        picked.push_back(sent[0][53] - 0x10);
        command += "[" + text(client) + "]:1024,";
    }
    FILE* out = popen(command.c_str(), "r");
    ASSERT_NE(out, nullptr);
    std::vector<std::string> lines;
    std::array<char, 256> line;
    while (std::fgets(line.data(), line.size(), out) != nullptr) lines.emplace_back(line.data());
    ASSERT_EQ(pclose(out), 0) << command;
    ASSERT_EQ(lines.size(), clients.size() + 1);
    std::array<int, 4> counts{};
    for (size_t i = 0; i < clients.size(); ++i) {
        // "flow [client]:1024 [2001:db8:1::1N]:8080"
        const std::string& l = lines[i + 1];
        const std::string want = "flow [" + text(clients[i]) + "]:1024 [2001:db8:1::1";
        ASSERT_EQ(l.compare(0, want.size(), want), 0) << l;
        EXPECT_EQ(l[want.size()] - '0', picked[i]) << l;
        ++counts[static_cast<size_t>(picked[i])];
    }
    // Weights 1, 2, 3: every real server gets some of 200 clients, the heaviest the most.
    EXPECT_GT(counts[1], 0);
    EXPECT_GT(counts[3], counts[1]);
}

// IPv6 templates are keyed by the client's network under the prefix length, all 128 bits of it:
// networks whose words XOR alike (the schedulers' fold) still get templates of their own.
TEST_F(Pipeline, Ipv6PersistenceKeysTheWholeNetworkUnderThePrefixLength)
{
    resolve_rs3();
    control::Config c = config_;
    c.services[6].persistence = 5;
    c.services[6].persistence_netmask = 60;
    republish(c);
    auto picked = [&](const Ip6& client, uint16_t port) {
        run(Frame6{}.from(client_mac).to(ext_mac).src(client, port).dst(vip6, 80).tcp(SYN).bytes(), ext_port);
        auto sent = take(int_port);
        return sent.size() == 1 ? static_cast<int>(sent[0][53]) - 0x10 : -1;
    };
    EXPECT_EQ(picked(ipv6(0x2001, 0xdb8, 0, 0x10, 0, 0, 0, 5), 40000), 1);
    // The same /60 (the last four bits of the fourth group are host bits): the same template.
    EXPECT_EQ(picked(ipv6(0x2001, 0xdb8, 0, 0x1f, 0xaaaa, 0, 0, 9), 40001), 1);
    EXPECT_EQ(picked(ipv6(0x2001, 0xdb8, 0, 0x10, 0, 0, 0, 5), 40002), 1);
    // 2001:da8::/60 folds as 2001:db8:0:10::/60 does: a network of its own all the same.
    EXPECT_EQ(picked(ipv6(0x2001, 0xda8, 0, 0, 0, 0, 0, 5), 40003), 2);
    // One bit above the prefix length: another network.
    EXPECT_EQ(picked(ipv6(0x2001, 0xdb8, 0, 0x30, 0, 0, 0, 5), 40004), 3);
    EXPECT_EQ(picked(ipv6(0x2001, 0xda8, 0, 0, 0, 0, 0, 6), 40005), 2);
    EXPECT_EQ(templates_->live(static_cast<uint32_t>(w_->now_tick / ticks_per_second), 5), 3u);
}

TEST_F(Pipeline, PersistenceNetmaskZeroSharesOneTemplateAmongAllClients)
{
    build("rr", {1, 1, 1}, 1024, 60, 0);
    resolve_rs3();
    std::set<uint8_t> servers;
    for (uint32_t client : {client_ip, ipv4(198, 18, 0, 3), ipv4(203, 0, 113, 9), ipv4(1, 2, 3, 4)}) {
        ASSERT_EQ(run(Frame{}.from(client_mac).to(ext_mac).src(client, 41000).dst(vip, 80).tcp(SYN).bytes(), ext_port).kind,
                  Verdict::Kind::transmit);
        auto sent = take(int_port);
        ASSERT_EQ(sent.size(), 1u);
        servers.insert(sent[0][33]);
    }
    EXPECT_EQ(servers, std::set<uint8_t>{11});
    EXPECT_EQ(templates_->live(static_cast<uint32_t>(w_->now_tick / ticks_per_second), 60), 1u);
}

TEST_F(Pipeline, AQuiescedServerKeepsItsPersistentClientsUnlessExpireQuiescentTemplate)
{
    for (const bool expire_quiescent : {false, true}) {
        SCOPED_TRACE(expire_quiescent ? "expire_quiescent_template" : "default");
        build("rr", {1, 1, 1}, 1024, 300, 32);
        resolve_rs3();
        auto picked = [&](uint16_t port) {
            run(from_client(port).tcp(SYN).bytes(), ext_port);
            auto sent = take(int_port);
            return sent.size() == 1 ? static_cast<int>(sent[0][33]) - 10 : -1;
        };
        ASSERT_EQ(picked(44000), 1);
        control::Config quiesced = config_;
        quiesced.services[0].real_servers[0].weight = 0;
        quiesced.services[0].expire_quiescent_template = expire_quiescent;
        republish(quiesced);
        // IPVS keeps sending a persistent client to its quiesced server; with
        // expire_quiescent_template the template goes and the client is scheduled afresh.
        EXPECT_EQ(picked(44001), expire_quiescent ? 2 : 1);
    }
}

TEST(SnapshotPublisher, NeverWaitsForAWorkerAndFreesOldSnapshotsOnceItHasPassedAQuiescentState)
{
    const size_t size = rte_rcu_qsbr_get_memsize(1);
    auto* rcu = static_cast<rte_rcu_qsbr*>(rte_zmalloc("publisher_rcu", size, RTE_CACHE_LINE_SIZE));
    ASSERT_NE(rcu, nullptr);
    ASSERT_EQ(rte_rcu_qsbr_init(rcu, 1), 0);
    ASSERT_EQ(rte_rcu_qsbr_thread_register(rcu, 0), 0);
    rte_rcu_qsbr_thread_online(rcu, 0);  // a worker in the middle of a long iteration
    std::atomic<const ServiceSnapshot*> slot{nullptr};
    {
        control::SnapshotPublisher publisher(slot, rcu, 4);
        ASSERT_EQ(publisher.error(), "");
        std::vector<const ServiceSnapshot*> published;
        const auto start = std::chrono::steady_clock::now();
        // Publications while the worker has not passed a quiescent state, until the queue of four
        // old snapshots is full and one has to wait.
        while (publisher.deferred() == 0 && published.size() < 64) {
            auto next = std::make_unique<ServiceSnapshot>();
            next->generation = published.size();
            published.push_back(next.get());
            publisher.publish(std::move(next));
        }
        // Not one waited for the worker (rte_rcu_qsbr_synchronize would never have returned).
        EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(50));
        const size_t n = published.size();
        ASSERT_EQ(n, 6u);  // the first had nothing to replace, four wait, the sixth is deferred
        EXPECT_EQ(slot.load(), published[n - 2]);  // the last one waits for room
        EXPECT_EQ(publisher.reclaimed(), 0u);
        EXPECT_FALSE(publisher.settled());
        publisher.tick();
        EXPECT_EQ(publisher.reclaimed(), 0u);  // maybe still read: nothing freed
        EXPECT_EQ(slot.load(), published[n - 2]);
        // The worker passes a quiescent state: the old ones are freed and the waiting one goes out.
        rte_rcu_qsbr_quiescent(rcu, 0);
        publisher.tick();
        EXPECT_EQ(publisher.reclaimed(), n - 2);
        EXPECT_EQ(slot.load(), published[n - 1]);
        EXPECT_FALSE(publisher.settled());  // the one it replaced waits for the next quiescent state
        rte_rcu_qsbr_quiescent(rcu, 0);
        publisher.tick();
        EXPECT_EQ(publisher.reclaimed(), n - 1);
        EXPECT_TRUE(publisher.settled());
        rte_rcu_qsbr_thread_offline(rcu, 0);
        publisher.shut_down();
        EXPECT_EQ(slot.load(), nullptr);
    }
    rte_rcu_qsbr_thread_unregister(rcu, 0);
    rte_free(rcu);
}

TEST(StableIds, IdsOfWhatLeftAndIsNoLongerReferencedAreGivenBackAndReused)
{
    control::StableIds ids;
    auto config_with = [](std::vector<uint32_t> real_servers) {
        control::Config c;
        control::ServiceConfig s{vip, 80, Protocol::tcp, "rr", ForwardMethod::nat, {}};
        for (uint32_t host : real_servers) s.real_servers.push_back({ipv4(198, 19, 0, static_cast<uint8_t>(host)), 8080});
        c.services.push_back(s);
        return c;
    };
    const ServiceKey http{Protocol::tcp, vip, 80};
    const uint32_t service = ids.service(http);
    for (uint8_t host : {11, 12, 13}) ids.real_server({http, ipv4(198, 19, 0, host), 8080});  // ids 0, 1, 2
    auto nothing_referenced = [](uint32_t) { return false; };
    // .12 left; .13 left but a connection still uses it.
    auto released = ids.release(config_with({11}), [](uint32_t id) { return id == 2; });
    EXPECT_EQ(released.real_servers, std::vector<uint32_t>{1});
    EXPECT_TRUE(released.services.empty());
    EXPECT_FALSE(ids.find_real_server({http, ipv4(198, 19, 0, 12), 8080}));
    EXPECT_EQ(ids.find_real_server({http, ipv4(198, 19, 0, 13), 8080}), 2u);
    // A newcomer takes the lowest id given back.
    EXPECT_EQ(ids.real_server({http, ipv4(198, 19, 0, 14), 8080}), 1u);
    EXPECT_EQ(ids.real_server({http, ipv4(198, 19, 0, 15), 8080}), 3u);
    // The service goes once none of its real server ids is left.
    released = ids.release(control::Config{}, [](uint32_t id) { return id == 2; });
    EXPECT_TRUE(released.services.empty());
    released = ids.release(control::Config{}, nothing_referenced);
    EXPECT_EQ(released.real_servers, std::vector<uint32_t>{2});
    EXPECT_EQ(released.services, std::vector<uint32_t>{service});
    // Real servers coming and going forever never exhaust the ids (issue #11: after 65,536
    // distinct ones every publish failed).
    uint32_t highest = 0;
    for (uint32_t i = 0; i < 70000; ++i) {
        ids.service(http);
        highest = std::max(highest, ids.real_server({http, 0x0A000000 + i, 8080}));
        ids.release(control::Config{}, nothing_referenced);
    }
    EXPECT_EQ(highest, 0u);
}

TEST(StableIds, HistoryIsTheKernelsLastWeightAndOrderOfAddition)
{
    // ip_vs_mh builds its table from last_weight, over a list that is newest first: a quiesced
    // server (the console, a reload, on_failure: quiesce) keeps its last non-zero weight; one
    // that leaves what is published and comes back is added anew, with the weight it comes with.
    control::StableIds ids;
    const ServiceKey http{Protocol::tcp, vip, 80};
    const RealServerKey rs1{http, ipv4(198, 19, 0, 11), 8080};
    const RealServerKey rs2{http, ipv4(198, 19, 0, 12), 8080};
    using History = control::StableIds::History;
    auto build = [&](std::vector<std::pair<RealServerKey, uint32_t>> published, bool succeeds = true) {
        std::map<RealServerKey, History> next;
        std::vector<History> out;
        for (const auto& [key, weight] : published) out.push_back(ids.history(key, weight, next));
        if (succeeds) ids.remember(std::move(next));
        return out;
    };
    auto h = build({{rs1, 3}, {rs2, 0}});
    EXPECT_EQ(h[0].last_weight, 3u);
    EXPECT_EQ(h[1].last_weight, 0u);  // added with weight 0: no slots, as the kernel
    EXPECT_LT(h[0].added, h[1].added);  // added together: in list order
    const uint64_t first_added = h[0].added;
    h = build({{rs1, 0}, {rs2, 0}});
    EXPECT_EQ(h[0].last_weight, 3u);
    EXPECT_EQ(h[0].added, first_added);  // still the same entry of the kernel's list
    h = build({{rs1, 7}}, false);        // a build that failed changes nothing
    h = build({{rs1, 0}, {rs2, 0}});
    EXPECT_EQ(h[0].last_weight, 3u);
    h = build({{rs2, 5}});  // rs1 left what is published (removed by a health check)
    h = build({{rs1, 0}, {rs2, 5}});
    EXPECT_EQ(h[0].last_weight, 0u);  // back with weight 0: its old weight is gone
    EXPECT_GT(h[0].added, h[1].added);  // and it is now the newest
}

// build_snapshot itself: a configuration it refuses part-way (here a later service with more real
// servers than a service may have) leaves the kernel-order history as the last good build left it.
TEST_F(Pipeline, ARefusedBuildLeavesTheRealServersHistoryAsItWas)
{
    control::Config good = config_;   // http: rs1, rs2, rs3, weight 1 each
    control::Config bad = good;
    bad.services[0].real_servers.erase(bad.services[0].real_servers.begin() + 1);   // rs2 gone...
    control::ServiceConfig huge{IpAddress(vip), 9000, Protocol::tcp, "rr", ForwardMethod::dr, {}};
    for (uint32_t i = 0; i <= max_real_servers_per_service; ++i)
        huge.real_servers.push_back({IpAddress(ipv4(10, 1, 0, 0) + i), 9000, 1, ForwardMethod::dr});
    bad.services.push_back(huge);                                                      // ...and refused
    EXPECT_NE(World::republish(bad), "");
    control::Config quiesced = good;
    quiesced.services[0].real_servers[1].weight = 0;
    republish(quiesced);
    const ServiceEntry& http = snapshot_->services[0];
    const auto destinations = snapshot_->destinations_of(http);
    ASSERT_EQ(destinations.size(), 3u);
    // rs2 was never out of what is published: it keeps its last weight and its place.
    EXPECT_EQ(destinations[1].weight, 0u);
    EXPECT_EQ(destinations[1].last_weight, 1u);
    EXPECT_LT(destinations[1].added, destinations[2].added);
}

namespace {

// One family's table: `ip(host)` is a neighbour's address.
template <typename Table, typename Ip>
void forgets_unused_neighbors_and_reuses_their_slots(const char* name, Ip ip)
{
    auto table = Table::create(name, 4, 0);
    ASSERT_NE(table, nullptr);
    const rte_ether_addr mac{{0x02, 0, 0, 0, 0, 0x01}};
    ASSERT_TRUE(table->update(ip(1), mac, 0, true, 100));   // static: never forgotten
    for (uint8_t host = 2; host <= 4; ++host) ASSERT_TRUE(table->update(ip(host), mac, 0, false, 100));
    EXPECT_FALSE(table->update(ip(5), mac, 0, false, 100));  // full
    const typename Table::Entry* cached = table->find(ip(2));  // as a worker's cache holds it
    rte_ether_addr out;
    ASSERT_TRUE(Table::mac_for(*cached, ip(2), 100, out));
    ASSERT_TRUE(Table::mac_for(*table->find(ip(3)), ip(3), 150, out));  // a worker sent to it
    table->update(ip(4), mac, 0, false, 130);                             // its ARP heard again

    EXPECT_EQ(table->collect(159, 60, nullptr), 0u);
    EXPECT_EQ(table->collect(160, 60, nullptr), 1u);   // .2: unused since 100
    EXPECT_EQ(table->find(ip(2)), nullptr);
    EXPECT_FALSE(Table::mac_for(*cached, ip(2), 160, out));  // the cached pointer sees it gone
    EXPECT_EQ(table->size(), 3u);
    // Its slot takes a new neighbour; the old pointer does not read the new one's MAC as .2's.
    ASSERT_TRUE(table->update(ip(5), mac, 0, false, 160));
    EXPECT_FALSE(Table::mac_for(*cached, ip(2), 160, out));
    EXPECT_TRUE(Table::mac_for(*cached, ip(5), 160, out));
    EXPECT_EQ(table->rows().size(), 4u);
    EXPECT_EQ(table->collect(300, 60, nullptr), 3u);  // all but the static one
    EXPECT_EQ(table->rows().size(), 1u);
    EXPECT_EQ(table->rows()[0].ip, ip(1));
}

}  // namespace

TEST(NeighborTable, LearnedEntriesUnusedForAMinuteAreForgottenAndTheirSlotsReused)
{
    forgets_unused_neighbors_and_reuses_their_slots<NeighborTable>(
        "nbr_gc", [](uint8_t host) { return rte_cpu_to_be_32(ipv4(198, 18, 0, host)); });
    // IPv6 neighbours differing only in their first bytes: the whole address is the key.
    forgets_unused_neighbors_and_reuses_their_slots<Neighbor6Table>("nbr6_gc", [](uint8_t host) {
        Ipv6Address a;
        a.bytes = {0x20, 0x01, 0x0d, host, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
        return a;
    });
}

TEST(NeighborTable, AForgottenSlotWaitsForEveryWorkerToPassAQuiescentState)
{
    auto table = NeighborTable::create("nbr_rcu", 2, 0);
    ASSERT_NE(table, nullptr);
    const size_t size = rte_rcu_qsbr_get_memsize(1);
    auto* rcu = static_cast<rte_rcu_qsbr*>(rte_zmalloc("nbr_rcu", size, RTE_CACHE_LINE_SIZE));
    ASSERT_NE(rcu, nullptr);
    ASSERT_EQ(rte_rcu_qsbr_init(rcu, 1), 0);
    ASSERT_EQ(rte_rcu_qsbr_thread_register(rcu, 0), 0);
    rte_rcu_qsbr_thread_online(rcu, 0);
    const rte_ether_addr mac{{0x02, 0, 0, 0, 0, 0x01}};
    auto ip = [](uint8_t host) { return rte_cpu_to_be_32(ipv4(198, 18, 0, host)); };
    ASSERT_TRUE(table->update(ip(1), mac, 0, false, 100));
    ASSERT_TRUE(table->update(ip(2), mac, 0, false, 100));
    EXPECT_EQ(table->collect(200, 60, rcu), 2u);
    // Gone from the index, but the slots wait: a worker may still be reading them.
    EXPECT_EQ(table->find(ip(1)), nullptr);
    EXPECT_FALSE(table->update(ip(3), mac, 0, false, 200));
    EXPECT_EQ(table->collect(201, 60, rcu), 0u);
    EXPECT_FALSE(table->update(ip(3), mac, 0, false, 201));
    rte_rcu_qsbr_quiescent(rcu, 0);
    table->collect(202, 60, rcu);
    EXPECT_TRUE(table->update(ip(3), mac, 0, false, 202));
    EXPECT_TRUE(table->update(ip(4), mac, 0, false, 202));
    rte_rcu_qsbr_thread_offline(rcu, 0);
    rte_rcu_qsbr_thread_unregister(rcu, 0);
    rte_free(rcu);
}

TEST(PersistenceTable, FirstClaimWinsAndTemplatesLiveWhileControlled)
{
    PersistenceTable t;
    ASSERT_TRUE(t.init(64, 0));
    auto a = t.claim(7, 0xC6120000, 3, 100, 10);
    ASSERT_TRUE(a);
    EXPECT_EQ(a->real_server_id, 3);
    // A second worker that scheduled rs 5 for the same client follows the first template.
    auto b = t.claim(7, 0xC6120000, 5, 101, 10);
    ASSERT_TRUE(b);
    EXPECT_EQ(b->real_server_id, 3);
    EXPECT_EQ(b->slot, a->slot);
    // Another service, same client: its own template.
    EXPECT_EQ(t.claim(8, 0xC6120000, 5, 101, 10)->real_server_id, 5);
    EXPECT_TRUE(t.attach(*a, 102));
    EXPECT_TRUE(t.find(7, 0xC6120000, 500, 10));  // controlled: alive long after its timeout
    t.detach(a->slot, 500);
    EXPECT_TRUE(t.find(7, 0xC6120000, 509, 10));
    EXPECT_FALSE(t.find(7, 0xC6120000, 510, 10));
    // Dead: the next claim takes the slot over with its own real server.
    EXPECT_EQ(t.claim(7, 0xC6120000, 9, 511, 10)->real_server_id, 9);
    t.expire(t.find(7, 0xC6120000, 511, 10)->slot);
    EXPECT_FALSE(t.find(7, 0xC6120000, 511, 10));
}

TEST(PersistenceTable, CountsLiveTemplatesPerRealServer)
{
    PersistenceTable t;
    ASSERT_TRUE(t.init(64, 0));
    // rs 3 (service timeout 10 s): two clients; rs 4 (timeout 100 s): one; rs 6: not asked for.
    ASSERT_TRUE(t.claim(7, 0xC6120001, 3, 100, 10));
    const auto controlled = t.claim(7, 0xC6120002, 3, 100, 10);
    ASSERT_TRUE(controlled);
    ASSERT_TRUE(t.attach(*controlled, 100));
    ASSERT_TRUE(t.claim(8, 0xC6120001, 4, 100, 100));
    ASSERT_TRUE(t.claim(9, 0xC6120001, 6, 100, 100));
    const std::vector<uint32_t> timeout_of{0, 0, 0, 10, 100};
    std::vector<uint32_t> counts(5, 0);
    t.count_by_real_server(105, timeout_of, counts);
    EXPECT_EQ(counts, (std::vector<uint32_t>{0, 0, 0, 2, 1}));
    // Past rs 3's timeout only its controlled template lives; rs 4's runs on.
    counts.assign(5, 0);
    t.count_by_real_server(150, timeout_of, counts);
    EXPECT_EQ(counts, (std::vector<uint32_t>{0, 0, 0, 1, 1}));
    counts.assign(5, 0);
    t.count_by_real_server(250, timeout_of, counts);
    EXPECT_EQ(counts, (std::vector<uint32_t>{0, 0, 0, 1, 0}));
}

TEST(PersistenceTable, TemplatesLiveAsLongAsIpvsadmAllows)
{
    // ipvsadm's longest -p, 31 days: alive to its last second, gone at the end.
    PersistenceTable t;
    ASSERT_TRUE(t.init(64, 0));
    constexpr uint32_t days31 = PersistenceTable::max_timeout_seconds;
    static_assert(days31 == 2678400);
    ASSERT_TRUE(t.claim(1, 0xC6120001, 2, 1000, days31));
    EXPECT_TRUE(t.find(1, 0xC6120001, 1000 + days31 - 1, days31));
    EXPECT_FALSE(t.find(1, 0xC6120001, 1000 + days31, days31));
}

TEST(PersistenceTable, SpoofedClientsCannotTakeEveryTemplate)
{
    // Eight slots: every client's probe window is the whole table.
    PersistenceTable t;
    ASSERT_TRUE(t.init(8, 0));
    PersistenceTable::ClaimResult result;
    for (uint32_t i = 0; i < 8; ++i) {
        ASSERT_TRUE(t.claim(1, 0x0A000000 + i, 1, 100 + i, 300, &result));  // spoofed: no connection follows
        EXPECT_EQ(result, PersistenceTable::ClaimResult::created);
    }
    // A real client still gets a template: the one used longest ago gives way.
    auto real = t.claim(1, 0xC0000201, 2, 120, 300, &result);
    ASSERT_TRUE(real);
    EXPECT_EQ(result, PersistenceTable::ClaimResult::took_over_live);
    EXPECT_FALSE(t.find(1, 0x0A000000, 120, 300));
    EXPECT_TRUE(t.find(1, 0x0A000001, 120, 300));
    EXPECT_TRUE(t.attach(*real, 120));
    // Templates that control connections never give way: once all do, a new one is refused.
    for (uint32_t i = 1; i < 8; ++i) ASSERT_TRUE(t.attach(*t.find(1, 0x0A000000 + i, 121, 300), 121));
    EXPECT_FALSE(t.claim(1, 0xC0000202, 2, 122, 300, &result));
    EXPECT_EQ(result, PersistenceTable::ClaimResult::full);
    EXPECT_EQ(t.find(1, 0xC0000201, 122, 300)->real_server_id, 2);
}

TEST(PersistenceTable, ATemplateTakenOverBetweenFindAndAttachIsNotAttached)
{
    PersistenceTable t;
    ASSERT_TRUE(t.init(8, 0));
    for (uint32_t i = 1; i < 8; ++i) ASSERT_TRUE(t.attach(*t.claim(1, 0x0A000000 + i, 1, 90, 10), 90));
    ASSERT_TRUE(t.claim(1, 0xC0000201, 2, 95, 10));
    // Worker A finds the client's template alive at second 104...
    auto found = t.find(1, 0xC0000201, 104, 10);
    ASSERT_TRUE(found);
    // ... worker B, at second 105, finds it dead and gives its slot, the only one free, to
    // another client...
    auto other = t.claim(1, 0xC0000299, 3, 105, 10);
    ASSERT_TRUE(other);
    EXPECT_EQ(other->slot, found->slot);
    // ... so A's connection is not counted against the other client's template.
    EXPECT_FALSE(t.attach(*found, 105));
    EXPECT_TRUE(t.attach(*other, 105));
    t.detach(other->slot, 105);
    EXPECT_FALSE(t.find(1, 0xC0000299, 115, 10));  // no stray count keeps it alive
}

TEST_F(Pipeline, RemovedRealServerKeepsItsConnectionsUnlessExpireNodestConn)
{
    run(from_client(59000).tcp(SYN).bytes(), ext_port);  // to rs1
    take(int_port);
    control::Config without_rs1 = config_;
    without_rs1.services[0].real_servers.erase(without_rs1.services[0].real_servers.begin());
    republish(without_rs1);
    // IPVS's default (expire_nodest_conn 0): the connection goes on to the server that left.
    Frame ack = from_client(59000).tcp(ACK);
    expect_forwarded(ack.bytes(), ext_port, int_port, Frame(ack).from(int_mac).to(rs_mac[0]).dst(rs_ip[0], 8080).bytes());
    without_rs1.dataplane.expire_nodest_conn = true;
    republish(without_rs1);
    expect_dropped(ack.bytes(), ext_port, DropReason::real_server_gone);
    EXPECT_EQ(w_->conns.size(), 0u);
    // The retransmitted SYN is scheduled among the servers that remain (rr's cursor moves on
    // from position 0 of the new list: rs3).
    resolve_rs3();
    Frame syn = from_client(59000).tcp(SYN);
    expect_forwarded(syn.bytes(), ext_port, int_port, Frame(syn).from(int_mac).to(rs_mac[2]).dst(rs_ip[2], 8080).bytes());
}

TEST_F(Pipeline, TrafficCountersPerServiceAndRealServer)
{
    const Bytes syn = from_client(60000).tcp(SYN).bytes();
    run(syn, ext_port);
    const Bytes reply = Frame{}.from(rs_mac[0]).to(int_mac).src(rs_ip[0], 8080).dst(client_ip, 60000).tcp(SYN | ACK)
                            .with_payload("12345").bytes();
    run(reply, int_port);
    run(from_client(60000).tcp(ACK).bytes(), ext_port);
    take(int_port);
    take(ext_port);
    const uint32_t service = snapshot_->services[0].id;
    const uint32_t rs = snapshot_->real_servers[0].id;
    for (const TrafficCounters* t : {&w_->service_traffic[service], &w_->real_server_traffic[rs]}) {
        EXPECT_EQ(t->conns.load(), 1u);
        EXPECT_EQ(t->in_packets.load(), 2u);
        EXPECT_EQ(t->out_packets.load(), 1u);
        EXPECT_EQ(t->in_bytes.load(), 2 * (syn.size() - 14));
        EXPECT_EQ(t->out_bytes.load(), reply.size() - 14);
    }
    EXPECT_EQ(w_->real_server_traffic[snapshot_->real_servers[1].id].conns.load(), 0u);
}

TEST_F(Pipeline, IcmpTheDirectorGeneratesIsRateLimited)
{
    // 100 a second in bursts of 50: a burst of 60 echo requests gets 50 replies.
    icmp_rate_ = 100;
    build("rr", {0, 0, 0}, 64);
    Frame ping = Frame{}.from(client_mac).to(ext_mac).src(client_ip).dst(vip).icmp(8).with_payload("abc");
    unsigned answered = 0;
    for (int i = 0; i < 60; ++i) answered += run(ping.bytes(), ext_port).kind == Verdict::Kind::transmit;
    take(ext_port);
    EXPECT_EQ(answered, 50u);
    EXPECT_EQ(w_->counters.drops[static_cast<size_t>(DropReason::icmp_rate_limited)], 10u);
    // The same bucket holds the errors: a SYN to a service with no server left is still dropped,
    // but no port unreachable goes back.
    expect_dropped(from_client(61000).tcp(SYN).bytes(), ext_port, DropReason::no_real_server);
    EXPECT_EQ(w_->counters.icmp_port_unreachable, 0u);
    EXPECT_EQ(w_->counters.icmp_rate_limited, 11u);
    // Half a second later, 50 more.
    worker_set_clock(*w_, w_->now + shared_->tsc_hz / 2);
    answered = 0;
    for (int i = 0; i < 60; ++i) answered += run(ping.bytes(), ext_port).kind == Verdict::Kind::transmit;
    take(ext_port);
    EXPECT_EQ(answered, 50u);
}

TEST_F(Pipeline, NoRealServerAnswersPortUnreachableFromTheVip)
{
    build("rr", {0, 0, 0}, 64);
    Frame syn = from_client(61000).tcp(SYN);
    const Bytes in = syn.bytes();
    Verdict v = run(in, ext_port);
    EXPECT_EQ(v.kind, Verdict::Kind::drop);
    EXPECT_EQ(v.reason, DropReason::no_real_server);
    auto sent = take(ext_port);
    ASSERT_EQ(sent.size(), 1u);
    Frame expected = Frame{}.from(ext_mac).to(client_mac).src(vip).dst(client_ip).icmp(3, 3).with_ttl(64)
                         .with_payload(std::string(in.begin() + 14, in.end()));
    expected.frag = 0;
    expected.ip_id = 0;
    expected.icmp_id = 0;
    expected.icmp_seq = 0;
    EXPECT_EQ(sent[0], expected.bytes());
    EXPECT_TRUE(l4_checksum_ok(sent[0]));
    EXPECT_EQ(w_->counters.icmp_port_unreachable, 1u);
}

// ---------------------------------------------------------------------------------------------
// The exception path: the kernel's TAP ports (2 behind ext, 3 behind int), never started either:
// what goes to the kernel is read from their stages.

namespace {

constexpr uint16_t ext_kernel = 2, int_kernel = 3;

class KernelPath : public Pipeline {
protected:
    void SetUp() override
    {
        Pipeline::SetUp();
        give_kernel_port(ext_port, ext_kernel);
        give_kernel_port(int_port, int_kernel);
        limit_kernel_rate(1000, 100);
    }

    // As Director::start: `rate` frames a second, `burst` at once.
    void limit_kernel_rate(uint64_t rate, uint64_t burst)
    {
        rte_meter_srtcm_params params{rate, burst, 0};
        ASSERT_EQ(rte_meter_srtcm_profile_config(&shared_->kernel_meter_profile, &params), 0);
        ASSERT_EQ(rte_meter_srtcm_config(&w_->kernel_meter, &shared_->kernel_meter_profile), 0);
    }

    // As Director::start_kernel_interface: the TAP carries the port's MAC.
    void give_kernel_port(uint16_t port, uint16_t kernel)
    {
        PortInfo& tap = shared_->ports[kernel];
        tap.port_id = kernel;
        tap.name = "fl-" + shared_->ports[port].name;
        tap.mac = shared_->ports[port].mac;
        shared_->ports[port].kernel_port = kernel;
        shared_->port_count = std::max<unsigned>(shared_->port_count, kernel + 1u);
    }

    // Expects `frame` to reach the kernel port `kernel` exactly as it arrived, and nothing else
    // to be sent.
    void expect_to_kernel(const Bytes& frame, uint16_t in_port, uint16_t kernel)
    {
        const uint64_t before = w_->counters.to_kernel;
        const Verdict v = run(frame, in_port);
        ASSERT_EQ(v.kind, Verdict::Kind::transmit) << drop_reason_names[static_cast<size_t>(v.reason)];
        EXPECT_EQ(v.port, kernel);
        EXPECT_EQ(w_->counters.to_kernel, before + 1);
        const auto sent = take(kernel);
        ASSERT_EQ(sent.size(), 1u);
        EXPECT_EQ(sent[0], frame);
        EXPECT_EQ(take(ext_port).size() + take(int_port).size() + take(ext_kernel).size() + take(int_kernel).size(), 0u);
    }

    uint64_t drops() const
    {
        uint64_t n = 0;
        for (uint64_t d : w_->counters.drops) n += d;
        return n;
    }
};

}  // namespace

TEST_F(KernelPath, ASynSpoofedFromTheDirectorCannotTakeAHealthChecksReply)
{
    // The kernel checks rs1 from int_ip:45000. A SYN to the VIP "from" int_ip:45000 would make a
    // NAT connection whose reply key is rs1:8080 -> int_ip:45000: the check's SYN-ACK would be
    // translated towards the VIP instead of reaching the kernel.
    expect_dropped(Frame{}.from(client_mac).to(ext_mac).src(int_ip, 45000).dst(vip, 80).tcp(SYN).bytes(), ext_port,
                   DropReason::martian_source);
    EXPECT_EQ(w_->conns.size(), 0u);
    expect_to_kernel(Frame{}.from(rs_mac[0]).to(int_mac).src(rs_ip[0], 8080).dst(int_ip, 45000).tcp(SYN | ACK).bytes(),
                     int_port, int_kernel);
    // Nor can a spoofed source reach the kernel's sockets.
    expect_dropped(Frame{}.from(client_mac).to(ext_mac).src(ipv4(127, 0, 0, 1), 1).dst(ext_ip, 22).tcp(SYN).bytes(),
                   ext_port, DropReason::martian_source);
}

TEST_F(KernelPath, AFloodAtTheDirectorIsCutToTheRateLimit)
{
    // A burst of 100 passes at once, then one frame per millisecond (1000 a second).
    const Bytes syn = Frame{}.from(client_mac).to(ext_mac).src(client_ip, 40000).dst(ext_ip, 22).tcp(SYN).bytes();
    unsigned passed = 0;
    for (int i = 0; i < 150; ++i) passed += run(syn, ext_port).kind == Verdict::Kind::transmit;
    EXPECT_EQ(passed, 100u);
    EXPECT_EQ(w_->counters.drop(DropReason::kernel_rate_limited), 50u);
    EXPECT_EQ(w_->counters.to_kernel, 100u);
    take(ext_kernel);
    // 10 ms later, 10 more tokens: ten pass, the eleventh does not. ARP replies share the budget.
    worker_set_clock(*w_, w_->now + shared_->tsc_hz / 100);
    passed = 0;
    for (int i = 0; i < 11; ++i) passed += run(syn, ext_port).kind == Verdict::Kind::transmit;
    EXPECT_EQ(passed, 10u);
    EXPECT_EQ(w_->counters.drop(DropReason::kernel_rate_limited), 51u);
    take(ext_kernel);
    // The VIP's traffic is not the kernel's and never limited by it.
    expect_forwarded(from_client(40002, 80).tcp(SYN).bytes(), ext_port, int_port,
                     Frame(from_client(40002, 80).tcp(SYN)).from(int_mac).to(rs_mac[0]).dst(rs_ip[0], 8080).bytes());
}

TEST_F(KernelPath, TcpAndUdpToTheDirectorGoToTheKernelUnchanged)
{
    // A client's SSH connection to the director, on ext.
    expect_to_kernel(Frame{}.from(client_mac).to(ext_mac).src(client_ip, 40000).dst(ext_ip, 22).tcp(SYN).bytes(),
                     ext_port, ext_kernel);
    // A real server answering a health check the kernel opened from the director's address, on int.
    expect_to_kernel(
        Frame{}.from(rs_mac[0]).to(int_mac).src(rs_ip[0], 8080).dst(int_ip, 45678).tcp(SYN | ACK).with_ttl(64).bytes(),
        int_port, int_kernel);
    expect_to_kernel(Frame{}.from(rs_mac[1]).to(int_mac).src(rs_ip[1], 53).dst(int_ip, 33000).udp()
                         .with_payload("answer").with_ttl(1).bytes(),
                     int_port, int_kernel);
    // A fragment: the kernel reassembles it.
    expect_to_kernel(Frame{}.from(client_mac).to(ext_mac).src(client_ip, 5000).dst(ext_ip, 53).udp()
                         .with_frag(0x2000).with_payload("12345678").bytes(),
                     ext_port, ext_kernel);
    EXPECT_EQ(w_->counters.to_kernel, 4u);
    EXPECT_EQ(drops(), 0u);
    EXPECT_EQ(w_->counters.drop(DropReason::local_unhandled), 0u);
    EXPECT_EQ(w_->conns.size(), 0u);  // the kernel's connections are not the director's
    EXPECT_EQ(w_->counters.connections_created, 0u);
}

TEST_F(KernelPath, EchoRequestsToTheDirectorAreStillAnsweredHere)
{
    Frame ping = Frame{}.from(client_mac).to(ext_mac).src(client_ip).dst(ext_ip).icmp(8).with_payload("abc").with_ttl(50);
    Bytes expected = Frame(ping).from(ext_mac).to(client_mac).src(ext_ip).dst(client_ip).icmp(0).with_ttl(64).bytes();
    expect_forwarded(ping.bytes(), ext_port, ext_port, expected);
    // From a real server, to the director's address on int.
    Frame from_rs = Frame{}.from(rs_mac[0]).to(int_mac).src(rs_ip[0]).dst(int_ip).icmp(8).with_payload("xyz");
    expect_forwarded(from_rs.bytes(), int_port, int_port,
                     Frame(from_rs).from(int_mac).to(rs_mac[0]).src(int_ip).dst(rs_ip[0]).icmp(0).with_ttl(64).bytes());
    EXPECT_EQ(w_->counters.icmp_echo_replies, 2u);
    EXPECT_EQ(w_->counters.to_kernel, 0u);
    EXPECT_EQ(take(ext_kernel).size() + take(int_kernel).size(), 0u);
}

TEST_F(KernelPath, EchoRepliesAndOtherIcmpToTheDirectorGoToTheKernel)
{
    // The answer to the kernel's own ping of a real server.
    expect_to_kernel(Frame{}.from(rs_mac[0]).to(int_mac).src(rs_ip[0]).dst(int_ip).icmp(0).with_payload("ping").bytes(),
                     int_port, int_kernel);
    // ICMP the dataplane does not answer: a timestamp request, an echo request with a code.
    expect_to_kernel(Frame{}.from(client_mac).to(ext_mac).src(client_ip).dst(ext_ip).icmp(13).bytes(), ext_port,
                     ext_kernel);
    expect_to_kernel(Frame{}.from(client_mac).to(ext_mac).src(client_ip).dst(ext_ip).icmp(8, 1).bytes(), ext_port,
                     ext_kernel);
    EXPECT_EQ(w_->counters.icmp_echo_replies, 0u);
    EXPECT_EQ(w_->counters.to_kernel, 3u);
    EXPECT_EQ(drops(), 0u);
}

TEST_F(KernelPath, IcmpErrorAboutTheKernelsOwnTrafficGoesToTheKernel)
{
    // rs1 says a UDP probe the kernel sent it from the director's address hit a closed port: no
    // connection of the director's is quoted, so it is the kernel's.
    const Bytes probe = Frame{}.src(int_ip, 33434).dst(rs_ip[0], 33434).udp().with_ttl(64).bytes();
    Frame unreachable = Frame{}.from(rs_mac[0]).to(int_mac).src(rs_ip[0]).dst(int_ip).icmp(3, 3)
                            .with_payload(as_string(probe, 14, 28));
    unreachable.icmp_id = 0;
    unreachable.icmp_seq = 0;
    expect_to_kernel(unreachable.bytes(), int_port, int_kernel);
    // A router on the way says the kernel's packet was too big for the next hop.
    const Bytes check = Frame{}.src(int_ip, 45678).dst(rs_ip[1], 80).tcp(ACK).with_payload("GET /health").bytes();
    Frame too_big = Frame{}.from(rs_mac[1]).to(int_mac).src(rs_ip[1]).dst(int_ip).icmp(3, 4)
                        .with_payload(as_string(check, 14, 28));
    too_big.icmp_id = 0;
    too_big.icmp_seq = 1400;
    expect_to_kernel(too_big.bytes(), int_port, int_kernel);
    EXPECT_EQ(w_->counters.drop(DropReason::icmp_unhandled), 0u);
}

TEST_F(KernelPath, IcmpErrorAboutAConnectionIsStillForwarded)
{
    // The exception path must not take what belongs to a connection (as IcmpFromRealServerIsNatted...).
    Frame syn = from_client(40000).tcp(SYN);
    run(syn.bytes(), ext_port);
    const Bytes to_rs = take(int_port).at(0);
    Frame icmp = Frame{}.from(rs_mac[0]).to(int_mac).src(rs_ip[0]).dst(client_ip).icmp(3, 4)
                     .with_payload(as_string(to_rs, 14, 28));
    icmp.icmp_id = 0;
    icmp.icmp_seq = 1400;
    const Verdict v = run(icmp.bytes(), int_port);
    ASSERT_EQ(v.kind, Verdict::Kind::transmit);
    EXPECT_EQ(v.port, ext_port);
    EXPECT_EQ(take(ext_port).size(), 1u);
    EXPECT_EQ(w_->counters.icmp_related, 1u);
    EXPECT_EQ(w_->counters.to_kernel, 0u);
}

TEST_F(KernelPath, VipTrafficIsNotTheKernels)
{
    // NAT as before.
    Frame syn = from_client(40000).tcp(SYN);
    expect_forwarded(syn.bytes(), ext_port, int_port, Frame(syn).from(int_mac).to(rs_mac[0]).dst(rs_ip[0], 8080).bytes());
    // A VIP port without a service, and ICMP to the VIP, are the dataplane's as before.
    expect_dropped(from_client(40001, 81).tcp(SYN).bytes(), ext_port, DropReason::no_service);
    Frame ping = Frame{}.from(client_mac).to(ext_mac).src(client_ip).dst(vip).icmp(8).with_payload("abc").with_ttl(50);
    expect_forwarded(ping.bytes(), ext_port, ext_port,
                     Frame(ping).from(ext_mac).to(client_mac).src(vip).dst(client_ip).icmp(0).with_ttl(64).bytes());
    expect_dropped(Frame{}.from(client_mac).to(ext_mac).src(client_ip).dst(vip).icmp(13).bytes(), ext_port,
                   DropReason::icmp_unhandled);
    // Neither the address of no one.
    expect_dropped(Frame{}.from(client_mac).to(ext_mac).src(client_ip, 1).dst(ipv4(198, 18, 0, 77), 22).tcp(SYN).bytes(),
                   ext_port, DropReason::not_for_us);
    EXPECT_EQ(w_->counters.to_kernel, 0u);
    EXPECT_EQ(take(ext_kernel).size() + take(int_kernel).size(), 0u);
}

TEST_F(KernelPath, ArpRepliesGoToTheKernelAfterTheNeighbourIsLearned)
{
    // rs3 is not yet known: its answer teaches the control core, and reaches the kernel too.
    Arp reply;
    reply.src_mac = rs_mac[2];
    reply.eth_dst = int_mac;
    reply.op = 2;
    reply.sender_mac = rs_mac[2];
    reply.sender_ip = rs_ip[2];
    reply.target_mac = int_mac;
    reply.target_ip = int_ip;
    expect_to_kernel(reply.bytes(), int_port, int_kernel);
    NeighborUpdate update{};
    ASSERT_EQ(rte_ring_dequeue_elem(shared_->neighbor_updates, &update, sizeof update), 0);
    EXPECT_EQ(update.ip, rte_cpu_to_be_32(rs_ip[2]));
    EXPECT_EQ(update.port, int_port);
    const rte_ether_addr rs3_ether = ether(rs_mac[2]);
    EXPECT_TRUE(rte_is_same_ether_addr(&update.mac, &rs3_ether));
    EXPECT_EQ(rte_ring_dequeue_elem(shared_->neighbor_updates, &update, sizeof update), -ENOENT);

    // A gratuitous reply (broadcast) from a known neighbour: nothing new to learn, still the kernel's.
    Arp gratuitous = reply;
    gratuitous.src_mac = rs_mac[0];
    gratuitous.sender_mac = rs_mac[0];
    gratuitous.sender_ip = rs_ip[0];
    gratuitous.eth_dst = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    gratuitous.target_mac = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    gratuitous.target_ip = rs_ip[0];
    expect_to_kernel(gratuitous.bytes(), int_port, int_kernel);
    EXPECT_EQ(rte_ring_dequeue_elem(shared_->neighbor_updates, &update, sizeof update), -ENOENT);
    EXPECT_EQ(w_->counters.to_kernel, 2u);
    EXPECT_EQ(w_->counters.arp_replies, 0u);
}

TEST_F(KernelPath, ArpRequestsForOurAddressesAreStillAnsweredHere)
{
    for (uint32_t target : {ext_ip, vip}) {
        const Arp request = arp_request_from_client(target);
        const Arp reply = arp_reply_to_client(ext_mac, target);
        const Verdict v = run(request.bytes(), ext_port);
        ASSERT_EQ(v.kind, Verdict::Kind::transmit);
        EXPECT_EQ(v.port, ext_port);
        const auto sent = take(ext_port);
        ASSERT_EQ(sent.size(), 1u);
        EXPECT_EQ(sent[0], reply.bytes());
    }
    EXPECT_EQ(w_->counters.arp_replies, 2u);
    // A request for an address that is not ours is nobody's here, kernel port or not.
    Arp other;
    other.src_mac = client_mac;
    other.sender_mac = client_mac;
    other.sender_ip = client_ip;
    other.target_ip = ipv4(198, 18, 0, 50);
    expect_dropped(other.bytes(), ext_port, DropReason::arp_not_for_us);
    EXPECT_EQ(w_->counters.to_kernel, 0u);
    EXPECT_EQ(take(ext_kernel).size() + take(int_kernel).size(), 0u);
}

TEST_F(KernelPath, OnlyTheReceivingPortsKernelPortCounts)
{
    shared_->ports[int_port].kernel_port = no_port;
    // For int's address, on int: int has no kernel interface.
    expect_dropped(Frame{}.from(rs_mac[0]).to(int_mac).src(rs_ip[0], 8080).dst(int_ip, 45678).tcp(SYN | ACK).bytes(),
                   int_port, DropReason::local_unhandled);
    Arp reply;
    reply.src_mac = rs_mac[2];
    reply.eth_dst = int_mac;
    reply.op = 2;
    reply.sender_mac = rs_mac[2];
    reply.sender_ip = rs_ip[2];
    reply.target_mac = int_mac;
    reply.target_ip = int_ip;
    expect_dropped(reply.bytes(), int_port, DropReason::arp_not_for_us);
    // ext's kernel interface still has what arrives on ext.
    expect_to_kernel(Frame{}.from(client_mac).to(ext_mac).src(client_ip, 40000).dst(ext_ip, 22).tcp(SYN).bytes(),
                     ext_port, ext_kernel);
    EXPECT_EQ(w_->counters.to_kernel, 1u);
}

TEST_F(Pipeline, WithoutAKernelPortTheDirectorsOwnTrafficIsDroppedAsBefore)
{
    ASSERT_EQ(shared_->ports[ext_port].kernel_port, no_port);  // the default
    ASSERT_EQ(shared_->ports[int_port].kernel_port, no_port);
    expect_dropped(Frame{}.from(client_mac).to(ext_mac).src(client_ip, 40000).dst(ext_ip, 22).tcp(SYN).bytes(),
                   ext_port, DropReason::local_unhandled);
    expect_dropped(Frame{}.from(rs_mac[1]).to(int_mac).src(rs_ip[1], 53).dst(int_ip, 33000).udp().bytes(), int_port,
                   DropReason::local_unhandled);
    expect_dropped(Frame{}.from(rs_mac[0]).to(int_mac).src(rs_ip[0]).dst(int_ip).icmp(0).bytes(), int_port,
                   DropReason::icmp_unhandled);
    expect_dropped(Frame{}.from(client_mac).to(ext_mac).src(client_ip).dst(ext_ip).icmp(13).bytes(), ext_port,
                   DropReason::icmp_unhandled);
    Arp reply;
    reply.src_mac = rs_mac[2];
    reply.eth_dst = int_mac;
    reply.op = 2;
    reply.sender_mac = rs_mac[2];
    reply.sender_ip = rs_ip[2];
    reply.target_mac = int_mac;
    reply.target_ip = int_ip;
    expect_dropped(reply.bytes(), int_port, DropReason::arp_not_for_us);
    // The reply still taught the control core where rs3 is.
    NeighborUpdate update{};
    ASSERT_EQ(rte_ring_dequeue_elem(shared_->neighbor_updates, &update, sizeof update), 0);
    EXPECT_EQ(update.ip, rte_cpu_to_be_32(rs_ip[2]));
    // Echo requests are answered.
    Frame ping = Frame{}.from(client_mac).to(ext_mac).src(client_ip).dst(ext_ip).icmp(8).with_payload("abc").with_ttl(50);
    expect_forwarded(ping.bytes(), ext_port, ext_port,
                     Frame(ping).from(ext_mac).to(client_mac).src(ext_ip).dst(client_ip).icmp(0).with_ttl(64).bytes());
    EXPECT_EQ(w_->counters.to_kernel, 0u);
}

// A port's subnets are matched by prefix length on every tunnelled IPv6 packet (its source) and
// neighbour solicitation: checked against a bit-at-a-time reading of the prefix, at each length
// and with the first differing bit on either side of it.
TEST(PortSubnets, Ipv6PrefixesMatchBitForBit)
{
    const auto bit = [](const Ipv6Address& a, unsigned i) { return (a.bytes[i / 8] >> (7 - i % 8)) & 1; };
    const auto reference = [&](const Ipv6Address& a, const Ipv6Address& b, unsigned length) {
        for (unsigned i = 0; i < length; ++i)
            if (bit(a, i) != bit(b, i)) return false;
        return true;
    };
    Ipv6Address ours{};
    for (unsigned i = 0; i < 16; ++i) ours.bytes[i] = static_cast<uint8_t>(0x20 + 17 * i);
    unsigned matched = 0, refused = 0;
    for (unsigned length = 0; length <= 128; ++length) {
        PortInfo port;
        port.link_local.bytes = {0xfe, 0x80};
        port.local_ips6 = {ours};
        port.prefix_lengths6 = {static_cast<uint8_t>(length)};
        for (unsigned flip = 0; flip < 128; ++flip) {
            Ipv6Address target = ours;
            target.bytes[flip / 8] ^= static_cast<uint8_t>(0x80 >> (flip % 8));
            const bool expected = reference(target, ours, length);
            EXPECT_EQ(port.on_link(target), expected) << "length " << length << " bit " << flip;
            EXPECT_EQ(port.source_for(target), expected ? ours : port.link_local) << "length " << length << " bit " << flip;
            (expected ? matched : refused) += 1;
        }
    }
    // Lengths 0..128 against bits 0..127: bit i differs inside a prefix of length > i.
    EXPECT_EQ(refused, 128u * 129u / 2u);
    EXPECT_EQ(matched, 129u * 128u - 128u * 129u / 2u);
}

// A jumbo port's TAP stays at net_tap's MTU (1504): a longer frame for the director itself is
// dropped where it is counted, not left to the TAP to fail. Its limit allows a VLAN tag's 4 bytes.
TEST_F(KernelPath, AFrameLongerThanTheTapTakesIsDroppedAndCounted)
{
    shared_->ports[ext_port].mtu = 9000;
    shared_->ports[ext_kernel].mtu = 1504;
    const auto datagram = [&](size_t payload) {
        return Frame{}.from(client_mac).to(ext_mac).src(client_ip, 5000).dst(ext_ip, 53).udp()
            .with_payload(std::string(payload, 'x')).bytes();
    };
    ASSERT_EQ(datagram(1480).size(), 1504u + 18u);
    expect_to_kernel(datagram(1480), ext_port, ext_kernel);
    expect_dropped(datagram(1481), ext_port, DropReason::kernel_too_big);
    EXPECT_EQ(w_->counters.drop(DropReason::kernel_too_big), 1u);
    EXPECT_EQ(w_->counters.to_kernel, 1u);
}

namespace {

// `frame` with an 802.1Q tag after its MAC addresses.
Bytes tagged(const Bytes& frame, uint16_t tci)
{
    Bytes out(frame.begin(), frame.begin() + 12);
    out.insert(out.end(), {0x81, 0x00, static_cast<uint8_t>(tci >> 8), static_cast<uint8_t>(tci & 0xff)});
    out.insert(out.end(), frame.begin() + 12, frame.end());
    return out;
}

// ext's device carries VLAN 100 too: the interface v100, a port of its own (max_device_ports),
// with 10.100.0.1/24, where a client 10.100.0.2 sits; set up as Director::start does.
class Vlans : public Pipeline {
protected:
    static constexpr uint16_t v100_port = fulcrum::max_device_ports;
    static constexpr uint32_t v100_ip = ipv4(10, 100, 0, 1);
    static constexpr uint32_t v100_client = ipv4(10, 100, 0, 2);
    static constexpr Mac v100_client_mac{0x02, 0xcc, 0, 0, 0x01, 0x02};

    void SetUp() override
    {
        Pipeline::SetUp();
        PortInfo& v = shared_->ports[v100_port];
        v.port_id = v100_port;
        v.name = "v100";
        v.mac = ether(ext_mac);
        v.vlan = 100;
        v.device_port = ext_port;
        v.addresses = {{v100_ip, 24}};
        v.local_ips = {rte_cpu_to_be_32(v100_ip)};
        v.link_local = link_local_of(v.mac);
        shared_->ports[ext_port].vlan_ports = {{100, v100_port}};
        shared_->vlans = true;
        shared_->port_count = v100_port + 1u;
        shared_->local_ips.push_back(rte_cpu_to_be_32(v100_ip));
        std::sort(shared_->local_ips.begin(), shared_->local_ips.end());
        neighbors_->update(rte_cpu_to_be_32(v100_client), ether(v100_client_mac), v100_port, true);
        control::Config c = config_;
        control::InterfaceConfig v100{"v100", "net_null0", {{v100_ip, 24}}, 1500};
        v100.vlan = 100;
        c.interfaces.push_back(v100);
        interface_ports_["v100"] = v100_port;
        republish(c);
    }

    static Frame from_v100_client(uint16_t client_port)
    {
        return Frame{}.from(v100_client_mac).to(ext_mac).src(v100_client, client_port).dst(vip, 80);
    }

    // Runs `frame` in on ext's device and expects exactly `expected` staged on `device`.
    void expect_sent(const Bytes& frame, uint16_t device, const Bytes& expected)
    {
        const Verdict v = run(frame, ext_port);
        ASSERT_EQ(v.kind, Verdict::Kind::transmit) << drop_reason_names[static_cast<size_t>(v.reason)];
        const auto sent = take(device);
        ASSERT_EQ(sent.size(), 1u);
        EXPECT_EQ(sent[0], expected);
        EXPECT_EQ(take(v100_port).size(), 0u);  // nothing is ever staged on an interface of a VLAN
    }
};

}  // namespace

// The tag picks the interface: a client on VLAN 100 reaches the VIP (NAT to rs1, untagged on
// int), and rs1's answer goes back to it tagged 100 on ext's device, rewritten from the VIP.
TEST_F(Vlans, ATaggedConnectionIsForwardedAndAnsweredOnItsVlan)
{
    const Bytes syn = from_v100_client(40000).tcp(SYN).bytes();
    expect_sent(tagged(syn, 100), int_port,
                Frame(from_v100_client(40000).tcp(SYN)).from(int_mac).to(rs_mac[0]).dst(rs_ip[0], 8080).bytes());
    const Frame answer = Frame{}.from(rs_mac[0]).to(int_mac).src(rs_ip[0], 8080).dst(v100_client, 40000).tcp(SYN | ACK);
    const Verdict v = run(answer.bytes(), int_port);
    ASSERT_EQ(v.kind, Verdict::Kind::transmit);
    const auto sent = take(ext_port);
    ASSERT_EQ(sent.size(), 1u);
    EXPECT_EQ(sent[0], tagged(Frame(answer).from(ext_mac).to(v100_client_mac).src(vip, 80).with_ttl(63).bytes(), 100));
    EXPECT_EQ(w_->counters.connections_created, 1u);
}

// Devices that strip the tag themselves report it in vlan_tci: the same interface.
TEST_F(Vlans, AStrippedTagPicksTheSameInterface)
{
    const Bytes syn = from_v100_client(40001).tcp(SYN).bytes();
    rte_mbuf* m = mbuf_of(syn, ext_port);
    m->ol_flags |= RTE_MBUF_F_RX_VLAN | RTE_MBUF_F_RX_VLAN_STRIPPED;
    m->vlan_tci = 100 | (5 << 13);  // a priority too, which changes nothing
    process_burst(*w_, &m, 1);
    const auto sent = take(int_port);
    ASSERT_EQ(sent.size(), 1u);
    EXPECT_EQ(sent[0], Frame(from_v100_client(40001).tcp(SYN)).from(int_mac).to(rs_mac[0]).dst(rs_ip[0], 8080).bytes());
    // Its answer is tagged in software: the tag is the interface's, whatever the device did.
    run(Frame{}.from(rs_mac[0]).to(int_mac).src(rs_ip[0], 8080).dst(v100_client, 40001).tcp(SYN | ACK).bytes(), int_port);
    const auto back = take(ext_port);
    ASSERT_EQ(back.size(), 1u);
    ASSERT_GE(back[0].size(), 16u);
    EXPECT_EQ(Bytes(back[0].begin() + 12, back[0].begin() + 16), (Bytes{0x81, 0x00, 0x00, 100}));
}

// ARP for the VLAN interface's address is answered on that VLAN, and only there.
TEST_F(Vlans, ArpIsAnsweredOnTheVlanOfTheAddress)
{
    Arp request;
    request.src_mac = request.sender_mac = v100_client_mac;
    request.sender_ip = v100_client;
    request.target_ip = v100_ip;
    Arp reply;
    reply.src_mac = reply.sender_mac = ext_mac;
    reply.eth_dst = reply.target_mac = v100_client_mac;
    reply.op = 2;
    reply.sender_ip = v100_ip;
    reply.target_ip = v100_client;
    expect_sent(tagged(request.bytes(), 100), ext_port, tagged(reply.bytes(), 100));
    // Untagged, the address is not ext's.
    expect_dropped(request.bytes(), ext_port, DropReason::arp_not_for_us);
}

TEST_F(Vlans, UnknownVlansAndUntaggedFramesOnATrunkAreDropped)
{
    const Bytes syn = from_v100_client(40002).tcp(SYN).bytes();
    expect_dropped(tagged(syn, 200), ext_port, DropReason::vlan_unknown);
    // A second tag inside VLAN 100's (802.1ad stacking) is not an interface of the device.
    expect_dropped(tagged(tagged(syn, 300), 100), ext_port, DropReason::unsupported_ethertype);
    // VID 0, a priority tag, is the untagged interface's: ext's client reaches the VIP.
    expect_sent(tagged(from_client(40003).tcp(SYN).bytes(), 3 << 13), int_port,
                Frame(from_client(40003).tcp(SYN)).from(int_mac).to(rs_mac[0]).dst(rs_ip[0], 8080).bytes());
    // A device whose interfaces are all on VLANs takes no untagged frame.
    shared_->ports[ext_port].untagged = false;
    expect_dropped(from_client(40004).tcp(SYN).bytes(), ext_port, DropReason::vlan_untagged);
    expect_dropped(tagged(from_client(40005).tcp(SYN).bytes(), 0), ext_port, DropReason::vlan_untagged);
    EXPECT_EQ(w_->counters.drop(DropReason::vlan_unknown), 1u);
    // A frame too short to hold a tag is not believed to have one.
    expect_dropped(Bytes{ext_mac.begin(), ext_mac.end()}, ext_port, DropReason::vlan_untagged);
}

// A frame handed to its owner has been through vlan_receive on the worker that took it in: the
// owner must not read its tag again (the device's stripped-tag flag is cleared with the tag).
TEST_F(Vlans, AHandedOffFrameIsNotUntaggedTwice)
{
    rte_mbuf* m = mbuf_of(from_v100_client(40006).tcp(SYN).bytes(), ext_port);
    m->ol_flags |= RTE_MBUF_F_RX_VLAN | RTE_MBUF_F_RX_VLAN_STRIPPED;
    m->vlan_tci = 100;
    ASSERT_FALSE(vlan_receive(*w_, m).settled());
    EXPECT_EQ(m->port, v100_port);
    EXPECT_EQ(m->ol_flags & (RTE_MBUF_F_RX_VLAN | RTE_MBUF_F_RX_VLAN_STRIPPED), 0u);
    process_burst(*w_, &m, 1, true);
    EXPECT_EQ(take(int_port).size(), 1u);
    EXPECT_EQ(w_->counters.drop(DropReason::vlan_unknown), 0u);
}

// A device may strip a tag on its own though no VLAN is configured: the frame is not the
// untagged interface's, and is dropped as an unknown VLAN.
TEST_F(Pipeline, AStrippedTagWithoutVlansIsNotTakenForUntagged)
{
    rte_mbuf* m = mbuf_of(from_client(40000).tcp(SYN).bytes(), ext_port);
    m->ol_flags |= RTE_MBUF_F_RX_VLAN | RTE_MBUF_F_RX_VLAN_STRIPPED;
    m->vlan_tci = 7;
    process_burst(*w_, &m, 1);
    EXPECT_EQ(take(int_port).size(), 0u);
    EXPECT_EQ(w_->counters.drop(DropReason::vlan_unknown), 1u);
    EXPECT_EQ(w_->conns.size(), 0u);
}

// The device's checksum flags reach the parser: BAD is dropped whatever the header says, GOOD is
// believed, and NONE (verified, but the field not right) is summed again, since a rewrite
// updates the field incrementally.
TEST_F(Pipeline, TheDevicesChecksumFlagsAreRead)
{
    const auto run_flagged = [&](const Bytes& frame, uint64_t flags) {
        rte_mbuf* m = mbuf_of(frame, ext_port);
        m->ol_flags |= flags;
        Verdict v;
        process_burst(*w_, &m, 1, false, &v);
        return v;
    };
    const Bytes syn = from_client(40000).tcp(SYN).bytes();
    Bytes broken = syn;
    broken[24] ^= 0x01;
    EXPECT_EQ(run_flagged(syn, RTE_MBUF_F_RX_IP_CKSUM_BAD).reason, DropReason::bad_ip_checksum);
    EXPECT_EQ(run_flagged(broken, RTE_MBUF_F_RX_IP_CKSUM_NONE).reason, DropReason::bad_ip_checksum);
    EXPECT_EQ(w_->counters.drop(DropReason::bad_ip_checksum), 2u);
    EXPECT_EQ(run_flagged(syn, RTE_MBUF_F_RX_IP_CKSUM_GOOD).kind, Verdict::Kind::transmit);
    EXPECT_EQ(take(int_port).size(), 1u);
}
