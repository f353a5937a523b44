"""Model loading: shipped toy models, model folders, local Hugging Face folders, and clear errors."""

from __future__ import annotations

import pytest
import torch

from interp.models import (
    MODELS_DIR,
    UnknownModelError,
    check_hooks,
    load_model,
    load_toy_model,
    save_toy_model,
    shipped_models,
    toy_config,
)

REQUIRED = [f"{w}-{m}" for w in ("toy", "toy1") for m in ("gelu-s0", "gelu-s1", "gelu-s2", "gelu-s3", "relu-s0")]


def test_the_shipped_models_are_all_there():
    assert set(REQUIRED) <= set(shipped_models())


def test_shipped_model_loads_with_the_right_architecture(toy_model):
    cfg = toy_model.cfg
    assert (cfg.n_layers, cfg.d_model, cfg.n_heads, cfg.d_mlp, cfg.n_ctx) == (4, 128, 4, 512, 64)
    assert cfg.act_fn == "gelu" and cfg.positional_embedding_type == "rotary" and cfg.d_vocab == 2162
    assert "blocks.2.mlp.hook_post" in toy_model.hook_dict and load_model("toy-relu-s0").cfg.act_fn == "relu"
    old = load_model("toy1-gelu-s0").cfg  # the toy1 models stay loadable under their toy1-* names
    assert (old.n_ctx, old.positional_embedding_type, old.d_vocab) == (128, "standard", 494)


def test_processed_weights_give_the_same_predictions_as_raw_ones(toy_model):
    raw = load_toy_model(MODELS_DIR / "toy-gelu-s0", weight_processing="none")
    toks = toy_model.to_tokens("When Mary and John went to the park , John gave a ball to")
    lp_raw = raw(toks).log_softmax(-1)
    lp = toy_model(toks).log_softmax(-1)
    assert torch.allclose(lp, lp_raw, atol=1e-4)


def test_processed_weights_load_in_one_call_to_the_same_parameters(toy_model):
    """load_processed (one load_state_dict) gives every parameter and buffer TransformerLens's per-key load gives."""
    from transformer_lens import HookedTransformer

    from interp.models import load_processed
    from interp.safetensors_io import read_tensors

    state = read_tensors(MODELS_DIR / "toy-gelu-s0" / "model.safetensors")
    ours, theirs = (HookedTransformer(toy_model.cfg.__class__(**{**toy_model.cfg.to_dict(),
                                                                  "normalization_type": "LN"}),
                                      move_to_device=False) for _ in range(2))
    load_processed(ours, dict(state))
    theirs.load_and_process_state_dict(dict(state))
    a, b = ours.state_dict(), theirs.state_dict()
    assert sorted(a) == sorted(b) and "load_state_dict" not in vars(ours)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert ours.cfg.normalization_type == "LNPre"  # processed: LayerNorm folded, so W_Q is not the stored one
    assert not torch.equal(a["blocks.0.attn.W_Q"], state["blocks.0.attn.W_Q"])


def test_unknown_name_lists_the_shipped_models():
    with pytest.raises(UnknownModelError) as e:
        load_model("toy-gelu-s99")
    for name in REQUIRED:
        assert name in str(e.value)


def test_unknown_hook_lists_valid_hooks(toy_model):
    with pytest.raises(ValueError, match="blocks.0.mlp.hook_post") as e:
        check_hooks(toy_model, ["blocks.0.mlp.hook_pots"])
    assert "blocks.0.mlp.hook_pots" in str(e.value)


def test_save_and_load_a_toy_model_folder(tmp_path, toy_model):
    from transformer_lens import HookedTransformer

    torch.manual_seed(0)
    m = HookedTransformer(toy_config("relu", seed=1, d_vocab=toy_model.cfg.d_vocab, n_layers=1, d_model=32,
                                     n_heads=2, d_mlp=64, n_ctx=16), tokenizer=toy_model.tokenizer)
    save_toy_model(m, tmp_path / "m", {"name": "tiny"})
    back = load_model(str(tmp_path / "m"))
    toks = toy_model.to_tokens("Mary and John")
    assert torch.allclose(back(toks).log_softmax(-1), m(toks).log_softmax(-1), atol=1e-5)


def test_local_hugging_face_gpt2_folder_loads_offline_with_matching_logits(tmp_path, toy_model):
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    hf = GPT2LMHeadModel(GPT2Config(n_layer=2, n_embd=32, n_head=4, n_positions=64,
                                    vocab_size=len(toy_model.tokenizer))).eval()
    hf.save_pretrained(str(tmp_path / "gpt2"))
    toy_model.tokenizer.save_pretrained(str(tmp_path / "gpt2"))
    model = load_model(str(tmp_path / "gpt2"))
    assert model.cfg.n_layers == 2 and model.cfg.d_model == 32
    toks = toy_model.to_tokens("When Mary and John went to the park")
    with torch.no_grad():
        ref = hf(toks).logits.log_softmax(-1)
    assert torch.allclose(model(toks).log_softmax(-1), ref, atol=1e-4)


def test_folder_without_a_model_fails_clearly(tmp_path):
    with pytest.raises(UnknownModelError, match="config.json"):
        load_model(str(tmp_path))
