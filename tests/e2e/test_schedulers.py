#!/usr/bin/python3
"""End-to-end scheduler test: the real director in the veth lab picks real servers for real TCP
connections, and each pick is checked against the scheduler's rule (docs/scheduling.md).

  wrr          3:2:1 over 600 connections; a server made quiescent (weight 0, by SIGHUP) gets no new
               connection while the ones it holds go on
  wlc          connections held open (realserver.py GET /hold) build ActiveConn; every pick, held or
               short, is the one the kernel's formula gives from the director's own counts (read from
               the ipvsadm-style table it logs on SIGHUP and on exit); wlc is the default scheduler
  lc sed nq    the same, each with its own formula; lblc keeps one server for the VIP until lblc's
  lblc ovf     overload rule moves it; ovf fills each server to weight + 1 active, then finds none
  thresholds   rr with upper_threshold 2: a server holding 2 connections gets none until they are
               gone; fo with upper_threshold 4: the 3/4 rule (still overloaded at 3, free at 2); with
               2 workers the threshold applies to the sum of both workers' counts
  sh, dh       each source address on the server its hash bucket names; a quiescent server's sources
               find none, or with sh-fallback take the documented walk; with sh-port each connection
               on the bucket of address + source port; dh: everything on the VIP's bucket
  mh           each source on the server a Maglev table built from the documented steps names, the
               same after a restart and with the servers listed in another order
  persistence  50 connections of one client on one server (rr would spread them); the template
               outlives its connections by `persistence` seconds, then the client is scheduled afresh
               (rr's next server); a quiescent server keeps its clients unless
               expire_quiescent_template; persistence_netmask 24 shares one template between two
               addresses of a /24; with 2 workers one client's connections on both share one template

The rules are written out here in Python from docs/scheduling.md (and the kernel's sources it
cites), independently of src/sched/, and every connection's real server is compared with them.

Run as root: /usr/bin/python3 tests/e2e/test_schedulers.py   (FULCRUM_BIN picks the director)
Prints one PASS/FAIL line per check and `sched: N passed, N failed`; exits 1 if any check failed.
Logs: $FULCRUM_LAB_DIR (default /tmp/fulcrum-lab): director-sched-*.log, rs*.log, sched-*.yaml.
Extra client addresses (198.18.0.x/24 on cli-eth in fl-client) are removed at the end.
"""

import heapq
import ipaddress
import os
import re
import sys
import time
from fractions import Fraction

sys.dont_write_bytecode = True  # no __pycache__ in the work tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lablib as L  # noqa: E402

RS = L.REAL_SERVERS  # rs1, rs2, rs3: the TCP service's real servers, in the file's order
# Short timeouts: closed connections leave the counts within seconds, not 2 minutes. `tcp` stays long
# enough for connections held idle (ESTABLISHED) during a test.
SHORT_TIMEOUTS = {"tcp": 60, "tcp_fin": 2, "time_wait": 2, "close": 2, "close_wait": 2, "last_ack": 2,
                  "syn_recv": 5}
PERSIST_TIMEOUTS = dict(SHORT_TIMEOUTS, tcp=5)
PERSISTENCE = 5
# Candidates for more client addresses (the lab uses .1, .2, .14, .15 and .100 of 198.18.0.0/24).
EXTRA_CANDIDATES = [f"198.18.0.{h}" for h in range(3, 14)]


def ip_int(a):
    return int(ipaddress.ip_address(a))


def spread(counts):
    return "/".join(str(counts.get(s, 0)) for s in RS)


def per_server(answers):
    out = {}
    for a in answers:
        out[a["server"]] = out.get(a["server"], 0) + 1
    return out


# ---- the schedulers' rules, in Python, from docs/scheduling.md -------------------------------------

def least_pick(kind, state, weights):
    """The least-connection family as the kernel's loops (list order; weight 0 skipped; no server is
    overloaded here): lc, wlc on active * 256 + inactive (wlc per weight, cross-multiplied), sed on
    (active + 1) / weight, nq the first idle server or else as sed, ovf the highest weight among
    those with active <= weight. Strict comparisons: the first keeps a tie. None: no server."""
    best = None
    for i, (a, n) in enumerate(state):
        w = weights[i]
        if w == 0:
            continue
        if kind == "ovf":
            if a <= w and (best is None or w > weights[best]):
                best = i
            continue
        if kind == "nq" and a == 0:
            return i
        if best is None:
            best = i
            continue
        la, ln = state[best]
        lw = weights[best]
        if kind == "lc":
            better = a * 256 + n < la * 256 + ln
        elif kind == "wlc":
            better = (la * 256 + ln) * w > (a * 256 + n) * lw
        else:  # sed, nq
            better = (la + 1) * w > (a + 1) * lw
        if better:
            best = i
    return best


def least_simulate(kind, counts, weights, n, held):
    """The picks of n connections one after another from counts {rsN: (active, inactive)}: a held
    connection adds an active one, a closed one (closed before the next opens) an inactive one."""
    state = [list(counts.get(s, (0, 0))) for s in RS]
    picks = []
    for _ in range(n):
        i = least_pick(kind, state, weights)
        if i is None:
            picks.append(None)
            continue
        picks.append(RS[i])
        state[i][0 if held else 1] += 1
    return picks, {s: tuple(state[i]) for i, s in enumerate(RS)}


def lblc_simulate(counts, weights, n, held, remembered):
    """ip_vs_lblc behind one VIP (its key, the destination address, is always the VIP): the
    remembered server, unless it has weight 0 or is overloaded in lblc's sense (active > weight
    while some server has active * 2 < weight); otherwise wlc picks one and it is remembered."""
    state = [list(counts.get(s, (0, 0))) for s in RS]
    picks = []
    for _ in range(n):
        i = RS.index(remembered) if remembered else None
        if i is None or weights[i] == 0 or (state[i][0] > weights[i] and any(
                a * 2 < w for (a, _), w in zip(state, weights))):
            i = least_pick("wlc", state, weights)
            remembered = RS[i]
        picks.append(RS[i])
        state[i][0 if held else 1] += 1
    return picks, {s: tuple(state[i]) for i, s in enumerate(RS)}, remembered


