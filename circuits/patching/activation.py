"""Activation patching (denoising), batched: many patches share one forward pass.

The setup follows transformer_lens.patching: run the corrupted prompts, replace one activation (a component at one
index, e.g. resid_pre at (layer 2, position S2)) by its value on the clean prompts, and measure the metric. The
difference is speed. Instead of one forward pass per patch:

- k copies of the corrupted batch are stacked along the batch dim, copy j carrying patch j, so one forward pass
  measures k patches (k = max_batch // n_prompts);
- a patch at layer l cannot change anything below l, so each pass starts at layer l from the cached corrupted
  residual stream (`start_at_layer`) instead of re-running the embedding and layers 0..l-1;
- a patch at position p cannot change anything before p (attention is causal), so when the metric reads only the
  last position the pass runs positions p.. only, attending to the corrupted run's cached keys and values of the
  earlier positions. On IOI prompts this halves the work of a (layer, position) sweep.

There is one generic routine, `generic_activation_patch`, parametrised by a `Component` (which activation, which
axes) and a patch setter; the per-component functions below are `functools.partial` specialisations of it, as in
TransformerLens. Scores are normalised ((patched - corrupted) / (clean - corrupted)) unless normalise=False, in
which case they are the raw task metric, exactly what transformer_lens.patching returns for the same metric.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

import torch
from jaxtyping import Float, Shaped
from torch import Tensor
from transformer_lens import HookedTransformer
from transformer_lens import utils as tl_utils
from transformer_lens.cache.key_value_cache_entry import TransformerLensKeyValueCacheEntry

from interp.dictionary import Dictionary
from interp.fused import fused_kernels

from ..tasks.base import Baselines, Task
from .components import COMPONENTS, Component
from .cost import pass_overhead
from .results import PatchResult, default_labels

Index = tuple[int, ...]
Setter = Callable[[Tensor, Tensor, Sequence[Index]], Tensor]
"""(corrupted activation [k, batch, ...], clean activation [batch, ...], k indices) -> patched [k, batch, ...]."""


def index_setter(comp: Component, act: Float[Tensor, "k batch ..."], clean: Float[Tensor, "batch ..."],
                 indices: Sequence[Index]) -> Float[Tensor, "k batch ..."]:
    """Copy j gets the clean activation at `indices[j]` (the kept dims of `comp`), everything else corrupted."""
    for j, index in enumerate(indices):
        sel = comp.index(index, clean.ndim)
        act[j][sel] = clean[sel]
    return act


def start_layer(hook_name: str) -> int | None:
    """The block a hook lives in (a pass patching it can start there), None for hooks before the blocks."""
    m = re.match(r"blocks\.(\d+)\.", hook_name)
    return int(m.group(1)) if m else None


@dataclass
class CorruptedRun:
    """What patched passes reuse from the corrupted run: each layer's residual input and attention keys / values."""

    resid_pre: dict[int, Tensor]
    """layer -> [batch, pos, d_model]"""
    keys: dict[int, Tensor]
    """layer -> [batch, pos, head, d_head] (hook_k)"""
    values: dict[int, Tensor]
    """layer -> [batch, pos, head, d_head] (hook_v)"""

    def prefix_cache(self, p: int, copies: int) -> list[TransformerLensKeyValueCacheEntry]:
        """Frozen KV-cache entries holding positions [0, p) of every layer, for `copies` stacked batches."""
        def stack(t: Tensor) -> Tensor:
            return t[:, :p] if copies == 1 else t[:, :p].repeat(copies, 1, 1, 1)  # [copies * batch, p, head, d_head]

        return [TransformerLensKeyValueCacheEntry(stack(self.keys[layer]), stack(self.values[layer]), frozen=True)
                for layer in sorted(self.keys)]


