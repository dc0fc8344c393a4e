#!/usr/bin/python3
"""Packet helpers for the end-to-end tests (ICMP errors, path MTU, IPIP headers), run inside the
lab's namespaces (python3 stdlib, root).
Each command prints JSON lines on stdout: a sniffer first prints {"ready": true} once its socket is
open, then, like every command, one object with "ok" last.

  udp-probe --dst IP --port P [--size N] [--df do|dont] [--tos T] [--ttl T] [--marker M] [--wait S]
            [--expect reply,error]
      A connected UDP socket with IP_RECVERR sends one datagram (M padded to N bytes; DF set with
      "do", cleared with "dont"; TOS and TTL as given) and waits up to S seconds for what --expect
      names: the answer, and/or an ICMP error the kernel matched to this socket (its errno, type,
      code, info = the MTU of a fragmentation-needed, and the offender = the ICMP's source). Reports
      the socket's IP_MTU too.

  frag-needed --iface DEV --port P --marker M --mtu N [--tunnel] [--wait S]
      On a real server: waits for the client's UDP datagram to port P carrying M as it arrives on
      DEV (with --tunnel: inside an IPIP packet) and answers its source (the client; with --tunnel,
      the director, the outer source) with ICMP fragmentation-needed, next-hop MTU N, quoting the IP
      header and 8 bytes (with --tunnel: the outer header, the inner header and 8 bytes), as a
      router with a smaller MTU on the way would.

  udp-then-unreach --dst IP --port P [--marker M] [--wait S]
      On the client: sends one datagram from a new socket, takes the answer, closes the socket and
      sends the answer's source (the VIP) ICMP port-unreachable quoting the answer (VIP:P -> the
      client's port), as the kernel does for a datagram to a closed port.

  expect-icmp --iface DEV --type T --code C [--tunnel] [--wait S]
      On a real server: waits for an ICMP error of that type and code arriving on DEV (with --tunnel:
      inside an IPIP packet, whose outer addresses are reported as "outer") and reports its
      addresses and the addresses and ports of the packet it quotes.

  expect-ipip --iface DEV --port P --marker M [--wait S]
      On a TUN real server: waits for an IPIP packet carrying the client's UDP datagram to port P
      with M and reports both headers: addresses, TTL, TOS, DF, protocol, checksum.

read_pcap_icmp(path) (for the tests, not a command) lists the ICMP errors in a tcpdump capture.
"""

import argparse
import json
import os
import select
import socket
import struct
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lab"))
from frames import checksum  # noqa: E402

# Linux values that Python 3.11's socket module does not name.
IP_MTU_DISCOVER = 10
IP_RECVERR = 11
IP_MTU = 14
IP_PMTUDISC_DONT = 0
IP_PMTUDISC_DO = 2
MSG_ERRQUEUE = 0x2000
SO_EE_ORIGIN_ICMP = 2
ETH_P_IP = 0x0800
PACKET_OUTGOING = 4
ICMP_DEST_UNREACH = 3
ICMP_PORT_UNREACH = 3
ICMP_FRAG_NEEDED = 4


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def ip4(b):
    return socket.inet_ntoa(bytes(b))


def parse_ipv4(pkt):
    """(header length, protocol, src, dst) of an IPv4 header, or None."""
    if len(pkt) < 20 or pkt[0] >> 4 != 4:
        return None
    ihl = (pkt[0] & 0x0F) * 4
    if ihl < 20 or len(pkt) < ihl:
        return None
    return ihl, pkt[9], ip4(pkt[12:16]), ip4(pkt[16:20])


def describe_quote(quote):
    """The quoted packet of an ICMP error: addresses, protocol, ports, header checksum check."""
    q = parse_ipv4(quote)
    if q is None:
        return {"quote": "not an IPv4 header"}
    ihl, proto, src, dst = q
    d = {"quoted_src": src, "quoted_dst": dst, "quoted_proto": proto, "quoted_bytes": len(quote),
         "quoted_ip_checksum_ok": checksum(bytes(quote[:ihl])) == 0}
    if len(quote) >= ihl + 4 and proto in (6, 17):
        d["quoted_sport"], d["quoted_dport"] = struct.unpack_from("!HH", quote, ihl)
    return d


