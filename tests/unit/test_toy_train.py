"""The toy-model trainer: it learns, checkpoints, and a run interrupted mid-way resumes to the same weights."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import interp.worlds.toy.train as T
from interp.worlds.toy.config import TOY1_RECIPE, ToyTrainConfig

README = Path(__file__).resolve().parents[2] / "data" / "models" / "README.md"
TOY1_COMMAND = next(line.strip() for line in README.read_text().splitlines()
                    if line.strip().startswith("interp toyworld train --world toy1"))
"""The command data/models/README.md gives for reproducing the toy1 models."""

TINY = {**TOY1_RECIPE, **dict(n_layers=1, d_model=32, n_heads=2, d_mlp=64, n_ctx=32, batch_size=4, warmup_steps=2,
                              device="cpu")}
"""A tiny toy1 run (toy1's short IOI prompts fit its 32-token context); tests override world and recipe options."""


def tiny(out, steps=8, **kw) -> ToyTrainConfig:
    return ToyTrainConfig.of(**{**TINY, "tokens": steps * 4 * 32, "out": str(out), "checkpoint_every": 3, **kw})


def test_training_lowers_the_loss_and_writes_model_and_card(tmp_path):
    cfg = tiny(tmp_path / "m", steps=30)
    losses = []
    orig = T.step
    card = None
    try:
        T.step = lambda *a: losses.append(orig(*a)) or losses[-1]
        card = T.train_toy_model(cfg)
    finally:
        T.step = orig
    assert sum(losses[-5:]) / 5 < sum(losses[:5]) / 5 - 0.5
    assert (tmp_path / "m" / "model.safetensors").is_file() and not (tmp_path / "m" / "checkpoint").exists()
    saved = json.loads((tmp_path / "m" / "card.json").read_text())
    assert saved["training_tokens"] == 30 * 4 * 32 == card["training_tokens"]
    assert set(saved["ioi_accuracy"]) == {"ABBA", "BABA"}


def test_interrupted_run_resumes_to_the_same_weights(tmp_path, monkeypatch):
    T.train_toy_model(tiny(tmp_path / "full"))
    calls = {"n": 0}
    orig = T.step

    def interrupting_step(*a):
        calls["n"] += 1
        if calls["n"] == 5:  # after the checkpoint at step 3
            raise KeyboardInterrupt
        return orig(*a)

    monkeypatch.setattr(T, "step", interrupting_step)
    with pytest.raises(KeyboardInterrupt):
        T.train_toy_model(tiny(tmp_path / "cut"))
    assert json.loads((tmp_path / "cut" / "checkpoint" / "latest.json").read_text())["step"] == 3
    monkeypatch.setattr(T, "step", orig)
    T.train_toy_model(tiny(tmp_path / "cut"))
    a = load_file(str(tmp_path / "full" / "model.safetensors"))
    b = load_file(str(tmp_path / "cut" / "model.safetensors"))
    assert a.keys() == b.keys()
    for k in a:
        assert torch.allclose(a[k], b[k], atol=1e-6), k


def test_resume_refuses_a_checkpoint_of_another_config(tmp_path):
    other = tiny(tmp_path / "m", seed=99)
    T.checkpointer(other).save(1, {}, {"elapsed_s": 0, "adam_steps": {}})
    with pytest.raises(ValueError, match=r"other options \(seed differ"):
        T.train_toy_model(tiny(tmp_path / "m"))


def test_the_default_recipe_is_the_toy2_models_and_toy1_stays_reproducible():
    default, toy1 = ToyTrainConfig(), ToyTrainConfig.of(**TOY1_RECIPE)
    assert (default.world, default.positions, default.tie_embeddings, default.n_ctx) == ("toy2", "rotary", True, 64)
    assert default.corpus().weights()["ioi"] == 0.75 and default.corpus().weights()["repeat"] == 0.3
    import interp.worlds.toy.corpus as C

    assert toy1.corpus() == C.CorpusConfig(seed=0, n_ctx=128)  # exactly the corpus the toy1 models trained on
    assert (toy1.positions, toy1.tie_embeddings, toy1.lr, toy1.batch_size) == ("learned", False, 1e-3, 32)
    from apps.cli import all_commands, build_parser

    line = TOY1_COMMAND.split()[3:]
    parsed = build_parser(all_commands()).parse_args(["toyworld", "train", *[a.strip('"') for a in line]]).config
    assert parsed == toy1


def test_bad_config_is_rejected():
    with pytest.raises(ValueError, match="divisible"):
        ToyTrainConfig.of(d_model=30, n_heads=4)
    with pytest.raises(ValueError, match="one batch"):
        ToyTrainConfig.of(tokens=10)


def test_mix_reweights_the_training_corpus_and_is_part_of_the_run_identity(tmp_path):
    plain, heavy = (tiny(tmp_path / "m", world="toy2", mix=m) for m in ("", "ioi=0.75"))
    assert heavy.corpus().weights()["ioi"] == 0.75 and plain.corpus().weights()["ioi"] < 0.75
    b_plain, b_heavy = (next(T.batches(c, 0)) for c in (plain, heavy))
    assert not (b_plain == b_heavy).all()  # the mix changes which documents are drawn
    assert T.checkpointer(heavy).identity["mix"] == "ioi=0.75" and "mix" not in T.checkpointer(plain).identity
    with pytest.raises(ValueError, match="unknown toy2 family iox"):
        tiny(tmp_path / "m", world="toy2", mix="iox=1")
    with pytest.raises(ValueError, match="not family=weight"):
        tiny(tmp_path / "m", world="toy2", mix="ioi")


def test_compiled_training_matches_eager_training(tmp_path):
    eager = T.train_toy_model(tiny(tmp_path / "eager", steps=4))
    compiled = T.train_toy_model(tiny(tmp_path / "compiled", steps=4, compile=True))
    assert compiled["train_config"]["compile"] and not eager["train_config"]["compile"]
    a = load_file(str(tmp_path / "eager" / "model.safetensors"))
    b = load_file(str(tmp_path / "compiled" / "model.safetensors"))
    for k in a:  # same data, same init: only floating-point detail may differ (b_K has no gradient: a key bias
        # adds a constant to every score of a query, so Adam turns rounding noise into steps of size lr there)
        assert k.endswith("b_K") or torch.allclose(a[k], b[k], atol=1e-4), k
    assert not torch.allclose(a["embed.W_E"], T.new_model(tiny(tmp_path / "x", steps=4), "cpu").W_E)  # it trained


def test_rotary_tied_run_trains_ties_and_saves_a_model_that_loads_as_trained(tmp_path):
    from interp.models import load_toy_model

    cfg = tiny(tmp_path / "m", steps=6, positions="rotary", tie_embeddings=True)
    model = T.new_model(cfg, "cpu")
    assert model.cfg.positional_embedding_type == "rotary" and "unembed.W_U" not in dict(model.named_parameters())
    assert model.W_U.data_ptr() == model.W_E.data_ptr()  # one matrix, read transposed
    T.train_toy_model(cfg)
    loaded = load_toy_model(tmp_path / "m", weight_processing="none")
    assert loaded.cfg.positional_embedding_type == "rotary"
    assert torch.equal(loaded.W_U, loaded.W_E.T)  # saved as an ordinary untied copy of the trained embedding
    saved = load_file(str(tmp_path / "m" / "model.safetensors"))
    assert not torch.equal(saved["embed.W_E"], model.W_E.detach())  # the embedding (hence W_U) trained
    resumed, *_ = T.resume(tiny(tmp_path / "r", steps=6, positions="rotary", tie_embeddings=True), "cpu")
    assert isinstance(resumed.unembed, T.TiedUnembed)
