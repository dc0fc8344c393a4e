#!/usr/bin/env bash
# The demo: builds Fulcrum, brings up the veth lab, runs the director on conf/lab-nat.yaml and sends
# HTTP requests, UDP datagrams and pings from the client (fl-client) to the VIP 198.18.0.100.
# The lab is always torn down on exit. Run as root: bash tests/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
CONF=${1:-conf/lab-nat.yaml}

# shellcheck source=lab/lab.sh
source tests/lab/lab.sh

if [[ -t 1 ]]; then
    bold() { printf '\n\033[1m%s\033[0m\n' "$*"; }
else
    bold() { printf '\n== %s\n' "$*"; }
fi
in_client() { ip netns exec fl-client "$@"; }
# kill -0 also succeeds on a child that has exited but is not yet reaped (a zombie).
alive() { local s; s=$(ps -o stat= -p "$1" 2>/dev/null) && [[ $s != Z* ]]; }

director_pid=""
cleanup() {
    if [[ -n $director_pid ]] && alive "$director_pid"; then
        kill -TERM "$director_pid" 2>/dev/null || true
        for _ in $(seq 50); do alive "$director_pid" || break; sleep 0.1; done
    fi
    lab_down
    [[ -n ${lock_fd:-} ]] && exec {lock_fd}>&- || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

bold "Building (tests/setup.sh)"
bash tests/setup.sh

fulcrum=${FULCRUM_BIN:-}
for candidate in build/fulcrum build/src/control/fulcrum; do
    [[ -z $fulcrum && -x $candidate ]] && fulcrum=$REPO/$candidate
done
[[ -n $fulcrum ]] || { echo "demo: no director binary (build/fulcrum)" >&2; exit 1; }

# One lab user at a time (the e2e tests take the same lock).
mkdir -p /run/lock
exec {lock_fd}>/run/lock/fulcrum-lab.lock
flock -w 300 "$lock_fd" || { echo "demo: the lab is busy (another test or demo)" >&2; exit 1; }

bold "Bringing up the lab (tests/lab/lab.sh up)"
lab_up
lab_status | sed 's/^/  /' || true

log=$LAB_DIR/director-demo.log
if [[ ${FULCRUM_LAB_KERNEL_STANDIN:-0} == 1 ]]; then
    bold "Kernel stand-in instead of the director (FULCRUM_LAB_KERNEL_STANDIN=1)"
else
    bold "Starting the director: ip netns exec fl-dir $fulcrum --config $CONF"
    # `ip netns exec` execs the director in place, so $! is the director's pid.
    ip netns exec fl-dir "$fulcrum" --config "$CONF" >"$log" 2>&1 </dev/null &
    director_pid=$!
fi

printf 'Waiting for the VIP to answer'
ready=0
for _ in $(seq 60); do
    if [[ -n $director_pid ]] && ! alive "$director_pid"; then
        echo; echo "demo: the director exited; its log ($log):" >&2
        tail -n 20 "$log" >&2
        exit 1
    fi
    if in_client curl -s -o /dev/null -m 1 "http://$LAB_VIP/"; then ready=1; break; fi
    printf '.'
    sleep 0.5
done
echo
((ready)) || { echo "demo: the VIP did not answer within 30 s; director log: $log" >&2; tail -n 20 "$log" >&2; exit 1; }

bold "12 HTTP requests to http://$LAB_VIP/ (a new connection each)"
for i in $(seq 12); do
    answer=$(in_client curl -s -m 3 "http://$LAB_VIP/" || echo "(no answer)")
    printf '  request %2d -> %s\n' "$i" "$answer"
done

bold "3 UDP datagrams to $LAB_VIP:$LAB_UDP_PORT (a new source port each)"
for i in 1 2 3; do
    answer=$(printf 'datagram %d' "$i" | in_client timeout 5 socat -T 2 - "UDP:$LAB_VIP:$LAB_UDP_PORT" || true)
    printf '  datagram %d -> %s\n' "$i" "${answer:-(no answer)}"
done

bold "1 MB download, checked against the pattern"
in_client /usr/bin/python3 tests/e2e/client.py --timeout 5 download --size 1048576 | sed 's/^/  /' || true

bold "ping $LAB_DIR_EXT_IP (the director) and $LAB_VIP (the VIP)"
in_client ping -n -c 3 -i 0.2 -W 1 -w 5 "$LAB_DIR_EXT_IP" | sed 's/^/  /' || true
in_client ping -n -c 3 -i 0.2 -W 1 -w 5 "$LAB_VIP" | sed 's/^/  /' || true

if [[ -n $director_pid ]]; then
    bold "The exception path: the director's kernel reaches real server rs1 ($(lab_rs_ip 1)) through fl-int"
    ip -n fl-dir -br addr show | sed 's/^/  /' || true
    ip netns exec fl-dir ping -n -c 3 -i 0.2 -W 1 -w 5 "$(lab_rs_ip 1)" | sed 's/^/  /' || true
fi

if [[ -n $director_pid ]]; then
    bold "Stopping the director (SIGTERM)"
    kill -TERM "$director_pid"
    for _ in $(seq 150); do alive "$director_pid" || break; sleep 0.1; done
    if alive "$director_pid"; then
        kill -KILL "$director_pid" 2>/dev/null || true
        echo "  still running 15 s after SIGTERM: killed"
    fi
    rc=0
    wait "$director_pid" || rc=$?
    director_pid=""
    echo "  exit status: $rc"
    echo "  counters (the director's last log lines with key=value):"
    grep -E '[A-Za-z_]+=[0-9]+' "$log" | tail -n 20 | sed 's/^/    /' || echo "    (none)"
fi

bold "Tearing the lab down"
