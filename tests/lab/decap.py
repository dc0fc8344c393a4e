#!/usr/bin/python3
"""The lab's IPIP decapsulator: what `modprobe ipip` and tunl0 do for a TUN-mode real server.

This kernel has no ipip module, so a TUN real server (fl-rs5) cannot take the director's IPIP
packets by itself. This process reads them with a raw IPPROTO_IPIP socket, strips the outer IPv4
header and writes the inner packet to a TUN device, where the kernel receives it as if it had
arrived on that device: to the VIP (on lo), from the client's own address.

The raw socket matters twice: it receives every IPIP packet addressed to this host (after the kernel
has reassembled outer fragments), and while it is open the kernel no longer answers each of them
with ICMP protocol-unreachable, as it does for a protocol nobody handles.

The TUN device needs rp_filter=0 (and "all" too): the inner packet's source (the client) is routed
through another interface. tests/lab/lab.sh creates the device (persistent, up, sysctls set) and
the VIP on lo before starting this; run standalone, it creates the device and brings it up itself.

  decap.py --dev tunl-dec [--allow 198.18.0.1 ...] [--pidfile F]

--allow accepts tunnelled packets only from those outer sources (the director); others are counted
and dropped. It logs one line at start and its counters when it stops (SIGTERM/SIGINT).
"""

import argparse
import datetime
import fcntl
import ipaddress
import os
import signal
import socket
import struct
import sys

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1
IPPROTO_IPIP = 4


def stamp():
    return datetime.datetime.now().strftime("%H:%M:%S.%f")


def log(msg):
    sys.stderr.write(f"{stamp()} decap {msg}\n")


def open_tun(name):
    """Attaches to (or creates) the TUN device `name`, without packet information in front."""
    fd = os.open("/dev/net/tun", os.O_RDWR)
    try:
        fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH22x", name.encode(), IFF_TUN | IFF_NO_PI))
    except OSError:
        os.close(fd)
        raise
    return fd


def bring_up(name):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        ifr = fcntl.ioctl(s, SIOCGIFFLAGS, struct.pack("16sH22x", name.encode(), 0))
        flags = struct.unpack_from("16sH", ifr)[1]
        if not flags & IFF_UP:
            fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sH22x", name.encode(), flags | IFF_UP))


def set_sysctl(path, value):
    try:
        with open(path, "w") as f:
            f.write(value)
    except OSError as e:
        log(f"cannot write {path}: {e}")


class Counters:
    def __init__(self):
        self.packets = 0      # inner packets written to the TUN device
        self.bytes = 0        # their bytes
        self.not_allowed = 0  # outer source not in --allow
        self.malformed = 0    # outer or inner header inconsistent
        self.write_errors = 0

    def line(self):
        return (f"packets={self.packets} bytes={self.bytes} not_allowed={self.not_allowed} "
                f"malformed={self.malformed} write_errors={self.write_errors}")


def inner_packet(packet):
    """The inner IPv4 packet of an outer IPIP packet as a raw socket delivers it (outer header
    included), trimmed to the inner total length; None when either header is inconsistent."""
    if len(packet) < 20 or packet[0] >> 4 != 4:
        return None
    outer_ihl = (packet[0] & 0x0F) * 4
    if outer_ihl < 20 or packet[9] != IPPROTO_IPIP or len(packet) < outer_ihl + 20:
        return None
    inner = packet[outer_ihl:]
    inner_ihl = (inner[0] & 0x0F) * 4
    inner_total = struct.unpack_from("!H", inner, 2)[0]
    if inner[0] >> 4 != 4 or inner_ihl < 20 or inner_total < inner_ihl or inner_total > len(inner):
        return None
    return inner[:inner_total]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dev", default="tunl-dec", help="TUN device to write inner packets to (<= 15 chars)")
    ap.add_argument("--allow", action="append", default=[], metavar="ADDR",
                    help="accept IPIP only from this outer source (repeatable); default: any")
    ap.add_argument("--pidfile")
    args = ap.parse_args()
    if not 0 < len(args.dev) <= 15:
        ap.error("--dev: a device name has 1 to 15 characters")
    allowed = {ipaddress.IPv4Address(a).packed for a in args.allow}

    sys.stderr.reconfigure(line_buffering=True)
    tun = open_tun(args.dev)
    bring_up(args.dev)
    set_sysctl(f"/proc/sys/net/ipv4/conf/{args.dev}/rp_filter", "0")
    raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, IPPROTO_IPIP)
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    # A short timeout, so that a signal's flag is seen within half a second.
    raw.settimeout(0.5)

    stopping = []

    def stop(signum, _frame):
        stopping.append(signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if args.pidfile:
        with open(args.pidfile + ".tmp", "w") as f:
            f.write(f"{os.getpid()}\n")
        os.replace(args.pidfile + ".tmp", args.pidfile)
    log(f"ready: IPIP from {', '.join(args.allow) or 'any source'} -> {args.dev}")

    c = Counters()
    try:
        while not stopping:
            try:
                packet = raw.recv(65535)
            except socket.timeout:
                continue
            except InterruptedError:
                continue
            if allowed and packet[12:16] not in allowed:
                c.not_allowed += 1
                continue
            inner = inner_packet(packet)
            if inner is None:
                c.malformed += 1
                continue
            try:
                os.write(tun, inner)
            except OSError as e:
                c.write_errors += 1
                if c.write_errors <= 5:
                    log(f"write to {args.dev} failed ({len(inner)} bytes): {e}")
                continue
            c.packets += 1
            c.bytes += len(inner)
    finally:
        log(f"stopping on signal {stopping[0] if stopping else '-'}: {c.line()}")
        raw.close()
        os.close(tun)
        if args.pidfile:
            try:
                os.unlink(args.pidfile)
            except FileNotFoundError:
                pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
