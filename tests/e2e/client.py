#!/usr/bin/python3
"""Lab client: runs inside fl-client and talks to the VIP. Prints one JSON object on stdout.

Every request has a socket timeout and every loop a count and a deadline, so a broken director
makes it fail fast instead of hanging.

  probe                        one GET /, which real server answered
  wait --for S                 GET / until it answers, at most S seconds
  http --count N               N sequential GET / (a new TCP connection each): answers per server
  udp --count N --payload P    N datagrams, each from a new socket (so a new source port)
  download --size N            GET /bytes/N and compare with the pattern byte for byte
  upload --size N              POST /sha256 N pseudo-random bytes and compare the digest
  client-addr                  GET /client: the client address the real server saw
  conn --count N               N GET /conn (a new connection each): per answer, the real server, the
                               client address it saw and the local address the connection was made to
  hold --count N --seconds S   N connections, one after another, each GET /hold and kept open: prints a
                               first JSON line once all are open (who answered each, as conn), then
                               holds them until S seconds have passed or SIGTERM, closes them and prints
                               the final JSON line (how many the server had closed early);
                               --ports P1,P2,... binds connection i to source port Pi
  load --parallel P --seconds S  P threads of GET on new connections until SIGTERM, S seconds or
                               --requests N; --port, --pause; every request's time, server, error
  keepalive --count N          N kept-alive HTTP/1.1 connections, GET / every --interval s on each
                               until SIGTERM or --seconds; each must keep its real server

--source ADDR (before the command) binds every socket to that client address instead of letting the
kernel choose (an extra address of fl-client's cli-eth).
"""

import argparse
import hashlib
import http.client
import json
import random
import signal
import socket
import sys
import time

VIP = "198.18.0.100"
HTTP_PORT = 80
UDP_PORT = 5353
PATTERN_PERIOD = 251
CHUNK = 64 * 1024
SOURCE = None  # --source: the local address every socket binds to (None: the kernel's choice)


def http_connection(timeout):
    return http.client.HTTPConnection(VIP, HTTP_PORT, timeout=timeout,
                                      source_address=(SOURCE, 0) if SOURCE else None)


def pattern(offset, length):
    return bytes((offset + i) % PATTERN_PERIOD for i in range(length))


def get(path, timeout):
    """One GET on a new connection: (status, headers, body)."""
    conn = http_connection(timeout)
    try:
        conn.request("GET", path, headers={"Connection": "close"})
        resp = conn.getresponse()
        return resp.status, resp, resp.read()
    finally:
        conn.close()


def describe(exc):
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def cmd_probe(args):
    try:
        status, _, body = get("/", args.timeout)
        return {"ok": status == 200, "status": status, "server": body.decode(errors="replace").strip()}
    except Exception as e:  # noqa: BLE001 - any failure is a "no"
        return {"ok": False, "error": describe(e)}


def cmd_wait(args):
    start = time.monotonic()
    last = None
    tries = 0
    while time.monotonic() - start < args.wait_for:
        tries += 1
        r = cmd_probe(argparse.Namespace(timeout=min(1.0, args.timeout)))
        if r["ok"]:
            r.update(elapsed=round(time.monotonic() - start, 2), tries=tries)
            return r
        last = r
        time.sleep(0.3)
    return {"ok": False, "elapsed": round(time.monotonic() - start, 2), "tries": tries, "last": last}


def cmd_http(args):
    counts, errors, failed = {}, [], 0
    start = time.monotonic()
    done = 0
    for _ in range(args.count):
        if time.monotonic() - start > args.deadline:
            errors.append(f"deadline of {args.deadline} s reached after {done} requests")
            break
        done += 1
        try:
            status, resp, body = get(args.path, args.timeout)
            server = body.decode(errors="replace").strip()
            if status != 200 or resp.getheader("X-Real-Server") != server:
                raise ValueError(f"status {status}, body {body[:40]!r}")
            counts[server] = counts.get(server, 0) + 1
        except Exception as e:  # noqa: BLE001
            failed += 1
            if len(errors) < 5:
                errors.append(describe(e))
            if failed >= args.max_failures:
                errors.append(f"stopped after {failed} failures")
                break
    ok = sum(counts.values())
    return {"ok": ok == args.count, "requested": args.count, "answered": ok, "failed": failed,
            "counts": dict(sorted(counts.items())), "errors": errors,
            "elapsed": round(time.monotonic() - start, 2)}


