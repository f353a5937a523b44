"""circuits.patching.cost: the FLOP estimate of an activation-patching sweep and the workspace's choice of what a
model can afford (the costliest components are left out first)."""

from __future__ import annotations

import pytest
from transformer_lens import HookedTransformer, HookedTransformerConfig

from circuits.faithfulness import COMPARED
from circuits.patching.cost import affordable, block_flops, sweep_flops


def _model(n_layers: int, gated: bool = False) -> HookedTransformer:
    cfg = HookedTransformerConfig(n_layers=n_layers, d_model=32, d_head=8, n_heads=4, d_mlp=64, n_ctx=32, d_vocab=50,
                                  act_fn="silu" if gated else "gelu", gated_mlp=gated, normalization_type="RMS",
                                  positional_embedding_type="rotary", n_key_value_heads=2 if gated else None)
    return HookedTransformer(cfg)


def test_sweep_cost_follows_the_patched_suffixes():
    model = _model(4)
    # per (layer, pos): n_prompts * (4+3+2+1) layer-suffixes * (10+9+...+1) position-suffixes
    assert sweep_flops(model, "resid_pre", 2, 10) == pytest.approx(2 * 10 * 55 * block_flops(model))
    # all positions at once, per head: no position suffix
    assert sweep_flops(model, "head_out", 2, 10) == pytest.approx(2 * 4 * 10 * 10 * block_flops(model))
    assert sweep_flops(model, "head_out_by_pos", 2, 10) == pytest.approx(4 * sweep_flops(model, "resid_pre", 2, 10))
    assert block_flops(_model(2, gated=True)) > block_flops(_model(2))  # a third MLP matrix outweighs fewer KV heads


def test_a_deep_model_leaves_out_the_costliest_components_first():
    shallow, deep = _model(2), _model(30, gated=True)
    budget = sum(sweep_flops(shallow, c, 16, 25) for c in COMPARED)
    assert affordable(shallow, COMPARED, 16, 25, budget) == list(COMPARED)
    kept = affordable(deep, COMPARED, 16, 25, budget)
    assert "head_out_by_pos" not in kept and kept[0] == COMPARED[0]
    assert sum(sweep_flops(deep, c, 16, 25) for c in kept) <= budget or kept == [COMPARED[0]]
    assert affordable(deep, COMPARED, 16, 25, 0.0) == [COMPARED[0]]  # the first is always kept
