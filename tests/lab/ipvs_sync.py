#!/usr/bin/env python3
"""The kernel's IPVS connection-sync protocol, version 1, written for the tests from the kernel's
structures (net/netfilter/ipvs/ip_vs_sync.c: struct ip_vs_sync_mesg, struct ip_vs_sync_v4 and
struct ip_vs_sync_v6, STYPE_F_INET6, IPVS_OPT_*; include/uapi/linux/ip_vs.h: IP_VS_CONN_F_*; include/net/ip_vs.h: IP_VS_TCP_S_*), not
from Fulcrum's code: it reads what a Fulcrum master sends and builds what a kernel master would.

    python3 ipvs_sync.py listen GROUP PORT IFACE SECONDS   print the records heard, one JSON per line
    python3 ipvs_sync.py send GROUP PORT IFACE SYNCID JSON  send one datagram of the records in JSON (a list)
"""
import ipaddress
import json
import socket
import struct
import sys
import time

GROUP, PORT = "224.0.0.81", 8848
HEADER = struct.Struct("!BBHBbH")          # reserved, syncid, size, nr_conns, version, spare
V4 = struct.Struct("!BBHIHHHHII4s4s4s")    # type, protocol, ver_size, flags, state, cport, vport, dport,
                                           # fwmark, timeout, caddr, vaddr, daddr
# struct ip_vs_sync_v6: the same 24 bytes, then caddr, vaddr, daddr as struct in6_addr.
V6 = struct.Struct("!BBHIHHHHII16s16s16s")
assert HEADER.size == 8 and V4.size == 36 and V6.size == 72
STYPE_F_INET6 = 0x01


def pack_address(address, ipv6):
    """An address as the record's family holds it. An IPv4 address in an IPv6 record is how the
    kernel writes an IPv6 service's IPv4 tunnel real server (union nf_inet_addr, which
    ip_vs_addr_set fills with the 4 bytes and 12 zeros)."""
    if not ipv6:
        return socket.inet_aton(address)
    if ":" in address:
        return socket.inet_pton(socket.AF_INET6, address)
    return socket.inet_aton(address) + bytes(12)

F_MASQ, F_TUNNEL, F_DROUTE = 0, 2, 3
F_NOOUTPUT, F_INACTIVE, F_TEMPLATE = 0x80, 0x100, 0x1000
METHODS = {F_MASQ: "nat", F_TUNNEL: "tun", F_DROUTE: "dr"}
TCP_STATES = ["NONE", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT", "TIME_WAIT", "CLOSE",
              "CLOSE_WAIT", "LAST_ACK", "LISTEN", "SYNACK"]


def encode(records, syncid=0):
    """A datagram of `records`: dicts with protocol ('tcp'/'udp'), client, cport, vip, vport, real,
    dport, method, state (a TCP state name, or 'NONE'), timeout, and optional template, inactive,
    nooutput. An IPv6 VIP makes an IPv6 record (struct ip_vs_sync_v6)."""
    body = b""
    for r in records:
        flags = {v: k for k, v in METHODS.items()}[r.get("method", "nat")]
        if r.get("nooutput"):
            flags |= F_NOOUTPUT
        if r.get("inactive"):
            flags |= F_INACTIVE
        if r.get("template"):
            flags |= F_TEMPLATE
        ipv6 = ":" in r["vip"]
        layout = V6 if ipv6 else V4
        body += layout.pack(STYPE_F_INET6 if ipv6 else 0, {"tcp": 6, "udp": 17}[r["protocol"]], layout.size, flags,
                            TCP_STATES.index(r.get("state", "NONE")), r.get("cport", 0), r["vport"], r["dport"], 0,
                            r["timeout"], pack_address(r["client"], ipv6), pack_address(r["vip"], ipv6),
                            pack_address(r["real"], ipv6))
    return HEADER.pack(0, syncid, HEADER.size + len(body), len(records), 1, 0) + body


