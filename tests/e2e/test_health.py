#!/usr/bin/python3
"""End-to-end test of health checks and the kernel exception path, with the real director in the veth
lab and conf/lab-health.yaml: HTTP checks (GET /health every 1 s, timeout 0.5 s, fall 2, rise 2) on the
TCP service over rs1-rs3 (rs3 quiesced rather than removed), a sorry server (a second realserver.py,
"sorry", on rs3's port 8080), TCP-connect checks on port 80 for the UDP service.

  config     --check accepts the file; a timeout longer than the interval, an unknown on_failure and
             a status out of 100-599 are refused at their line; kernel_interface: false is accepted
  exception  without the director fl-dir has no fl-int and cannot ping rs1; with it, fl-int and fl-ext
             exist with the ports' MACs and the interfaces' addresses, ping reaches rs1 and the
             client, curl from fl-dir reaches rs2; the checks arrive from 198.19.0.1 once a second;
             after the director stops, fl-int is gone and ping fails again
  stop       a client opens a new connection every ~50 ms (connect timeout 0.3 s); rs1's process is
             stopped: within 3 s it is sent no new connection (the client's failures and a capture of
             SYNs on rs1-eth), at most 21 requests fail, `show health` says down with the reason,
             `show services` no longer lists it (nor in the UDP service, whose TCP check fails too)
             and UDP goes to the others; started again, it answers within rise x interval + 2 s,
             back with its configured weight 2, and takes its share; no request fails after 3 s
  http       rs2's /health answers 500, then (status 200) a body without "ok", then too late for the
             timeout, while its port still accepts connections: down each time, with the reason, no
             new connections, back once fixed; a SIGHUP reload keeps it down, and so does a weight
             set in the console, which it comes back with
  quiesce    rs3 fails its check with a kept-alive connection on it: weight 0 in `show health` and
             `show services` (its ActiveConn still 1), new connections go to rs1 and rs2, the
             kept-alive connection keeps exchanging requests to the end
  sorry      every real server fails: new connections go to the sorry server (listed as Masq in
             `show services`, "active" in `show health`); rs1 recovers: it takes them back
  log        the director logs each state change (`health: ... is down` / `is up`, with the reason);
             its exit counters show packets both ways through the exception path and no drop
  no tap     kernel_interface: false on int: the director runs without fl-int (fl-ext still there)

Run as root: /usr/bin/python3 tests/e2e/test_health.py   (FULCRUM_BIN picks the director)
Prints one PASS/FAIL line per check and `health: N passed, N failed`; exits 1 if any check failed.
Logs: $FULCRUM_LAB_DIR (default /tmp/fulcrum-lab): director-health.log, rs*.log, sorry.log,
health-rs1-syn.pcap, health-*.yaml.
"""

import os
import re
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the work tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lablib as L  # noqa: E402

VIP = L.VIP
CONF = L.LAB_HEALTH_CONF
RS_IP = {1: "198.19.0.11", 2: "198.19.0.12", 3: "198.19.0.13"}
RS80 = {n: f"{ip}:80" for n, ip in RS_IP.items()}
RS_UDP = {n: f"{ip}:5353" for n, ip in RS_IP.items()}
TCP_SVC, UDP_SVC = f"{VIP}:80", f"{VIP}:5353"
SORRY = f"{RS_IP[3]}:8080"
SORRY_NAME = "sorry"
DIR_INT_IP = "198.19.0.1"
WEIGHT = {1: 2, 2: 1, 3: 1}  # conf/lab-health.yaml

# conf/lab-health.yaml's check settings, and the limits.
INTERVAL, TIMEOUT, FALL, RISE = 1.0, 0.5, 2, 2
OUT_WITHIN = 3.0               # a stopped server is sent no new connection after this
MAX_FAILED = 21                # requests that may fail meanwhile
DOWN_WITHIN = FALL * INTERVAL + TIMEOUT + 1.0   # a failing HTTP check: down by then (3.5 s)
BACK_WITHIN = RISE * INTERVAL + 2.0             # a recovered server answers again by then (4 s)
# The client: a new connection every 50 ms (a 46 ms pause after each request, which takes 3-5 ms here),
# each with 0.3 s to connect and answer, so that a failure is counted rather than waited for.
PAUSE, CONNECT_TIMEOUT = 0.046, 0.3


# ---- helpers ------------------------------------------------------------------------------------

Health = L.Health


