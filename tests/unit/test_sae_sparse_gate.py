"""The sparse training step of ReLU and JumpReLU SAEs gives the losses and gradients of the dense step."""

from __future__ import annotations

import pytest
import torch

from saes import build_sae, sae_config
from saes.sparse_gate import support_fraction


def sae_and_batch(arch: str, seed: int = 0):
    torch.manual_seed(seed)
    kw = {"sparsity_coeff": 0.7}
    if arch == "jumprelu":
        kw.update(bandwidth=0.05, init_threshold=0.4)
    sae = build_sae(sae_config(arch, d_in=24, d_sae=96, **kw)).train()
    with torch.no_grad():
        sae.b_enc.fill_(-1.3)  # a sparse code, as late in training
        if arch == "jumprelu":
            sae.threshold.copy_(torch.rand(96) * 0.5 + 0.2)
        sae.W_dec.mul_(torch.rand(96, 1) + 0.5)  # rows of different norms (the L1 term weights by them)
    return sae, torch.randn(200, 24)


def losses_and_grads(sae, x, sparse: bool):
    sae.sparse_step = sparse
    sae.zero_grad(set_to_none=True)
    out = sae.loss(x, None, 0.7)
    out.total.backward()
    grads = {n: p.grad.clone() for n, p in sae.named_parameters()}
    return out, grads


@pytest.mark.parametrize("arch", ["relu", "jumprelu"])
def test_sparse_step_equals_dense_step(arch):
    sae, x = sae_and_batch(arch)
    assert support_fraction(x * sae.cfg.act_scale, sae.W_enc, sae.b_enc, sae.b_dec,
                            getattr(sae, "threshold", None), getattr(sae.cfg, "bandwidth", 0.0)) < 0.15
    assert sae.use_sparse_step(x)
    dense, g_dense = losses_and_grads(sae, x, sparse=False)
    sparse, g_sparse = losses_and_grads(sae, x, sparse=True)
    for term in ("mse", "sparsity", "total", "l0"):
        torch.testing.assert_close(getattr(sparse, term), getattr(dense, term), rtol=1e-5, atol=1e-5, msg=term)
    assert torch.equal(sparse.fire_counts, dense.fire_counts) and int(dense.fire_counts.sum()) > 0
    assert set(g_sparse) == set(g_dense)
    for name in g_dense:
        assert g_dense[name].abs().sum() > 0, name  # every parameter really gets gradient here
        torch.testing.assert_close(g_sparse[name], g_dense[name], rtol=1e-4, atol=1e-5, msg=name)


def test_dense_codes_take_the_dense_step():
    sae, x = sae_and_batch("relu")
    with torch.no_grad():
        sae.b_enc.fill_(1.0)  # most latents fire: the sparse step would be slower
    assert not sae.use_sparse_step(x)
    sae, x = sae_and_batch("relu")
    assert sae.use_sparse_step(x)
    with torch.no_grad():
        assert not sae.use_sparse_step(x)  # no gradients (evaluation): the plain path
