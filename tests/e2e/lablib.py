"""Shared pieces of the end-to-end tests: the lab, the director process, the client, named checks.

Every wait here is bounded; a test that finds the director broken fails fast and still tears the lab
down (use `with Lab(): ...`).
"""

import fcntl
import json
import os
import re
import select
import signal
import subprocess
import sys
import time
import traceback

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LAB_SH = os.path.join(REPO, "tests", "lab", "lab.sh")
CLIENT_PY = os.path.join(REPO, "tests", "e2e", "client.py")
LAB_CONF = os.path.join(REPO, "conf", "lab-nat.yaml")
LAB_DR_CONF = os.path.join(REPO, "conf", "lab-dr.yaml")
LAB_TUN_CONF = os.path.join(REPO, "conf", "lab-tun.yaml")
LAB_MIXED_CONF = os.path.join(REPO, "conf", "lab-mixed.yaml")
PACKET_TOOL = os.path.join(REPO, "tests", "e2e", "packet_tool.py")
RUN_DIR = os.environ.get("FULCRUM_LAB_DIR", "/tmp/fulcrum-lab")


def _find_director():
    """$FULCRUM_BIN, else build/fulcrum, else where meson puts an executable declared in src/control/."""
    if os.environ.get("FULCRUM_BIN"):
        return os.environ["FULCRUM_BIN"]
    for rel in ("build/fulcrum", "build/src/control/fulcrum"):
        if os.access(os.path.join(REPO, rel), os.X_OK):
            return os.path.join(REPO, rel)
    return os.path.join(REPO, "build", "fulcrum")


FULCRUM = _find_director()
PY = "/usr/bin/python3"
LOCK_FILE = "/run/lock/fulcrum-lab.lock"

VIP = "198.18.0.100"
DIR_EXT_IP = "198.18.0.1"
CLIENT_IP = "198.18.0.2"
REAL_SERVERS = ["rs1", "rs2", "rs3"]
# Every real server's address (tests/lab/lab.sh); rsN lives in namespace fl-rsN on interface rsN-eth.
RS_IP = {"rs1": "198.19.0.11", "rs2": "198.19.0.12", "rs3": "198.19.0.13",
         "rs4": "198.18.0.14", "rs5": "198.18.0.15"}
DECAP_DEV = "tunl-dec"  # the TUN device of rs5's decapsulator

# Hidden, for checking the tests without the director: the fl-dir kernel forwards with nftables DNAT.
STANDIN = os.environ.get("FULCRUM_E2E_KERNEL_STANDIN") == "1"

COUNTER_RE = re.compile(r"\b[A-Za-z_][\w.]*=\d+\b")


def log(msg):
    print(f"  .. {msg}", flush=True)


class Checks:
    """Named checks, printed as `PASS name: detail` / `FAIL name: detail` as they finish."""

    def __init__(self, suite):
        self.suite = suite
        self.passed = 0
        self.failed = 0

    def report(self, name, ok, detail=""):
        full = f"{self.suite}.{name}"
        print(f"{'PASS' if ok else 'FAIL'} {full}{': ' + detail if detail else ''}", flush=True)
        if ok:
            self.passed += 1
        else:
            self.failed += 1
        return ok

    def skip(self, name, why):
        print(f"SKIP {self.suite}.{name}: {why}", flush=True)

    def summary(self):
        print(f"{self.suite}: {self.passed} passed, {self.failed} failed", flush=True)
        return 0 if self.failed == 0 else 1


def run(cmd, timeout, **kw):
    """subprocess.run with a time limit; a timeout becomes returncode None and a missing program 127,
    never an exception."""
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    except subprocess.TimeoutExpired as e:
        out, err = (x.decode(errors="replace") if isinstance(x, bytes) else (x or "") for x in (e.stdout, e.stderr))
        return subprocess.CompletedProcess(cmd, None, out, err + f"\ntimed out after {timeout} s")
    except OSError as e:  # a missing binary
        return subprocess.CompletedProcess(cmd, 127, "", f"{cmd[0]}: {e.strerror}")


def lab(*args, timeout=60, mtu=None):
    env = dict(os.environ, FULCRUM_LAB_MTU=str(mtu)) if mtu else None
    return run(["bash", LAB_SH, *args], timeout, env=env)


