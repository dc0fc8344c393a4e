#!/usr/bin/python3
"""An 802.1Q switch for the lab, whose kernel has no VLAN support (no 8021q module, no VLAN
filtering on bridges): one trunk port, where frames carry tags, and access ports, each on one
VLAN, where they do not. A frame from an access port leaves the trunk tagged with its VLAN; a
frame from the trunk leaves the access port of its VLAN untagged. Untagged frames on the trunk,
and VLANs no access port is on, are dropped and counted.

The kernel takes a received tag off before a packet socket sees the frame and reports it in
PACKET_AUXDATA (tp_vlan_tci, TP_STATUS_VLAN_VALID); a tag still in the frame is read too.

  vlan_switch.py --trunk DEV --access DEV:VID [--access DEV:VID ...] [--pidfile F] [--seconds S]

Runs until SIGTERM (or S seconds), then logs one line of counters: `vlan_switch stopping
from_trunk_vlanN=... to_trunk_vlanN=... untagged_on_trunk=... unknown_vlan=...`.
"""

import argparse
import os
import select
import signal
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003
ETH_P_8021Q = 0x8100
SOL_PACKET = 263
PACKET_AUXDATA = 8
TP_STATUS_VLAN_VALID = 0x10
PACKET_OUTGOING = 4
AUXDATA = struct.Struct("IIIHHHH")  # struct tpacket_auxdata


def open_port(dev):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
    s.bind((dev, ETH_P_ALL))
    s.setblocking(False)
    return s


def receive(s):
    """(frame, tag or None) of one frame another host sent, or (None, None)."""
    try:
        frame, ancillary, _flags, address = s.recvmsg(65535, socket.CMSG_SPACE(AUXDATA.size))
    except BlockingIOError:
        return None, None
    if address[2] == PACKET_OUTGOING:  # our own frame, sent on this port
        return None, None
    tag = None
    for level, kind, data in ancillary:
        if level == SOL_PACKET and kind == PACKET_AUXDATA and len(data) >= AUXDATA.size:
            status, _len, _snap, _mac, _net, tci, _tpid = AUXDATA.unpack(data[:AUXDATA.size])
            if status & TP_STATUS_VLAN_VALID:
                tag = tci
    if tag is None and len(frame) >= 18 and struct.unpack("!H", frame[12:14])[0] == ETH_P_8021Q:
        tag = struct.unpack("!H", frame[14:16])[0]
        frame = frame[:12] + frame[16:]
    return frame, tag


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trunk", required=True)
    ap.add_argument("--access", action="append", default=[], help="DEV:VID")
    ap.add_argument("--pidfile")
    ap.add_argument("--seconds", type=float, default=3600.0)
    args = ap.parse_args()

    trunk = open_port(args.trunk)
    access = {}  # socket -> vid
    by_vid = {}
    for spec in args.access:
        dev, _, vid = spec.rpartition(":")
        s = open_port(dev)
        access[s] = int(vid)
        by_vid[int(vid)] = s
    counts = {"untagged_on_trunk": 0, "unknown_vlan": 0}
    for vid in by_vid:
        counts[f"from_trunk_vlan{vid}"] = counts[f"to_trunk_vlan{vid}"] = 0

    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    if args.pidfile:
        with open(args.pidfile, "w") as f:
            f.write(f"{os.getpid()}\n")
    deadline = time.monotonic() + args.seconds
    sockets = [trunk, *access]
    while not stop and time.monotonic() < deadline:
        try:
            ready, _, _ = select.select(sockets, [], [], 0.5)
        except InterruptedError:
            continue
        for s in ready:
            for _ in range(64):
                frame, tag = receive(s)
                if frame is None:
                    break
                if s is trunk:
                    if tag is None:
                        counts["untagged_on_trunk"] += 1
                        continue
                    out = by_vid.get(tag & 0x0fff)
                    if out is None:
                        counts["unknown_vlan"] += 1
                        continue
                    counts[f"from_trunk_vlan{tag & 0x0fff}"] += 1
                    try:
                        out.send(frame)
                    except OSError:
                        pass
                else:
                    vid = access[s]
                    counts[f"to_trunk_vlan{vid}"] += 1
                    try:
                        trunk.send(frame[:12] + struct.pack("!HH", ETH_P_8021Q, vid) + frame[12:])
                    except OSError:
                        pass
    print("vlan_switch stopping " + " ".join(f"{k}={v}" for k, v in sorted(counts.items())), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