def state(rows, rs, service=TCP_SVC, proto="TCP"):
    r = L.health_row(rows, rs, service, proto)
    return r["state"] if r else None


def row_text(rows, rs, service=TCP_SVC, proto="TCP"):
    r = L.health_row(rows, rs, service, proto)
    return re.sub(r"\s+", " ", r["line"]) if r else f"no row for {rs} in {proto} {service}"


def listed(table, rs, service=TCP_SVC, proto="TCP"):
    """rs's entry in a parsed `show services` ({"forward", "weight", ...}), or None."""
    return table.get(f"{proto} {service}", {}).get("real_servers", {}).get(rs)


def counts_of(r):
    return r.get("counts", {}) if r.get("ok") else {**r.get("counts", {}), "failed": r.get("failed", "?"),
                                                     "errors": r.get("errors", r.get("error"))}


def http(count):
    """`count` GET / through the VIP, each on a new connection, one after another."""
    return L.client("http", "--count", str(count), "--deadline", "20", timeout=1.0, limit=30)


def set_health(checks, n, name, **kw):
    ok, got = L.set_health(n, **kw)
    if not ok:
        checks.report(f"{name}_set_health", False, f"rs{n} /set-health {kw}: {got}")
    return ok


def syn_times(pcap):
    """Arrival times of the SYNs in a capture, on time.monotonic()'s clock."""
    r = L.run(["tcpdump", "-r", pcap, "-n", "-tt"], 20)
    offset = time.time() - time.monotonic()
    out = []
    for line in r.stdout.splitlines():
        m = re.match(r"^(\d+\.\d+) ", line)
        if m:
            out.append(float(m.group(1)) - offset)
    return out, r


# ---- config -------------------------------------------------------------------------------------

def line_of(path, text):
    src = open(path).read()
    return src[:src.index(text)].count("\n") + 1


def check_config(checks):
    ok, detail = L.check_config(CONF)
    checks.report("config_valid", ok, detail)
    cases = [("timeout_over_interval", "timeout: 0.5, fall: 2", "timeout: 1.5, fall: 2"),
             ("on_failure_unknown", "on_failure: quiesce", "on_failure: drain"),
             ("expect_status_range", 'expect_status: "200-299"', 'expect_status: "200-700"')]
    for name, old, new in cases:
        line = line_of(CONF, old)
        ok, detail = L.check_config_refused(CONF, f"health-bad-{name}", old, new, f".yaml:{line}:")
        checks.report(f"config_refuses_{name}", ok, f"{detail} (want exit 1 and a problem at line {line})")
    # Checks are the kernel's connections: without a kernel interface on int they could not reach
    # rs1-rs3, and the checker says so instead of letting every server fail.
    old = 'address: 198.19.0.1/24 }'
    new = 'address: 198.19.0.1/24, kernel_interface: false }'
    line = line_of(CONF, "- { address: 198.19.0.11, port: 80")
    ok, detail = L.check_config_refused(CONF, "health-checks-without-kernel-interface", old, new,
                                        f".yaml:{line}:9: services[0].real_servers[0]: real server 198.19.0.11 is "
                                        "health-checked, but interface int, which reaches it, has kernel_interface: false")
    checks.report("config_refuses_checks_without_kernel_interface", ok, f"{detail} (want exit 1, line {line})")
    # Without checks, kernel_interface: false is a valid choice: the NAT lab's file with it.
    nat_conf = os.path.join(L.REPO, "conf", "lab-nat.yaml")
    text = open(nat_conf).read()
    assert old in text
    path = os.path.join(L.RUN_DIR, "nat-no-kernel-interface.yaml")
    with open(path, "w") as f:
        f.write(text.replace(old, new, 1))
    ok, detail = L.check_config(path)
    checks.report("config_kernel_interface_false", ok, detail)
    return path


def check_no_kernel_interface(checks, path):
    """A director whose int interface has kernel_interface: false: no fl-int, no ping to rs1."""
    director = L.Director("health-no-tap", path)
    director.start()
    ready, detail = director.wait_ready()
    fl_int, fl_ext = L.link_json("fl-dir", "fl-int"), L.link_json("fl-dir", "fl-ext")
    got, summary = L.ping_from("fl-dir", RS_IP[1], count=1)
    code = director.stop()
    checks.report("kernel_interface_false_runtime",
                  ready and fl_int is None and fl_ext is not None and got == 0 and code == 0,
                  f"{detail}; fl-int {'absent' if fl_int is None else 'present'}, fl-ext "
                  f"{'present' if fl_ext else 'absent'}; ping {RS_IP[1]} from fl-dir: {summary}; "
                  f"{L.stop_outcome(code, director)}")


