"""Matryoshka BatchTopK SAEs: the nested loss on tiny tensors, prefix validation, SAELens's matryoshka_batchtopk
format both ways, and the train-sae options."""

from __future__ import annotations

import pytest
import torch
from sae_lens import SAE, TrainingSAE
from sae_lens.saes.matryoshka_batchtopk_sae import (
    MatryoshkaBatchTopKTrainingSAE,
    MatryoshkaBatchTopKTrainingSAEConfig,
)
from sae_lens.saes.sae import TrainStepInput

from saes import build_sae, sae_config
from saes import io as sae_io
from saes.batchtopk import batch_topk
from saes.training.config import TrainSAEConfig, expand_grid

D_IN, D_SAE = 6, 12


def _sae(prefixes=(2, 5), k=2, **kw):
    return build_sae(sae_config("matryoshka", d_in=D_IN, d_sae=D_SAE, k=k, prefixes=list(prefixes), hook_name="h",
                                **kw))


def test_nested_loss_is_the_mean_of_each_prefix_error_by_hand():
    torch.manual_seed(0)
    sae = _sae().train()
    assert sae.cfg.prefixes == [2, 5, D_SAE]  # d_sae appended
    x = torch.randn(4, D_IN)
    losses = sae.loss(x)
    acts = batch_topk(sae.pre_acts(x), 2)
    assert int((acts > 0).sum()) == 8  # k·batch over the whole batch
    by_hand = []
    for m in (2, 5, D_SAE):
        f = acts.clone()
        f[:, m:] = 0  # only the prefix's latents
        x_hat = f @ sae.W_dec + sae.b_dec
        by_hand.append((x - x_hat).pow(2).sum(-1).mean().detach())
    torch.testing.assert_close(losses.total, torch.stack(by_hand).mean())  # nothing dead: no AuxK
    torch.testing.assert_close(losses.mse, by_hand[-1])  # the whole dictionary's error
    assert len({round(v.item(), 4) for v in by_hand}) == 3  # each prefix has its own error
    losses.total.backward()
    assert sae.W_dec.grad[:2].abs().sum() > 0


def test_early_latents_get_more_gradient_than_in_batchtopk():
    """The point of the nesting: a latent of the first prefix is pulled by every prefix's error."""
    torch.manual_seed(1)
    m = _sae(prefixes=(3,)).train()
    b = build_sae(sae_config("batchtopk", d_in=D_IN, d_sae=D_SAE, k=2, hook_name="h")).train()
    b.load_state_dict({k: v for k, v in m.state_dict().items()})
    x = torch.randn(16, D_IN)
    m.loss(x).total.backward()
    b.loss(x).total.backward()
    assert not torch.allclose(m.W_dec.grad[:3], b.W_dec.grad[:3])
    # a late latent only enters the last prefix: its gradient is the BatchTopK one divided by the number of prefixes
    torch.testing.assert_close(m.W_dec.grad[3:], b.W_dec.grad[3:] / 2)


def test_auxk_revives_dead_latents():
    torch.manual_seed(2)
    sae = _sae().train()
    x = torch.randn(8, D_IN)
    dead = torch.zeros(D_SAE, dtype=torch.bool)
    assert sae.loss(x, dead).aux.item() == 0.0
    dead[7:] = True
    assert sae.loss(x, dead).aux.item() > 0.0


@pytest.mark.parametrize("prefixes, msg", [
    ([], "--prefixes is empty"),
    ([4, 3], "--prefixes 4,3 is not increasing"),
    ([2, 2], "not increasing"),
    ([4, 99], "prefix of 99 latents, more than --d-sae 12"),
    ([0, 4], "below 1"),
])
def test_bad_prefixes_are_one_line_errors_naming_the_option(prefixes, msg):
    with pytest.raises(ValueError, match=msg) as e:
        _sae(prefixes=prefixes)
    assert "\n" not in str(e.value) and "e.g. --prefixes 128,512,2048" in str(e.value)


def test_default_prefixes():
    sae = build_sae(sae_config("matryoshka", d_in=D_IN, d_sae=2048, k=4))
    assert sae.cfg.prefixes == [128, 512, 2048]


