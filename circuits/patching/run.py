"""One patching run over any task: prompts grouped by token length, chunked to fit in memory, combined exactly.

`patch_task` runs a method of the registry (circuits.patching.methods: activation patching; AtP, Nanda's
attribution patching; RelP, Jafari et al. 2025) on a Task or on TaskGroups (prompts of several lengths, e.g. a task
file or the classic IOI templates of Wang et al. 2022). Each group is planned by circuits.patching.memory: its
prompts are patched in chunks whose estimated memory stays under the budget. Chunks and groups are then combined
into the result over all prompts:

- every method's score is, in raw units, the change of the task metric (the mean over prompts of the per-prompt
  metric) that a patch causes (activation patching) or is estimated to cause (AtP / RelP). A mean over prompts
  splits over disjoint prompt sets, so the change over all prompts is the prompt-weighted mean of the changes over
  each chunk or group, and the baselines (clean and corrupted metric) likewise. Chunked results therefore equal one
  run over all prompts (up to float rounding), and normalisation ((patched - corrupted) / (clean - corrupted)) is
  applied once, to the combined numbers.
- groups of different lengths are aligned at the END of the prompt: position -1 of every group is the last token
  (the one the metric reads), -2 the one before, and so on. A group shorter than the longest has no token at the
  first positions; a patch there changes nothing in that group (change 0). So the combined score at a position is
  the effect of patching "the token k from the end" in every prompt that has one, weighted by prompt count. Its
  label is the token label every group agrees on there, else END-k. Each group's own result (the group patched
  alone, its own baselines and labels) is kept in `PatchRun.groups`; for templates whose words differ at a
  position, read those.
- many small groups (natural-English templates give one group per template and length, often of one or two
  prompts) are instead left-padded into one batch with an attention mask (circuits.tasks.groups.padded): a patch
  at a padding position changes nothing, so the numbers are those of the combination above, computed in a few
  large passes instead of many tiny ones; only the combined result is kept (`batching`, BATCHING).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import NamedTuple

import torch.nn.functional as F
from jaxtyping import Float
from torch import Tensor
from tqdm.auto import tqdm
from transformer_lens import HookedTransformer

from ..config import BATCHING, MAX_SEPARATE_GROUPS, Batching
from ..tasks.base import Baselines, Task
from ..tasks.groups import TaskGroups, as_groups, merged_labels, padded
from .memory import MemoryPlan, default_max_memory, estimate_memory, plan_memory
from .methods import method_named
from .results import PatchResult

POS_AXES = ("pos", "dest_pos", "src_pos")
Results = dict[str, PatchResult]


class GroupRun(NamedTuple):
    """One group of one prompt length: its plan and its result when patched alone."""

    name: str
    n_prompts: int
    n_pos: int
    plan: MemoryPlan
    results: Results


class PatchRun(NamedTuple):
    """The combined result over all prompts and the run of each group."""

    results: Results
    groups: list[GroupRun]

    @property
    def chunks(self) -> int:
        return sum(g.plan.n_chunks for g in self.groups)


def run_method(method: str, model: HookedTransformer, task: Task, components: Sequence[str], normalise: bool = True,
               max_batch: int = 2048) -> Results:
    """component -> PatchResult of one method on one Task (one prompt length, all prompts at once): the method's
    runner in the registry (circuits.patching.methods)."""
    return method_named(method).runner(model, task, list(components), normalise, max_batch)


def patch_task(model: HookedTransformer, task: Task | TaskGroups, method: str, components: Sequence[str], *,
               max_memory: int | None = None, normalise: bool = True, max_batch: int = 2048,
               batching: Batching = "auto", progress: bool = False) -> PatchRun:
    """Patch every group of `task`, each in chunks under `max_memory` bytes (default: default_max_memory), and
    combine them (see the module docstring). Every group is planned before anything runs, so a budget too small
    for one prompt is refused at once. `batching` (see BATCHING) chooses between patching each length group alone
    and one left-padded batch of all prompts. `progress` shows a bar of prompts patched (on stderr)."""
    groups = as_groups(task)
    if isinstance(task, TaskGroups) and use_padding(task, batching):
        groups = [padded(task, pad_token_id(model))]
    budget = max_memory if max_memory is not None else default_max_memory(model.cfg.device)
    plans = [plan_memory(estimate_memory(model, method, components, g.n_pos, g.last_position_only), g.n_prompts,
                         budget, f"{method} patching of {', '.join(components)} on {g.n_pos}-token prompts",
                         max_batch) for g in groups]
    runs, raws = [], []
    with tqdm(total=sum(g.n_prompts for g in groups), desc=f"{method} patching", unit="prompt",
              disable=not progress) as bar:  # closed (its line ended) before any error is printed
        for g, plan in zip(groups, plans):
            parts = []
            for c in chunks(g, plan.chunk):
                parts.append((c.n_prompts, run_method(method, model, c, components, False, plan.max_batch)))
                bar.update(c.n_prompts)
            raw = merge(parts)
            raws.append((g.n_prompts, raw))
            runs.append(GroupRun(g.name, g.n_prompts, g.n_pos, plan,
                                 normalised(raw, checked=len(groups) == 1) if normalise else raw))
    if len(runs) == 1:
        return PatchRun(runs[0].results, runs)
    combined = merge(raws)
    return PatchRun(normalised(combined) if normalise else combined, runs)


def use_padding(task: TaskGroups, batching: Batching) -> bool:
    """Whether `task`'s groups run as one padded batch: always for "padded", never for "groups", and for "auto"
    when there are more than MAX_SEPARATE_GROUPS of them (natural-English templates make one group per template
    and length, often of a prompt or two each: patched apart, nothing would be batched)."""
    if batching not in BATCHING:
        raise ValueError(f"batching must be one of {', '.join(BATCHING)}, got {batching!r}")
    return batching == "padded" or (batching == "auto" and len(task.groups) > MAX_SEPARATE_GROUPS)


def pad_token_id(model: HookedTransformer) -> int:
    """A token to fill padding with (masked, so any id serves): the tokenizer's pad, else BOS, else 0."""
    tok = model.tokenizer
    for name in ("pad_token_id", "bos_token_id"):
        if tok is not None and getattr(tok, name, None) is not None:
            return int(getattr(tok, name))
    return 0