# ---- the exception path -------------------------------------------------------------------------

def check_exception_path(checks):
    fl_int, dir_int = L.link_json("fl-dir", "fl-int"), L.link_json("fl-dir", "dir-int")
    fl_ext, dir_ext = L.link_json("fl-dir", "fl-ext"), L.link_json("fl-dir", "dir-ext")
    ok = (fl_int is not None and fl_ext is not None and dir_int is not None and dir_ext is not None
          and f"{DIR_INT_IP}/24" in fl_int["addresses"] and f"{L.DIR_EXT_IP}/24" in fl_ext["addresses"]
          and fl_int["up"] and fl_ext["up"] and fl_int["mac"] == dir_int["mac"] and fl_ext["mac"] == dir_ext["mac"])
    checks.report("kernel_interfaces", ok,
                  f"fl-int {fl_int} (port dir-int {dir_int and dir_int['mac']}); fl-ext {fl_ext} "
                  f"(port dir-ext {dir_ext and dir_ext['mac']}); want UP, the port's MAC, {DIR_INT_IP}/24 and "
                  f"{L.DIR_EXT_IP}/24")
    got, summary = L.ping_from("fl-dir", RS_IP[1])
    checks.report("ping_real_server_from_director", got == 3, f"ip netns exec fl-dir ping -c 3 {RS_IP[1]}: {summary}")
    got, summary = L.ping_from("fl-dir", L.CLIENT_IP)
    checks.report("ping_client_from_director", got == 3, f"ping -c 3 {L.CLIENT_IP} from fl-dir (fl-ext): {summary}")
    r = L.in_ns("fl-dir", "curl", "-s", "-m", "3", f"http://{RS_IP[2]}/", timeout=6)
    checks.report("kernel_socket_reaches_real_server", r.returncode == 0 and r.stdout.strip() == "rs2",
                  f"curl http://{RS_IP[2]}/ from fl-dir: exit {r.returncode}, {r.stdout.strip()[:40]!r}")


# ---- 1. a stopped server ------------------------------------------------------------------------

