"""Named results of every patching method, and their on-disk form (safetensors scores + a JSON summary).

A `PatchResult` carries its score tensor with the name of each axis and a label per index (layer L0, position IO,
head H1, ...), so plots and tables never guess what a dimension means. Scores are in normalised units by default:
(metric_patched - metric_corrupted) / (metric_clean - metric_corrupted), for every method, so activation patching,
AtP and RelP are directly comparable. `save_results` writes the schema documented in RESULT_SCHEMA.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import torch
from jaxtyping import Float
from torch import Tensor

from interp.atomic import atomic_write, atomic_write_text
from interp.json_files import read_json
from interp.safetensors_io import read_tensors, write_tensors

from ..tasks.base import Baselines

SCHEMA_VERSION = 1
RESULT_SCHEMA = {
    "schema_version": "int, bumped on any incompatible change",
    "model": "model name as given to load_model", "task": "task name", "method": "activation|attribution|relp",
    "baselines": {"clean": "mean metric of the clean run", "corrupted": "mean metric of the corrupted run"},
    "results": {"<component>": {"axes": "axis names, in tensor order", "shape": "score tensor shape",
                                "labels": "axis name -> one label per index",
                                "normalised": "true: 1 = clean, 0 = corrupted",
                                "top": "the 10 largest |score| entries as {index labels..., score}"}},
    "tensors": "scores.safetensors holds one float32 tensor per component, keyed by component name",
    "provenance": "(interp patch) model name and weight processing; the task: built-in name and settings, or the "
                  "task file's path and xxh3-128 fingerprint; the memory budget, estimated peak and chunk count",
    "groups": "(prompts of several lengths) per group of one length: name, n_prompts, n_pos, chunks, baselines, "
              "and results like the top-level ones, their tensors keyed 'group<i>/<component>'",
}


@dataclass
class PatchResult:
    """Scores of one method on one component type, with named axes."""

    method: str
    """activation, attribution (AtP), or relp."""
    component: str
    """Component name from circuits.patching.components.COMPONENTS (or "latent" for dictionary latents)."""
    axes: tuple[str, ...]
    scores: Float[Tensor, "..."]
    """One score per index; shape = the sizes of `axes`."""
    baselines: Baselines
    normalised: bool = True
    labels: dict[str, list[str]] = field(default_factory=dict)
    """Axis name -> a label per index along it."""

    def __post_init__(self):
        if self.scores.ndim != len(self.axes):
            raise ValueError(f"scores have {self.scores.ndim} dims but axes are {self.axes}")

    def top(self, k: int = 10) -> list[dict]:
        """The k entries of largest |score|, each as {axis: label, ..., "score": value}."""
        flat = self.scores.flatten()
        out = []
        for i in flat.abs().argsort(descending=True)[:k].tolist():
            idx = torch.unravel_index(torch.tensor(i), self.scores.shape)
            row = {a: self.labels.get(a, [str(j) for j in range(n)])[int(j)]
                   for a, j, n in zip(self.axes, idx, self.scores.shape)}
            out.append({**row, "score": float(flat[i])})
        return out


def default_labels(axes: tuple[str, ...], shape: tuple[int, ...], pos_labels: list[str]) -> dict[str, list[str]]:
    """Labels for the standard axes: L0.., H0.., the task's position labels, plain indices otherwise."""
    prefix = {"layer": "L", "head": "H", "neuron": "N", "latent": "F"}
    labels = {}
    for a, n in zip(axes, shape):
        if a in ("pos", "dest_pos", "src_pos") and len(pos_labels) == n:
            labels[a] = list(pos_labels)
        else:
            labels[a] = [f"{prefix.get(a, '')}{i}" for i in range(n)]
    return labels


def save_results(results: dict[str, PatchResult], folder: str | Path, model: str, task: str, *,
                 provenance: dict | None = None, groups: Sequence[GroupResults] = ()) -> Path:
    """Write scores.safetensors and summary.json (see RESULT_SCHEMA) into `folder`; `groups` holds each prompt
    length's own results when a task has several."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    first = next(iter(results.values()))
    tensors = {k: r.scores for k, r in results.items()}
    for i, g in enumerate(groups):
        tensors.update({f"group{i}/{k}": r.scores for k, r in g.results.items()})
    arrays = {k: t.detach().float().cpu() for k, t in tensors.items()}
    atomic_write(folder / "scores.safetensors", lambda p: write_tensors(p, arrays))  # whole or not at all
    summary = {"schema_version": SCHEMA_VERSION, "model": model, "task": task, "method": first.method,
               "baselines": vars(first.baselines), "results": _described(results)}
    if provenance:
        summary["provenance"] = provenance
    if groups:
        summary["groups"] = [{"name": g.name, "n_prompts": g.n_prompts, "n_pos": g.n_pos, "chunks": g.chunks,
                              "baselines": vars(next(iter(g.results.values())).baselines),
                              "results": _described(g.results)} for g in groups]
    atomic_write_text(folder / "summary.json", json.dumps(summary, indent=1))
    return folder


def _described(results: dict[str, PatchResult]) -> dict:
    return {k: {"axes": list(r.axes), "shape": list(r.scores.shape), "labels": r.labels, "normalised": r.normalised,
                "top": r.top()} for k, r in results.items()}


def load_results(folder: str | Path, group: int | None = None) -> dict[str, PatchResult]:
    """Read back what `save_results` wrote: the results over all prompts, or those of group `group`."""
    folder = Path(folder)
    summary = read_json(folder / "summary.json")
    tensors = read_tensors(folder / "scores.safetensors", "patching scores")
    prefix = "" if group is None else f"group{group}/"
    part = summary if group is None else summary["groups"][group]
    base = Baselines(**part["baselines"])
    return {k: PatchResult(summary["method"], k, tuple(r["axes"]), tensors[prefix + k], base, r["normalised"],
                           r["labels"]) for k, r in part["results"].items()}


class GroupResults(NamedTuple):
    """What save_results records of one group of one prompt length (circuits.patching.run.GroupRun fits)."""

    name: str
    n_prompts: int
    n_pos: int
    chunks: int
    results: dict[str, PatchResult]