def test_saved_as_saelens_matryoshka_batchtopk_and_back(tmp_path):
    torch.manual_seed(3)
    sae = _sae(act_scale=1.7).train()
    with torch.no_grad():
        for p in sae.parameters():
            p.add_(0.2 * torch.randn_like(p))
    sae.loss(torch.randn(32, D_IN))  # sets the global threshold
    sae_io.save(sae, tmp_path)
    theirs = TrainingSAE.load_from_disk(tmp_path)
    assert type(theirs) is MatryoshkaBatchTopKTrainingSAE
    assert theirs.cfg.matryoshka_widths == [2, 5, D_SAE] and theirs.cfg.k == 2
    torch.testing.assert_close(theirs.topk_threshold.double(), sae.threshold)
    x = torch.randn(10, D_IN) * 2
    torch.testing.assert_close(theirs.encode(x), sae.encode(x), atol=1e-5, rtol=1e-5)  # batch-level top k·batch
    # SAELens's training loss: the same per-prefix errors (it sums them where we average)
    out = theirs.training_forward_pass(TrainStepInput(x, {}, None, 0, False))
    ours_each = [(x * 1.7 - r).pow(2).sum(-1).mean() / 1.7**2 for r in sae.prefix_reconstructions(
        batch_topk(sae.pre_acts(x), 2))]
    torch.testing.assert_close(out.losses["inner_mse_loss_2"], ours_each[0], atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(out.losses["inner_mse_loss_5"], ours_each[1], atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(out.losses["mse_loss"], ours_each[2], atol=1e-4, rtol=1e-4)

    back = sae_io.load(tmp_path)
    assert back.cfg.arch == "matryoshka" and back.cfg.prefixes == [2, 5, D_SAE] and not back.training
    sae.eval()
    f = sae.encode(x)
    assert (f != 0).any() and (f == 0).any()
    torch.testing.assert_close(back.encode(x), f, atol=1e-5, rtol=1e-5)  # eval: JumpReLU at the global threshold
    theirs.save_inference_model(tmp_path / "inference")  # SAELens's own inference form: a JumpReLU
    torch.testing.assert_close(SAE.load_from_disk(tmp_path / "inference").encode(x), f, atol=1e-5, rtol=1e-5)


def test_sae_lens_matryoshka_training_save_loads_as_matryoshka(tmp_path):
    torch.manual_seed(4)
    theirs = MatryoshkaBatchTopKTrainingSAE(MatryoshkaBatchTopKTrainingSAEConfig(
        d_in=D_IN, d_sae=D_SAE, k=3, matryoshka_widths=[4, D_SAE]))  # rescale_acts_by_decoder_norm: True
    with torch.no_grad():
        for p in theirs.parameters():
            p.copy_(torch.randn_like(p) * 0.3)
    theirs.update_topk_threshold(torch.relu(torch.randn(8, D_SAE)))
    theirs.save_model(tmp_path)
    ours = sae_io.load(tmp_path)
    assert ours.cfg.arch == "matryoshka" and ours.cfg.prefixes == [4, D_SAE] and ours.cfg.k == 3
    x = torch.randn(20, D_IN)
    torch.testing.assert_close(ours.train().encode(x), theirs.encode(x), atol=1e-5, rtol=1e-5)


def test_train_sae_options_sweep_and_refuse():
    cfg = TrainSAEConfig.of(arch=["matryoshka", "topk"], d_sae=[64, 128], k=[4], prefixes=["8,16"])
    assert cfg.sae.prefixes == [8, 16]
    assert [s.name for s in expand_grid(cfg) if s.arch == "matryoshka"] == ["matryoshka-d64-k4-s0",
                                                                           "matryoshka-d128-k4-s0"]
    assert TrainSAEConfig.of(arch=["matryoshka"], d_sae=[64], prefixes=["8", "16"]).sae.prefixes == [8, 16]
    with pytest.raises(ValueError, match="--prefixes 8,200 has a prefix of 200 latents, more than --d-sae 128"):
        TrainSAEConfig.of(arch=["matryoshka"], d_sae=[128, 256], prefixes=["8,200"])
    with pytest.raises(ValueError, match="--prefixes is for matryoshka SAEs"):
        TrainSAEConfig.of(arch=["topk"], prefixes=["8,16"])
    with pytest.raises(ValueError, match="not a list of integers"):
        TrainSAEConfig.of(arch=["matryoshka"], prefixes=["8,x"])
    with pytest.raises(ValueError, match="--prefixes is empty"):
        TrainSAEConfig.of(arch=["matryoshka"], prefixes=[])
