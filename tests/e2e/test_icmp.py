#!/usr/bin/python3
"""End-to-end test of ICMP errors related to a connection, with the clients' and real servers' own
kernels judging the result.

  NAT (conf/lab-nat.yaml): a real server answers the client's datagram with ICMP
  fragmentation-needed (MTU 1200), as a router with a smaller MTU would. The director must send it
  on from the VIP, quoting client -> VIP: the client's kernel then matches it to the connected socket
  (EMSGSIZE in its error queue) and caches path MTU 1200 for the VIP. A capture on cli-eth shows the
  rewritten packet and its checksums. The other way, the client's ICMP port-unreachable about an
  answer from the VIP must reach the real server quoting the real server's own address.

  TUN (conf/lab-tun.yaml): the tunnel path is narrower: rs5 answers the director's IPIP packet with
  fragmentation-needed (MTU 1300). The director must tell the client MTU 1280 (1300 less the
  outer header), from the VIP.

  Mixed (conf/lab-mixed.yaml): the client's port-unreachable about an answer from the VIP goes to
  the real server that sent it, by that real server's method: rewritten to rs1 (NAT), unchanged
  to rs4's MAC (DR), unchanged inside IPIP to rs5 (TUN).

Run as root from anywhere: /usr/bin/python3 tests/e2e/test_icmp.py
Prints one PASS/FAIL line per check and `icmp: N passed, N failed`; exits 1 if any check failed.
Logs: $FULCRUM_LAB_DIR (default /tmp/fulcrum-lab): director-icmp-*.log, icmp-nat.pcap.
"""

import os
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the work tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import packet_tool  # noqa: E402
import lablib as L  # noqa: E402

NAT_RS = ["rs1", "rs2", "rs3"]
NAT_MTU = 1200   # Linux accepts down to 552 (min_pmtu)
TUN_PATH_MTU = 1300
NAT_CHECKS = ["nat_pmtu_not_cached_before", "nat_frag_needed_to_client", "nat_pmtu_learned",
              "nat_frag_needed_capture", "nat_unreachable_to_real_server"]
TUN_CHECKS = ["tun_path_frag_needed"]
MIXED = {"rs1": "nat", "rs4": "dr", "rs5": "tun"}
MIXED_CHECKS = [f"unreachable_to_{rs}_{m}" for rs, m in MIXED.items()]


def sniffers(command, *args):
    """The same packet_tool command on each NAT real server's link; those that started."""
    started = []
    for rs in NAT_RS:
        b = L.Background(f"fl-{rs}", L.PY, L.PACKET_TOOL, command, "--iface", f"{rs}-eth", *args)
        if b.start():
            started.append((rs, b))
        else:
            b.finish(limit=2, terminate=True)
    return started