def describe_icmp_packet(ip):
    """An IPv4 packet holding an ICMP error: outer addresses, type, code, MTU, checksum, quote."""
    h = parse_ipv4(ip)
    if h is None or h[1] != 1:
        return None
    ihl, _, src, dst = h
    total = min(struct.unpack_from("!H", ip, 2)[0], len(ip))
    icmp = bytes(ip[ihl:total])
    if len(icmp) < 8:
        return None
    d = {"src": src, "dst": dst, "type": icmp[0], "code": icmp[1],
         "mtu": struct.unpack_from("!H", icmp, 6)[0], "icmp_checksum_ok": checksum(icmp) == 0,
         "ip_checksum_ok": checksum(bytes(ip[:ihl])) == 0}
    d.update(describe_quote(icmp[8:]))
    return d


def read_pcap_icmp(path):
    """ICMP errors (type 3, 11, 4) in a classic pcap file of Ethernet frames, in capture order."""
    found = []
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        return found
    magic = data[:4]
    endian = {b"\xd4\xc3\xb2\xa1": "<", b"\xa1\xb2\xc3\xd4": ">",
              b"\x4d\x3c\xb2\xa1": "<", b"\xa1\xb2\x3c\x4d": ">"}.get(magic)
    if endian is None or struct.unpack_from(endian + "I", data, 20)[0] != 1:
        return found  # not pcap, or not Ethernet
    off = 24
    while off + 16 <= len(data):
        caplen = struct.unpack_from(endian + "I", data, off + 8)[0]
        frame = data[off + 16:off + 16 + caplen]
        off += 16 + caplen
        if len(frame) < 34 or frame[12:14] != b"\x08\x00":
            continue
        d = describe_icmp_packet(frame[14:])
        if d is not None and d["type"] in (3, 4, 11):
            found.append(d)
    return found


def icmp_error(kind, code, rest_of_header, quote):
    msg = struct.pack("!BBHI", kind, code, 0, rest_of_header) + bytes(quote)
    return msg[:2] + struct.pack("!H", checksum(msg)) + msg[4:]


def send_icmp(dst, msg):
    with socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP) as s:
        s.sendto(msg, (dst, 0))


def sniffer(iface, wait):
    """An AF_PACKET socket on one interface for IPv4, and a deadline; prints {"ready": true}."""
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_IP))
    s.bind((iface, ETH_P_IP))
    emit({"ready": True, "iface": iface})
    return s, time.monotonic() + wait


def frames(s, deadline):
    """Incoming IPv4 packets (Ethernet header removed) until the deadline."""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return
        r, _, _ = select.select([s], [], [], left)
        if not r:
            continue
        frame, addr = s.recvfrom(65535)
        if addr[2] == PACKET_OUTGOING:
            continue
        yield frame[14:]


# -- commands ----------------------------------------------------------------------------------------

