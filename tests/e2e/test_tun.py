#!/usr/bin/python3
"""End-to-end TUN test: the real director forwards in IPIP (conf/lab-tun.yaml) to rs5, whose
decapsulator (tests/lab/decap.py) hands the inner packet to its kernel; rs5 holds the VIP on lo and
answers the client itself. Also the MTU rule: 20 bytes of outer header on a 1500-byte link.

Run as root from anywhere: /usr/bin/python3 tests/e2e/test_tun.py
Prints one PASS/FAIL line per check and `tun: N passed, N failed`; exits 1 if any check failed.
Logs: $FULCRUM_LAB_DIR (default /tmp/fulcrum-lab): director-tun.log, rs5.log, decap.log.
"""

import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the work tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lablib as L  # noqa: E402

RS = "rs5"
RS_NS = "fl-rs5"
RS_DEV = "rs5-eth"
EXT_MTU = 1500
TUNNEL_MTU = EXT_MTU - 20  # what the director announces in fragmentation-needed
FULL = EXT_MTU - 28        # UDP payload of a 1500-byte datagram


def outer_header_checks(checks):
    """The outer header as rs5's link carries it: from the director's ext address to rs5, protocol 4,
    TTL, TOS and DF those of the client's packet, which itself arrives untouched."""
    for name, df, tos, ttl in (("outer_header_copies_df_ttl_tos", "do", 0x28, 17),
                               ("outer_header_without_df", "dont", 0x10, 33)):
        marker = f"ipip-{df}"
        b = L.Background(RS_NS, L.PY, L.PACKET_TOOL, "expect-ipip", "--iface", RS_DEV, "--port", "5353",
                         "--marker", marker, "--wait", "6")
        started = b.start()
        probe = L.packet_tool("fl-client", "udp-probe", "--dst", L.VIP, "--port", "5353", "--marker", marker,
                              "--df", df, "--tos", hex(tos), "--ttl", str(ttl), "--wait", "3")
        got = b.finish(limit=10) if started else {"ok": False, "error": f"the sniffer in {RS_NS} did not start"}
        o, i = got.get("outer", {}), got.get("inner", {})
        want_outer = {"src": L.DIR_EXT_IP, "dst": L.RS_IP[RS], "proto": 4, "ttl": ttl, "tos": tos,
                      "df": df == "do", "length": i.get("length", 0) + 20, "checksum_ok": True}
        want_inner = {"src": L.CLIENT_IP, "dst": L.VIP, "proto": 17, "ttl": ttl, "tos": tos, "df": df == "do",
                      "checksum_ok": True}
        bad = [f"outer {k} {o.get(k)} (want {v})" for k, v in want_outer.items() if o.get(k) != v]
        bad += [f"inner {k} {i.get(k)} (want {v})" for k, v in want_inner.items() if i.get(k) != v]
        fmt = lambda h: (f"{h.get('src')} > {h.get('dst')} proto {h.get('proto')} ttl {h.get('ttl')} "  # noqa: E731
                         f"tos {h.get('tos', 0):#04x} {'DF' if h.get('df') else 'no DF'} len {h.get('length')}")
        checks.report(name, got.get("ok", False) and probe.get("ok", False) and not bad,
                      (f"client sent ttl {ttl} tos {tos:#04x} {'DF' if df == 'do' else 'no DF'}; on {RS_DEV}: "
                       f"outer {fmt(o)}, inner {fmt(i)}; answered {probe.get('reply', '-')!r}"
                       if got.get("ok") else got.get("error", "?"))
                      + (f"; wrong: {', '.join(bad)}" if got.get("ok") and bad else "")
                      + (f"; probe: {L.describe(probe, ('error', 'errors'))}" if not probe.get("ok") else ""))


def mtu_checks(checks):
    """A datagram that fills the client's MTU: with DF the director must refuse it with
    fragmentation-needed (MTU 1480, from the VIP); without DF it must fragment the outer packet.
    One of exactly 1480 bytes fits the tunnel whole."""
    L.flush_route_cache()
    r = L.packet_tool("fl-client", "udp-probe", "--dst", L.VIP, "--port", "5353", "--size", str(TUNNEL_MTU - 28),
                      "--df", "do", "--marker", "tun-fits", "--expect", "reply", "--wait", "3")
    checks.report("df_exactly_fits", r.get("ok", False) and r.get("reply_intact", False) and not r.get("errors"),
                  f"{TUNNEL_MTU}-byte datagram with DF (outer {EXT_MTU}): answered with {r.get('reply_bytes', 0)} "
                  f"bytes, echo intact: {r.get('reply_intact', False)}, ICMP errors: {len(r.get('errors', []))}"
                  + (f"; {L.describe(r, ('error', 'errors', 'send_error'))}" if not r.get("ok") else ""))

    r = L.packet_tool("fl-client", "udp-probe", "--dst", L.VIP, "--port", "5353", "--size", str(FULL),
                    "--df", "do", "--marker", "tun-df", "--expect", "error", "--wait", "3")
    errs = r.get("errors", [])
    mtu = L.route_mtu(L.VIP)
    ok = (r.get("ok", False) and "reply" not in r and len(errs) >= 1 and errs[0].get("type") == 3
          and errs[0].get("code") == 4 and errs[0].get("info") == TUNNEL_MTU
          and errs[0].get("offender") == L.VIP and mtu == TUNNEL_MTU)
    checks.report("df_too_big_frag_needed", ok,
                  f"{FULL + 28}-byte datagram with DF: client socket got "
                  + ("; ".join(f"{e.get('error')} (ICMP {e.get('type')}/{e.get('code')}, MTU {e.get('info')}, "
                               f"from {e.get('offender')})" for e in errs) or "no error")
                  + f"; `ip route get {L.VIP}` mtu {mtu} (want ICMP 3/4 MTU {TUNNEL_MTU} from {L.VIP})"
                  + (f"; {L.describe(r, ('error', 'send_error'))}" if not r.get("ok") else ""))

    L.flush_route_cache()
    r = L.packet_tool("fl-client", "udp-probe", "--dst", L.VIP, "--port", "5353", "--size", str(FULL),
                    "--df", "dont", "--marker", "tun-nodf", "--expect", "reply", "--wait", "3")
    checks.report("no_df_fragmented", r.get("ok", False) and r.get("reply_intact", False)
                  and r.get("reply", "").startswith(RS + ":"),
                  f"{FULL + 28}-byte datagram without DF: answered with {r.get('reply_bytes', 0)} bytes "
                  f"({r.get('reply', '')[:20]!r}...), echo intact: {r.get('reply_intact', False)}"
                  + (f"; {L.describe(r, ('error', 'errors', 'send_error'))}" if not r.get("ok") else ""))
    L.flush_route_cache()


