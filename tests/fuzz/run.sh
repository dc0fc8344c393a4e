#!/usr/bin/env bash
# The sanitizer build and the fuzz targets (docs/testing.md), in build-sanitize/: clang 14 with
# AddressSanitizer and UndefinedBehaviorSanitizer, the code instrumented for libFuzzer.
#   bash tests/fuzz/run.sh build          set up and build (installs clang-14 and libFuzzer)
#   bash tests/fuzz/run.sh unit           the unit tests, built with the sanitizers
#   bash tests/fuzz/run.sh fuzz [SECONDS] each target from its checked-in corpus, SECONDS each
#                                         (default $FUZZ_SECONDS, else 30)
# Prints PASS/FAIL lines; exits non-zero if anything failed. A crash's input is kept in
# $FUZZ_ARTIFACTS (default /tmp/fulcrum-fuzz) and becomes a unit test.
set -uo pipefail
cd "$(dirname "$0")/../.."
dir=build-sanitize

build() {
    local missing=()
    for p in clang-14 libfuzzer-14-dev; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if ((${#missing[@]})); then
        echo "fuzz: installing ${missing[*]}"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
            { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }
    fi
    if [[ ! -f $dir/build.ninja ]]; then
        # DPDK's headers warn under clang (-Wdeprecated-volatile); they are system headers here, and
        # warnings are not errors in this build. Alignment reports would come from DPDK's packed
        # headers read in place, which x86 allows: that check is left out.
        CC=clang-14 CXX=clang++-14 meson setup "$dir" -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false \
            -Dbuildtype=debugoptimized -Dcpp_args="-fsanitize=fuzzer-no-link -fno-sanitize=alignment -fno-sanitize-recover=undefined" \
            -Dcpp_link_args="-fno-sanitize=alignment" >/dev/null || return 1
    fi
    ninja -C "$dir" --quiet
}

export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

case ${1:-} in
build)
    if build; then echo "PASS sanitize_build"; else echo "FAIL sanitize_build"; exit 1; fi
    ;;
unit)
    if meson test -C "$dir" --no-rebuild --print-errorlogs --timeout-multiplier 4 >/tmp/fulcrum-sanitize-unit.txt 2>&1; then
        echo "PASS sanitize_unit: $(grep -c ' OK ' /tmp/fulcrum-sanitize-unit.txt) suites under ASan and UBSan"
    else
        grep -E "FAIL|ERROR|runtime error" /tmp/fulcrum-sanitize-unit.txt | head -20
        echo "FAIL sanitize_unit (log: /tmp/fulcrum-sanitize-unit.txt)"
        exit 1
    fi
    ;;
fuzz)
    seconds=${2:-${FUZZ_SECONDS:-30}}
    artifacts=${FUZZ_ARTIFACTS:-/tmp/fulcrum-fuzz}
    mkdir -p "$artifacts"
    failed=0
    for target in pipeline config console http netlink sync; do
        work=$(mktemp -d /tmp/fulcrum-fuzz-corpus.XXXXXX)
        # New inputs go to the scratch corpus; the checked-in seeds are read only.
        "$dir/tests/fuzz/fuzz_$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
            -artifact_prefix="$artifacts/$target-" "$work" "tests/fuzz/corpus/$target" >"$artifacts/$target.log" 2>&1
        rc=$?
        runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$artifacts/$target.log" | grep -o '[0-9]*$')
        if ((rc == 0)); then
            echo "PASS fuzz_$target: ${runs:-?} inputs in ${seconds} s"
        else
            grep -E "ERROR|runtime error|fuzz_pipeline:|deadly signal" "$artifacts/$target.log" | head -5
            echo "FAIL fuzz_$target: exit $rc after ${runs:-?} inputs (log and input in $artifacts)"
            failed=1
        fi
        rm -rf "$work"
    done
    exit $failed
    ;;
*)
    echo "usage: $0 build | unit | fuzz [SECONDS]" >&2
    exit 2
    ;;
esac
