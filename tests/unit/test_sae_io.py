"""SAELens-format I/O: our saves load in sae_lens, sae_lens saves load in ours, and errors are clear."""

from __future__ import annotations

import json

import pytest
import torch
from sae_lens import SAE
from sae_lens.saes.batchtopk_sae import BatchTopKTrainingSAE, BatchTopKTrainingSAEConfig
from sae_lens.saes.jumprelu_sae import JumpReLUSAE as SLJumpReLU
from sae_lens.saes.jumprelu_sae import JumpReLUSAEConfig
from sae_lens.saes.sae import SAEMetadata
from sae_lens.saes.standard_sae import StandardSAE, StandardSAEConfig
from sae_lens.saes.topk_sae import TopKSAE as SLTopK
from sae_lens.saes.topk_sae import TopKSAEConfig, TopKTrainingSAE, TopKTrainingSAEConfig

from saes import JumpReLUSAE, ReLUSAE, TopKSAE, build_sae, sae_config
from saes import io as sae_io

D_IN, D_SAE = 16, 48
ATOL = 1e-5


def _ours(arch: str) -> torch.nn.Module:
    k = 5 if arch in ("topk", "batchtopk") else None
    cfg = sae_config(
        strict=False,  # sparsity_coeff where the architecture has one
        d_in=D_IN,
        d_sae=D_SAE,
        arch=arch,
        k=k,
        hook_name="blocks.1.hook_resid_post",
        act_scale=1.7,
        model_name="toy-gelu-s0",
        sparsity_coeff=3.0,
    )
    sae = build_sae(cfg)
    with torch.no_grad():
        for p in sae.parameters():
            p.add_(0.2 * torch.randn_like(p))
        if arch == "jumprelu":
            sae.threshold.copy_(torch.rand(D_SAE) * 0.5)
    if arch == "batchtopk":
        sae.train()
        sae.loss(torch.randn(64, D_IN))
    return sae.eval()


@pytest.mark.parametrize("arch", ["relu", "topk", "jumprelu", "batchtopk"])
def test_ours_loads_in_sae_lens_and_back(arch, tmp_path):
    torch.manual_seed(0)
    sae = _ours(arch)
    sae_io.save(sae, tmp_path / arch)
    theirs = SAE.load_from_disk(tmp_path / arch)
    expected_cls = {"relu": StandardSAE, "topk": SLTopK, "jumprelu": SLJumpReLU, "batchtopk": SLJumpReLU}[arch]
    assert type(theirs) is expected_cls
    assert theirs.cfg.metadata.hook_name == "blocks.1.hook_resid_post"
    x = torch.randn(40, D_IN) * 2
    f = sae.encode(x)
    assert (f != 0).any() and (f == 0).any()
    torch.testing.assert_close(theirs.encode(x), f, atol=ATOL, rtol=ATOL)
    torch.testing.assert_close(theirs.decode(f), sae.decode(f), atol=ATOL, rtol=ATOL)

    back = sae_io.load(tmp_path / arch)
    assert back.cfg.arch == ("jumprelu" if arch == "batchtopk" else arch)
    mine, loaded = sae.cfg.arch_fields(), back.cfg.arch_fields()
    assert all(loaded[k] == v for k, v in mine.items() if k in loaded)  # training settings round-trip
    assert arch not in ("relu", "jumprelu") or back.cfg.sparsity_coeff == 3.0
    assert back.cfg.act_scale == 1.0 and back.hook_name == sae.hook_name
    torch.testing.assert_close(back.encode(x), f, atol=ATOL, rtol=ATOL)
    torch.testing.assert_close(back.decode(f), sae.decode(f), atol=ATOL, rtol=ATOL)
    assert not list(tmp_path.glob(f"{arch}/*.tmp"))  # atomic writes leave no temporaries


def _randomise(sae) -> None:
    with torch.no_grad():
        for name, p in sae.named_parameters():
            p.copy_(torch.rand_like(p) * 0.4 if name == "threshold" else torch.randn_like(p) * 0.3)


