#!/usr/bin/python3
"""End-to-end IPv6 test: one director serves an IPv6 VIP beside the IPv4 one, with real kernels on
both sides. The lab's IPv6 (tests/lab/lab.sh): the client 2001:db8:18::2 on ext, rs1/rs2
2001:db8:19::11/12 on int (default route via the director's 2001:db8:19::1), rs4 2001:db8:18::14
on ext with the IPv6 VIP on lo (DR), rs5 2001:db8:18::15 on ext with the VIP on lo and this
test's decapsulator of IPv6 in IPv6 and in IPv4 (TUN). Small
HTTP servers of this test answer on [::]:8080 (rs1, rs2: NAT66), [::]:8081 (rs4: DR) and
[::]:8082/8083 (rs5: TUN over IPv6 / over IPv4), and 8084 for the IPv4 VIP tunnelled to rs5's
IPv6 address (IPv4 in IPv6).

Shown: neighbour discovery with the kernels (the client and the real servers resolve the
director, the director them), ping -6 to the director and the VIP, HTTP through NAT66 with rr's
split, a 1 MB download intact, HTTP through DR6 answered by rs4 directly, HTTP through both
tunnels to rs5, HTTP to the IPv4 VIP through an IPv6 tunnel to rs5, packet too big (1460) reaching the client for the IPv6 tunnel and its upload
going on in smaller segments, a UDP echo through
NAT66, a TCP health check over IPv6 (from the director's kernel, through its TAP) taking rs2 out
and back, the IPv4 service working at the same time, and ipvsadm's IPv6 listing from the console.
A routed IPv6 real server: rs3's 2001:db8:77::13 (on its lo) is reached through the configured
route via rs3's 2001:db8:19::13, which the director also puts on its TAP fl-int, so that its
TCP health check (made by its kernel) reaches it: taken out when its server stops and back
when it returns, and its traffic through NAT66; a reload that changes the route's destination
moves it on the TAP.
Connection sync over IPv6 (role both on int): the independent decoder (tests/lab/ipvs_sync.py,
from the kernel's structures) reads the IPv6 records the director sends for its NAT66
connections, and IPv6 records its encoder builds as a kernel master would (one to an IPv4 tunnel
real server, in the kernel's form) are listed by ipvsadm -L -n -c.

Run as root from anywhere: /usr/bin/python3 tests/e2e/test_ipv6.py
Prints one PASS/FAIL line per check and `ipv6: N passed, N failed`; exits 1 if any check failed.
"""

import json
import os
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the work tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lablib as L  # noqa: E402

DIR_EXT6 = "2001:db8:18::1"
DIR_INT6 = "2001:db8:19::1"
CLIENT6 = "2001:db8:18::2"
VIP6 = "2001:db8:18::100"
RS6 = {"rs1": "2001:db8:19::11", "rs2": "2001:db8:19::12", "rs4": "2001:db8:18::14", "rs5": "2001:db8:18::15"}
RS3_INT6 = "2001:db8:19::13"
ROUTED_NET6 = "2001:db8:77::/64"
ROUTED_RS6 = "2001:db8:77::13"  # on rs3's lo, reached only through the route via RS3_INT6
ROUTED_PORT = 8085
MOVED_NET6 = "2001:db8:77::/48"  # what a reload turns ROUTED_NET6 into (ROUTED_RS6 still reached)
DEV = {"rs1": "rs1-eth", "rs2": "rs2-eth", "rs4": "rs4-eth", "rs5": "rs5-eth"}
TUN6_DEV = "tun6-dec"  # rs5's TUN device for the inner IPv6 packets
SYNC_PY = os.path.join(L.REPO, "tests", "lab", "ipvs_sync.py")