def check_stop_start(checks, h):
    pcap = os.path.join(L.RUN_DIR, "health-rs1-syn.pcap")
    cap = L.capture("fl-rs1", "rs1-eth", pcap,
                    f"src host {L.CLIENT_IP} and dst port 80 and tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn")
    cap_ok = cap.start()
    load = L.Load(port=80, parallel=1, seconds=40, pause=PAUSE, timeout=CONNECT_TIMEOUT)
    if not load.start():
        checks.report("stop_load", False, "client load did not start")
        cap.finish(terminate=True)
        return
    marks = {}
    try:
        time.sleep(2.0)
        marks["stop"] = time.monotonic()
        r = L.lab("rs-stop", "1")
        marks["stopped"] = time.monotonic()
        down_ok, rows, secs = h.wait(lambda rows: state(rows, RS80[1]) == "down", limit=8)
        marks["down_seen"] = time.monotonic()
        udp_ok, rows_udp, _ = h.wait(lambda rows: state(rows, RS_UDP[1], UDP_SVC, "UDP") == "down", limit=3)
        table = h.services()
        udp = L.client("udp", "--count", "4", "--payload", "health", timeout=1, limit=15)
        time.sleep(max(0.0, marks["stop"] + 6.0 - time.monotonic()))  # 3 s without rs1 after the limit
        marks["start"] = time.monotonic()
        r2 = L.lab("rs-start", "1")
        marks["started"] = time.monotonic()
        up_ok, rows_up, _ = h.wait(lambda rows: state(rows, RS80[1]) == "up", limit=10)
        marks["up_seen"] = time.monotonic()
        table_up = h.services()
        time.sleep(3.0)
        marks["end"] = time.monotonic()
    finally:
        res = load.finish()
        cap.finish(terminate=True)

    recs = res.get("records", [])
    stop, started = marks["stop"], marks["started"]
    failed = [x for x in recs if x[2] is None]
    before = [x for x in failed if x[0] < stop]
    late = [x for x in failed if x[0] > stop + OUT_WITHIN]
    last_fail = max((x[0] for x in failed if x[0] >= stop), default=None)
    checks.report("stop_baseline", bool(recs) and not before and r.returncode == 0
                  and {"rs1", "rs2", "rs3"} <= {x[2] for x in recs if x[0] < stop},
                  f"{len([x for x in recs if x[0] < stop])} requests in the 2 s before the stop, "
                  f"{len(before)} failed; rs-stop exit {r.returncode}")
    span = (recs[-1][0] - recs[0][0]) if len(recs) > 1 else 0.0
    checks.report("stop_failed_requests", len(failed) <= MAX_FAILED and not late,
                  f"{len(failed)} of {len(recs)} requests (one every {1000 * span / max(1, len(recs) - 1):.0f} ms) "
                  f"failed (at most {MAX_FAILED}), the last "
                  f"{(last_fail - stop) if last_fail else 0:.2f} s after the stop; {len(late)} failed later than "
                  f"{OUT_WITHIN:.0f} s" + (f", e.g. {late[:2]}" if late else "")
                  + (f"; first errors {[x[3] for x in failed[:2]]}" if failed else ""))
    syns, tr = syn_times(pcap)
    window = [t for t in syns if stop + OUT_WITHIN < t < started]
    before_stop = [t for t in syns if t < stop]
    checks.report("stop_no_new_connections_after_3s", cap_ok and bool(before_stop) and not window,
                  f"SYNs from the client on rs1-eth: {len(before_stop)} before the stop, "
                  f"{len([t for t in syns if stop <= t <= stop + OUT_WITHIN])} in its first {OUT_WITHIN:.0f} s, "
                  f"{len(window)} from then until the restart ({started - stop - OUT_WITHIN:.1f} s)"
                  + ("" if cap_ok else f"; capture did not start: {cap.first!r}")
                  + ("" if tr.returncode == 0 else f"; tcpdump -r: {tr.stderr.strip()[-120:]}"))
    row = L.health_row(rows, RS80[1])
    checks.report("stop_show_health_down",
                  down_ok and row is not None and row["weight"] == "-" and row["last"] == "failed"
                  and row["check"] == "http" and bool(row["reason"]),
                  f"down seen {marks['down_seen'] - stop:.2f} s after the stop: {row_text(rows, RS80[1])}")
    checks.report("stop_removed_from_services",
                  bool(table) and listed(table, RS80[1]) is None and listed(table, RS80[2]) is not None
                  and listed(table, RS_UDP[1], UDP_SVC, "UDP") is None and udp_ok,
                  f"TCP :80 lists {sorted(table.get(f'TCP {TCP_SVC}', {}).get('real_servers', {}))}; "
                  f"UDP :5353 lists {sorted(table.get(f'UDP {UDP_SVC}', {}).get('real_servers', {}))}; "
                  f"UDP row: {row_text(rows_udp, RS_UDP[1], UDP_SVC, 'UDP')}")
    udp_servers = [x.get("server") for x in udp.get("replies", [])]
    checks.report("stop_udp_goes_elsewhere", udp.get("ok", False) and "rs1" not in udp_servers and len(udp_servers) == 4,
                  f"4 datagrams answered by {udp_servers} (the TCP check on port 80 took rs1 out)"
                  + ("" if udp.get("ok") else f"; {L.describe(udp, ('error', 'replies'))}"))
    rs1_after = [x for x in recs if x[2] == "rs1" and x[0] >= marks["start"]]
    first_back = min((x[0] for x in rs1_after), default=None)
    in_window = [x for x in recs if x[0] >= marks["up_seen"]]
    share = len([x for x in in_window if x[2] == "rs1"])
    checks.report("start_back_after_rise",
                  up_ok and r2.returncode == 0 and first_back is not None and first_back - started <= BACK_WITHIN,
                  f"rs1 answered again {first_back - started if first_back else float('nan'):.2f} s after its "
                  f"process was ready (at most rise x interval + 2 = {BACK_WITHIN:.0f} s); show health up "
                  f"{marks['up_seen'] - started:.2f} s after; rs-start exit {r2.returncode}")
    checks.report("start_takes_connections",
                  len(in_window) >= 20 and share >= len(in_window) // 5 and len(rs1_after) >= 10,
                  f"in the 3 s after it was up: {share} of {len(in_window)} requests on rs1 (rr: about a third); "
                  f"{len(rs1_after)} since its start")
    row = L.health_row(rows_up, RS80[1])
    rs = listed(table_up, RS80[1])
    checks.report("start_configured_weight",
                  row is not None and row["state"] == "up" and row["weight"] == str(WEIGHT[1]) and row["last"] == "ok"
                  and rs is not None and rs["weight"] == WEIGHT[1],
                  f"{row_text(rows_up, RS80[1])}; show services: {rs}")
    L.log(f"stop/start: {len(recs)} requests, {len(failed)} failed; down in show health "
          f"{marks['down_seen'] - stop:.2f} s after the stop; rs1 answered again "
          f"{(first_back - started) if first_back else float('nan'):.2f} s after the restart")


