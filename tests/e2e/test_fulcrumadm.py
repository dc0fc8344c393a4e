#!/usr/bin/env python3
"""End-to-end test of fulcrumadm, ipvsadm's command line for a running director, over its console's
Unix socket (default /run/fulcrum/console.sock), and of Debian's ldirectord driving it unchanged.

  views      -L -n is the console's `show services` byte for byte; -L --timeout, --thresholds;
             nothing on stderr and exit 0; the console's show interfaces (link up, the ports'
             packets counted), show neighbors (the client and a real server learned by ARP) and
             show routes
  errors     ipvsadm's exit statuses and stderr: 255 for what popt refuses (-Q, a missing value),
             2 for a bad command line (-f, a bad address), 255 for an edit refused (-A of a service
             that exists), 1 for a listing of a missing service; nothing on stdout
  edits      -A, -E, -a (with ldirectord's -x 0 -y 0), -e, -d, -D, --set and -Z: silent, exit 0,
             and -S -n, --timeout and --stats show what each did
  save       -S -n fed to -R on a cleared director gives the same -S -n, and HTTP flows again
  site       an ipvsadm-save file from an LVS site (leading "ipvsadm" on some lines, -p, -M, a DR
             real server given another port) restored; -S -n as ipvsadm would write it
  atomic     a restore with a bad rule in its middle changes nothing (exit 255)
  persist    -L -n --persistent-conn: the restored persistent service's one client holds one template
             on the real server it went to
  reload     fulcrumadm --reload exits 1 with the file's errors on stderr for a broken file, 0 for
             a good one; a reload naming a group the host lacks is refused; one whose socket cannot
             open leaves the console where it was
  refused    an unprivileged user (setpriv --reuid=nobody) cannot use the socket: connect() is
             refused by the file's mode, and with the mode opened, by the peer check
  systemd    the director's sd_notify datagrams on its NOTIFY_SOCKET (a socket of the test's own):
             READY=1 once it serves, RELOADING=1 then READY=1 around each fulcrumadm --reload,
             STOPPING=1
  capture    dpdk-dumpcap attaches to a director started with hugepages (rte_pdump) and writes the
             client's SYN to the VIP, as tcpdump reads it back
  ldirectord Debian's ldirectord, stock ldirectord.cf, run in fl-dir with ./ipvsadm a link to
             fulcrumadm: it creates the virtual service and its three real servers, removes rs2
             when its HTTP check fails (traffic then skips it) and puts it back when it passes

Logs: $FULCRUM_LAB_DIR (default /tmp/fulcrum-lab): director-adm-*.log, ldirectord*.log, adm-*.yaml.
"""
import os
import re
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lablib as L  # noqa: E402

FULCRUMADM = os.path.join(os.path.dirname(L.FULCRUM), "fulcrumadm")
VIP = L.VIP
RS = {n: f"198.19.0.1{n}" for n in (1, 2, 3)}


def adm(*args, stdin=None, user=None, limit=30):
    """fulcrumadm ARGS: (exit status, stdout, stderr)."""
    cmd = [FULCRUMADM, *args]
    if user:
        cmd = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", *cmd]  # uid and gid
    try:
        r = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=limit)
        return r.returncode, r.stdout, r.stderr
    except subprocess.TimeoutExpired:
        return None, "", f"timed out after {limit} s"


def http(count):
    """`count` HTTP requests to the VIP, one connection each: {"ok", "counts": {rsN: n}, ...}."""
    return L.client("http", "--count", str(count), "--deadline", "20", timeout=2.0, limit=30)


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


def show(code, out, err):
    return f"exit {code}, stdout {out[-300:]!r}, stderr {err[-300:]!r}"


