#!/usr/bin/env bash
# The mutation check (docs/testing.md): every mutation in tests/mutation/mutations.txt, one at a
# time, on a copy of the tree in /tmp/fulcrum-mutation, against the unit tests. Rebuilds many
# times: run it on demand, not in CI. Arguments go to run.py (--only NAME,..., --list).
set -euo pipefail
cd "$(dirname "$0")/../.."
exec /usr/bin/python3 tests/mutation/run.py "$@"