# ---- 2. HTTP checks failing on status and on body -----------------------------------------------

def check_http_failures(checks, h, director):
    rs = RS80[2]
    t0 = time.monotonic()
    if not set_health(checks, 2, "status", status=500):
        return
    ok, rows, secs = h.wait(lambda rows: state(rows, rs) == "down", limit=8)
    row = L.health_row(rows, rs)
    checks.report("http_status_down", ok and secs <= DOWN_WITHIN and row["last"] == "failed" and "500" in row["reason"],
                  f"/health answering 500: down after {secs:.2f} s (at most {DOWN_WITHIN:.1f}): {row_text(rows, rs)}")
    code, body = L.rs_http(2, "/")
    udp_row = state(rows, RS_UDP[2], UDP_SVC, "UDP")
    direct = L.in_ns("fl-dir", "curl", "-s", "-m", "2", f"http://{RS_IP[2]}/", timeout=5)
    checks.report("http_status_port_still_open",
                  code == 200 and body.strip() == "rs2" and udp_row == "up" and direct.stdout.strip() == "rs2",
                  f"GET / on rs2 itself: {code} {body.strip()!r}; from fl-dir: {direct.stdout.strip()!r}; "
                  f"its TCP check (UDP service) says {udp_row}")
    r = http(12)
    checks.report("http_status_no_new_connections", r.get("ok", False) and "rs2" not in r.get("counts", {}),
                  f"12 connections: {counts_of(r)}")
    okr, detail, _ = L.reload_director(director)
    rows = h.rows()
    r = http(6)
    checks.report("http_down_survives_reload",
                  okr and state(rows, rs) == "down" and r.get("ok", False) and "rs2" not in r.get("counts", {}),
                  f"SIGHUP: {detail}; right after: {row_text(rows, rs)}; 6 connections {counts_of(r)}")
    # A weight set in the console while it is down is the one it comes back with, and does not put
    # it back in the table before its checks do.
    out = h.cmd(f"set weight {TCP_SVC} {rs} 3")
    rows, table = h.rows(), h.services()
    r = http(6)
    checks.report("console_weight_while_down",
                  out == ["ok"] and state(rows, rs) == "down" and listed(table, rs) is None and r.get("ok", False)
                  and "rs2" not in r.get("counts", {}),
                  f"set weight ... {rs} 3 -> {out}; {row_text(rows, rs)}; show services lists it: "
                  f"{listed(table, rs)}; 6 connections {counts_of(r)}")
    if not set_health(checks, 2, "status_fixed"):
        return
    ok, rows, secs = h.wait(lambda rows: state(rows, rs) == "up", limit=8)
    row, entry = L.health_row(rows, rs), listed(h.services(), rs)
    r = http(9)
    checks.report("http_status_back", ok and secs <= BACK_WITHIN and r.get("counts", {}).get("rs2", 0) >= 2,
                  f"/health 200 again: up after {secs:.2f} s (at most {BACK_WITHIN:.0f}): {row_text(rows, rs)}; "
                  f"9 connections {counts_of(r)}")
    checks.report("back_with_console_weight", ok and row["weight"] == "3" and entry is not None and entry["weight"] == 3,
                  f"{row_text(rows, rs)}; show services: {entry} (want weight 3, set while it was down)")
    out = h.cmd(f"set weight {TCP_SVC} {rs} 1")
    if out != ["ok"]:
        checks.report("console_weight_restore", False, f"set weight ... {rs} 1 -> {out}")
    status_reason = (L.health_row(rows, rs) or {}).get("reason", "")

    if not set_health(checks, 2, "body", body="bad"):
        return
    ok, rows, secs = h.wait(lambda rows: state(rows, rs) == "down", limit=8)
    row = L.health_row(rows, rs)
    checks.report("http_body_down",
                  ok and secs <= DOWN_WITHIN and row["last"] == "failed" and "body" in row["reason"].lower()
                  and "500" not in row["reason"],
                  f"/health answering 200 'bad' (expect_body ^ok): down after {secs:.2f} s: {row_text(rows, rs)}")
    r = http(9)
    code, body = L.rs_http(2, "/")
    checks.report("http_body_no_new_connections",
                  r.get("ok", False) and "rs2" not in r.get("counts", {}) and code == 200,
                  f"9 connections: {counts_of(r)}; rs2 itself still answers GET /: {code}")
    if not set_health(checks, 2, "body_fixed"):
        return
    ok, rows, secs = h.wait(lambda rows: state(rows, rs) == "up", limit=8)
    row = L.health_row(rows, rs)
    checks.report("http_body_back", ok and secs <= BACK_WITHIN and row["weight"] == "1" and row["last"] == "ok",
                  f"up after {secs:.2f} s: {row_text(rows, rs)} (before: {status_reason!r})")

    # An answer slower than the check's timeout is a failure too.
    if not set_health(checks, 2, "slow", delay=TIMEOUT + 0.3):
        return
    ok, rows, secs = h.wait(lambda rows: state(rows, rs) == "down", limit=8)
    row = L.health_row(rows, rs)
    checks.report("http_timeout_down", ok and secs <= DOWN_WITHIN and "timed out" in row["reason"],
                  f"/health answering after {TIMEOUT + 0.3:g} s (timeout {TIMEOUT:g} s): down after {secs:.2f} s: "
                  f"{row_text(rows, rs)}")
    if not set_health(checks, 2, "slow_fixed"):
        return
    ok, rows, secs = h.wait(lambda rows: state(rows, rs) == "up", limit=8)
    checks.report("http_timeout_back", ok and secs <= BACK_WITHIN,
                  f"up after {secs:.2f} s: {row_text(rows, rs)}; {time.monotonic() - t0:.1f} s for the HTTP checks")


