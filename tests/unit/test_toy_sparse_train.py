"""Sparser toy models (issue 27): ReLU² and dReLU runs from scratch, and ProSparse on a trained GELU model -- the
options train models of the right activation that load by folder and run, ProSparse's penalty rises as its stages
say, and the threshold shift zeroes more activations."""

from __future__ import annotations

import json
import math
import typing

import pytest
import torch
from test_toy_train import tiny

import interp.worlds.toy.train as T
from interp.mlp_variants import ACTIVATIONS, apply_variant, variant_of
from interp.models import load_model, save_toy_model
from interp.worlds.toy.config import ToyTrainConfig
from interp.worlds.toy.evaluate import heldout_sparsity
from interp.worlds.toy.prosparse import l1_factor, stages

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_the_activation_choices_are_the_registry():
    hint = typing.get_type_hints(ToyTrainConfig)["act"]
    assert set(typing.get_args(hint)) == set(ACTIVATIONS)
    assert ToyTrainConfig.of(act="relu2").name == "toy-relu2-s0"
    assert ToyTrainConfig.of(act="relu", prosparse=True, tokens=2_000_000).name == "toy-prosparse-s0"


@pytest.mark.parametrize("act", ["relu2", "drelu"])
def test_relu2_and_drelu_runs_save_models_of_their_activation_that_load_by_folder(tmp_path, act):
    card = T.train_toy_model(tiny(tmp_path / "m", steps=6, act=act))
    assert card["act_fn"] == act and len(card["heldout_zero_frac_by_layer"]) == 1
    for processing in ("none", "default"):
        model = load_model(str(tmp_path / "m"), weight_processing=processing)
        tokens = torch.randint(0, model.cfg.d_vocab, (2, 12))
        logits, cache = model.run_with_cache(tokens)
        assert logits.isfinite().all()
        pre, post = cache["blocks.0.mlp.hook_pre"], cache["blocks.0.mlp.hook_post"]
        if act == "relu2":
            assert model.cfg.act_fn == "relu2" and not model.cfg.gated_mlp
            assert torch.allclose(post, pre.clamp_min(0) ** 2)
        else:  # relu(x W_gate) * relu(x W_up): the up branch's ReLU sits on hook_pre_linear
            up = cache["blocks.0.mlp.hook_pre_linear"]
            assert model.cfg.gated_mlp and variant_of(model) == {"up_relu": True} and (up >= 0).all()
            assert (up == 0).any() and torch.allclose(post, pre.clamp_min(0) * up)
            assert (post == 0).float().mean() > 0.5  # an exact zero when either branch is off (b_in held at 0)
    none, default = (load_model(str(tmp_path / "m"), weight_processing=p) for p in ("none", "default"))
    tokens = torch.randint(0, none.cfg.d_vocab, (2, 12))
    assert torch.allclose(none(tokens).log_softmax(-1), default(tokens).log_softmax(-1), atol=1e-4)


def test_the_prosparse_penalty_rises_along_sine_curves_in_its_stages():
    plan = stages(100, (1e-4, 3e-4, 1e-3))
    assert [(s.start, s.end, s.l1_from, s.l1_to) for s in plan] == [
        (0, 25, 0.0, 0.0), (25, 50, 0.0, 1e-4), (50, 75, 1e-4, 3e-4), (75, 100, 3e-4, 1e-3)]
    assert all(l1_factor(i, plan) == 0.0 for i in range(25))  # the activation swap settles without penalty
    assert l1_factor(25, plan) == 0.0 and l1_factor(50, plan) == pytest.approx(1e-4)
    assert l1_factor(60, plan) == pytest.approx(1e-4 + 2e-4 * math.sin(math.pi / 2 * 10 / 25))
    factors = [l1_factor(i, plan) for i in range(100)]
    assert all(b >= a for a, b in zip(factors, factors[1:])) and factors[-1] == pytest.approx(1e-3, rel=0.01)
    rises = [b - a for a, b in zip(factors[75:], factors[76:])]
    assert rises[0] > rises[-1] > 0  # a sine: steep at the start of a stage, flat at its end


def test_the_threshold_shift_increases_exact_zero_sparsity_and_survives_saving(tmp_path):
    model = load_model("toy-relu-s0", weight_processing="none")
    before = heldout_sparsity(model, "toy2", n_docs=8)
    apply_variant(model, threshold=0.05)
    after = heldout_sparsity(model, "toy2", n_docs=8)
    assert all(a > b for a, b in zip(after.zero_frac, before.zero_frac)), (before, after)
    assert after.loss < before.loss + 0.5
    save_toy_model(model, tmp_path / "m", world="toy2")
    assert json.loads((tmp_path / "m" / "config.json").read_text())["mlp"] == {"threshold": 0.05}
    again = heldout_sparsity(load_model(str(tmp_path / "m"), weight_processing="none"), "toy2", n_docs=8)
    assert again.zero_frac == pytest.approx(after.zero_frac)
    with pytest.raises(ValueError, match="needs a ReLU model"):
        apply_variant(load_model("toy-gelu-s0"), threshold=0.05)


def test_prosparse_from_a_gelu_model_swaps_to_relu_penalises_and_reports_each_stage(tmp_path):
    T.train_toy_model(tiny(tmp_path / "gelu", steps=6, act="gelu"))
    cfg = tiny(tmp_path / "ps", steps=9, act="relu", init_from=str(tmp_path / "gelu"), prosparse=True,
               l1_peaks="0.3,1", act_threshold=0.05)
    start = T.new_model(cfg, "cpu")
    source = load_model(str(tmp_path / "gelu"), weight_processing="none")
    assert start.cfg.act_fn == "relu" and torch.equal(start.blocks[0].mlp.W_in, source.blocks[0].mlp.W_in)
    card = T.train_toy_model(cfg)
    stages_ = card["prosparse_stages"]
    assert [s["stage"] for s in stages_] == ["stage 0", "stage 1", "stage 2", "threshold shift"]
    assert [s["tokens"] for s in stages_] == [3 * 128, 6 * 128, 9 * 128, 9 * 128]
    assert stages_[2]["zero_frac"] > stages_[0]["zero_frac"]  # the L1 penalty zeroed activations
    assert stages_[3]["zero_frac"] >= stages_[2]["zero_frac"] and card["mlp_variant"] == {"threshold": 0.05}
    loaded = load_model(str(tmp_path / "ps"))
    assert loaded.cfg.act_fn == "relu" and variant_of(loaded) == {"threshold": 0.05}


def test_bad_sparse_options_are_one_line_errors(tmp_path):
    with pytest.raises(ValueError, match="add --act relu"):
        ToyTrainConfig.of(prosparse=True)
    with pytest.raises(ValueError, match="--l1-peaks"):
        ToyTrainConfig.of(act="relu", prosparse=True, l1_peaks="1e-3,1e-4")
    with pytest.raises(ValueError, match="--act-threshold must be >= 0"):
        ToyTrainConfig.of(act="relu", prosparse=True, act_threshold=-1.0)
    with pytest.raises(ValueError, match=r"init-from toy-gelu-s0 has n_layers 4 \(this run 1\), d_model 128 "):
        T.new_model(tiny(tmp_path / "x", world="toy2", init_from="toy-gelu-s0"), "cpu")
