"""The layout rules the README states, checked on the source: imports flow apps -> saes, circuits -> interp; each
shared mechanism is defined once; apps/ only parses, orchestrates and renders (no tensor code)."""

from __future__ import annotations

import ast
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("interp", "saes", "circuits", "apps")
MAY_IMPORT = {"interp": set(), "saes": {"interp"}, "circuits": {"interp"}, "apps": {"interp", "saes", "circuits"}}


def _modules(pkg: str):
    for path in sorted((ROOT / pkg).rglob("*.py")):
        yield path, ast.parse(path.read_text(), str(path))


def _imported_packages(tree: ast.AST) -> set[str]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found & set(PACKAGES)


def test_imports_flow_one_way():
    bad = []
    for pkg in PACKAGES:
        for path, tree in _modules(pkg):
            wrong = _imported_packages(tree) - MAY_IMPORT[pkg] - {pkg}
            bad += [f"{path.relative_to(ROOT)} imports {w}" for w in sorted(wrong)]
    assert not bad, bad


def test_dictionary_evaluation_does_not_import_training():
    """saes.eval is used by training; training is never imported back (no cycle inside saes)."""
    for path, tree in _modules("saes/eval"):
        mods = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        assert not any(m.startswith("saes.training") for m in mods), path


ONE_DEFINITION = ("auroc", "average_ranks", "start_run", "resolve_device", "RunContext", "Checkpointer", "identity",
                  "HookRunner", "hook_activations", "hook_shape", "hook_width", "stop_layer", "open_corpus",
                  "resolve_corpus", "TokenSource", "PackedTextSource", "ToyWorldSource", "register_format",
                  "DictionaryInfo", "load_model", "recorded_model", "heldout_corpus", "context_windows",
                  "ReconstructionAccumulator", "auxk_ratio", "sae_config", "ARCHITECTURES")
"""The shared mechanisms (run context, checkpoint, activation source, corpus reader, AUROC, dictionary and
architecture registries, ...): each has exactly one definition across the four packages."""


def _definitions() -> Counter:
    names: Counter = Counter()
    for pkg in PACKAGES:
        for _, tree in _modules(pkg):
            for node in tree.body:
                if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                    names[node.name] += 1
                elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                    names.update(t.id for t in targets if isinstance(t, ast.Name))
    return names


def test_each_mechanism_is_defined_once():
    defs = _definitions()
    counts = {name: defs[name] for name in ONE_DEFINITION}
    assert all(n == 1 for n in counts.values()), counts


TORCH_IN_APPS = {"torch.set_num_threads", "torch.enable_grad", "torch.set_grad_enabled"}
"""The only torch calls apps/ makes: settings of the process, never computation."""


def test_apps_hold_no_numerical_code():
    bad = []
    for path, tree in _modules("apps"):
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "torch":
                if f"torch.{node.attr}" not in TORCH_IN_APPS:
                    bad.append(f"{path.relative_to(ROOT)}:{node.lineno} torch.{node.attr}")
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(("torch.", "numpy.linalg")):
                bad.append(f"{path.relative_to(ROOT)}:{node.lineno} from {node.module}")
    assert not bad, bad