# ---- 3. quiesce ---------------------------------------------------------------------------------

def check_quiesce(checks, h):
    rs = RS80[3]
    ka = L.KeepAlive(3, interval=0.2, seconds=60, timeout=2.0)
    t_open = time.monotonic()
    servers = ka.servers()
    if "rs3" not in servers:
        ka.finish()
        checks.report("quiesce_keepalive_on_rs3", False, f"3 kept-alive connections went to {servers}; "
                                                          f"{ka.opened.get('error', '')}")
        return
    idx = servers.index("rs3")
    try:
        if not set_health(checks, 3, "quiesce", status=503):
            return
        ok, rows, secs = h.wait(lambda rows: state(rows, rs) == "quiesced", limit=8)
        row = L.health_row(rows, rs)
        checks.report("quiesce_show_health", ok and secs <= DOWN_WITHIN and row["weight"] == "0"
                      and "503" in row["reason"],
                      f"quiesced after {secs:.2f} s: {row_text(rows, rs)}")
        t_q = time.monotonic()
        table = h.services()
        entry = listed(table, rs)
        checks.report("quiesce_show_services_weight_0",
                      entry is not None and entry["weight"] == 0 and entry["active"] >= 1,
                      f"{rs}: {entry} (want weight 0, ActiveConn >= 1: the kept-alive connection)")
        r = http(12)
        checks.report("quiesce_new_connections_elsewhere",
                      r.get("ok", False) and "rs3" not in r.get("counts", {}),
                      f"12 connections: {counts_of(r)}")
        time.sleep(1.5)
    finally:
        t_end = time.monotonic()
        res = ka.finish()
    conns = res.get("connections", [])
    c = conns[idx] if idx < len(conns) else {}
    want = int(0.5 * (t_end - t_open) / 0.2)
    checks.report("quiesce_established_keeps_working",
                  c.get("server") == "rs3" and c.get("failed") == 0 and c.get("requests", 0) >= want,
                  f"the kept-alive connection on rs3: {c.get('requests')} requests over {t_end - t_open:.1f} s "
                  f"({t_end - t_q:.1f} s of it quiesced; want >= {want}), failure: {c.get('error')}")
    if not set_health(checks, 3, "quiesce_fixed"):
        return
    ok, rows, secs = h.wait(lambda rows: state(rows, rs) == "up", limit=8)
    entry = listed(h.services(), rs)
    checks.report("quiesce_back", ok and secs <= BACK_WITHIN and entry is not None and entry["weight"] == 1,
                  f"up after {secs:.2f} s: {row_text(rows, rs)}; show services: {entry}")


# ---- 4. the sorry server ------------------------------------------------------------------------

telemetry = L.telemetry