def check_views_and_errors(checks):
    code, out, err = adm("-L", "-n")
    with L.Console() as c:
        console = c.text("show services")
    checks.report("list_is_show_services", code == 0 and out == console and err == "" and f"TCP  {VIP}:80 rr" in out,
                  show(code, out, err))
    code, out, err = adm("-L", "--timeout")
    checks.report("list_timeout", (code, out, err) == (0, "Timeout (tcp tcpfin udp): 900 120 300\n", ""),
                  show(code, out, err))
    code, out, err = adm("-Ln", "--thresholds")
    rows = [l for l in out.splitlines() if l.startswith("  -> 198.19")]
    checks.report("list_thresholds",
                  code == 0 and out.splitlines()[1].startswith("Prot LocalAddress:Port            Uthreshold Lthreshold")
                  and len(rows) == 6 and all(re.match(r"  -> \S+ +0 +0 +\d+ +\d+ *$", r) for r in rows),
                  show(code, out, err))

    http(3)
    with L.Console() as c:
        interfaces = c.text("show interfaces")
        neighbors = c.text("show neighbors")
        routes = c.text("show routes")
    rx = [int(n) for n in re.findall(r"RX: packets (\d+)", interfaces)]
    checks.report("show_interfaces_neighbors_routes",
                  re.search(r"^ext: port 0 net_af_packet0,iface=dir-ext, link up .*mtu 1500, mac ([0-9a-f]{2}:){5}[0-9a-f]{2}$",
                            interfaces, re.M) is not None
                  and "    address 198.19.0.1/24; kernel interface fl-int" in interfaces
                  and len(rx) == 2 and min(rx) > 0
                  and re.search(r"^198\.18\.0\.2 dev ext lladdr \S+ REACHABLE$", neighbors, re.M) is not None
                  and re.search(rf"^{re.escape(RS[1])} dev int lladdr \S+ REACHABLE$", neighbors, re.M) is not None
                  and routes == ("198.18.0.0/24 dev ext proto kernel scope link src 198.18.0.1\n"
                                 "198.19.0.0/24 dev int proto kernel scope link src 198.19.0.1\n"),
                  f"{interfaces!r} {neighbors!r} {routes!r}")

    # Every connection (TIME_WAIT keeps the ones just made): the rows the console lists.
    code, out, err = adm("-L", "-n", "-c")
    with L.Console() as c:
        shown = c.text("show conns 100000")
    rows = out.splitlines()[2:]
    checks.report("list_connections",
                  code == 0 and err == "" and out.startswith("IPVS connection entries\npro expire state") and len(rows) >= 3
                  and all(re.match(r"(TCP|UDP) \d\d:\d\d  \S+ +198\.18\.0\.2:\d+ +198\.18\.0\.100:80 +198\.19\.0\.1\d:80$",
                                   r) for r in rows)
                  and sorted(rows) == sorted(shown.splitlines()[2:]),
                  show(code, out, err))

    cases = [(("-Q",), 255, 'unknown option "-Q"'),  # popt's errors exit 255 in ipvsadm
             (("-L", "-t"), 255, "needs a value"),
             (("-A", "-f", "1"), 2, "-f is not supported"),
             (("-A", "-t", f"{VIP}:80"), 255, "already exists"),
             (("-L", "-t", f"{VIP}:81"), 1, "no service"),
             (("-a", "-t", f"{VIP}:80", "-r", "bad"), 2, "expected RIP[:PORT]"),
             (("-A", "-t", f"{VIP}:81 -s rr"), 2, "holds a blank")]
    bad = []
    for args, want, text in cases:
        code, out, err = adm(*args)
        if code != want or out != "" or text not in err:
            bad.append(f"{' '.join(args)}: {show(code, out, err)}")
    checks.report("errors_statuses_and_stderr", not bad, "; ".join(bad) or f"{len(cases)} commands as ipvsadm")


def check_edits(checks):
    """Each editing command through fulcrumadm: silent, exit 0, and -S -n shows what it did."""
    svc = f"{VIP}:8080"
    steps = [(("-A", "-t", svc, "-s", "rr"), f"-A -t {svc} -s rr\n"),
             (("-E", "-t", svc, "-s", "wrr", "-p", "120"), f"-A -t {svc} -s wrr -p 120\n"),
             (("-a", "-t", svc, "-r", f"{RS[1]}:8080", "-m", "-w", "2", "-x", "0", "-y", "0"),
              f"-a -t {svc} -r {RS[1]}:8080 -m -w 2\n"),
             (("-e", "-t", svc, "-r", f"{RS[1]}:8080", "-m", "-w", "5"), f"-a -t {svc} -r {RS[1]}:8080 -m -w 5\n"),
             (("-d", "-t", svc, "-r", f"{RS[1]}:8080"), None),
             (("-D", "-t", svc), None)]
    bad = []
    for args, line in steps:
        code, out, err = adm(*args)
        saved = adm("-S", "-n")[1]
        if (code, out, err) != (0, "", "") or (line is not None and line not in saved) or \
                (args[0] == "-d" and f"-r {RS[1]}:8080" in saved) or (args[0] == "-D" and f"-t {svc}" in saved):
            bad.append(f"{' '.join(args)}: {show(code, out, err)}; -S: {saved!r}")
    set_code = adm("--set", "3600", "0", "60")[0]
    timeouts = adm("-L", "--timeout")[1]
    zero = adm("-Z")
    stats = adm("-L", "-n", "--stats", "--exact")[1]
    adm("--set", "900", "120", "300")
    ok_stats = all(re.match(r"(TCP|UDP)  \S+ +0 +0 +0 +0 +0$|  -> \S+ +0 +0 +0 +0 +0$", l) for l in stats.splitlines()[3:])
    checks.report("edit_commands",
                  not bad and set_code == 0 and timeouts == "Timeout (tcp tcpfin udp): 3600 120 60\n" and zero[0] == 0
                  and ok_stats,
                  "; ".join(bad) or f"--set: {timeouts!r}; -Z then --stats: {stats[-200:]!r}")


