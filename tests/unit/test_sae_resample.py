"""Dead-latent resampling of ReLU SAEs: what a resampled latent becomes, and resampling inside training."""

from __future__ import annotations

import json

import pytest
import torch
from test_sae_trainer import _interrupt_at, cfg_for, sparse_data

from saes import build_sae, io, sae_config
from saes.relu import ENCODER_SCALE, resample_dead_latents
from saes.training.config import TrainSAEConfig
from saes.training.data import TensorSource
from saes.training.run import train_saes

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny matrices: one thread is faster


def _sae_with_adam_state(dead: int = 4):
    torch.manual_seed(0)
    sae = build_sae(sae_config("relu", d_in=8, d_sae=16, act_scale=2.0))
    opt = torch.optim.Adam(sae.parameters(), lr=1e-3)
    sae.loss(torch.randn(32, 8)).total.backward()
    opt.step()  # moments everywhere
    with torch.no_grad():
        sae.b_enc[:dead] = -1e3  # these latents can never fire
    return sae, opt


def test_dead_latents_point_at_the_worst_reconstructed_inputs():
    sae, opt = _sae_with_adam_state()
    before = {k: v.detach().clone() for k, v in sae.state_dict().items()}
    moments = {n: opt.state[p]["exp_avg"].clone() for n, p in sae.named_parameters()}
    x = 0.1 * torch.randn(64, 8)
    x[7:11] = 50 * torch.randn(4, 8)  # by far the worst reconstructions: the four draws (distinct inputs) are these
    dead = torch.zeros(16, dtype=torch.bool)
    dead[:4] = True
    assert (sae.encode(x)[:, :4] == 0).all()

    assert resample_dead_latents(sae, opt, x, dead, seed=0) == 4
    want = x[7:11] * 2.0 - before["b_dec"]  # normalised space: x·s - b_dec
    want = want / want.norm(dim=-1, keepdim=True)
    match = (sae.W_dec[:4].detach() @ want.T).abs() > 1 - 1e-6  # [resampled latent, bad input]
    assert (match.sum(0) == 1).all() and (match.sum(1) == 1).all(), match  # one latent per bad input
    live_norm = before["W_enc"][:, 4:].norm(dim=0).mean()
    assert torch.allclose(sae.W_enc[:, :4], sae.W_dec[:4].T * ENCODER_SCALE * live_norm, atol=1e-6)
    assert (sae.b_enc[:4] == 0).all()
    fired = sae.encode(x[7:11])[:, :4] > 0
    assert fired[match.T].all()  # each fires on the input it was drawn from
    for name in ("W_dec", "b_enc"):  # live latents and their Adam moments untouched, the resampled ones' zeroed
        assert torch.equal(sae.state_dict()[name][4:], before[name][4:])
        assert (opt.state[getattr(sae, name)]["exp_avg"][:4] == 0).all()
        assert torch.equal(opt.state[getattr(sae, name)]["exp_avg"][4:], moments[name][4:])
    assert (opt.state[sae.W_enc]["exp_avg_sq"][:, :4] == 0).all()
    assert torch.equal(opt.state[sae.W_enc]["exp_avg"][:, 4:], moments["W_enc"][:, 4:])


def test_nothing_dead_changes_nothing():
    sae, opt = _sae_with_adam_state()
    before = {k: v.clone() for k, v in sae.state_dict().items()}
    assert resample_dead_latents(sae, opt, torch.randn(16, 8), torch.zeros(16, dtype=torch.bool), seed=0) == 0
    assert all(torch.equal(before[k], v) for k, v in sae.state_dict().items())


DEAD_AT_BIRTH = 16


def _born_dead(monkeypatch):
    """The relu SAEs of a run start with latents 0..15 unable to fire (as L1 training leaves some)."""
    import saes.training.trainer as T

    real = T.build_sae

    def build(cfg):
        sae = real(cfg)
        with torch.no_grad():
            sae.b_enc[:DEAD_AT_BIRTH] = -1e3
        return sae

    monkeypatch.setattr(T, "build_sae", build)


def test_training_with_resampling_revives_latents_and_resumes_identically(tmp_path, monkeypatch):
    data = sparse_data()
    _born_dead(monkeypatch)
    kw = dict(arch=["relu"], l1_coefficient=[0.3], tokens=256 * 80, lr=3e-3, dead_window=1024, checkpoint_every=25,
              init_l0=0)  # the plain init: --init-l0 would set the born-dead latents' biases back to firing
    train_saes(cfg_for(tmp_path, "plain", **kw), source=TensorSource(data, 256))
    train_saes(cfg_for(tmp_path, "resampled", resample_every=10, resample_until=0.6, **kw),
               source=TensorSource(data, 256))
    plain, res = ([json.loads(ln) for ln in (tmp_path / d / "train_log.jsonl").read_text().splitlines()]
                  for d in ("plain", "resampled"))
    assert plain[-1]["resampled"] == 0 and plain[-1]["dead_fraction"] >= DEAD_AT_BIRTH / 64, plain[-1]
    assert res[-1]["resampled"] >= DEAD_AT_BIRTH and res[-1]["dead_fraction"] < DEAD_AT_BIRTH / 64, res[-1]

    cfg = cfg_for(tmp_path, "killed", resample_every=10, resample_until=0.6, **kw)
    with monkeypatch.context() as m:
        _interrupt_at(m, 33)  # after the resamplings of steps 10, 20, 30; the checkpoint is at 25
        with pytest.raises(KeyboardInterrupt):
            train_saes(cfg, source=TensorSource(data, 256))
    train_saes(cfg, source=TensorSource(data, 256))
    a, b = io.load(tmp_path / "resampled").state_dict(), io.load(tmp_path / "killed").state_dict()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-5, atol=1e-6)
    killed = [json.loads(ln) for ln in (tmp_path / "killed" / "train_log.jsonl").read_text().splitlines()]
    assert killed[-1]["resampled"] == res[-1]["resampled"]


@pytest.mark.parametrize("kw, msg", [({"arch": ["topk"], "k": [4], "resample_every": 10}, "is for relu SAEs"),
                                     ({"arch": ["relu"], "resample_every": -1},
                                      r"--resample-every must be >= 0 \(0: off\), got -1"),
                                     ({"arch": ["relu"], "resample_every": 5, "resample_until": 1.5}, r"in \[0, 1\]")])
def test_bad_resampling_options_are_refused(kw, msg):
    with pytest.raises(ValueError, match=msg):
        TrainSAEConfig.of(**kw)