def wlc_simulate(counts, weights, n, held):
    return least_simulate("wlc", counts, weights, n, held)


def first_difference(got, want):
    if got == want:
        return "every pick as the formula"
    i = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
    return f"first difference at #{i}: got {' '.join(map(str, got[i:i + 8]))}..., want {' '.join(map(str, want[i:i + 8]))}..."


def hash_32(value, bits=8):
    """include/linux/hash.h"""
    return ((value * 0x61C88647) & 0xFFFFFFFF) >> (32 - bits)


def sh_server(src, weights=(1, 1, 1), port=0, fallback=False):
    """ip_vs_sh: bucket hash_32(src + port) of 256, filled as ip_vs_sh_reassign (a weight-0 server
    still takes one bucket per round); None when that server has weight 0, unless `fallback`: then
    ip_vs_sh_get_fallback's walk, buckets (offset + ihash + ihash) mod 256."""
    buckets, d, taken = [], 0, 0
    while len(buckets) < 256:
        buckets.append(d)
        taken += 1
        if taken >= weights[d]:
            taken, d = 0, (d + 1) % len(weights)
    ihash = hash_32((ip_int(src) + port) & 0xFFFFFFFF)
    if weights[buckets[ihash]] > 0:
        return RS[buckets[ihash]]
    if not fallback:
        return None
    for offset in range(256):
        b = buckets[(offset + ihash + ihash) % 256]
        if weights[b] > 0:
            return RS[b]
    return None


M64 = (1 << 64) - 1


def mix64(x):
    x &= M64
    x ^= x >> 30
    x = (x * 0xBF58476D1CE4E5B9) & M64
    x ^= x >> 27
    x = (x * 0x94D049BB133111EB) & M64
    return x ^ (x >> 31)


