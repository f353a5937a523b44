"""How faithful are AtP and RelP to activation patching? The paper's experiment, as a pure function returning a table.

For each component type (resid_pre, attn_out, mlp_out per (layer, pos); heads per (layer, head) and per
(layer, pos, head)) it runs activation patching (the ground truth) and AtP, RelP and RelP with the AH-rule, and
reports per (component, method):
- pearson: correlation of the estimated scores with the patched scores over all indices;
- magnitude: sum of estimated effects / sum of patched effects (1 = the estimate recovers the total effect).
Published GPT-2 small numbers are kept next to it (PUBLISHED) so reports can set ours beside them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import torch
from jaxtyping import Float
from torch import Tensor
from transformer_lens import HookedTransformer

from .config import Batching
from .patching.methods import estimators, ground_truth
from .patching.results import PatchResult
from .patching.run import patch_task
from .tasks.base import Task
from .tasks.groups import TaskGroups

COMPARED = ("resid_pre", "attn_out", "mlp_out", "head_out", "head_out_by_pos")
PUBLISHED = {"gpt2-small": {"resid_pre": (0.753, 0.968), "attn_out": (0.979, 0.962), "mlp_out": (0.195, 0.992)},
             "gpt2-large": {"mlp_out": (0.006, 0.956)}}
"""Pearson r with activation patching on IOI (AtP, RelP), Jafari et al. 2025, via docs/methods.md §4."""


@dataclass
class FaithfulnessRow:
    """Agreement of one estimator with activation patching on one component type."""

    component: str
    method: str
    pearson: float
    magnitude: float
    n: int
    """Number of scores correlated."""


@dataclass
class FaithfulnessRun:
    """The table plus every score tensor behind it (for heatmaps and scatter plots)."""

    model: str
    task: str
    rows: list[FaithfulnessRow]
    activation: dict[str, PatchResult] = field(repr=False)
    estimates: dict[str, dict[str, PatchResult]] = field(repr=False)
    """method -> component -> result."""

    def table(self) -> list[dict]:
        return [{"model": self.model, "task": self.task, **asdict(r)} for r in self.rows]

    def markdown(self) -> str:
        methods = list(self.estimates)
        head = "| component | " + " | ".join(f"r {m} | mag {m}" for m in methods) + " |"
        lines = [head, "|" + "---|" * (1 + 2 * len(methods))]
        for comp in self.activation:
            cells = [f"{r.pearson:.3f} | {r.magnitude:.2f}" for m in methods for r in self.rows
                     if r.component == comp and r.method == m]
            lines.append(f"| {comp} | " + " | ".join(cells) + " |")
        return "\n".join(lines)


def pearson(a: Float[Tensor, "..."], b: Float[Tensor, "..."]) -> float:
    """Pearson correlation of two equally shaped tensors, flattened (nan if either is constant)."""
    return float(torch.corrcoef(torch.stack([a.flatten().double(), b.flatten().double()]))[0, 1])


def compare(estimate: PatchResult, truth: PatchResult) -> FaithfulnessRow:
    """Pearson r and magnitude recovery of one estimate against activation patching."""
    if estimate.scores.shape != truth.scores.shape:
        raise ValueError(f"{estimate.method} {estimate.component} scores {tuple(estimate.scores.shape)} vs "
                         f"patching {tuple(truth.scores.shape)}")
    mag = float(estimate.scores.sum() / truth.scores.sum())
    return FaithfulnessRow(truth.component, estimate.method, pearson(estimate.scores, truth.scores), mag,
                           truth.scores.numel())


def faithfulness(model: HookedTransformer, task: Task | TaskGroups, components: Sequence[str] = COMPARED,
                 model_name: str = "", max_memory: int | None = None,
                 batching: Batching = "auto") -> FaithfulnessRun:
    """Activation patching vs every estimator of the registry (circuits.patching.methods: AtP, RelP and RelP+AH) on
    `components` of `task`; prompts of several lengths and runs over the memory budget (bytes; default:
    circuits.patching.memory.default_max_memory) as patch_task runs them."""
    def run(method: str) -> dict[str, PatchResult]:
        return patch_task(model, task, method, components, max_memory=max_memory, batching=batching).results

    truth = run(ground_truth().name)
    estimates = {m.name: run(m.name) for m in estimators()}
    rows = [compare(est[c], truth[c]) for est in estimates.values() for c in components]
    return FaithfulnessRun(model_name, task.name, rows, truth, estimates)