def cmd_udp(args):
    replies = []
    ok = True
    for i in range(args.count):
        payload = f"{args.payload}-{i}".encode()
        r = {"sent": payload.decode()}
        for attempt in range(args.tries):
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.settimeout(args.timeout)
                s.bind((SOURCE or "0.0.0.0", 0))
                s.sendto(payload, (VIP, UDP_PORT))
                try:
                    data, peer = s.recvfrom(65535)
                except OSError as e:
                    r["error"] = describe(e)
                    continue
            server, sep, echoed = data.partition(b":")
            r = {"sent": payload.decode(), "from": f"{peer[0]}:{peer[1]}",
                 "server": server.decode(errors="replace"), "reply": data.decode(errors="replace"),
                 "attempts": attempt + 1,
                 "ok": bool(sep) and server.startswith(b"rs") and echoed == payload
                 and peer == (VIP, UDP_PORT)}
            break
        r.setdefault("ok", False)
        ok = ok and r["ok"]
        replies.append(r)
    return {"ok": ok, "replies": replies}


def cmd_download(args):
    start = time.monotonic()
    conn = http_connection(args.timeout)
    try:
        path = f"/bytes/{args.size}" + (f"?rate={args.rate}" if args.rate else "")
        conn.request("GET", path, headers={"Connection": "close"})
        resp = conn.getresponse()
        server = resp.getheader("X-Real-Server")
        if resp.status != 200:
            return {"ok": False, "status": resp.status, "server": server}
        got = 0
        while True:
            if time.monotonic() - start > args.deadline:
                return {"ok": False, "error": f"deadline of {args.deadline} s", "received": got,
                        "server": server}
            chunk = resp.read(CHUNK)
            if not chunk:
                break
            want = pattern(got, len(chunk))
            if chunk != want:
                first = next(i for i, (a, b) in enumerate(zip(chunk, want)) if a != b)
                return {"ok": False, "error": "pattern mismatch", "offset": got + first, "server": server}
            got += len(chunk)
        return {"ok": got == args.size, "received": got, "expected": args.size, "server": server,
                "elapsed": round(time.monotonic() - start, 2)}
    except Exception as e:  # noqa: BLE001
        return {"ok": False, "error": describe(e)}
    finally:
        conn.close()


def cmd_upload(args):
    start = time.monotonic()
    body = random.Random(args.seed).randbytes(args.size)
    want = hashlib.sha256(body).hexdigest()
    conn = http_connection(args.timeout)
    try:
        conn.request("POST", "/sha256", body=body,
                     headers={"Connection": "close", "Content-Type": "application/octet-stream"})
        resp = conn.getresponse()
        got = resp.read().decode(errors="replace").strip()
        return {"ok": resp.status == 200 and got == want, "status": resp.status, "sha256": got,
                "expected": want, "server": resp.getheader("X-Real-Server"),
                "elapsed": round(time.monotonic() - start, 2)}
    except Exception as e:  # noqa: BLE001
        return {"ok": False, "error": describe(e)}
    finally:
        conn.close()


def cmd_client_addr(args):
    try:
        status, _, body = get("/client", args.timeout)
        server, _, seen = body.decode(errors="replace").strip().partition(" ")
        return {"ok": status == 200, "server": server, "seen": seen}
    except Exception as e:  # noqa: BLE001
        return {"ok": False, "error": describe(e)}


def cmd_conn(args):
    answers, errors = [], []
    for _ in range(args.count):
        try:
            status, resp, body = get("/conn", args.timeout)
            fields = body.decode(errors="replace").split()
            if status != 200 or len(fields) != 3 or resp.getheader("X-Real-Server") != fields[0]:
                raise ValueError(f"status {status}, body {body[:60]!r}")
            answers.append({"server": fields[0], "peer": fields[1], "local": fields[2]})
        except Exception as e:  # noqa: BLE001
            errors.append(describe(e))
            if len(errors) >= 3:
                break
    return {"ok": len(answers) == args.count, "answers": answers, "errors": errors}


