#!/usr/bin/env python3
"""An independent Maglev table, written from docs/scheduling.md ("Maglev (mh)"), not from mh.cpp.

test_maglev runs it and compares its output with the C++ table: the FNV-1a digest of the slot
ranks, and the real server a few flows land on. Exact fractions order the turns, so no rounding
can hide a difference.

    maglev_reference.py SIZE ADDRESS:PORT:WEIGHT... [--flows SRC[:SPORT],...]

prints "digest 0x...." and, per flow, "flow SRC:SPORT ADDRESS:PORT".
"""
import heapq
import ipaddress
import sys
from fractions import Fraction

MASK = (1 << 64) - 1
OFFSET_SALT = int.from_bytes(b"maglev-o", "little")
SKIP_SALT = int.from_bytes(b"maglev-s", "little")
FLOW_SALT = int.from_bytes(b"maglev-f", "little")


def mix64(x):
    x ^= x >> 30
    x = (x * 0xBF58476D1CE4E5B9) & MASK
    x ^= x >> 27
    x = (x * 0x94D049BB133111EB) & MASK
    x ^= x >> 31
    return x


def key(address, port):
    return (address << 16) | port


def build(size, servers):
    """servers: (address, port, weight) in any order; returns (rank per slot, members by rank)."""
    members = sorted((a, p, w) for a, p, w in servers if w > 0)
    total = sum(w for _, _, w in members)
    quota = [size * w // total for _, _, w in members]
    remainder = [size * w % total for _, _, w in members]
    left = size - sum(quota)
    # Largest remainders first, ties to the lower rank.
    for rank in sorted(range(len(members)), key=lambda r: (-remainder[r], r))[:left]:
        quota[rank] += 1
    nxt = [mix64(key(a, p) ^ OFFSET_SALT) % size for a, p, _ in members]
    skip = [mix64(key(a, p) ^ SKIP_SALT) % (size - 1) + 1 for a, p, _ in members]
    table = [None] * size
    turns = [(Fraction(1, 2 * q), rank, 0) for rank, q in enumerate(quota) if q > 0]
    heapq.heapify(turns)
    while turns:
        _, rank, k = heapq.heappop(turns)
        slot = nxt[rank]
        while table[slot] is not None:
            slot = (slot + skip[rank]) % size
        table[slot] = rank
        nxt[rank] = slot
        if k + 1 < quota[rank]:
            heapq.heappush(turns, (Fraction(2 * (k + 1) + 1, 2 * quota[rank]), rank, k + 1))
    return table, members


def fnv1a(ranks):
    h = 0xCBF29CE484222325
    for v in ranks:
        for byte in v.to_bytes(4, "little"):
            h = ((h ^ byte) * 0x100000001B3) & MASK
    return h


def main(argv):
    flows = []
    if "--flows" in argv:
        at = argv.index("--flows")
        flows = [f for f in argv[at + 1].split(",") if f]
        argv = argv[:at]
    size = int(argv[1])
    servers = []
    for spec in argv[2:]:
        address, port, weight = spec.split(":")
        servers.append((int(ipaddress.IPv4Address(address)), int(port), int(weight)))
    table, members = build(size, servers)
    print(f"digest 0x{fnv1a(table):016x}")
    for flow in flows:
        source, _, sport = flow.partition(":")
        slot = mix64(key(int(ipaddress.IPv4Address(source)), int(sport or 0)) ^ FLOW_SALT) % size
        a, p, _ = members[table[slot]]
        print(f"flow {source}:{sport or 0} {ipaddress.IPv4Address(a)}:{p}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
