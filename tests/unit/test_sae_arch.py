"""SAE architectures: config validation, init, losses, JumpReLU STEs, sparse decoding, decoder constraints."""

from __future__ import annotations

import pytest
import torch

from interp.dictionary import Dictionary
from saes import SAEConfig, build_sae, sae_config
from saes.batchtopk import batch_topk
from saes.jumprelu import jumprelu, step
from saes.registry import uses_k
from saes.topk import TopKSAE


def _cfg(arch: str, **kw) -> SAEConfig:
    k = kw.pop("k", 4 if arch in ("topk", "batchtopk") else None)
    return sae_config(arch, d_in=kw.pop("d_in", 8), d_sae=kw.pop("d_sae", 32), k=k, hook_name="h", **kw)


@pytest.mark.parametrize(
    "kw, msg",
    [
        (dict(arch="crosscoder"), "relu, topk, jumprelu, batchtopk"),
        (dict(arch="topk", k=None), "k"),
        (dict(arch="topk", k=99), "k"),
        (dict(arch="relu", k=3), "only used"),
        (dict(arch="relu", dtype="int8"), "dtype"),
        (dict(arch="relu", act_scale=0.0), "act_scale"),
    ],
)
def test_config_rejects_bad_values(kw, msg):
    with pytest.raises(ValueError, match=msg):
        sae_config(d_in=8, d_sae=32, **kw)


def test_config_default_decoder_constraint_per_arch():
    assert _cfg("relu").unit_norm_decoder is False
    assert all(_cfg(a).unit_norm_decoder for a in ("topk", "jumprelu", "batchtopk"))


@pytest.mark.parametrize("arch", ["relu", "topk", "jumprelu", "batchtopk"])
def test_init_and_dictionary_protocol(arch):
    torch.manual_seed(0)
    sae = build_sae(_cfg(arch))
    assert isinstance(sae, Dictionary)
    assert sae.W_enc.shape == (8, 32) and sae.W_dec.shape == (32, 8)
    torch.testing.assert_close(sae.W_dec.norm(dim=-1), torch.ones(32))
    torch.testing.assert_close(sae.W_enc, sae.W_dec.T)
    x = torch.randn(5, 3, 8)
    out = sae(x)
    assert out.x_hat.shape == x.shape and out.feature_acts.shape == (5, 3, 32)
    losses = sae.loss(x.reshape(-1, 8))
    torch.testing.assert_close(losses.total, losses.mse + losses.sparsity + losses.aux)
    losses.total.backward()
    assert sae.W_enc.grad is not None and torch.isfinite(sae.W_enc.grad).all()


def test_relu_loss_is_mse_plus_decoder_weighted_l1():
    torch.manual_seed(0)
    sae = build_sae(_cfg("relu", sparsity_coeff=0.5))
    with torch.no_grad():
        sae.W_dec.mul_(torch.linspace(0.5, 2, 32)[:, None])
        sae.b_enc.fill_(0.1)
    x = torch.randn(16, 8)
    f = torch.relu((x - sae.b_dec) @ sae.W_enc + sae.b_enc)
    mse = ((f @ sae.W_dec + sae.b_dec - x) ** 2).sum(-1).mean()
    l1 = (f * sae.W_dec.norm(dim=-1)).sum(-1).mean()
    losses = sae.loss(x)
    torch.testing.assert_close(losses.mse, mse)
    torch.testing.assert_close(losses.sparsity, 0.5 * l1)
    torch.testing.assert_close(sae.loss(x, sparsity_coeff=0.0).sparsity, torch.tensor(0.0))


def _rect(u: float) -> float:
    return 1.0 if -0.5 < u < 0.5 else 0.0


def test_jumprelu_ste_gradients_match_spec():
    eps = 0.2
    h = torch.tensor([[0.45, 0.10], [0.58, 0.35], [0.20, 0.39], [0.70, 0.25]], requires_grad=True)
    theta = torch.tensor([0.5, 0.3], requires_grad=True)
    w = torch.tensor([[1.0, -2.0], [0.5, 3.0], [2.0, 1.5], [-1.0, 0.7]])
    (jumprelu(h, theta, eps) * w).sum().backward()
    exp_theta = [
        sum(
            -(theta[i].item() / eps) * _rect((h[b, i].item() - theta[i].item()) / eps) * w[b, i].item()
            for b in range(4)
        )
        for i in range(2)
    ]
    torch.testing.assert_close(theta.grad, torch.tensor(exp_theta))
    torch.testing.assert_close(h.grad, w * (h > theta).float())
    assert theta.grad.abs().min() > 0  # the case exercises the kernel for both latents

    h.grad, theta.grad = None, None
    (step(h, theta, eps) * w).sum().backward()
    exp_step = [
        sum(-(1 / eps) * _rect((h[b, i].item() - theta[i].item()) / eps) * w[b, i].item() for b in range(4))
        for i in range(2)
    ]
    torch.testing.assert_close(theta.grad, torch.tensor(exp_step))
    assert h.grad is None or torch.all(h.grad == 0)