def _read_hold_answer(sock, deadline):
    """Reads one /hold answer (headers and Content-Length body) without closing: the body."""
    data = b""
    while b"\r\n\r\n" not in data:
        if time.monotonic() > deadline or len(data) > 8192:
            raise TimeoutError("no complete answer header")
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError(f"closed before the answer ended: {data[:60]!r}")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode(errors="replace").split("\r\n")
    status = lines[0].split()
    headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines[1:])}
    if len(status) < 2 or status[1] != "200":
        raise ValueError(f"status line {lines[0]!r}")
    length = int(headers.get("content-length", "-1"))
    while len(body) < length:
        if time.monotonic() > deadline:
            raise TimeoutError("answer body incomplete")
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("closed inside the answer body")
        body += chunk
    return body.decode(errors="replace"), headers.get("x-real-server")


def cmd_hold(args):
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(True))
    start = time.monotonic()
    socks, answers, errors = [], [], []
    # The real server holds a little longer than we do, so that the client closes first.
    server_seconds = min(600, args.seconds + 5)
    ports = [int(p) for p in args.ports.split(",")] if args.ports else []
    if ports and len(ports) < args.count:
        return {"ok": False, "error": f"--ports names {len(ports)} ports for {args.count} connections"}
    for _ in range(args.count):
        if stop or time.monotonic() - start > args.open_deadline:
            errors.append(f"stopped opening after {len(answers)} connections")
            break
        sock = None
        port = ports[len(answers) + len(errors)] if ports else 0
        try:
            sock = socket.create_connection((VIP, HTTP_PORT), timeout=args.timeout,
                                            source_address=(SOURCE or "", port) if SOURCE or port else None)
            sock.sendall(f"GET /hold?seconds={server_seconds:g} HTTP/1.1\r\nHost: {VIP}\r\n\r\n".encode())
            body, server = _read_hold_answer(sock, time.monotonic() + args.timeout)
            fields = body.split()
            if len(fields) != 3 or fields[0] != server:
                raise ValueError(f"body {body[:60]!r}, X-Real-Server {server!r}")
            answers.append({"server": fields[0], "peer": fields[1], "local": fields[2]})
            socks.append(sock)
        except Exception as e:  # noqa: BLE001
            if sock is not None:
                sock.close()
            errors.append(describe(e))
            if len(errors) >= 3:
                break
    counts = {}
    for a in answers:
        counts[a["server"]] = counts.get(a["server"], 0) + 1
    opened = {"ready": True, "ok": len(answers) == args.count, "opened": len(answers), "requested": args.count,
              "answers": answers, "counts": dict(sorted(counts.items())), "errors": errors,
              "elapsed": round(time.monotonic() - start, 2)}
    sys.stdout.write(json.dumps(opened) + "\n")
    sys.stdout.flush()
    while not stop and time.monotonic() - start < args.seconds:
        time.sleep(0.05)
    # Which connections the real server (or anything on the way) had closed before we did.
    closed_early = 0
    for sock in socks:
        try:
            sock.setblocking(False)
            if sock.recv(1, socket.MSG_PEEK) == b"":
                closed_early += 1
        except BlockingIOError:
            pass  # open and idle, as it should be
        except OSError:
            closed_early += 1
        finally:
            sock.close()
    return {"ok": opened["ok"] and closed_early == 0, "held": len(socks), "closed_early": closed_early,
            "counts": opened["counts"], "signalled": bool(stop), "elapsed": round(time.monotonic() - start, 2)}


# ---- Added for tests/e2e/test_control.py: load and keepalive (new commands only) ----