def _compare(ours, theirs, x) -> None:
    f = theirs.encode(x)
    assert (f != 0).any() and (f == 0).any()
    torch.testing.assert_close(ours.encode(x), f, atol=ATOL, rtol=ATOL)
    torch.testing.assert_close(ours.decode(f), theirs.decode(f), atol=ATOL, rtol=ATOL)


@pytest.mark.parametrize(
    "make, our_cls",
    [
        (lambda: StandardSAE(StandardSAEConfig(d_in=D_IN, d_sae=D_SAE)), ReLUSAE),
        (lambda: StandardSAE(StandardSAEConfig(d_in=D_IN, d_sae=D_SAE, apply_b_dec_to_input=False)), ReLUSAE),
        (lambda: SLTopK(TopKSAEConfig(d_in=D_IN, d_sae=D_SAE, k=6)), TopKSAE),
        (lambda: SLTopK(TopKSAEConfig(d_in=D_IN, d_sae=D_SAE, k=6, rescale_acts_by_decoder_norm=True)), TopKSAE),
        (lambda: SLJumpReLU(JumpReLUSAEConfig(d_in=D_IN, d_sae=D_SAE)), JumpReLUSAE),
    ],
    ids=["standard", "standard-no-bdec-in", "topk", "topk-rescaled", "jumprelu"],
)
def test_sae_lens_saves_load_in_ours(make, our_cls, tmp_path):
    torch.manual_seed(1)
    theirs = make()
    theirs.cfg.metadata = SAEMetadata(hook_name="blocks.0.hook_resid_pre", model_name="m")
    _randomise(theirs)
    theirs.save_model(tmp_path)
    ours = sae_io.load(tmp_path)
    assert type(ours) is our_cls and ours.hook_name == "blocks.0.hook_resid_pre"
    _compare(ours, theirs, torch.randn(40, D_IN))


def test_sae_lens_training_saves_load_in_ours(tmp_path):
    torch.manual_seed(2)
    tk = TopKTrainingSAE(TopKTrainingSAEConfig(d_in=D_IN, d_sae=D_SAE, k=6))  # rescale_acts_by_decoder_norm=True
    _randomise(tk)
    tk.save_model(tmp_path / "topk-train")
    tk.save_inference_model(tmp_path / "topk-inf")
    x = torch.randn(40, D_IN)
    for name in ("topk-train", "topk-inf"):
        _compare(sae_io.load(tmp_path / name), SAE.load_from_disk(tmp_path / "topk-inf"), x)

    btk = BatchTopKTrainingSAE(BatchTopKTrainingSAEConfig(d_in=D_IN, d_sae=D_SAE, k=6))
    _randomise(btk)
    btk.update_topk_threshold(torch.relu(torch.randn(8, D_SAE)))
    btk.save_model(tmp_path / "btk-train")  # architecture "batchtopk" with a topk_threshold buffer
    btk.save_inference_model(tmp_path / "btk-inf")  # architecture "jumprelu"
    reference = SAE.load_from_disk(tmp_path / "btk-inf")
    assert type(sae_io.load(tmp_path / "btk-train")).__name__ == "BatchTopKSAE"
    for name in ("btk-train", "btk-inf"):
        _compare(sae_io.load(tmp_path / name), reference, x)