def client(*args, timeout=3.0, limit=30):
    """Runs client.py in fl-client; returns its JSON answer (a dict with "ok")."""
    r = run(["ip", "netns", "exec", "fl-client", PY, CLIENT_PY, "--timeout", str(timeout), *args], limit)
    try:
        return json.loads(r.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        return {"ok": False, "error": f"client exited {r.returncode}: {(r.stderr or r.stdout).strip()[-300:]}"}


def conn(count=1, timeout=3.0, limit=30):
    """`count` GET /conn through the VIP: who answered, the client address it saw, the address the
    connection was made to."""
    return client("conn", "--count", str(count), timeout=timeout, limit=limit)


def in_ns(ns, *cmd, timeout=10):
    return run(["ip", "netns", "exec", ns, *cmd], timeout)


def link_stats(ns, dev):
    """The kernel's counters of one interface in a namespace ({} when it cannot be read)."""
    r = run(["ip", "-n", ns, "-s", "-j", "link", "show", "dev", dev], 10)
    try:
        s = json.loads(r.stdout)[0]["stats64"]
        return {"rx_packets": s["rx"]["packets"], "tx_packets": s["tx"]["packets"],
                "rx_bytes": s["rx"]["bytes"], "tx_bytes": s["tx"]["bytes"]}
    except (ValueError, LookupError, TypeError):
        return {}


def route_mtu(dst, ns="fl-client"):
    """The path MTU the kernel in `ns` holds for `dst` (`ip route get`), or None when it has none."""
    r = in_ns(ns, "ip", "-o", "route", "get", dst)
    m = re.search(r"\bmtu (\d+)", r.stdout)
    return int(m.group(1)) if m else None


def flush_route_cache(ns="fl-client"):
    return in_ns(ns, "ip", "route", "flush", "cache").returncode == 0


def check_config(path):
    """`fulcrum --config PATH --check`: (ok, detail)."""
    r = run([FULCRUM, "--config", path, "--check"], 20)
    rel = os.path.relpath(path, REPO)
    return r.returncode == 0, f"--check on {rel} exited {r.returncode}" + (
        f": {(r.stderr or r.stdout).strip()[-300:]}" if r.returncode != 0 else "")


def check_config_refused(base, name, old, new, expect):
    """`--check` on a copy of `base` with `old` replaced by `new` (once) must exit 1 and say `expect`:
    (ok, detail)."""
    text = open(base).read()
    assert old in text, f"{base}: no {old!r} to replace"
    os.makedirs(RUN_DIR, exist_ok=True)
    path = os.path.join(RUN_DIR, f"{name}.yaml")
    with open(path, "w") as f:
        f.write(text.replace(old, new, 1))
    r = run([FULCRUM, "--config", path, "--check"], 20)
    said = (r.stderr or r.stdout).strip().splitlines()
    return (r.returncode == 1 and any(expect in line for line in said),
            f"--check with `{new.strip(' {,')}` exited {r.returncode}, said: {said[0][:220] if said else '(nothing)'}")


def _last_json(text):
    for line in reversed((text or "").strip().splitlines()):
        try:
            return json.loads(line)
        except ValueError:
            continue
    return None


def packet_tool(ns, *args, limit=20):
    """tests/e2e/packet_tool.py in a namespace; returns its last JSON object (a dict with "ok")."""
    r = in_ns(ns, PY, PACKET_TOOL, *args, timeout=limit)
    got = _last_json(r.stdout)
    if isinstance(got, dict) and "ok" in got:
        return got
    return {"ok": False, "error": f"packet_tool {args[0]} in {ns} exited {r.returncode}: "
                                  f"{(r.stderr or r.stdout).strip()[-300:]}"}


class Background:
    """A helper run in a namespace in the background (a sniffer): start() returns once it has printed
    its first line (`{"ready": true}`, or for tcpdump its "listening on" line on stderr)."""

    def __init__(self, ns, *cmd, ready_on_stderr=False):
        self.ns = ns
        self.cmd = list(cmd)
        self.ready_on_stderr = ready_on_stderr
        self.proc = None
        self.first = ""

    def start(self, limit=5.0):
        self.proc = subprocess.Popen(["ip", "netns", "exec", self.ns, *self.cmd], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     start_new_session=True)
        stream = self.proc.stderr if self.ready_on_stderr else self.proc.stdout
        ready, _, _ = select.select([stream], [], [], limit)
        if ready:
            self.first = stream.readline()
        return bool(self.first)

    def finish(self, limit=15.0, terminate=False):
        """Waits (or, with terminate, sends SIGTERM first); returns the last JSON object printed."""
        if self.proc is None:
            return {"ok": False, "error": "never started"}
        if terminate and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            out, err = self.proc.communicate(timeout=limit)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate(timeout=5)
        got = _last_json(out)
        if isinstance(got, dict) and "ok" in got:
            return got
        return {"ok": False, "error": f"{self.cmd[1] if len(self.cmd) > 1 else self.cmd[0]} in {self.ns} "
                                      f"exited {self.proc.returncode}: {(err or out).strip()[-300:]}"}


def capture(ns, iface, path, bpf):
    """tcpdump writing `bpf` traffic on iface (in ns) to path; stop it with .finish(terminate=True)."""
    # --immediate-mode: without it libpcap hands packets over in blocks, at most once a second, and
    # a tcpdump stopped sooner never writes what it has captured.
    return Background(ns, "tcpdump", "-n", "-U", "--immediate-mode", "-i", iface, "-w", path, bpf,
                      ready_on_stderr=True)


def ping(addr, count=3):
    r = run(["ip", "netns", "exec", "fl-client", "ping", "-n", "-c", str(count), "-i", "0.2", "-W", "1",
             "-w", "5", addr], 10)
    m = re.search(r"(\d+) received", r.stdout)
    return int(m.group(1)) if m else 0, count


class Lab:
    """The lab for the duration of a `with` block, under a lock so two runs cannot share it; `mtu`:
    every link's but the directors' ports' (tests/lab/lab.sh)."""

    def __init__(self, mtu=None):
        self.mtu = mtu

    def __enter__(self):
        os.makedirs(os.path.dirname(LOCK_FILE), exist_ok=True)
        self._lock = open(LOCK_FILE, "w")
        deadline = time.monotonic() + 300
        while True:
            try:
                fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"another lab user holds {LOCK_FILE} for over 300 s")
                time.sleep(1)
        # SIGTERM (a CI time-out, a Ctrl-C'd parent) must still run __exit__.
        self._old_term = signal.signal(signal.SIGTERM, _raise_interrupt)
        r = lab("up", mtu=self.mtu)
        if r.returncode != 0:
            self.__exit__(None, None, None)
            raise RuntimeError(f"lab up failed: {r.stderr.strip()[-500:]}")
        return self

    def __exit__(self, *exc):
        lab("down")
        signal.signal(signal.SIGTERM, self._old_term)
        self._lock.close()
        return False


def _raise_interrupt(signum, _frame):
    raise KeyboardInterrupt(f"signal {signum}")


def nat_config(name, tcp_scheduler="rr", tcp_weights=(1, 1, 1), base=LAB_CONF):
    """A variant of conf/lab-nat.yaml written to the run directory; returns its path.

    Changes the TCP service (the first one in the file): its scheduler and its real servers' weights.
    """
    text = open(base).read()
    starts = [m.start() for m in re.finditer(r"(?m)^  - vip:", text)]
    assert len(starts) >= 2, "conf/lab-nat.yaml: expected the TCP service first, then the UDP one"
    tcp, rest = text[:starts[1]], text[starts[1]:]
    tcp, n = re.subn(r"scheduler: rr\b", f"scheduler: {tcp_scheduler}", tcp)
    assert n == 1, "conf/lab-nat.yaml: expected one 'scheduler: rr' in the TCP service"
    weights = iter(tcp_weights)
    tcp, n = re.subn(r"weight: 1\b", lambda _m: f"weight: {next(weights)}", tcp)
    assert n == len(tcp_weights), "conf/lab-nat.yaml: expected one 'weight: 1' per TCP real server"
    os.makedirs(RUN_DIR, exist_ok=True)
    path = os.path.join(RUN_DIR, f"{name}.yaml")
    with open(path, "w") as f:
        f.write(f"# generated by tests/e2e from conf/lab-nat.yaml: tcp {tcp_scheduler} "
                f"{':'.join(map(str, tcp_weights))}\n" + tcp + rest)
    return path


