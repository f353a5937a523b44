"""Attribution patching (AtP): a first-order estimate of every activation patch from 2 forward + 1 backward pass.

score(index) = sum over the patched entries of (a_clean - a_corrupted) * dM/da, the gradient taken on the corrupted
run (docs/methods.md §4). The components, axes and normalisation are those of activation patching, so each AtP
score estimates the activation-patching score at the same index. RelP (relevance.py) is the same computation with
LRP rules installed as extra forward hooks during the corrupted pass; `gradient_patch` is shared by both.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

import torch
from jaxtyping import Float, Int
from torch import Tensor
from transformer_lens import HookedTransformer
from transformer_lens import utils as tl_utils

from interp.fused import frozen_weights, fused_kernels

from ..tasks.base import Baselines, Task
from .activation import metric_logits
from .components import component
from .results import PatchResult, default_labels

Hook = tuple[str | Callable[[str], bool], Callable]
DEFAULT_COMPONENTS = ("resid_pre", "attn_out", "mlp_out", "head_out", "head_out_by_pos")


def activations_and_grads(model: HookedTransformer, tokens: Int[Tensor, "batch pos"],
                          metric: Callable[[Float[Tensor, "batch pos d_vocab"]], Float[Tensor, ""]],
                          names: Sequence[str], hooks: Sequence[Hook] = (),
                          forward: Callable[[Int[Tensor, "batch pos"]], Float[Tensor, "batch pos d_vocab"]]
                          | None = None, **forward_kwargs):
    """Activations at `names`, the gradient of metric(logits) with respect to each, and the metric value
    (`forward_kwargs`, e.g. a padded task's attention mask, go to the forward pass; `forward(tokens)` computes the
    logits instead when given, e.g. the last position's only).

    `hooks` run before the caching hooks at the same hook point, so a rule that replaces an activation (RelP) is
    differentiated through as installed. An activation cut from the graph by a rule (e.g. a detached pattern)
    becomes a leaf, so its gradient is still defined.
    """
    store: dict[str, Tensor] = {}

    def save(act, hook):
        if not act.requires_grad:
            act = act.detach().requires_grad_(True)
        store[hook.name] = act
        return act

    with torch.enable_grad():
        with model.hooks(fwd_hooks=[*hooks, *[(n, save) for n in names]]):
            logits = forward(tokens) if forward is not None else model(tokens, **forward_kwargs)
        value = metric(logits)
        grads = torch.autograd.grad(value, [store[n] for n in names], allow_unused=True)
    grads = [torch.zeros_like(store[n]) if g is None else g for n, g in zip(names, grads)]
    return {n: store[n].detach() for n in names}, dict(zip(names, grads)), float(value.detach())


def gradient_patch(model: HookedTransformer, task: Task, components: Sequence[str] = DEFAULT_COMPONENTS,
                   method: str = "attribution", hooks: Sequence[Hook] = (),
                   normalise: bool = True) -> dict[str, PatchResult]:
    """(a_clean - a_corrupted) . grad for every component, from one clean forward and one corrupted forward+backward.

    Args:
        model: the model (not modified; hooks are removed afterwards).
        task: clean / corrupted tokens and metric.
        components: component names (circuits.patching.components.COMPONENTS); all share the same passes.
        method: name recorded in the results ("attribution", "relp", ...).
        hooks: extra forward hooks for the corrupted pass (RelP's rules).
        normalise: divide by (clean - corrupted) metric, the unit of normalised activation patching.

    Returns:
        component name -> PatchResult with the same shape and axes as activation patching's result.
    """
    comps = [component(c) for c in components]
    names = sorted({tl_utils.get_act_name(c.act, layer) for c in comps for layer in range(model.cfg.n_layers)})
    # RelP's rules hook LN scales (and patterns), which then run unfused; gradients are taken for activations only
    with fused_kernels(model), frozen_weights(model):
        logits = partial(metric_logits, model, task, kw=task.mask(), patch_layer=None)  # unembedding: as read
        clean_cache: dict[str, Tensor] = {}
        with torch.no_grad(), model.hooks(fwd_hooks=[(n, partial(_keep, clean_cache)) for n in names]):
            clean_logits = logits(task.clean)
        acts, grads, corrupt_value = activations_and_grads(model, task.corrupted, task.metric, names, hooks,
                                                           forward=logits)
    base = Baselines(float(task.metric(clean_logits)), corrupt_value)
    scale = base.gap if normalise else 1.0
    out = {}
    for c in comps:
        per_layer = []
        for layer in range(model.cfg.n_layers):
            n = tl_utils.get_act_name(c.act, layer)
            per_layer.append(c.reduce((clean_cache[n] - acts[n]) * grads[n]))  # [*sizes of axes[1:]]
        scores = torch.stack(per_layer).cpu() / scale  # [n_layers, ...]
        out[c.name] = PatchResult(method, c.name, c.axes, scores, base, normalise,
                                  default_labels(c.axes, tuple(scores.shape), task.pos_labels))
    return out


def _keep(store: dict[str, Tensor], act: Tensor, hook) -> Tensor:
    store[hook.name] = act
    return act


def attribution_patch(model: HookedTransformer, task: Task, components: Sequence[str] = DEFAULT_COMPONENTS,
                      normalise: bool = True) -> dict[str, PatchResult]:
    """AtP scores with the plain gradient: 2 forward + 1 backward pass for all components together."""
    return gradient_patch(model, task, components, "attribution", (), normalise)


def input_times_gradient(model: HookedTransformer, tokens: Int[Tensor, "batch pos"],
                         metric: Callable[[Float[Tensor, "batch pos d_vocab"]], Float[Tensor, ""]],
                         names: Sequence[str],
                         hooks: Sequence[Hook] = ()) -> dict[str, Float[Tensor, "batch ..."]]:
    """a . dM/da per entry at each hook: LRP relevance when `hooks` are RelP's rules."""
    acts, grads, _ = activations_and_grads(model, tokens, metric, names, hooks)
    return {n: acts[n] * grads[n] for n in names}
