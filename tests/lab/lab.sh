#!/usr/bin/env bash
# The Fulcrum veth lab: a client, the director's namespace, two switches and five real servers.
#
#   fl-swx  brx ── swx-cli ── cli-eth 198.18.0.2/24   fl-client
#            ├──── swx-dir ── dir-ext ─────────────┐
#            ├──── swx-rs4 ── rs4-eth 198.18.0.14/24  fl-rs4  DR: the VIP on lo
#            └──── swx-rs5 ── rs5-eth 198.18.0.15/24  fl-rs5  TUN: decap.py → tunl-dec, the VIP on lo
#            ├──── swx-dir2 ─ dir2-ext ────────────┐
#                                                  fl-dir (DPDK af_packet on both; the kernel has no IPv4)
#                                                  fl-dir2 (a second director, for high availability)
#   fl-sw   br0 ── sw-dir ─── dir-int ─────────────┘
#            ├──── sw-dir2 ── dir2-int ────────────┘
#            ├──── sw-rs1 ── rs1-eth 198.19.0.11/24  fl-rs1  NAT
#            ├──── sw-rs2 ── rs2-eth 198.19.0.12/24  fl-rs2  NAT
#            └──── sw-rs3 ── rs3-eth 198.19.0.13/24  fl-rs3  NAT
#
# Every host has IPv6 too: 2001:db8:18::N/64 on the client's link and 2001:db8:19::N/64 on the
# internal one (N as the IPv4 address's last byte: the client ::2, rs1 2001:db8:19::11, rs4
# 2001:db8:18::14), with the IPv6 VIP 2001:db8:18::100 on rs4's and rs5's lo and default routes via
# the director's 2001:db8:18::1 and 2001:db8:19::1 (tests/e2e/test_ipv6.py configures those). No
# duplicate-address detection, router solicitations or advertisements: the addresses are these.
#
# The director answers 198.18.0.1 (ext), 198.19.0.1 (int) and the VIP 198.18.0.100 (TCP 80, UDP 5353);
# see conf/lab-nat.yaml, lab-dr.yaml, lab-tun.yaml, lab-mixed.yaml. Each real server runs
# tests/lab/realserver.py (HTTP :80, UDP echo :5353).
#
# NAT real servers (rs1-rs3) sit behind the director and route their answers through it (198.19.0.1).
# DR and TUN real servers (rs4, rs5) share the client's link and answer the client directly, from the
# VIP, so their answers never reach the director. rs4 (DR) receives the client's frames unchanged
# above Ethernet. rs5 (TUN) receives them in IPIP from 198.18.0.1 (or fl-dir2's 198.18.0.5); this
# kernel has no ipip module, so tests/lab/decap.py (a raw IPPROTO_IPIP socket) strips the outer
# header and writes the inner packet to the TUN device tunl-dec. Both hold the VIP on lo with arp_ignore=1/arp_announce=2, so that only
# the director answers ARP for it, and rp_filter=0.
#
# Usage: tests/lab/lab.sh up | down | status | rs-stop N | rs-start N      (N: 1-5)
#   or:  source tests/lab/lab.sh; lab_up; ...; lab_down      (functions and LAB_* variables)
# Logs and pidfiles go to $FULCRUM_LAB_DIR (default /tmp/fulcrum-lab): rsN.log, decap.log.
#
# `lab.sh vlan-up` (after up) adds a VLAN trunk: fl-dir's dir-trunk joins fl-vsw, where
# tests/lab/vlan_switch.py (the kernel has no 802.1Q) passes VLAN 100, 200 and 300 between it and
# one client each: fl-vcN, vc-eth 10.N.0.2/24 (VLAN 300's 10.100.0.3/24: a host on a VLAN the
# director is not on), default route via 10.N.0.1. Its log: $LAB_DIR/vlan_switch.log.
#
# FULCRUM_LAB_MTU=9000 lab.sh up: every link carries jumbo frames, but for the directors' ports,
# which the director's `mtu:` sets.
#
# Not on any default path: `lab.sh standin [W1 W2 W3]` (or FULCRUM_LAB_KERNEL_STANDIN=1 lab.sh up)
# gives the fl-dir kernel the director's addresses and forwards with nftables DNAT (rr, or wrr with
# the weights given, over rs1-rs3 only), so the NAT lab and its tests can be checked without the
# director. `standin-off` removes it. It needs nftables, which tests/setup.sh does not install.

