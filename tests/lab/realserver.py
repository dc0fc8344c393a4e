#!/usr/bin/python3
"""A lab real server: HTTP on one TCP port and a UDP echo on another (python3 stdlib only).

HTTP (one thread per connection):
  GET  /            -> "NAME\n"
  GET  /client      -> "NAME IP:PORT\n", the peer as this server sees it (NAT keeps the client's address)
  GET  /conn        -> "NAME PEER_IP:PORT LOCAL_IP:PORT\n": also the address the connection was made to
                       (the real server's own under NAT, the VIP under DR and TUN)
  GET  /bytes/N     -> N bytes of the lab pattern: byte i is i % 251 (?rate=B: at B bytes a second)
  POST /sha256      -> hex sha256 of the request body, then "\n"
  GET  /hold?seconds=S -> "NAME PEER_IP:PORT LOCAL_IP:PORT\n" at once (as /conn), then the connection
                       stays open, idle, for S seconds (0 < S <= 600), or until the client closes it or
                       sends anything, and the server closes it: a long-lived connection on demand
  GET  /health       -> the health answer, by default 200 "ok\n" (what a director's HTTP check asks);
                       each one is counted, with the asker's address and Host header
  GET  /set-health?status=N&body=TEXT&delay=S
                    -> changes what /health answers from now on: status N (100-599), body TEXT (a
                       line end added), after S seconds (0 <= S <= 30); keys left out take their
                       defaults (200, "ok", 0), so /set-health alone restores them. Loopback only
                       (a client through the VIP gets 403): ask from the server's own namespace
  GET  /health-state -> JSON: {"name", "status", "body", "delay", "checks" (how many /health so far),
                       "last_peer", "last_host"}; loopback only
Every answer carries "X-Real-Server: NAME".

UDP: each datagram is answered with b"NAME:" + the datagram, to the address it came from, from the
address it was sent to (IP_PKTINFO): under DR and TUN that is the VIP on lo, which a socket bound to
0.0.0.0 would not pick by itself for an answer leaving by the real server's own interface.
"""

import argparse
import datetime
import hashlib
import http.server
import os
import select
import signal
import socket
import struct
import sys
import json
import threading
import time
import urllib.parse

