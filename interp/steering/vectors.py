"""Steering vectors (activation addition: Turner et al. 2023; difference-in-means: Marks & Tegmark 2023): a hook, a
unit direction and where the direction came from.

Constructors cover the three sources the steering tools compare (docs/methods.md §6): a dictionary feature (an SAE
decoder row or an SNMF column, read through `interp.dictionary.Dictionary.feature_directions`), a single neuron
(one-hot at blocks.L.mlp.hook_post) and difference-in-means (mean activation on concept tokens minus the mean on the
other tokens, from toy-world labels or any mask). Every constructor checks the direction against the hook's width.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from jaxtyping import Bool, Float, Int
from torch import Tensor
from transformer_lens import HookedTransformer

from interp.activations.stream import hook_activations, hook_shape
from interp.dictionary import Dictionary


@dataclass(frozen=True)
class SteeringVector:
    """Add α·direction at `hook` (every position). `direction` is unit-norm, `source` describes its origin."""

    hook: str
    direction: Float[Tensor, " d"]
    source: dict[str, Any] = field(default_factory=dict)
    """JSON-ready description: {"kind": "feature" | "neuron" | "diff_in_means" | "raw", ...}."""

    def __post_init__(self):
        if self.direction.ndim != 1:
            raise ValueError(f"a steering direction is one vector, got shape {tuple(self.direction.shape)}")
        norm = float(self.direction.norm())
        if not norm > 0 or not np.isfinite(norm):
            raise ValueError(f"steering direction must be finite and nonzero, got norm {norm}")

    @property
    def d(self) -> int:
        return self.direction.shape[0]

    def label(self) -> str:
        s = self.source
        extra = {k: v for k, v in s.items() if k not in ("kind", "hook")}
        return f"{s.get('kind', 'raw')}({', '.join(f'{k}={v}' for k, v in extra.items())})@{self.hook}"


def _unit(v: Tensor) -> Tensor:
    v = v.detach().float().cpu()
    return v / v.norm().clamp_min(1e-12)


def check_direction(model: HookedTransformer, hook: str, direction: Float[Tensor, "*shape"]) -> None:
    """Raise a clear error when `direction` does not fit one position of `hook` (unknown hooks list valid ones)."""
    if "hook_pattern" in hook or "hook_attn_scores" in hook:
        raise ValueError(f"cannot steer attention patterns/scores ({hook}); use a residual, MLP or z hook")
    shape = hook_shape(model, hook)
    if len(shape) != 1:
        raise ValueError(f"hook {hook} has per-position shape {shape}; steering needs a flat hook such as "
                         f"blocks.L.hook_resid_post or blocks.L.mlp.hook_post")
    if tuple(direction.shape) != shape:
        raise ValueError(f"direction has shape {tuple(direction.shape)} but hook {hook} has width {shape[0]} "
                         f"per position: give a vector of {shape[0]} numbers")


def raw_vector(model: HookedTransformer, hook: str, direction: Float[Tensor, "*shape"],
               **source: Any) -> SteeringVector:
    """A steering vector along any given direction (normalised)."""
    check_direction(model, hook, direction)
    return SteeringVector(hook, _unit(direction), {"kind": "raw", **source})


def feature_vector(dictionary: Dictionary, index: int, model: HookedTransformer | None = None,
                   name: str = "") -> SteeringVector:
    """Feature `index` of a dictionary (SAE decoder row, SNMF column), normalised, at the dictionary's hook."""
    if not 0 <= index < dictionary.d_sae:
        raise ValueError(f"--feature {index}: feature index {index} out of range: this dictionary has "
                         f"{dictionary.d_sae} features, valid indices 0..{dictionary.d_sae - 1}")
    direction = dictionary.feature_directions()[index]
    if model is not None:
        check_direction(model, dictionary.hook_name, direction)
    return SteeringVector(dictionary.hook_name, _unit(direction),
                          {"kind": "feature", "dictionary": name or type(dictionary).__name__, "index": int(index)})


