#!/usr/bin/env bash
# Installs what Fulcrum's build, lab and tests need on Debian 12, then builds into build/.
# Idempotent: apt runs only when a package is missing; `meson setup` only when build/ is not set up.
# With CI=true, warnings are errors.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
    # build
    g++ meson ninja-build pkg-config
    libdpdk-dev dpdk libyaml-cpp-dev libfmt-dev libboost-program-options-dev libgtest-dev
    # lab and tests
    iproute2 ethtool iputils-ping procps util-linux python3 curl tcpdump socat
    # high availability: VRRP (tests/e2e/test_ha.py); BGP for route announcement (test_announce.py)
    keepalived bird2
    # ldirectord driving fulcrumadm as ipvsadm; dpdk-dumpcap (in dpdk-dev) capturing from the director
    ldirectord dpdk-dev
)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    [[ $(id -u) == 0 ]] || { echo "setup: missing ${missing[*]}; run as root to install them" >&2; exit 1; }
    echo "setup: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

werror=false
[[ ${CI:-} == true ]] && werror=true
if [[ ! -f build/build.ninja ]]; then
    meson setup build -Dwerror="$werror" >/dev/null
elif [[ $werror == true ]]; then
    meson configure build -Dwerror=true >/dev/null
fi
ninja -C build --quiet
