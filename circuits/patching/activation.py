"""Activation patching (denoising), batched: many patches share one forward pass.

The setup follows transformer_lens.patching: run the corrupted prompts, replace one activation (a component at one
index, e.g. resid_pre at (layer 2, position S2)) by its value on the clean prompts, and measure the metric. The
difference is speed. Instead of one forward pass per patch:

- k copies of the corrupted batch are stacked along the batch dim, copy j carrying patch j, so one forward pass
  measures k patches (k = max_batch // n_prompts);
- a patch at layer l cannot change anything below l, so each pass starts at layer l from the cached corrupted
  residual stream (`start_at_layer`) instead of re-running the embedding and layers 0..l-1.

There is one generic routine, `generic_activation_patch`, parametrised by a `Component` (which activation, which
axes) and a patch setter; the per-component functions below are `functools.partial` specialisations of it, as in
TransformerLens. Scores are normalised ((patched - corrupted) / (clean - corrupted)) unless normalise=False, in
which case they are the raw task metric, exactly what transformer_lens.patching returns for the same metric.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Sequence
from functools import partial

import torch
from jaxtyping import Float
from torch import Tensor
from transformer_lens import HookedTransformer
from transformer_lens import utils as tl_utils

from interp.dictionary import Dictionary

from ..tasks.base import Baselines, Task
from .components import COMPONENTS, Component
from .results import PatchResult, default_labels

Index = tuple[int, ...]
Setter = Callable[[Tensor, Tensor, Sequence[Index]], Tensor]
"""(corrupted activation [k, batch, ...], clean activation [batch, ...], k indices) -> patched [k, batch, ...]."""


def index_setter(comp: Component, act: Tensor, clean: Tensor, indices: Sequence[Index]) -> Tensor:
    """Copy j gets the clean activation at `indices[j]` (the kept dims of `comp`), everything else corrupted."""
    for j, index in enumerate(indices):
        sel = comp.index(index, clean.ndim)
        act[j][sel] = clean[sel]
    return act


def start_layer(hook_name: str) -> int | None:
    """The block a hook lives in (a pass patching it can start there), None for hooks before the blocks."""
    m = re.match(r"blocks\.(\d+)\.", hook_name)
    return int(m.group(1)) if m else None


@torch.no_grad()
def patch_sweep(model: HookedTransformer, task: Task, hook_name: str, clean_act: Tensor, indices: Sequence[Index],
                setter: Setter, resid_pre: dict[int, Tensor], max_batch: int = 2048) -> Float[Tensor, " n_indices"]:
    """Raw task metric after each patch in `indices` at one hook, k patches per forward pass."""
    n = task.n_prompts
    k_max = max(1, max_batch // n)
    layer = start_layer(hook_name)
    out = []
    for c in range(0, len(indices), k_max):
        chunk = indices[c:c + k_max]
        k = len(chunk)

        def hook(act, hook, chunk=chunk, k=k):
            copies = act.view(k, n, *act.shape[1:])  # [k * batch, ...] -> [k, batch, ...], copy-major
            return setter(copies, clean_act, chunk).reshape(act.shape)

        if layer is None:
            inp, kw = task.corrupted.repeat(k, 1), {}  # [k * batch, pos]
        else:
            inp, kw = resid_pre[layer].repeat(k, 1, 1), {"start_at_layer": layer}  # [k * batch, pos, d_model]
        out.append(task.metric_copies(_logits(model, task, inp, [(hook_name, hook)], kw)))
    return torch.cat(out)


def _logits(model: HookedTransformer, task: Task, inp: Tensor, hooks: list, kw: dict) -> Tensor:
    """Logits of a patched pass; only at the last position when the task's metric reads nothing else."""
    if not task.last_position_only or model.cfg.output_logits_soft_cap > 0:
        return model.run_with_hooks(inp, fwd_hooks=hooks, **kw)
    resid = model.run_with_hooks(inp, fwd_hooks=hooks, stop_at_layer=model.cfg.n_layers, **kw)  # [rows, pos, d]
    last = resid[:, -1:]  # [rows, 1, d_model]: the unembedding of other positions is never read
    if model.cfg.normalization_type is not None:
        last = model.ln_final(last)
    return model.unembed(last)  # [rows, 1, d_vocab]