def check_save_restore(checks):
    code, saved, err = adm("-S", "-n")
    cleared = adm("-C")
    empty = adm("-L", "-n")[1]
    restored = adm("-R", stdin=saved)
    again = adm("-S", "-n")[1]
    r = http(9)
    checks.report("save_clear_restore",
                  code == 0 and saved.count("\n") == 8 and cleared[0] == 0 and cleared[1] == ""
                  and empty.count("\n") == 3 and restored[:2] == (0, "") and again == saved and r.get("ok")
                  and set(r.get("counts", {})) == {"rs1", "rs2", "rs3"},
                  f"-S: {saved.count(chr(10))} lines; -C {cleared[0]}; empty table {empty.count(chr(10))} lines; "
                  f"-R {restored[0]} {restored[2]!r}; -S again identical: {again == saved}; HTTP {L.describe(r)}")

    site = (f"ipvsadm -A -t {VIP}:80 -s wlc -p 600 -M 255.255.255.0\n"
            f"ipvsadm -a -t {VIP}:80 -r {RS[1]}:80 -m -w 3\n"
            f"-a -t {VIP}:80 -r {RS[2]}:80 -m -w 1\n"
            f"-A -u {VIP}:5353 -s rr\n"
            f"-a -u {VIP}:5353 -r {RS[3]}:5353 -m -w 2\n"
            f"-A -t {VIP}:443 -s sh -b sh-port\n"
            f"-a -t {VIP}:443 -r {RS[3]}:8443 -g -w 1\n")
    adm("-C")
    code, out, err = adm("-R", stdin=site)
    saved = adm("-S", "-n")[1]
    want = (f"-A -t {VIP}:80 -s wlc -p 600 -M 255.255.255.0\n"
            f"-a -t {VIP}:80 -r {RS[1]}:80 -m -w 3\n"
            f"-a -t {VIP}:80 -r {RS[2]}:80 -m -w 1\n"
            f"-A -t {VIP}:443 -s sh -b sh-port\n"
            f"-a -t {VIP}:443 -r {RS[3]}:443 -g -w 1\n"
            f"-A -u {VIP}:5353 -s rr\n"
            f"-a -u {VIP}:5353 -r {RS[3]}:5353 -m -w 2\n")
    checks.report("site_rules_restored", (code, out, err) == (0, "", "") and saved == want,
                  f"{show(code, out, err)}; -S -n: {saved!r}")

    broken = f"-A -t {VIP}:8080 -s rr\n-a -t {VIP}:9999 -r {RS[1]}:80 -m\n-A -t {VIP}:8081 -s rr\n"
    code, out, err = adm("-R", stdin=broken)
    after = adm("-S", "-n")[1]
    checks.report("restore_all_or_nothing",
                  code == 255 and out == "" and "line 2" in err and "nothing was applied" in err and after == want,
                  f"{show(code, out, err)}; table unchanged: {after == want}")

    # The restored service is persistent (-p 600): one client, one template, on the real server
    # all its connections went to; ipvsadm -L --persistent-conn counts it.
    r = http(4)
    code, out, err = adm("-L", "-n", "--persistent-conn", "-t", f"{VIP}:80")
    rows = dict(re.findall(r"  -> (198\.19\.0\.1\d):80 +\d+ +(\d+) +\d+ +\d+ *$", out, re.M))
    served = list(r.get("counts", {}))
    want_rows = {RS[1]: "1" if served == ["rs1"] else "0", RS[2]: "1" if served == ["rs2"] else "0"}
    checks.report("persistent_conn_counts_templates",
                  code == 0 and r.get("ok") and len(served) == 1 and rows == want_rows
                  and out.startswith("Prot LocalAddress:Port            Weight    PersistConn ActiveConn InActConn"),
                  f"4 connections: {L.describe(r)}; {show(code, out, err)}")


