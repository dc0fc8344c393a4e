#!/usr/bin/env bash
# Reproduces docs/performance.md: reserves hugepages, runs fulcrum-bench (the dataplane and its
# macswap baseline, the connection-index comparison) and, for scale, dpdk-testpmd's macswap on
# two net_null ports, all on this machine in one go. Bounded: each part stops by itself.
#   bash tests/bench/run.sh [--flows "1000 1000000 10000000"] [--packets N] [--repeat N]
set -euo pipefail
cd "$(dirname "$0")/../.."

flows="1000 1000000 10000000"
packets=20000000
repeat=5
while (($#)); do
    case $1 in
        --flows) flows=$2; shift 2 ;;
        --packets) packets=$2; shift 2 ;;
        --repeat) repeat=$2; shift 2 ;;
        *) echo "usage: $0 [--flows LIST] [--packets N] [--repeat N]" >&2; exit 2 ;;
    esac
done

bash tests/setup.sh
# 2 MB pages: 10 M connections take 1.4 GB, the pools and the FIB a few hundred MB more.
want=3072
have=$(cat /proc/sys/vm/nr_hugepages)
((have >= want)) || echo "$want" > /proc/sys/vm/nr_hugepages
mountpoint -q /dev/hugepages || { mkdir -p /dev/hugepages; mount -t hugetlbfs nodev /dev/hugepages; }

echo "== machine"
echo "$(nproc) CPUs: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'); $(free -g | awk '/Mem:/ {print $2}') GB; kernel $(uname -r); $(date -u +%F)"
echo "hugepages: $(cat /proc/sys/vm/nr_hugepages) x 2 MB"

echo "== fulcrum-bench (one core; -O3; hugepages)"
# shellcheck disable=SC2086
timeout 1800 build/tests/fulcrum-bench --flows $flows --packets "$packets" --repeat "$repeat" -- \
    --file-prefix fulcrum-bench --no-pci --vdev net_null0 --vdev net_null1 --lcores 0@0 \
    --log-level error -m 4096

echo "== dpdk-testpmd --forward-mode=macswap, two net_null,copy=1 ports, one forwarding core"
if ! command -v dpdk-testpmd >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dpdk-dev >/dev/null
fi
out=$(mktemp)
timeout -s INT 14 dpdk-testpmd -l 0,1 -m 1024 --no-pci --file-prefix fulcrum-testpmd \
    --vdev net_null0,copy=1 --vdev net_null1,copy=1 --log-level error -- \
    --forward-mode=macswap --auto-start --stats-period 3 --total-num-mbufs=16384 >"$out" 2>&1 || true
grep -E "Rx-pps" "$out" | tail -2
rm -f "$out"
