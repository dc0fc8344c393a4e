#!/usr/bin/python3
"""End-to-end test of route health injection (`announce:`), with the real director and BIRD in the
veth lab. Three VIPs: 198.18.0.100:80 over rs1-rs3 (each checked by a TCP connect to its port 8080,
where the test runs or stops a second realserver.py; interval 1 s, fall 2, rise 2),
198.18.0.101:80 over rs1 and rs2, unchecked, and the IPv6 VIP [2001:db8:18::100]:80 tunnelled to
rs1-rs3 with the same checks (the director's ext has 2001:db8:18::1/64, so its TAP keeps IPv6).
`announce: { table: 100, quorum: 2 }`.

  config     --check accepts the file; table 254 (the kernel's main table) is refused at its line,
             and so is announcing over int, which has no IPv6 address for the IPv6 VIP's route
  routes     the IPv4 VIPs get `VIP dev fl-ext proto static scope link` in table 100 of fl-dir, the
             IPv6 one `VIP dev fl-ext proto static metric 1024 pref medium` (a /128)
  bird       BIRD with conf/bird.conf in fl-dir learns them into its tables `fulcrum` and
             `fulcrum6` (no BGP neighbour here: test_ecmp.py has the router)
  health     rs1's check fails: two of three left, still announced; rs2's fails too: one left, under
             the quorum, 198.18.0.100 and the IPv6 VIP withdrawn (from table 100 and from BIRD) while
             198.18.0.101 stays; rs2 back: announced again
  console    `set weight` 0 on two of the three of 198.18.0.100: withdrawn, the IPv6 VIP kept; back to
             1: announced; `show announce` says so
  reload     the file moved to table 200: table 100 empty, table 200 holds all three
  stop       SIGTERM: the routes go; started again and killed with SIGKILL: they go with the TAP

Run as root: /usr/bin/python3 tests/e2e/test_announce.py   (FULCRUM_BIN picks the director)
Prints one PASS/FAIL line per check and `announce: N passed, N failed`; exits 1 if any check failed.
Logs: $FULCRUM_LAB_DIR (default /tmp/fulcrum-lab): director-announce*.log, bird-announce.log,
announce*.yaml.
"""

import os
import re
import shutil
import signal
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the work tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lablib as L  # noqa: E402

VIP, VIP2, VIP6 = L.VIP, "198.18.0.101", "2001:db8:18::100"
ALL = {VIP, VIP2, VIP6}
RS = {1: "198.19.0.11", 2: "198.19.0.12", 3: "198.19.0.13"}
CHECK_PORT = 8080
BIRD_CONF = os.path.join(L.REPO, "conf", "bird.conf")
FALL_WITHIN = 2 * 1.0 + 3.0   # fall x interval, and the check's timeout and a publication
RISE_WITHIN = 2 * 1.0 + 3.0


def config_text(table=100, quorum=2):
    text = open(L.LAB_CONF).read()
    head = text[:text.index("\nservices:\n") + 1]
    ext = "address: 198.18.0.1/24 }"
    assert ext in head, f"{L.LAB_CONF}: no `{ext}` to give an IPv6 address"
    head = head.replace(ext, 'address: [198.18.0.1/24, "2001:db8:18::1/64"] }', 1)
    check = f"health_check: {{ type: tcp, port: {CHECK_PORT}, interval: 1, timeout: 0.5, fall: 2, rise: 2 }}"
    return (head + "services:\n"
            f"  - vip: {VIP}\n    port: 80\n    protocol: tcp\n    scheduler: rr\n    forward: nat\n"
            f"    {check}\n    real_servers:\n"
            + "".join(f"      - {{ address: {RS[n]}, port: 80, weight: 1 }}\n" for n in (1, 2, 3))
            + f"  - vip: {VIP2}\n    port: 80\n    protocol: tcp\n    scheduler: rr\n    forward: nat\n"
            f"    real_servers:\n      - {{ address: {RS[1]}, port: 80, weight: 1 }}\n"
            f"      - {{ address: {RS[2]}, port: 80, weight: 1 }}\n"
            f'  - vip: "{VIP6}"\n    port: 80\n    protocol: tcp\n    scheduler: rr\n    forward: tun\n'
            f"    {check}\n    real_servers:\n"
            + "".join(f"      - {{ address: {RS[n]}, port: 80, weight: 1 }}\n" for n in (1, 2, 3))
            + f"\nannounce: {{ table: {table}, quorum: {quorum} }}\n")


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


def routes(table):
    """The host routes of `table` in fl-dir, IPv4 and IPv6: {vip: the route's text}."""
    out = {}
    for family in ("-4", "-6"):
        r = L.in_ns("fl-dir", "ip", family, "route", "show", "table", str(table))
        for line in r.stdout.splitlines():
            m = re.match(r"(\d+\.\d+\.\d+\.\d+|[0-9a-f]*:[0-9a-f:]+) (.*)$", line.strip())
            if m:
                out[m.group(1)] = m.group(2)
    return out


