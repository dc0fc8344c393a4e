#!/usr/bin/python3
"""End-to-end test of two directors, one service: director A (fl-dir, conf/lab-ha-a.yaml) and B
(fl-dir2, conf/lab-ha-b.yaml) on the same two links, both with high_availability.vip_ownership
kernel and connection sync in IPVS's protocol (role both, sync id 1, full_refresh 10 s).

What keepalived's VRRP master does, adding the VIP to fl-ext and the NAT real servers' gateway
198.19.0.1 to fl-int, the test does here with `ip addr`, so that each step happens when the test
says: the VIP is served by whichever director's kernel interface holds it, and established
connections (NAT and DR, kept alive) carry on across a move because the other director had them
from sync. An independent decoder (tests/lab/ipvs_sync.py, from the kernel's structures) reads
what the master sends, and its encoder's records are installed. A backup restarted while the
master holds 1,000 connections lists them all within full_refresh.

Then keepalived (Debian's package, conf/keepalived-ha-*.conf) decides: A is VRRP master, kept-alive
connections and rate-limited downloads of 24 MB run through it (NAT and DR), A's Fulcrum is killed
with SIGKILL, B takes over, and everything completes byte for byte. The same run without sync
breaks them.

Run as root: /usr/bin/python3 tests/e2e/test_ha.py
Logs: $FULCRUM_LAB_DIR (default /tmp/fulcrum-lab): director-ha-*.log.
"""

import json
import os
import re
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lablib as L  # noqa: E402

CONF_A = os.path.join(L.REPO, "conf", "lab-ha-a.yaml")
CONF_B = os.path.join(L.REPO, "conf", "lab-ha-b.yaml")
SYNC_PY = os.path.join(L.REPO, "tests", "lab", "ipvs_sync.py")
GATEWAY = "198.19.0.1/24"
NAMESPACE = {"a": "fl-dir", "b": "fl-dir2"}
FULL_REFRESH = 10
HELD = 1000


def without_sync(path, name):
    """The configuration at `path` with its sync: section taken out."""
    text = re.sub(r"(?m)^sync:\n(?:  .*\n|[ \t]*\n)*", "", open(path).read())
    out = os.path.join(L.RUN_DIR, f"{name}.yaml")
    os.makedirs(L.RUN_DIR, exist_ok=True)
    with open(out, "w") as f:
        f.write(text)
    return out


def hold_addresses(side, on):
    """What keepalived's master does on `side`'s kernel interfaces (on), or its backup (off)."""
    op = "add" if on else "del"
    ns = NAMESPACE[side]
    results = [L.in_ns(ns, "ip", "addr", op, f"{L.VIP}/32", "dev", "fl-ext"),
               L.in_ns(ns, "ip", "addr", op, GATEWAY, "dev", "fl-int")]
    return all(r.returncode == 0 for r in results), "; ".join((r.stderr or "").strip() for r in results if r.returncode)


def move_addresses(src, dst):
    ok1, e1 = hold_addresses(src, False)
    ok2, e2 = hold_addresses(dst, True)
    return ok1 and ok2, f"{e1} {e2}".strip()


def console_ready(side, limit=20.0):
    deadline = time.monotonic() + limit
    last = ""
    while time.monotonic() < deadline:
        try:
            with L.Console(ns=NAMESPACE[side]) as c:
                return True, c.text("ipvsadm -L --daemon")
        except (OSError, TimeoutError, ConnectionError) as e:
            last = str(e)
            time.sleep(0.3)
    return False, f"no console in {NAMESPACE[side]} within {limit:.0f} s: {last}"


def console(side, line, limit=10.0):
    try:
        with L.Console(ns=NAMESPACE[side]) as c:
            return c.text(line, limit)
    except (OSError, TimeoutError, ConnectionError) as e:
        return f"console error: {e}"


CONN_RE = re.compile(r"^(TCP|UDP)\s+\S+\s+(\S+)\s+(\d+\.\d+\.\d+\.\d+):(\d+)\s+(\d+\.\d+\.\d+\.\d+):(\d+)\s+"
                     r"(\d+\.\d+\.\d+\.\d+):(\d+)$")


def connections(side):
    """The rows of `ipvsadm -L -n -c` on `side`'s console: (protocol, state, client, cport, vip,
    vport, real, rport)."""
    rows = []
    for line in console(side, "ipvsadm -L -n -c", limit=20.0).splitlines():
        m = CONN_RE.match(line.strip())
        if m:
            rows.append((m.group(1), m.group(2), m.group(3), int(m.group(4)), m.group(5), int(m.group(6)),
                         m.group(7), int(m.group(8))))
    return rows