def _one_request(port, path, timeout):
    """One GET on a new connection to VIP:port: (server, local source port); raises on any failure."""
    conn = http.client.HTTPConnection(VIP, port, timeout=timeout, source_address=(SOURCE, 0) if SOURCE else None)
    sport = 0
    try:
        conn.connect()
        sport = conn.sock.getsockname()[1]
        conn.request("GET", path, headers={"Connection": "close"})
        resp = conn.getresponse()
        body = resp.read()
        server = body.decode(errors="replace").strip().split(" ")[0]
        if resp.status != 200 or resp.getheader("X-Real-Server") != server:
            raise ValueError(f"status {resp.status}, body {body[:40]!r}")
        return server, sport
    except Exception as e:  # noqa: BLE001 - the caller records it with the port
        e.sport = sport
        raise
    finally:
        conn.close()


def cmd_load(args):
    """Load in the background: `parallel` threads, each sending GET on a new connection after another
    until SIGTERM, --seconds, or --requests in all. First line {"ready": true}; the last line has every
    request as [start (time.monotonic(), shared by every process of the machine), duration, server or
    null, error or null, source port]."""
    import threading
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    start = time.monotonic()
    deadline = start + args.seconds
    lock = threading.Lock()
    records = []
    issued = [0]

    def worker():
        while not stop.is_set() and time.monotonic() < deadline:
            with lock:
                if args.requests and issued[0] >= args.requests:
                    return
                issued[0] += 1
            t = time.monotonic()
            try:
                server, sport = _one_request(args.port, args.path, args.timeout)
                rec = [round(t, 4), round(time.monotonic() - t, 4), server, None, sport]
            except Exception as e:  # noqa: BLE001
                rec = [round(t, 4), round(time.monotonic() - t, 4), None, describe(e), getattr(e, "sport", 0)]
            with lock:
                records.append(rec)
            if args.pause > 0:
                stop.wait(args.pause)

    sys.stdout.write(json.dumps({"ready": True, "t0": round(start, 4)}) + "\n")
    sys.stdout.flush()
    threads = [threading.Thread(target=worker, daemon=True) for _ in range(max(1, args.parallel))]
    for th in threads:
        th.start()
    while any(th.is_alive() for th in threads) and not stop.is_set() and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    for th in threads:
        th.join(args.timeout + 2)
    with lock:
        records.sort()
        counts, errors = {}, []
        for rec in records:
            if rec[2] is not None:
                counts[rec[2]] = counts.get(rec[2], 0) + 1
            elif len(errors) < 20:
                errors.append(rec)
        answered = sum(counts.values())
        failed = len(records) - answered
        want = args.requests if args.requests else 1
        return {"ok": failed == 0 and answered >= want, "requests": len(records), "answered": answered,
                "failed": failed, "counts": dict(sorted(counts.items())), "errors": errors,
                "max_duration": max((r[1] for r in records), default=0.0),
                "t0": round(start, 4), "t1": round(time.monotonic(), 4), "records": records}


def cmd_keepalive(args):
    """`count` HTTP/1.1 connections kept alive, each asking GET / every `interval` s on the same
    connection until SIGTERM or --seconds. First line: who answered each (as conn); last line: per
    connection, requests answered and the first failure (a connection is not reopened)."""
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(True))
    start = time.monotonic()
    conns = []
    for _ in range(args.count):
        c = {"conn": http.client.HTTPConnection(VIP, args.port, timeout=args.timeout,
                                                source_address=(SOURCE, 0) if SOURCE else None),
             "server": None, "peer": None, "local": None, "requests": 0, "failed": 0, "error": None}
        try:
            c["conn"].request("GET", "/conn")
            resp = c["conn"].getresponse()
            fields = resp.read().decode(errors="replace").split()
            if resp.status != 200 or len(fields) != 3:
                raise ValueError(f"status {resp.status}, body {fields}")
            c["server"], c["peer"], c["local"] = fields
            c["requests"] = 1
        except Exception as e:  # noqa: BLE001
            c["failed"], c["error"] = 1, describe(e)
        conns.append(c)
    view = [{k: c[k] for k in ("server", "peer", "local", "error")} for c in conns]
    sys.stdout.write(json.dumps({"ready": True, "ok": all(c["server"] for c in conns), "answers": view}) + "\n")
    sys.stdout.flush()
    while not stop and time.monotonic() - start < args.seconds:
        for c in conns:
            if c["failed"] or stop:
                continue
            try:
                c["conn"].request("GET", "/")
                resp = c["conn"].getresponse()
                body = resp.read().decode(errors="replace").strip()
                if resp.status != 200 or body != c["server"]:
                    raise ValueError(f"status {resp.status}, body {body[:40]!r} (want {c['server']})")
                c["requests"] += 1
            except Exception as e:  # noqa: BLE001
                c["failed"], c["error"] = 1, f"after {c['requests']} requests, at {time.monotonic() - start:.2f} s: " \
                                             f"{describe(e)}"
        time.sleep(args.interval)
    for c in conns:
        c["conn"].close()
    out = [{k: c[k] for k in ("server", "peer", "requests", "failed", "error")} for c in conns]
    return {"ok": all(c["failed"] == 0 and c["server"] for c in conns), "connections": out,
            "signalled": bool(stop), "elapsed": round(time.monotonic() - start, 2)}


