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
RAY_MODULES = {"selfplay/distributed.py", "atomgrid/distributed.py"}


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
