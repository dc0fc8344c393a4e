#!/usr/bin/python3
"""End-to-end test of two Fulcrum directors behind a router's ECMP, each announcing the VIP by BGP
through BIRD (docs/ecmp.md), with real clients and servers in the veth lab.

The test adds a router and a far client to the lab: fl-router (198.18.0.254 on the client's
switch, 10.99.0.1 towards fl-far) runs BIRD with BGP and BFD to both directors, `merge paths on`,
and the kernel's L4 multipath hash (fib_multipath_hash_policy=1); fl-far (10.99.0.2) is the client.
Director A is fl-dir (198.18.0.1), B is fl-dir2 (198.18.0.5); each runs BIRD with conf/bird.conf
(B's with its own address). The service: VIP:80, mh with mh-port over rs4 (DR) and rs5 (TUN),
whose answers go to the far client by the router; `dataplane.sloppy_tcp`, `announce: { table: 100 }`.
Beside it, the IPv6 VIP [2001:db8:18::100]:80, tunnelled to the same real servers with the same
checks: each director's ext also has an IPv6 address (A 2001:db8:18::1, B 2001:db8:18::5, the
router 2001:db8:18::fe), and BIRD announces the VIP's /128 over an IPv6 BGP session (conf/bird.conf's
`ecmp_router6`) into the router's IPv6 multipath route.

Three rounds, each with both directors (and their BIRD) started afresh:
  mh         mh with mh-port and sloppy_tcp, no sync:
    bgp        the router's kernel holds the VIP with two next hops, 198.18.0.1 and 198.18.0.5, and
               the IPv6 VIP with two, 2001:db8:18::1 and 2001:db8:18::5
    spread     200 new connections from fl-far: every one answered, and each director carries at
               least a quarter of them (its own `connections_created`)
    health     A's checks of both real servers fail (a check port only A uses): A withdraws the
               route, the router keeps B alone and new connections all go through B; back, two;
               the IPv6 VIP's next hops the same, B alone then both
    failover   12 downloads of 4 MB in flight at 1 MB/s; A killed with SIGKILL: the router keeps one
               next hop within 5 s (for the IPv6 VIP too), and every download completes byte for byte, those that were on
               A through B, which picks the same real servers and takes them up mid-stream
               (sloppy_connections)
  rr_sync    rr, sloppy_tcp off, connection sync (role both) on the internal link: the same
             failover, carried by the copies sync installed on B (sync_installed), none sloppily
  strict     mh, sloppy_tcp off, no sync: the downloads that were on A break, B drops their packets
             as tcp_not_syn (IPVS's behaviour without sloppy_tcp)

Run as root: /usr/bin/python3 tests/e2e/test_ecmp.py   (FULCRUM_BIN picks the directors)
Prints one PASS/FAIL line per check and `ecmp: N passed, N failed`; exits 1 if any check failed.
Logs: $FULCRUM_LAB_DIR (default /tmp/fulcrum-lab): director-ecmp-*.log, bird-ecmp-*.log.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the work tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lablib as L  # noqa: E402

VIP, VIP6 = L.VIP, "2001:db8:18::100"
ROUTER, FAR, FAR_NET = "198.18.0.254", "10.99.0.2", "10.99.0.0/24"
ROUTER6 = "2001:db8:18::fe"
DIRECTORS = {"a": ("fl-dir", "dir-ext", "dir-int", "198.18.0.1", "198.19.0.1"),
             "b": ("fl-dir2", "dir2-ext", "dir2-int", "198.18.0.5", "198.19.0.5")}
DIRECTORS6 = {"a": "2001:db8:18::1", "b": "2001:db8:18::5"}  # on ext, beside the IPv4 address
RS = {4: "198.18.0.14", 5: "198.18.0.15"}
CHECK_PORT_A = 8080  # A checks its real servers here, B on :80: A alone can be made to fail
BIRD_CONF = os.path.join(L.REPO, "conf", "bird.conf")
CLIENT_PY = os.path.join(L.REPO, "tests", "e2e", "client.py")


def sh(*cmd, timeout=10):
    r = L.run(list(cmd), timeout)
    return r.returncode == 0, (r.stderr or r.stdout).strip()


def router_up():
    """fl-router and fl-far, joined to the lab's client switch; rs4 and rs5 answer the far client
    through the router. Returns "" or what failed."""
    steps = [
        ["ip", "netns", "add", "fl-router"], ["ip", "netns", "add", "fl-far"],
        ["ip", "-n", "fl-swx", "link", "add", "swx-rtr", "type", "veth", "peer", "name", "rtr-ext", "netns", "fl-router"],
        ["ip", "-n", "fl-swx", "link", "set", "swx-rtr", "master", "brx", "up"],
        ["ip", "-n", "fl-router", "link", "add", "rtr-far", "type", "veth", "peer", "name", "far-eth", "netns", "fl-far"],
        ["ip", "-n", "fl-router", "addr", "add", f"{ROUTER}/24", "dev", "rtr-ext"],
        ["ip", "-n", "fl-router", "addr", "add", "10.99.0.1/24", "dev", "rtr-far"],
        ["ip", "-n", "fl-far", "addr", "add", f"{FAR}/24", "dev", "far-eth"],
    ]
    for args in steps:
        ok, err = sh(*args)
        if not ok:
            return f"{' '.join(args)}: {err}"
    for ns, devs in (("fl-router", ("lo", "rtr-ext", "rtr-far")), ("fl-far", ("lo", "far-eth"))):
        for dev in devs:
            for flag in ("tx", "tso", "gso", "gro"):
                L.run(["ip", "netns", "exec", ns, "ethtool", "-K", dev, flag, "off"], 5)
            sh("ip", "-n", ns, "link", "set", dev, "up")
    for flag in ("tx", "tso", "gso", "gro"):
        L.run(["ip", "netns", "exec", "fl-swx", "ethtool", "-K", "swx-rtr", flag, "off"], 5)
    # IPv6 on rtr-ext alone, for the BGP sessions of the IPv6 VIP (no duplicate-address detection:
    # the address is usable at once).
    for args in (["ip", "netns", "exec", "fl-router", "sysctl", "-qw", "net.ipv4.ip_forward=1",
                  "net.ipv4.fib_multipath_hash_policy=1", "net.ipv6.fib_multipath_hash_policy=1",
                  "net.ipv6.conf.all.disable_ipv6=1"],
                 ["ip", "netns", "exec", "fl-router", "sysctl", "-qw", "net.ipv6.conf.rtr-ext.disable_ipv6=0",
                  "net.ipv6.conf.rtr-ext.accept_dad=0", "net.ipv6.conf.rtr-ext.accept_ra=0"],
                 ["ip", "-n", "fl-router", "-6", "addr", "add", f"{ROUTER6}/64", "dev", "rtr-ext", "nodad"],
                 ["ip", "-n", "fl-far", "route", "add", "default", "via", "10.99.0.1"],
                 ["ip", "-n", "fl-rs4", "route", "add", FAR_NET, "via", ROUTER],
                 ["ip", "-n", "fl-rs5", "route", "add", FAR_NET, "via", ROUTER]):
        ok, err = sh(*args)
        if not ok:
            return f"{' '.join(args)}: {err}"
    return ""


def router_down():
    for ns in ("fl-router", "fl-far"):
        for pid in L.run(["ip", "netns", "pids", ns], 5).stdout.split():
            L.run(["kill", "-9", pid], 5)
        L.run(["ip", "netns", "del", ns], 10)


def router_bird_conf():
    path = os.path.join(L.RUN_DIR, "bird-ecmp-router.conf")
    with open(path, "w") as f:
        f.write(f"""log stderr all;
