#!/usr/bin/env bash
# The Fulcrum veth lab: a client, the director's namespace, a switch and three real servers.
#
#   fl-client  cli-eth 198.18.0.2/24 ── dir-ext ┐
#                                               fl-dir (DPDK af_packet on both; the kernel has no IPv4)
#   fl-sw  br0 ── sw-dir ───────────── dir-int ┘
#           ├──── sw-rs1 ── rs1-eth 198.19.0.11/24  fl-rs1
#           ├──── sw-rs2 ── rs2-eth 198.19.0.12/24  fl-rs2
#           └──── sw-rs3 ── rs3-eth 198.19.0.13/24  fl-rs3
#
# The director answers 198.18.0.1 (ext), 198.19.0.1 (int) and the VIP 198.18.0.100 (TCP 80, UDP 5353);
# see conf/lab-nat.yaml. Each real server runs tests/lab/realserver.py (HTTP :80, UDP echo :5353).
#
# Usage: tests/lab/lab.sh up | down | status | rs-stop N | rs-start N
#   or:  source tests/lab/lab.sh; lab_up; ...; lab_down      (functions and LAB_* variables)
# Logs and pidfiles go to $FULCRUM_LAB_DIR (default /tmp/fulcrum-lab).
#
# Not on any default path: `lab.sh standin [W1 W2 W3]` (or FULCRUM_LAB_KERNEL_STANDIN=1 lab.sh up)
# gives the fl-dir kernel the director's addresses and forwards with nftables DNAT (rr, or wrr with
# the weights given), so the lab and the tests can be checked without the director. `standin-off`
# removes it. It needs nftables, which tests/setup.sh does not install.

LAB_DIR=${FULCRUM_LAB_DIR:-/tmp/fulcrum-lab}
LAB_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LAB_PY=/usr/bin/python3
LAB_NAMESPACES=(fl-client fl-dir fl-sw fl-rs1 fl-rs2 fl-rs3)
LAB_RS=(1 2 3)
LAB_CLIENT_IP=198.18.0.2
LAB_DIR_EXT_IP=198.18.0.1
LAB_DIR_INT_IP=198.19.0.1
LAB_VIP=198.18.0.100
LAB_HTTP_PORT=80
LAB_UDP_PORT=5353

lab_rs_ip() { echo "198.19.0.1$1"; }

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
    local ns=$1
    ip netns add "$ns"
    # Before any interface exists, so that new ones inherit "default" too.
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    ip -n "$ns" link set lo up
}

# Any process inside the lab's namespaces is the lab's (real servers, a director, a client).
_lab_kill_ns_processes() {
    local ns pids=() alive=() i p
    for ns in "${LAB_NAMESPACES[@]}"; do
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
    for ns in "${LAB_NAMESPACES[@]}"; do
        [[ -e /run/netns/$ns ]] && ip netns del "$ns" 2>/dev/null
    done
    rm -f "$LAB_DIR"/rs*.pid
    return 0
}

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
    pid=$(_lab_rs_pid "$n") || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 30); do
        kill -0 "$pid" 2>/dev/null || { rm -f "$LAB_DIR/rs$n.pid"; return 0; }
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    rm -f "$LAB_DIR/rs$n.pid"
}

# The body runs in a subshell with errexit, so a failed step stops it wherever it was called from.
_lab_up_body() (
    set -euo pipefail
    local ns n
    for ns in "${LAB_NAMESPACES[@]}"; do _lab_ns_init "$ns"; done

    ip -n fl-client link add cli-eth type veth peer name dir-ext netns fl-dir
    ip -n fl-sw link add sw-dir type veth peer name dir-int netns fl-dir
    ip -n fl-sw link add br0 type bridge stp_state 0 forward_delay 0
    for n in "${LAB_RS[@]}"; do
        ip -n fl-sw link add "sw-rs$n" type veth peer name "rs$n-eth" netns "fl-rs$n"
    done

    # The client.
    _lab_offloads_off fl-client cli-eth
    ip -n fl-client addr add "$LAB_CLIENT_IP/24" dev cli-eth
    ip -n fl-client link set cli-eth up
    ip -n fl-client route add default via "$LAB_DIR_EXT_IP"

    # The director's namespace: interfaces up, no addresses, so the kernel stays out of the way.
    for dev in dir-ext dir-int; do
        ip netns exec fl-dir sysctl -qw "net.ipv6.conf.$dev.disable_ipv6=1"
        _lab_offloads_off fl-dir "$dev"
        ip -n fl-dir link set "$dev" up
    done

    # The switch.
    for dev in sw-dir sw-rs1 sw-rs2 sw-rs3; do
        _lab_offloads_off fl-sw "$dev"
        ip -n fl-sw link set "$dev" master br0
        ip -n fl-sw link set "$dev" up
    done
    _lab_offloads_off fl-sw br0
    ip -n fl-sw link set br0 up

    # The real servers.
    for n in "${LAB_RS[@]}"; do
        _lab_offloads_off "fl-rs$n" "rs$n-eth"
        ip -n "fl-rs$n" addr add "$(lab_rs_ip "$n")/24" dev "rs$n-eth"
        ip -n "fl-rs$n" link set "rs$n-eth" up
        ip -n "fl-rs$n" route add default via "$LAB_DIR_INT_IP"
    done
)

lab_up() {
    lab_down
    mkdir -p "$LAB_DIR"
    rm -f "$LAB_DIR"/rs*.log
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

_lab_usage() {
    echo "usage: $0 up | down | status | rs-stop N | rs-start N" >&2
    return 2
}

lab_main() {
    [[ $(id -u) == 0 ]] || { _lab_log "must run as root"; return 1; }
    case ${1:-} in
        up) lab_up ;;
        down) lab_down ;;
        status) lab_status ;;
        rs-start | rs-stop)
            [[ ${2:-} =~ ^[123]$ ]] || { _lab_usage; return; }
            if [[ $1 == rs-start ]]; then lab_rs_start "$2"; else lab_rs_stop "$2"; fi ;;
        standin) shift; lab_standin "$@" ;;
        standin-off) lab_standin_off ;;
        *) _lab_usage ;;
    esac
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    lab_main "$@"
fi