def chunks(task: Task, size: int) -> list[Task]:
    """`task` split into consecutive sub-tasks of at most `size` prompts."""
    if size >= task.n_prompts:
        return [task]
    return [task.subset(slice(i, i + size)) for i in range(0, task.n_prompts, size)]


def metric_change(r: PatchResult) -> Float[Tensor, "..."]:
    """A raw (unnormalised) score as the change of the mean metric: an exact method's (activation patching's)
    patched metric minus the corrupted baseline; estimators (AtP, RelP) estimate the change itself."""
    if r.normalised:
        raise ValueError("metric_change takes raw scores (normalise=False)")
    return r.scores - r.baselines.corrupted if method_named(r.method).exact else r.scores


def normalised(raw: Results, checked: bool = True) -> Results:
    """Raw results in normalised units: (patched - corrupted) / (clean - corrupted), 1 = the clean run. `checked`:
    a degenerate gap is an error or a warning (Baselines.gap); one length group of several may have one (the
    combined result is checked)."""
    out = {}
    for name, r in raw.items():
        scale = r.baselines.gap if checked else r.baselines.clean - r.baselines.corrupted
        out[name] = dataclasses.replace(r, scores=metric_change(r) / scale, normalised=True)
    return out


def merge(parts: Sequence[tuple[int, Results]]) -> Results:
    """Raw results of disjoint prompt sets (n prompts each) as the raw result over all of them: prompt-weighted
    means of metric changes and baselines, position axes aligned at the end (see the module docstring)."""
    if len(parts) == 1:
        return parts[0][1]
    total = sum(n for n, _ in parts)
    weights = [n / total for n, _ in parts]
    out = {}
    for name, first in parts[0][1].items():
        rs = [p[name] for _, p in parts]
        base = Baselines(sum(w * r.baselines.clean for w, r in zip(weights, rs)),
                         sum(w * r.baselines.corrupted for w, r in zip(weights, rs)))
        shape = [max(r.scores.shape[d] for r in rs) for d in range(first.scores.ndim)]
        change = sum(w * end_aligned(metric_change(r), shape) for w, r in zip(weights, rs))
        scores = change + base.corrupted if method_named(first.method).exact else change
        labels = {a: merged_labels([r.labels[a] for r in rs], shape[d]) if a in POS_AXES else first.labels[a]
                  for d, a in enumerate(first.axes)}
        out[name] = PatchResult(first.method, first.component, first.axes, scores, base, False, labels)
    return out


def end_aligned(x: Float[Tensor, "..."], shape: Sequence[int]) -> Float[Tensor, "..."]:
    """`x` zero-padded at the front of every dim to `shape` (positions aligned at the end of the prompt)."""
    if list(x.shape) == list(shape):
        return x
    pads: list[int] = []
    for d in reversed(range(x.ndim)):
        pads += [shape[d] - x.shape[d], 0]
    return F.pad(x, pads)
