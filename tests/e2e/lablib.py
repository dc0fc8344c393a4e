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


def lab(*args, timeout=60):
    return run(["bash", LAB_SH, *args], timeout)


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
    """The lab for the duration of a `with` block, under a lock so two runs cannot share it."""

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
        r = lab("up")
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

    def __init__(self, name, config, weights=(1, 1, 1)):
        self.name = name
        self.config = config
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
        self.proc = subprocess.Popen(["ip", "netns", "exec", "fl-dir", FULCRUM, "--config", self.config],
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
            r = client("probe", timeout=1.0, limit=5)
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
