"""The import rules of docs/architecture.md, checked by parsing every module's imports."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("traincore", "boardnet", "selfplay", "atomgrid")


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


def modules():
    for pkg in PACKAGES:
        for p in sorted((ROOT / pkg).rglob("*.py")):
            yield p.relative_to(ROOT).as_posix(), imports_of(p)


def top(name: str) -> str:
    return name.split(".")[0]


ALLOWED = {  # package -> first-party packages it may import
    "traincore": {"traincore"},
    "boardnet": {"traincore", "boardnet"},
    "selfplay": {"traincore", "boardnet", "selfplay"},
    "atomgrid": {"traincore", "atomgrid"},
}
# one module per package that distributes, and traincore's one start-up helper that both of them call
RAY_MODULES = {"selfplay/distributed.py", "atomgrid/distributed.py", "traincore/raysetup.py"}


@pytest.mark.parametrize("mod,names", list(modules()), ids=[m for m, _ in modules()])
def test_layering(mod, names):
    pkg = mod.split("/")[0]
    first_party = {top(n) for n in names} & set(PACKAGES)
    assert first_party <= ALLOWED[pkg], f"{mod} imports {sorted(first_party - ALLOWED[pkg])} against the layering"
    if "ray" in {top(n) for n in names}:
        assert mod in RAY_MODULES, f"{mod} imports ray; only {sorted(RAY_MODULES)} may"
    if mod.startswith("boardnet/games/"):
        bad = {top(n) for n in names} & {"torch", "ray", "traincore"}
        assert not bad, f"{mod}: game rules must not import {sorted(bad)}"
    if mod == "boardnet/search.py":
        assert "torch" not in {top(n) for n in names}, "search must not import torch"
        concrete = {n for n in names if n.startswith("boardnet.games.") and n.split(".")[2] not in ("base",)}
        assert not concrete, f"search must see only the game protocol, imports {sorted(concrete)}"


def test_layering_sees_modules():
    mods = [m for m, _ in modules()]
    assert "traincore/loop.py" in mods and "boardnet/games/base.py" in mods


# ----------------------------------------------------------------------------- no import cycles inside a package

def module_name(rel: Path) -> str:
    parts = list(rel.with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _type_checking_only(tree: ast.AST) -> set[int]:
    """ids of import nodes under ``if TYPE_CHECKING:`` (never executed)."""
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for b in node.body for n in ast.walk(b))
    return skip


def first_party_edges(path: Path, name: str, known: set[str]) -> set[str]:
    """Modules of ``known`` that the module ``name`` (file ``path``) imports, at the top or inside a
    function (a deferred import that closes a cycle is still a cycle), absolute or relative."""
    tree = ast.parse(path.read_text(), filename=str(path))
    skip = _type_checking_only(tree)
    is_pkg = path.name == "__init__.py"
    out: set[str] = set()

    def add(target: str) -> None:
        while target and target not in known:  # a name imported from a module: the module itself
            target = target.rpartition(".")[0]
        if target and target != name:
            out.add(target)

    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            for a in node.names:
                add(a.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_pkg else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            for a in node.names:
                sub = f"{mod}.{a.name}"
                add(sub if sub in known else mod)
    return out


def import_cycles(pkg: str) -> list[list[str]]:
    """Strongly connected components (size > 1) of the import graph inside ``pkg`` (Tarjan)."""
    files = {module_name(p.relative_to(ROOT)): p for p in sorted((ROOT / pkg).rglob("*.py"))}
    known = set(files)
    graph = {m: first_party_edges(p, m, known) for m, p in files.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    comps: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                comps.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return comps


# package -> cycles reported to their owner, not yet removed (the test fails when they change, so that this
# list is updated both when a cycle is removed and when a new one appears)
KNOWN_CYCLES: dict[str, list[list[str]]] = {}


@pytest.mark.parametrize("pkg", PACKAGES)
def test_no_import_cycles_inside_a_package(pkg):
    cycles = import_cycles(pkg)
    assert cycles == KNOWN_CYCLES.get(pkg, []), f"{pkg}: import cycles {cycles}"


def test_cycle_finder_sees_a_cycle(tmp_path, monkeypatch):
    pkg = tmp_path / "cyc"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from .b import f\n")
    (pkg / "b.py").write_text("def f():\n    from . import c\n")
    (pkg / "c.py").write_text("import cyc.a\nfrom typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from . import d\n")
    (pkg / "d.py").write_text("from .c import x\n")
    monkeypatch.setattr(__import__(__name__), "ROOT", tmp_path, raising=False)
    assert import_cycles.__globals__["ROOT"] == tmp_path
    assert import_cycles("cyc") == [["cyc.a", "cyc.b", "cyc.c"]]


def test_ray_is_started_in_one_place():
    """Both halves start Ray through traincore.raysetup.init_ray; no module patches Ray's private constants
    (the one guarded exception lives in traincore/raysetup.py)."""
    for mod in ("selfplay/distributed.py", "atomgrid/distributed.py"):
        text = (ROOT / mod).read_text()
        assert "traincore.raysetup" in imports_of(ROOT / mod), f"{mod} does not use traincore.raysetup"
        assert "def init_ray" not in text and "ray.init(" not in text, f"{mod} starts Ray itself"
    for mod, _ in modules():
        if mod != "traincore/raysetup.py":
            assert "ray_constants" not in (ROOT / mod).read_text(), f"{mod} touches Ray's private constants"