CONFIG = f"""\
dataplane:
  workers: 1
  eal: ["--no-huge", "-m", "512", "--file-prefix", "fulcrum-lab", "--no-pci"]
interfaces:
  - {{ name: ext, device: "net_af_packet0,iface=dir-ext", address: [198.18.0.1/24, "{DIR_EXT6}/64"] }}
  - {{ name: int, device: "net_af_packet1,iface=dir-int", address: [198.19.0.1/24, "{DIR_INT6}/64"] }}
routes:
  - {{ dst: "{ROUTED_NET6}", via: "{RS3_INT6}" }}
console:
  listen: "127.0.0.1:9023"
sync:
  role: both
  interface: int
  syncid: 1
services:
  - vip: 198.18.0.100
    port: 80
    protocol: tcp
    scheduler: rr
    forward: nat
    real_servers:
      - {{ address: 198.19.0.11, port: 80 }}
      - {{ address: 198.19.0.12, port: 80 }}
  - vip: "{VIP6}"
    port: 80
    protocol: tcp
    scheduler: rr
    forward: nat
    health_check: {{ type: tcp, interval: 1, timeout: 0.5, fall: 2, rise: 2 }}
    real_servers:
      - {{ address: "{RS6['rs1']}", port: 8080 }}
      - {{ address: "{RS6['rs2']}", port: 8080 }}
  - vip: "{VIP6}"
    port: 5353
    protocol: udp
    scheduler: rr
    forward: nat
    real_servers:
      - {{ address: "{RS6['rs1']}", port: 5353 }}
      - {{ address: "{RS6['rs2']}", port: 5353 }}
  - vip: "{VIP6}"
    port: 8081
    protocol: tcp
    scheduler: rr
    forward: dr
    real_servers:
      - {{ address: "{RS6['rs4']}", port: 8081 }}
  - vip: "{VIP6}"
    port: 8082
    protocol: tcp
    scheduler: rr
    forward: tun
    real_servers:
      - {{ address: "{RS6['rs5']}", port: 8082 }}
  - vip: "{VIP6}"
    port: 8083
    protocol: tcp
    scheduler: rr
    forward: tun
    real_servers:
      - {{ address: 198.18.0.15, port: 8083 }}
  - vip: "{VIP6}"
    port: {ROUTED_PORT}
    protocol: tcp
    scheduler: rr
    forward: nat
    health_check: {{ type: tcp, interval: 1, timeout: 0.5, fall: 2, rise: 2 }}
    real_servers:
      - {{ address: "{ROUTED_RS6}", port: {ROUTED_PORT} }}
  - vip: 198.18.0.100
    port: 8084
    protocol: tcp
    scheduler: rr
    forward: tun
    real_servers:
      - {{ address: "{RS6['rs5']}", port: 8084 }}
"""

# An HTTP server on [::]:PORT that says who it is, and sends 1 MB of a pattern for /1mb; and a UDP
# echo on [::]:5353 that answers NAME:PAYLOAD.
SERVER = r"""
import http.server, socket, sys, threading
name, port = sys.argv[1], int(sys.argv[2])
def echo():
    u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    u.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)  # the lab's IPv4 echo holds 0.0.0.0:5353
    u.bind(("::", 5353))
    while True:
        data, peer = u.recvfrom(2048)
        u.sendto(name.encode() + b":" + data, peer)
threading.Thread(target=echo, daemon=True).start()
BLOB = bytes((i * 7 + 3) % 251 for i in range(1 << 20))
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        import hashlib
        body = self.rfile.read(int(self.headers["Content-Length"]))
        answer = f"{name} {len(body)} {hashlib.sha256(body).hexdigest()}\n".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)
    def do_GET(self):
        body = BLOB if self.path == "/1mb" else f"{name} {self.client_address[0]}\n".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
class S(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6
s = S(("::", port), H)
print('{"ready": true}', flush=True)
s.serve_forever()
"""

# The client's side: `count` GETs of `url`, one connection each; prints a JSON summary.
CLIENT = r"""
import json, sys, urllib.request, hashlib
url, count = sys.argv[1], int(sys.argv[2])
seen, errors, digest, size = {}, [], None, 0
for _ in range(count):
    try:
        body = urllib.request.urlopen(url, timeout=3).read()
    except Exception as e:
        errors.append(str(e)[:80])
        continue
    if url.endswith("/1mb"):
        size, digest = len(body), hashlib.sha256(body).hexdigest()
    else:
        who = body.decode().split()[0]
        seen[who] = seen.get(who, 0) + 1
print(json.dumps({"ok": not errors, "servers": seen, "errors": errors[:3], "size": size, "sha256": digest}))
"""


def ns_sh(ns, script):
    return L.in_ns(ns, "sh", "-c", script)