LAB_DIR=${FULCRUM_LAB_DIR:-/tmp/fulcrum-lab}
LAB_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LAB_PY=/usr/bin/python3
LAB_NAMESPACES=(fl-client fl-dir fl-dir2 fl-sw fl-swx fl-rs1 fl-rs2 fl-rs3 fl-rs4 fl-rs5)
# `lab.sh vlan-up`'s, on top: the 802.1Q switch and a client on each of VLANs 100, 200 and 300.
LAB_VLAN_NAMESPACES=(fl-vsw fl-vc100 fl-vc200 fl-vc300)
LAB_VLANS=(100 200 300)
LAB_RS_NAT=(1 2 3)   # behind the director, on fl-sw
LAB_RS_DR=(4)        # on the client's link (fl-swx), VIP on lo
LAB_RS_TUN=(5)       # on the client's link, IPIP decapsulated by decap.py
LAB_RS=(1 2 3 4 5)
LAB_CLIENT_IP=198.18.0.2
LAB_DIR_EXT_IP=198.18.0.1
LAB_DIR2_EXT_IP=198.18.0.5   # fl-dir2's, in conf/lab-ha-b.yaml and tests/e2e/test_ecmp.py
LAB_DIR_INT_IP=198.19.0.1
LAB_VIP=198.18.0.100
LAB_HTTP_PORT=80
LAB_UDP_PORT=5353
LAB_DECAP_DEV=tunl-dec
LAB_CLIENT_IP6=2001:db8:18::2
LAB_DIR_EXT_IP6=2001:db8:18::1
LAB_DIR_INT_IP6=2001:db8:19::1
LAB_VIP6=2001:db8:18::100
LAB_MTU=${FULCRUM_LAB_MTU:-1500}   # every link's but the directors' ports' (jumbo frames: 9000)

# rs1-rs3 on the director's internal subnet, rs4 and rs5 on the client's.
lab_rs_ip() { if (($1 <= 3)); then echo "198.19.0.1$1"; else echo "198.18.0.1$1"; fi; }
lab_rs_ip6() { if (($1 <= 3)); then echo "2001:db8:19::1$1"; else echo "2001:db8:18::1$1"; fi; }

_lab_log() { echo "lab: $*" >&2; }

# Turns off the offloads that make veth hand over partial checksums and 64 KB frames. Flags are
# set one at a time because a device that lacks one (rx-gro-hw) would fail the whole command.
_lab_offloads_off() {
    local ns=$1 dev=$2 flag
    for flag in tx tso gso gro rx-gro-hw; do
        ip netns exec "$ns" ethtool -K "$dev" "$flag" off >/dev/null 2>&1 || true
    done
}

_lab_ns_init() {
    local ns=$1 scope
    ip netns add "$ns"
    # Before any interface exists, so that new ones inherit "default" too. The switches have no
    # IP, and the directors' namespaces none of their own (the director turns IPv6 on for the
    # kernel interfaces that hold its IPv6 addresses); the hosts have IPv6, quiet: no
    # duplicate-address detection, router solicitations or autoconfiguration.
    case $ns in
    fl-sw | fl-swx | fl-dir | fl-dir2 | fl-vsw)
        ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
        ;;
    *)
        for scope in all default; do
            ip netns exec "$ns" sysctl -qw "net.ipv6.conf.$scope.accept_dad=0" "net.ipv6.conf.$scope.dad_transmits=0" \
                "net.ipv6.conf.$scope.accept_ra=0" "net.ipv6.conf.$scope.autoconf=0" \
                "net.ipv6.conf.$scope.router_solicitations=0"
        done
        ;;
    esac
    ip -n "$ns" link set lo up
}