def wait_routes(table, want, limit):
    """Until the set of VIPs routed in `table` is `want`: (ok, seconds, routes)."""
    start = time.monotonic()
    while True:
        now = routes(table)
        if set(now) == set(want):
            return True, time.monotonic() - start, now
        if time.monotonic() - start > limit:
            return False, time.monotonic() - start, now
        time.sleep(0.1)


class Bird(L.Daemon):
    """BIRD 2 with conf/bird.conf in fl-dir, in the foreground, its control socket in the run directory."""

    def __init__(self):
        self.sock = os.path.join(L.RUN_DIR, "bird-announce.ctl")
        super().__init__("bird-announce", "fl-dir", "bird", "-f", "-c", BIRD_CONF, "-s", self.sock, "-P",
                         os.path.join(L.RUN_DIR, "bird-announce.pid"))

    def start(self):
        return shutil.which("bird") is not None and super().start()

    def vips(self):
        """The /32 routes of BIRD's table `fulcrum` and the /128 ones of `fulcrum6`."""
        r = L.in_ns("fl-dir", "birdc", "-s", self.sock, "show", "route", "table", "fulcrum")
        r6 = L.in_ns("fl-dir", "birdc", "-s", self.sock, "show", "route", "table", "fulcrum6")
        return (set(re.findall(r"^(\d+\.\d+\.\d+\.\d+)/32", r.stdout, re.M))
                | set(re.findall(r"^([0-9a-f]*:[0-9a-f:]+)/128", r6.stdout, re.M)))

    def wait_vips(self, want, limit):
        start = time.monotonic()
        while True:
            now = self.vips()
            if now == set(want) or time.monotonic() - start > limit:
                return now == set(want), time.monotonic() - start, now
            time.sleep(0.2)


def check_routes_follow_availability(checks, director, conf_path, checked):
    ok, secs, now = wait_routes(100, ALL, 5)
    want_text = "dev fl-ext proto static scope link"
    checks.report("routes_at_start", ok and all(now.get(v) == want_text for v in (VIP, VIP2)),
                  f"table 100 after {secs:.1f} s: {now}")
    want6 = "dev fl-ext proto static metric 1024 pref medium"
    checks.report("ipv6_route_at_start", ok and now.get(VIP6) == want6,
                  f"table 100 after {secs:.1f} s: {VIP6} {now.get(VIP6)} (want `{want6}`)")

    bird = Bird()
    try:
        started = bird.start()
        ok, secs, seen = bird.wait_vips(ALL, 8) if started else (False, 0, set())
        checks.report("bird_learns_the_table", ok, f"BIRD's table fulcrum after {secs:.1f} s: {sorted(seen)}"
                      if started else "bird is not installed (tests/setup.sh installs bird2)")

        # Health: one of three down keeps the quorum of two; two down do not.
        checked[1].stop()
        time.sleep(FALL_WITHIN)
        kept = routes(100)
        rs1_down = f"real server {RS[1]}:80 is down" in director.text()
        checks.report("quorum_kept_with_two", rs1_down and set(kept) == ALL,
                      f"rs1's check failing (the director says it is down: {rs1_down}): table 100 {sorted(kept)}")
        checked[2].stop()
        ok, secs, now = wait_routes(100, {VIP2}, FALL_WITHIN + 2)
        bird_ok, bird_secs, seen = bird.wait_vips({VIP2}, 5) if started else (False, 0, set())
        logged = all(f"announce: VIP {v} withdrawn from table 100" in director.text() for v in (VIP, VIP6))
        checks.report("withdrawn_under_quorum", ok and bird_ok and logged,
                      f"rs2's fails too: table 100 {sorted(now)} after {secs:.1f} s, BIRD {sorted(seen)} "
                      f"{bird_secs:.1f} s later; logged: {logged}")
        checked[2].start()
        ok, secs, now = wait_routes(100, ALL, RISE_WITHIN + 2)
        bird_ok, bird_secs, seen = bird.wait_vips(ALL, 5) if started else (False, 0, set())
        checks.report("announced_again", ok and bird_ok,
                      f"rs2 back: table 100 {sorted(now)} after {secs:.1f} s, BIRD {sorted(seen)}")
        checked[1].start()
        wait_routes(100, ALL, RISE_WITHIN + 2)

        # The console: two of three at weight 0.
        con = L.Console()
        try:
            outs = [con.cmd(f"set weight {VIP}:80 {RS[n]}:80 0") for n in (1, 2)]
            ok_off, secs_off, now_off = wait_routes(100, {VIP2, VIP6}, 3)
            shown_off = con.cmd("show announce")
            outs += [con.cmd(f"set weight {VIP}:80 {RS[n]}:80 1") for n in (1, 2)]
            ok_on, secs_on, now_on = wait_routes(100, ALL, 3)
            shown_on = con.cmd("show announce")
        finally:
            con.close()
        checks.report("console_weights", all(o == ["ok"] for o in outs) and ok_off and ok_on,
                      f"weight 0 on rs1, rs2: table 100 {sorted(now_off)} after {secs_off:.1f} s; back to 1: "
                      f"{sorted(now_on)} after {secs_on:.1f} s")
        want_off = ["table 100 over ext (kernel interface fl-ext), quorum 2", "VIP               available  announced",
                    f"{VIP:<18}no         no", f"{VIP2:<18}yes        yes", f"{VIP6:<18}yes        yes"]
        want_on = want_off[:2] + [f"{VIP:<18}yes        yes", f"{VIP2:<18}yes        yes", f"{VIP6:<18}yes        yes"]
        checks.report("show_announce", shown_off == want_off and shown_on == want_on,
                      f"while withdrawn: {shown_off}; back: {shown_on}")

        # A reload to another table: the routes move.
        write(conf_path, config_text(table=200))
        director.proc.send_signal(signal.SIGHUP)
        ok200, secs, now200 = wait_routes(200, ALL, 5)
        ok100, _, now100 = wait_routes(100, set(), 2)
        checks.report("reload_moves_the_routes", ok200 and ok100,
                      f"table 200 {sorted(now200)} after {secs:.1f} s; table 100 {sorted(now100)}")
    finally:
        bird.stop()


