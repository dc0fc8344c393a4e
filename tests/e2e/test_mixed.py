#!/usr/bin/python3
"""End-to-end test of one service with three forwarding methods (conf/lab-mixed.yaml): rs1 by NAT,
rs4 by DR, rs5 by TUN, round robin, in one run of the real director.

Run as root from anywhere: /usr/bin/python3 tests/e2e/test_mixed.py
Prints one PASS/FAIL line per check and `mixed: N passed, N failed`; exits 1 if any check failed.
Logs: $FULCRUM_LAB_DIR (default /tmp/fulcrum-lab): director-mixed.log, rs1.log, rs4.log, rs5.log, decap.log.
"""

import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the work tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lablib as L  # noqa: E402

SERVERS = ["rs1", "rs4", "rs5"]
METHOD = {"rs1": "nat", "rs4": "dr", "rs5": "tun"}
# Where each real server's connection ends: NAT rewrites the destination, DR and TUN do not.
LOCAL = {"rs1": f"{L.RS_IP['rs1']}:80", "rs4": f"{L.VIP}:80", "rs5": f"{L.VIP}:80"}
HTTP_COUNT = 30
CHECKS = ["http_rr_30", "client_address_per_method", "udp_echo_rr", "download_1mb_each", "upload_1mb_each"]


def traffic_checks(checks):
    r = L.client("http", "--count", str(HTTP_COUNT), "--deadline", "40", timeout=3, limit=60)
    counts = r.get("counts", {})
    spread = [counts.get(s, 0) for s in SERVERS]
    checks.report("http_rr_30", r.get("ok", False) and spread == [HTTP_COUNT // 3] * 3,
                  f"{r.get('answered', 0)}/{HTTP_COUNT} answered, rs1(nat)/rs4(dr)/rs5(tun) = "
                  f"{'/'.join(map(str, spread))} (want 10/10/10)"
                  + (f"; {L.describe(r, ('errors', 'error'))}" if not r.get("ok") else ""))

    r = L.conn(3, limit=20)
    answers = r.get("answers", [])
    good = {a["server"] for a in answers
            if a["server"] in LOCAL and a["peer"].startswith(L.CLIENT_IP + ":") and a["local"] == LOCAL[a["server"]]}
    checks.report("client_address_per_method", r.get("ok", False) and good == set(SERVERS),
                  "; ".join(f"{a['server']} ({METHOD.get(a['server'], '?')}) saw {a['peer']} -> {a['local']}"
                            for a in answers)
                  + (f" (want each of {', '.join(SERVERS)} seeing {L.CLIENT_IP}:*, the NAT one at its own "
                     f"address, DR and TUN at the VIP)" if good != set(SERVERS) else "")
                  + (f"; {L.describe(r, ('errors',))}" if not r.get("ok") else ""))

    r = L.client("udp", "--count", "3", "--payload", "mixed", timeout=2, limit=30)
    replies = r.get("replies", [])
    checks.report("udp_echo_rr", r.get("ok", False) and sorted(x.get("server") for x in replies) == SERVERS,
                  "; ".join(f"{x.get('sent')} -> {x.get('reply', x.get('error'))!r} from {x.get('from', '-')}"
                            for x in replies) or L.describe(r))

    # Three new connections in a row: one to each real server, whatever the cursor's position.
    got = [L.client("download", "--size", str(L.MB), "--deadline", "20", timeout=5, limit=40) for _ in SERVERS]
    checks.report("download_1mb_each",
                  all(x.get("ok") for x in got) and sorted(x.get("server") or "" for x in got) == SERVERS,
                  "; ".join(f"{x.get('server')}: {x.get('received', 0)}/{L.MB} bytes match" if x.get("ok")
                            else L.describe(x, ("error", "received", "offset", "status", "server")) for x in got))
    got = [L.client("upload", "--size", str(L.MB), "--seed", str(i + 1), timeout=5, limit=40)
           for i in range(len(SERVERS))]
    checks.report("upload_1mb_each",
                  all(x.get("ok") for x in got) and sorted(x.get("server") or "" for x in got) == SERVERS,
                  "; ".join(f"{x.get('server')}: sha256 matches" if x.get("ok")
                            else L.describe(x, ("error", "status", "sha256", "expected", "server")) for x in got))


def main():
    checks = L.Checks("mixed")
    if not L.can_run_beyond_nat(checks):
        return checks.summary()
    checks.report("check_config", *L.check_config(L.LAB_MIXED_CONF))

    director = L.Director("mixed", L.LAB_MIXED_CONF)
    links = {}
    try:
        with L.Lab():
            director.start()
            ready, detail = director.wait_ready()
            checks.report("director_ready", ready, detail)
            if ready:
                traffic_checks(checks)
            else:
                for n in CHECKS:
                    checks.report(n, False, "director not ready")
            code = director.stop()
            for s in SERVERS:
                links[s] = L.link_stats(f"fl-{s}", f"{s}-eth")
            links["tunl-dec"] = L.link_stats("fl-rs5", L.DECAP_DEV)
    except RuntimeError as e:
        checks.report("lab", False, str(e))
        director.stop()
        return checks.summary()

    checks.report("sigterm_exit_0", code == 0, L.stop_outcome(code, director))
    w = director.worker_totals()
    tx = {s: links.get(s, {}).get("tx_packets", 0) for s in SERVERS}
    # Only rs1's answers come back through the director (it counts them as replies): at most what
    # rs1 sent (ARP included). rs4's and rs5's answers, 1 MB downloads among them, go to the client
    # directly; rs5's requests came out of the decapsulator.
    checks.report("only_nat_answers_through_director",
                  bool(w) and 0 < w.get("replies", 0) <= tx["rs1"] and tx["rs4"] > 700 and tx["rs5"] > 700
                  and links["tunl-dec"].get("rx_packets", 0) > 0,
                  (f"director ({w.get('workers')} worker(s)): "
                   f"{L.show(w, 'to_real_server', 'replies', 'connections_created')}; "
                   f"sent by rs1-eth {tx['rs1']} (through the director), rs4-eth {tx['rs4']} and rs5-eth "
                   f"{tx['rs5']} (directly); {L.DECAP_DEV} received {links['tunl-dec'].get('rx_packets', '?')}")
                  if w else f"no `stats worker=N` line; {director.tail()}")
    return checks.summary()


if __name__ == "__main__":
    L.main_guard(main)