@torch.no_grad()
def patch_sweep(model: HookedTransformer, task: Task, hook_name: str, clean_act: Float[Tensor, "batch ..."],
                indices: Sequence[Index], setter: Setter, run: CorruptedRun, max_batch: int = 2048,
                component: Component | None = None) -> Float[Tensor, " n_indices"]:
    """Raw task metric after each patch in `indices` at one hook, k patches per forward pass.

    With a `component` whose patches fix a position p, positions before p are not recomputed: the pass runs
    positions [p, end) only, attending to the corrupted run's keys and values of [0, p) (a frozen KV cache). This
    needs a metric that reads the last position only and a hook inside the blocks; otherwise every pass is whole.
    """
    n, k_max, layer = task.n_prompts, max(1, max_batch // task.n_prompts), start_layer(hook_name)
    suffix_ok = component is not None and layer is not None and task.last_position_only
    firsts = [component.first_pos(index) if suffix_ok else 0 for index in indices]
    # start position -> positions in `indices`
    groups = plan_passes(firsts, n, k_max, task.n_pos, pass_overhead(model))
    out = torch.empty(len(indices))
    now: dict = {}  # the pass being run: its k patches and the clean activation they read

    def hook(act, hook):
        copies = act.view(len(now["chunk"]), n, *act.shape[1:])  # [k * batch, ...] -> [k, batch, ...], copy-major
        return setter(copies, now["clean"], now["chunk"]).reshape(act.shape)

    with model.hooks(fwd_hooks=[(hook_name, hook)]):  # installed once: adding hooks per pass costs as much as a layer
        for p, members in groups.items():
            clean = clean_act if p == 0 else clean_act.narrow(component.pos_dim, p,
                                                               clean_act.shape[component.pos_dim] - p)
            for c in range(0, len(members), k_max):
                rows = members[c:c + k_max]
                now.update(clean=clean, chunk=[indices[i] if p == 0 else component.shift(indices[i], p) for i in rows])
                k = len(rows)
                if layer is None:
                    inp, kw = task.corrupted.repeat(k, 1), task.mask(k)  # [k * batch, pos]
                else:
                    inp = run.resid_pre[layer][:, p:].repeat(k, 1, 1)  # [k * batch, pos - p, d_model]
                    kw = {"start_at_layer": layer, "past_kv_cache": run.prefix_cache(p, k) if p else None,
                          **task.mask(k)}  # a padding mask spans the cached prefix too
                out[rows] = task.metric_copies(metric_logits(model, task, inp, kw, layer)).to(out)
    return out


def plan_passes(firsts: Sequence[int], n_prompts: int, k_max: int, n_pos: int,
                overhead: float) -> dict[int, list[int]]:
    """Which patches share a pass: start position -> the patches (indices into `firsts`) that pass runs.

    A patch whose first changed position is p needs positions p.. only; patches of several first positions can
    share a pass that starts at the smallest. Sharing saves a pass's fixed cost (`overhead`, in prompt-positions
    of compute: circuits.patching.cost.pass_overhead) and costs the positions the later patches recompute. The
    positions are split into consecutive runs by dynamic programming on
    cost(run) = passes * overhead + patches * n_prompts * (n_pos - start), passes = ceil(patches / k_max).
    """
    by_pos: dict[int, list[int]] = {}
    for i, p in enumerate(firsts):
        by_pos.setdefault(p, []).append(i)
    starts = sorted(by_pos)
    best = [0.0] * (len(starts) + 1)  # best[i]: cheapest plan of the positions starts[i:]
    cut = [len(starts)] * len(starts)
    for i in reversed(range(len(starts))):
        best[i], rows = float("inf"), 0
        for j in range(i, len(starts)):
            rows += len(by_pos[starts[j]])
            cost = -(-rows // k_max) * overhead + rows * n_prompts * (n_pos - starts[i]) + best[j + 1]
            if cost < best[i]:
                best[i], cut[i] = cost, j + 1
    plan, i = {}, 0
    while i < len(starts):
        plan[starts[i]] = [m for p in starts[i:cut[i]] for m in by_pos[p]]
        i = cut[i]
    return plan


def metric_logits(model: HookedTransformer, task: Task, inp: Shaped[Tensor, "rows ..."], kw: dict,
                  patch_layer: int | None) -> Float[Tensor, "rows pos d_vocab"]:
    """Logits of a pass over `inp` (tokens, or the residual stream when `kw` starts at a layer) that `task`'s metric
    reads: only at the last position when the metric reads nothing else (the unembedding is a fifth of SmolLM2's
    forward pass), else at every position.

    Then the final block, too, runs for the last position only (its MLP and attention output are read nowhere
    else): the earlier positions only contribute their final-layer keys and values. That needs the patch to sit
    below the final block.
    """
    cfg = model.cfg
    if not task.last_position_only or cfg.output_logits_soft_cap > 0:
        return model(inp, **kw)
    n = cfg.n_layers
    if (patch_layer is None or patch_layer >= n - 1 or cfg.positional_embedding_type == "shortformer"
            or cfg.use_split_qkv_input or cfg.use_attn_in):
        last = model(inp, stop_at_layer=n, **kw)[:, -1:]  # [rows, 1, d_model]
    else:
        resid = model(inp, stop_at_layer=n - 1, **kw)  # [rows, pos, d_model]: the final block's input
        last = _final_block_last_position(model, resid, kw.get("past_kv_cache"), kw.get("attention_mask"))
    if cfg.normalization_type is not None:
        last = model.ln_final(last)
    return model.unembed(last)  # [rows, 1, d_vocab]


def _final_block_last_position(model: HookedTransformer, resid: Tensor, prefix: list | None,
                               mask: Tensor | None = None) -> Tensor:
    """The final block's output at the last position, given its input at every position from p on (`mask`: a
    padded task's attention mask over all positions)."""
    block = model.blocks[-1]
    x = block.ln1(resid[:, :-1])  # [rows, pos - 1, d_model]
    _, k, v = block.attn.calculate_qkv_matrices(x, x, x)  # [rows, pos - 1, head, d_head]
    if prefix is not None:  # keys / values of positions before p, from the corrupted run
        k, v = torch.cat([prefix[-1].past_keys, k], 1), torch.cat([prefix[-1].past_values, v], 1)
    earlier = TransformerLensKeyValueCacheEntry(k, v, frozen=True)
    return block(resid[:, -1:], past_kv_cache_entry=earlier, attention_mask=mask)  # [rows, 1, d_model]


@torch.no_grad()
def _runs(model: HookedTransformer, task: Task, hook_names: list[str]) -> tuple[dict, CorruptedRun, Baselines]:
    """Clean activations at `hook_names`, what patched passes reuse of the corrupted run, and both baselines."""
    clean_logits, clean_cache = model.run_with_cache(task.clean, names_filter=lambda n: n in hook_names,
                                                     **task.mask())
    wanted = {f"blocks.{layer}.{name}": (kind, layer) for layer in range(model.cfg.n_layers)
              for kind, name in [("resid_pre", "hook_resid_pre"), ("keys", "attn.hook_k"), ("values", "attn.hook_v")]}
    corrupt_logits, cache = model.run_with_cache(task.corrupted, names_filter=lambda n: n in wanted, **task.mask())
    parts: dict[str, dict[int, Tensor]] = {"resid_pre": {}, "keys": {}, "values": {}}
    for name, (kind, layer) in wanted.items():
        if name in cache.cache_dict:
            parts[kind][layer] = cache[name]
    return clean_cache, CorruptedRun(**parts), Baselines(float(task.metric(clean_logits)),
                                                           float(task.metric(corrupt_logits)))


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
    with fused_kernels(model):  # patterns and LN scales are computed unfused where a patch hooks them
        clean_cache, run, base = _runs(model, task, names)
        return _sweep(model, task, component, names, clean_cache, run, base, normalise, max_batch)


def _sweep(model: HookedTransformer, task: Task, component: Component, names: list[str], clean_cache, run: CorruptedRun,
           base: Baselines, normalise: bool, max_batch: int) -> PatchResult:
    """Every index of `component` at each hook of `names` (one per layer), as a PatchResult."""
    per_layer = []
    for name in names:
        clean = clean_cache[name]
        sizes = [clean.shape[d] for d in component.keep]
        indices = list(itertools.product(*map(range, sizes)))
        raw = patch_sweep(model, task, name, clean, indices, partial(index_setter, component), run, max_batch,
                          component)
        per_layer.append(raw.view(tuple(sizes)))  # [n_indices] -> [*sizes]
    scores = torch.stack(per_layer)  # [n_layers, *sizes]
    if normalise:
        scores = (scores - base.corrupted) / base.gap
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


def block_every(model: HookedTransformer, task: Task, *, layers: Sequence[int] | None = None, normalise: bool = True,
                max_batch: int = 2048) -> dict[str, PatchResult]:
    """resid_pre, attn_out and mlp_out per (layer, pos): our get_act_patch_block_every (one clean and one
    corrupted run shared by the three sweeps)."""
    layers = list(range(model.cfg.n_layers)) if layers is None else list(layers)
    comps = [COMPONENTS[c] for c in ("resid_pre", "attn_out", "mlp_out")]
    names = {c.name: [tl_utils.get_act_name(c.act, layer) for layer in layers] for c in comps}
    with fused_kernels(model):
        clean_cache, run, base = _runs(model, task, [n for ns in names.values() for n in ns])
        return {c.name: _sweep(model, task, c, names[c.name], clean_cache, run, base, normalise, max_batch)
                for c in comps}


def latent_setter(dictionary: Dictionary, clean_codes: Float[Tensor, "batch ... d_sae"],
                  act: Float[Tensor, "k batch ..."], clean: Float[Tensor, "batch ..."],
                  indices: Sequence[Index]) -> Float[Tensor, "k batch ..."]:
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
    scores = (raw - base.corrupted) / base.gap if normalise else raw
    return PatchResult("activation", "latent", ("latent",), scores.cpu(), base, normalise,
                       {"latent": [f"F{i}" for i in latents]})