router id {ROUTER};
protocol device {{ scan time 10; }}
protocol kernel {{
    merge paths on;
    ipv4 {{ import none; export all; }};
}}
protocol kernel {{
    merge paths on;
    ipv6 {{ import none; export all; }};
}}
protocol bfd {{
    interface "rtr-ext" {{ min rx interval 100 ms; min tx interval 100 ms; multiplier 3; }};
}}
template bgp director {{
    local {ROUTER} as 65000;
    hold time 3; keepalive time 1; connect retry time 1;
    error wait time 1, 5;    # a director back from the dead is taken again in seconds, not minutes
    bfd on;
    debug {{ states }};
    ipv4 {{ import all; export none; }};
}}
protocol bgp director_a from director {{ neighbor {DIRECTORS['a'][3]} as 65010; }}
protocol bgp director_b from director {{ neighbor {DIRECTORS['b'][3]} as 65010; }}
template bgp director6 {{
    local {ROUTER6} as 65000;
    hold time 3; keepalive time 1; connect retry time 1;
    error wait time 1, 5;
    bfd on;
    debug {{ states }};
    ipv6 {{ import all; export none; next hop prefer global; }};
}}
protocol bgp director_a6 from director6 {{ neighbor {DIRECTORS6['a']} as 65010; }}
protocol bgp director_b6 from director6 {{ neighbor {DIRECTORS6['b']} as 65010; }}
""")
    return path


def director_bird_conf(side):
    """conf/bird.conf as shipped for A; B's with its own address."""
    text = open(BIRD_CONF).read()
    if side == "b":
        text = text.replace(DIRECTORS["a"][3] + ";", DIRECTORS["b"][3] + ";").replace(
            f"local {DIRECTORS['a'][3]} ", f"local {DIRECTORS['b'][3]} ").replace(
            f"local {DIRECTORS6['a']} ", f"local {DIRECTORS6['b']} ")
    path = os.path.join(L.RUN_DIR, f"bird-ecmp-{side}.conf")
    with open(path, "w") as f:
        f.write(text)
    return path


