#!/usr/bin/python3
"""End-to-end NAT test: the real director in the veth lab, client traffic through the VIP.

Run as root from anywhere: /usr/bin/python3 tests/e2e/test_nat.py
Prints one PASS/FAIL line per check and `nat: N passed, N failed`; exits 1 if any check failed.
Logs: $FULCRUM_LAB_DIR (default /tmp/fulcrum-lab): director-*.log, rs*.log, generated configs.
"""

import os
import re
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the work tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lablib as L  # noqa: E402

HTTP_COUNT = 300
WRR_COUNT = 600
WRR_WEIGHTS = (3, 2, 1)
MB = 1 << 20


def check_config_validation(checks):
    if L.STANDIN:
        checks.skip("check_valid_config", "kernel stand-in")
        checks.skip("check_broken_config", "kernel stand-in")
        return
    r = L.run([L.FULCRUM, "--config", L.LAB_CONF, "--check"], 20)
    checks.report("check_valid_config", r.returncode == 0,
                  f"--check on conf/lab-nat.yaml exited {r.returncode}"
                  + (f": {(r.stderr or r.stdout).strip()[-300:]}" if r.returncode != 0 else ""))

    # A VIP that is no address at all, on a line of its own so the error can name its place.
    text = open(L.LAB_CONF).read()
    assert "vip: 198.18.0.100" in text
    broken = os.path.join(L.RUN_DIR, "lab-broken.yaml")
    os.makedirs(L.RUN_DIR, exist_ok=True)
    with open(broken, "w") as f:
        f.write(text.replace("vip: 198.18.0.100", "vip: 198.18.0.300", 1))
    r = L.run([L.FULCRUM, "--config", broken, "--check"], 20)
    said = (r.stderr or r.stdout).strip().splitlines()
    checks.report("check_broken_config", r.returncode == 1,
                  f"--check on a config with vip 198.18.0.300 exited {r.returncode}"
                  + (f", said: {said[0][:200]}" if said else ", said nothing"))


def check_rr_director(checks, stops):
    director = L.Director("rr", L.nat_config("lab-rr"))
    director.start()
    ready, detail = director.wait_ready()
    checks.report("director_ready", ready, detail)
    names = ["ping_director", "ping_vip", "http_rr_300", "udp_echo", "download_1mb", "upload_1mb",
             "client_address_kept"]
    if not ready:
        for n in names:
            checks.report(n, False, "director not ready")
        stops.append(("rr", director.stop(), director))
        return

    got, sent = L.ping(L.DIR_EXT_IP)
    checks.report("ping_director", got > 0, f"{got}/{sent} echo replies from {L.DIR_EXT_IP}")
    got, sent = L.ping(L.VIP)
    checks.report("ping_vip", got > 0, f"{got}/{sent} echo replies from {L.VIP}")

    r = L.client("http", "--count", str(HTTP_COUNT), "--deadline", "60", timeout=3, limit=90)
    counts = r.get("counts", {})
    spread = [counts.get(s, 0) for s in L.REAL_SERVERS]
    even = HTTP_COUNT // len(L.REAL_SERVERS)
    checks.report("http_rr_300",
                  r.get("ok", False) and all(abs(c - even) <= 1 for c in spread),
                  f"{r.get('answered', 0)}/{HTTP_COUNT} answered, rs1/rs2/rs3 = "
                  f"{'/'.join(map(str, spread))} (want {even}±1 each)"
                  + (f"; {L.describe(r, ('errors', 'error'))}" if not r.get("ok") else ""))

    r = L.client("udp", "--count", "3", "--payload", "fulcrum-e2e", timeout=2, limit=30)
    replies = r.get("replies", [])
    checks.report("udp_echo", r.get("ok", False) and len(replies) == 3,
                  "; ".join(f"{x.get('sent')} -> {x.get('reply', x.get('error'))!r} from {x.get('from', '-')}"
                            for x in replies) or L.describe(r))

    r = L.client("download", "--size", str(MB), "--deadline", "20", timeout=5, limit=40)
    checks.report("download_1mb", r.get("ok", False),
                  f"{r.get('received', 0)}/{MB} bytes match the pattern, from {r.get('server')} "
                  f"in {r.get('elapsed', '?')} s" if r.get("ok") else L.describe(r, ("error", "received", "offset",
                                                                                    "status", "server")))

    r = L.client("upload", "--size", str(MB), timeout=5, limit=40)
    checks.report("upload_1mb", r.get("ok", False),
                  f"sha256 of 1 MB matches ({r.get('server')}, {r.get('elapsed', '?')} s)" if r.get("ok")
                  else L.describe(r, ("error", "status", "sha256", "expected", "server")))

    # NAT rewrites only the destination: the real server must see the client's own address.
    r = L.client("client-addr", timeout=3, limit=15)
    seen = r.get("seen", "")
    checks.report("client_address_kept", r.get("ok", False) and seen.startswith(L.CLIENT_IP + ":"),
                  f"{r.get('server')} saw {seen or '-'}" if r.get("ok") else L.describe(r))

    stops.append(("rr", director.stop(), director))