class Director:
    """build/fulcrum in fl-dir, its log in the run directory."""

    def __init__(self, name, config, weights=(1, 1, 1), ns="fl-dir"):
        self.name = name
        self.config = config
        self.ns = ns
        self.weights = weights
        self.log_path = os.path.join(RUN_DIR, f"director-{name}.log")
        self.proc = None
        self.exit_code = None
        self.signalled = False  # False when it had exited by itself before stop()

    def start(self):
        if STANDIN:
            r = lab("standin", *map(str, self.weights))
            with open(self.log_path, "w") as f:
                f.write(r.stderr)
            return r.returncode == 0
        if not os.access(FULCRUM, os.X_OK):
            with open(self.log_path, "w") as f:
                f.write(f"{FULCRUM} does not exist or is not executable\n")
            return False
        self._log = open(self.log_path, "w")
        # `ip netns exec` execs the director in place, so proc.pid is the director's own pid.
        self.proc = subprocess.Popen(["ip", "netns", "exec", self.ns, FULCRUM, "--config", self.config],
                                     stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        return True

    def running(self):
        return STANDIN or (self.proc is not None and self.proc.poll() is None)

    def wait_ready(self, limit=20.0):
        """Until the VIP answers HTTP; fails at once when the director exits. Returns (ok, detail)."""
        start = time.monotonic()
        while time.monotonic() - start < limit:
            if not self.running():
                code = self.proc.returncode if self.proc else "never started"
                return False, f"director exited ({code}) before the VIP answered; {self.tail()}"
            # Not 1.0 s: a probe sent before the director runs is lost, and its SYN is resent after
            # the kernel's initial RTO of 1 s; a probe that gave up at that very moment would answer
            # the real server's SYN-ACK with a RST, which leaves the connection in SYN_RECV (as in
            # IPVS), counted in ActiveConn for the syn_recv timeout: a phantom in the counts.
            r = client("probe", timeout=1.5, limit=5)
            if r.get("ok"):
                return True, f"VIP answered after {time.monotonic() - start:.1f} s ({r['server']})"
            time.sleep(0.3)
        return False, f"VIP did not answer HTTP within {limit:.0f} s; {self.tail()}"

    def stop(self, limit=15.0):
        """SIGTERM, then wait; returns the exit code, or None after a SIGKILL."""
        if STANDIN:
            lab("standin-off")
            self.exit_code = 0
            return 0
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.signalled = True
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(limit)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
                self._log.close()
                self.exit_code = None
                return None
        self._log.close()
        self.exit_code = self.proc.returncode
        return self.exit_code

    def text(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def counters(self):
        """key=value pairs from the log's last lines (the counters printed on exit)."""
        found = {}
        for line in self.text().splitlines()[-200:]:
            for m in COUNTER_RE.finditer(line):
                k, v = m.group(0).split("=", 1)
                found[k] = int(v)
        return found

    def worker_totals(self):
        """The counters of the `stats worker=N` exit lines, summed over the workers ({} when there is
        none); "workers" says how many lines were summed."""
        total, seen = {}, set()
        for line in self.text().splitlines():
            m = re.search(r"\bstats worker=(\d+) ", line)
            if not m:
                continue
            seen.add(m.group(1))
            for c in COUNTER_RE.finditer(line[m.end():]):
                k, v = c.group(0).split("=", 1)
                total[k] = total.get(k, 0) + int(v)
        if seen:
            total["workers"] = len(seen)
        return total

    def tail(self, lines=8):
        t = self.text().strip().splitlines()[-lines:]
        return f"log {self.log_path}: " + (" | ".join(t) if t else "(empty)")


def stop_outcome(code, director):
    if director.proc is None:
        return "never started"
    if code is None:
        return "still running 15 s after SIGTERM, killed"
    return f"exit {code}" + (" (before SIGTERM)" if not director.signalled else "")


def stopping_counters(log_name, marker):
    """key=value counters of the last line carrying `marker` in a lab helper's log in the run
    directory (decap.py's, vlan_switch.py's: they log one when they stop); {} when there is none."""
    try:
        with open(os.path.join(RUN_DIR, log_name), errors="replace") as f:
            lines = [ln for ln in f if marker in ln]
    except OSError:
        return {}
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", lines[-1])} if lines else {}


def show(counters, *keys):
    return ", ".join(f"{k}={counters.get(k, '-')}" for k in keys)


MB = 1 << 20


def direct_traffic_checks(checks, rs):
    """The traffic checks of a service whose only real server `rs` answers the client directly
    (DR or TUN): HTTP, the addresses the real server saw, UDP echo, 1 MB each way. Their names are
    DIRECT_TRAFFIC_CHECKS, so that a caller whose director is not ready can fail them all."""
    r = client("http", "--count", "20", "--deadline", "30", timeout=3, limit=45)
    counts = r.get("counts", {})
    checks.report("http_20", r.get("ok", False) and counts == {rs: 20},
                  f"{r.get('answered', 0)}/20 answered, by {counts or '-'} (want all by {rs})"
                  + (f"; {describe(r, ('errors', 'error'))}" if not r.get("ok") else ""))

    # The packet reaches the real server unchanged above Ethernet (DR) or inside the tunnel (TUN):
    # still from the client, still to the VIP, which the real server holds on lo.
    r = conn(3, limit=20)
    answers = r.get("answers", [])
    good = [a for a in answers if a["server"] == rs and a["peer"].startswith(CLIENT_IP + ":")
            and a["local"] == f"{VIP}:80"]
    checks.report("client_address_and_vip_kept", r.get("ok", False) and len(good) == 3,
                  "; ".join(f"{a['server']} saw {a['peer']} -> {a['local']}" for a in answers)
                  + (f" (want {rs} seeing {CLIENT_IP}:* -> {VIP}:80)" if len(good) != 3 else "")
                  + (f"; {describe(r, ('errors',))}" if not r.get("ok") else ""))

    r = client("udp", "--count", "3", "--payload", "fulcrum-e2e", timeout=2, limit=30)
    replies = r.get("replies", [])
    checks.report("udp_echo", r.get("ok", False) and len(replies) == 3
                  and all(x.get("server") == rs for x in replies),
                  "; ".join(f"{x.get('sent')} -> {x.get('reply', x.get('error'))!r} from {x.get('from', '-')}"
                            for x in replies) or describe(r))

    r = client("download", "--size", str(MB), "--deadline", "20", timeout=5, limit=40)
    checks.report("download_1mb", r.get("ok", False) and r.get("server") == rs,
                  f"{r.get('received', 0)}/{MB} bytes match the pattern, from {r.get('server')} "
                  f"in {r.get('elapsed', '?')} s" if r.get("ok")
                  else describe(r, ("error", "received", "offset", "status", "server")))

    r = client("upload", "--size", str(MB), timeout=5, limit=40)
    checks.report("upload_1mb", r.get("ok", False) and r.get("server") == rs,
                  f"sha256 of 1 MB matches ({r.get('server')}, {r.get('elapsed', '?')} s)" if r.get("ok")
                  else describe(r, ("error", "status", "sha256", "expected", "server")))


DIRECT_TRAFFIC_CHECKS = ["http_20", "client_address_and_vip_kept", "udp_echo", "download_1mb", "upload_1mb"]


def describe(r, keys=("error", "errors", "counts", "server", "status", "last")):
    return ", ".join(f"{k}={r[k]}" for k in keys if r.get(k) not in (None, [], {}))


def can_run_beyond_nat(checks):
    """False (with the reason reported) when a DR/TUN test cannot run here: not root, or the
    kernel stand-in, which does only NAT."""
    if os.geteuid() != 0:
        checks.report("root", False, "the lab needs root")
        return False
    if STANDIN:
        checks.skip("all", "the kernel stand-in does only NAT")
        return False
    return True


def main_guard(fn):
    """Runs a test's main; Ctrl-C/SIGTERM or an unexpected error count as a failure, never a hang."""
    try:
        sys.exit(fn())
    except KeyboardInterrupt as e:
        print(f"FAIL interrupted: {e}", flush=True)
        sys.exit(130)
    except Exception:  # noqa: BLE001 - a bug in the test is a failure with its traceback
        traceback.print_exc()
        print("FAIL test_error: the test itself raised (traceback above)", flush=True)
        sys.exit(1)


# ---- For tests/e2e/test_schedulers.py: configuration variants, more client addresses, held connections, the ipvsadm-style table ----

def service_config(name, scheduler="rr", weights=(1, 1, 1), rs_extra=None, service_extra=None,
                   flags=(), top_extra=None, reverse=False, workers=1, base=LAB_CONF, note=""):
    """A variant of conf/lab-nat.yaml written to the run directory; returns its path. The TCP
    service (the first in the file) gets:

    - `scheduler`: its name, or None to leave the key out (the default, wlc);
    - `weights`: one per real server, in the file's order;
    - `rs_extra`: per real server, a dict of more keys (`{"upper_threshold": 2}`) or None;
    - `service_extra`: a dict of more service keys, written as given (`{"persistence": 5}`);
    - `flags`: `scheduler_flags`;
    - `top_extra`: a dict of top-level sections written as YAML flow mappings (`{"timeouts": {...}}`);
    - `reverse`: list its real servers in the opposite order (after `weights` and `rs_extra` are
      applied in the file's order);
    - `workers`: more than 1 also gives each af_packet port that many queue pairs (as test_workers).
    The UDP service is left as it is. Writing the same name again overwrites the file (for SIGHUP).
    """
    text = open(base).read()
    starts = [m.start() for m in re.finditer(r"(?m)^  - vip:", text)]
    assert len(starts) >= 2, f"{base}: expected the TCP service first, then the UDP one"
    head, tcp, rest = text[:starts[0]], text[starts[0]:starts[1]], text[starts[1]:]
    if workers != 1:
        head, n = re.subn(r"(?m)^  workers: 1\b", f"  workers: {workers}", head)
        assert n == 1, f"{base}: expected 'workers: 1'"
        head, n = re.subn(r'iface=(dir-(?:ext|int))"', rf'iface=\1,qpairs={workers}"', head)
        assert n == 2, f"{base}: expected two af_packet devices on dir-ext and dir-int"
    if scheduler is None:
        tcp, n = re.subn(r"(?m)^    scheduler: rr\n", "", tcp)
    else:
        tcp, n = re.subn(r"scheduler: rr\b", f"scheduler: {scheduler}", tcp)
    assert n == 1, f"{base}: expected one 'scheduler: rr' line in the TCP service"
    more = []
    if flags:
        more.append(f"    scheduler_flags: [{', '.join(flags)}]\n")
    for k, v in (service_extra or {}).items():
        more.append(f"    {k}: {_yaml_scalar(v)}\n")
    tcp, n = re.subn(r"(?m)^(    protocol: tcp\n)", lambda m: m.group(1) + "".join(more), tcp)
    assert n == 1, f"{base}: expected one 'protocol: tcp' line in the TCP service"
    weights = list(weights)
    extras = list(rs_extra or [None] * len(weights))
    assert len(extras) == len(weights)
    it = iter(zip(weights, extras))

    def one(_m):
        w, extra = next(it)
        return f"weight: {w}" + "".join(f", {k}: {_yaml_scalar(v)}" for k, v in (extra or {}).items())

    tcp, n = re.subn(r"weight: 1\b", one, tcp)
    assert n == len(weights), f"{base}: expected one 'weight: 1' per TCP real server"
    if reverse:
        lines = tcp.split("\n")
        at = [i for i, line in enumerate(lines) if line.startswith("      - { address:")]
        assert len(at) == len(weights) and at == list(range(at[0], at[0] + len(at)))
        lines[at[0]:at[-1] + 1] = reversed(lines[at[0]:at[-1] + 1])
        tcp = "\n".join(lines)
    tail = "".join(f"\n{k}: {_yaml_flow(v)}\n" for k, v in (top_extra or {}).items())
    os.makedirs(RUN_DIR, exist_ok=True)
    path = os.path.join(RUN_DIR, f"{name}.yaml")
    with open(path, "w") as f:
        f.write(f"# generated by tests/e2e from {os.path.relpath(base, REPO)}: tcp "
                f"{scheduler or '(default)'} {':'.join(map(str, weights))}"
                f"{f', {workers} workers' if workers != 1 else ''}{' ' + note if note else ''}\n"
                + head + tcp + rest.rstrip("\n") + "\n" + tail)
    return path


def _yaml_scalar(v):
    if v is True or v is False:
        return "true" if v else "false"
    if isinstance(v, str) and not re.fullmatch(r"[A-Za-z0-9_./-]+", v):
        return json.dumps(v)
    return str(v)


def _yaml_flow(v):
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k}: {_yaml_flow(x)}" for k, x in v.items()) + " }"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_yaml_flow(x) for x in v) + "]"
    return _yaml_scalar(v)