@torch.no_grad()
def _runs(model: HookedTransformer, task: Task, hook_names: list[str]):
    """Clean activations at `hook_names`, corrupted resid_pre of every layer, and both baselines."""
    clean_logits, clean_cache = model.run_with_cache(task.clean, names_filter=lambda n: n in hook_names)
    resid = [tl_utils.get_act_name("resid_pre", layer) for layer in range(model.cfg.n_layers)]
    corrupt_logits, corrupt_cache = model.run_with_cache(task.corrupted, names_filter=lambda n: n in resid)
    pre = {layer: corrupt_cache[name] for layer, name in enumerate(resid)}
    return clean_cache, pre, Baselines(float(task.metric(clean_logits)), float(task.metric(corrupt_logits)))


def generic_activation_patch(model: HookedTransformer, task: Task, component: Component, *,
                             layers: Sequence[int] | None = None, normalise: bool = True,
                             max_batch: int = 2048) -> PatchResult:
    """Patch every index of `component` (every layer, every value of its other axes) from clean into corrupted.

    Args:
        model: the model (any HookedTransformer; it is not modified).
        task: clean / corrupted tokens, answers and metric.
        component: what to patch (circuits.patching.components.COMPONENTS).
        layers: the layers to sweep (default all); the layer axis of the result has one entry per swept layer.
        normalise: scores as (patched - corrupted) / (clean - corrupted) (default) or the raw metric.
        max_batch: rows per forward pass (patch copies x prompts); lower it if memory is short.

    Returns:
        A PatchResult with scores of shape [n_layers, *sizes of the other axes], e.g. [n_layers, pos] for resid_pre.
    """
    layers = list(range(model.cfg.n_layers)) if layers is None else list(layers)
    names = [tl_utils.get_act_name(component.act, layer) for layer in layers]
    clean_cache, pre, base = _runs(model, task, names)
    per_layer = []
    for name in names:
        clean = clean_cache[name]
        sizes = [clean.shape[d] for d in component.keep]
        indices = list(itertools.product(*map(range, sizes)))
        raw = patch_sweep(model, task, name, clean, indices, partial(index_setter, component), pre, max_batch)
        per_layer.append(raw.view(tuple(sizes)))  # [n_indices] -> [*sizes]
    scores = torch.stack(per_layer)  # [n_layers, *sizes]
    if normalise:
        scores = (scores - base.corrupted) / (base.clean - base.corrupted)
    return PatchResult("activation", component.name, component.axes, scores.cpu(), base, normalise,
                       default_labels(component.axes, tuple(scores.shape), task.pos_labels))


