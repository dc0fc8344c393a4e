#!/usr/bin/env python3
"""Applies each mutation of tests/mutation/mutations.txt, one at a time, to a copy of the tree,
rebuilds the unit tests there and runs them. A mutation is killed when a unit test fails (or
times out), survived when they all pass, and stillborn when it does not apply or does not build.

    tests/mutation/run.py [--only NAME[,NAME...]] [--work DIR] [--list] [--check-list]

--check-list only checks that every mutation still applies to the tree as it is (its file exists
and holds its `from` line the `nth` time), which the unit tests run so that the list follows code
that moves.

Prints one line per mutation and a total; exits 0 only when every mutation was killed.
"""
import argparse
import os
import shutil
import subprocess
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
UNIT_TARGETS = ["tests/test_config", "tests/test_sched", "tests/test_dataplane", "tests/test_tcp_state",
                "tests/test_maglev", "tests/test_console", "tests/test_health", "tests/test_sync", "tests/test_import"]


def parse_mutations(path):
    mutations, current = [], None
    with open(path) as f:
        for number, raw in enumerate(f, 1):
            line = raw.rstrip("\n")
            if line.startswith("#") or (not line.strip() and current is None):
                continue
            if line.startswith("== "):
                name, _, what = line[3:].partition(": ")
                current = {"name": name.strip(), "what": what.strip(), "nth": 1, "line": number}
                mutations.append(current)
            elif current is not None and line.startswith("file: "):
                current["file"] = line[len("file: "):].strip()
            elif current is not None and line.startswith("nth: "):
                current["nth"] = int(line[len("nth: "):])
            elif current is not None and line.startswith("from: "):
                current["from"] = line[len("from: "):]
            elif current is not None and line.startswith("to:"):
                current["to"] = line[len("to: "):] if line.startswith("to: ") else ""
            elif line.strip():
                sys.exit(f"{path}:{number}: cannot read {line!r}")
    names = set()
    for m in mutations:
        for key in ("file", "from", "to"):
            if key not in m:
                sys.exit(f"{path}:{m['line']}: mutation {m['name']} has no {key}:")
        if m["name"] in names:
            sys.exit(f"{path}:{m['line']}: mutation {m['name']} is listed twice")
        names.add(m["name"])
    return mutations


def run(command, cwd, timeout, log):
    with open(log, "w") as out:
        try:
            return subprocess.run(command, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, timeout=timeout).returncode
        except subprocess.TimeoutExpired:
            return "timeout"


def build_and_test(tree, log_prefix):
    """'built' and the test result: 0 all passed, anything else a failure."""
    if run(["ninja", "-C", "build", *UNIT_TARGETS], tree, 1800, log_prefix + ".build.log") != 0:
        return False, None
    # Not the list's own check: a mutated tree no longer holds the mutation's `from` line, so
    # that test fails for every mutation and would count each as killed.
    return True, run(["meson", "test", "-C", "build", "--no-rebuild", "--print-errorlogs", "--no-suite", "mutation-list"],
                     tree, 600, log_prefix + ".test.log")


def check_list(mutations):
    """0 when every mutation's line is in its file as often as its nth says; 1, naming each that is
    not, otherwise."""
    broken = []
    for m in mutations:
        path = os.path.join(TOP, m["file"])
        if not os.path.isfile(path):
            broken.append(f"{m['name']}: {m['file']} does not exist")
            continue
        found = sum(1 for line in open(path).read().split("\n") if line == m["from"])
        if found < m["nth"]:
            broken.append(f"{m['name']}: {m['file']} holds its line {found} time(s), it needs {m['nth']}")
    for b in broken:
        print(b)
    print(f"{len(mutations)} mutations, {len(broken)} no longer apply")
    return 1 if broken else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", help="comma-separated mutation names")
    parser.add_argument("--work", default="/tmp/fulcrum-mutation", help="where the copy and its build go")
    parser.add_argument("--list", action="store_true", help="list the mutations and stop")
    parser.add_argument("--check-list", action="store_true",
                        help="check that every mutation applies to the tree, and stop")
    args = parser.parse_args()

    mutations = parse_mutations(os.path.join(TOP, "tests/mutation/mutations.txt"))
    if args.only:
        wanted = set(args.only.split(","))
        unknown = wanted - {m["name"] for m in mutations}
        if unknown:
            sys.exit(f"unknown mutations: {', '.join(sorted(unknown))}")
        mutations = [m for m in mutations if m["name"] in wanted]
    if args.list:
        for m in mutations:
            print(f"{m['name']}: {m['what']} ({m['file']})")
        return 0
    if args.check_list:
        return check_list(mutations)

    # A copy of the tree as git sees it (tracked and untracked files, not ignored ones), so the
    # working tree is never touched.
    tree = os.path.join(args.work, "tree")
    logs = os.path.join(args.work, "logs")
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=TOP, check=True,
                           capture_output=True).stdout.decode().split("\0")
    os.makedirs(tree, exist_ok=True)
    os.makedirs(logs, exist_ok=True)
    for name in filter(None, files):
        source = os.path.join(TOP, name)
        if not os.path.isfile(source):
            continue
        target = os.path.join(tree, name)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        # Only changed files are copied, so that a second run rebuilds little; a copy gets a new
        # modification time, so that ninja never takes an older object for it.
        if not os.path.exists(target) or open(source, "rb").read() != open(target, "rb").read():
            shutil.copyfile(source, target)
            shutil.copymode(source, target)
    if not os.path.exists(os.path.join(tree, "build", "build.ninja")):
        subprocess.run(["meson", "setup", "build"], cwd=tree, check=True, stdout=subprocess.DEVNULL)

    started = time.monotonic()
    built, result = build_and_test(tree, os.path.join(logs, "baseline"))
    if not built or result != 0:
        print(f"baseline: the unmutated tree does not {'pass its unit tests' if built else 'build'} "
              f"(logs in {logs})")
        return 2
    print(f"baseline: unit tests pass ({time.monotonic() - started:.0f} s)", flush=True)

    counts = {"killed": 0, "survived": 0, "stillborn": 0}
    for m in mutations:
        path = os.path.join(tree, m["file"])
        original = open(path).read()
        lines = original.split("\n")
        places = [i for i, line in enumerate(lines) if line == m["from"]]
        if len(places) < m["nth"]:
            verdict, detail = "stillborn", f"line not found {m['nth']} time(s) in {m['file']}"
        else:
            at = places[m["nth"] - 1]
            if m["to"]:
                lines[at] = m["to"]
            else:
                del lines[at]
            with open(path, "w") as f:
                f.write("\n".join(lines))
            t0 = time.monotonic()
            try:
                built, result = build_and_test(tree, os.path.join(logs, m["name"]))
            finally:
                with open(path, "w") as f:
                    f.write(original)
            if not built:
                verdict, detail = "stillborn", "does not build"
            elif result == 0:
                verdict, detail = "survived", "every unit test passed"
            else:
                verdict, detail = "killed", "timeout" if result == "timeout" else "unit tests failed"
            detail += f", {time.monotonic() - t0:.0f} s"
        counts[verdict] += 1
        print(f"{verdict:9} {m['name']}: {m['what']} ({m['file']}; {detail})", flush=True)

    # Leave the copy's build matching the unmutated tree for the next run.
    build_and_test(tree, os.path.join(logs, "restored"))
    total = len(mutations)
    print(f"{counts['killed']} killed, {counts['survived']} survived, {counts['stillborn']} stillborn "
          f"of {total} mutations ({time.monotonic() - started:.0f} s)")
    return 0 if counts["killed"] == total else 1


if __name__ == "__main__":
    sys.exit(main())