def check_telemetry_health(checks):
    """/fulcrum/health says what show health says: the sorry server active, rs1 down, rs3 quiesced."""
    want = {(SORRY, "active", 1), (RS80[1], "down", -1), (RS80[3], "quiesced", 0)}
    seen, deadline = set(), time.time() + 4
    while time.time() < deadline:
        try:
            rows = (telemetry("/fulcrum/health") or {}).values()
        except (OSError, ValueError) as e:
            rows, seen = [], {("error", str(e), 0)}
        seen = {(r.get("real_server"), r.get("state"), r.get("weight")) for r in rows
                if r.get("service") == f"{L.VIP}:80" and r.get("protocol") == "tcp"}
        if want <= seen:
            break
        time.sleep(0.25)
    checks.report("telemetry_health", want <= seen, f"/fulcrum/health (tcp {L.VIP}:80): {sorted(map(str, seen))}")


def check_sorry(checks, h):
    for n in (1, 2, 3):
        if not set_health(checks, n, "sorry", status=500):
            return

    def all_out(rows):
        return (state(rows, RS80[1]) == "down" and state(rows, RS80[2]) == "down"
                and state(rows, RS80[3]) == "quiesced" and state(rows, SORRY) == "active")

    ok, rows, secs = h.wait(all_out, limit=8)
    checks.report("sorry_active", ok,
                  f"after {secs:.2f} s: " + "; ".join(row_text(rows, x) for x in (RS80[1], RS80[2], RS80[3], SORRY)))
    entry = listed(h.services(), SORRY)
    checks.report("sorry_in_show_services", entry is not None and entry["forward"] == "Masq" and entry["weight"] >= 1,
                  f"{SORRY}: {entry}")
    check_telemetry_health(checks)
    r = http(6)
    checks.report("sorry_takes_new_connections", r.get("ok", False) and r.get("counts") == {SORRY_NAME: 6},
                  f"6 connections: {counts_of(r)}")
    if not set_health(checks, 1, "sorry_rs1_fixed"):
        return
    ok, rows, secs = h.wait(lambda rows: state(rows, RS80[1]) == "up" and state(rows, SORRY) == "standby", limit=8)
    r = http(6)
    checks.report("sorry_recovered_takes_back",
                  ok and secs <= BACK_WITHIN and r.get("ok", False) and r.get("counts") == {"rs1": 6}
                  and listed(h.services(), SORRY) is None,
                  f"rs1 up after {secs:.2f} s: {row_text(rows, RS80[1])}; {row_text(rows, SORRY)}; "
                  f"6 connections {counts_of(r)}")
    for n in (2, 3):
        set_health(checks, n, "sorry_restore")
    ok, rows, secs = h.wait(lambda rows: all(state(rows, RS80[n]) == "up" for n in (1, 2, 3)), limit=8)
    checks.report("all_up_again", ok, f"after {secs:.2f} s: " + "; ".join(row_text(rows, RS80[n]) for n in (1, 2, 3)))


# ---- main ---------------------------------------------------------------------------------------

def check_log(checks, text):
    lines = [x for x in text.splitlines() if "health:" in x]

    def has(*words):
        return [x for x in lines if all(w in x for w in words)]

    down1 = has(f"TCP {TCP_SVC}", f"{RS80[1]} is down", f"(fall {FALL})")
    up1 = has(f"TCP {TCP_SVC}", f"{RS80[1]} is up", f"(rise {RISE})", "HTTP 200")
    down2 = has(f"TCP {TCP_SVC}", f"{RS80[2]} is down", "500")
    body2 = has(f"TCP {TCP_SVC}", f"{RS80[2]} is down", "body")
    quiesced3 = has(f"TCP {TCP_SVC}", f"{RS80[3]} is down", "quiesce")
    udp1 = has(f"UDP {UDP_SVC}", f"{RS_UDP[1]} is down")
    checks.report("log_state_changes", all((down1, up1, down2, body2, quiesced3, udp1)),
                  f"{len(lines)} 'health:' lines; rs1 down: {down1[:1]}; rs1 up: {up1[:1]}; rs2 down on 500: "
                  f"{len(down2)}, on the body: {len(body2)}; rs3 quiesced: {len(quiesced3)}; rs1 in the UDP "
                  f"service: {len(udp1)}")