def seen_by(started, limit=5.0):
    """(real server, report) of the one sniffer that saw something, or (None, reports). A sniffer
    that sees its packet exits at once; the others are stopped once one has, or after `limit`."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline and all(b.proc.poll() is None for _, b in started):
        time.sleep(0.05)
    time.sleep(0.2)  # a second hit would be a bug worth seeing
    results = {rs: b.finish(limit=5, terminate=True) for rs, b in started}
    hits = [(rs, r) for rs, r in results.items() if r.get("ok")]
    if len(hits) == 1:
        return hits[0]
    return None, {"error": f"{len(hits)} of {len(started)} real servers saw it: "
                           + "; ".join(f"{rs}: {r.get('error') or r.get('seen')}" for rs, r in results.items())}


def nat_checks(checks):
    L.flush_route_cache()
    before = L.route_mtu(L.VIP)
    checks.report("nat_pmtu_not_cached_before", before is None,
                  f"`ip route get {L.VIP}` in fl-client before: " + (f"mtu {before}" if before else "no mtu"))

    pcap = os.path.join(L.RUN_DIR, "icmp-nat.pcap")
    cap = L.capture("fl-client", "cli-eth", pcap, "icmp")
    cap_ok = cap.start()
    started = sniffers("frag-needed", "--port", "5353", "--marker", "icmp-nat", "--mtu", str(NAT_MTU),
                       "--wait", "8")
    probe = L.packet_tool("fl-client", "udp-probe", "--dst", L.VIP, "--port", "5353", "--marker", "icmp-nat",
                        "--df", "do", "--expect", "reply,error", "--wait", "4")
    rs, sent = seen_by(started)
    errs = probe.get("errors", [])
    e = errs[0] if errs else {}
    checks.report("nat_frag_needed_to_client",
                  probe.get("ok", False) and rs is not None and e.get("type") == 3 and e.get("code") == 4
                  and e.get("info") == NAT_MTU and e.get("offender") == L.VIP,
                  (f"{rs} saw {sent['seen']['packet']} and sent ICMP 3/4 MTU {NAT_MTU} to {sent['icmp_to']}; "
                   if rs else f"{sent['error']}; ")
                  + f"client socket {probe.get('local', '?')} -> {L.VIP}:5353 answered {probe.get('reply', '-')!r}, "
                  + (f"error queue: {e.get('error')} (ICMP {e.get('type')}/{e.get('code')}, MTU {e.get('info')}, "
                     f"from {e.get('offender')})" if e else "no ICMP error for the socket")
                  + (f"; {L.describe(probe, ('error', 'send_error'))}" if not probe.get("ok") else ""))

    mtu = L.route_mtu(L.VIP)
    checks.report("nat_pmtu_learned", mtu == NAT_MTU and probe.get("ip_mtu") == NAT_MTU,
                  f"`ip route get {L.VIP}`: mtu {mtu}; the socket's IP_MTU: {probe.get('ip_mtu')} (want {NAT_MTU})")

    cap.finish(limit=5, terminate=True)
    found = packet_tool.read_pcap_icmp(pcap) if cap_ok and os.path.exists(pcap) else []
    want_quote = (L.CLIENT_IP, L.VIP, 17)
    fn = [d for d in found if d["type"] == 3 and d["code"] == 4]
    good = [d for d in fn if d["src"] == L.VIP and d["dst"] == L.CLIENT_IP and d["mtu"] == NAT_MTU
            and (d.get("quoted_src"), d.get("quoted_dst"), d.get("quoted_proto")) == want_quote
            and d.get("quoted_dport") == 5353 and f"{L.CLIENT_IP}:{d.get('quoted_sport')}" == probe.get("local")
            and d["icmp_checksum_ok"] and d["ip_checksum_ok"] and d["quoted_ip_checksum_ok"]]
    checks.report("nat_frag_needed_capture", cap_ok and len(fn) == 1 and len(good) == 1,
                  ("; ".join(f"{d['src']} > {d['dst']} ICMP {d['type']}/{d['code']} mtu {d['mtu']} quoting "
                             f"{d.get('quoted_src')}:{d.get('quoted_sport')} > {d.get('quoted_dst')}:"
                             f"{d.get('quoted_dport')}, checksums icmp/ip/quoted ip "
                             f"{d['icmp_checksum_ok']}/{d['ip_checksum_ok']}/{d['quoted_ip_checksum_ok']}"
                             for d in fn) or "no fragmentation-needed captured")
                  + f" (on cli-eth, {pcap})" if cap_ok else f"tcpdump did not start: {cap.first or 'no output'}")

    # The other way: the client refuses an answer from the VIP; its real server must hear of it,
    # about its own address and port.
    started = sniffers("expect-icmp", "--type", "3", "--code", "3", "--wait", "6")
    sent = L.packet_tool("fl-client", "udp-then-unreach", "--dst", L.VIP, "--port", "5353", "--wait", "3")
    rs, got = seen_by(started)
    answered_by = sent.get("reply", "").partition(":")[0]
    client_port = sent.get("client", ":").rpartition(":")[2]
    ok = (sent.get("ok", False) and rs is not None and rs == answered_by and got.get("src") == L.CLIENT_IP
          and got.get("dst") == L.RS_IP[rs] and got.get("quoted_src") == L.RS_IP[rs]
          and got.get("quoted_sport") == 5353 and got.get("quoted_dst") == L.CLIENT_IP
          and str(got.get("quoted_dport")) == client_port and got.get("icmp_checksum_ok")
          and got.get("quoted_ip_checksum_ok"))
    checks.report("nat_unreachable_to_real_server", ok,
                  f"client got {sent.get('reply', '-')!r} and sent port-unreachable quoting {sent.get('quoted', '-')}; "
                  + (f"{rs} received {got['src']} > {got['dst']} ICMP 3/3 quoting {got.get('quoted_src')}:"
                     f"{got.get('quoted_sport')} > {got.get('quoted_dst')}:{got.get('quoted_dport')}, checksums "
                     f"icmp/quoted ip {got.get('icmp_checksum_ok')}/{got.get('quoted_ip_checksum_ok')}"
                     if rs else got["error"])
                  + (f"; {sent.get('error')}" if not sent.get("ok") else ""))


def tun_checks(checks):
    L.flush_route_cache()
    b = L.Background("fl-rs5", L.PY, L.PACKET_TOOL, "frag-needed", "--iface", "rs5-eth", "--tunnel", "--port", "5353",
                     "--marker", "icmp-tun", "--mtu", str(TUN_PATH_MTU), "--wait", "8")
    started = b.start()
    probe = L.packet_tool("fl-client", "udp-probe", "--dst", L.VIP, "--port", "5353", "--marker", "icmp-tun",
                        "--df", "do", "--expect", "reply,error", "--wait", "4")
    sent = b.finish(limit=15) if started else {"ok": False, "error": "the sniffer in fl-rs5 did not start"}
    errs = probe.get("errors", [])
    e = errs[0] if errs else {}
    mtu = L.route_mtu(L.VIP)
    want = TUN_PATH_MTU - 20
    checks.report("tun_path_frag_needed",
                  sent.get("ok", False) and probe.get("ok", False) and e.get("type") == 3 and e.get("code") == 4
                  and e.get("info") == want and e.get("offender") == L.VIP and mtu == want,
                  (f"rs5 saw {sent['seen']['outer']} carrying {sent['seen']['inner']} and sent ICMP 3/4 MTU "
                   f"{TUN_PATH_MTU} to {sent['icmp_to']}; " if sent.get("ok") else f"{sent.get('error')}; ")
                  + f"client answered {probe.get('reply', '-')!r}, error queue: "
                  + (f"{e.get('error')} (ICMP {e.get('type')}/{e.get('code')}, MTU {e.get('info')}, from "
                     f"{e.get('offender')})" if e else "nothing")
                  + f"; `ip route get {L.VIP}`: mtu {mtu} (want {want} from {L.VIP})")


def mixed_checks(checks):
    started = {}
    for rs, method in MIXED.items():
        args = ["--tunnel"] if method == "tun" else []
        b = L.Background(f"fl-{rs}", L.PY, L.PACKET_TOOL, "expect-icmp", "--iface", f"{rs}-eth", "--type", "3",
                         "--code", "3", "--wait", "8", *args)
        started[rs] = b if b.start() else None
    # Three new connections in a row: rr gives one to each real server.
    sent = {}
    for _ in MIXED:
        r = L.packet_tool("fl-client", "udp-then-unreach", "--dst", L.VIP, "--port", "5353", "--wait", "3")
        sent[r.get("reply", "").partition(":")[0] or f"failed{len(sent)}"] = r
    for rs, method in MIXED.items():
        b = started[rs]
        got = b.finish(limit=10) if b else {"ok": False, "error": f"the sniffer in fl-{rs} did not start"}
        s = sent.get(rs, {})
        client_port = s.get("client", ":").rpartition(":")[2]
        # NAT: to the real server's own address, quoting it; DR and TUN: as the client sent it.
        dst = L.RS_IP[rs] if method == "nat" else L.VIP
        ok = (s.get("ok", False) and got.get("ok", False) and got.get("src") == L.CLIENT_IP and got.get("dst") == dst
              and got.get("quoted_src") == dst and got.get("quoted_sport") == 5353
              and got.get("quoted_dst") == L.CLIENT_IP and str(got.get("quoted_dport")) == client_port
              and got.get("icmp_checksum_ok") and got.get("quoted_ip_checksum_ok")
              and got.get("outer") == (f"{L.DIR_EXT_IP} -> {L.RS_IP[rs]}" if method == "tun" else None))
        checks.report(f"unreachable_to_{rs}_{method}", ok,
                      (f"client got {s.get('reply')!r} and sent port-unreachable quoting {s.get('quoted')}; "
                       if s.get("ok") else f"no answer from {rs} to complain about ({s.get('error', 'not reached')}); ")
                      + (f"{rs} received " + (f"IPIP {got['outer']} carrying " if got.get("outer") else "")
                         + f"{got['src']} > {got['dst']} ICMP 3/3 quoting {got.get('quoted_src')}:"
                         f"{got.get('quoted_sport')} > {got.get('quoted_dst')}:{got.get('quoted_dport')}"
                         if got.get("ok") else got.get("error", "nothing"))
                      + (f" (want {L.CLIENT_IP} > {dst} quoting {dst}:5353 > {L.CLIENT_IP}:{client_port}"
                         + (f" inside IPIP {L.DIR_EXT_IP} -> {L.RS_IP[rs]}" if method == "tun" else "") + ")"
                         if not ok else ""))


def run_director(checks, name, config, body, names):
    director = L.Director(f"icmp-{name}", config)
    director.start()
    ready, detail = director.wait_ready()
    checks.report(f"{name}_director_ready", ready, detail)
    if ready:
        body(checks)
    else:
        for n in names:
            checks.report(n, False, "director not ready")
    return director, director.stop()


def main():
    checks = L.Checks("icmp")
    if os.geteuid() != 0:
        checks.report("root", False, "the lab needs root")
        return checks.summary()
    if L.STANDIN:
        checks.skip("all", "the director's ICMP handling is the subject")
        return checks.summary()
    try:
        with L.Lab():
            nat, nat_code = run_director(checks, "nat", L.LAB_CONF, nat_checks, NAT_CHECKS)
            tun, tun_code = run_director(checks, "tun", L.LAB_TUN_CONF, tun_checks, TUN_CHECKS)
            mixed, mixed_code = run_director(checks, "mixed", L.LAB_MIXED_CONF, mixed_checks, MIXED_CHECKS)
    except RuntimeError as e:
        checks.report("lab", False, str(e))
        return checks.summary()

    checks.report("sigterm_exit_0", nat_code == 0 and tun_code == 0 and mixed_code == 0,
                  f"nat: {L.stop_outcome(nat_code, nat)}, tun: {L.stop_outcome(tun_code, tun)}, "
                  f"mixed: {L.stop_outcome(mixed_code, mixed)}")
    wn, wt, wm = nat.worker_totals(), tun.worker_totals(), mixed.worker_totals()
    checks.report("related_counted",
                  wn.get("icmp_related", 0) == 2 and wt.get("icmp_related", 0) == 1
                  and wt.get("icmp_frag_needed", 0) == 1 and wm.get("icmp_related", 0) == 3
                  and all(w.get("drop_icmp_unhandled", 1) == 0 for w in (wn, wt, wm)),
                  f"nat: {L.show(wn, 'icmp_related', 'drop_icmp_unhandled')} (want 2: one each way); "
                  f"tun: {L.show(wt, 'icmp_related', 'icmp_frag_needed', 'drop_icmp_unhandled')} (want 1, 1); "
                  f"mixed: {L.show(wm, 'icmp_related', 'drop_icmp_unhandled')} (want 3)")
    return checks.summary()


if __name__ == "__main__":
    L.main_guard(main)