class NotifySocket:
    """What systemd would hear: the datagrams sent to NOTIFY_SOCKET, in order."""

    def __init__(self):
        self.path = os.path.join(L.RUN_DIR, "notify.sock")
        if os.path.exists(self.path):
            os.unlink(self.path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.setblocking(False)
        self.heard = []

    def read(self):
        while True:
            try:
                self.heard.append(self.sock.recv(4096).decode(errors="replace"))
            except BlockingIOError:
                return self.heard

    def wait_for(self, text, limit=10.0):
        start = time.monotonic()
        while time.monotonic() - start < limit:
            if any(text in h for h in self.read()):
                return True
            time.sleep(0.05)
        return False

    def close(self):
        self.sock.close()
        os.unlink(self.path)


def check_reload(checks, director, conf_path, good_text):
    write(conf_path, good_text.replace("scheduler: rr", "scheduler: fastest", 1))
    code, out, err = adm("--reload")
    refused = code == 1 and "reload refused" in err and "unknown scheduler" in err and ".yaml:" in err
    write(conf_path, good_text)
    code2, out2, err2 = adm("--reload")
    listing = adm("-L", "-n")[1]
    checks.report("reload_exit_status",
                  refused and (code2, out2, err2) == (0, "", "") and f"TCP  {VIP}:80 rr" in listing,
                  f"broken file: {show(code, out, err)}; good file: {show(code2, out2, err2)}")

    # The console's own settings: an unknown group is refused with the reload; a socket that
    # cannot be opened (its folder is open to all) is logged, and the console stays where it was.
    write(conf_path, good_text.replace('console:\n', 'console:\n  group: no-such-group-here\n', 1))
    code3, out3, err3 = adm("--reload")
    open_folder = os.path.join(L.RUN_DIR, "open-folder")
    os.makedirs(open_folder, exist_ok=True)
    os.chmod(open_folder, 0o777)
    write(conf_path, good_text.replace('console:\n', f'console:\n  socket: "{open_folder}/console.sock"\n', 1))
    offset = len(director.text())
    code4, out4, err4 = adm("--reload")
    time.sleep(0.5)
    kept = adm("-L", "--timeout")
    logged = "must be a folder (not a link) owned by root" in director.text()[offset:]
    write(conf_path, good_text)
    code5 = adm("--reload")[0]
    checks.report("reload_keeps_the_console",
                  code3 == 1 and "console.group no-such-group-here: no such group on this host" in err3
                  and code4 == 0 and logged and kept[0] == 0 and not os.path.exists(f"{open_folder}/console.sock")
                  and code5 == 0,
                  f"unknown group: {show(code3, out3, err3)}; socket in an open folder: reload exit {code4}, logged: "
                  f"{logged}, the old socket still answers: {kept[0] == 0}; back to the file's: exit {code5}")


def check_unprivileged(checks):
    sock = "/run/fulcrum/console.sock"
    mode = oct(os.stat(sock).st_mode & 0o777)
    code, out, err = adm("-C", user=65534)
    by_mode = code == 2 and "Permission denied" in err
    os.chmod(sock, 0o666)
    try:
        code2, out2, err2 = adm("-C", user=65534)
    finally:
        os.chmod(sock, 0o600)
    by_peer = code2 == 2 and "permission denied: uid 65534 is not root" in err2
    still = adm("-L", "-n")[1].count("  -> ")
    checks.report("unprivileged_refused", mode == "0o600" and by_mode and by_peer and still > 0,
                  f"socket mode {mode}; as nobody: {show(code, out, err)}; with the mode opened: "
                  f"{show(code2, out2, err2)}; the table kept its {still} real servers")


LDIRECTORD_CF = """# ldirectord.cf as Debian's example writes one: global settings, then one virtual.
checktimeout=2
checkinterval=1
failurecount=1
autoreload=no
logfile="{log}"
quiescent=no

virtual={vip}:80
	real={rs1}:80 masq
	real={rs2}:80 masq
	real={rs3}:80 masq
	service=http
	request="health"
	receive="ok"
	scheduler=rr
	protocol=tcp
	checktype=negotiate
"""


def real_servers_listed():
    out = adm("-L", "-n")[1]
    return sorted(re.findall(r"  -> (198\.19\.0\.1\d):80 +Masq", out))


def wait_listed(want, limit):
    start = time.monotonic()
    while True:
        now = real_servers_listed()
        if now == want or time.monotonic() - start > limit:
            return now == want, time.monotonic() - start, now
        time.sleep(0.2)


def check_ldirectord(checks):
    work = os.path.join(L.RUN_DIR, "ldirectord")
    os.makedirs(work, exist_ok=True)
    link = os.path.join(work, "ipvsadm")
    if os.path.lexists(link):
        os.unlink(link)
    os.symlink(FULCRUMADM, link)
    conf = write(os.path.join(work, "ldirectord.cf"),
                 LDIRECTORD_CF.format(log=os.path.join(L.RUN_DIR, "ldirectord-own.log"), vip=VIP, rs1=RS[1],
                                      rs2=RS[2], rs3=RS[3]))
    # -d: the foreground, and ./ipvsadm from its working directory (what the link serves).
    d = L.Daemon("ldirectord", "fl-dir", "sh", "-c", f"cd {work} && exec /usr/sbin/ldirectord -d {conf} start")
    d.start()
    try:
        all3 = sorted(RS.values())
        ok, secs, now = wait_listed(all3, 20)
        r = http(9)
        checks.report("ldirectord_creates_the_service",
                      ok and r.get("ok") and r.get("counts") == {"rs1": 3, "rs2": 3, "rs3": 3},
                      f"listed {now} after {secs:.1f} s; 9 connections: {L.describe(r)}")

        L.set_health(2, status=500)
        ok, secs, now = wait_listed([RS[1], RS[3]], 15)
        r = http(8)
        checks.report("ldirectord_removes_a_failing_server",
                      ok and r.get("ok") and r.get("counts") == {"rs1": 4, "rs3": 4},
                      f"listed {now} {secs:.1f} s after rs2's check began to fail; 8 connections: {L.describe(r)}")

        L.set_health(2)
        ok, secs, now = wait_listed(all3, 15)
        r = http(9)
        checks.report("ldirectord_puts_it_back",
                      ok and r.get("ok") and r.get("counts") == {"rs1": 3, "rs2": 3, "rs3": 3},
                      f"listed {now} {secs:.1f} s after rs2's check passed again; 9 connections: {L.describe(r)}")
    finally:
        d.stop()
        L.set_health(2)


def hugepages_ready(want=256):
    """2 MB hugepages reserved and hugetlbfs mounted, as EAL's shared memory needs: (ok, detail)."""
    try:
        total = int(open("/proc/sys/vm/nr_hugepages").read())
        if total < want:
            with open("/proc/sys/vm/nr_hugepages", "w") as f:
                f.write(str(want))
            total = int(open("/proc/sys/vm/nr_hugepages").read())
        if not any(line.split()[2:3] == ["hugetlbfs"] for line in open("/proc/mounts")):
            os.makedirs("/dev/hugepages", exist_ok=True)
            L.run(["mount", "-t", "hugetlbfs", "nodev", "/dev/hugepages"], 10)
        mounted = any(line.split()[2:3] == ["hugetlbfs"] for line in open("/proc/mounts"))
        return total >= 128 and mounted, f"{total} hugepages, hugetlbfs mounted: {mounted}"
    except OSError as e:
        return False, str(e)


def check_capture(checks, good_text):
    """dpdk-dumpcap on a director with EAL's shared memory (hugepages, its own --file-prefix)."""
    ok, detail = hugepages_ready()
    if not ok:
        checks.report("capture", False, f"no hugepages for EAL: {detail}")
        return
    prefix = "fulcrum-adm-capture"
    text = good_text.replace('eal: ["--no-huge", "-m", "512", "--file-prefix", "fulcrum-lab", "--no-pci"]',
                             f'eal: ["-m", "256", "--file-prefix", "{prefix}", "--no-pci"]')
    assert text != good_text, "conf/lab-nat.yaml's eal line changed"
    path = write(os.path.join(L.RUN_DIR, "adm-capture.yaml"), text)
    director = L.Director("adm-capture", path)
    director.start()
    try:
        ready, why = director.wait_ready()
        pcap = os.path.join(L.RUN_DIR, "adm-capture.pcapng")
        if os.path.exists(pcap):
            os.unlink(pcap)
        # Port 0 is ext, the client's side; traffic comes while dumpcap waits for its 6 packets.
        dump = subprocess.Popen(["dpdk-dumpcap", f"--file-prefix={prefix}", "-i", "0", "-c", "6", "-w", pcap],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        time.sleep(1.5)
        r = http(3)
        try:
            out, _ = dump.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            dump.kill()
            out, _ = dump.communicate()
        read = L.run(["tcpdump", "-n", "-r", pcap], 10)
        syn = re.search(rf"IP 198\.18\.0\.2\.\d+ > {re.escape(VIP)}\.80: Flags \[S\]", read.stdout or "")
        checks.report("capture_with_dpdk_dumpcap",
                      ready and "packet capture ready" in director.text() and dump.returncode == 0 and syn is not None
                      and r.get("ok"),
                      f"director: {why}; dpdk-dumpcap exit {dump.returncode}: {out.strip()[-200:]!r}; tcpdump read "
                      f"{len((read.stdout or '').splitlines())} packets, the client's SYN among them: {syn is not None}")
    finally:
        director.stop()


def main():
    checks = L.Checks("fulcrumadm")
    if os.geteuid() != 0:
        checks.report("root", False, "the lab needs root")
        return checks.summary()
    if L.STANDIN:
        checks.skip("all", "fulcrumadm needs the director")
        return checks.summary()
    if not os.access(FULCRUMADM, os.X_OK):
        checks.report("built", False, f"{FULCRUMADM} is missing")
        return checks.summary()
    t0 = time.monotonic()
    os.makedirs(L.RUN_DIR, exist_ok=True)
    good_text = open(L.LAB_CONF).read()
    conf_path = write(os.path.join(L.RUN_DIR, "adm-nat.yaml"), good_text)
    # ldirectord's director: the lab's file without services (ldirectord makes them) and with
    # the kernel interfaces its checks go out of (the default).
    empty_text = good_text[:good_text.index("\nservices:\n") + 1] + "services: []\n"
    empty_path = write(os.path.join(L.RUN_DIR, "adm-empty.yaml"), empty_text)
    ok, detail = L.check_config(empty_path)
    checks.report("check_config_without_services", ok, detail)
    try:
        with L.Lab():
            notify = NotifySocket()
            os.environ["NOTIFY_SOCKET"] = notify.path
            director = L.Director("adm-nat", conf_path)
            director.start()
            del os.environ["NOTIFY_SOCKET"]
            ready, detail = director.wait_ready()
            checks.report("director_ready", ready, detail)
            ready_heard = notify.wait_for("READY=1")
            if ready:
                check_views_and_errors(checks)
                check_edits(checks)
                check_save_restore(checks)
                write(conf_path, good_text)
                before = len(notify.read())
                check_reload(checks, director, conf_path, good_text)
                around_reloads = notify.read()[before:]
                check_unprivileged(checks)
            code = director.stop()
            if ready:
                stopping = notify.wait_for("STOPPING=1", 2)
                # check_reload's five reloads (refused, applied, refused, applied, applied): each
                # RELOADING=1 (with MONOTONIC_USEC), then READY=1, whatever became of it.
                shape = [h.split("\n")[0] for h in around_reloads]
                checks.report("systemd_notify",
                              ready_heard and stopping and shape == ["RELOADING=1", "READY=1"] * 5
                              and all(re.search(r"\nMONOTONIC_USEC=\d+$", h) for h in around_reloads[::2]),
                              f"at start READY=1: {ready_heard}; around the two reloads: {around_reloads}; at stop "
                              f"STOPPING=1: {stopping}")
            notify.close()
            gone = not os.path.exists("/run/fulcrum/console.sock")
            checks.report("stop_removes_the_socket", code == 0 and gone,
                          f"{L.stop_outcome(code, director)}; socket file gone: {gone}")

            check_capture(checks, good_text)

            director = L.Director("adm-ldirectord", empty_path)
            director.start()
            start = time.monotonic()
            while time.monotonic() - start < 20 and not os.path.exists("/run/fulcrum/console.sock"):
                time.sleep(0.2)
            up = adm("-L", "-n")[0] == 0
            checks.report("empty_director_up", up, director.tail())
            if up:
                check_ldirectord(checks)
            director.stop()
    except RuntimeError as e:
        checks.report("lab", False, str(e))
    L.log(f"test_fulcrumadm ran {time.monotonic() - t0:.0f} s")
    return checks.summary()


if __name__ == "__main__":
    L.main_guard(main)