def test_jumprelu_forward_and_l0_loss():
    sae = build_sae(_cfg("jumprelu", sparsity_coeff=2.0, bandwidth=0.05))
    with torch.no_grad():
        sae.threshold.copy_(torch.rand(32) * 0.5)
    x = torch.randn(16, 8)
    h = sae.pre_acts(x)
    f = sae.encode(x)
    torch.testing.assert_close(f, h * (h > sae.threshold))
    losses = sae.loss(x)
    torch.testing.assert_close(losses.sparsity, 2.0 * (h > sae.threshold).float().sum(-1).mean())
    assert sae.threshold.dtype == torch.float32 and sae.to(torch.float64).threshold.dtype == torch.float32


def test_jumprelu_pre_act_loss_only_on_dead_latents():
    sae = build_sae(_cfg("jumprelu", pre_act_coeff=1.0))
    with torch.no_grad():
        sae.threshold.fill_(5.0)  # nothing fires: every latent is below threshold
    x = torch.randn(16, 8)
    assert sae.loss(x).aux == 0
    dead = torch.zeros(32, dtype=torch.bool)
    dead[:3] = True
    h = sae.pre_acts(x)
    expected = (torch.relu(5.0 - h[:, :3]) * sae.W_dec.norm(dim=-1)[:3]).sum(-1).mean()
    torch.testing.assert_close(sae.loss(x, dead_mask=dead).aux, expected)


def test_topk_sparse_decode_equals_dense():
    torch.manual_seed(1)
    sae = build_sae(_cfg("topk", d_sae=64, k=5, act_scale=1.3))
    with torch.no_grad():
        sae.b_dec.normal_()
    x = torch.randn(4, 6, 8)
    f = sae.encode(x)
    assert ((f != 0).sum(-1) <= 5).all() and ((f != 0).sum(-1) == 5).any()
    vals, idx = sae.encode_sparse(x)
    torch.testing.assert_close(sae.decode_sparse(vals, idx), sae.decode(f))
    torch.testing.assert_close(sae(x).x_hat, sae.decode(f))
    # gradients flow through the sparse path the same way as through the dense one
    xs = x.reshape(-1, 8)
    g_sparse = torch.autograd.grad(sae.loss(xs).mse, sae.W_dec)[0]
    h = sae.pre_acts_scaled(xs * 1.3)
    dense = ((sae.activation(h) @ sae.W_dec + sae.b_dec - xs * 1.3) ** 2).sum(-1).mean()
    torch.testing.assert_close(g_sparse, torch.autograd.grad(dense, sae.W_dec)[0])


def test_auxk_zero_without_dead_latents_and_positive_with():
    torch.manual_seed(2)
    sae: TopKSAE = build_sae(_cfg("topk", d_sae=64, k=3))
    x = torch.randn(32, 8)
    assert sae.loss(x).aux == 0
    assert sae.loss(x, dead_mask=torch.zeros(64, dtype=torch.bool)).aux == 0
    dead = torch.zeros(64, dtype=torch.bool)
    dead[::2] = True
    aux = sae.loss(x, dead_mask=dead).aux
    assert aux > 0
    (g,) = torch.autograd.grad(aux, sae.W_dec)
    assert g[~dead].abs().sum() == 0 and g[dead].abs().sum() > 0  # only dead latents learn from AuxK
    assert sae.k_aux == 4  # d_in // 2


def test_auxk_matches_formula():
    torch.manual_seed(3)
    sae = build_sae(_cfg("topk", d_sae=16, k=2, k_aux=2, aux_coeff=0.5))
    x = torch.randn(10, 8)
    dead = torch.zeros(16, dtype=torch.bool)
    dead[:5] = True
    h = sae.pre_acts(x)
    e = (x - sae(x).x_hat).detach()
    hd = h.masked_fill(~dead, float("-inf"))
    v, i = hd.topk(2, dim=-1)
    f = torch.zeros_like(h).scatter(-1, i, torch.relu(v))
    e_hat = f @ sae.W_dec
    expected = 0.5 * ((e - e_hat) ** 2).sum() / ((e - e.mean(0)) ** 2).sum()
    torch.testing.assert_close(sae.loss(x, dead_mask=dead).aux, expected)