class Maglev:
    """The table of docs/scheduling.md ("Maglev"), built independently of src/sched/mh.cpp."""

    def __init__(self, servers, size=65537):
        # servers: [(name, address, port, weight)] in any order
        self.size = size
        self.members = sorted([s for s in servers if s[3] > 0], key=lambda s: (ip_int(s[1]), s[2]))
        total = sum(s[3] for s in self.members)
        quota = [size * s[3] // total for s in self.members]
        rest = [size * s[3] % total for s in self.members]
        for r in sorted(range(len(quota)), key=lambda r: (-rest[r], r))[:size - sum(quota)]:
            quota[r] += 1
        nxt, skip = [], []
        for _, addr, port, _ in self.members:
            key = ip_int(addr) << 16 | port
            nxt.append(mix64(key ^ 0x6F2D76656C67616D) % size)
            skip.append(mix64(key ^ 0x732D76656C67616D) % (size - 1) + 1)
        self.table = [-1] * size
        turns = [(Fraction(1, 2 * q), r, 0) for r, q in enumerate(quota) if q > 0]
        heapq.heapify(turns)
        while turns:  # exactly `size` claims
            _, r, k = heapq.heappop(turns)
            while self.table[nxt[r]] != -1:
                nxt[r] = (nxt[r] + skip[r]) % size
            self.table[nxt[r]] = r
            if k + 1 < quota[r]:
                heapq.heappush(turns, (Fraction(2 * k + 3, 2 * quota[r]), r, k + 1))

    def server(self, src, port=0):
        key = ip_int(src) << 16 | port
        return self.members[self.table[mix64(key ^ 0x662D76656C67616D) % self.size]][0]


def crc32c_word(data, crc):
    """DPDK's rte_hash_crc_4byte: CRC-32C over the 4 bytes of `data` (little-endian), from `crc`,
    neither inverted."""
    crc ^= data & 0xFFFFFFFF
    for _ in range(32):
        crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc


def owner_of_client(ip, port, workers):
    """src/dataplane/handoff.cpp: the worker that owns the connections of client ip:port. Address
    and port are network-order values read as little-endian integers."""
    ip_le = int.from_bytes(ipaddress.ip_address(ip).packed, "little")
    port_le = int.from_bytes(port.to_bytes(2, "big"), "little")
    return (crc32c_word(port_le, crc32c_word(ip_le, 0)) * workers) >> 32


# ---- running a director -----------------------------------------------------------------------------

class Run:
    """One director for a group of checks: started, waited for, always stopped (its exit code is kept
    for sigterm_exit_0). `names` are the group's checks, all failed when the director is not ready."""

    def __init__(self, checks, stops, name, config, names):
        self.checks, self.stops, self.name, self.names = checks, stops, name, names
        self.director = L.Director(name, config)
        self.ready, self.detail = False, ""

    def __enter__(self):
        self.director.start()
        self.ready, self.detail = self.director.wait_ready()
        if not self.ready:
            for n in self.names:
                self.checks.report(n, False, f"director not ready: {self.detail}")
        return self

    def stop(self):
        """Stops the director once (SIGTERM), keeping its exit code."""
        if self.director.proc is not None and not any(d is self.director for _, _, d in self.stops):
            self.stops.append((self.name, self.director.stop(), self.director))

    def __exit__(self, *exc):
        self.stop()
        return False


def overload_lines(director, rs, what="is overloaded"):
    """The director's notices that real server `rs` (rs1..) of the TCP service changed state."""
    pat = re.compile(rf"real server {re.escape(L.RS_IP[rs])}:80 of tcp {re.escape(L.VIP)}:80 {what} "
                     rf"\((\d+) connections")
    return [int(m.group(1)) for m in pat.finditer(director.text())]


def wait_for(predicate, limit, every=0.1):
    """Polls predicate() until true, at most `limit` seconds; returns (ok, seconds waited)."""
    start = time.monotonic()
    while True:
        if predicate():
            return True, time.monotonic() - start
        if time.monotonic() - start > limit:
            return False, time.monotonic() - start
        time.sleep(every)


def http(count, source=None, deadline=60):
    r = L.client_from(source, "http", "--count", str(count), "--deadline", str(deadline), timeout=3,
                      limit=deadline + 30)
    return r, r.get("counts", {})


def conns(count, source=None):
    """count GET /conn (from `source`): (result, [server per connection in order])."""
    r = L.client_from(source, "conn", "--count", str(count), timeout=3, limit=30 + count)
    return r, [a["server"] for a in r.get("answers", [])]


def fail_detail(r):
    return f"; {L.describe(r, ('errors', 'error'))}" if not r.get("ok") else ""


# ---- rr / wrr ---------------------------------------------------------------------------------------

def check_wrr(checks, stops):
    weights = (3, 2, 1)
    count = 600
    names = ["wrr_321_600", "wrr_hold_6", "wrr_quiesce_reload", "wrr_quiescent_gets_none",
             "wrr_quiescent_keeps_its_connections"]
    with Run(checks, stops, "sched-wrr", L.service_config("sched-wrr", "wrr", weights), names) as run:
        if not run.ready:
            return
        d = run.director
        r, counts = http(count, deadline=90)
        want = [count * w // sum(weights) for w in weights]
        got = [counts.get(s, 0) for s in RS]
        checks.report("wrr_321_600", r.get("ok", False) and all(abs(g - w) <= 1 for g, w in zip(got, want)),
                      f"{r.get('answered', 0)}/{count} answered, rs1/rs2/rs3 = {spread(counts)} "
                      f"(want {'/'.join(map(str, want))} ±1)" + fail_detail(r))

        # Six connections held: one wrr period (A A B A B C) whatever its phase.
        with L.Hold(6, seconds=60) as hold:
            held = hold.counts()
            checks.report("wrr_hold_6", hold.opened.get("ok", False) and held == {"rs1": 3, "rs2": 2, "rs3": 1},
                          f"6 held connections on rs1/rs2/rs3 = {spread(held)} (want 3/2/1)"
                          + fail_detail(hold.opened))
            L.service_config("sched-wrr", "wrr", (3, 0, 1), note="rs2 quiescent")
            ok, detail, table = L.reload_director(d)
            rs2 = table.get(f"TCP {L.VIP}:80", {}).get("real_servers", {}).get(f"{L.RS_IP['rs2']}:80", {})
            checks.report("wrr_quiesce_reload", ok and rs2.get("weight") == 0 and rs2.get("active") == held.get("rs2"),
                          f"SIGHUP with rs2 weight 0: {detail}; table after it: rs2 weight {rs2.get('weight')}, "
                          f"ActiveConn {rs2.get('active')} (want 0 and its {held.get('rs2')} held)")
            r, counts = http(200)
            got = [counts.get(s, 0) for s in RS]
            checks.report("wrr_quiescent_gets_none",
                          r.get("ok", False) and got[1] == 0 and abs(got[0] - 150) <= 1 and abs(got[2] - 50) <= 1,
                          f"200 new connections after the reload: rs1/rs2/rs3 = {spread(counts)} "
                          f"(want 150/0/50 ±1: wrr 3:0:1)" + fail_detail(r))
            released = hold.release()
        checks.report("wrr_quiescent_keeps_its_connections",
                      released.get("ok", False) and released.get("closed_early") == 0 and released.get("held") == 6,
                      f"the 6 held connections (2 on rs2) stayed open through the reload: "
                      f"held {released.get('held')}, closed early {released.get('closed_early')}"
                      + fail_detail(released))


# ---- least connection -------------------------------------------------------------------------------

def check_wlc(checks, stops):
    weights = (2, 1, 1)
    n_held, n_new = 8, 40
    names = ["wlc_default_scheduler", "wlc_held_follow_formula", "wlc_active_conn", "wlc_new_follow_formula",
             "wlc_exit_table"]
    # No `scheduler:` key: wlc is the default. Default timeouts: a closed connection stays inactive
    # (TIME_WAIT, 120 s) for the whole check, so every count is known.
    config = L.service_config("sched-wlc", None, weights)
    with Run(checks, stops, "sched-wlc", config, names) as run:
        if not run.ready:
            return
        d = run.director
        ok, detail, table = L.reload_director(d)
        sched_name = table.get(f"TCP {L.VIP}:80", {}).get("scheduler")
        checks.report("wlc_default_scheduler", ok and sched_name == "wlc",
                      f"a service without `scheduler:` is listed as {sched_name!r} (want 'wlc'); {detail}")
        before = L.tcp_counts(table)

        with L.Hold(n_held, seconds=90) as hold:
            want_seq, after_held = wlc_simulate(before, weights, n_held, held=True)
            got_seq = hold.servers()
            held = hold.counts()
            checks.report("wlc_held_follow_formula",
                          hold.opened.get("ok", False) and got_seq == want_seq
                          and held == {"rs1": 4, "rs2": 2, "rs3": 2},
                          f"from ActiveConn/InActConn {before}: {n_held} held went to {' '.join(got_seq) or '-'} "
                          f"= {spread(held)}, want {' '.join(want_seq)} = 4/2/2 (weights 2:1:1)"
                          + fail_detail(hold.opened))

            ok, detail, table = L.reload_director(d)
            now = L.tcp_counts(table)
            checks.report("wlc_active_conn", ok and now == after_held,
                          f"table (SIGHUP) while held: {now}; want {after_held} (active + the held ones)"
                          + ("" if ok else f"; {detail}"))

            # New short connections, one after another: each leaves an inactive connection behind.
            r, seq = conns(n_new)
            want_new, after_new = wlc_simulate(now or after_held, weights, n_new, held=False)
            checks.report("wlc_new_follow_formula", r.get("ok", False) and seq == want_new,
                          f"{n_new} new connections beside the held ones: rs1/rs2/rs3 = {spread(per_server(r.get('answers', [])))}"
                          f", want {spread(per_server([{'server': s} for s in want_new]))}; "
                          + first_difference(seq, want_new)
                          + fail_detail(r))
            released = hold.release()
        # Closed, the held connections are inactive: the exit table must show no active one.
        time.sleep(0.5)
        run.stop()
        final = L.tcp_counts(L.ipvsadm_table(d.text()))
        want_final = {s: (0, after_new[s][0] + after_new[s][1]) for s in RS}
        checks.report("wlc_exit_table", released.get("ok", False) and final == want_final,
                      f"exit table (ActiveConn, InActConn): {final}; want {want_final} "
                      f"(every connection counted once, none active after the holder closed)"
                      + fail_detail(released))


def check_threshold(checks, stops):
    names = ["threshold_drained", "threshold_hold_6", "threshold_flag_set", "threshold_overloaded_gets_none",
             "threshold_held_kept", "threshold_flag_cleared", "threshold_takes_again"]
    config = L.service_config("sched-threshold", "rr", (1, 1, 1), rs_extra=[{"upper_threshold": 2}, None, None],
                              top_extra={"timeouts": SHORT_TIMEOUTS}, note="rs1 upper_threshold 2")
    with Run(checks, stops, "sched-threshold", config, names) as run:
        if not run.ready:
            return
        d = run.director
        # The readiness probe's connection must be gone first: thresholds count inactive ones too.
        ok, counts, detail = L.wait_counts(d, lambda c: all(a + i == 0 for a, i in c.values()), limit=15)
        checks.report("threshold_drained", ok, f"every server at 0 connections {detail}: {counts}")

        with L.Hold(6, seconds=60) as hold:
            held = hold.counts()
            checks.report("threshold_hold_6", hold.opened.get("ok", False) and held == {"rs1": 2, "rs2": 2, "rs3": 2},
                          f"6 held (rr): rs1/rs2/rs3 = {spread(held)} (want 2/2/2)" + fail_detail(hold.opened))
            # The control core re-checks every 100 ms.
            ok, waited = wait_for(lambda: overload_lines(d, "rs1"), 2.0)
            time.sleep(0.2)
            checks.report("threshold_flag_set", ok,
                          f"'rs1 is overloaded' logged {waited:.2f} s after the 6th connection opened "
                          f"(at {overload_lines(d, 'rs1')} connections, threshold 2)" if ok
                          else f"no 'is overloaded' notice for rs1 within 2 s; {d.tail(3)}")
            r, counts = http(30)
            checks.report("threshold_overloaded_gets_none",
                          r.get("ok", False) and counts.get("rs1", 0) == 0 and
                          abs(counts.get("rs2", 0) - 15) <= 1 and abs(counts.get("rs3", 0) - 15) <= 1,
                          f"30 new connections while rs1 holds 2: rs1/rs2/rs3 = {spread(counts)} (want 0/15/15)"
                          + fail_detail(r))
            released = hold.release()
        checks.report("threshold_held_kept", released.get("ok", False) and released.get("closed_early") == 0,
                      f"held {released.get('held')}, closed early {released.get('closed_early')} (an overloaded "
                      f"server keeps its connections)" + fail_detail(released))
        # Closed, they linger as inactive (FIN/TIME_WAIT states, 2 s each here) before the count drops.
        ok, waited = wait_for(lambda: overload_lines(d, "rs1", "is no longer overloaded"), 15.0)
        checks.report("threshold_flag_cleared", ok,
                      f"'rs1 is no longer overloaded' logged {waited:.1f} s after the held connections closed, at "
                      f"{overload_lines(d, 'rs1', 'is no longer overloaded')} connections (below 3/4 of 2)" if ok
                      else f"rs1 still overloaded 15 s after its connections closed; {d.tail(3)}")
        r, counts = http(3)
        checks.report("threshold_takes_again", r.get("ok", False) and counts.get("rs1", 0) == 1,
                      f"3 new connections: rs1/rs2/rs3 = {spread(counts)} (want 1/1/1: rs1 in the rotation again)"
                      + fail_detail(r))


def check_hysteresis(checks, stops):
    names = ["fo_drained", "fo_hold_4_on_rs1", "fo_overloaded_to_next", "hysteresis_3_of_4_still_overloaded",
             "hysteresis_2_of_4_cleared"]
    # fo: the highest weight that is not overloaded, so everything goes to rs1 until it is.
    config = L.service_config("sched-fo", "fo", (3, 2, 1), rs_extra=[{"upper_threshold": 4}, None, None],
                              top_extra={"timeouts": SHORT_TIMEOUTS}, note="rs1 upper_threshold 4")
    with Run(checks, stops, "sched-fo", config, names) as run:
        if not run.ready:
            return
        d = run.director
        ok, counts, detail = L.wait_counts(d, lambda c: all(a + i == 0 for a, i in c.values()), limit=15)
        checks.report("fo_drained", ok, f"every server at 0 connections {detail}: {counts}")
        with L.Hold(2, seconds=60) as a, L.Hold(1, seconds=60) as b, L.Hold(1, seconds=60) as c:
            on = {**{k: 0 for k in RS}}
            for h in (a, b, c):
                for s in h.servers():
                    on[s] += 1
            all_ok = all(h.opened.get("ok", False) for h in (a, b, c))
            checks.report("fo_hold_4_on_rs1", all_ok and on == {"rs1": 4, "rs2": 0, "rs3": 0},
                          f"4 held (2+1+1): rs1/rs2/rs3 = {spread(on)} (want 4/0/0: fo, rs1 has the highest weight)")
            ok, waited = wait_for(lambda: overload_lines(d, "rs1"), 2.0)
            time.sleep(0.2)
            r, counts = http(5)
            checks.report("fo_overloaded_to_next", ok and r.get("ok", False) and counts == {"rs2": 5},
                          f"rs1 overloaded at {overload_lines(d, 'rs1')} connections ({waited:.2f} s); 5 new: "
                          f"rs1/rs2/rs3 = {spread(counts)} (want 0/5/0)" + fail_detail(r))

            c.release()
            ok, counts, detail = L.wait_counts(d, lambda x: sum(x["rs1"]) == 3, limit=15)
            time.sleep(0.3)
            r, got = http(5)
            cleared = overload_lines(d, "rs1", "is no longer overloaded")
            checks.report("hysteresis_3_of_4_still_overloaded",
                          ok and not cleared and r.get("ok", False) and got == {"rs2": 5},
                          f"one held connection closed, rs1 down to {counts.get('rs1')} (active, inactive) {detail}; "
                          f"5 new: rs1/rs2/rs3 = {spread(got)} (want 0/5/0: 3 is not below 3/4 of 4)"
                          + (f"; but logged 'no longer overloaded' at {cleared}" if cleared else "") + fail_detail(r))

            b.release()
            ok, waited = wait_for(lambda: overload_lines(d, "rs1", "is no longer overloaded"), 15.0)
            r, got = http(1)
            checks.report("hysteresis_2_of_4_cleared", ok and r.get("ok", False) and got == {"rs1": 1},
                          f"another closed: 'no longer overloaded' at {overload_lines(d, 'rs1', 'is no longer overloaded')} "
                          f"connections after {waited:.1f} s; 1 new went to {spread(got)} (want 1/0/0)"
                          + ("" if ok else f"; {d.tail(3)}") + fail_detail(r))


def check_least_family(checks, stops):
    """lc, sed and nq: 6 held, then 12 short, each pick against the formula from the table."""
    weights = (3, 2, 1)
    for kind in ("lc", "sed", "nq"):
        names = [f"{kind}_held_follow_formula", f"{kind}_new_follow_formula"]
        with Run(checks, stops, f"sched-{kind}", L.service_config(f"sched-{kind}", kind, weights), names) as run:
            if not run.ready:
                continue
            ok, detail, table = L.reload_director(run.director)
            before = L.tcp_counts(table)
            with L.Hold(6, seconds=60) as hold:
                want, after = least_simulate(kind, before, weights, 6, held=True)
                got = hold.servers()
                checks.report(names[0], ok and hold.opened.get("ok", False) and got == want,
                              f"weights 3:2:1, from {before}: 6 held on {' '.join(got) or '-'}; "
                              f"{first_difference(got, want)}" + fail_detail(hold.opened))
                r, seq = conns(12)
                want, _ = least_simulate(kind, after, weights, 12, held=False)
                checks.report(names[1], r.get("ok", False) and seq == want,
                              f"then 12 short: {spread(per_server(r.get('answers', [])))}, want "
                              f"{spread(per_server([{'server': x} for x in want]))}; {first_difference(seq, want)}"
                              + fail_detail(r))
                hold.release()

    # lblc: one remembered server for the VIP, left only when it is overloaded in lblc's sense.
    names = ["lblc_held_follow_rule", "lblc_new_on_remembered"]
    ones = (1, 1, 1)
    with Run(checks, stops, "sched-lblc", L.service_config("sched-lblc", "lblc", ones), names) as run:
        if run.ready:
            ok, detail, table = L.reload_director(run.director)
            before = L.tcp_counts(table)
            first = run.detail.split("(")[-1].rstrip(")")  # the readiness probe's server: remembered
            with L.Hold(7, seconds=60) as hold:
                want, after, remembered = lblc_simulate(before, ones, 7, True, first if first in RS else None)
                got = hold.servers()
                checks.report(names[0], ok and hold.opened.get("ok", False) and got == want,
                              f"weights 1:1:1, the probe on {first}, from {before}: 7 held on {' '.join(got) or '-'}; "
                              f"{first_difference(got, want)}" + fail_detail(hold.opened))
                r, seq = conns(10)
                want, _, _ = lblc_simulate(after, ones, 10, False, remembered)
                checks.report(names[1], r.get("ok", False) and seq == want,
                              f"then 10 short: {spread(per_server(r.get('answers', [])))}, want "
                              f"{spread(per_server([{'server': x} for x in want]))}; {first_difference(seq, want)}"
                              + fail_detail(r))
                hold.release()

    # ovf: a server takes connections while active <= weight, so 3:2:1 holds 4 + 3 + 2, then none.
    names = ["ovf_held_up_to_weight_plus_one", "ovf_full_no_server"]
    with Run(checks, stops, "sched-ovf", L.service_config("sched-ovf", "ovf", weights), names) as run:
        if not run.ready:
            return
        ok, detail, table = L.reload_director(run.director)
        before = L.tcp_counts(table)
        # Until each server has weight + 1 active: 4 + 3 + 2 from idle (fewer if `before` has some).
        want, after = least_simulate("ovf", before, weights, 10, held=True)
        want = want[:want.index(None)] if None in want else want
        with L.Hold(len(want), seconds=60) as hold:
            got = hold.servers()
            ok2, detail2, table2 = L.reload_director(run.director)
            full = {s: a for s, (a, _) in L.tcp_counts(table2).items()}
            checks.report(names[0], ok and ok2 and hold.opened.get("ok", False) and got == want
                          and full == {"rs1": 4, "rs2": 3, "rs3": 2},
                          f"weights 3:2:1, from {before}: {len(want)} held = {spread(hold.counts())}, ActiveConn "
                          f"then (SIGHUP table) {spread(full)} (want 4/3/2: active <= weight still qualifies); "
                          f"{first_difference(got, want)}" + fail_detail(hold.opened))
            r = L.client("probe", timeout=2, limit=10)
            hold.release()
        run.stop()
        drops = run.director.worker_totals().get("drop_no_real_server", 0)
        checks.report(names[1], not r.get("ok", False) and drops > 0,
                      f"one more connection while every server is full: {r.get('error') or r.get('server')}; "
                      f"drop_no_real_server={drops} at exit (want a failure and > 0)")


def check_threshold_workers(checks, stops):
    """Thresholds apply to the count summed over workers: with 2 workers, fo and upper_threshold 2,
    one held connection owned by each worker (source ports chosen by the owner function)."""
    names = ["threshold_two_workers_global"]
    ports = [next(p for p in range(41000, 42000) if owner_of_client(L.CLIENT_IP, p, 2) == w) for w in (0, 1)]
    config = L.service_config("sched-fo-workers", "fo", (3, 2, 1), rs_extra=[{"upper_threshold": 2}, None, None],
                              top_extra={"timeouts": SHORT_TIMEOUTS}, workers=2, note="rs1 upper_threshold 2")
    with Run(checks, stops, "sched-fo-workers", config, names) as run:
        if not run.ready:
            return
        d = run.director
        ok, counts, detail = L.wait_counts(d, lambda c: all(a + i == 0 for a, i in c.values()), limit=15)
        with L.Hold(2, seconds=60, ports=ports) as hold:
            held = hold.counts()
            flagged, waited = wait_for(lambda: overload_lines(d, "rs1"), 2.0)
            time.sleep(0.2)
            r, got = http(20)
            hold.release()
        checks.report("threshold_two_workers_global",
                      ok and held == {"rs1": 2} and flagged and r.get("ok", False) and got == {"rs2": 20},
                      f"2 workers, drained {detail}; 2 held on {spread(held)} (want 2/0/0) from ports {ports}, one "
                      f"owned by each worker; rs1 overloaded at {overload_lines(d, 'rs1')} connections (the sum "
                      f"over workers); 20 new: {spread(got)} (want 0/20/0)" + fail_detail(hold.opened) + fail_detail(r))


# ---- hashing ----------------------------------------------------------------------------------------

class Addresses:
    """Extra client addresses on fl-client's cli-eth, all removed by remove_all()."""

    def __init__(self):
        self.added = []
        self.history = []
        self.failed = []

    def add(self, address):
        if address in self.added:
            return True
        ok, err = L.add_client_address(address)
        if ok:
            self.added.append(address)
            self.history.append(address)
        else:
            self.failed.append(f"{address}: {err}")
        return ok

    def remove_all(self):
        problems = []
        for a in list(self.added):
            ok, err = L.remove_client_address(a)
            if ok:
                self.added.remove(a)
            else:
                problems.append(f"{a}: {err}")
        return problems


def sources_covering(server_of, want=3):
    """The lab client, then candidate addresses until every real server is some source's."""
    chosen = [L.CLIENT_IP]
    seen = {server_of(L.CLIENT_IP)}
    for a in EXTRA_CANDIDATES:
        if len(seen) >= want:
            break
        s = server_of(a)
        if s not in seen:
            chosen.append(a)
            seen.add(s)
    return chosen


def per_source(sources, count):
    """count connections from each source: {source: (result, set of servers)}."""
    out = {}
    for src in sources:
        r, seq = conns(count, None if src == L.CLIENT_IP else src)
        out[src] = (r, seq)
    return out


def describe_sources(got, want):
    return "; ".join(f"{src}: {len(seq)}x {'/'.join(sorted(set(seq))) or '-'} (want {want[src]})"
                     for src, (_, seq) in got.items())


def sources_ok(got, want, count):
    return all(r.get("ok", False) and len(seq) == count and set(seq) == {want[src]} for src, (r, seq) in got.items())


def check_sh(checks, stops, addrs):
    count = 20
    names = ["sh_each_source_one_server", "sh_quiescent_without_fallback", "sh_fallback_walk",
             "sh_port_per_connection"]
    sources = sources_covering(sh_server)
    for a in sources[1:]:
        addrs.add(a)
    want = {s: sh_server(s) for s in sources}
    with Run(checks, stops, "sched-sh", L.service_config("sched-sh", "sh"), names[:3]) as run:
        if run.ready:
            got = per_source(sources, count)
            checks.report("sh_each_source_one_server", sources_ok(got, want, count),
                          f"{count} connections from each source, hash_32(src) bucket of 256: " + describe_sources(got, want))

            # The lab client's server made quiescent: its bucket stays (a weight-0 server keeps one
            # bucket per round), so without sh-fallback the client finds no server; the others stay.
            quiet = want[L.CLIENT_IP]
            weights = tuple(0 if s == quiet else 1 for s in RS)
            L.service_config("sched-sh", "sh", weights, note=f"{quiet} quiescent")
            ok, detail, _ = L.reload_director(run.director)
            r = L.client("probe", timeout=2, limit=10)
            others = {s: sh_server(s, weights) for s in sources[1:]}
            got = per_source(sources[1:], 5)
            checks.report("sh_quiescent_without_fallback",
                          ok and not r.get("ok", False) and sources_ok(got, others, 5),
                          f"{quiet} at weight 0 by SIGHUP ({detail}): {L.CLIENT_IP} "
                          f"{'answered by ' + str(r.get('server')) if r.get('ok') else 'finds no server (' + str(r.get('error')) + ')'}"
                          f" (want none); the other sources stay: " + describe_sources(got, others))

            L.service_config("sched-sh", "sh", weights, flags=["sh-fallback"], note=f"{quiet} quiescent, sh-fallback")
            ok, detail, _ = L.reload_director(run.director)
            fb = {s: sh_server(s, weights, fallback=True) for s in sources}
            got = per_source(sources, 5)
            checks.report("sh_fallback_walk", ok and sources_ok(got, fb, 5),
                          f"sh-fallback by SIGHUP ({detail}): the walk from bucket 2 * hash: " + describe_sources(got, fb))

    # dh: the bucket of hash_32(destination), one bucket per server round after round: every
    # source on the VIP's server.
    vip_server = RS[hash_32(ip_int(L.VIP)) % len(RS)]
    with Run(checks, stops, "sched-dh", L.service_config("sched-dh", "dh"), ["dh_all_on_vip_bucket"]) as run:
        if run.ready:
            want_dh = {src: vip_server for src in sources}
            got = per_source(sources, 10)
            checks.report("dh_all_on_vip_bucket", sources_ok(got, want_dh, 10),
                          f"hash_32({L.VIP}) is bucket {hash_32(ip_int(L.VIP))}, {vip_server}: " + describe_sources(got, want_dh))

    # sh-port: the bucket of hash_32(src + source port): each connection on its own.
    config = L.service_config("sched-sh-port", "sh", flags=["sh-port"])
    with Run(checks, stops, "sched-sh-port", config, names[3:]) as run:
        if run.ready:
            n = 60
            r = L.client("conn", "--count", str(n), timeout=3, limit=60)
            answers = r.get("answers", [])
            wrong = []
            for a in answers:
                ip, _, port = a["peer"].rpartition(":")
                expect = sh_server(ip, port=int(port))
                if a["server"] != expect:
                    wrong.append(f"{a['peer']} on {a['server']}, want {expect}")
            counts = per_server(answers)
            checks.report("sh_port_per_connection",
                          r.get("ok", False) and not wrong and len(answers) == n and all(counts.get(s, 0) > 0 for s in RS),
                          f"{len(answers)}/{n} connections from {L.CLIENT_IP} spread rs1/rs2/rs3 = {spread(counts)}, "
                          + ("each on the bucket of hash_32(src + port)" if not wrong else
                             f"{len(wrong)} not on their bucket: {'; '.join(wrong[:3])}") + fail_detail(r))


def check_mh(checks, stops, addrs):
    count = 20
    servers = [(s, L.RS_IP[s], 80, 1) for s in RS]
    table = Maglev(servers)
    sources = sources_covering(table.server)
    for a in sources[1:]:
        addrs.add(a)
    want = {s: table.server(s) for s in sources}
    runs = [("sched-mh", False, "mh_each_source_on_its_slot",
             "each source on the real server of its slot in the documented Maglev table (M = 65537)"),
            ("sched-mh-restart", False, "mh_same_after_restart", "after a restart, the same"),
            ("sched-mh-reversed", True, "mh_same_in_other_order",
             "restarted with the real servers listed in reverse order, the same")]
    for name, reverse, check, what in runs:
        config = L.service_config("sched-mh" if not reverse else "sched-mh-reversed", "mh", reverse=reverse)
        with Run(checks, stops, name, config, [check]) as run:
            if run.ready:
                got = per_source(sources, count)
                checks.report(check, sources_ok(got, want, count), f"{what}: {count} connections from each: "
                              + describe_sources(got, want))


# ---- persistence ------------------------------------------------------------------------------------

def rr_after(server, skip=()):
    """rr's next server after `server`, skipping `skip`."""
    i = RS.index(server)
    for k in range(1, len(RS) + 1):
        s = RS[(i + k) % len(RS)]
        if s not in skip:
            return s
    return None


def one_server(r, counts, n):
    return r.get("ok", False) and len(counts) == 1 and sum(counts.values()) == n


def check_persistence(checks, stops, addrs):
    n = 50
    second = EXTRA_CANDIDATES[0]
    addrs.add(second)
    names = ["persist_one_client_one_server", "persist_second_client", "persist_template_outlives_connections",
             "persist_template_expires",
             "persist_new_template_holds", "persist_quiescent_keeps_client", "persist_expire_quiescent_template"]
    service = {"persistence": PERSISTENCE}
    config = L.service_config("sched-persist", "rr", service_extra=service, top_extra={"timeouts": PERSIST_TIMEOUTS})
    with Run(checks, stops, "sched-persist", config, names) as run:
        if not run.ready:
            return
        d = run.director
        # The readiness probe came from the lab client too: its template decides where it goes.
        r, counts = http(n)
        x = next(iter(counts), None)
        checks.report("persist_one_client_one_server", one_server(r, counts, n),
                      f"{n} connections from {L.CLIENT_IP} (rr would give {n // 3} or so each): rs1/rs2/rs3 = "
                      f"{spread(counts)}" + fail_detail(r))
        r, counts2 = http(n, source=second)
        y = next(iter(counts2), None)
        checks.report("persist_second_client", one_server(r, counts2, n) and x is not None and y == rr_after(x),
                      f"{n} from {second}: rs1/rs2/rs3 = {spread(counts2)} (want all on rr's next server, "
                      f"{rr_after(x) if x else '?'})" + fail_detail(r))

        # The template outlives its connections by `persistence` seconds: once the director has
        # forgotten every connection of this client, it still sends the client to the same server.
        ok, counts, detail = L.wait_counts(d, lambda c: x in c and sum(c[x]) == 0, limit=15)
        time.sleep(2)
        r, seq = conns(1)
        checks.report("persist_template_outlives_connections", ok and seq == [x],
                      f"{x} held no connection {detail}; 2 s later (persistence {PERSISTENCE} s) one more from "
                      f"{L.CLIENT_IP} went to {seq[0] if seq else r.get('errors')} (want {x})")

        # Expiry: connections close in ~2 s (short TIME_WAIT), then the template lives `persistence`
        # seconds more. Each probe is a use that extends it, so wait in silence between probes.
        z, tries, waited = None, 0, 0.0
        start = time.monotonic()
        while tries < 3 and z in (None, x):
            time.sleep(10)
            tries += 1
            r, seq = conns(1)
            z = seq[0] if seq else None
        waited = time.monotonic() - start
        want_z = rr_after(y) if y else None
        checks.report("persist_template_expires", z is not None and z != x and z == want_z,
                      f"after {waited:.0f} s without traffic ({tries} probe(s)), {L.CLIENT_IP} went to {z} "
                      f"(before: {x}; want rr's next pick, {want_z})")
        r, counts3 = http(n)
        checks.report("persist_new_template_holds", one_server(r, counts3, n) and counts3.get(z) == n,
                      f"{n} more from {L.CLIENT_IP}: rs1/rs2/rs3 = {spread(counts3)} (want all on {z})" + fail_detail(r))

        # Quiesce the client's server: IPVS keeps persistent clients on it...
        if z is None:
            for c in names[-2:]:
                checks.report(c, False, "no server to quiesce")
            return
        weights = tuple(0 if s == z else 1 for s in RS)
        L.service_config("sched-persist", "rr", weights, service_extra=service,
                         top_extra={"timeouts": PERSIST_TIMEOUTS}, note=f"{z} quiescent")
        ok, detail, _ = L.reload_director(d)
        r, counts4 = http(10)
        checks.report("persist_quiescent_keeps_client", ok and one_server(r, counts4, 10) and counts4.get(z) == 10,
                      f"{z} set to weight 0 by SIGHUP ({detail}); 10 more from {L.CLIENT_IP}: rs1/rs2/rs3 = "
                      f"{spread(counts4)} (want all still on {z}: the template holds)" + fail_detail(r))
        # ... unless expire_quiescent_template.
        L.service_config("sched-persist", "rr", weights, service_extra=dict(service, expire_quiescent_template=True),
                         top_extra={"timeouts": PERSIST_TIMEOUTS}, note=f"{z} quiescent, expire_quiescent_template")
        ok, detail, _ = L.reload_director(d)
        r, counts5 = http(10)
        moved_to = next(iter(counts5), None)
        checks.report("persist_expire_quiescent_template",
                      ok and one_server(r, counts5, 10) and moved_to not in (None, z),
                      f"expire_quiescent_template: true by SIGHUP ({detail}); 10 more from {L.CLIENT_IP}: "
                      f"rs1/rs2/rs3 = {spread(counts5)} (want all on one server other than {z})" + fail_detail(r))


def check_persistence_netmask(checks, stops, addrs):
    n = 20
    second = EXTRA_CANDIDATES[0]
    addrs.add(second)
    config = L.service_config("sched-persist-mask", "rr", service_extra={"persistence": 30, "persistence_netmask": 24})
    with Run(checks, stops, "sched-persist-mask", config, ["persist_netmask_24_shared"]) as run:
        if not run.ready:
            return
        r1, c1 = http(n)
        r2, c2 = http(n, source=second)
        checks.report("persist_netmask_24_shared",
                      one_server(r1, c1, n) and one_server(r2, c2, n) and c1.keys() == c2.keys(),
                      f"{n} from {L.CLIENT_IP}: {spread(c1)}; {n} from {second}: {spread(c2)} "
                      f"(want all {2 * n} on one server: one template for 198.18.0.0/24)"
                      + fail_detail(r1) + fail_detail(r2))


def check_persistence_workers(checks, stops, addrs):
    n = 100
    second = EXTRA_CANDIDATES[0]
    addrs.add(second)
    config = L.service_config("sched-persist-workers", "rr", service_extra={"persistence": 30}, workers=2)
    names = ["persist_two_workers"]
    with Run(checks, stops, "sched-persist-workers", config, names) as run:
        if not run.ready:
            return
        r1, seq1 = conns(n)
        r2, seq2 = conns(n, source=second)
        c1, c2 = per_server([{"server": x} for x in seq1]), per_server([{"server": x} for x in seq2])
        run.stop()
        created = {}
        for line in run.director.text().splitlines():
            m = re.search(r"\bstats worker=(\d+) .*\bconnections_created=(\d+)", line)
            if m:
                created[int(m.group(1))] = int(m.group(2))
        # Where each connection was owned (the readiness probe's is unknown: one more somewhere).
        predicted = {0: 0, 1: 0}
        for a in r1.get("answers", []) + r2.get("answers", []):
            ip, _, port = a["peer"].rpartition(":")
            predicted[owner_of_client(ip, int(port), 2)] += 1
        owners_ok = (len(created) == 2 and all(created[w] >= predicted[w] for w in predicted)
                     and 0 <= sum(created.values()) - sum(predicted.values()) <= 2)
        checks.report("persist_two_workers",
                      one_server(r1, c1, n) and one_server(r2, c2, n) and owners_ok and min(predicted.values()) > 0,
                      f"2 workers: {n} from {L.CLIENT_IP}: {spread(c1)}; {n} from {second}: {spread(c2)} (want each "
                      f"client on one server); connections created per worker {created}, owners of the {2 * n} "
                      f"by the hand-off function {predicted} (want both > 0, and equal but for the readiness probe)"
                      + fail_detail(r1) + fail_detail(r2))


# ---- main -------------------------------------------------------------------------------------------

def main():
    checks = L.Checks("sched")
    if os.geteuid() != 0:
        checks.report("root", False, "the lab needs root")
        return checks.summary()
    if L.STANDIN:
        checks.skip("all", "the kernel stand-in (nftables numgen) has none of these schedulers")
        return checks.summary()
    started = time.monotonic()
    stops = []
    addrs = Addresses()
    try:
        with L.Lab():
            try:
                for group in (check_wrr, check_wlc, check_least_family, check_threshold, check_hysteresis,
                              check_threshold_workers):
                    group(checks, stops)
                for group in (check_sh, check_mh, check_persistence, check_persistence_netmask,
                              check_persistence_workers):
                    group(checks, stops, addrs)
            finally:
                problems = addrs.remove_all()
                checks.report("client_addresses_removed", not problems and not addrs.failed,
                              f"added to cli-eth for the hashing and persistence checks: "
                              f"{', '.join(addrs.history) or 'none'}; "
                              + ("all removed" if not problems else f"left: {problems}")
                              + (f"; could not add: {addrs.failed}" if addrs.failed else ""))
    except RuntimeError as e:
        checks.report("lab", False, str(e))
        return checks.summary()

    checks.report("sigterm_exit_0", bool(stops) and all(code == 0 for _, code, _ in stops),
                  ", ".join(f"{n}: {L.stop_outcome(c, d)}" for n, c, d in stops))
    print(f"  .. {time.monotonic() - started:.0f} s", flush=True)
    return checks.summary()


if __name__ == "__main__":
    L.main_guard(main)