def main():
    checks = L.Checks("announce")
    if os.geteuid() != 0:
        checks.report("root", False, "the lab needs root")
        return checks.summary()
    if L.STANDIN:
        checks.skip("all", "route announcement needs the director")
        return checks.summary()
    t0 = time.monotonic()
    os.makedirs(L.RUN_DIR, exist_ok=True)
    conf_path = write(os.path.join(L.RUN_DIR, "announce.yaml"), config_text())
    ok, detail = L.check_config(conf_path)
    checks.report("check_config", ok, detail)
    ok, detail = L.check_config_refused(conf_path, "announce-main", "announce: { table: 100,",
                                        "announce: { table: 254,", "announce.table: expected a routing table of the "
                                        "director's own, not 253 (default), 254 (main) or 255 (local), found 254")
    checks.report("check_main_table_refused", ok, detail)
    ok, detail = L.check_config_refused(conf_path, "announce-int", "quorum: 2 }", "quorum: 2, interface: int }",
                                        f"announce.interface: the route to IPv6 VIP {VIP6} needs IPv6 on kernel "
                                        f"interface fl-int, and interface int has no IPv6 address")
    checks.report("check_ipv6_needs_ipv6_interface", ok, detail)
    checked = {}
    try:
        with L.Lab():
            for n in (1, 2, 3):
                checked[n] = L.ExtraRealServer(n, CHECK_PORT, 5354, name=f"rs{n}-check")
                if not checked[n].start():
                    checks.report("check_servers", False, f"{checked[n].name} did not start")
                    return checks.summary()
            director = L.Director("announce", conf_path)
            director.start()
            ready, detail = director.wait_ready()
            checks.report("director_ready", ready, detail)
            if ready:
                check_routes_follow_availability(checks, director, conf_path, checked)
            code = director.stop()
            ok, secs, now = wait_routes(200, set(), 2)
            # The routes go before the workers stop (not only with the TAP, after them).
            logged = "announce: withdrew 3 route(s) from table 200 before stopping" in director.text()
            checks.report("sigterm_withdraws", code == 0 and ok and logged,
                          f"{L.stop_outcome(code, director)}; table 200 then {sorted(now)}; withdrawn before the "
                          f"workers stopped (logged): {logged}")

            write(conf_path, config_text())
            killed = L.Director("announce-kill", conf_path)
            killed.start()
            ready, _ = killed.wait_ready()
            before_ok, _, before = wait_routes(100, ALL, 5)
            if killed.proc is not None:
                killed.proc.kill()
                killed.proc.wait(10)
            ok, secs, now = wait_routes(100, set(), 3)
            checks.report("sigkill_withdraws", ready and before_ok and ok,
                          f"before: {sorted(before)}; after SIGKILL: {sorted(now)} within {secs:.1f} s (the kernel "
                          f"removed them with fl-ext)")
    except RuntimeError as e:
        checks.report("lab", False, str(e))
    finally:
        for e in checked.values():
            e.stop()
    L.log(f"test_announce ran {time.monotonic() - t0:.0f} s")
    return checks.summary()


if __name__ == "__main__":
    L.main_guard(main)
