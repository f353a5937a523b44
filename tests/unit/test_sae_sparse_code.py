"""The k-sparse kinds' training step through the selected entries (saes/sparse_code.py) against autograd through the
dense [batch, d_sae] code: same losses, same gradients (parameters and inputs), same weights after Adam steps."""

from __future__ import annotations

import copy

import pytest
import torch

from saes import build_sae, sae_config
from saes.batchtopk import batch_topk
from saes.sparse_code import decode_entries, dense_code, flat_entries

KINDS = ["topk", "batchtopk", "matryoshka"]
D_IN, D_SAE, K = 12, 48, 4


def _sae(arch: str):
    extra = {"prefixes": [6, 20]} if arch == "matryoshka" else {}
    sae = build_sae(sae_config(arch, d_in=D_IN, d_sae=D_SAE, k=K, k_aux=5, act_scale=1.3, hook_name="h",
                               dtype="float64", **extra)).train()
    with torch.no_grad():
        sae.b_dec.normal_()
        sae.b_enc.normal_(std=0.3)
    return sae


def dense_loss(sae, x: torch.Tensor, dead: torch.Tensor | None) -> dict[str, torch.Tensor]:
    """The loss by plain autograd through the dense code (the published formulas, docs/methods.md §1 and §7)."""
    xs = (x * sae.cfg.act_scale).reshape(-1, D_IN)
    h = (xs - sae.b_dec) @ sae.W_enc + sae.b_enc
    if sae.cfg.arch == "topk":
        v, i = h.topk(K, dim=-1)
        acts = torch.zeros_like(h).scatter(-1, i, torch.relu(v))
    else:
        acts = batch_topk(h, K)
    prefixes = sae.cfg.prefixes if sae.cfg.arch == "matryoshka" else [D_SAE]
    errs = [(xs - (acts[:, :m] @ sae.W_dec[:m] + sae.b_dec)).pow(2).sum(-1).mean() for m in prefixes]
    e = (xs - (acts @ sae.W_dec + sae.b_dec)).detach()
    aux = torch.zeros((), dtype=xs.dtype)
    if dead is not None and dead.any():
        v, i = h.masked_fill(~dead, float("-inf")).topk(min(5, int(dead.sum())), dim=-1)
        e_hat = torch.zeros_like(h).scatter(-1, i, torch.relu(v)) @ sae.W_dec
        aux = sae.cfg.aux_coeff * (e - e_hat).pow(2).sum() / (e - e.mean(0)).pow(2).sum()
    return {"total": torch.stack(errs).mean() + aux, "mse": errs[-1], "aux": aux, "acts": acts.detach()}


@pytest.mark.parametrize("arch", KINDS)
@pytest.mark.parametrize("with_dead", [False, True])
def test_losses_and_gradients_equal_the_dense_path(arch, with_dead):
    torch.manual_seed(0)
    sae = _sae(arch)
    ref = copy.deepcopy(sae)
    x = torch.randn(20, D_IN, dtype=torch.float64, requires_grad=True)
    x_ref = x.detach().clone().requires_grad_(True)
    dead = torch.zeros(D_SAE, dtype=torch.bool)
    dead[::3] = True
    dead = dead if with_dead else None
    got = sae.loss(x, dead)
    want = dense_loss(ref, x_ref, dead)
    assert (got.aux > 0) == with_dead
    for name in ("total", "mse", "aux"):
        torch.testing.assert_close(getattr(got, name), want[name], rtol=1e-12, atol=1e-12)
    acts = want["acts"]
    assert got.fire_counts.tolist() == (acts > 0).sum(0).tolist()
    assert got.l0.item() == pytest.approx((acts > 0).sum(-1).double().mean().item())
    got.total.backward()
    want["total"].backward()
    for (name, p), q in zip(sae.named_parameters(), ref.parameters()):
        assert p.grad.abs().sum() > 0, name
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-10, atol=1e-12, msg=name)
    torch.testing.assert_close(x.grad, x_ref.grad, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("arch", KINDS)
def test_adam_steps_end_where_the_dense_path_does(arch):
    torch.manual_seed(1)
    sae = _sae(arch)
    ref = copy.deepcopy(sae)
    opts = [torch.optim.Adam(m.parameters(), lr=1e-2) for m in (sae, ref)]
    dead = torch.zeros(D_SAE, dtype=torch.bool)
    dead[-10:] = True
    for _ in range(15):
        x = torch.randn(32, D_IN, dtype=torch.float64)
        totals = (sae.loss(x, dead).total, dense_loss(ref, x, dead)["total"])
        for m, opt, total in zip((sae, ref), opts, totals):
            opt.zero_grad()
            total.backward()
            m.before_optimizer_step()
            opt.step()
            m.after_optimizer_step()
    for (name, p), q in zip(sae.named_parameters(), ref.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-9, atol=1e-10, msg=name)
    assert not torch.allclose(sae.W_dec, _sae(arch).W_dec)  # it did train


def test_entries_decode_a_code_with_uneven_rows():
    torch.manual_seed(2)
    acts = torch.relu(torch.randn(7, D_SAE) - 1.2)
    acts[3] = 0  # a token with no entry: an empty bag
    W = torch.randn(D_SAE, D_IN)
    ent = flat_entries(acts.reshape(-1).nonzero().squeeze(1), D_SAE, 7)
    vals = acts[ent.rows, ent.cols]
    assert len(set(torch.bincount(ent.rows, minlength=7).tolist())) > 2
    torch.testing.assert_close(decode_entries(vals, ent, W), acts @ W)
    torch.testing.assert_close(dense_code(vals, ent, (7, D_SAE)), acts)


def test_batch_selection_keeps_exactly_the_largest_with_ties():
    from saes.batchtopk import kth_largest_positions

    flat = torch.tensor([0.5, 2.0, 1.0, 1.0, 1.0, -3.0, 4.0, 1.0])
    pos = kth_largest_positions(flat, 4)  # 4.0, 2.0 and two of the four 1.0s
    assert pos.tolist() == sorted(pos.tolist()) and len(pos) == 4
    assert sorted(flat[pos].tolist()) == [1.0, 1.0, 2.0, 4.0]
    h = torch.randn(50, 30, dtype=torch.float64)
    want = set(torch.topk(h.reshape(-1), 120).indices.tolist())
    assert set(kth_largest_positions(h.reshape(-1), 120).tolist()) == want
    assert kth_largest_positions(flat, 20).tolist() == list(range(8))


@pytest.mark.parametrize("arch", KINDS)
def test_half_precision_trains_through_the_same_step(arch):
    """bfloat16 weights: the sparse kernels run in float32 inside, the gradients come back in bfloat16 and agree
    with the float32 step's (same weights) to bfloat16 precision."""
    torch.manual_seed(3)
    extra = {"prefixes": [6, 20]} if arch == "matryoshka" else {}
    sae32 = build_sae(sae_config(arch, d_in=D_IN, d_sae=D_SAE, k=K, hook_name="h", **extra)).train()
    sae16 = copy.deepcopy(sae32).to(torch.bfloat16)
    sae32.load_state_dict({k: v.float() for k, v in sae16.state_dict().items()})  # the same (rounded) weights
    x = torch.randn(64, D_IN)
    for sae in (sae32, sae16):
        sae.loss(x).total.backward()
    for (name, p), q in zip(sae16.named_parameters(), sae32.parameters()):
        assert p.grad.dtype == torch.bfloat16, name
        cos = torch.nn.functional.cosine_similarity(p.grad.float().reshape(-1), q.grad.reshape(-1), dim=0)
        assert cos > 0.98, (name, float(cos))