def give_lab_ipv6():
    """What this test adds to the lab's IPv6 (tests/lab/lab.sh): rs5's TUN device for the inner
    packets of its tunnels (no reverse-path filter; the replies leave by rs5-eth, to the client on
    the link), and rs3's routed address on its lo."""
    r = ns_sh("fl-rs5", f"ip tuntap add dev {TUN6_DEV} mode tun && "
                        f"sysctl -qw net.ipv6.conf.{TUN6_DEV}.disable_ipv6=0 net.ipv4.conf.{TUN6_DEV}.rp_filter=0 && "
                        f"ip link set {TUN6_DEV} up")
    if r.returncode != 0:
        return False, f"fl-rs5: {r.stderr.strip()[-200:]}"
    r = L.in_ns("fl-rs3", "ip", "-6", "addr", "add", f"{ROUTED_RS6}/128", "dev", "lo", timeout=5)
    if r.returncode != 0:
        return False, f"fl-rs3: {r.stderr.strip()[-200:]}"
    # The lab's own IPv6, as this test relies on it.
    for ns, dev, address in [("fl-client", "cli-eth", CLIENT6)] + [(f"fl-{rs}", DEV[rs], RS6[rs]) for rs in RS6]:
        shown = L.in_ns(ns, "ip", "-6", "addr", "show", "dev", dev, timeout=5).stdout
        if f"inet6 {address}/64" not in shown:
            return False, f"{ns}: no {address}/64 on {dev} (tests/lab/lab.sh gives every host IPv6)"
    return True, f"the lab's IPv6 on cli-eth and rs1-5, rs5's {TUN6_DEV} and rs3's {ROUTED_RS6} on lo"


# The IPv6 tunnels' far end on rs5, as decap.py is IPIP's: a raw socket for IPv6 in IPv6 and one
# for IPv4 in IPv6 (the kernel hands over the inner packet), one for IPv6 in IPv4 (the outer
# header included), the
# inner packets written to a TUN device, where the kernel takes them as arrived there. Only what
# comes from the director is taken.
DECAP6 = r"""
import fcntl, os, select, socket, struct, sys, json
dev, director6, director4 = sys.argv[1], socket.inet_pton(socket.AF_INET6, sys.argv[2]), socket.inet_aton(sys.argv[3])
fd = os.open("/dev/net/tun", os.O_RDWR)
fcntl.ioctl(fd, 0x400454CA, struct.pack("16sH22x", dev.encode(), 0x0001 | 0x1000))
six = socket.socket(socket.AF_INET6, socket.SOCK_RAW, 41)
four = socket.socket(socket.AF_INET, socket.SOCK_RAW, 41)
ipip6 = socket.socket(socket.AF_INET6, socket.SOCK_RAW, 4)
counts = {"6in6": 0, "6in4": 0, "4in6": 0, "refused": 0}
print('{"ready": true}', flush=True)
import signal
signal.signal(signal.SIGTERM, lambda *a: (print(json.dumps({"ok": True, **counts}), flush=True), os._exit(0)))
while True:
    for s in select.select([six, four, ipip6], [], [], 0.5)[0]:
        data, peer = s.recvfrom(65535)
        if s is not four:
            if socket.inet_pton(socket.AF_INET6, peer[0]) != director6:
                counts["refused"] += 1
                continue
            inner, kind = data, "6in6" if s is six else "4in6"
        else:
            if data[12:16] != director4:
                counts["refused"] += 1
                continue
            inner, kind = data[(data[0] & 15) * 4:], "6in4"
        os.write(fd, inner)
        counts[kind] += 1
"""

# A POST of `size` bytes to `url`: rs's answer (name, length, sha256) and the path MTU after.
POST_CLIENT = r"""
import hashlib, json, sys, urllib.request
url, size = sys.argv[1], int(sys.argv[2])
body = bytes((i * 13 + 5) % 253 for i in range(size))
try:
    request = urllib.request.Request(url, data=body, method="POST")
    answer = urllib.request.urlopen(request, timeout=10).read().decode().split()
    print(json.dumps({"ok": answer[1:] == [str(size), hashlib.sha256(body).hexdigest()], "server": answer[0]}))
except Exception as e:
    print(json.dumps({"ok": False, "error": str(e)[:200]}))
"""

