#!/usr/bin/env python3
"""No import cycle between the modules of src/: exit 1 naming each cycle.

Every `crate::`/`super::`/`self::` path in a file (in `use` items, braces expanded, and
inline) is an edge from the file's module to the deepest module the path names. An edge
counts between the two siblings that hold its ends under their closest common ancestor
(`host::proc_stat -> snapshot` is `host -> snapshot`); an edge between a module and one of
its own descendants is the module tree itself and is not counted. Unit tests (`#[cfg(test)]
mod tests`) are left out. scripts/test.sh runs it; by hand: `python3 scripts/check_cycles.py`.
"""
import pathlib
import re
import sys

PATH = re.compile(r"\b(crate|super|self)((?:::[A-Za-z_][A-Za-z0-9_]*)+)")
USE = re.compile(r"\buse\s+([^;]*);", re.S)


def module_of(src, file):
    parts = list(file.relative_to(src).with_suffix("").parts)
    if parts[-1] in ("mod", "lib", "main"):
        parts = parts[:-1]
    return tuple(parts)


def strip(text):
    text = re.sub(r"#\[cfg\(test\)\]\s*mod\s+tests\s*(;|\{.*)", "", text, flags=re.S)
    text = re.sub(r"//[^\n]*", "", text)
    return re.sub(r'"(?:\\.|[^"\\])*"', '""', text)


def expand(tree):
    """`a::{b, c::{d, e}}` -> [a::b, a::c::d, a::c::e]."""
    tree = re.sub(r"\s+", "", tree)
    i = tree.find("{")
    if i < 0:
        return [tree]
    depth, parts, start = 0, [], i + 1
    for j in range(i, len(tree)):
        if tree[j] == "{":
            depth += 1
        elif tree[j] == "}":
            depth -= 1
            if depth == 0:
                parts.append(tree[start:j])
                break
        elif tree[j] == "," and depth == 1:
            parts.append(tree[start:j])
            start = j + 1
    out = []
    for p in parts:
        if p:
            out += [tree[:i] + q for q in expand(p)]
    return out


def targets(text, here, modules):
    paths = []
    for m in USE.finditer(text):
        paths += expand(m.group(1))
    body = USE.sub("", text)
    paths += [m.group(0) for m in PATH.finditer(body)]
    for p in paths:
        segs = [s for s in p.split("::") if s]
        if not segs or segs[0] not in ("crate", "super", "self"):
            continue
        base = list(here)
        if segs[0] == "crate":
            base, segs = [], segs[1:]
        else:
            while segs and segs[0] in ("super", "self"):
                if segs.pop(0) == "super":
                    base = base[:-1]
        full = tuple(base + [s.split(" as ")[0] for s in segs if s != "*"])
        for n in range(len(full), -1, -1):
            if full[:n] in modules:
                yield full[:n]
                break


def cycles(src):
    files = {module_of(src, f): f for f in sorted(src.rglob("*.rs"))}
    modules = set(files)
    edges = {}
    for mod, f in files.items():
        for t in targets(strip(f.read_text()), mod, modules):
            k = 0
            while k < min(len(mod), len(t)) and mod[k] == t[k]:
                k += 1
            if k == len(mod) or k == len(t):
                continue  # a module and its own descendant
            a, b = mod[: k + 1], t[: k + 1]
            edges.setdefault(a, {}).setdefault(b, set()).add("::".join(mod))
    found, seen = [], set()

    def walk(node, stack):
        for nxt in sorted(edges.get(node, {})):
            if nxt in stack:
                cyc = stack[stack.index(nxt):]
                key = frozenset(cyc)
                if key not in seen:
                    seen.add(key)
                    found.append(cyc + [nxt])
            elif len(stack) < 12:
                walk(nxt, stack + [nxt])

    for node in sorted(edges):
        walk(node, [node])
    return found, edges


def main():
    src = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "src")
    found, edges = cycles(src)
    for cyc in found:
        hops = []
        for a, b in zip(cyc, cyc[1:]):
            via = ", ".join(sorted(edges[a][b]))
            hops.append(f"{'::'.join(a)} -> {'::'.join(b)} (in {via})")
        print("cycle: " + "; ".join(hops))
    if not found:
        print(f"no import cycle among {sum(len(v) for v in edges.values())} module edges")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