def bird(name, ns, conf):
    sock = os.path.join(L.RUN_DIR, f"bird-ecmp-{name}.ctl")
    d = L.Daemon(f"bird-ecmp-{name}", ns, "bird", "-f", "-c", conf, "-s", sock, "-P",
                 os.path.join(L.RUN_DIR, f"bird-ecmp-{name}.pid"))
    d.sock = sock
    return d


# The three ways the directors run: (name, scheduler, sloppy_tcp, sync, flows survive a director's loss).
SCENARIOS = [("mh", "mh", True, False, True),        # hashing and sloppy_tcp carry the flows
             ("rr_sync", "rr", False, True, True),   # connection sync carries them
             ("strict", "mh", False, False, False)]  # neither: the moved flows break, as IPVS's


def director_config(side, scheduler="mh", sloppy=True, sync=False):
    ns, ext, inner, ext_ip, int_ip = DIRECTORS[side]
    check_port = CHECK_PORT_A if side == "a" else 80
    flags = "\n    scheduler_flags: [mh-port]" if scheduler == "mh" else ""
    sync_section = "\nsync: { role: both, interface: int, syncid: 1, full_refresh: 10 }\n" if sync else ""
    text = f"""# generated by tests/e2e/test_ecmp.py: director {side.upper()} behind the router's ECMP
dataplane:
  workers: 1
  eal: ["--no-huge", "-m", "512", "--file-prefix", "fulcrum-ecmp-{side}", "--no-pci"]
  sloppy_tcp: {"true" if sloppy else "false"}

interfaces:
  - {{ name: ext, device: "net_af_packet0,iface={ext}", address: [{ext_ip}/24, "{DIRECTORS6[side]}/64"] }}
  - {{ name: int, device: "net_af_packet1,iface={inner}", address: {int_ip}/24 }}

routes:
  - {{ dst: {FAR_NET}, via: {ROUTER} }}

announce: {{ table: 100 }}
console: {{ listen: "127.0.0.1:9023", socket: "/run/fulcrum/ecmp-{side}.sock" }}
{sync_section}
services:
  - vip: {VIP}
    port: 80
    protocol: tcp
    scheduler: {scheduler}{flags}
    health_check: {{ type: tcp, port: {check_port}, interval: 1, timeout: 0.5, fall: 2, rise: 2 }}
    real_servers:
      - {{ address: {RS[4]}, port: 80, weight: 1, forward: dr }}
      - {{ address: {RS[5]}, port: 80, weight: 1, forward: tun }}
  - vip: "{VIP6}"
    port: 80
    protocol: tcp
    scheduler: {scheduler}{flags}
    forward: tun
    health_check: {{ type: tcp, port: {check_port}, interval: 1, timeout: 0.5, fall: 2, rise: 2 }}
    real_servers:
      - {{ address: {RS[4]}, port: 80, weight: 1 }}
      - {{ address: {RS[5]}, port: 80, weight: 1 }}
"""
    path = os.path.join(L.RUN_DIR, f"ecmp-{side}.yaml")
    with open(path, "w") as f:
        f.write(text)
    return path


