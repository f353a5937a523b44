"""What an activation-patching sweep costs, in floating-point operations, estimated from the model's shape.

Activation patching (circuits.patching.activation) runs one patched copy of the prompts per patch, starting at the
patch's layer and, for a patch at position p, at position p. So a patch at (layer l, position p) computes
(n_layers - l) blocks over (n_pos - p) positions of every prompt, and a patch over all positions (head_out, mlp)
computes (n_layers - l) blocks over all positions. Summed over a sweep:

    per-(layer, pos) components:  rows = n_prompts * S_L * S_T * (copies per index)
    all-position components:      rows = n_prompts * S_L * n_pos * (copies per index)

with S_L = n_layers (n_layers + 1) / 2 and S_T = n_pos (n_pos + 1) / 2, each row-block costing ~2 * (its
weights) FLOPs (attention's Q, K, V, O and the MLP's matrices; the attention scores are small at these lengths).
The workspace uses it to choose what a model can afford within its build time; the estimate is within a small
factor of the measured time on a CPU (~70 GFLOP/s a thread here).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from .components import COMPONENTS

if TYPE_CHECKING:
    from transformer_lens import HookedTransformer


def block_flops(model: HookedTransformer) -> float:
    """FLOPs of one transformer block on one token (2 per weight of its matrices)."""
    cfg = model.cfg
    kv_heads = cfg.n_key_value_heads or cfg.n_heads
    attn = cfg.d_model * cfg.d_head * (2 * cfg.n_heads + 2 * kv_heads)  # W_Q, W_O; W_K, W_V (grouped)
    mlp = 0 if cfg.attn_only else cfg.d_model * cfg.d_mlp * (3 if cfg.gated_mlp else 2)
    return 2.0 * (attn + mlp)


PASS_OVERHEAD_FLOPS = 3.5e7
"""A forward pass's fixed cost per block (kernel launches, hooks, Python: ~0.7 ms on a CPU) in FLOPs of compute
at ~50 GFLOP/s."""


def pass_overhead(model: HookedTransformer) -> float:
    """A pass's fixed cost in prompt-positions of `model`'s compute: ~5 on SmolLM2, ~100 on the toy models, so
    small passes are worth sharing on small models and hardly on large ones (circuits.patching.activation)."""
    return PASS_OVERHEAD_FLOPS / block_flops(model)


def sweep_flops(model: HookedTransformer, component: str, n_prompts: int, n_pos: int) -> float:
    """Estimated FLOPs of activation patching every index of `component` on `n_prompts` prompts of `n_pos` tokens."""
    comp = COMPONENTS[component]
    cfg = model.cfg
    sizes = {"head": cfg.n_heads, "neuron": cfg.d_mlp or 0, "pos": n_pos, "dest_pos": n_pos}
    per_layer = 1
    for axis in comp.axes[1:]:
        if axis not in ("pos", "dest_pos"):
            per_layer *= sizes.get(axis, 1)
    by_pos = any(a in ("pos", "dest_pos") for a in comp.axes)
    positions = n_pos * (n_pos + 1) / 2 if by_pos else n_pos  # suffixes from each patched position, or all
    layers = cfg.n_layers * (cfg.n_layers + 1) / 2
    return n_prompts * per_layer * layers * positions * block_flops(model)


def affordable(model: HookedTransformer, components: Sequence[str], n_prompts: int, n_pos: int,
               budget_flops: float) -> list[str]:
    """`components` without the costliest ones, dropped one at a time until activation patching all that is left
    fits `budget_flops` (the first component is always kept)."""
    kept = list(components)
    while len(kept) > 1 and sum(sweep_flops(model, c, n_prompts, n_pos) for c in kept) > budget_flops:
        kept.remove(max(kept[1:], key=lambda c: sweep_flops(model, c, n_prompts, n_pos)))
    return kept