# Datagrams to [VIP]:5353, each from a socket of its own: who answered, and from where.
UDP_CLIENT = r"""
import json, socket, sys
vip, count = sys.argv[1], int(sys.argv[2])
answers = []
for i in range(count):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.settimeout(2)
    s.sendto(f"ping{i}".encode(), (vip, 5353))
    try:
        data, peer = s.recvfrom(2048)
        answers.append([data.decode(), peer[0], peer[1]])
    except socket.timeout:
        answers.append(None)
print(json.dumps({"ok": all(answers), "answers": answers}))
"""


def listed_real_servers(port=80):
    """The real servers ipvsadm -L -n lists under [VIP]:port."""
    text, _ = L.console_script("ipvsadm -L -n\n")
    servers, inside = [], False
    for line in text.splitlines():
        if line.startswith(("TCP", "UDP")):
            inside = line.startswith(f"TCP  [{VIP6}]:{port} ")
        elif inside and line.startswith("  -> ["):
            servers.append(line.split()[1])
    return servers


def wait_listed(want, limit=10.0, port=80):
    deadline = time.monotonic() + limit
    start = time.monotonic()
    got = listed_real_servers(port)
    while got != want and time.monotonic() < deadline:
        time.sleep(0.2)
        got = listed_real_servers(port)
    return got == want, f"{got} after {time.monotonic() - start:.1f} s (want {want})"


def run_client(url, count, limit=60):
    r = L.in_ns("fl-client", L.PY, "-c", CLIENT, url, str(count), timeout=limit)
    got = L._last_json(r.stdout)
    return got if isinstance(got, dict) else {"ok": False, "errors": [(r.stderr or r.stdout).strip()[-200:]]}


def ping6(addr, count=3):
    r = L.in_ns("fl-client", "ping", "-6", "-n", "-c", str(count), "-i", "0.2", "-W", "1", "-w", "5", addr, timeout=10)
    for line in r.stdout.splitlines():
        if "received" in line:
            return int(line.split(",")[1].split()[0]), count
    return 0, count