def client_from(source, *args, timeout=3.0, limit=30):
    """client() with every socket bound to `source` (an address of fl-client), or as client() when
    `source` is None."""
    return client(*(("--source", source) if source else ()), *args, timeout=timeout, limit=limit)


def add_client_address(address, prefix=24):
    """One more address on fl-client's cli-eth (gone with the lab); (ok, detail)."""
    r = run(["ip", "-n", "fl-client", "addr", "replace", f"{address}/{prefix}", "dev", "cli-eth"], 10)
    return r.returncode == 0, (r.stderr or "").strip()


def remove_client_address(address, prefix=24):
    """Takes an address added by add_client_address off cli-eth again; (ok, detail)."""
    r = run(["ip", "-n", "fl-client", "addr", "del", f"{address}/{prefix}", "dev", "cli-eth"], 10)
    return r.returncode == 0, (r.stderr or "").strip()


class Hold:
    """client.py hold in fl-client, in the background: `count` connections through the VIP, kept
    open until release() (or `seconds`), from `source` (an address of fl-client) and the source
    `ports` given (one per connection), or the kernel's. `opened` is its first JSON line: who
    answered each."""

    def __init__(self, count, seconds=60, source=None, timeout=3.0, ports=None):
        args = ["--timeout", str(timeout)] + (["--source", source] if source else [])
        more = ["--ports", ",".join(map(str, ports))] if ports else []
        self.bg = Background("fl-client", PY, CLIENT_PY, *args, "hold", "--count", str(count),
                             "--seconds", str(seconds), "--open-deadline", str(max(10, count * timeout)), *more)
        self.count = count
        self.opened = {"ok": False, "error": "not started"}
        self.released = None
        limit = 5 + count * timeout
        if self.bg.start(limit=limit):
            try:
                self.opened = json.loads(self.bg.first)
            except ValueError:
                self.opened = {"ok": False, "error": f"first line not JSON: {self.bg.first[:200]!r}"}
        else:
            self.opened = {"ok": False, "error": f"no answer within {limit:.0f} s"}

    def servers(self):
        return [a["server"] for a in self.opened.get("answers", [])]

    def counts(self):
        return self.opened.get("counts", {})

    def release(self, limit=15.0):
        """Closes the connections (SIGTERM to the holder); returns its last JSON line."""
        if self.released is None:
            self.released = self.bg.finish(limit=limit, terminate=True)
        return self.released

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()
        return False


