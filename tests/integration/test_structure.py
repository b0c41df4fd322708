"""The shape of the source tree, checked on the built objects and the sources:
no two object files depend on each other in a cycle (symbols each defines and
uses, read with nm), no C source outside tests/ is over 700 lines, and nothing
in common/ includes a daemon's header (common is the leaf everything else
builds on; see CONTRIBUTING.md)."""
import os
import re
import subprocess
import warnings
from pathlib import Path

import pytest

import daitest

REPO = daitest.REPO
MAX_LINES = 700
# Object groups as the Makefile links them: each daemon's objects resolve
# symbols among themselves and in libdispatchai.a; common only in itself.
DAEMONS = ("ingress", "classifier", "gateway")

# Cycles still being broken by other work, each as the set of sources in it
# (an entry that no longer matches is reported as a pytest warning).
# Empty now (gateway/rest.c <-> ws.c and ingress/publish.c <-> webhook.c are
# broken); a cycle that appears fails the test unless it is listed here with
# who is breaking it.
ALLOWED_CYCLES = []

# Sources still over MAX_LINES, to be split by their owners (issue 13). The
# lead empties this list as the splits land (stale entries give a warning).
ALLOWED_LONG = {
    "classifier/llm_client.c",     # classifier engineer (grew with the cached /ready)
}


def build_dir():
    tools = os.environ.get("DAI_TOOL_DIR")
    return Path(tools).parent if tools else REPO / "build"


def objects():
    """{source path relative to the repo: object path} for every built object
    whose source still exists (a stale object of a deleted file is ignored)."""
    root = build_dir()
    out = {}
    for group in ("common",) + DAEMONS:
        for obj in sorted((root / group).rglob("*.o")):
            src = obj.relative_to(root).with_suffix(".c")
            if (REPO / src).is_file():
                out[str(src)] = obj
    return out


def symbols(obj):
    """(defined, undefined) global symbol names of one object file."""
    r = subprocess.run(["nm", "-P", "-g", str(obj)], capture_output=True, text=True, check=True)
    defined, undefined = set(), set()
    for line in r.stdout.splitlines():
        parts = line.split()
        if len(parts) < 2:
            continue
        (undefined if parts[1] in ("U", "w", "v") else defined).add(parts[0])
    return defined, undefined


def group_of(src):
    return src.split("/", 1)[0]


def dependency_graph(syms):
    """{source: set of sources it uses a symbol of}. syms: {source: (def, undef)}."""
    definers = {}
    for src, (defined, _) in syms.items():
        for name in defined:
            definers.setdefault((group_of(src), name), set()).add(src)
    graph = {src: set() for src in syms}
    for src, (_, undefined) in syms.items():
        g = group_of(src)
        for name in undefined:
            found = definers.get((g, name)) or set()
            if g != "common":
                found = found | (definers.get(("common", name)) or set())
            graph[src] |= found - {src}
    return graph


def cycles(graph):
    """Strongly connected components with more than one node (Tarjan)."""
    index, low, on_stack, stack, out = {}, {}, set(), [], []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.add(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(comp)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_cycle_finder_finds_cycles_and_only_cycles():
    syms = {
        "gateway/a.c": ({"gw_a"}, {"gw_b", "dai_x"}),
        "gateway/b.c": ({"gw_b"}, {"gw_c"}),
        "gateway/c.c": ({"gw_c"}, {"gw_a"}),
        "gateway/d.c": ({"gw_d"}, {"gw_a"}),
        "common/src/x.c": ({"dai_x"}, set()),
        # Same name in another daemon: not a dependency across daemons.
        "ingress/e.c": ({"gw_d"}, {"gw_a"}),
    }
    graph = dependency_graph(syms)
    assert graph["gateway/a.c"] == {"gateway/b.c", "common/src/x.c"}
    assert graph["ingress/e.c"] == set()
    assert cycles(graph) == [{"gateway/a.c", "gateway/b.c", "gateway/c.c"}]
    assert cycles(dependency_graph({k: v for k, v in syms.items() if k != "gateway/c.c"})) == []


@pytest.fixture(scope="module")
def graph():
    objs = objects()
    if not any(group_of(s) == "common" for s in objs):
        pytest.fail(f"no objects under {build_dir()}: run make first")
    return dependency_graph({src: symbols(obj) for src, obj in objs.items()})


def test_no_two_object_files_depend_on_each_other_in_a_cycle(graph):
    found = cycles(graph)
    unexpected = [sorted(c) for c in found if c not in ALLOWED_CYCLES]
    assert not unexpected, f"dependency cycles between source files: {unexpected}"


def test_the_allowed_cycles_still_exist(graph):
    """An allow-list entry that no longer matches is stale: said as a warning,
    so whoever broke the cycle is not failed for it; the lead removes it."""
    found = cycles(graph)
    stale = [sorted(c) for c in ALLOWED_CYCLES if c not in found]
    if stale:
        warnings.warn(f"cycles broken since, remove them from ALLOWED_CYCLES: {stale}")


def c_sources():
    out = []
    for top in ("common",) + DAEMONS + ("scripts",):
        out += [p for p in sorted((REPO / top).rglob("*")) if p.suffix in (".c", ".h")]
    return out


def test_no_c_source_outside_tests_is_over_700_lines():
    long = {}
    for p in c_sources():
        n = p.read_bytes().count(b"\n")
        if n > MAX_LINES:
            long[str(p.relative_to(REPO))] = n
    unexpected = {k: v for k, v in long.items() if k not in ALLOWED_LONG}
    assert not unexpected, f"sources over {MAX_LINES} lines (split them): {unexpected}"
    stale = sorted(ALLOWED_LONG - set(long))
    if stale:  # a warning, not a failure: splitting a file must not fail its author
        warnings.warn(f"split since, remove them from ALLOWED_LONG: {stale}")


def test_common_includes_no_daemon_header():
    own = {p.name for p in (REPO / "common").rglob("*.h")}
    bad = []
    for p in sorted((REPO / "common").rglob("*")):
        if p.suffix not in (".c", ".h"):
            continue
        for n, line in enumerate(p.read_text(errors="replace").splitlines(), 1):
            m = re.match(r'\s*#\s*include\s*([<"])([^>"]+)[>"]', line)
            if not m:
                continue
            name = m.group(2)
            daemon = any(name.startswith(d + "/") or "/" + d + "/" in name for d in DAEMONS)
            local_not_ours = m.group(1) == '"' and Path(name).name not in own
            if daemon or local_not_ours or ".." in name:
                bad.append(f"{p.relative_to(REPO)}:{n}: {line.strip()}")
    assert not bad, "common/ includes outside common/: " + "; ".join(bad)