def main():
    checks = L.Checks("ipv6")
    if not L.can_run_beyond_nat(checks):
        return checks.summary()
    path = os.path.join(L.RUN_DIR, "lab-ipv6.yaml")
    os.makedirs(L.RUN_DIR, exist_ok=True)
    with open(path, "w") as f:
        f.write(CONFIG)
    checks.report("check_config", *L.check_config(path))
    director = L.Director("ipv6", path)
    servers = []
    try:
        with L.Lab():
            ok, detail = give_lab_ipv6()
            checks.report("lab_ipv6", ok, detail)
            decap = L.Background("fl-rs5", L.PY, "-c", DECAP6, TUN6_DEV, DIR_EXT6, "198.18.0.1")
            if not decap.start():
                checks.report("decap6", False, f"rs5's IPv6 decapsulator did not start: {decap.finish(limit=2)}")
            for rs, port in (("rs1", 8080), ("rs2", 8080), ("rs4", 8081), ("rs5", 8082), ("rs5", 8083), ("rs5", 8084),
                             ("rs3", ROUTED_PORT)):
                s = L.Background(f"fl-{rs}", L.PY, "-c", SERVER, rs, str(port))
                servers.append(s)
                if not s.start():
                    checks.report("servers", False, f"{rs}'s IPv6 HTTP server did not start")
            director.start()
            ready, detail = director.wait_ready()
            checks.report("director_ready", ready, detail)
            if ready:
                for name, addr in (("ping6_director", DIR_EXT6), ("ping6_vip", VIP6)):
                    got, sent = ping6(addr)
                    checks.report(name, got == sent, f"{got}/{sent} echo replies from {addr}")
                # What the director sends for these connections, read on the internal link.
                listener = L.Background("fl-rs1", L.PY, SYNC_PY, "listen", "224.0.0.81", "8848", "rs1-eth", "8")
                listening = listener.start(limit=5)
                r = run_client(f"http://[{VIP6}]/", 20)
                heard = []
                if listening:
                    out, _ = listener.proc.communicate(timeout=15)
                    heard = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
                records = [x for d in heard for x in d.get("records", [])]
                established6 = [x for x in records if x["family"] == 6 and x["vip"] == VIP6 and x["vport"] == 80
                                and x["client"] == CLIENT6 and x["state"] == "ESTABLISHED"]
                checks.report("sync_sends_ipv6",
                              listening and not any("error" in d for d in heard) and len(established6) >= 20
                              and {x["real"] for x in established6} == {RS6["rs1"], RS6["rs2"]}
                              and all(x["dport"] == 8080 and x["method"] == "nat" for x in established6),
                              f"{len(heard)} datagrams, {len(records)} records, {len(established6)} IPv6 ESTABLISHED "
                              f"to [{VIP6}]:80, e.g. {established6[0] if established6 else '-'}")
                checks.report("http_nat66_rr", r.get("ok") and r.get("servers") == {"rs1": 10, "rs2": 10},
                              f"20 GETs of http://[{VIP6}]/: {r.get('servers')} (want rs1/rs2 10/10) "
                              f"{r.get('errors') or ''}")
                want = __import__("hashlib").sha256(bytes((i * 7 + 3) % 251 for i in range(1 << 20))).hexdigest()
                r = run_client(f"http://[{VIP6}]/1mb", 1)
                checks.report("download_1mb_nat66",
                              r.get("ok") and r.get("size") == 1 << 20 and r.get("sha256") == want,
                              f"{r.get('size')} bytes, sha256 {'matches' if r.get('sha256') == want else 'differs'} "
                              f"{r.get('errors') or ''}")
                r = run_client(f"http://[{VIP6}]:8081/", 5)
                checks.report("http_dr6", r.get("ok") and r.get("servers") == {"rs4": 5},
                              f"5 GETs of http://[{VIP6}]:8081/: {r.get('servers')} {r.get('errors') or ''}")
                for name, port, outer in (("http_tun6_in_6", 8082, "IPv6"), ("http_tun6_in_4", 8083, "IPv4")):
                    r = run_client(f"http://[{VIP6}]:{port}/", 5)
                    checks.report(name, r.get("ok") and r.get("servers") == {"rs5": 5},
                                  f"5 GETs of http://[{VIP6}]:{port}/ through an {outer} tunnel: {r.get('servers')} "
                                  f"{r.get('errors') or ''}")
                # The IPv4 VIP through an IPv6 tunnel: rs5's kernel answers from the IPv4 VIP, and
                # ipvsadm lists the connections towards rs5's IPv6 address.
                r = run_client("http://198.18.0.100:8084/", 5)
                conns, _ = L.console_script("ipvsadm -L -n -c\n")
                rows = [line for line in conns.splitlines() if " 198.18.0.100:8084 " in line]
                checks.report("http_tun4_in_6", r.get("ok") and r.get("servers") == {"rs5": 5} and len(rows) == 5
                              and all(line.rstrip().endswith(f"[{RS6['rs5']}]:8084") for line in rows),
                              f"5 GETs of http://198.18.0.100:8084/ through an IPv6 tunnel: {r.get('servers')} "
                              f"{r.get('errors') or ''}; {len(rows)} rows, e.g. {rows[0].strip() if rows else '-'}")
                # 1440-byte segments are 1500-byte packets, 40 too many for the IPv6 tunnel: the
                # client hears packet too big (1460) from the VIP, and its upload goes on smaller.
                L.in_ns("fl-client", "ip", "-6", "route", "flush", "cache", timeout=5)
                r = L.in_ns("fl-client", L.PY, "-c", POST_CLIENT, f"http://[{VIP6}]:8082/upload", str(200000),
                            timeout=30)
                posted = L._last_json(r.stdout) or {}
                mtu = L.in_ns("fl-client", "ip", "-6", "route", "get", VIP6, timeout=5).stdout
                checks.report("packet_too_big_tun6", posted.get("ok") and " mtu 1460 " in f" {mtu} ",
                              f"200 KB POST through the IPv6 tunnel: {posted}; client's route: {mtu.strip()}")
                r = L.in_ns("fl-client", L.PY, "-c", UDP_CLIENT, VIP6, "2", timeout=15)
                u = L._last_json(r.stdout) or {}
                answers = u.get("answers") or []
                checks.report("udp_echo_nat66", u.get("ok") and [a[0] for a in answers] == ["rs1:ping0", "rs2:ping1"]
                              and all(a[1] == VIP6 and a[2] == 5353 for a in answers),
                              f"{answers} (want rs1, then rs2, each from [{VIP6}]:5353)")
                # The health check, from the director's kernel over IPv6: rs2's server stops, then
                # comes back.
                rs1, rs2 = f"[{RS6['rs1']}]:8080", f"[{RS6['rs2']}]:8080"
                servers[1].finish(limit=3, terminate=True)
                ok, detail = wait_listed([rs1])
                checks.report("health_removes_ipv6", ok, f"rs2's server stopped: {detail}")
                servers[1] = L.Background("fl-rs2", L.PY, "-c", SERVER, "rs2", "8080")
                servers[1].start()
                ok, detail = wait_listed([rs1, rs2])
                checks.report("health_restores_ipv6", ok, f"rs2's server back: {detail}")
                four = L.client("http", "--count", "10", "--deadline", "30", timeout=3, limit=45)
                counts = four.get("counts", {})
                checks.report("ipv4_beside", four.get("ok", False) and counts == {"rs1": 5, "rs2": 5},
                              f"10 GETs of the IPv4 VIP 198.18.0.100 on the same director: {counts or '-'} "
                              f"(want rs1/rs2 5/5) {four.get('errors') or ''}")
                text, _ = L.console_script("ipvsadm -L -n\n")
                checks.report("ipvsadm_lists_ipv6",
                              f"TCP  [{VIP6}]:80 rr" in text and f"  -> [{RS6['rs1']}]:8080" in text,
                              " | ".join(line for line in text.splitlines() if "[" in line)[:400])
                # While the 10 connections above wait out their timeouts: ipvsadm -L -n -c lists
                # the IPv6 ones as ipvsadm does ("TCP 01:58  TIME_WAIT   [client]:port [vip]:80 [rs]:8080").
                conns, _ = L.console_script("ipvsadm -L -n -c\n")
                rows6 = [line for line in conns.splitlines() if f"[{VIP6}]:80 " in line]
                checks.report("ipvsadm_lists_ipv6_connections",
                              len(rows6) >= 10 and all(f"[{CLIENT6}]:" in r and "[2001:db8:19::1" in r for r in rows6),
                              f"{len(rows6)} rows to [{VIP6}]:80, e.g. {rows6[0].strip() if rows6 else '-'}")
                # Records a kernel master would send: NAT66 to rs2, and TUN to rs5's IPv4 address.
                injected = [dict(protocol="tcp", client="2001:db8:18::77", cport=50000, vip=VIP6, vport=80,
                                 real=RS6["rs2"], dport=8080, method="nat", state="ESTABLISHED", timeout=900),
                            dict(protocol="tcp", client="2001:db8:18::77", cport=50001, vip=VIP6, vport=8083,
                                 real="198.18.0.15", dport=8083, method="tun", state="ESTABLISHED", timeout=900,
                                 nooutput=True)]
                sent = L.in_ns("fl-rs1", L.PY, SYNC_PY, "send", "224.0.0.81", "8848", "rs1-eth", "1",
                               json.dumps(injected))
                time.sleep(1)
                conns, _ = L.console_script("ipvsadm -L -n -c\n")
                rows = [line.split() for line in conns.splitlines() if "[2001:db8:18::77]:" in line]
                want = [["TCP", "ESTABLISHED", "[2001:db8:18::77]:50000", f"[{VIP6}]:80", f"[{RS6['rs2']}]:8080"],
                        ["TCP", "ESTABLISHED", "[2001:db8:18::77]:50001", f"[{VIP6}]:8083", "198.18.0.15:8083"]]
                checks.report("sync_installs_ipv6",
                              sent.returncode == 0 and sorted([r[0]] + r[2:] for r in rows) == want,
                              f"send: {sent.stdout.strip() or sent.stderr.strip()}; listed: {rows}")
                # The routed real server: the route on the TAP, and the health check over it.
                shown = L.in_ns("fl-dir", "ip", "-6", "route", "show", ROUTED_NET6, timeout=5).stdout.strip()
                checks.report("kernel_route_ipv6_on_tap", f"via {RS3_INT6} dev fl-int proto static" in shown,
                              f"fl-dir's ip -6 route show {ROUTED_NET6}: {shown or '(none)'}")
                routed = f"[{ROUTED_RS6}]:{ROUTED_PORT}"
                # Up first (its checks passing over the route), so that going down is the check's doing.
                up, up_detail = wait_listed([routed], port=ROUTED_PORT)
                servers[-1].finish(limit=3, terminate=True)
                ok, detail = wait_listed([], port=ROUTED_PORT)
                checks.report("health_removes_routed_ipv6", up and ok,
                              f"rs3's routed server up: {up_detail}; stopped: {detail}")
                servers[-1] = L.Background("fl-rs3", L.PY, "-c", SERVER, "rs3", str(ROUTED_PORT))
                servers[-1].start()
                ok, detail = wait_listed([routed], port=ROUTED_PORT)
                checks.report("health_restores_routed_ipv6", ok,
                              f"rs3's routed server back, its health check through the TAP's route: {detail}")
                r = run_client(f"http://[{VIP6}]:{ROUTED_PORT}/", 5)
                checks.report("http_routed_ipv6", r.get("ok") and r.get("servers") == {"rs3": 5},
                              f"5 GETs of http://[{VIP6}]:{ROUTED_PORT}/ to {routed}: {r.get('servers')} "
                              f"{r.get('errors') or ''}")
                # A reload that changes the route's destination: the old one leaves the TAP, the new one comes.
                with open(path, "w") as f:
                    f.write(CONFIG.replace(ROUTED_NET6, MOVED_NET6))
                reloaded, detail, _ = L.reload_director(director)
                old = L.in_ns("fl-dir", "ip", "-6", "route", "show", "exact", ROUTED_NET6, timeout=5).stdout.strip()
                new = L.in_ns("fl-dir", "ip", "-6", "route", "show", "exact", MOVED_NET6, timeout=5).stdout.strip()
                checks.report("reload_moves_ipv6_route",
                              reloaded and not old and f"via {RS3_INT6} dev fl-int proto static" in new,
                              f"reload: {detail}; {ROUTED_NET6}: {old or '(none)'}; {MOVED_NET6}: {new or '(none)'}")
                neighbors, _ = L.console_script("show neighbors\n")
                checks.report("neighbors_learned", RS6["rs1"] in neighbors and CLIENT6 in neighbors,
                              " | ".join(line for line in neighbors.splitlines() if ":" in line)[:300])
            else:
                for n in ("ping6_director", "ping6_vip", "http_nat66_rr", "download_1mb_nat66", "http_dr6",
                          "http_tun6_in_6", "http_tun6_in_4", "http_tun4_in_6", "packet_too_big_tun6", "udp_echo_nat66",
                          "health_removes_ipv6", "health_restores_ipv6", "ipv4_beside", "ipvsadm_lists_ipv6",
                          "ipvsadm_lists_ipv6_connections", "sync_sends_ipv6", "sync_installs_ipv6",
                          "kernel_route_ipv6_on_tap", "health_removes_routed_ipv6", "health_restores_routed_ipv6",
                          "http_routed_ipv6", "reload_moves_ipv6_route", "neighbors_learned"):
                    checks.report(n, False, "director not ready")
            code = director.stop()
            for s in servers:
                s.finish(limit=3, terminate=True)
            tunnelled = decap.finish(limit=3, terminate=True)
    except RuntimeError as e:
        checks.report("lab", False, str(e))
        director.stop()
        return checks.summary()
    checks.report("decap6_from_director_only", tunnelled.get("6in6", 0) > 0 and tunnelled.get("6in4", 0) > 0
                  and tunnelled.get("4in6", 0) > 0 and tunnelled.get("refused", 1) == 0, f"rs5's decapsulator: {tunnelled}")
    checks.report("sigterm_exit_0", code == 0, L.stop_outcome(code, director))
    w = director.worker_totals()
    checks.report("no_nd_invalid", bool(w) and w.get("drop_nd_invalid", 1) == 0,
                  L.show(w, "nd_advertisements", "nd_solicitations", "drop_nd_invalid", "drop_nd_not_for_us")
                  if w else "no `stats worker=N` line")
    return checks.summary()


if __name__ == "__main__":
    L.main_guard(main)