_MLP_POST = re.compile(r"^blocks\.(\d+)\.mlp\.hook_post$")


def neuron_vector(model: HookedTransformer, layer: int, neuron: int) -> SteeringVector:
    """One-hot direction of MLP neuron `neuron` of `layer` at blocks.layer.mlp.hook_post."""
    if not 0 <= layer < model.cfg.n_layers:
        raise ValueError(f"--neuron {layer}:{neuron}: layer {layer} out of range: the model has layers "
                         f"0..{model.cfg.n_layers - 1}")
    d_mlp = model.cfg.d_mlp
    if not 0 <= neuron < d_mlp:
        raise ValueError(f"--neuron {layer}:{neuron}: neuron index {neuron} out of range: layer {layer} has neurons "
                         f"0..{d_mlp - 1}")
    e = torch.zeros(d_mlp)
    e[neuron] = 1.0
    return SteeringVector(f"blocks.{layer}.mlp.hook_post", e, {"kind": "neuron", "layer": layer, "neuron": neuron})


def parse_neuron(spec: str) -> tuple[int, int]:
    """"L:N" or "L.N" -> (layer, neuron)."""
    m = re.fullmatch(r"(\d+)[:.](\d+)", spec.strip())
    if not m:
        raise ValueError(f"neuron {spec!r} must be written LAYER:INDEX, e.g. 2:137")
    return int(m.group(1)), int(m.group(2))


def diff_in_means(model: HookedTransformer, hook: str, tokens: Int[Tensor, "batch pos"],
                  mask: Bool[Tensor, "batch pos"] | Bool[np.ndarray, "batch pos"],
                  valid: Bool[Tensor, "batch pos"] | Bool[np.ndarray, "batch pos"] | None = None,
                  **source: Any) -> SteeringVector:
    """mean(activation | mask) - mean(activation | ~mask & valid) at `hook`, normalised.

    `mask` and `valid` are [batch, pos] booleans over `tokens`; `valid` (default: all but position 0, the BOS)
    says which tokens count at all.
    """
    mask = torch.as_tensor(np.asarray(mask), dtype=torch.bool)
    if mask.shape != tokens.shape:
        raise ValueError(f"mask shape {tuple(mask.shape)} differs from tokens shape {tuple(tokens.shape)}")
    if valid is None:
        valid = torch.ones_like(mask)
        valid[:, 0] = False
    valid = torch.as_tensor(np.asarray(valid), dtype=torch.bool)
    pos, neg = mask & valid, ~mask & valid
    if not pos.any() or not neg.any():
        raise ValueError(f"difference-in-means needs concept and other tokens; got {int(pos.sum())} concept and "
                         f"{int(neg.sum())} other tokens")
    acts = hook_activations(model, hook, tokens).flatten(2).double()
    if acts.shape[-1] == 0 or acts.ndim != 3:
        raise ValueError(f"hook {hook} has no flat per-position activation")
    diff = acts[pos].mean(0) - acts[neg].mean(0)
    info = {"n_concept": int(pos.sum()), "n_other": int(neg.sum()), "raw_norm": float(diff.norm())}
    return SteeringVector(hook, _unit(diff), {"kind": "diff_in_means", **source, **info})


def diff_in_means_concept(model: HookedTransformer, hook: str, concept: str, n_docs: int = 64, seed: int = 0,
                          split: str = "heldout") -> SteeringVector:
    """Difference-in-means for a concept of the model's toy world ("gender:female"), on `n_docs` labelled
    documents; a model of no world is an error (the world's token ids mean nothing to it)."""
    from interp.worlds import require_world

    world = require_world(model, f"--concept {concept}",
                          "steer a --dictionary feature or a --neuron of this model instead")
    corpus = world.docs(n_docs, seed, split, model.cfg.n_ctx)
    tokens = torch.as_tensor(corpus.tokens, dtype=torch.long)
    return diff_in_means(model, hook, tokens, corpus.concept_mask(concept), concept=concept, n_docs=n_docs)
