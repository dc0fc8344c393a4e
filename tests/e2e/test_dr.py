#!/usr/bin/python3
"""End-to-end DR test: the real director forwards by direct routing (conf/lab-dr.yaml) to rs4, which
shares the client's link, holds the VIP on lo and answers the client itself.

Run as root from anywhere: /usr/bin/python3 tests/e2e/test_dr.py
Prints one PASS/FAIL line per check and `dr: N passed, N failed`; exits 1 if any check failed.
Logs: $FULCRUM_LAB_DIR (default /tmp/fulcrum-lab): director-dr.log, rs4.log.
"""

import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the work tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lablib as L  # noqa: E402

RS = "rs4"
RS_DEV = "rs4-eth"


def main():
    checks = L.Checks("dr")
    if not L.can_run_beyond_nat(checks):
        return checks.summary()
    checks.report("check_config", *L.check_config(L.LAB_DR_CONF))
    # The packet reaches a DR real server unchanged: it must listen on the virtual port, on the link.
    checks.report("check_port_change_refused", *L.check_config_refused(
        L.LAB_DR_CONF, "lab-dr-port", "{ address: 198.18.0.14, port: 80,", "{ address: 198.18.0.14, port: 8080,",
        "differs from the virtual port 80; dr forwarding cannot change the port"))
    checks.report("check_off_link_refused", *L.check_config_refused(
        L.LAB_DR_CONF, "lab-dr-offlink", "{ address: 198.18.0.14, port: 80,", "{ address: 192.0.2.14, port: 80,",
        "for dr forwarding"))

    director = L.Director("dr", L.LAB_DR_CONF)
    try:
        with L.Lab():
            director.start()
            ready, detail = director.wait_ready()
            checks.report("director_ready", ready, detail)
            if ready:
                got, sent = L.ping(L.VIP)
                checks.report("ping_vip", got > 0, f"{got}/{sent} echo replies from {L.VIP} (the director)")
                L.direct_traffic_checks(checks, RS)
            else:
                for n in ["ping_vip"] + L.DIRECT_TRAFFIC_CHECKS:
                    checks.report(n, False, "director not ready")
            code = director.stop()
            # Read while the lab is up: what rs4's kernel sent, the director never saw.
            rs_link = L.link_stats(f"fl-{RS}", RS_DEV)
    except RuntimeError as e:
        checks.report("lab", False, str(e))
        director.stop()
        return checks.summary()

    checks.report("sigterm_exit_0", code == 0, L.stop_outcome(code, director))
    w = director.worker_totals()
    # DR: the director sees only the client's half of each connection. Every answer (the 1 MB
    # download alone is some 700 segments) goes from rs4 to the client over the bridge.
    checks.report("answers_bypass_director",
                  bool(w) and w.get("replies") == 0 and w.get("to_real_server", 0) > 0
                  and rs_link.get("tx_packets", 0) > 700,
                  f"director ({w.get('workers')} worker(s)): "
                  f"{L.show(w, 'to_real_server', 'replies', 'connections_created')}; "
                  f"{RS_DEV} sent {rs_link.get('tx_packets', '?')} packets to the client directly"
                  if w else f"no `stats worker=N` line; {director.tail()}")
    checks.report("no_drops_on_the_way_in",
                  bool(w) and all(w.get(f"drop_{k}", 1) == 0 for k in
                                  ("no_route", "neighbor_unresolved", "tx_full", "tcp_not_syn", "no_real_server")),
                  L.show(w, "drop_no_route", "drop_neighbor_unresolved", "drop_tx_full", "drop_tcp_not_syn",
                         "drop_no_real_server") if w else "no `stats worker=N` line")
    return checks.summary()


if __name__ == "__main__":
    L.main_guard(main)
