#!/usr/bin/env python3
"""Checks the include rules between Fulcrum's parts (docs/architecture.md, "Who may include what").

    tests/tools/check_includes.py [SRC]     check the tree under SRC (default: the repository's src/)
    tests/tools/check_includes.py --self-test

A rule names the files it governs and what they may not reach: a project header outside the parts
they may use, or DPDK, directly or through any project header they include. Prints one line per
broken rule with the include chain, and exits 1 if there is any. --self-test runs the rules over
small trees written for the purpose, one that keeps them and some that break one each, and exits 1
unless exactly the broken ones are reported.
"""
import fnmatch
import os
import re
import sys
import tempfile

INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]', re.M)

# (name, the files it governs (globs under src/), project includes they may not reach (globs),
#  whether DPDK is forbidden (directly or through project headers))
RULES = [
    ("the dataplane does not include the control plane",
     ["dataplane/*"], ["control/*"], False),
    ("the schedulers include nothing of the project outside src/sched",
     ["sched/*"], ["dataplane/*", "control/*"], False),
    ("the configuration is plain C++: no DPDK, nothing of the control plane's other parts",
     ["control/config.*", "control/config_yaml.*"],
     ["control/console*", "control/control_*", "control/health*", "control/kernel_*", "control/metrics*",
      "control/snapshot_builder*", "control/ipvsadm_format*"], True),
    ("the console and the ipvsadm formats reach the director only through ControlApi, without DPDK",
     ["control/console*", "control/ipvsadm_format.*", "control/worker_status.*", "control/control_api.hpp"],
     ["control/control_loop.hpp", "control/metrics*", "control/kernel_*", "control/snapshot_builder*"], True),
    ("health checks use kernel sockets, not DPDK",
     ["control/health.*"], ["control/control_loop.hpp"], True),
    ("only main and the director itself include the director",
     ["*"], ["control/control_loop.hpp"], False),
]
# Files a rule does not govern although its globs match them.
EXEMPT = {
    "only main and the director itself include the director": ["control/main.cpp", "control/control_loop.*"],
}


def is_dpdk(system_header):
    return system_header.startswith("rte_") or system_header.startswith("dpdk/")


def read_includes(src):
    """{path under src: ([project includes], [system includes])} for every .cpp and .hpp."""
    out = {}
    for root, _, files in os.walk(src):
        for name in files:
            if not name.endswith((".cpp", ".hpp", ".h")):
                continue
            path = os.path.join(root, name)
            rel = os.path.relpath(path, src)
            with open(path, errors="replace") as f:
                text = f.read()
            project, system = [], []
            for kind, target in INCLUDE.findall(text):
                (project if kind == '"' else system).append(target)
            out[rel] = (project, system)
    return out


def chains(includes, start):
    """Every project file reachable from `start` by includes, with the chain that reaches it."""
    seen = {start: [start]}
    todo = [start]
    while todo:
        path = todo.pop()
        for target in includes.get(path, ([], []))[0]:
            if target in includes and target not in seen:
                seen[target] = seen[path] + [target]
                todo.append(target)
    return seen


def check(src):
    includes = read_includes(src)
    problems = []
    for name, governed, forbidden, no_dpdk in RULES:
        exempt = EXEMPT.get(name, [])
        for path in sorted(includes):
            if not any(fnmatch.fnmatch(path, g) for g in governed) or any(fnmatch.fnmatch(path, e) for e in exempt):
                continue
            reach = chains(includes, path)
            for target, chain in sorted(reach.items()):
                if target != path and any(fnmatch.fnmatch(target, g) for g in forbidden) and \
                        not any(fnmatch.fnmatch(target, g) for g in governed):
                    problems.append(f"{path}: {name}: reaches {target} ({' -> '.join(chain)})")
                    break
            if no_dpdk:
                for target, chain in sorted(reach.items()):
                    dpdk = [h for h in includes[target][1] if is_dpdk(h)]
                    if dpdk:
                        problems.append(f"{path}: {name}: reaches DPDK <{dpdk[0]}> ({' -> '.join(chain)})")
                        break
    return problems


def self_test():
    clean = {
        "dataplane/pipeline.cpp": '#include <rte_mbuf.h>\n#include "dataplane/nat.hpp"\n',
        "dataplane/nat.hpp": '#include "sched/scheduler.hpp"\n',
        "sched/scheduler.hpp": "#include <vector>\n",
        "control/config.hpp": '#include "dataplane/types.hpp"\n',
        "dataplane/types.hpp": "#include <string>\n",
        "control/console.cpp": '#include "control/control_api.hpp"\n',
        "control/control_api.hpp": '#include "control/config.hpp"\n',
        "control/control_loop.hpp": '#include <rte_timer.h>\n#include "control/control_api.hpp"\n',
        "control/main.cpp": '#include "control/control_loop.hpp"\n',
        "control/health.cpp": '#include <sys/socket.h>\n#include "control/config.hpp"\n',
    }
    broken = {
        "a dataplane file including the control plane":
            ("dataplane/nat.hpp", '#include "control/config.hpp"\n'),
        "a scheduler including the dataplane": ("sched/scheduler.hpp", '#include "dataplane/types.hpp"\n'),
        "DPDK reached by the configuration through a header": ("dataplane/types.hpp", "#include <rte_ether.h>\n"),
        "the console including the director": ("control/console.cpp", '#include "control/control_loop.hpp"\n'),
        "health checks including DPDK": ("control/health.cpp", "#include <rte_mbuf.h>\n"),
    }
    failures = []

    def run(files):
        with tempfile.TemporaryDirectory() as d:
            for path, text in files.items():
                os.makedirs(os.path.join(d, os.path.dirname(path)), exist_ok=True)
                with open(os.path.join(d, path), "w") as f:
                    f.write(text)
            return check(d)

    found = run(clean)
    if found:
        failures.append(f"the clean tree was reported: {found}")
    for what, (path, text) in broken.items():
        files = dict(clean)
        files[path] = text + files.get(path, "")
        found = run(files)
        if not found:
            failures.append(f"not reported: {what}")
        else:
            print(f"reported, as it must be: {what}: {found[0]}")
    for f in failures:
        print("FAIL " + f)
    print(f"self-test: {len(broken) + 1 - len(failures)} of {len(broken) + 1} cases as expected")
    return 1 if failures else 0


def main():
    if sys.argv[1:] == ["--self-test"]:
        return self_test()
    src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..", "src")
    problems = check(src)
    for p in problems:
        print(p)
    print(f"include rules: {len(RULES)} rules, {len(problems)} broken")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