def decode(datagram):
    """(syncid, [record dicts]) of a version 1 datagram; raises ValueError on anything else."""
    if len(datagram) < HEADER.size:
        raise ValueError("short")
    reserved, syncid, size, count, version, spare = HEADER.unpack_from(datagram)
    if size != len(datagram) or reserved != 0 or version != 1 or spare != 0:
        raise ValueError(f"bad header {reserved} {size}/{len(datagram)} v{version} {spare}")
    records, offset = [], HEADER.size
    for _ in range(count):
        if offset + V4.size > len(datagram):
            raise ValueError(f"short record at {offset}")
        ipv6 = datagram[offset] == STYPE_F_INET6
        layout = V6 if ipv6 else V4
        rsize = struct.unpack_from("!H", datagram, offset + 2)[0] & 0x0fff
        if datagram[offset] not in (0, STYPE_F_INET6) or datagram[offset + 2] >> 4 or rsize < layout.size \
                or offset + rsize > len(datagram):
            raise ValueError(f"bad record at {offset}")
        (stype, proto, ver_size, flags, state, cport, vport, dport, fwmark, timeout,
         caddr, vaddr, daddr) = layout.unpack_from(datagram, offset)
        family = socket.AF_INET6 if ipv6 else socket.AF_INET
        # The destination as the 16 bytes say; an IPv4 tunnel real server of an IPv6 service
        # reads as a.b.c.d followed by zeros ("c613:d::"), as a kernel backup reads it too.
        records.append({
            "family": 6 if ipv6 else 4,
            "protocol": {6: "tcp", 17: "udp"}.get(proto, str(proto)),
            "client": socket.inet_ntop(family, caddr), "cport": cport,
            "vip": socket.inet_ntop(family, vaddr), "vport": vport,
            "real": socket.inet_ntop(family, daddr), "dport": dport,
            "method": METHODS.get(flags & 7, str(flags & 7)),
            "template": bool(flags & F_TEMPLATE), "inactive": bool(flags & F_INACTIVE),
            "nooutput": bool(flags & F_NOOUTPUT),
            "state": TCP_STATES[state] if proto == 6 and not flags & F_TEMPLATE and state < len(TCP_STATES) else state,
            "timeout": timeout, "fwmark": fwmark,
        })
        offset += (rsize + 3) & ~3
    return syncid, records


def listener(group, port, iface):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, iface.encode())
    s.bind((group, port))
    mreqn = socket.inet_aton(group) + socket.inet_aton("0.0.0.0") + struct.pack("@i", socket.if_nametoindex(iface))
    s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreqn)
    print(json.dumps({"ready": True}), flush=True)
    return s


def sender(iface, ttl=1):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, iface.encode())
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF,
                 socket.inet_aton("0.0.0.0") + socket.inet_aton("0.0.0.0") + struct.pack("@i", socket.if_nametoindex(iface)))
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, ttl)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)
    return s


def main():
    if len(sys.argv) == 6 and sys.argv[1] == "listen":
        group, port, iface, seconds = sys.argv[2], int(sys.argv[3]), sys.argv[4], float(sys.argv[5])
        s = listener(group, port, iface)
        deadline = time.time() + seconds
        while time.time() < deadline:
            s.settimeout(max(0.05, deadline - time.time()))
            try:
                data = s.recv(65535)
            except socket.timeout:
                break
            try:
                syncid, records = decode(data)
                print(json.dumps({"syncid": syncid, "size": len(data), "records": records}), flush=True)
            except ValueError as e:
                print(json.dumps({"error": str(e), "size": len(data)}), flush=True)
        return 0
    if len(sys.argv) == 7 and sys.argv[1] == "send":
        group, port, iface, syncid, records = sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5]), sys.argv[6]
        datagram = encode(json.loads(records), syncid)
        sender(iface).sendto(datagram, (group, port))
        print(json.dumps({"ok": True, "size": len(datagram)}))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
