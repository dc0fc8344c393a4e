"""Ethernet/IPv4/TCP/UDP/ICMP/ARP frames as bytes, with their checksums (RFC 1071), for the
tools that write frames themselves: the fuzz corpora (tests/fuzz/make_corpus.py) and the hostile
traffic generator (tests/lab/hostile.py). Python's standard library only."""
import struct


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def ip(text):
    return bytes(int(x) for x in text.split("."))


def mac(text):
    return bytes(int(x, 16) for x in text.split(":"))


def ipv4(src, dst, proto, payload, ttl=64, flags=0x4000, ident=0x1234):
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, flags, ttl, proto, 0, ip(src), ip(dst))
    header = header[:10] + struct.pack("!H", checksum(header)) + header[12:]
    return header + payload


def _with_l4_checksum(src, dst, proto, segment, at):
    pseudo = ip(src) + ip(dst) + struct.pack("!BBH", 0, proto, len(segment))
    value = checksum(pseudo + segment) or 0xFFFF
    return segment[:at] + struct.pack("!H", value) + segment[at + 2:]


def tcp(src, sport, dst, dport, flags, payload=b"", seq=1000):
    segment = struct.pack("!HHIIBBHHH", sport, dport, seq, 0, 5 << 4, flags, 65535, 0, 0) + payload
    return ipv4(src, dst, 6, _with_l4_checksum(src, dst, 6, segment, 16))


def udp(src, sport, dst, dport, payload=b"", flags=0x4000):
    segment = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    return ipv4(src, dst, 17, _with_l4_checksum(src, dst, 17, segment, 6), flags=flags)


def icmp(src, dst, type_, code, rest, body):
    message = struct.pack("!BBHI", type_, code, 0, rest) + body
    message = message[:2] + struct.pack("!H", checksum(message)) + message[4:]
    return ipv4(src, dst, 1, message)


def ether(dst_mac, src_mac, packet, ethertype=0x0800):
    return dst_mac + src_mac + struct.pack("!H", ethertype) + packet


def arp(op, sender_mac, sender_ip, target_ip):
    body = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, op, sender_mac, ip(sender_ip), b"\0" * 6, ip(target_ip))
    return ether(b"\xff" * 6, sender_mac, body, 0x0806)