def cmd_udp_probe(a):
    expect = set(a.expect.split(",")) if a.expect else set()
    payload = a.marker.encode()
    payload += b"." * max(0, a.size - len(payload))
    out = {"sent_bytes": len(payload), "df": a.df}
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IP, IP_RECVERR, 1)
    s.setsockopt(socket.IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_DO if a.df == "do" else IP_PMTUDISC_DONT)
    if a.tos is not None:
        s.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, a.tos)
    if a.ttl is not None:
        s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, a.ttl)
    s.connect((a.dst, a.port))
    out["local"] = "%s:%d" % s.getsockname()
    try:
        s.send(payload)
    except OSError as e:
        out["send_error"] = e.strerror
    errors, got = [], set()
    deadline = time.monotonic() + a.wait
    p = select.poll()
    p.register(s, select.POLLIN | select.POLLERR)
    while time.monotonic() < deadline and not expect <= got:
        if not p.poll(max(1, int((deadline - time.monotonic()) * 1000))):
            continue
        try:
            data, anc, _flags, _addr = s.recvmsg(2048, 1024, MSG_ERRQUEUE | socket.MSG_DONTWAIT)
        except OSError:  # the error queue is empty: what woke us up is an answer
            data, anc = None, []
        for level, kind, value in anc:
            if level == socket.IPPROTO_IP and kind == IP_RECVERR and len(value) >= 16:
                ee_errno, origin, etype, ecode, _pad, info, _data = struct.unpack_from("=IBBBBII", value)
                err = {"errno": ee_errno, "error": os.strerror(ee_errno),
                       "origin": "icmp" if origin == SO_EE_ORIGIN_ICMP else origin,
                       "type": etype, "code": ecode, "info": info}
                if len(value) >= 24 and struct.unpack_from("=H", value, 16)[0] == socket.AF_INET:
                    err["offender"] = ip4(value[20:24])
                errors.append(err)
                got.add("error")
        if data is not None:
            continue
        try:
            reply = s.recv(65535, socket.MSG_DONTWAIT)
            out["reply"] = reply[:64].decode(errors="replace")
            out["reply_bytes"] = len(reply)
            out["reply_intact"] = reply.endswith(payload)
            got.add("reply")
        except BlockingIOError:
            pass
        except OSError as e:
            out.setdefault("recv_errors", []).append(e.strerror)  # the pending error, reported once
    out["errors"] = errors
    try:
        out["ip_mtu"] = s.getsockopt(socket.IPPROTO_IP, IP_MTU)
    except OSError:
        out["ip_mtu"] = None
    s.close()
    out["ok"] = expect <= got
    return out


def cmd_frag_needed(a):
    s, deadline = sniffer(a.iface, a.wait)
    marker = a.marker.encode()
    for ip in frames(s, deadline):
        h = parse_ipv4(ip)
        if h is None:
            continue
        ihl, proto, src, dst = h
        if a.tunnel:
            if proto != 4:
                continue
            inner = ip[ihl:]
            hi = parse_ipv4(inner)
            if hi is None or hi[1] != 17 or marker not in inner:
                continue
            if struct.unpack_from("!H", inner, hi[0] + 2)[0] != a.port:
                continue
            quote = ip[:ihl] + inner[:hi[0] + 8]
            seen = {"outer": f"{src} -> {dst}", "inner": "%s:%d -> %s:%d" % (
                hi[2], struct.unpack_from("!H", inner, hi[0])[0], hi[3], a.port)}
        else:
            if proto != 17 or marker not in ip:
                continue
            sport, dport = struct.unpack_from("!HH", ip, ihl)
            if dport != a.port:
                continue
            quote = ip[:ihl + 8]
            seen = {"packet": f"{src}:{sport} -> {dst}:{dport}"}
        send_icmp(src, icmp_error(ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, a.mtu, quote))
        s.close()
        return {"ok": True, "seen": seen, "icmp_to": src, "mtu": a.mtu, "quoted_bytes": len(quote)}
    s.close()
    return {"ok": False, "error": f"no UDP datagram to port {a.port} with {a.marker!r} on {a.iface} "
                                  f"within {a.wait} s"}


def cmd_udp_then_unreach(a):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(a.wait)
    s.connect((a.dst, a.port))
    client_ip, client_port = s.getsockname()
    try:
        s.send(a.marker.encode())
        reply = s.recv(65535)
    except OSError as e:
        return {"ok": False, "error": f"no answer from {a.dst}:{a.port}: {e}"}
    finally:
        s.close()
    # The answer as it arrived: VIP:port -> client:client_port (the header's id and TTL do not
    # matter to whoever matches the quote).
    udp_len = 8 + len(reply)
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + udp_len, 0, 0, 63, 17, 0,
                      socket.inet_aton(a.dst), socket.inet_aton(client_ip))
    hdr = hdr[:10] + struct.pack("!H", checksum(hdr)) + hdr[12:]
    quote = hdr + struct.pack("!HHHH", a.port, client_port, udp_len, 0)
    send_icmp(a.dst, icmp_error(ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, 0, quote))
    return {"ok": True, "reply": reply[:64].decode(errors="replace"), "client": f"{client_ip}:{client_port}",
            "icmp_to": a.dst, "quoted": f"{a.dst}:{a.port} -> {client_ip}:{client_port}"}


