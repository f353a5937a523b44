"""The patching methods, in one registry: each method's runner, memory model, explorer description and figure colour.

The CLI's --method choices, patch_task, the memory planner, the faithfulness experiment, the workspace build, the
explorer's circuits page and the figures all read METHODS, so adding a method is one `PatchingMethod` entry here
(with its runner). The module is free of torch (the CLI builds its parser from METHOD_NAMES without loading it):
runners and memory models import their implementation when first called.

A method either measures (activation patching: the score is the metric of the patched run, the ground truth) or
estimates (AtP, RelP: the score is the estimated change of the metric, compared with the ground truth by
circuits.faithfulness).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from transformer_lens import HookedTransformer

    from ..tasks.base import Task
    from .memory import MemoryEstimate
    from .results import PatchResult

Runner = Callable[["HookedTransformer", "Task", "list[str]", bool, int], "dict[str, PatchResult]"]
"""runner(model, task, components, normalise, max_batch) -> component -> PatchResult, on one Task (one length)."""
MemoryModel = Callable[["HookedTransformer", "list[str]", int, bool], "MemoryEstimate"]
"""memory(model, components, n_pos, last_position_only) -> bytes a run needs (circuits.patching.memory)."""


@dataclass(frozen=True)
class PatchingMethod:
    """One patching method: how it runs, what it costs, and how it is shown."""

    name: str
    """--method value, the `method` recorded in its results, and its folder in a workspace's patching/."""
    label: str
    """Short name in tables and figure legends."""
    description: str
    """One line for the explorer's circuits page (docs/methods.md §4)."""
    runner: Runner
    """Scores every component of one Task (see Runner)."""
    memory: MemoryModel
    """Estimates the bytes of a run from the model's shape (see MemoryModel)."""
    exact: bool
    """True: the score is the metric of the patched run (the ground truth); False: an estimate of the change of the
    metric, compared with the ground truth by circuits.faithfulness."""
    colour: str | None = None
    """Colour of an estimator in the estimate-vs-activation scatter plots; None: not drawn there."""


def _lazy(module: str, name: str) -> Callable[..., Any]:
    """circuits.patching.<module>.<name>, imported on the first call (keeps this registry free of torch)."""
    def call(*args: Any) -> Any:
        from importlib import import_module

        return getattr(import_module(f"{__package__}.{module}"), name)(*args)

    call.__name__ = call.__qualname__ = name
    return call


def _activation(model, task, components, normalise, max_batch):
    from .activation import generic_activation_patch
    from .components import COMPONENTS

    return {c: generic_activation_patch(model, task, COMPONENTS[c], normalise=normalise, max_batch=max_batch)
            for c in components}


def _attribution(model, task, components, normalise, max_batch):
    from .attribution import attribution_patch

    return attribution_patch(model, task, components, normalise)


def _relevance(ah: bool) -> Runner:
    def run(model, task, components, normalise, max_batch):
        from .relevance import Rules, relevance_patch

        return relevance_patch(model, task, components, Rules(ah=ah), normalise)

    return run


_GRADIENT_MEMORY = _lazy("memory", "gradient_memory")

METHODS: dict[str, PatchingMethod] = {m.name: m for m in (
    PatchingMethod(
        "activation", "activation patching",
        "Activation patching: run the corrupted prompt, patch in one component's clean activation, measure the "
        "logit difference (1 = clean, 0 = corrupted). The ground truth; one forward pass per component.",
        _activation, _lazy("memory", "activation_memory"), exact=True),
    PatchingMethod(
        "attribution", "AtP",
        "Attribution patching (AtP): the first-order estimate (a_clean - a_corrupt) · ∂metric/∂a from the "
        "corrupted run; 2 forward + 1 backward passes for every component at once.",
        _attribution, _GRADIENT_MEMORY, exact=False, colour="#d62728"),
    PatchingMethod(
        "relp", "RelP",
        "Relevance patching (RelP): AtP with the gradient of a backward pass that follows LRP rules (LayerNorm, "
        "activation and gated-MLP rules), so gradient × input equals LRP relevance; same cost as AtP.",
        _relevance(ah=False), _GRADIENT_MEMORY, exact=False, colour="#1f77b4"),
    PatchingMethod(
        "relp_ah", "RelP+AH",
        "RelP with the attention-head rule as well (attention patterns detached in the backward pass).",
        _relevance(ah=True), _GRADIENT_MEMORY, exact=False),
)}
METHOD_NAMES = tuple(METHODS)
"""The --method choices, in registry order."""


def method_named(name: str) -> PatchingMethod:
    """The registered method `name`; a one-line error naming the choices otherwise."""
    if name not in METHODS:
        raise ValueError(f"unknown patching method {name!r}; choose one of {', '.join(METHOD_NAMES)}")
    return METHODS[name]


def ground_truth() -> PatchingMethod:
    """The exact method the estimators are compared with (activation patching)."""
    return next(m for m in METHODS.values() if m.exact)


def estimators() -> list[PatchingMethod]:
    """The methods that estimate the ground truth's scores (AtP, RelP, RelP+AH), in registry order."""
    return [m for m in METHODS.values() if not m.exact]


def scattered() -> list[PatchingMethod]:
    """The estimators drawn in the estimate-vs-activation scatter plots (those with a colour)."""
    return [m for m in estimators() if m.colour]
