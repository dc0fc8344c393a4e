#!/usr/bin/env bash
# Everything: set-up and build, the unit tests (meson), the sanitizer build with its unit tests and
# fuzz targets (tests/fuzz/run.sh), then every end-to-end test in tests/e2e/, and one of them again
# with the sanitizer-built director.
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

# Counts the PASS and FAIL lines of a step's output (in $out/step.txt) and its exit code.
count_step() {
    local name=$1 rc=$2 p f
    p=$(grep -c '^PASS ' "$out/step.txt")
    f=$(grep -c '^FAIL ' "$out/step.txt")
    if ((rc != 0 && f == 0)); then
        echo "FAIL $name: exited $rc without a FAIL line"
        f=1
    fi
    passed=$((passed + p))
    failed=$((failed + f))
}

echo "== sanitizers and fuzzing (tests/fuzz/run.sh, ${FUZZ_SECONDS:=30} s a target)"
for step in build unit "fuzz $FUZZ_SECONDS"; do
    # shellcheck disable=SC2086
    timeout -k 10 1800 bash tests/fuzz/run.sh $step 2>&1 | tee "$out/step.txt"
    count_step "tests/fuzz/run.sh $step" "${PIPESTATUS[0]}"
done

for t in tests/e2e/test_*.py tests/e2e/test_*.sh; do
    [[ -e $t ]] || continue
    echo "== e2e $t"
    case $t in
        *.py) timeout -k 10 900 /usr/bin/python3 "$t" ;;
        *.sh) timeout -k 10 900 bash "$t" ;;
    esac 2>&1 | tee "$out/step.txt"
    count_step "$t" "${PIPESTATUS[0]}"
done

# One lab test again with the director built with AddressSanitizer and UBSan: real traffic
# through the real binary, where the unit tests and fuzzers use the stages alone.
if [[ -x build-sanitize/fulcrum ]]; then
    echo "== e2e tests/e2e/test_nat.py with the sanitizer-built director"
    FULCRUM_BIN=build-sanitize/fulcrum ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1 \
        timeout -k 10 900 /usr/bin/python3 tests/e2e/test_nat.py 2>&1 | sed 's/^\(PASS\|FAIL\) /\1 sanitized_/' | tee "$out/step.txt"
    count_step "test_nat.py with the sanitizer-built director" "${PIPESTATUS[0]}"
fi

bash tests/lab/lab.sh down >/dev/null 2>&1
echo "$passed passed, $failed failed"
((failed == 0))
