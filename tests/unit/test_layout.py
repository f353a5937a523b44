"""The layout rules the README states, checked on the source: imports flow apps -> saes, circuits -> interp; each
shared mechanism is defined once; apps/ only parses, orchestrates and renders (no tensor code)."""

from __future__ import annotations

import ast
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("interp", "saes", "circuits", "apps")
WORLDS = ROOT / "interp" / "worlds"
WORLD_PACKAGES = ("interp.worlds.toy", "interp.worlds.toy1", "interp.worlds.toy2")
LEAVES = ("toy", "toy1", "toy2")
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
                  "ReconstructionAccumulator", "auxk_ratio", "sae_config", "ARCHITECTURES", "fit_logistic", "ProbeData",
                  "check_prefixes", "default_batch_size", "auto_threads", "ACTIVATIONS",
                  "apply_variant", "fatrelu", "heldout_sparsity", "check_memory",
                  "physical_memory", "fits_memory", "require_only_own", "check_replaceable", "canonical_model",
                  "attention_pattern", "why_none", "publish", "neuron_sparsity",
                  "compute_sparsity", "label_warning", "show_passage", "neuron_context", "label_evidence_arrays",
                  "dictionary_metrics", "audit", "shipped_links", "link_shipped", "BUDGET_BYTES",
                  # worlds
                  "World", "register_world", "get_world", "world_name_of", "world_of_model", "Taxonomy",
                  # dictionary kinds and the activation stream
                  "Kind", "register_architecture", "StepContext", "ShardedSource", "CacheSource", "ModelSource",
                  "TensorSource", "Pair", "not_identity", "NOT_IDENTITY",
                  # patching methods, workspace steps, pages
                  "PatchingMethod", "METHODS", "Step", "STEPS", "QUANTILES", "BIN_NAMES", "HIST_BINS",
                  "CONCEPT_AUROC_BAR", "NO_CONCEPT", "vocab_logits", "default_alpha", "write_feature_pages",
                  "save_pages", "load_pages", "sha256_file",
                  # the real-model issue: provenance, evaluation, layers, word labels, patching at scale
                  "check_model", "model_record", "ModelRecord", "check_hook", "file_digest", "splice_evals",
                  "dictionary_reports", "evaluate_many", "resolve_layer", "MIDDLE_LAYER", "token_labels",
                  "WordLabels", "padded", "plan_passes", "sweep_flops", "affordable", "head_evidence",
                  "frozen_weights", "BATCHING",
                  # bad input: one JSON reader, one range check, one output-path check, one ownership record
                  "read_json", "json_error", "at_least", "within", "check_output_path", "remove_own")
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


# --- worlds: the core reaches a world only through the registry ------------------------------------------------

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


def test_saes_circuits_and_apps_import_no_world_package():
    """saes/, circuits/ and apps/ reach a world only through the registry (interp.worlds; circuits' IOI tasks through
    `World.ioi`)."""
    bad = []
    for pkg in ("saes", "circuits", "apps"):
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


def test_nothing_imports_the_removed_toyworld_package():
    """interp/toyworld/ became interp/worlds/ (an old checkout on the path must not be picked up by a stale import)."""
    bad = []
    for top in ("interp", "saes", "circuits", "apps", "tests", "bench", "tools"):
        for path in sorted((ROOT / top).rglob("*.py")):
            bad += [f"{path.relative_to(ROOT)} imports {m}" for m in _imports(path)
                    if m == "interp.toyworld" or m.startswith("interp.toyworld.")]
    assert not bad, bad


# --- dictionary kinds: an architecture's name appears only in its own module and the registry ----------------------