def decap_counters():
    """The decapsulator's own counters, from the line it logs when it stops."""
    return L.stopping_counters("decap.log", " decap stopping ")


def main():
    checks = L.Checks("tun")
    if not L.can_run_beyond_nat(checks):
        return checks.summary()
    checks.report("check_config", *L.check_config(L.LAB_TUN_CONF))
    checks.report("check_port_change_refused", *L.check_config_refused(
        L.LAB_TUN_CONF, "lab-tun-port", "{ address: 198.18.0.15, port: 80,", "{ address: 198.18.0.15, port: 8080,",
        "differs from the virtual port 80; tun forwarding cannot change the port"))

    director = L.Director("tun", L.LAB_TUN_CONF)
    rs_link, tun_link, client_mtu = {}, {}, None
    try:
        with L.Lab():
            director.start()
            ready, detail = director.wait_ready()
            checks.report("director_ready", ready, detail)
            if ready:
                outer_header_checks(checks)
                mtu_checks(checks)
                L.direct_traffic_checks(checks, RS)
                # The upload's full-sized TCP segments (1500 bytes with DF) cannot be tunnelled whole:
                # the director answered fragmentation-needed and the client's TCP went down to 1480.
                client_mtu = L.route_mtu(L.VIP)
            else:
                for n in (["outer_header_copies_df_ttl_tos", "outer_header_without_df", "df_exactly_fits",
                           "df_too_big_frag_needed", "no_df_fragmented"] + L.DIRECT_TRAFFIC_CHECKS):
                    checks.report(n, False, "director not ready")
            code = director.stop()
            rs_link = L.link_stats(RS_NS, RS_DEV)
            tun_link = L.link_stats(RS_NS, L.DECAP_DEV)
    except RuntimeError as e:
        checks.report("lab", False, str(e))
        director.stop()
        return checks.summary()

    checks.report("sigterm_exit_0", code == 0, L.stop_outcome(code, director))
    w = director.worker_totals()
    if not w:
        for n in ("answers_bypass_director", "all_tunnelled_decapsulated", "tcp_pmtu_lowered",
                  "frag_needed_and_fragments_counted"):
            checks.report(n, False, f"no `stats worker=N` line; {director.tail()}")
        return checks.summary()
    checks.report("answers_bypass_director",
                  w.get("replies") == 0 and w.get("to_real_server", 0) > 0 and rs_link.get("tx_packets", 0) > 700,
                  f"director ({w.get('workers')} worker(s)): "
                  f"{L.show(w, 'to_real_server', 'replies', 'connections_created')}; "
                  f"{RS_DEV} sent {rs_link.get('tx_packets', '?')} packets to the client directly")

    # Every packet the director tunnelled (less those it refused as too big) came out of the
    # decapsulator into rs5's kernel; nothing arrived from elsewhere or malformed.
    d = decap_counters()
    tunnelled = w.get("to_real_server", 0) - w.get("drop_too_big_df", 0)
    checks.report("all_tunnelled_decapsulated",
                  tunnelled > 0 and tun_link.get("rx_packets") == tunnelled and d.get("packets") == tunnelled
                  and d.get("not_allowed") == 0 and d.get("malformed") == 0 and d.get("write_errors") == 0,
                  f"director tunnelled {tunnelled} (to_real_server={w.get('to_real_server')} - "
                  f"drop_too_big_df={w.get('drop_too_big_df')}); {L.DECAP_DEV} received "
                  f"{tun_link.get('rx_packets', '?')}; decap.py: "
                  + (" ".join(f"{k}={v}" for k, v in d.items()) or "no counters in decap.log"))

    checks.report("tcp_pmtu_lowered", client_mtu == TUNNEL_MTU,
                  f"after the 1 MB upload the client holds path MTU {client_mtu} for {L.VIP} "
                  f"(want {TUNNEL_MTU}: the director's fragmentation-needed for 1500-byte segments)")
    checks.report("frag_needed_and_fragments_counted",
                  w.get("icmp_frag_needed", 0) >= 2 and w.get("drop_too_big_df", 0) == w.get("icmp_frag_needed")
                  and w.get("tunnel_fragments", 0) >= 2 and w.get("drop_fragmentation_failed", 1) == 0,
                  L.show(w, "icmp_frag_needed", "drop_too_big_df", "tunnel_fragments", "drop_fragmentation_failed")
                  + " (want >= 2 frag-needed, one per refused packet: the UDP probe and the upload's; "
                    ">= 2 fragments: the datagram without DF)")
    return checks.summary()


if __name__ == "__main__":
    L.main_guard(main)