# Any process inside the lab's namespaces is the lab's (real servers, a director, a client).
_lab_kill_ns_processes() {
    local ns pids=() alive=() i p
    for ns in "${LAB_NAMESPACES[@]}" "${LAB_VLAN_NAMESPACES[@]}"; do
        [[ -e /run/netns/$ns ]] || continue
        pids+=($(ip netns pids "$ns" 2>/dev/null))
    done
    ((${#pids[@]})) || return 0
    kill -TERM "${pids[@]}" 2>/dev/null || true
    for i in $(seq 30); do
        alive=()
        for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive+=("$p"); done
        ((${#alive[@]})) || return 0
        sleep 0.1
    done
    _lab_log "killing ${alive[*]} after 3 s"
    kill -KILL "${alive[@]}" 2>/dev/null || true
    sleep 0.2
}

lab_down() {
    _lab_kill_ns_processes
    local ns
    for ns in "${LAB_NAMESPACES[@]}" "${LAB_VLAN_NAMESPACES[@]}"; do
        [[ -e /run/netns/$ns ]] && ip netns del "$ns" 2>/dev/null
    done
    rm -f "$LAB_DIR"/rs*.pid "$LAB_DIR"/decap.pid "$LAB_DIR"/vlan_switch.pid
    return 0
}

# A pid read from decap.pid, only if that process is still the lab's decapsulator.
_lab_decap_pid() {
    local pid
    pid=$(cat "$LAB_DIR/decap.pid" 2>/dev/null) || return 1
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "decap.py --dev $LAB_DECAP_DEV " || return 1
    echo "$pid"
}

# The IPIP decapsulator of the TUN real server (rs5): started before its real server, stopped after.
lab_decap_start() {
    local i
    if _lab_decap_pid >/dev/null; then return 0; fi
    mkdir -p "$LAB_DIR"
    rm -f "$LAB_DIR/decap.pid"
    setsid ip netns exec "fl-rs${LAB_RS_TUN[0]}" "$LAB_PY" "$LAB_SRC/decap.py" --dev "$LAB_DECAP_DEV" \
        --allow "$LAB_DIR_EXT_IP" --allow "$LAB_DIR2_EXT_IP" --pidfile "$LAB_DIR/decap.pid" \
        >>"$LAB_DIR/decap.log" 2>&1 </dev/null &
    for i in $(seq 50); do
        if _lab_decap_pid >/dev/null; then return 0; fi
        sleep 0.1
    done
    _lab_log "decap.py did not start within 5 s; tail of $LAB_DIR/decap.log:"
    tail -n 5 "$LAB_DIR/decap.log" >&2
    return 1
}

lab_decap_stop() {
    local pid i
    pid=$(_lab_decap_pid) || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 30); do
        kill -0 "$pid" 2>/dev/null || { rm -f "$LAB_DIR/decap.pid"; return 0; }
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    rm -f "$LAB_DIR/decap.pid"
}

_lab_is_tun_rs() { [[ " ${LAB_RS_TUN[*]} " == *" $1 "* ]]; }

# A pid read from rsN.pid, only if that process is still the real server rsN.
_lab_rs_pid() {
    local n=$1 pid
    pid=$(cat "$LAB_DIR/rs$n.pid" 2>/dev/null) || return 1
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "realserver.py --name rs$n " || return 1
    echo "$pid"
}

lab_rs_start() {
    local n=$1 i
    [[ -e /run/netns/fl-rs$n ]] || { _lab_log "fl-rs$n does not exist (lab up first)"; return 1; }
    if _lab_is_tun_rs "$n"; then lab_decap_start || return 1; fi
    if _lab_rs_pid "$n" >/dev/null; then return 0; fi
    mkdir -p "$LAB_DIR"
    rm -f "$LAB_DIR/rs$n.pid"
    # setsid: a Ctrl-C in the caller's terminal must not take the servers down mid-test.
    setsid ip netns exec "fl-rs$n" "$LAB_PY" "$LAB_SRC/realserver.py" --name "rs$n" \
        --http-port "$LAB_HTTP_PORT" --udp-port "$LAB_UDP_PORT" --pidfile "$LAB_DIR/rs$n.pid" \
        >>"$LAB_DIR/rs$n.log" 2>&1 </dev/null &
    for i in $(seq 50); do
        if _lab_rs_pid "$n" >/dev/null; then return 0; fi
        sleep 0.1
    done
    _lab_log "rs$n did not start within 5 s; tail of $LAB_DIR/rs$n.log:"
    tail -n 5 "$LAB_DIR/rs$n.log" >&2
    return 1
}

lab_rs_stop() {
    local n=$1 pid i
    if pid=$(_lab_rs_pid "$n"); then
        kill -TERM "$pid" 2>/dev/null || true
        for i in $(seq 30); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
        rm -f "$LAB_DIR/rs$n.pid"
    fi
    if _lab_is_tun_rs "$n"; then lab_decap_stop; fi
    return 0
}

# A DR or TUN real server: the VIP on lo, never announced nor answered in ARP on its link (only the
# director answers ARP for the VIP), and no reverse-path filter (TUN: the client's packets arrive on
# tunl-dec, while the route back to the client leaves by rsN-eth). The ARP settings come first, so
# that the VIP is never answered for, not even for a moment.
_lab_vip_on_lo() {
    local ns=$1 dev=$2 scope
    for scope in all "$dev"; do
        ip netns exec "$ns" sysctl -qw "net.ipv4.conf.$scope.arp_ignore=1" "net.ipv4.conf.$scope.arp_announce=2"
    done
    for scope in all default "$dev" lo; do
        ip netns exec "$ns" sysctl -qw "net.ipv4.conf.$scope.rp_filter=0"
    done
    ip -n "$ns" addr add "$LAB_VIP/32" dev lo
    # An IPv6 host answers solicitations only for addresses on the interface asked (ndisc_recv_ns
    # looks the target up on it): the IPv6 VIP on lo stays the director's on the link.
    ip -n "$ns" addr add "$LAB_VIP6/128" dev lo
}

# The body runs in a subshell with errexit, so a failed step stops it wherever it was called from.
_lab_up_body() (
    set -euo pipefail
    local ns n dev
    for ns in "${LAB_NAMESPACES[@]}"; do _lab_ns_init "$ns"; done

    # The client's link: a bridge (fl-swx) joining the client, the director's ext port and the DR
    # and TUN real servers, which answer the client directly.
    ip -n fl-swx link add brx type bridge stp_state 0 forward_delay 0
    ip -n fl-client link add cli-eth type veth peer name swx-cli netns fl-swx
    ip -n fl-dir link add dir-ext type veth peer name swx-dir netns fl-swx
    # The internal link: a bridge (fl-sw) joining the director's int port and the NAT real servers.
    ip -n fl-sw link add br0 type bridge stp_state 0 forward_delay 0
    # Where br_netfilter is loaded, a bridge passes IPv4 through the kernel's checks and
    # defragmentation: malformed frames and fragments would never reach the director, which the
    # soak test sends them to. A switch does not look inside.
    for ns in fl-swx fl-sw; do
        ip netns exec "$ns" sysctl -qw net.bridge.bridge-nf-call-iptables=0 2>/dev/null || true
    done
    ip -n fl-swx link set brx type bridge nf_call_iptables 0
    ip -n fl-sw link set br0 type bridge nf_call_iptables 0
    ip -n fl-sw link add sw-dir type veth peer name dir-int netns fl-dir
    # The second director's ports, on the same two links (tests/e2e/test_ha.py).
    ip -n fl-swx link add swx-dir2 type veth peer name dir2-ext netns fl-dir2
    ip -n fl-sw link add sw-dir2 type veth peer name dir2-int netns fl-dir2
    for n in "${LAB_RS_NAT[@]}"; do
        ip -n fl-sw link add "sw-rs$n" type veth peer name "rs$n-eth" netns "fl-rs$n"
    done
    for n in "${LAB_RS_DR[@]}" "${LAB_RS_TUN[@]}"; do
        ip -n fl-swx link add "swx-rs$n" type veth peer name "rs$n-eth" netns "fl-rs$n"
    done

    # The client.
    _lab_offloads_off fl-client cli-eth
    ip -n fl-client addr add "$LAB_CLIENT_IP/24" dev cli-eth
    ip -n fl-client addr add "$LAB_CLIENT_IP6/64" dev cli-eth nodad
    ip -n fl-client link set cli-eth up
    ip -n fl-client route add default via "$LAB_DIR_EXT_IP"
    ip -n fl-client -6 route add default via "$LAB_DIR_EXT_IP6"

    # The director's namespace: interfaces up, no addresses, so the kernel stays out of the way.
    for dev in dir-ext dir-int; do
        ip netns exec fl-dir sysctl -qw "net.ipv6.conf.$dev.disable_ipv6=1"
        _lab_offloads_off fl-dir "$dev"
        ip -n fl-dir link set "$dev" up
    done
    for dev in dir2-ext dir2-int; do
        ip netns exec fl-dir2 sysctl -qw "net.ipv6.conf.$dev.disable_ipv6=1"
        _lab_offloads_off fl-dir2 "$dev"
        ip -n fl-dir2 link set "$dev" up
    done

    # The switches.
    for dev in sw-dir sw-dir2 "${LAB_RS_NAT[@]/#/sw-rs}"; do
        _lab_offloads_off fl-sw "$dev"
        ip -n fl-sw link set "$dev" master br0
        ip -n fl-sw link set "$dev" up
    done
    _lab_offloads_off fl-sw br0
    ip -n fl-sw link set br0 up
    for dev in swx-cli swx-dir swx-dir2 "${LAB_RS_DR[@]/#/swx-rs}" "${LAB_RS_TUN[@]/#/swx-rs}"; do
        _lab_offloads_off fl-swx "$dev"
        ip -n fl-swx link set "$dev" master brx
        ip -n fl-swx link set "$dev" up
    done
    _lab_offloads_off fl-swx brx
    ip -n fl-swx link set brx up

    # The real servers. NAT ones route everything through the director; DR and TUN ones reach the
    # client on their own link.
    for n in "${LAB_RS[@]}"; do
        _lab_offloads_off "fl-rs$n" "rs$n-eth"
        ip -n "fl-rs$n" addr add "$(lab_rs_ip "$n")/24" dev "rs$n-eth"
        ip -n "fl-rs$n" addr add "$(lab_rs_ip6 "$n")/64" dev "rs$n-eth" nodad
        ip -n "fl-rs$n" link set "rs$n-eth" up
    done
    for n in "${LAB_RS_NAT[@]}"; do
        ip -n "fl-rs$n" route add default via "$LAB_DIR_INT_IP"
        ip -n "fl-rs$n" -6 route add default via "$LAB_DIR_INT_IP6"
    done
    for n in "${LAB_RS_DR[@]}"; do
        _lab_vip_on_lo "fl-rs$n" "rs$n-eth"
    done
    for n in "${LAB_RS_TUN[@]}"; do
        _lab_vip_on_lo "fl-rs$n" "rs$n-eth"
        # decap.py attaches to this persistent TUN device and writes the inner packets to it.
        ip -n "fl-rs$n" tuntap add dev "$LAB_DECAP_DEV" mode tun
        ip netns exec "fl-rs$n" sysctl -qw "net.ipv6.conf.$LAB_DECAP_DEV.disable_ipv6=1" \
            "net.ipv4.conf.$LAB_DECAP_DEV.rp_filter=0"
        _lab_offloads_off "fl-rs$n" "$LAB_DECAP_DEV"
        ip -n "fl-rs$n" link set "$LAB_DECAP_DEV" up
    done

    # Jumbo frames (FULCRUM_LAB_MTU=9000, tests/e2e/test_jumbo.py): every link but the directors'
    # ports, whose MTU the director sets itself; a bridge's after its ports'.
    if [[ $LAB_MTU != 1500 ]]; then
        for ns in "${LAB_NAMESPACES[@]}"; do
            [[ $ns == fl-dir || $ns == fl-dir2 ]] && continue
            for dev in $(ip -n "$ns" -o link show | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }'); do
                [[ $dev == lo || $dev == br0 || $dev == brx ]] && continue
                ip -n "$ns" link set dev "$dev" mtu "$LAB_MTU"
            done
        done
        ip -n fl-sw link set dev br0 mtu "$LAB_MTU"
        ip -n fl-swx link set dev brx mtu "$LAB_MTU"
    fi
)

lab_up() {
    lab_down
    mkdir -p "$LAB_DIR"
    rm -f "$LAB_DIR"/rs*.log "$LAB_DIR"/decap.log
    if ! _lab_up_body; then
        _lab_log "set-up failed; tearing down"
        lab_down
        return 1
    fi
    local n
    for n in "${LAB_RS[@]}"; do
        lab_rs_start "$n" || { lab_down; return 1; }
    done
    if [[ ${FULCRUM_LAB_KERNEL_STANDIN:-0} == 1 ]]; then
        lab_standin || { lab_down; return 1; }
    fi
    _lab_log "up (run directory $LAB_DIR)"
}

lab_status() {
    local ns n rc=0 pid
    for ns in "${LAB_NAMESPACES[@]}"; do
        if [[ -e /run/netns/$ns ]]; then
            echo "== $ns"
            ip -n "$ns" -br addr show | { grep -v '^lo ' || true; } | sed 's/^/   /'
        else
            echo "== $ns: missing"
            rc=1
        fi
    done
    for n in "${LAB_RS[@]}"; do
        if pid=$(_lab_rs_pid "$n"); then
            echo "rs$n: running (pid $pid, log $LAB_DIR/rs$n.log)"
        else
            echo "rs$n: not running"
            rc=1
        fi
    done
    if pid=$(_lab_decap_pid); then
        echo "decap: running in fl-rs${LAB_RS_TUN[0]} (pid $pid, log $LAB_DIR/decap.log)"
    else
        echo "decap: not running"
        rc=1
    fi
    return $rc
}

# Kernel stand-in for the director, for checking the lab only (see the header).
lab_standin() (
    set -euo pipefail
    local weights=("${1:-1}" "${2:-1}" "${3:-1}") map="" i=0 n w
    command -v nft >/dev/null || { _lab_log "standin needs nft (apt-get install nftables)"; exit 1; }
    for n in 1 2 3; do
        w=${weights[n - 1]}
        while ((w-- > 0)); do map+="${map:+, }$i : $(lab_rs_ip "$n")"; i=$((i + 1)); done
    done
    ip -n fl-dir addr replace "$LAB_DIR_EXT_IP/24" dev dir-ext
    ip -n fl-dir addr replace "$LAB_VIP/24" dev dir-ext
    ip -n fl-dir addr replace "$LAB_DIR_INT_IP/24" dev dir-int
    ip netns exec fl-dir sysctl -qw net.ipv4.ip_forward=1
    ip netns exec fl-dir nft -f - <<EOF
table ip fulcrum_standin
delete table ip fulcrum_standin
table ip fulcrum_standin {
    chain pre {
        type nat hook prerouting priority dstnat; policy accept;
        ip daddr $LAB_VIP tcp dport $LAB_HTTP_PORT dnat to numgen inc mod $i map { $map }
        ip daddr $LAB_VIP udp dport $LAB_UDP_PORT dnat to numgen inc mod $i map { $map }
    }
}
EOF
    ip netns exec fl-dir conntrack -F >/dev/null 2>&1 || true
    _lab_log "kernel stand-in on (weights ${weights[0]}:${weights[1]}:${weights[2]})"
)

lab_standin_off() {
    ip netns exec fl-dir nft delete table ip fulcrum_standin 2>/dev/null || true
    ip netns exec fl-dir sysctl -qw net.ipv4.ip_forward=0 || true
    ip -n fl-dir addr flush dev dir-ext || true
    ip -n fl-dir addr flush dev dir-int || true
    return 0
}

lab_vlan_up() (
    set -euo pipefail
    local ns vid address
    for ns in "${LAB_VLAN_NAMESPACES[@]}"; do _lab_ns_init "$ns"; done
    ip -n fl-dir link add dir-trunk type veth peer name vsw-trunk netns fl-vsw
    ip netns exec fl-dir sysctl -qw net.ipv6.conf.dir-trunk.disable_ipv6=1
    _lab_offloads_off fl-dir dir-trunk
    ip -n fl-dir link set dir-trunk up
    _lab_offloads_off fl-vsw vsw-trunk
    ip -n fl-vsw link set vsw-trunk up
    local access=()
    for vid in "${LAB_VLANS[@]}"; do
        ns=fl-vc$vid
        ip -n fl-vsw link add "vsw-$vid" type veth peer name vc-eth netns "$ns"
        _lab_offloads_off fl-vsw "vsw-$vid"
        ip -n fl-vsw link set "vsw-$vid" up
        access+=(--access "vsw-$vid:$vid")
        address=10.$vid.0.2
        [[ $vid == 300 ]] && address=10.100.0.3
        _lab_offloads_off "$ns" vc-eth
        ip -n "$ns" addr add "$address/24" dev vc-eth
        ip -n "$ns" link set vc-eth up
        ip -n "$ns" route add default via "${address%.*}.1"
    done
    setsid ip netns exec fl-vsw "$LAB_PY" "$LAB_SRC/vlan_switch.py" --trunk vsw-trunk "${access[@]}" \
        --pidfile "$LAB_DIR/vlan_switch.pid" >>"$LAB_DIR/vlan_switch.log" 2>&1 </dev/null &
    for _ in $(seq 50); do
        [[ -s $LAB_DIR/vlan_switch.pid ]] && return 0
        sleep 0.1
    done
    _lab_log "vlan_switch.py did not start within 5 s"
    return 1
)

_lab_usage() {
    echo "usage: $0 up | down | status | rs-stop N | rs-start N   (N: 1-5)" >&2
    return 2
}

lab_main() {
    [[ $(id -u) == 0 ]] || { _lab_log "must run as root"; return 1; }
    case ${1:-} in
        up) lab_up ;;
        down) lab_down ;;
        status) lab_status ;;
        rs-start | rs-stop)
            [[ ${2:-} =~ ^[1-5]$ ]] || { _lab_usage; return; }
            if [[ $1 == rs-start ]]; then lab_rs_start "$2"; else lab_rs_stop "$2"; fi ;;
        standin) shift; lab_standin "$@" ;;
        standin-off) lab_standin_off ;;
        vlan-up) lab_vlan_up ;;
        *) _lab_usage ;;
    esac
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    lab_main "$@"
fi
