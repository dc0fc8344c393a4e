#!/usr/bin/env bash
# The time from SIGHUP to a published snapshot for a file of 1000 services with 10 real servers
# each (docs/performance.md). The director runs on two net_null ports (no lab, no hugepages); the
# figure is the director's own log line "reload of ... published in N ms", median of 5 reloads.
#   bash tests/bench/reload_bench.sh [SERVICES] [REAL_SERVERS]
set -euo pipefail
cd "$(dirname "$0")/../.."
services=${1:-1000}
per_service=${2:-10}
dir=$(mktemp -d /tmp/fulcrum-reload.XXXXXX)
pid=""
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
conf=$dir/big.yaml
/usr/bin/python3 - "$services" "$per_service" "$conf" <<'PY'
import sys
services, per, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
with open(path, "w") as f:
    f.write('dataplane:\n  workers: 1\n  conn_table_size: 65536\n  eal: ["--no-huge", "-m", "1024", "--file-prefix", "fulcrum-reload", "--log-level", "error"]\n')
    f.write('console: { listen: "" }\n')
    f.write('interfaces:\n  - { name: ext, device: net_null0, address: 198.18.0.1/16 }\n')
    f.write('  - { name: int, device: net_null1, address: 198.19.0.1/16 }\n')
    f.write("services:\n")
    for s in range(services):
        f.write(f"  - vip: 198.18.{100 + s // 250}.{s % 250 + 1}\n    port: 80\n    protocol: tcp\n    scheduler: wlc\n    real_servers:\n")
        for r in range(per):
            f.write(f"      - {{ address: 198.19.{1 + s // 25}.{(s % 25) * 10 + r + 1}, port: 8080, weight: {1 + r % 3} }}\n")
PY
build/fulcrum --config "$conf" --check
build/fulcrum --config "$conf" >"$dir/log" 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q "running with" "$dir/log" && break; sleep 0.2; done
grep -q "running with" "$dir/log" || { cat "$dir/log"; exit 1; }
for i in 1 2 3 4 5; do
    kill -HUP "$pid"
    for _ in $(seq 100); do [ "$(grep -c 'published in' "$dir/log")" -ge "$i" ] && break; sleep 0.1; done
done
echo "$services services x $per_service real servers:"
grep -o 'published in .*' "$dir/log"
grep -o 'published in [0-9.]*' "$dir/log" | awk '{print $3}' | sort -n | awk '{a[NR]=$1} END {print "median:", a[int((NR+1)/2)], "ms"}'