def check_wrr_director(checks, stops):
    # Its af_packet devices with ring frames of 4096 bytes: the PMD copies up to 4064 into one
    # mbuf and refuses a pool whose mbufs hold less, so the director must size them from framesz.
    path = L.nat_config("lab-wrr", "wrr", WRR_WEIGHTS)
    text = open(path).read()
    text, n = re.subn(r'(iface=dir-(?:ext|int))"', r'\1,framesz=4096,blocksz=4096"', text)
    assert n == 2, "conf/lab-nat.yaml: expected two af_packet devices"
    with open(path, "w") as f:
        f.write(text)
    director = L.Director("wrr", path, WRR_WEIGHTS)
    director.start()
    ready, detail = director.wait_ready()
    log = open(director.log_path).read() if os.path.exists(director.log_path) else ""
    rooms = re.findall(r"mbufs of (\d+) bytes", log)
    checks.report("af_packet_framesz_4096", ready and rooms == ["4064"],
                  f"ready: {ready}; the log says mbufs of {rooms or 'the default'} bytes (want 4064)"
                  + ("" if ready else f"; {detail}"))
    want = [WRR_COUNT * w // sum(WRR_WEIGHTS) for w in WRR_WEIGHTS]
    if not ready:
        checks.report("http_wrr_321_600", False, f"director not ready: {detail}")
    else:
        r = L.client("http", "--count", str(WRR_COUNT), "--deadline", "90", timeout=3, limit=120)
        counts = r.get("counts", {})
        spread = [counts.get(s, 0) for s in L.REAL_SERVERS]
        checks.report("http_wrr_321_600",
                      r.get("ok", False) and all(abs(c - w) <= 1 for c, w in zip(spread, want)),
                      f"{r.get('answered', 0)}/{WRR_COUNT} answered, rs1/rs2/rs3 = "
                      f"{'/'.join(map(str, spread))} (want {'/'.join(map(str, want))}±1)"
                      + (f"; {L.describe(r, ('errors', 'error'))}" if not r.get("ok") else ""))
    stops.append(("wrr", director.stop(), director))


def _stop_outcome(code, director):
    if director.proc is None:
        return "never started"
    if code is None:
        return "still running 15 s after SIGTERM, killed"
    return f"exit {code}" + (" (before SIGTERM)" if not director.signalled else "")


def main():
    checks = L.Checks("nat")
    if os.geteuid() != 0:
        checks.report("root", False, "the lab needs root")
        return checks.summary()
    if L.STANDIN:
        print("NOTE: FULCRUM_E2E_KERNEL_STANDIN=1: the fl-dir kernel stands in for the director", flush=True)
    check_config_validation(checks)

    stops = []
    try:
        with L.Lab():
            check_rr_director(checks, stops)
            check_wrr_director(checks, stops)
    except RuntimeError as e:
        checks.report("lab", False, str(e))
        return checks.summary()

    if L.STANDIN:
        checks.skip("sigterm_exit_0", "kernel stand-in")
        checks.skip("exit_counters", "kernel stand-in")
    else:
        checks.report("sigterm_exit_0", all(code == 0 for _, code, _ in stops),
                      ", ".join(f"{n}: {_stop_outcome(c, d)}" for n, c, d in stops))
        counted = [(n, d.counters()) for n, c, d in stops if c is not None]
        checks.report("exit_counters", bool(counted) and all(c for _, c in counted),
                      "; ".join(f"{n}: {len(c)} key=value counters"
                                + (f" ({', '.join(f'{k}={v}' for k, v in list(c.items())[:6])}...)" if c else "")
                                for n, c in counted) or "no director exited")
    return checks.summary()


if __name__ == "__main__":
    L.main_guard(main)