IP_PKTINFO = getattr(socket, "IP_PKTINFO", 8)  # Linux; Python 3.11 does not name it
PATTERN_PERIOD = 251
MAX_BYTES = 256 * 1024 * 1024
MAX_HOLD_SECONDS = 600
CHUNK = 64 * 1024
# One period-aligned block, so any chunk of the pattern is a slice of it.
_BLOCK = bytes(i % PATTERN_PERIOD for i in range(PATTERN_PERIOD * (CHUNK // PATTERN_PERIOD + 2)))


def stamp():
    return datetime.datetime.now().strftime("%H:%M:%S.%f")


class HealthState:
    """What /health answers, changed at run time by /set-health (for the director's health checks)."""

    DEFAULT = {"status": 200, "body": "ok", "delay": 0.0}

    def __init__(self):
        self.lock = threading.Lock()
        self.answer = dict(self.DEFAULT)
        self.checks = 0
        self.last_peer = None
        self.last_host = None

    def view(self, name):
        with self.lock:
            return {"name": name, **self.answer, "checks": self.checks, "last_peer": self.last_peer,
                    "last_host": self.last_host}


def pattern(offset, length):
    """Bytes [offset, offset + length) of the pattern, length <= CHUNK."""
    start = offset % PATTERN_PERIOD
    return _BLOCK[start:start + length]


class Handler(http.server.BaseHTTPRequestHandler):
    server_version = "fulcrum-lab-rs"
    protocol_version = "HTTP/1.1"
    timeout = 30  # a stalled connection frees its thread

    def _send(self, code, body, ctype="text/plain"):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Real-Server", self.server.name)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self):
        name = self.server.name
        if self.path == "/":
            return self._send(200, f"{name}\n".encode())
        if self.path == "/client":
            host, port = self.client_address[:2]
            return self._send(200, f"{name} {host}:{port}\n".encode())
        if self.path == "/conn":
            host, port = self.client_address[:2]
            local, lport = self.connection.getsockname()[:2]
            return self._send(200, f"{name} {host}:{port} {local}:{lport}\n".encode())
        if self.path.startswith("/hold?seconds="):
            return self._hold(self.path[len("/hold?seconds="):])
        if self.path == "/health" or self.path.startswith("/health?"):
            return self._health()
        if self.path == "/set-health" or self.path.startswith("/set-health?"):
            return self._set_health()
        if self.path == "/health-state":
            if not self._from_loopback():
                return self._send(403, b"loopback only\n")
            return self._send(200, (json.dumps(self.server.health.view(name)) + "\n").encode(),
                              "application/json")
        if self.path.startswith("/bytes/"):
            parts = urllib.parse.urlsplit(self.path)
            query = urllib.parse.parse_qs(parts.query)
            try:
                n = int(parts.path[len("/bytes/"):])
                rate = float(query.get("rate", ["0"])[0])
            except ValueError:
                n, rate = -1, 0
            if not 0 <= n <= MAX_BYTES or rate < 0:
                return self._send(400, f"expected /bytes/N[?rate=BYTES_PER_SECOND] with 0 <= N <= {MAX_BYTES}\n".encode())
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(n))
            self.send_header("X-Real-Server", name)
            self.end_headers()
            sent = 0
            start = time.monotonic()
            while sent < n:
                chunk = pattern(sent, min(CHUNK, n - sent))
                self.wfile.write(chunk)
                sent += len(chunk)
                if rate > 0:
                    # Paced: a transfer that lasts long enough for something to happen during it.
                    ahead = sent / rate - (time.monotonic() - start)
                    if ahead > 0:
                        time.sleep(ahead)
            return None
        return self._send(404, b"not found\n")

    def _from_loopback(self):
        return self.client_address[0].startswith("127.")

    def _health(self):
        state = self.server.health
        with state.lock:
            state.checks += 1
            state.last_peer = self.client_address[0]
            state.last_host = self.headers.get("Host")
            answer = dict(state.answer)
        if answer["delay"] > 0:
            time.sleep(answer["delay"])
        return self._send(answer["status"], (answer["body"] + "\n").encode())

    def _set_health(self):
        if not self._from_loopback():
            return self._send(403, b"loopback only\n")
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query, keep_blank_values=True)
        answer = dict(HealthState.DEFAULT)
        try:
            for key, values in query.items():
                if key == "status":
                    answer["status"] = int(values[-1])
                    if not 100 <= answer["status"] <= 599:
                        raise ValueError("status out of 100-599")
                elif key == "body":
                    answer["body"] = values[-1]
                elif key == "delay":
                    answer["delay"] = float(values[-1])
                    if not 0 <= answer["delay"] <= 30:
                        raise ValueError("delay out of 0-30")
                else:
                    raise ValueError(f"unknown key {key}")
        except ValueError as e:
            return self._send(400, f"expected /set-health?status=N&body=TEXT&delay=S: {e}\n".encode())
        state = self.server.health
        with state.lock:
            state.answer = answer
        sys.stderr.write(f"{stamp()} {self.server.name} health answer now {answer}\n")
        return self._send(200, (json.dumps(state.view(self.server.name)) + "\n").encode(), "application/json")

    def _hold(self, seconds):
        try:
            seconds = float(seconds)
        except ValueError:
            seconds = -1.0
        if not 0 < seconds <= MAX_HOLD_SECONDS:
            return self._send(400, f"expected /hold?seconds=S with 0 < S <= {MAX_HOLD_SECONDS}\n".encode())
        host, port = self.client_address[:2]
        local, lport = self.connection.getsockname()[:2]
        body = f"{self.server.name} {host}:{port} {local}:{lport}\n".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Real-Server", self.server.name)
        self.send_header("Connection", "close")  # after the hold
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.wfile.flush()
        # Idle until the time is up, or the client closes (EOF) or sends anything: then close.
        self.close_connection = True
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            readable, _, _ = select.select([self.connection], [], [], min(left, 1.0))
            if readable:
                break
        return None

    do_HEAD = do_GET

    def do_POST(self):
        if self.path != "/sha256":
            return self._send(404, b"not found\n")
        try:
            left = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self.close_connection = True
            return self._send(411, b"Content-Length required\n")
        if not 0 <= left <= MAX_BYTES:
            self.close_connection = True
            return self._send(413, b"body too large\n")
        digest = hashlib.sha256()
        while left > 0:
            chunk = self.rfile.read(min(CHUNK, left))
            if not chunk:
                self.close_connection = True
                return None  # the client went away mid-body
            digest.update(chunk)
            left -= len(chunk)
        return self._send(200, (digest.hexdigest() + "\n").encode())

    def log_message(self, fmt, *args):
        sys.stderr.write(f"{stamp()} {self.server.name} http {self.client_address[0]}:{self.client_address[1]} "
                         f"{fmt % args}\n")


class HTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


def udp_echo(name, sock):
    prefix = f"{name}:".encode()
    while True:
        local = "?"
        try:
            data, ancillary, _flags, peer = sock.recvmsg(65535, socket.CMSG_SPACE(12))
            reply_info = []
            for level, kind, value in ancillary:
                if level == socket.IPPROTO_IP and kind == IP_PKTINFO and len(value) >= 12:
                    # struct in_pktinfo { int ifindex; in_addr spec_dst; in_addr addr; }: answer
                    # from the header's destination, on whatever interface the route picks.
                    header_dst = value[8:12]
                    local = socket.inet_ntoa(header_dst)
                    reply_info = [(socket.IPPROTO_IP, IP_PKTINFO, struct.pack("i4s4s", 0, header_dst, bytes(4)))]
            sock.sendmsg([prefix + data], reply_info, 0, peer)
        except OSError as e:
            sys.stderr.write(f"{name} udp error: {e}\n")
            continue
        sys.stderr.write(f"{stamp()} {name} udp {peer[0]}:{peer[1]} -> {local} {len(data)} bytes\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--name", required=True)
    ap.add_argument("--bind", default="0.0.0.0")
    ap.add_argument("--http-port", type=int, default=80)
    ap.add_argument("--udp-port", type=int, default=5353)
    ap.add_argument("--pidfile")
    args = ap.parse_args()

    sys.stderr.reconfigure(line_buffering=True)
    httpd = HTTPServer((args.bind, args.http_port), Handler)
    httpd.name = args.name
    httpd.health = HealthState()
    usock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    usock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    usock.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
    usock.bind((args.bind, args.udp_port))
    threading.Thread(target=udp_echo, args=(args.name, usock), daemon=True).start()

    # serve_forever() is stopped from another thread; SIGTERM/SIGINT end the process cleanly.
    def stop(signum, _frame):
        sys.stderr.write(f"{args.name} stopping on signal {signum}\n")
        threading.Thread(target=httpd.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if args.pidfile:
        with open(args.pidfile + ".tmp", "w") as f:
            f.write(f"{os.getpid()}\n")
        os.replace(args.pidfile + ".tmp", args.pidfile)
    sys.stderr.write(f"{args.name} ready: http {args.bind}:{args.http_port} udp {args.bind}:{args.udp_port}\n")
    try:
        httpd.serve_forever(poll_interval=0.5)
    finally:
        httpd.server_close()
        usock.close()
        if args.pidfile:
            try:
                os.unlink(args.pidfile)
            except FileNotFoundError:
                pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