def test_load_errors_are_clear(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        sae_io.load(tmp_path / "nope")
    sae_io.save(build_sae(sae_config("relu", d_in=4, d_sae=8)), tmp_path / "ok")
    cfg = json.loads((tmp_path / "ok" / "cfg.json").read_text())

    (tmp_path / "ok" / "cfg.json").write_text(json.dumps({**cfg, "architecture": "crosscoder"}))
    with pytest.raises(ValueError, match="unknown SAE architecture 'crosscoder'.*standard, topk, jumprelu"):
        sae_io.load(tmp_path / "ok")

    (tmp_path / "ok" / "cfg.json").write_text(json.dumps({**cfg, "d_in": 5}))
    with pytest.raises(ValueError, match=r"W_enc has shape \(4, 8\).*implies \(5, 8\)"):
        sae_io.load(tmp_path / "ok")

    (tmp_path / "ok" / "cfg.json").write_text(json.dumps(cfg))
    (tmp_path / "ok" / "sae_weights.safetensors").write_bytes(b"\x00\x01garbage")
    with pytest.raises(ValueError, match="not a readable safetensors"):
        sae_io.load(tmp_path / "ok")

    (tmp_path / "ok" / "sae_weights.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match="sae_weights.safetensors is missing"):
        sae_io.load(tmp_path / "ok")


def test_save_overwrites_in_place(tmp_path):
    a = build_sae(sae_config("relu", d_in=4, d_sae=8))
    b = build_sae(sae_config("topk", d_in=4, d_sae=8, k=2))
    sae_io.save(a, tmp_path)
    sae_io.save(b, tmp_path)
    loaded = sae_io.load(tmp_path)
    assert loaded.cfg.arch == "topk" and torch.equal(loaded.W_dec, b.W_dec)


def test_gated_and_matryoshka_saves_load_and_others_are_refused_by_name(tmp_path):
    """Every kind SAELens saves: gated (inference) and matryoshka BatchTopK load and match; transcoders, abstopk,
    matching pursuit and temporal SAEs are refused, naming the kind."""
    from sae_lens.saes.gated_sae import GatedSAE, GatedSAEConfig
    from sae_lens.saes.matryoshka_batchtopk_sae import (
        MatryoshkaBatchTopKTrainingSAE,
        MatryoshkaBatchTopKTrainingSAEConfig,
    )

    from saes.gated import GatedSAE as OurGated

    torch.manual_seed(3)
    x = torch.randn(40, D_IN)
    for apply_b_dec in (True, False):
        theirs = GatedSAE(GatedSAEConfig(d_in=D_IN, d_sae=D_SAE, apply_b_dec_to_input=apply_b_dec))
        _randomise(theirs)
        theirs.save_model(tmp_path / f"gated-{apply_b_dec}")
        ours = sae_io.load(tmp_path / f"gated-{apply_b_dec}")
        assert type(ours) is OurGated
        _compare(ours, theirs, x)
    sae_io.save(ours, tmp_path / "gated-back")  # and back: SAELens reads ours
    _compare(SAE.load_from_disk(tmp_path / "gated-back"), ours, x)
    with pytest.raises(NotImplementedError, match="inference only"):
        ours.loss(x)
    m = MatryoshkaBatchTopKTrainingSAE(MatryoshkaBatchTopKTrainingSAEConfig(d_in=D_IN, d_sae=D_SAE, k=6,
                                                                            matryoshka_widths=[12, D_SAE]))
    _randomise(m)
    m.update_topk_threshold(torch.relu(torch.randn(8, D_SAE)))
    m.save_inference_model(tmp_path / "matryoshka")
    _compare(sae_io.load(tmp_path / "matryoshka"), SAE.load_from_disk(tmp_path / "matryoshka"), x)
    for kind in ("transcoder", "jumprelu_skip_transcoder", "abstopk", "temporal"):
        folder = tmp_path / kind
        sae_io.save(build_sae(sae_config("relu", d_in=4, d_sae=8)), folder)
        cfg = json.loads((folder / "cfg.json").read_text())
        (folder / "cfg.json").write_text(json.dumps({**cfg, "architecture": kind}))
        with pytest.raises(ValueError, match=f"SAELens architecture '{kind}' is .*not supported"):
            sae_io.load(folder)


def test_pretrained_spec_offline_is_one_clear_line(monkeypatch):
    from interp import dictionary

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ValueError, match=r"SAELens pretrained SAE.*hub.*save_model\(FOLDER\)") as e:
        dictionary.load("sae_lens:gpt2-small-res-jb/blocks.8.hook_resid_pre")
    assert "\n" not in str(e.value)
    with pytest.raises(ValueError, match="write a SAELens pretrained SAE as"):
        dictionary.load("sae_lens:no-id")
