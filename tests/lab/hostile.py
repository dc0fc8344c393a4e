#!/usr/bin/python3
"""Malformed and spoofed frames at the director, for the soak test (tests/e2e/test_soak.py).

Runs in fl-client and writes frames straight onto cli-eth with an AF_PACKET socket (the client's
kernel never sees them), addressed to the director's MAC: at most --rate a second, for --seconds
or --count frames, whichever ends first, cycling through the kinds below with random ports and
lengths (seeded, so a run can be repeated). Prints {"ready": true} once its socket is open, then
one JSON line at the end: {"ok", "sent": {kind: count}, "seconds"}.

  truncated       a SYN to the VIP cut anywhere inside its headers
  bad_ihl         an IPv4 header length of 16 or 60 bytes that the frame does not hold
  bad_length      a total length beyond the frame, or shorter than the header
  bad_checksum    a wrong IPv4 header checksum
  bad_l4          a TCP data offset beyond the segment, a UDP length beyond the datagram
  forged_icmp     ICMP errors quoting VIP:80 -> the client (random ports), to the VIP, to the
                  director and with a wrong checksum; fragmentation-needed with MTU 68
  fragment        UDP fragments to the VIP (first, middle and last)
  odd_flags       SYN+FIN, SYN+RST, no flags, FIN+PSH+URG to VIP:80
  spoofed_source  SYN and UDP to the VIP from the director's addresses, the VIP, 127.0.0.1,
                  0.0.0.0, 224.0.0.1, 255.255.255.255 and 198.18.0.255
  spoofed_reply   "replies" from a real server's address and port (RST, ACK) on the client side
"""
import argparse
import json
import os
import random
import socket
import struct
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from frames import ether, icmp, mac, tcp, udp  # noqa: E402

CLIENT = "198.18.0.2"
VIP = "198.18.0.100"
DIRECTOR = ("198.18.0.1", "198.19.0.1")
REAL_SERVERS = ("198.19.0.11", "198.19.0.12", "198.19.0.13")
SPOOFED = DIRECTOR + (VIP, "127.0.0.1", "0.0.0.0", "224.0.0.1", "255.255.255.255", "198.18.0.255")
SYN, FIN, RST, PSH, ACK, URG = 0x02, 0x01, 0x04, 0x08, 0x10, 0x20


def with_ip_header(packet, **fields):
    """packet with IPv4 header fields replaced (ihl, total_length, checksum) and no fix-up."""
    b = bytearray(packet)
    if "ihl" in fields:
        b[0] = 0x40 | fields["ihl"]
    if "total_length" in fields:
        b[2:4] = struct.pack("!H", fields["total_length"])
    if "checksum" in fields:
        b[10:12] = struct.pack("!H", fields["checksum"])
    return bytes(b)


def kinds(rng):
    port = lambda: rng.randrange(1024, 65536)
    syn = lambda: tcp(CLIENT, port(), VIP, 80, SYN)
    quote = lambda: tcp(VIP, 80, CLIENT, port(), SYN | ACK)[:28]
    return {
        "truncated": lambda: syn()[:rng.randrange(0, 40)],
        "bad_ihl": lambda: with_ip_header(syn(), ihl=rng.choice((4, 15))),
        "bad_length": lambda: with_ip_header(syn(), total_length=rng.choice((10, 19, 41, 1500))),
        "bad_checksum": lambda: with_ip_header(syn(), checksum=rng.randrange(1, 65536)),
        "bad_l4": lambda: rng.choice((
            syn()[:32] + bytes([0xF0]) + syn()[33:],
            udp(CLIENT, port(), VIP, 5353, b"x")[:24] + struct.pack("!H", 300) + udp(CLIENT, port(), VIP, 5353, b"x")[26:])),
        "forged_icmp": lambda: rng.choice((
            icmp("198.18.0.77", VIP, 3, 1, 0, quote()),
            icmp("198.18.0.77", DIRECTOR[0], 3, 3, 0, quote()),
            icmp("198.18.0.77", VIP, 3, 4, 68, quote()),
            icmp("198.18.0.77", VIP, 11, 0, 0, quote())[:-1] + b"\x00")),
        "fragment": lambda: udp(CLIENT, port(), VIP, 5353, b"f" * 64, flags=rng.choice((0x2000, 0x2010, 0x0010))),
        "odd_flags": lambda: tcp(CLIENT, port(), VIP, 80, rng.choice((SYN | FIN, SYN | RST, 0, FIN | PSH | URG))),
        "spoofed_source": lambda: rng.choice((tcp(rng.choice(SPOOFED), port(), VIP, 80, SYN),
                                              udp(rng.choice(SPOOFED), port(), VIP, 5353, b"spoof"))),
        "spoofed_reply": lambda: tcp(rng.choice(REAL_SERVERS), 80, CLIENT, port(), rng.choice((RST, ACK))),
    }


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--iface", default="cli-eth")
    p.add_argument("--dst-mac", required=True, help="the director's MAC on that link")
    p.add_argument("--rate", type=float, default=500.0, help="frames a second")
    p.add_argument("--seconds", type=float, default=30.0)
    p.add_argument("--count", type=int, default=1_000_000)
    p.add_argument("--seed", type=int, default=11)
    p.add_argument("--kinds", help="comma-separated: only these kinds")
    args = p.parse_args()
    rng = random.Random(args.seed)
    makers = kinds(rng)
    names = sorted(args.kinds.split(",")) if args.kinds else sorted(makers)
    unknown = set(names) - set(makers)
    if unknown:
        p.error(f"unknown kinds: {', '.join(sorted(unknown))}")
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    sock.bind((args.iface, 0))
    src_mac = sock.getsockname()[4]
    dst_mac = mac(args.dst_mac)
    sent = {name: 0 for name in names}
    total = 0
    print(json.dumps({"ready": True}), flush=True)
    start = time.monotonic()
    interval = 1.0 / args.rate
    while total < args.count and time.monotonic() - start < args.seconds:
        name = names[total % len(names)]
        frame = ether(dst_mac, src_mac, makers[name]())
        try:
            sock.send(frame.ljust(60, b"\0"))
            sent[name] += 1
        except OSError:
            pass  # a full socket buffer: the frame is simply not sent (and not counted)
        total += 1
        delay = start + total * interval - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    print(json.dumps({"ok": True, "sent": sent, "seconds": round(time.monotonic() - start, 2)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
