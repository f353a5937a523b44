"""Public signatures name their tensor shapes and their model type (issue 22, item 5).

Walks the AST of interp/, saes/ and circuits/ (no imports, so it is fast) and fails listing
- every public function or method with a bare `Tensor` / `torch.Tensor` / `np.ndarray` annotation (a parameter or
  the return, also inside `list[...]`, `tuple[...]`, `X | None`): the one convention is a jaxtyping shape such as
  `Float[Tensor, "batch pos d_model"]` or `Float[np.ndarray, " n"]`;
- every public function with a parameter named `model` that is unannotated or annotated with something other than
  `HookedTransformer` (or `HookedTransformer | None`), or a parameter named `models` whose annotation does not name
  `HookedTransformer` (e.g. `list[HookedTransformer]`).
Public means the function's name, and the name of every class it is defined in, do not start with "_"; functions
nested inside other functions are not public.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("interp", "saes", "circuits")

BARE_NAMES = {"Tensor", "ndarray"}
"""Annotation names that carry no shape (torch.Tensor, np.ndarray, numpy.ndarray all end in one of these)."""

MODEL_EXCEPTIONS: dict[str, str] = {
    "circuits/patching/results.py:save_results": "`model` is the model's name, written into summary.json",
    "interp/neurons/universal.py:universal_from_sums": "`models` are the models' names (the sums are already taken)",
}
"""`path:function` -> why its `model` parameter is not a HookedTransformer."""

SHAPE_EXCEPTIONS: dict[str, str] = {
}
"""`path:function` -> why it keeps a bare tensor annotation."""


def _public_functions(tree: ast.Module) -> Iterator[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    """(qualified name, node) of each public module-level function and public method of a public class."""
    def walk(body: list[ast.stmt], prefix: str) -> Iterator[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
        for node in body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and not node.name.startswith("_"):
                yield prefix + node.name, node
            elif isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
                yield from walk(node.body, f"{prefix}{node.name}.")
            elif isinstance(node, ast.If):  # e.g. a fallback definition under `if TYPE_CHECKING` / a version check
                yield from walk(node.body + node.orelse, prefix)
    yield from walk(tree.body, "")


def _jaxtyping_names(tree: ast.Module) -> set[str]:
    """Local names of what the module imports from jaxtyping (Float, Int, Bool, ...)."""
    return {a.asname or a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module == "jaxtyping"
            for a in n.names}


def _name(node: ast.expr) -> str:
    """The last component of a Name or Attribute (`torch.Tensor` -> "Tensor"); "" for anything else."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


def _has_bare(ann: ast.expr | None, shaped: set[str]) -> bool:
    """Whether the annotation mentions Tensor/ndarray outside a jaxtyping `Dtype[array, "shape"]`."""
    if ann is None:
        return False
    if isinstance(ann, ast.Constant) and isinstance(ann.value, str):  # a quoted annotation
        try:
            return _has_bare(ast.parse(ann.value, mode="eval").body, shaped)
        except SyntaxError:
            return False
    if isinstance(ann, ast.Subscript) and _name(ann.value) in shaped:
        return False
    if _name(ann) in BARE_NAMES:
        return True
    return any(_has_bare(child, shaped) for child in ast.iter_child_nodes(ann) if isinstance(child, ast.expr))


def _is_model_type(ann: ast.expr | None) -> bool:
    """HookedTransformer, or HookedTransformer | None for an optional model."""
    if ann is None:
        return False
    if isinstance(ann, ast.BinOp) and isinstance(ann.op, ast.BitOr):
        sides = [ann.left, ann.right]
        return any(_is_model_type(s) for s in sides) and all(
            _is_model_type(s) or (isinstance(s, ast.Constant) and s.value is None) for s in sides)
    return _name(ann) == "HookedTransformer"


def _names_model_type(ann: ast.expr | None) -> bool:
    """A collection annotation that names HookedTransformer (list[HookedTransformer], Sequence[...])."""
    return ann is not None and any(_name(n) == "HookedTransformer" for n in ast.walk(ann) if isinstance(n, ast.expr))


def _all_args(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> list[ast.arg]:
    a = fn.args
    return [*a.posonlyargs, *a.args, *a.kwonlyargs, *([a.vararg] if a.vararg else []),
            *([a.kwarg] if a.kwarg else [])]


def _violations() -> tuple[list[str], list[str]]:
    bare, model = [], []
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            tree = ast.parse(path.read_text(), filename=rel)
            shaped = _jaxtyping_names(tree)
            for qual, fn in _public_functions(tree):
                key = f"{rel}:{qual}"
                args = _all_args(fn)
                where = [a.arg for a in args if _has_bare(a.annotation, shaped)]
                if _has_bare(fn.returns, shaped):
                    where.append("return")
                if where and key not in SHAPE_EXCEPTIONS:
                    bare.append(f"{key}:{fn.lineno} ({', '.join(where)})")
                untyped = [a for a in args if (a.arg == "model" and not _is_model_type(a.annotation))
                           or (a.arg == "models" and not _names_model_type(a.annotation))]
                if untyped and key not in MODEL_EXCEPTIONS:
                    model.append(f"{key}:{fn.lineno}")
    return bare, model


def test_public_tensor_annotations_have_shapes():
    bare, _ = _violations()
    assert not bare, ("public functions with a bare Tensor/ndarray annotation; write a jaxtyping shape such as "
                      'Float[Tensor, "batch pos d_model"]:\n' + "\n".join(bare))


def test_public_model_parameters_are_hooked_transformers():
    _, model = _violations()
    assert not model, ("public functions whose `model` parameter is not annotated `HookedTransformer` (`models`: "
                       "list[HookedTransformer]; import it under `if TYPE_CHECKING:`):\n" + "\n".join(model))


def test_exceptions_are_still_needed():
    """A listed exception whose function is gone or fixed is removed from the list."""
    found = set()
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            found |= {f"{rel}:{q}" for q, _ in _public_functions(ast.parse(path.read_text()))}
    stale = sorted((set(MODEL_EXCEPTIONS) | set(SHAPE_EXCEPTIONS)) - found)
    assert not stale, "exceptions naming no public function: " + ", ".join(stale)
