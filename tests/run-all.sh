#!/usr/bin/env bash
# Everything: set-up and build, the unit tests (meson), then every end-to-end test in tests/e2e/.
# Counts meson test suites and e2e checks; the last line is "N passed, N failed"; exits 1 if any failed.
# Logs of the e2e lab: $FULCRUM_LAB_DIR (default /tmp/fulcrum-lab).
set -uo pipefail
cd "$(dirname "$0")/.."

passed=0
failed=0
out=$(mktemp -d /tmp/fulcrum-run-all.XXXXXX)
trap 'bash tests/lab/lab.sh down >/dev/null 2>&1; rm -rf "$out"' EXIT
trap 'exit 130' INT TERM

echo "== setup and build"
if ! bash tests/setup.sh; then
    echo "FAIL setup: tests/setup.sh failed (the unit tests below will try to build again)"
    failed=$((failed + 1))
fi

echo "== unit tests (meson test)"
timeout -k 10 1200 meson test -C build --print-errorlogs 2>&1 | tee "$out/meson.txt"
rc=${PIPESTATUS[0]}
# Meson's summary: "Ok: N", "Expected Fail: N", "Fail: N", "Unexpected Pass: N", "Timeout: N".
read -r ok bad < <(awk -F: '
    /^Ok:/ || /^Expected Fail:/ { ok += $2 }
    /^Fail:/ || /^Unexpected Pass:/ || /^Timeout:/ { bad += $2; seen = 1 }
    END { print ok + 0, (seen ? bad + 0 : -1) }' "$out/meson.txt")
if ((bad < 0)); then
    echo "FAIL unit: meson test exited $rc without a summary (build failure?)"
    bad=1
elif ((rc != 0 && bad == 0)); then
    echo "FAIL unit: meson test exited $rc"
    bad=1
fi
passed=$((passed + ok))
failed=$((failed + bad))

for t in tests/e2e/test_*.py tests/e2e/test_*.sh; do
    [[ -e $t ]] || continue
    echo "== e2e $t"
    case $t in
        *.py) timeout -k 10 900 /usr/bin/python3 "$t" ;;
        *.sh) timeout -k 10 900 bash "$t" ;;
    esac 2>&1 | tee "$out/e2e.txt"
    rc=${PIPESTATUS[0]}
    p=$(grep -c '^PASS ' "$out/e2e.txt")
    f=$(grep -c '^FAIL ' "$out/e2e.txt")
    if ((rc != 0 && f == 0)); then
        echo "FAIL $t: exited $rc without a FAIL line"
        f=1
    fi
    passed=$((passed + p))
    failed=$((failed + f))
done

bash tests/lab/lab.sh down >/dev/null 2>&1
echo "$passed passed, $failed failed"
((failed == 0))