resid_pre = partial(generic_activation_patch, component=COMPONENTS["resid_pre"])
resid_pre.__doc__ = "resid_pre per (layer, pos): scores [n_layers, pos]. See generic_activation_patch."
resid_mid = partial(generic_activation_patch, component=COMPONENTS["resid_mid"])
resid_mid.__doc__ = "resid_mid per (layer, pos): scores [n_layers, pos]. See generic_activation_patch."
attn_out = partial(generic_activation_patch, component=COMPONENTS["attn_out"])
attn_out.__doc__ = "Attention-layer output per (layer, pos): scores [n_layers, pos]."
mlp_out = partial(generic_activation_patch, component=COMPONENTS["mlp_out"])
mlp_out.__doc__ = "MLP output per (layer, pos): scores [n_layers, pos]."
mlp_layer = partial(generic_activation_patch, component=COMPONENTS["mlp"])
mlp_layer.__doc__ = "Whole MLP output at all positions per layer: scores [n_layers]."
head_out = partial(generic_activation_patch, component=COMPONENTS["head_out"])
head_out.__doc__ = "Head outputs (hook_z) at all positions per (layer, head): scores [n_layers, n_heads]."
head_q = partial(generic_activation_patch, component=COMPONENTS["head_q"])
head_q.__doc__ = "Head queries at all positions per (layer, head): scores [n_layers, n_heads]."
head_k = partial(generic_activation_patch, component=COMPONENTS["head_k"])
head_k.__doc__ = "Head keys at all positions per (layer, head): scores [n_layers, n_heads]."
head_v = partial(generic_activation_patch, component=COMPONENTS["head_v"])
head_v.__doc__ = "Head values at all positions per (layer, head): scores [n_layers, n_heads]."
head_pattern = partial(generic_activation_patch, component=COMPONENTS["head_pattern"])
head_pattern.__doc__ = "Whole attention patterns per (layer, head): scores [n_layers, n_heads]."
head_out_by_pos = partial(generic_activation_patch, component=COMPONENTS["head_out_by_pos"])
head_out_by_pos.__doc__ = "Head outputs per (layer, pos, head): scores [n_layers, pos, n_heads]."
head_q_by_pos = partial(generic_activation_patch, component=COMPONENTS["head_q_by_pos"])
head_q_by_pos.__doc__ = "Head queries per (layer, pos, head): scores [n_layers, pos, n_heads]."
head_k_by_pos = partial(generic_activation_patch, component=COMPONENTS["head_k_by_pos"])
head_k_by_pos.__doc__ = "Head keys per (layer, pos, head): scores [n_layers, pos, n_heads]."
head_v_by_pos = partial(generic_activation_patch, component=COMPONENTS["head_v_by_pos"])
head_v_by_pos.__doc__ = "Head values per (layer, pos, head): scores [n_layers, pos, n_heads]."
head_pattern_by_pos = partial(generic_activation_patch, component=COMPONENTS["head_pattern_by_pos"])
head_pattern_by_pos.__doc__ = "Attention pattern rows per (layer, head, dest_pos): scores [n_layers, n_heads, pos]."
neurons = partial(generic_activation_patch, component=COMPONENTS["neuron"])
neurons.__doc__ = "MLP neurons (hook_post) at all positions per (layer, neuron): scores [n_layers, d_mlp]."


def block_every(model: HookedTransformer, task: Task, **kw) -> dict[str, PatchResult]:
    """resid_pre, attn_out and mlp_out per (layer, pos): our get_act_patch_block_every."""
    return {name: generic_activation_patch(model, task, COMPONENTS[name], **kw)
            for name in ("resid_pre", "attn_out", "mlp_out")}


def latent_setter(dictionary: Dictionary, clean_codes: Tensor, act: Tensor, clean: Tensor,
                  indices: Sequence[Index]) -> Tensor:
    """Copy j: the corrupted reconstruction with latent indices[j] set to its clean code, plus the corrupted error."""
    codes = dictionary.encode(act)  # [k, batch, pos, d_sae]
    patched = codes.clone()
    for j, (latent,) in enumerate(indices):
        patched[j, ..., latent] = clean_codes[..., latent]
    return act + dictionary.decode(patched) - dictionary.decode(codes)  # error term act - decode(codes) kept


@torch.no_grad()
def dictionary_latents(model: HookedTransformer, task: Task, dictionary: Dictionary,
                       latents: Sequence[int] | None = None, normalise: bool = True,
                       max_batch: int = 2048) -> PatchResult:
    """Patch each dictionary latent (at all positions) from clean into corrupted: scores [n_latents].

    Any object satisfying interp.dictionary.Dictionary works (SAE, SNMF); the corrupted activation is written as
    reconstruction + error, and only the latent's code changes, so the error term stays the corrupted one.
    """
    latents = list(range(dictionary.d_sae)) if latents is None else list(latents)
    clean_cache, pre, base = _runs(model, task, [dictionary.hook_name])
    clean = clean_cache[dictionary.hook_name]
    setter = partial(latent_setter, dictionary, dictionary.encode(clean))
    raw = patch_sweep(model, task, dictionary.hook_name, clean, [(i,) for i in latents], setter, pre, max_batch)
    scores = (raw - base.corrupted) / (base.clean - base.corrupted) if normalise else raw
    return PatchResult("activation", "latent", ("latent",), scores.cpu(), base, normalise,
                       {"latent": [f"F{i}" for i in latents]})
