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
"""

import argparse
import hashlib
import http.client
import json
import random
import socket
import sys
import time

VIP = "198.18.0.100"
HTTP_PORT = 80
UDP_PORT = 5353
PATTERN_PERIOD = 251
CHUNK = 64 * 1024


def pattern(offset, length):
    return bytes((offset + i) % PATTERN_PERIOD for i in range(length))


def get(path, timeout):
    """One GET on a new connection: (status, headers, body)."""
    conn = http.client.HTTPConnection(VIP, HTTP_PORT, timeout=timeout)
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
                s.bind(("0.0.0.0", 0))
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
    conn = http.client.HTTPConnection(VIP, HTTP_PORT, timeout=args.timeout)
    try:
        conn.request("GET", f"/bytes/{args.size}", headers={"Connection": "close"})
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
    conn = http.client.HTTPConnection(VIP, HTTP_PORT, timeout=args.timeout)
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


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--timeout", type=float, default=3.0, help="per request, seconds")
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
    p = sub.add_parser("upload")
    p.add_argument("--size", type=int, default=1 << 20)
    p.add_argument("--seed", type=int, default=1)
    sub.add_parser("client-addr")
    p = sub.add_parser("conn")
    p.add_argument("--count", type=int, default=1)
    args = ap.parse_args()
    handlers = {"probe": cmd_probe, "wait": cmd_wait, "http": cmd_http, "udp": cmd_udp,
                "download": cmd_download, "upload": cmd_upload, "client-addr": cmd_client_addr,
                "conn": cmd_conn}
    result = handlers[args.cmd](args)
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    return 0 if result.get("ok") else 1


if __name__ == "__main__":
    sys.exit(main())
