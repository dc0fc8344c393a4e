#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets (tests/fuzz/corpus/TARGET/NAME): valid inputs the
fuzzer starts from and mutates. Run it again after changing a seed; the files are checked in.
The pipeline seeds use fuzz_pipeline.cpp's lab: ext 198.18.0.1/24 (MAC 02:55:00:00:00:01),
int 198.19.0.1/24 (...:02), VIP 198.18.0.100 (tcp 80 wrr+persistence, udp 53 mh, tcp 8000
NAT/DR/TUN, udp 8002 TUN), real servers 198.19.0.11-13."""
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(HERE, "..", "lab"))
from frames import arp, ether, icmp, ipv4, tcp, udp  # noqa: E402
import ipvs_sync  # noqa: E402
EXT_MAC = bytes([2, 0x55, 0, 0, 0, 1])
INT_MAC = bytes([2, 0x55, 0, 0, 0, 2])
CLIENT_MAC = bytes([2, 0x55, 0, 0, 0, 0x20])
RS_MAC = bytes([2, 0x55, 0, 0, 0, 0x11])


def record(port, frame):
    return bytes([port]) + struct.pack("!H", len(frame)) + frame


def pipeline_seeds():
    client, vip = "198.18.0.2", "198.18.0.100"
    syn = tcp(client, 40000, vip, 80, 0x02)
    from_client = lambda packet: ether(EXT_MAC, CLIENT_MAC, packet)
    from_rs = lambda packet: ether(INT_MAC, RS_MAC, packet)
    yield "nat_handshake", (record(0, from_client(syn))
                            + record(1, from_rs(tcp("198.19.0.11", 8080, client, 40000, 0x12)))
                            + record(0, from_client(tcp(client, 40000, vip, 80, 0x10, b"GET / HTTP/1.0\r\n\r\n"))))
    yield "udp_both_ways", (record(0, from_client(udp(client, 5353, vip, 53, b"query")))
                            + record(1, from_rs(udp("198.19.0.11", 53, client, 5353, b"answer"))))
    yield "mixed_methods", b"".join(record(0, from_client(tcp(client, p, vip, 8000, 0x02))) for p in (41000, 41001, 41002))
    yield "tun_udp", record(0, from_client(udp(client, 6000, vip, 8002, b"x" * 1400)))
    quoted = ipv4(client, "198.19.0.11", 6, struct.pack("!HHI", 40000, 8080, 1000))
    yield "icmp_from_real_server", (record(0, from_client(syn))
                                    + record(1, from_rs(icmp("198.19.0.11", client, 3, 4, 1400, quoted[:28]))))
    inner = tcp(client, 41002, vip, 8000, 0x02)
    tunnel = ipv4("198.19.0.1", "198.19.0.13", 4, inner)
    yield "tunnel_frag_needed", (record(0, from_client(inner))
                                 + record(1, from_rs(icmp("198.19.0.254", "198.19.0.1", 3, 4, 1400, tunnel[:48]))))
    yield "arp_request_for_vip", record(0, arp(1, CLIENT_MAC, client, vip))
    yield "ping_vip", record(0, from_client(icmp(client, vip, 8, 0, 0x00070001, b"abc")))
    yield "fragment", record(0, from_client(ipv4(client, vip, 17, struct.pack("!HHHH", 5353, 53, 9, 0) + b"q", flags=0x2000)))
    yield "to_director", record(0, from_client(tcp(client, 40001, "198.18.0.1", 22, 0x02)))


def write(target, seeds):
    folder = os.path.join(HERE, "corpus", target)
    os.makedirs(folder, exist_ok=True)
    for name, data in seeds:
        with open(os.path.join(folder, name), "wb") as f:
            f.write(data)


def main():
    write("pipeline", pipeline_seeds())
    base = open(os.path.join(HERE, "..", "..", "conf", "lab-mixed.yaml"), "rb").read()
    write("config", [("lab_mixed", base), ("small", b"interfaces:\n  - { name: a, device: net_tap0, address: 10.0.0.1/24 }\n"
                                                   b"services:\n  - { vip: 10.0.0.9, port: 80, protocol: tcp, real_servers: [{ address: 10.0.0.2 }] }\n")])
    write("console", [("listing", b"show services\nipvsadm -L -n --stats\nshow workers\nshow health\n"),
                      ("edits", b"ipvsadm -A -t 10.0.0.102:443 -s wlc -p 60\nipvsadm -a -t 10.0.0.102:443 -r 172.16.0.9:443 -m -w 2\n"
                                b"ipvsadm -e -t 10.0.0.100:80 -r 172.16.0.2:8080 -m -w 0\nset weight 10.0.0.100:80 172.16.0.3:8080 4\n"
                                b"ipvsadm -D -u 10.0.0.100:53\nipvsadm -Z\nipvsadm -S -n\n")])
    write("http", [("ok", b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"),
                   ("lf_only", b"HTTP/1.0 503 Service Unavailable\n\nbusy"),
                   ("chunked", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")])
    ack = struct.pack("=IHHII", 36, 2, 0, 7, 0) + struct.pack("=i", 0) + b"\0" * 16
    write("netlink", [("ack", struct.pack("=I", 7) + ack),
                      ("error", struct.pack("=I", 7) + ack[:16] + struct.pack("=i", -17) + b"\0" * 16)])
    # fuzz_sync: the sync id the backup accepts, then the datagram.
    conn = dict(protocol="tcp", client="198.51.100.7", cport=40000, vip="198.18.0.100", vport=80, real="198.19.0.11",
                dport=8080, method="nat", state="ESTABLISHED", timeout=900)
    template = dict(protocol="udp", client="198.51.100.0", vip="198.18.0.100", vport=53, real="198.19.0.12", dport=53,
                    method="dr", template=True, inactive=True, timeout=300)
    write("sync", [("one", bytes([0]) + ipvs_sync.encode([conn], 5)),
                   ("three", bytes([5]) + ipvs_sync.encode([conn, dict(conn, cport=40001, state="FIN_WAIT", inactive=True),
                                                            template], 5))])


if __name__ == "__main__":
    main()