# The director logs `format_ipvsadm_list` one line per log record ("2026-...Z INFO <line>"): the
# header, then per service "TCP  VIP:PORT SCHED" and per real server "  -> RIP:PORT FWD W ACT INACT".
_LOG_PREFIX_RE = re.compile(r"^\S+Z [A-Z]+ ")
IPVSADM_HEAD = "IP Virtual Server version"
IPVSADM_RS_RE = re.compile(r"^  -> (\d+\.\d+\.\d+\.\d+):(\d+)\s+(\w+)\s+(\d+)\s+(\d+)\s+(\d+)\s*$")
IPVSADM_SVC_RE = re.compile(r"^(TCP|UDP)  (\d+\.\d+\.\d+\.\d+):(\d+) (\w+)")


def ipvsadm_tables(text):
    """Every ipvsadm-style table in a director's log, in order (it logs one each time it publishes a
    configuration, at start and after a reload, and one on exit). A table is the header line and
    the lines right after it that have a table's shape, so other log lines (an overload notice
    that names a service) never count. Each table: {"TCP 198.18.0.100:80": {"scheduler": "wlc",
    "real_servers": {"198.19.0.11:80": {"forward": "Masq", "weight": 1, "active": 0,
    "inactive": 0}, ...}}, ...}."""
    tables, current, service = [], None, None
    for raw in text.splitlines():
        line = _LOG_PREFIX_RE.sub("", raw, count=1)
        if line.startswith(IPVSADM_HEAD):
            current, service = {}, None
            tables.append(current)
            continue
        if current is None:
            continue
        if line.startswith("Prot LocalAddress") or line.startswith("  -> RemoteAddress"):
            continue
        m = IPVSADM_RS_RE.match(line)
        if m and service is not None:
            service["real_servers"][f"{m.group(1)}:{m.group(2)}"] = {
                "forward": m.group(3), "weight": int(m.group(4)), "active": int(m.group(5)),
                "inactive": int(m.group(6))}
            continue
        m = IPVSADM_SVC_RE.match(line)
        if m:
            service = {"scheduler": m.group(4), "real_servers": {}}
            current[f"{m.group(1)} {m.group(2)}:{m.group(3)}"] = service
            continue
        current, service = None, None  # the first other line ends the table
    return tables


def ipvsadm_table(text):
    """The last ipvsadm-style table in `text` (see ipvsadm_tables); {} when there is none."""
    tables = ipvsadm_tables(text)
    return tables[-1] if tables else {}