def vip_next_hops(vip=VIP):
    """The router kernel's next hops for `vip` (a list of gateway addresses)."""
    r = L.in_ns("fl-router", "ip", "-j", "-6" if ":" in vip else "-4", "route", "show", vip)
    try:
        routes = json.loads(r.stdout or "[]")
    except ValueError:
        return []
    hops = []
    for route in routes:
        if "nexthops" in route:
            hops += [h.get("gateway") for h in route["nexthops"]]
        elif route.get("gateway"):
            hops.append(route["gateway"])
    return sorted(hops)


def wait_hops(want, limit, vip=VIP):
    start = time.monotonic()
    while True:
        hops = vip_next_hops(vip)
        if hops == sorted(want) or time.monotonic() - start > limit:
            return hops == sorted(want), time.monotonic() - start, hops
        time.sleep(0.1)


def far_client(*args, timeout=3.0, limit=60):
    r = L.run(["ip", "netns", "exec", "fl-far", L.PY, CLIENT_PY, "--timeout", str(timeout), *args], limit)
    try:
        return json.loads(r.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        return {"ok": False, "error": f"client exited {r.returncode}: {(r.stderr or r.stdout).strip()[-300:]}"}


def created(side):
    """The director's connections_created so far (show workers' total)."""
    try:
        con = L.Console(ns=DIRECTORS[side][0])
    except OSError:
        return None
    try:
        for line in con.cmd("show workers"):
            if line.startswith("connections_created"):
                return int(line.split()[-1])
    finally:
        con.close()
    return None


DOWNLOADS, DOWNLOAD_SIZE, DOWNLOAD_RATE = 12, 4 * 1024 * 1024, 1024 * 1024  # each takes about 4 s


def downloads(count, deadline):
    """`count` rate-limited downloads from the far client, each in the background."""
    out = []
    for _ in range(count):
        bg = L.Background("fl-far", L.PY, CLIENT_PY, "--timeout", "10", "download", "--size", str(DOWNLOAD_SIZE),
                          "--rate", str(DOWNLOAD_RATE), "--deadline", str(deadline))
        bg.proc = subprocess.Popen(["ip", "netns", "exec", "fl-far", *bg.cmd], stdin=subprocess.DEVNULL,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
        out.append(bg)
        time.sleep(0.1)
    return out


def check_spread(checks):
    before = {side: created(side) for side in DIRECTORS}
    r = far_client("http", "--count", "200", "--deadline", "60", timeout=3, limit=90)
    after = {side: created(side) for side in DIRECTORS}
    carried = {side: (after[side] - before[side]) if None not in (after[side], before[side]) else None
               for side in DIRECTORS}
    ok = r.get("ok", False) and all(c is not None and c >= 50 for c in carried.values())
    checks.report("spread_over_both", ok, f"200 connections from {FAR}: answered {r.get('counts')}, "
                  f"{r.get('errors', [])[:2] or 'no errors'}; connections made by A {carried['a']}, by B {carried['b']} "
                  f"(want at least 50 each)")


def real_servers_listed(side):
    """The real servers `side` lists under the IPv4 VIP:80 (ipvsadm -L -n): those its health checks
    have up."""
    try:
        con = L.Console(ns=DIRECTORS[side][0])
        lines = con.cmd("ipvsadm -L -n")
        con.close()
    except (OSError, TimeoutError):
        return []
    listed, inside = [], False
    for line in lines:
        if line.startswith(("TCP", "UDP")):
            inside = line.startswith(f"TCP  {VIP}:80 ")
        elif inside and line.strip().startswith("->") and not line.strip().startswith("-> RemoteAddress"):
            listed.append(line.split()[1])
    return sorted(listed)


def check_failover(checks, directors, name, survive, sync):
    # Both directors must schedule over the same real servers: a flow A gives rs4 while its checks
    # still have rs5 down (A announces the VIP once one server is up) would go to rs5 on B. The
    # checks have rs5 up on A within a few seconds of rs4.
    want = sorted(f"{RS[n]}:80" for n in RS)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(real_servers_listed(side) != want for side in DIRECTORS):
        time.sleep(0.2)
    before = created("a")
    flows = downloads(DOWNLOADS, deadline=40 if survive else 12)
    time.sleep(2.0)  # every download under way on one director or the other
    on_a = created("a") - before if before is not None else None
    directors["a"].proc.kill()
    directors["a"].proc.wait(10)
    killed_at = time.monotonic()
    ok_hops, secs, hops = wait_hops([DIRECTORS["b"][3]], 5)
    ok_hops6, secs6, hops6 = wait_hops([DIRECTORS6["b"]], max(0.5, 5 - (time.monotonic() - killed_at)), VIP6)
    results = [bg.finish(limit=60) for bg in flows]
    done = [r.get("ok", False) and r.get("received") == DOWNLOAD_SIZE for r in results]
    checks.report(f"{name}.router_drops_the_dead_director", ok_hops and ok_hops6,
                  f"after SIGKILL of A: next hops {hops} within {secs:.1f} s of the kill; for {VIP6}: {hops6} "
                  f"{secs6:.1f} s after that")
    rows = {}
    try:
        con = L.Console(ns=DIRECTORS["b"][0])
        rows = {line.split()[0]: line.split()[-1] for line in con.cmd("show workers") if line.split()}
        con.close()
    except (OSError, TimeoutError):
        pass
    value = lambda k: int(rows.get(k, "0")) if rows.get(k, "0").isdigit() else 0  # noqa: E731
    sloppy, installed, not_syn = value("sloppy_connections"), value("sync_installed"), value("tcp_not_syn")
    summary = (f"{sum(done)}/{len(done)} downloads of {DOWNLOAD_SIZE} bytes complete and match the pattern "
               f"({[r.get('server') for r in results]}; {[r.get('error') for r in results if not r.get('ok')]}); "
               f"{on_a} went through A; on B: sloppy_connections {sloppy}, sync_installed {installed}, dropped as "
               f"tcp_not_syn {not_syn}; over {time.monotonic() - killed_at:.1f} s after the kill")
    if survive:
        # What carried the moved flows: sloppy_tcp's new connections, or the copies sync installed.
        carried = installed > 0 and sloppy == 0 if sync else sloppy > 0
        checks.report(f"{name}.downloads_survive_failover", bool(on_a) and all(done) and carried, summary)
    else:
        # The flows that were on A break on B, whose mid-flow packets are dropped and counted.
        broken = len(done) - sum(done)
        checks.report(f"{name}.moved_flows_break", bool(on_a) and broken > 0 and broken <= on_a and not_syn > 0
                      and sloppy == 0, summary)


def check_health_withdraws(checks, checked):
    for e in checked:
        e.stop()
    ok_off, secs_off, hops_off = wait_hops([DIRECTORS["b"][3]], 10)
    ok_off6, secs_off6, hops_off6 = wait_hops([DIRECTORS6["b"]], 3, VIP6)
    before = {side: created(side) for side in DIRECTORS}
    r = far_client("http", "--count", "40", "--deadline", "30", timeout=3, limit=60)
    after = {side: created(side) for side in DIRECTORS}
    for e in checked:
        e.start()
    ok_on, secs_on, hops_on = wait_hops([DIRECTORS["a"][3], DIRECTORS["b"][3]], 15)
    ok_on6, secs_on6, hops_on6 = wait_hops(list(DIRECTORS6.values()), 5, VIP6)
    via_a = (after["a"] - before["a"]) if None not in (after["a"], before["a"]) else None
    checks.report("health_withdraws_the_route",
                  ok_off and ok_on and r.get("ok", False) and via_a == 0,
                  f"A's checks failing: next hops {hops_off} after {secs_off:.1f} s; 40 connections answered "
                  f"{r.get('counts')}, {via_a} of them made by A; checks back: {hops_on} after {secs_on:.1f} s")
    checks.report("health_withdraws_the_route6", ok_off6 and ok_on6,
                  f"{VIP6}: next hops {hops_off6} while A's checks fail ({secs_off6:.1f} s after IPv4's), "
                  f"{hops_on6} when they are back ({secs_on6:.1f} s after IPv4's)")


def main():
    checks = L.Checks("ecmp")
    if os.geteuid() != 0:
        checks.report("root", False, "the lab needs root")
        return checks.summary()
    if L.STANDIN:
        checks.skip("all", "ECMP needs the directors")
        return checks.summary()
    if shutil.which("bird") is None:
        checks.report("bird", False, "bird is not installed (tests/setup.sh installs bird2)")
        return checks.summary()
    t0 = time.monotonic()
    daemons, directors = [], {}
    with L.Lab():
        try:
            router_down()  # what a killed earlier run may have left
            problem = router_up()
            if problem:
                checks.report("router", False, problem)
                return checks.summary()
            checked = [L.ExtraRealServer(n, CHECK_PORT_A, 5354, name=f"rs{n}-check") for n in RS]
            for e in checked:
                e.start()
            router_bird = bird("router", "fl-router", router_bird_conf())
            router_bird.start()
            daemons.append(router_bird)
            for name, scheduler, sloppy, sync, survive in SCENARIOS:
                running = []
                try:
                    for side in ("a", "b"):
                        directors[side] = L.Director(f"ecmp-{name}-{side}", director_config(side, scheduler, sloppy, sync),
                                                     ns=DIRECTORS[side][0])
                        directors[side].start()
                        running.append(directors[side])
                        running.append(bird(f"{name}-{side}", DIRECTORS[side][0], director_bird_conf(side)))
                        running[-1].start()
                    ok, secs, hops = wait_hops([DIRECTORS["a"][3], DIRECTORS["b"][3]], 30)
                    checks.report(f"{name}.two_next_hops", ok,
                                  f"the router's route to {VIP} after {secs:.1f} s: next hops {hops}")
                    ok6, secs6, hops6 = wait_hops(list(DIRECTORS6.values()), 10, VIP6)
                    checks.report(f"{name}.two_next_hops6", ok6,
                                  f"the router's route to {VIP6} {secs6:.1f} s later: next hops {hops6}")
                    if not ok:
                        continue
                    if name == "mh":
                        check_spread(checks)
                        check_health_withdraws(checks, checked)
                    check_failover(checks, directors, name, survive, sync)
                finally:
                    for d in running:
                        d.stop()
                    # The router must have forgotten both before the next round counts next hops.
                    gone, _, left = wait_hops([], 10)
                    gone6, _, left6 = wait_hops([], 5, VIP6)
                    if not (gone and gone6):
                        checks.report(f"{name}.router_forgets", False,
                                      f"after the round the router still has {left} and {left6}")
        finally:
            for d in daemons:
                d.stop()
            router_down()
    L.log(f"test_ecmp ran {time.monotonic() - t0:.0f} s")
    return checks.summary()


if __name__ == "__main__":
    L.main_guard(main)
