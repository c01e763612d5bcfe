#!/usr/bin/env python3
"""The library layering, checked: every `#include "litestage/<folder>/..."` in litestage/<lib>/
names a folder inside <lib>'s dependency closure (the DEPS of litestage_module() calls in
litestage/CMakeLists.txt), and no library's files include each other in a cycle (a file's unit is
its stem: x.hpp and x.cpp are one unit). Exit 1 with one line per violation.

usage: scripts/check-deps.py [project root]  (default: the folder above this script)
"""
import pathlib
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s+"litestage/([a-z_]+)/([^"]+)"', re.M)
MODULE = re.compile(r'litestage_module\(\s*(\w+)([^)]*)\)', re.S)


def declared_deps(cmake_text):
    """{library: set of litestage libraries it names in DEPS}."""
    deps = {}
    for name, args in MODULE.findall(cmake_text):
        words = args.split()
        after = words[words.index("DEPS") + 1:] if "DEPS" in words else []
        names = set()
        for w in after:
            if w in ("EXTRA", "EXCLUDE"):
                break
            if w.startswith("litestage_"):
                names.add(w[len("litestage_"):])
        deps[name] = names
    return deps


def closure(deps, lib):
    seen, todo = set(), [lib]
    while todo:
        for d in deps.get(todo.pop(), ()):
            if d not in seen:
                seen.add(d)
                todo.append(d)
    return seen


def unit_of(path):
    return path.with_suffix("").as_posix()


def find_cycle(graph):
    """One cycle of the directed graph {node: set(nodes)} as a list, or None."""
    state, stack = {}, []

    def visit(node):
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def main():
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).resolve().parent.parent)
    src = root / "litestage"
    deps = declared_deps((src / "CMakeLists.txt").read_text())
    problems = []
    graphs = {}
    for path in sorted(src.rglob("*.[ch]pp")):
        rel = path.relative_to(src)
        lib = rel.parts[0]
        if lib not in deps:
            problems.append(f"{rel}: folder {lib} is not a litestage_module() in litestage/CMakeLists.txt")
            continue
        allowed = closure(deps, lib) | {lib}
        graph = graphs.setdefault(lib, {})
        here = unit_of(rel)
        graph.setdefault(here, set())
        for folder, name in INCLUDE.findall(path.read_text()):
            if folder not in allowed:
                problems.append(f"{rel}: includes litestage/{folder}/{name}, outside {lib}'s dependency closure "
                                f"({', '.join(sorted(allowed))})")
            elif folder == lib:
                there = unit_of(pathlib.PurePosixPath(folder) / name)
                if there != here:
                    graph[here].add(there)
    for lib, graph in sorted(graphs.items()):
        cycle = find_cycle(graph)
        if cycle:
            problems.append(f"{lib}: include cycle " + " -> ".join(cycle))
    lib_cycle = find_cycle({lib: set(d) for lib, d in deps.items()})
    if lib_cycle:
        problems.append("library cycle " + " -> ".join(lib_cycle))
    for p in problems:
        print(p)
    print(f"{len(deps)} libraries, {sum(len(g) for g in graphs.values())} units: "
          + ("layering holds" if not problems else f"{len(problems)} problem(s)"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