def tcp_counts(table, port=80):
    """{rs1: (active, inactive), ...} of the lab's TCP service in a parsed table ({} if absent)."""
    service = table.get(f"TCP {VIP}:{port}", {}).get("real_servers", {})
    out = {}
    for name in REAL_SERVERS:
        r = service.get(f"{RS_IP[name]}:{port}")
        if r is not None:
            out[name] = (r["active"], r["inactive"])
    return out


def reload_director(director, limit=10.0):
    """SIGHUP: the director re-reads its file and, once it has published it, logs its table with the
    current ActiveConn/InActConn (summed over workers), then "applied configuration from FILE".
    Returns (ok, detail, table) with the table logged by this reload ({} when none)."""
    if STANDIN or director.proc is None or director.proc.poll() is not None:
        return False, "director not running", {}
    done_marker = "applied configuration from"
    refused_re = re.compile(r"reload (refused|failed)")
    text = director.text()
    offset = len(text)
    director.proc.send_signal(signal.SIGHUP)
    start = time.monotonic()
    while time.monotonic() - start < limit:
        new = director.text()[offset:]
        if refused_re.search(new):
            return False, "reload refused: " + director.tail(4), {}
        if done_marker in new:
            return True, f"applied after {time.monotonic() - start:.2f} s", ipvsadm_table(new[:new.index(done_marker)])
        if director.proc.poll() is not None:
            return False, f"director exited ({director.proc.returncode}) after SIGHUP; {director.tail(4)}", {}
        time.sleep(0.05)
    return False, f"no '{done_marker}' within {limit:.0f} s after SIGHUP; {director.tail(4)}", {}


def wait_counts(director, want, limit=15.0, every=1.0):
    """SIGHUP (at most once per `every` s, within `limit` s) until want(tcp_counts(table)) holds.
    Returns (ok, counts, detail): the last counts seen."""
    start = time.monotonic()
    counts, detail = {}, "no reload answered"
    while True:
        began = time.monotonic()
        ok, detail, table = reload_director(director, limit=min(10.0, limit))
        if ok:
            counts = tcp_counts(table)
            if counts and want(counts):
                return True, counts, f"after {time.monotonic() - start:.1f} s"
        if time.monotonic() - start + every > limit:
            return False, counts, f"not within {limit:.0f} s ({detail})"
        time.sleep(max(0.0, every - (time.monotonic() - began)))


# ---- Added for tests/e2e/test_control.py (new helpers only; nothing above changed) ----

import ctypes  # noqa: E402
import socket  # noqa: E402
import threading  # noqa: E402

CONSOLE_ADDR = ("127.0.0.1", 9023)  # console.listen's default, inside fl-dir
CONSOLE_PROMPT = "fulcrum> "
_CLONE_NEWNET = 0x40000000


def ns_connect(ns, host, port, timeout=3.0):
    """A TCP socket connected to host:port inside network namespace `ns` (a socket keeps the namespace
    it was made in: a short-lived thread enters `ns` with setns(2), connects and hands it back).
    Raises OSError when it cannot connect."""
    result = {}

    def enter_and_connect():
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            with open(f"/run/netns/{ns}") as f:
                if libc.setns(f.fileno(), _CLONE_NEWNET) != 0:
                    err = ctypes.get_errno()
                    raise OSError(err, f"setns {ns}: {os.strerror(err)}")
            result["sock"] = socket.create_connection((host, port), timeout=timeout)
        except Exception as e:  # noqa: BLE001 - handed to the caller
            result["error"] = e

    t = threading.Thread(target=enter_and_connect, daemon=True)
    t.start()
    t.join(timeout + 2)
    if "sock" in result:
        return result["sock"]
    raise result.get("error") or OSError(f"no connection to {host}:{port} in {ns} within {timeout + 2:.0f} s")


class Console:
    """One session on the director's console (inside fl-dir). cmd(line) sends one line and returns the
    answer's lines (everything up to the next prompt). `transcript` keeps the whole exchange."""

    def __init__(self, ns="fl-dir", addr=CONSOLE_ADDR, timeout=5.0):
        self.timeout = timeout
        self.sock = ns_connect(ns, addr[0], addr[1], timeout)
        self.sock.settimeout(timeout)
        self.buf = b""
        self.transcript = []
        self.greeting = self._until_prompt()  # the first prompt, nothing before it

    def _until_prompt(self, limit=None):
        deadline = time.monotonic() + (limit or self.timeout)
        prompt = CONSOLE_PROMPT.encode()
        while not self.buf.endswith(prompt):
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no prompt within {limit or self.timeout:.0f} s; got {self.buf[-200:]!r}")
            self.sock.settimeout(left)
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError(f"console closed; got {self.buf[-200:]!r}")
            self.buf += chunk
        text = self.buf[:-len(prompt)].decode(errors="replace")
        self.buf = b""
        return text

    def cmd(self, line, limit=None):
        self.sock.sendall(line.encode() + b"\n")
        text = self._until_prompt(limit)
        self.transcript.append((line, text))
        return text.split("\n")[:-1] if text.endswith("\n") else text.split("\n")

    def text(self, line, limit=None):
        return "\n".join(self.cmd(line, limit)) + "\n"

    def answer(self, limit=None):
        """The lines of an answer to something sent with send_raw (up to the next prompt)."""
        text = self._until_prompt(limit)
        return text.split("\n")[:-1] if text.endswith("\n") else text.split("\n")

    def send_raw(self, data):
        self.sock.sendall(data)

    def read_to_eof(self, limit=5.0):
        """Everything the server sends until it closes the connection: (text, closed)."""
        deadline = time.monotonic() + limit
        data = self.buf
        self.buf = b""
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                break
            except OSError:
                return data.decode(errors="replace"), True
            if not chunk:
                return data.decode(errors="replace"), True
            data += chunk
        return data.decode(errors="replace"), False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def console_script(text, ns="fl-dir", addr=CONSOLE_ADDR, limit=10.0):
    """As `printf TEXT | nc -q1 127.0.0.1 9023`: sends the whole script, shuts its side down, reads
    until the server closes. Returns (output, closed_by_server)."""
    sock = ns_connect(ns, addr[0], addr[1], 3.0)
    try:
        sock.sendall(text.encode())
        sock.shutdown(socket.SHUT_WR)
        deadline = time.monotonic() + limit
        data = b""
        while time.monotonic() < deadline:
            sock.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                chunk = sock.recv(65536)
            except socket.timeout:
                return data.decode(errors="replace"), False
            if not chunk:
                return data.decode(errors="replace"), True
            data += chunk
        return data.decode(errors="replace"), False
    finally:
        sock.close()


