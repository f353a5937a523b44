"""The world registry and the layout rules of interp/worlds/: the core imports no world package, the world packages
import each other only one way (toy1, toy2 -> toy -> the registry), and no module of interp/worlds is in an import
cycle."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import get_args

import pytest

ROOT = Path(__file__).resolve().parents[2]
WORLDS = ROOT / "interp" / "worlds"
WORLD_PACKAGES = ("interp.worlds.toy", "interp.worlds.toy1", "interp.worlds.toy2")
LEAVES = ("toy", "toy1", "toy2")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(name: str) -> bool:
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _imports(path: Path, module_level: bool = False) -> set[str]:
    """Absolute names of the modules `path` imports (relative imports resolved; `from pkg import name` gives pkg and
    pkg.name, `from . import mod` only the module); `module_level`: only the imports run when `path` is imported."""
    tree = ast.parse(path.read_text(), str(path))
    here = _module_name(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    found = set()
    for node in (tree.body if module_level else ast.walk(tree)):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                stem = package[:len(package) - node.level + 1]
                base = ".".join(stem + ([node.module] if node.module else []))
            subs = {a.name for a in node.names if _is_module(f"{base}.{a.name}")}
            if node.module or len(subs) < len(node.names):  # names defined in `base` itself: it is imported
                found.add(base)
            found |= {f"{base}.{n}" for n in subs}
    return found


def _is_world_package(name: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in WORLD_PACKAGES)


def test_the_core_imports_no_world_package():
    """interp/ outside interp/worlds/ reaches a world only through the registry (interp.worlds)."""
    bad = []
    for path in sorted((ROOT / "interp").rglob("*.py")):
        if WORLDS in path.parents:
            continue
        bad += [f"{path.relative_to(ROOT)} imports {m}" for m in sorted(_imports(path)) if _is_world_package(m)]
    assert not bad, bad


def test_saes_and_apps_import_no_world_package():
    bad = []
    for pkg in ("saes", "apps"):
        for path in sorted((ROOT / pkg).rglob("*.py")):
            bad += [f"{path.relative_to(ROOT)} imports {m}" for m in sorted(_imports(path)) if _is_world_package(m)]
    assert not bad, bad


def test_world_packages_import_one_way():
    """toy1 and toy2 never import each other; the shared toy package imports neither; the registry imports no
    world package at module level (the built-ins are named as strings)."""
    bad = []
    for path in sorted(WORLDS.rglob("*.py")):
        name = _module_name(path)
        leaf = name.split(".")[2] if name.count(".") >= 2 else None
        for m in _imports(path):
            other = m.split(".")[2] if m.startswith("interp.worlds.") and m.count(".") >= 2 else None
            if other not in LEAVES or other == leaf:
                continue
            if leaf is None or leaf == "toy" or (leaf in ("toy1", "toy2") and other != "toy"):
                bad.append(f"{name} imports {m}")
    assert not bad, bad


def test_no_import_cycle_in_the_worlds():
    modules = {_module_name(p): p for p in WORLDS.rglob("*.py")}
    # only the imports run at import time count: a world's register function imports its modules lazily, on purpose
    graph = {n: {m for m in _imports(p, module_level=True) if m in modules and m != n} for n, p in modules.items()}
    state: dict[str, int] = {}

    def visit(n: str, stack: list[str]) -> None:
        state[n] = 1
        for m in sorted(graph[n]):
            if state.get(m) == 1:
                raise AssertionError(f"import cycle: {' -> '.join(stack[stack.index(m):] + [m])}")
            if not state.get(m):
                visit(m, stack + [m])
        state[n] = 2

    for n in sorted(graph):
        if not state.get(n):
            visit(n, [n])


def test_the_registry_knows_the_built_in_worlds_and_the_cli_offers_them():
    from interp.worlds import World, get_world, world_names
    from interp.worlds.toy.config import WorldName

    assert set(world_names()) >= {"toy1", "toy2"}
    assert set(get_args(WorldName)) == set(world_names())
    for name in world_names():
        w = get_world(name)
        assert isinstance(w, World) and w.name == name and w.words[0] == "<|bos|>"
    with pytest.raises(ValueError, match="unknown toy world 'toy3'; valid: toy1, toy2"):
        get_world("toy3")


def test_the_world_of_a_model_is_read_from_its_tokenizer(tmp_path):
    from types import SimpleNamespace

    from interp.worlds import world_name_of, world_of_model
    from interp.worlds.toy.tokenizer import build_tokenizer

    tok = build_tokenizer(tmp_path / "tok", "toy2")
    assert world_name_of(tok) == "toy2" and world_of_model(SimpleNamespace(tokenizer=tok)).name == "toy2"
    assert world_of_model(SimpleNamespace(tokenizer=None)) is None and world_of_model(object()) is None


def test_nothing_imports_the_removed_toyworld_package():
    """interp/toyworld/ became interp/worlds/ (an old checkout on the path must not be picked up by a stale import)."""
    bad = []
    for top in ("interp", "saes", "circuits", "apps", "tests", "bench", "tools"):
        for path in sorted((ROOT / top).rglob("*.py")):
            bad += [f"{path.relative_to(ROOT)} imports {m}" for m in _imports(path)
                    if m == "interp.toyworld" or m.startswith("interp.toyworld.")]
    assert not bad, bad