def keepalive(count, seconds, interval=0.2, timeout=3.0):
    bg = L.Background("fl-client", L.PY, L.CLIENT_PY, "--timeout", str(timeout), "keepalive", "--count", str(count),
                      "--seconds", str(seconds), "--interval", str(interval))
    ok = bg.start(limit=10)
    return bg, (json.loads(bg.first) if ok else {"ok": False, "error": "keepalive did not start"})


KEEPALIVED_CONF = {side: os.path.join(L.REPO, "conf", f"keepalived-ha-{side}.conf") for side in NAMESPACE}
DOWNLOAD_SIZE = 24 << 20
DOWNLOAD_RATE = 3 << 20


class Keepalived(L.Daemon):
    """keepalived's VRRP (Debian's package, conf/keepalived-ha-SIDE.conf) in a director's namespace,
    in the foreground with its own pid files and its log in the run directory."""

    def __init__(self, side, name):
        self.side = side
        pid = os.path.join(L.RUN_DIR, f"keepalived-{name}")
        super().__init__(f"keepalived-{name}", NAMESPACE[side], "keepalived", "-n", "-l", "-D", "--vrrp", "-f",
                         KEEPALIVED_CONF[side], "-p", pid + ".pid", "-r", pid + "-vrrp.pid", "-c", pid + "-checkers.pid")

    def wait_for(self, words, limit):
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if words in self.text():
                return True
            time.sleep(0.1)
        return False