def http_get_in_ns(ns, host, port, path="/metrics", limit=5.0):
    """GET http://host:port/path from inside `ns`: (status, body); (None, error text) on failure."""
    try:
        sock = ns_connect(ns, host, port, limit)
    except OSError as e:
        return None, f"connect: {e}"
    try:
        sock.settimeout(limit)
        sock.sendall(f"GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())
        data = b""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        status = head.split(b"\r\n", 1)[0].split()
        return (int(status[1]) if len(status) > 1 and status[1].isdigit() else None), body.decode(errors="replace")
    except OSError as e:
        return None, f"{type(e).__name__}: {e}"
    finally:
        sock.close()


_PROM_RE = re.compile(r'^([A-Za-z_:][\w:]*)(?:\{([^}]*)\})? (\S+)$')


def parse_prometheus(text):
    """Prometheus text: {(name, ((label, value), ...) sorted): float}; comments skipped."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _PROM_RE.match(line)
        if not m:
            continue
        labels = tuple(sorted(re.findall(r'(\w+)="([^"]*)"', m.group(2) or "")))
        try:
            out[(m.group(1), labels)] = float(m.group(3))
        except ValueError:
            pass
    return out


def prom_value(metrics, name, **labels):
    """One sample of parse_prometheus's result, or None."""
    return metrics.get((name, tuple(sorted((k, str(v)) for k, v in labels.items()))))


_STATS_NUM = r"\s*(\d+[KMGT]?)"
IPVSADM_STATS_SVC_RE = re.compile(r"^(TCP|UDP)  (\S+)" + _STATS_NUM * 5 + r"$")
IPVSADM_STATS_RS_RE = re.compile(r"^  -> (\S+)" + _STATS_NUM * 5 + r"$")


def ipvsadm_stats(lines):
    """`show stats` / `show rate` lines: {"TCP VIP:PORT": {"values": [5 numbers], "real_servers":
    {"RIP:PORT": [5 numbers]}}}; abbreviated numbers (123K) are left as strings."""
    out, service = {}, None

    def num(s):
        return int(s) if s.isdigit() else s

    for line in lines:
        m = IPVSADM_STATS_SVC_RE.match(line)
        if m:
            service = {"values": [num(x) for x in m.groups()[2:]], "real_servers": {}}
            out[f"{m.group(1)} {m.group(2)}"] = service
            continue
        m = IPVSADM_STATS_RS_RE.match(line)
        if m and service is not None:
            service["real_servers"][m.group(1)] = [num(x) for x in m.groups()[1:]]
    return out


class Load:
    """client.py load in fl-client, in the background (see its help): start() returns once it runs;
    finish() stops it (SIGTERM) and returns its last JSON line, with every request in "records"."""

    def __init__(self, port=80, parallel=2, seconds=120, pause=0.0, requests=0, timeout=3.0):
        self.bg = Background("fl-client", PY, CLIENT_PY, "--timeout", str(timeout), "load", "--port", str(port),
                             "--parallel", str(parallel), "--seconds", str(seconds), "--pause", str(pause),
                             "--requests", str(requests))
        self.result = None

    def start(self, limit=5.0):
        return self.bg.start(limit=limit)

    def finish(self, limit=15.0):
        if self.result is None:
            self.result = self.bg.finish(limit=limit, terminate=True)
        return self.result


class KeepAlive:
    """client.py keepalive in fl-client, in the background: `opened` is its first JSON line (who
    answered each connection); finish() stops it (SIGTERM) and returns its last JSON line."""

    def __init__(self, count, port=80, interval=0.2, seconds=120, timeout=3.0):
        self.bg = Background("fl-client", PY, CLIENT_PY, "--timeout", str(timeout), "keepalive", "--count",
                             str(count), "--port", str(port), "--interval", str(interval), "--seconds", str(seconds))
        self.opened = {"ok": False, "error": "not started"}
        self.result = None
        if self.bg.start(limit=5 + count * timeout):
            try:
                self.opened = json.loads(self.bg.first)
            except ValueError:
                self.opened = {"ok": False, "error": f"first line not JSON: {self.bg.first[:200]!r}"}
        else:
            self.opened = {"ok": False, "error": "no first line"}

    def servers(self):
        return [a.get("server") for a in self.opened.get("answers", [])]

    def finish(self, limit=15.0):
        if self.result is None:
            self.result = self.bg.finish(limit=limit, terminate=True)
        return self.result


class ExtraRealServer:
    """One more tests/lab/realserver.py in a real server's namespace, on other ports (so one address
    offers a second real server, e.g. rs1 on :8080 beside :80). Its log goes to the run directory;
    stop() ends it (lab down would too: it lives in the lab's namespace)."""

    def __init__(self, n, http_port, udp_port, name=None):
        self.n = n
        self.name = name or f"rs{n}-{http_port}"
        self.log_path = os.path.join(RUN_DIR, f"{self.name}.log")
        self.http_port = http_port
        self.udp_port = udp_port
        self.proc = None

    def start(self, limit=5.0):
        os.makedirs(RUN_DIR, exist_ok=True)
        log_file = open(self.log_path, "w")
        self.proc = subprocess.Popen(["ip", "netns", "exec", f"fl-rs{self.n}", PY,
                                      os.path.join(REPO, "tests", "lab", "realserver.py"), "--name", self.name,
                                      "--http-port", str(self.http_port), "--udp-port", str(self.udp_port)],
                                     stdin=subprocess.DEVNULL, stdout=log_file, stderr=log_file,
                                     start_new_session=True)
        log_file.close()
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            try:
                if f"{self.name} ready" in open(self.log_path).read():
                    return True
            except OSError:
                pass
            if self.proc.poll() is not None:
                return False
            time.sleep(0.05)
        return False

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


# ---- Added for tests/e2e/test_health.py (new helpers only; nothing above changed) ----

LAB_HEALTH_CONF = os.path.join(REPO, "conf", "lab-health.yaml")


def rs_http(n, path, port=80, limit=3.0):
    """GET path from realserver.py rsN over its own loopback (inside fl-rsN): (status, body)."""
    return http_get_in_ns(f"fl-rs{n}", "127.0.0.1", port, path, limit=limit)


def set_health(n, status=None, body=None, delay=None, port=80):
    """What rsN's GET /health answers from now on (realserver.py /set-health); no arguments restore
    200 "ok". Returns (ok, the server's state as a dict or the error text)."""
    from urllib.parse import urlencode
    query = {k: v for k, v in (("status", status), ("body", body), ("delay", delay)) if v is not None}
    code, text = rs_http(n, "/set-health" + (f"?{urlencode(query)}" if query else ""), port=port)
    try:
        return code == 200, json.loads(text)
    except (ValueError, TypeError):
        return False, f"status {code}: {text!r}"


def health_state(n, port=80):
    """rsN's /health-state: {"status", "body", "delay", "checks", "last_peer", "last_host"} or {}."""
    code, text = rs_http(n, "/health-state", port=port)
    try:
        return json.loads(text) if code == 200 else {}
    except (ValueError, TypeError):
        return {}


SHOW_HEALTH_HEAD = ["Prot", "LocalAddress:Port", "RemoteAddress:Port", "Check", "State", "Weight", "Changed",
                    "Last", "Reason"]
_HEALTH_ROW_RE = re.compile(r"^(TCP|UDP)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+"
                            r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?|-)\s*(\S*)\s*(.*?)\s*$")


def parse_show_health(lines):
    """The console's `show health`: (header ok, rows). Each row: {"proto", "service", "rs", "check",
    "state", "weight", "changed", "last", "reason", "line"}; keyed lookups with health_row()."""
    head_ok = bool(lines) and lines[0].split() == SHOW_HEALTH_HEAD
    rows = []
    for line in lines[1:] if head_ok else lines:
        m = _HEALTH_ROW_RE.match(line)
        if m:
            rows.append(dict(zip(("proto", "service", "rs", "check", "state", "weight", "changed", "last",
                                  "reason"), m.groups()), line=line))
    return head_ok, rows


def health_row(rows, rs, service=f"{VIP}:80", proto="TCP"):
    """The row of real server `rs` ("IP:PORT") in `service`, or None."""
    for r in rows:
        if r["proto"] == proto and r["service"] == service and r["rs"] == rs:
            return r
    return None


def ping_from(ns, addr, count=3):
    """ping -c count -W 1 addr inside `ns`: (received, summary), the summary being ping's
    "N packets transmitted, ..." line or its error."""
    r = run(["ip", "netns", "exec", ns, "ping", "-n", "-c", str(count), "-i", "0.2", "-W", "1", "-w", "5", addr], 10)
    m = re.search(r"(\d+) received", r.stdout or "")
    lines = ((r.stdout or "") + "\n" + (r.stderr or "")).strip().splitlines()
    summary = next((x for x in lines if "packets transmitted" in x), lines[-1] if lines else "(no output)")
    return (int(m.group(1)) if m else 0), summary.strip()


def link_json(ns, dev):
    """`ip -j addr show dev` in ns: {"mac", "addresses" ["A/P", ...], "up"} or None when it is absent."""
    r = run(["ip", "-n", ns, "-j", "addr", "show", "dev", dev], 10)
    try:
        info = json.loads(r.stdout)[0]
    except (ValueError, LookupError, TypeError):
        return None
    return {"mac": info.get("address"), "up": "UP" in info.get("flags", []),
            "addresses": [f"{a['local']}/{a['prefixlen']}" for a in info.get("addr_info", []) if a.get("family") == "inet"]}


class Health:
    """One console session, reopened when it breaks; `show health` and `show services` parsed."""

    def __init__(self):
        self.con = None

    def cmd(self, line):
        for attempt in (1, 2):
            try:
                if self.con is None:
                    self.con = Console(timeout=5)
                return self.con.cmd(line)
            except (OSError, TimeoutError, ConnectionError):
                self.close()
                if attempt == 2:
                    return []
                time.sleep(0.2)
        return []

    def rows(self):
        return parse_show_health(self.cmd("show health"))[1]

    def services(self):
        tables = ipvsadm_tables("\n".join(self.cmd("show services")))
        return tables[-1] if tables else {}

    def wait(self, pred, limit, every=0.1):
        """Polls `show health` until pred(rows): (ok, rows, seconds since the call)."""
        t0 = time.monotonic()
        while True:
            rows = self.rows()
            if rows and pred(rows):
                return True, rows, time.monotonic() - t0
            if time.monotonic() - t0 > limit:
                return False, rows, time.monotonic() - t0
            time.sleep(every)

    def close(self):
        if self.con is not None:
            self.con.close()
            self.con = None


def telemetry(command, prefix="fulcrum-lab"):
    """One DPDK telemetry command on the director's socket (the lab files' --file-prefix)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as s:
        s.settimeout(3)
        s.connect(f"/var/run/dpdk/{prefix}/dpdk_telemetry.v2")
        s.recv(1024)
        s.send(command.encode())
        return json.loads(s.recv(1 << 16).decode()).get(command)


class Daemon:
    """A daemon of someone else's (keepalived, BIRD) run in the foreground in a namespace, its
    output in RUN_DIR/NAME.log; stop() ends it with SIGTERM, then SIGKILL."""

    def __init__(self, name, ns, *cmd):
        self.log_path = os.path.join(RUN_DIR, f"{name}.log")
        self.cmd = ["ip", "netns", "exec", ns, *cmd]
        self.proc = None

    def start(self):
        os.makedirs(RUN_DIR, exist_ok=True)
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        return True

    def text(self):
        try:
            return open(self.log_path, errors="replace").read()
        except OSError:
            return ""

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc is not None:
            self._log.close()
            self.proc = None