def _add_control_commands(sub):
    p = sub.add_parser("load")
    p.add_argument("--port", type=int, default=HTTP_PORT)
    p.add_argument("--path", default="/")
    p.add_argument("--parallel", type=int, default=2)
    p.add_argument("--seconds", type=float, default=120.0, help="stop after this long (SIGTERM ends sooner)")
    p.add_argument("--requests", type=int, default=0, help="stop after this many requests in all (0: no limit)")
    p.add_argument("--pause", type=float, default=0.0, help="seconds each thread waits between requests")
    p = sub.add_parser("keepalive")
    p.add_argument("--port", type=int, default=HTTP_PORT)
    p.add_argument("--count", type=int, default=1)
    p.add_argument("--interval", type=float, default=0.2)
    p.add_argument("--seconds", type=float, default=120.0, help="stop after this long (SIGTERM ends sooner)")
    return {"load": cmd_load, "keepalive": cmd_keepalive}



def main():
    global SOURCE, VIP
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vip", default=VIP, help="the virtual address to reach (default %(default)s)")
    ap.add_argument("--timeout", type=float, default=3.0, help="per request, seconds")
    ap.add_argument("--source", help="bind every socket to this local address")
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("probe")
    p = sub.add_parser("wait")
    p.add_argument("--for", dest="wait_for", type=float, default=30.0)
    p = sub.add_parser("http")
    p.add_argument("--count", type=int, default=1)
    p.add_argument("--path", default="/")
    p.add_argument("--deadline", type=float, default=60.0)
    p.add_argument("--max-failures", type=int, default=5)
    p = sub.add_parser("udp")
    p.add_argument("--count", type=int, default=1)
    p.add_argument("--payload", default="hello")
    p.add_argument("--tries", type=int, default=2)
    p = sub.add_parser("download")
    p.add_argument("--size", type=int, default=1 << 20)
    p.add_argument("--deadline", type=float, default=20.0)
    p.add_argument("--rate", type=int, default=0, help="ask the real server for this many bytes a second (0: as fast as it goes)")
    p = sub.add_parser("upload")
    p.add_argument("--size", type=int, default=1 << 20)
    p.add_argument("--seed", type=int, default=1)
    sub.add_parser("client-addr")
    p = sub.add_parser("conn")
    p.add_argument("--count", type=int, default=1)
    p = sub.add_parser("hold")
    p.add_argument("--count", type=int, default=1)
    p.add_argument("--seconds", type=float, default=30.0, help="hold at most this long (SIGTERM ends sooner)")
    p.add_argument("--open-deadline", type=float, default=30.0, help="stop opening new connections after this")
    p.add_argument("--ports", help="comma-separated source ports, one per connection (default: the kernel's)")
    control_handlers = _add_control_commands(sub)
    args = ap.parse_args()
    SOURCE = args.source
    VIP = args.vip
    handlers = {"probe": cmd_probe, "wait": cmd_wait, "http": cmd_http, "udp": cmd_udp,
                "download": cmd_download, "upload": cmd_upload, "client-addr": cmd_client_addr,
                "conn": cmd_conn, "hold": cmd_hold}
    handlers.update(control_handlers)
    result = handlers[args.cmd](args)
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    return 0 if result.get("ok") else 1


if __name__ == "__main__":
    sys.exit(main())