@pytest.mark.parametrize("project", [True, False])
def test_decoder_gradient_projection_keeps_row_norms(project):
    torch.manual_seed(4)
    sae = build_sae(_cfg("topk"))
    sae.W_dec.grad = torch.randn_like(sae.W_dec)
    if project:
        sae.before_optimizer_step()
        assert (sae.W_dec.grad * sae.W_dec).sum(-1).abs().max() < 1e-6
    norms0 = sae.W_dec.norm(dim=-1).clone()
    torch.optim.SGD(sae.parameters(), lr=1e-3).step()
    drift = (sae.W_dec.norm(dim=-1) - norms0).abs().max()
    assert (drift < 2e-5) if project else (drift > 5e-4)  # O(lr²) vs O(lr)
    sae.after_optimizer_step()
    torch.testing.assert_close(sae.W_dec.norm(dim=-1), torch.ones(32))


def test_batchtopk_training_and_threshold():
    torch.manual_seed(5)
    sae = build_sae(_cfg("batchtopk", d_sae=64, k=3, threshold_lr=0.5))
    x = torch.randn(20, 8)
    acts = batch_topk(sae.pre_acts(x), 3)
    assert (acts != 0).sum() == 60 and (acts != 0).sum(-1).float().std() > 0  # k·batch in total, uneven per token
    sae.train()
    sae.loss(x)
    first = acts[acts > 0].min().double()
    torch.testing.assert_close(sae.threshold, first)
    x2 = torch.randn(20, 8)
    acts2 = batch_topk(sae.pre_acts(x2), 3)
    sae.loss(x2)
    torch.testing.assert_close(sae.threshold, 0.5 * first + 0.5 * acts2[acts2 > 0].min().double())
    sae.eval()
    h = sae.pre_acts(x2)
    torch.testing.assert_close(sae.encode(x2), h * (h > sae.threshold.float()))


@pytest.mark.parametrize("arch", ["relu", "topk", "jumprelu", "batchtopk"])
def test_fold_act_scale_keeps_raw_encode_decode(arch):
    torch.manual_seed(6)
    sae = build_sae(_cfg(arch, act_scale=3.0)).eval()
    with torch.no_grad():
        sae.b_dec.normal_()
        sae.b_enc.normal_(std=0.1)
    x = torch.randn(12, 8) * 5
    before = sae(x)
    sae.fold_act_scale_()
    after = sae(x)
    assert sae.cfg.act_scale == 1.0
    torch.testing.assert_close(after.feature_acts, before.feature_acts, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(after.x_hat, before.x_hat, atol=1e-5, rtol=1e-5)


def test_init_b_dec_mean_and_median():
    sae = build_sae(_cfg("relu", d_in=2, act_scale=2.0))
    x = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [100.0, 100.0]])
    sae.init_b_dec_(x)
    torch.testing.assert_close(sae.b_dec, 2.0 * x.mean(0))
    sae.init_b_dec_(x, method="median")
    assert sae.b_dec.norm() < 2.0  # the outlier barely moves the geometric median


@pytest.mark.parametrize("arch", ["relu", "topk", "jumprelu", "batchtopk"])
def test_loss_reports_fire_counts_and_l0(arch):
    torch.manual_seed(7)
    sae = build_sae(_cfg(arch, d_sae=64))
    x = torch.randn(30, 8)
    losses = sae.loss(x)
    acts = sae.encode(x) if arch != "batchtopk" else batch_topk(sae.pre_acts(x), 4)
    assert losses.fire_counts.tolist() == (acts != 0).sum(0).tolist()
    assert losses.l0.item() == pytest.approx((acts != 0).sum(-1).float().mean().item())
    assert set(losses.as_floats()) == {"mse", "sparsity", "aux", "total", "l0"}


@pytest.mark.parametrize("arch", ["relu", "topk", "jumprelu", "batchtopk"])
def test_a_few_adam_steps_reduce_the_loss(arch):
    torch.manual_seed(8)
    basis = torch.randn(16, 8)
    codes = torch.relu(torch.randn(512, 16) - 1.0)
    x = codes @ basis
    sae = build_sae(_cfg(arch, d_sae=32, **({} if uses_k(arch) else {"sparsity_coeff": 1e-3})))
    sae.init_b_dec_(x)
    opt = torch.optim.Adam(sae.parameters(), lr=3e-3)
    first = sae.loss(x).mse.item()
    for _ in range(60):
        loss = sae.loss(x, dead_mask=torch.zeros(32, dtype=torch.bool))
        opt.zero_grad()
        loss.total.backward()
        sae.before_optimizer_step()
        opt.step()
        sae.after_optimizer_step()
    assert sae.loss(x).mse.item() < 0.7 * first
    if sae.cfg.unit_norm_decoder:
        torch.testing.assert_close(sae.W_dec.norm(dim=-1), torch.ones(32))
