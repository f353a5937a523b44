"""Relevance patching (RelP, Jafari et al. 2025): AtP whose backward pass applies LRP rules.

Each rule is a forward hook on a stock HookedTransformer that leaves forward values unchanged but replaces the local
Jacobian, so that gradient x input equals LRP relevance (docs/methods.md §4):

- LN-rule: LayerNorm / RMSNorm divide by a detached scale (hook_scale -> scale.detach()), making the norm linear;
- Identity-rule: the element-wise MLP activation becomes out = x * (act(x) / stab(x)).detach();
- Half-rule (gated MLPs): the product g = act(gate) * lin passes half the gradient to each factor,
  g / 2 + (g / 2).detach(), so gate and lin share the relevance;
- AH-rule (optional, off by default as in the reference): the attention pattern is detached, so attention is linear
  in the values;
- linear maps keep their plain gradient.

Every replacement is returned as g + (original - g).detach(): the forward value is the original activation and the
gradient is that of g. The cost stays 2 forward + 1 backward.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from jaxtyping import Float
from torch import Tensor
from transformer_lens import HookedTransformer

from ..tasks.base import Task
from .attribution import DEFAULT_COMPONENTS, Hook, gradient_patch
from .results import PatchResult


@dataclass(frozen=True)
class Rules:
    """Which LRP rules the RelP backward pass applies."""

    ln: bool = True
    """LN-rule: detach the LayerNorm / RMSNorm scale."""
    identity: bool = True
    """Identity-rule for the element-wise MLP activation."""
    half: bool = True
    """Half-rule for the product of gated MLPs (ignored for ungated models)."""
    ah: bool = False
    """AH-rule: detach attention patterns (off in the reference implementation)."""


def stab(z: Float[Tensor, "..."], eps: float = 1e-6) -> Float[Tensor, "..."]:
    """z moved away from 0 by eps in its own direction (z = 0 moves to +eps), so act(z) / stab(z) is finite."""
    return z + ((z == 0).to(z.dtype) + z.sign()) * eps


def _keep_value(g: Tensor, original: Tensor) -> Tensor:
    """Forward value of `original`, gradient of `g`."""
    return g + (original - g).detach()


def relp_hooks(model: HookedTransformer, rules: Rules = Rules()) -> list[Hook]:
    """Forward hooks implementing `rules` on `model` (fresh per call: they hold per-pass state)."""
    hooks: list[Hook] = []
    if rules.ln:
        hooks.append((lambda name: name.endswith("hook_scale"), lambda scale, hook: scale.detach()))
    if rules.ah:
        hooks.append((lambda name: name.endswith("attn.hook_pattern"), lambda p, hook: p.detach()))
    if (rules.identity or rules.half) and not model.cfg.attn_only:
        if model.cfg.act_fn is not None and model.cfg.act_fn.endswith("_ln"):
            raise ValueError(f"RelP has no rule for the {model.cfg.act_fn} activation (LayerNorm inside the MLP)")
        for layer in range(model.cfg.n_layers):
            hooks.extend(_mlp_hooks(model, layer, rules))
    return hooks


def _mlp_hooks(model: HookedTransformer, layer: int, rules: Rules) -> list[Hook]:
    """Capture the MLP's inputs at hook_pre (and hook_pre_linear), rebuild hook_post with the rules applied."""
    seen: dict[str, Tensor] = {}
    gated = model.cfg.gated_mlp
    mlp = model.blocks[layer].mlp

    def capture(x, hook):
        seen[hook.name.rsplit(".", 1)[-1]] = x
        return x

    def post(value, hook):
        pre = seen["hook_pre"]
        act = pre * (mlp.act_fn(pre) / stab(pre)).detach() if rules.identity else mlp.act_fn(pre)
        if not gated:
            return _keep_value(act, value)
        g = act * seen["hook_pre_linear"]
        if rules.half:
            g = g / 2 + (g / 2).detach()
        return _keep_value(g + mlp.b_in, value)

    prefix = f"blocks.{layer}.mlp."
    names = ["hook_pre", "hook_pre_linear"] if gated else ["hook_pre"]
    return [*[(prefix + n, capture) for n in names], (prefix + "hook_post", post)]


def relevance_patch(model: HookedTransformer, task: Task, components: Sequence[str] = DEFAULT_COMPONENTS,
                    rules: Rules = Rules(), normalise: bool = True) -> dict[str, PatchResult]:
    """RelP scores: (a_clean - a_corrupted) . LRP-modified gradient, 2 forward + 1 backward for all components."""
    return gradient_patch(model, task, components, "relp" if not rules.ah else "relp_ah", relp_hooks(model, rules),
                          normalise)