def _string_constants(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), str(path))
    return [(n.lineno, n.value) for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def test_no_architecture_name_outside_its_module_and_the_registry():
    """The trainer, io, evaluation, circuits, steering, pages and apps carry no architecture names: adding a kind is
    one module (saes/<kind>.py) plus its declaration in saes/registry.py. interp's models and neurons are left out:
    there "relu" is an MLP activation function and "standard" a positional embedding, not a dictionary kind."""
    from saes.registry import ARCHITECTURES, kind

    names = set(ARCHITECTURES) | {s for a in ARCHITECTURES for s in (kind(a).saelens_save, *kind(a).saelens_read)}
    own = {ROOT / "saes" / "registry.py"} | {ROOT / "saes" / f"{a}.py" for a in ARCHITECTURES}
    scanned = [*(ROOT / "saes").rglob("*.py"), *(ROOT / "circuits").rglob("*.py"), *(ROOT / "apps").rglob("*.py"),
               *(ROOT / "interp" / "pages").rglob("*.py"), *(ROOT / "interp" / "steering").rglob("*.py"),
               ROOT / "interp" / "dictionary.py"]
    bad = [f"{p.relative_to(ROOT)}:{line} {value!r}" for p in sorted(scanned) if p not in own
           for line, value in _string_constants(p) if value in names]
    assert not bad, bad


def test_patching_method_names_only_in_the_registry_and_their_runners():
    """The list of patching methods is circuits.patching.methods.METHODS; only it and the runners that name their own
    results (attribution.py, relevance.py) spell a method's name."""
    from circuits.patching.methods import METHODS

    allowed = {ROOT / "circuits" / "patching" / f for f in ("methods.py", "attribution.py", "relevance.py")}
    names = set(METHODS) - {"activation"}  # "activation" is an ordinary word (activation caches, hooks, ...)
    bad = [f"{p.relative_to(ROOT)}:{line} {value!r}" for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))
           if p not in allowed for line, value in _string_constants(p) if value in names]
    assert not bad, bad


# --- one definition per mechanism, by what it does -------------------------------------------------------------------

class _Shape(ast.NodeTransformer):
    """A function body reduced to its shape: names, argument names and constants erased (so a copy with renamed
    variables and other strings or numbers is the same shape), docstrings dropped; attributes and calls kept."""

    def visit_Name(self, node: ast.Name) -> ast.AST:
        return ast.copy_location(ast.Name(id="_", ctx=node.ctx), node)

    def visit_arg(self, node: ast.arg) -> ast.AST:
        return ast.arg(arg="_")

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        return ast.copy_location(ast.Constant(value=type(node.value).__name__), node)

    def visit_Expr(self, node: ast.Expr) -> ast.AST | None:
        if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            return None
        return self.generic_visit(node)


MIN_STATEMENTS = 6
"""Functions this long or longer are compared; shorter ones (accessors, one-line wrappers) may rhyme by chance."""


def test_no_function_is_written_twice_under_another_name():
    """Two functions whose bodies have the same shape (the same code with other names, strings or numbers) are one
    mechanism written twice: one of them should call the other."""
    import hashlib
    from collections import defaultdict

    shapes: dict[str, list[str]] = defaultdict(list)
    for pkg in PACKAGES:
        for path, tree in _modules(pkg):
            for node in ast.walk(tree):
                if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    continue
                if sum(isinstance(n, ast.stmt) for n in ast.walk(node)) - 1 < MIN_STATEMENTS:
                    continue
                body = [_Shape().visit(ast.parse(ast.unparse(s))) for s in node.body]
                key = hashlib.sha1("".join(ast.dump(b) for b in body).encode()).hexdigest()
                shapes[key].append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}")
    twice = [places for places in shapes.values() if len(places) > 1]
    assert not twice, twice


def test_weights_are_processed_only_where_models_load():
    """TransformerLens's key-by-key loader is slow on real models: only interp.models.load_processed calls it (once
    per model load, with the processed weights then set in one load_state_dict)."""
    calls = []
    for top in PACKAGES + ("bench", "tools"):
        for path, tree in _modules(top):
            calls += [f"{path.relative_to(ROOT)}:{n.lineno}" for n in ast.walk(tree)
                      if isinstance(n, ast.Attribute) and n.attr == "load_and_process_state_dict"]
    assert calls and all(c.startswith("interp/models.py:") for c in calls), calls