def cmd_expect_icmp(a):
    s, deadline = sniffer(a.iface, a.wait)
    for ip in frames(s, deadline):
        outer = None
        if a.tunnel:
            h = parse_ipv4(ip)
            if h is None or h[1] != 4:
                continue
            outer, ip = f"{h[2]} -> {h[3]}", ip[h[0]:]
        d = describe_icmp_packet(ip)
        if d is not None and d["type"] == a.type and d["code"] == a.code:
            s.close()
            if outer:
                d["outer"] = outer
            d["ok"] = True
            return d
    s.close()
    return {"ok": False, "error": f"no ICMP type {a.type} code {a.code} on {a.iface} within {a.wait} s"}


def header_fields(ip):
    h = parse_ipv4(ip)
    ihl, proto, src, dst = h
    return {"src": src, "dst": dst, "proto": proto, "ttl": ip[8], "tos": ip[1],
            "df": bool(ip[6] & 0x40), "length": struct.unpack_from("!H", ip, 2)[0],
            "checksum_ok": checksum(bytes(ip[:ihl])) == 0}


def cmd_expect_ipip(a):
    s, deadline = sniffer(a.iface, a.wait)
    marker = a.marker.encode()
    for ip in frames(s, deadline):
        h = parse_ipv4(ip)
        if h is None or h[1] != 4:
            continue
        inner = ip[h[0]:]
        hi = parse_ipv4(inner)
        if hi is None or hi[1] != 17 or marker not in inner:
            continue
        if struct.unpack_from("!H", inner, hi[0] + 2)[0] != a.port:
            continue
        s.close()
        return {"ok": True, "outer": header_fields(ip), "inner": header_fields(inner)}
    s.close()
    return {"ok": False, "error": f"no IPIP packet with a UDP datagram to port {a.port} with {a.marker!r} "
                                  f"on {a.iface} within {a.wait} s"}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("udp-probe")
    p.add_argument("--dst", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--size", type=int, default=0)
    p.add_argument("--df", choices=("do", "dont"), default="do")
    p.add_argument("--marker", default="fulcrum-icmp")
    p.add_argument("--wait", type=float, default=3.0)
    p.add_argument("--expect", default="reply", help="comma-separated: reply, error")
    p.add_argument("--tos", type=lambda x: int(x, 0))
    p.add_argument("--ttl", type=int)
    p = sub.add_parser("frag-needed")
    p.add_argument("--iface", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--marker", required=True)
    p.add_argument("--mtu", type=int, required=True)
    p.add_argument("--tunnel", action="store_true")
    p.add_argument("--wait", type=float, default=10.0)
    p = sub.add_parser("udp-then-unreach")
    p.add_argument("--dst", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--marker", default="fulcrum-unreach")
    p.add_argument("--wait", type=float, default=3.0)
    p = sub.add_parser("expect-icmp")
    p.add_argument("--iface", required=True)
    p.add_argument("--type", type=int, required=True)
    p.add_argument("--code", type=int, required=True)
    p.add_argument("--tunnel", action="store_true")
    p.add_argument("--wait", type=float, default=10.0)
    p = sub.add_parser("expect-ipip")
    p.add_argument("--iface", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--marker", required=True)
    p.add_argument("--wait", type=float, default=10.0)
    a = ap.parse_args()
    handlers = {"udp-probe": cmd_udp_probe, "frag-needed": cmd_frag_needed,
                "udp-then-unreach": cmd_udp_then_unreach, "expect-icmp": cmd_expect_icmp,
                "expect-ipip": cmd_expect_ipip}
    result = handlers[a.cmd](a)
    emit(result)
    return 0 if result.get("ok") else 1


if __name__ == "__main__":
    sys.exit(main())
