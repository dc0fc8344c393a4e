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
    ("common/ is the shared vocabulary: plain C++, nothing of the project outside it",
     ["common/*"], ["dataplane/*", "sched/*", "control/*"], True),
    ("the dataplane does not include the control plane",
     ["dataplane/*"], ["control/*"], False),
    ("the schedulers include nothing of the project outside src/sched",
     ["sched/*"], ["common/*", "dataplane/*", "control/*"], False),
    ("config/ is plain C++: no DPDK, nothing of runtime/, director/, frontends/, health/ or kernel/",
     ["control/config/*"],
     ["control/runtime/*", "control/director/*", "control/frontends/*", "control/health/*", "control/kernel/*"], True),
    ("frontends/ reach the director only through ControlApi: no dataplane, no DPDK, no director/",
     ["control/frontends/*"],
     ["dataplane/*", "control/director/*", "control/runtime/*", "control/kernel/*", "control/health/*"], True),
    ("health checks use kernel sockets: no DPDK, no dataplane",
     ["control/health/*"], ["dataplane/*", "control/director/*", "control/runtime/*", "control/frontends/*"], True),
    ("kernel/ speaks rtnetlink and sysfs: no DPDK, no dataplane",
     ["control/kernel/*"], ["dataplane/*", "control/director/*", "control/runtime/*", "control/frontends/*"], True),
    ("sync/ speaks IPVS's sync protocol over kernel sockets: no DPDK, no dataplane",
     ["control/sync/*"], ["dataplane/*", "control/director/*", "control/runtime/*", "control/frontends/*"], True),
    ("import/ turns other directors' files into a Config: common/, config/ (and the sched/ names the model uses), "
     "its own files; no DPDK",
     ["control/import/*"],
     ["dataplane/*", "control/runtime/*", "control/director/*", "control/frontends/*", "control/health/*",
      "control/kernel/*", "control/sync/*"], True),
    ("runtime/ computes what is published: nothing of director/ or frontends/",
     ["control/runtime/*"], ["control/director/*", "control/frontends/*"], False),
    ("only main and the director itself include the director",
     ["*"], ["control/director/*"], False),
]

# Files a rule does not govern although its globs match them.
EXEMPT = {
    "only main and the director itself include the director": ["control/main.cpp", "control/director/*"],
}

# Project headers a rule's files may reach although its globs forbid them: the ipvsadm rule reader
# is the one pure piece of a front end, and `fulcrum import ipvsadm` reads ipvsadm-save files with it.
ALLOWED = {
    "import/ turns other directors' files into a Config: common/, config/ (and the sched/ names the model uses), "
    "its own files; no DPDK": ["control/frontends/ipvsadm_rules.hpp"],
}

# DPDK headers a file may include although its rule forbids DPDK: telemetry is DPDK's own socket.
DPDK_ALLOWED = {
    "control/frontends/telemetry.cpp": ["rte_telemetry.h"],
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
        allowed = ALLOWED.get(name, [])
        for path in sorted(includes):
            if not any(fnmatch.fnmatch(path, g) for g in governed) or any(fnmatch.fnmatch(path, e) for e in exempt):
                continue
            reach = chains(includes, path)
            for target, chain in sorted(reach.items()):
                if target != path and any(fnmatch.fnmatch(target, g) for g in forbidden) and \
                        not any(fnmatch.fnmatch(target, g) for g in governed) and target not in allowed:
                    problems.append(f"{path}: {name}: reaches {target} ({' -> '.join(chain)})")
                    break
            if no_dpdk:
                for target, chain in sorted(reach.items()):
                    dpdk = [h for h in includes[target][1] if is_dpdk(h) and h not in DPDK_ALLOWED.get(target, [])]
                    if dpdk:
                        problems.append(f"{path}: {name}: reaches DPDK <{dpdk[0]}> ({' -> '.join(chain)})")
                        break
    return problems


def self_test():
    clean = {
        "dataplane/pipeline.cpp": '#include <rte_mbuf.h>\n#include "dataplane/nat.hpp"\n',
        "dataplane/nat.hpp": '#include "sched/scheduler.hpp"\n#include "common/types.hpp"\n',
        "sched/scheduler.hpp": "#include <vector>\n",
        "common/types.hpp": "#include <string>\n",
        "control/config/config.hpp": '#include "common/types.hpp"\n',
        "control/frontends/console.cpp": '#include "control/frontends/control_api.hpp"\n',
        "control/frontends/control_api.hpp": '#include "control/config/config.hpp"\n',
        "control/runtime/snapshot_builder.hpp": '#include "dataplane/nat.hpp"\n#include "control/config/config.hpp"\n',
        "control/director/director.hpp": '#include <rte_timer.h>\n#include "control/frontends/control_api.hpp"\n'
                                          '#include "control/runtime/snapshot_builder.hpp"\n',
        "control/main.cpp": '#include "control/director/director.hpp"\n',
        "control/health/health.cpp": '#include <sys/socket.h>\n#include "control/config/config.hpp"\n',
        "control/kernel/kernel_interface.cpp": '#include <linux/rtnetlink.h>\n#include "common/types.hpp"\n',
        "control/frontends/telemetry.cpp": '#include <rte_telemetry.h>\n#include "control/frontends/control_api.hpp"\n',
        "control/sync/wire.hpp": '#include "common/types.hpp"\n',
        "control/import/keepalived.cpp": '#include "control/import/imported.hpp"\n#include "common/text.hpp"\n',
        "control/import/ipvsadm.cpp": '#include "control/frontends/ipvsadm_rules.hpp"\n',
        "control/frontends/ipvsadm_rules.hpp": '#include "control/config/config.hpp"\n',
        "control/import/imported.hpp": '#include "control/config/config.hpp"\n',
    }
    broken = {
        "a dataplane file including the control plane":
            ("dataplane/nat.hpp", '#include "control/config/config.hpp"\n'),
        "a scheduler including the shared types": ("sched/scheduler.hpp", '#include "common/types.hpp"\n'),
        "DPDK reached by the configuration through a header": ("common/types.hpp", "#include <rte_ether.h>\n"),
        "the configuration including a front end":
            ("control/config/config.hpp", '#include "control/frontends/control_api.hpp"\n'),
        "the console including the director": ("control/frontends/console.cpp", '#include "control/director/director.hpp"\n'),
        "a front end including the dataplane": ("control/frontends/console.cpp", '#include "dataplane/nat.hpp"\n'),
        "health checks including DPDK": ("control/health/health.cpp", "#include <rte_mbuf.h>\n"),
        "telemetry including more of DPDK than rte_telemetry.h": ("control/frontends/telemetry.cpp",
                                                                   "#include <rte_ethdev.h>\n"),
        "kernel/ including the runtime": ("control/kernel/kernel_interface.cpp",
                                          '#include "control/runtime/snapshot_builder.hpp"\n'),
        "sync/ reaching the dataplane": ("control/sync/wire.hpp", '#include "dataplane/nat.hpp"\n'),
        "an importer reaching a front end": ("control/import/imported.hpp",
                                             '#include "control/frontends/control_api.hpp"\n'),
        "an importer including DPDK": ("control/import/keepalived.cpp", "#include <rte_ether.h>\n"),
        "the runtime including the director": ("control/runtime/snapshot_builder.hpp",
                                               '#include "control/director/director.hpp"\n'),
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