def downloads(count):
    """`count` rate-limited downloads through the VIP, each in the background."""
    out = []
    for _ in range(count):
        bg = L.Background("fl-client", L.PY, L.CLIENT_PY, "--timeout", "10", "download", "--size", str(DOWNLOAD_SIZE),
                          "--rate", str(DOWNLOAD_RATE), "--deadline", "40")
        bg.proc = subprocess.Popen(["ip", "netns", "exec", "fl-client", *bg.cmd], stdin=subprocess.DEVNULL,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
        out.append(bg)
        time.sleep(0.2)
    return out


def keepalived_failover(checks, sync):
    """Both directors with keepalived; A is master. Kept-alive connections and rate-limited downloads
    (NAT and DR) run through A, whose Fulcrum is killed with SIGKILL; its keepalived stays (FAULT:
    fl-ext is gone) and B's takes over. With sync everything carries on through B; without, the
    connections B never heard of break."""
    tag = "sync" if sync else "nosync"
    confs = {side: (conf if sync else without_sync(conf, f"lab-ha-{side}-nosync"))
             for side, conf in (("a", CONF_A), ("b", CONF_B))}
    directors = {side: L.Director(f"ha-{side}-{tag}", confs[side], ns=NAMESPACE[side]) for side in NAMESPACE}
    vrrp = {side: Keepalived(side, f"{side}-{tag}") for side in NAMESPACE}
    running = []
    try:
        for side in ("a", "b"):
            directors[side].start()
            running.append(directors[side])
            console_ready(side)
        vrrp["a"].start()
        master = vrrp["a"].wait_for("Entering MASTER STATE", 10)
        ready, detail = directors["a"].wait_ready(limit=10)
        vrrp["b"].start()
        backup = vrrp["b"].wait_for("Entering BACKUP STATE", 10)
        checks.report(f"keepalived_{tag}_a_master", master and backup and ready,
                      f"A master: {master}, B backup: {backup}; {detail}")
        if not ready:
            return
        # With sync, a request may wait out the failover (keepalived's 3 advertisements, then TCP's
        # next retransmission): 10 s before a kept-alive connection counts as broken. Without, the
        # client asks on each connection in turn, so 2 s each lets all six show it within the run.
        ka, opened = keepalive(6, seconds=40, timeout=10.0 if sync else 2.0)
        loads = downloads(3)
        time.sleep(3)
        if sync:
            b_rows = connections("b")
            checks.report("keepalived_sync_backup_has_them_before",
                          len([r for r in b_rows if r[2] == L.CLIENT_IP and r[1] == "ESTABLISHED"]) >= 9,
                          f"B lists {len(b_rows)} connections before the failover")
        directors["a"].proc.kill()
        killed = time.monotonic()
        took_over = vrrp["b"].wait_for("Entering MASTER STATE", 15)
        takeover = time.monotonic() - killed
        fault = vrrp["a"].wait_for("Entering FAULT STATE", 5)
        checks.report(f"keepalived_{tag}_takeover", took_over and fault and takeover < 8,
                      f"B master {takeover:.1f} s after A's Fulcrum was killed; A's keepalived in FAULT: {fault}")
        if sync:
            results = [d.finish(limit=60) for d in loads]
            time.sleep(2)
            kept = ka.finish(limit=60, terminate=True)
        else:
            # What B never heard of stalls: long enough for every kept-alive request to time out.
            time.sleep(18)
            kept = ka.finish(limit=30, terminate=True)
            results = [d.finish(limit=10, terminate=True) for d in loads]
        conns = kept.get("connections", [])
        servers = sorted({c["server"] for c in conns if c.get("server")})
        done = [r for r in results if r.get("ok") and r.get("received") == DOWNLOAD_SIZE]
        summary = (f"downloads: " + "; ".join(f"{r.get('server')}: {r.get('received')} bytes"
                                             + (f" {r.get('error')}" if r.get("error") else "") for r in results)
                   + " | keepalive: " + "; ".join(f"{c['server']}: {c['requests']}"
                                                 + (f" ({c['error'][:60]})" if c.get("error") else "") for c in conns))
        if sync:
            dl_servers = sorted({r.get("server") for r in done})
            checks.report("keepalived_sync_downloads_complete", len(done) == 3 and dl_servers == ["rs1", "rs2", "rs4"],
                          f"servers {dl_servers}; {summary}")
            checks.report("keepalived_sync_keepalive_survives",
                          kept.get("ok", False) and len(conns) == 6 and {"rs1", "rs2", "rs4"} <= set(servers)
                          and all(c["requests"] > 25 for c in conns), summary)
        else:
            broken = [c for c in conns if c.get("failed")]
            checks.report("keepalived_nosync_connections_break", len(broken) == 6 and len(done) == 0, summary)
    finally:
        for v in vrrp.values():
            v.stop()
        for d in running:
            d.stop()


def main():
    checks = L.Checks("ha")
    for conf in (CONF_A, CONF_B):
        checks.report(f"check_config_{os.path.basename(conf)}", *L.check_config(conf))
    a = L.Director("ha-a", CONF_A, ns="fl-dir")
    b = L.Director("ha-b", CONF_B, ns="fl-dir2")
    later = []  # directors started after a restart, stopped at the end
    try:
        with L.Lab():
            a.start()
            b.start()
            up_a, daemons_a = console_ready("a")
            up_b, daemons_b = console_ready("b")
            checks.report("both_directors_up", up_a and up_b, f"A: {daemons_a.strip()} | B: {daemons_b.strip()}")
            checks.report("daemon_listing", daemons_a.startswith(
                "master sync daemon (mcast=fl-int, syncid=1, maxlen=1472, group=224.0.0.81, port=8848, ttl=1)\n"
                "backup sync daemon (mcast=fl-int, syncid=1, maxlen=1472, group=224.0.0.81, port=8848, ttl=1)"),
                daemons_a.strip())
            if not (up_a and up_b):
                return checks.summary()

            # Neither kernel interface holds the VIP yet: neither director answers for it.
            probe = L.client("probe", timeout=1.0, limit=5)
            checks.report("vip_unserved_while_unheld", not probe.get("ok"), f"probe: {L.describe(probe)}")

            # A becomes master: the VIP is served through it.
            moved, why = hold_addresses("a", True)
            ready, detail = a.wait_ready(limit=15)
            checks.report("a_serves_once_it_holds", moved and ready, f"{why} {detail}".strip())

            # What A sends, read by the independent decoder on the internal link (in rs1's namespace).
            listener = L.Background("fl-rs1", L.PY, SYNC_PY, "listen", "224.0.0.81", "8848", "rs1-eth", "8")
            listening = listener.start(limit=5)
            ka, opened = keepalive(6, seconds=40)
            served_by = sorted({c["server"] for c in opened.get("answers", []) if c.get("server")})
            checks.report("keepalive_opened", opened.get("ok", False) and len(served_by) >= 2,
                          f"servers: {served_by}")
            heard = []
            if listening:
                out, _ = listener.proc.communicate(timeout=15)
                for line in out.splitlines():
                    try:
                        heard.append(json.loads(line))
                    except ValueError:
                        pass
            records = [r for d in heard for r in d.get("records", [])]
            bad = [d for d in heard if "error" in d]
            ports = {int(c["peer"].rsplit(":", 1)[1]) for c in opened.get("answers", []) if c.get("peer")}
            synced = {r["cport"] for r in records if r["vip"] == L.VIP and r["vport"] == 80 and r["client"] == L.CLIENT_IP
                      and r["state"] == "ESTABLISHED" and not r["template"]}
            checks.report("independent_decoder_reads_master",
                          listening and not bad and bool(heard) and all(d["syncid"] == 1 for d in heard)
                          and ports <= synced,
                          f"{len(heard)} datagrams, {len(records)} records, {len(bad)} unreadable; keepalive client "
                          f"ports {sorted(ports)}, ESTABLISHED records for {sorted(synced)}")
            methods = {r["method"] for r in records if r["cport"] in ports}
            checks.report("records_carry_nat_and_dr", {"nat", "dr"} <= methods, f"methods: {sorted(methods)}")

            b_rows = connections("b")
            b_ports = {row[3] for row in b_rows if row[2] == L.CLIENT_IP and row[1] == "ESTABLISHED"}
            checks.report("backup_has_the_connections", ports <= b_ports,
                          f"B lists {len(b_rows)} connections; keepalive ports missing there: {sorted(ports - b_ports)}")

            # Failover: the addresses move to B; the kept-alive connections carry on through it.
            time.sleep(2)
            moved, why = move_addresses("a", "b")
            time.sleep(5)
            result = ka.finish(limit=60, terminate=True)
            conns = result.get("connections", [])
            checks.report("keepalive_survives_failover",
                          moved and result.get("ok", False) and len(conns) == 6 and all(c["requests"] > 20 for c in conns),
                          f"{why} " + "; ".join(f"{c['server']}: {c['requests']} requests"
                                                 + (f", {c['error']}" if c.get("error") else "") for c in conns))
            b_workers = console("b", "show workers")
            checks.report("b_forwarded_after_failover", re.search(r"^to_real_server\s+[1-9]", b_workers, re.M) is not None,
                          " | ".join(l for l in b_workers.splitlines() if l.startswith(("to_real_server", "sync_installed"))))

            # Records a kernel master would send, built by the independent encoder, reach B's table.
            injected = [dict(protocol="tcp", client="198.18.0.77", cport=50000 + i, vip=L.VIP, vport=80,
                             real="198.19.0.12", dport=80, method="nat", state="ESTABLISHED", timeout=900)
                        for i in range(3)]
            injected.append(dict(protocol="tcp", client="198.18.0.77", cport=50009, vip=L.VIP, vport=81,
                                 real="198.19.0.12", dport=80, method="nat", state="ESTABLISHED", timeout=900))
            sent = L.in_ns("fl-rs1", L.PY, SYNC_PY, "send", "224.0.0.81", "8848", "rs1-eth", "1", json.dumps(injected))
            time.sleep(1)
            rows = [row for row in connections("b") if row[2] == "198.18.0.77"]
            checks.report("encoder_records_installed",
                          sent.returncode == 0 and sorted(r[3] for r in rows) == [50000, 50001, 50002]
                          and all(r[1] == "ESTABLISHED" and r[6] == "198.19.0.12" for r in rows),
                          f"send: {sent.stdout.strip() or sent.stderr.strip()}; B lists {rows}")
            shown = console("b", "show sync")
            checks.report("unknown_service_counted", re.search(r"^sync_no_service\s+[1-9]", console("b", "show workers"), re.M)
                          is not None, " | ".join(l for l in shown.splitlines()[:4]))

            # A backup that restarts while the master holds 1,000 connections gets all of them back
            # within full_refresh, from the master's paced re-sending alone.
            with L.Hold(HELD, seconds=120, timeout=2.0) as hold:
                checks.report("master_holds_connections", hold.opened.get("opened") == HELD,
                              f"opened {hold.opened.get('opened')} of {HELD} in {hold.opened.get('elapsed')} s; "
                              f"{hold.opened.get('errors', [])[:2]}")
                held_ports = {int(x["peer"].rsplit(":", 1)[1]) for x in hold.opened.get("answers", [])}
                code = a.stop()
                a2 = L.Director("ha-a-restarted", CONF_A, ns="fl-dir")
                later.append(a2)
                a2.start()
                restarted = time.monotonic()
                up, _ = console_ready("a")
                have = set()
                while up and time.monotonic() - restarted < FULL_REFRESH + 10:
                    have = {row[3] for row in connections("a") if row[2] == L.CLIENT_IP and row[3] in held_ports}
                    if len(have) >= len(held_ports):
                        break
                    time.sleep(1)
                checks.report("restarted_backup_converges",
                              up and code == 0 and len(held_ports) == HELD and have == held_ports,
                              f"A lists {len(have)} of the {len(held_ports)} held connections "
                              f"{time.monotonic() - restarted:.1f} s after it was started again (full_refresh "
                              f"{FULL_REFRESH} s)")
                hold.release()

            for d in [a, b] + later:
                d.stop()
            later.clear()
            # keepalived decides, and the master's Fulcrum dies mid-transfer: with sync and without.
            keepalived_failover(checks, sync=True)
            keepalived_failover(checks, sync=False)
    except RuntimeError as e:
        checks.report("lab", False, str(e))
    finally:
        for d in [a, b] + later:
            d.stop()
    return checks.summary()


if __name__ == "__main__":
    L.main_guard(main)