def check_exit_counters(checks, director):
    totals = director.worker_totals()
    drops = {k: v for k, v in totals.items() if k.startswith("drop_") and v and k != "drop_arp_not_for_us"}
    checks.report("exit_counters", bool(totals) and totals.get("to_kernel", 0) > 0
                  and totals.get("from_kernel", 0) > 0 and not drops,
                  f"{L.show(totals, 'connections_created', 'to_kernel', 'from_kernel')}; drops other than ARP for "
                  f"other hosts: {drops or 'none'}")


def main():
    checks = L.Checks("health")
    if os.geteuid() != 0:
        checks.report("root", False, "the lab needs root")
        return checks.summary()
    if L.STANDIN:
        checks.skip("all", "health checks need the director")
        return checks.summary()
    t0 = time.monotonic()
    no_tap_conf = check_config(checks)
    sorry = None
    h = Health()
    try:
        with L.Lab():
            # No director yet: the fl-dir kernel has no address and no way to the real servers.
            got, summary = L.ping_from("fl-dir", RS_IP[1], count=1)
            gone = L.link_json("fl-dir", "fl-int") is None
            checks.report("no_exception_path_without_director", got == 0 and gone,
                          f"fl-int {'absent' if gone else 'present'}; ping {RS_IP[1]} from fl-dir: {summary}")
            sorry = L.ExtraRealServer(3, 8080, 5354, name=SORRY_NAME)
            if not sorry.start():
                checks.report("sorry_server_started", False, f"see {sorry.log_path}")
                return checks.summary()
            director = L.Director("health", CONF)
            director.start()
            ready, detail = director.wait_ready()
            checks.report("director_ready", ready, detail)
            # The director's own subscriber to its events logs each VIP's availability.
            available = re.findall(r"VIP (\S+) is (available|unavailable)", director.text())
            checks.report("vip_available_event", ready and available == [(L.VIP, "available")],
                          f"log: {available} (one 'VIP {L.VIP} is available' at the first publication)")
            if ready:
                rows = h.rows()
                h2_0, t_h0 = L.health_state(2), time.monotonic()
                want = {RS80[1]: ("http", "up", str(WEIGHT[1])), RS80[2]: ("http", "up", "1"),
                        RS80[3]: ("http", "up", "1"), SORRY: ("sorry", "standby", None)}
                got = {rs: (r["check"], r["state"], r["weight"] if rs != SORRY else None)
                       for rs in want if (r := L.health_row(rows, rs)) is not None}
                udp = {rs: (r["check"], r["state"]) for rs in RS_UDP.values()
                       if (r := L.health_row(rows, rs, UDP_SVC, "UDP")) is not None}
                head_ok = L.parse_show_health(h.cmd("show health"))[0]
                checks.report("show_health_initial",
                              head_ok and got == want and udp == {rs: ("tcp", "up") for rs in RS_UDP.values()},
                              f"header ok: {head_ok}; TCP {got}; UDP {udp}")
                check_exception_path(checks)
                check_stop_start(checks, h)
                h2_1, t_h1 = L.health_state(2), time.monotonic()
                n_checks = h2_1.get("checks", 0) - h2_0.get("checks", 0)
                rate = n_checks / max(0.1, t_h1 - t_h0)
                checks.report("checks_every_interval", 0.8 <= rate <= 1.25 and h2_1.get("last_peer") == DIR_INT_IP
                              and h2_1.get("status") == 200,
                              f"rs2 got {n_checks} GET /health in {t_h1 - t_h0:.1f} s ({rate:.2f}/s, interval "
                              f"{INTERVAL:g} s), the last from {h2_1.get('last_peer')} (Host {h2_1.get('last_host')})")
                check_http_failures(checks, h, director)
                check_quiesce(checks, h)
                check_sorry(checks, h)
                h.close()
            code = director.stop()
            checks.report("sigterm_exit_0", code == 0, L.stop_outcome(code, director))
            check_log(checks, director.text())
            check_exit_counters(checks, director)
            got, summary = L.ping_from("fl-dir", RS_IP[1], count=1)
            gone = L.link_json("fl-dir", "fl-int") is None
            checks.report("exception_path_gone_with_director", got == 0 and gone,
                          f"fl-int {'absent' if gone else 'present'}; ping {RS_IP[1]} from fl-dir: {summary}")
            check_no_kernel_interface(checks, no_tap_conf)
    except RuntimeError as e:
        checks.report("lab", False, str(e))
    finally:
        h.close()
        if sorry is not None:
            sorry.stop()
    L.log(f"test_health ran {time.monotonic() - t0:.0f} s")
    return checks.summary()


if __name__ == "__main__":
    L.main_guard(main)
