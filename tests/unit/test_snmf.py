"""SNMF solvers (saes.snmf, saes.snmf.streaming) on synthetic data with a planted factorisation."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from saes.snmf.data import tensor_stream
from saes.snmf.solver import SNMFSolverConfig, fit_full, init_full, mu_step, n_keep, nnls, wta
from saes.snmf.streaming import fit_streaming

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))  # the NumPy transcription
from snmf_reference import reference_snmf  # noqa: E402


def planted(n: int = 1500, d: int = 40, k: int = 6, density: float = 0.15, seed: int = 0) -> torch.Tensor:
    """Activations [n, d] = G Fᵀ with G >= 0 (sparse-ish) and F sparse of any sign."""
    gen = torch.Generator().manual_seed(seed)
    G = torch.rand(n, k, generator=gen) ** 3
    F = torch.randn(d, k, generator=gen) * (torch.rand(d, k, generator=gen) < density)
    return G @ F.T


def test_n_keep_is_ceil_of_s_times_d():
    assert n_keep(512, 0.01) == 6
    assert n_keep(100, 0.07) == 7  # 0.07 * 100 is 7.000000000000001 in floats
    assert n_keep(100, 0.001) == 1
    assert n_keep(10, 1.0) == 10


def test_wta_keeps_exactly_the_largest_magnitudes_per_column():
    F = torch.randn(50, 9, generator=torch.Generator().manual_seed(1))
    out = wta(F, 4)
    assert ((out != 0).sum(0) == 4).all()
    for k in range(9):
        kept = set(torch.nonzero(out[:, k]).squeeze(1).tolist())
        assert kept == set(F[:, k].abs().topk(4).indices.tolist())
        assert torch.equal(out[list(kept), k], F[list(kept), k])


@pytest.mark.parametrize("init", ["random", "svd", "kmeans"])
def test_full_solver_recovers_a_planted_factorisation(init):
    acts = planted(n=800)
    cfg = SNMFSolverConfig(k=6, sparsity=0.15, init=init, max_iter=200, patience=20, seed=0)
    st = fit_full(acts, cfg)
    assert st.best_loss < 0.05, st.best_loss
    assert st.losses[0] > 3 * st.best_loss  # it really optimised
    F, G = st.best_F_DK, st.best_G_NK
    assert ((F != 0).sum(0) <= n_keep(40, 0.15)).all()
    assert (G >= 0).all()
    direct = float((acts - G @ F.T).pow(2).sum() / acts.pow(2).sum())
    assert math.isclose(direct, st.best_loss, rel_tol=1e-3, abs_tol=1e-6)


def test_codes_stay_nonnegative_and_wta_is_exact_every_iteration():
    acts = planted(seed=2) - 0.3  # negative entries in A too
    cfg = SNMFSolverConfig(k=6, sparsity=0.1, max_iter=25, patience=10**6)
    keep = n_keep(40, 0.1)

    def check(st):
        assert (st.G_NK >= 0).all()
        assert ((st.F_DK != 0).sum(0) == keep).all()

    st = fit_full(acts, cfg, on_step=check)
    assert st.iteration == 25


def test_best_so_far_is_kept_and_early_stopping_uses_patience():
    acts = planted(seed=3)
    cfg = SNMFSolverConfig(k=6, sparsity=0.15, max_iter=500, patience=5, tol=1e-2)
    st = fit_full(acts, cfg)
    assert st.best_loss == min(st.losses)
    assert st.iteration < 500 and st.since_best >= 5
    best_at = st.losses.index(st.best_loss)
    F, G = st.best_F_DK, st.best_G_NK
    assert math.isclose(float((acts - G @ F.T).pow(2).sum() / acts.pow(2).sum()), st.losses[best_at], rel_tol=1e-3)
    # mostly decreasing: the loss after 10 iterations is well below the first
    assert st.losses[min(10, len(st.losses) - 1)] < 0.7 * st.losses[0]


def test_torch_solver_equals_the_numpy_reference_transcription():
    acts = planted(n=600, d=30, k=5, seed=4).double()
    cfg = SNMFSolverConfig(k=5, sparsity=0.2, max_iter=6, patience=10**6, seed=7)
    G0 = init_full(acts, cfg).G_NK.numpy()
    F_ref, G_ref, losses_ref = reference_snmf(acts.T.numpy().copy(), G0, 0.2, max_iter=6, patience=10**6)
    st = fit_full(acts, cfg)
    np.testing.assert_allclose(st.losses, losses_ref, rtol=1e-9)
    np.testing.assert_allclose(st.best_F_DK.numpy(), F_ref, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(st.best_G_NK.numpy(), G_ref, rtol=1e-7, atol=1e-12)


def test_mu_step_is_a_fixed_point_at_an_exact_nonnegative_solution():
    gen = torch.Generator().manual_seed(5)
    F = torch.randn(20, 4, generator=gen, dtype=torch.float64)
    G = torch.rand(30, 4, generator=gen, dtype=torch.float64) + 0.1
    A_ND = G @ F.T
    out = mu_step(G, A_ND @ F, F.T @ F, eps=0.0)
    torch.testing.assert_close(out, G)


def test_nnls_gives_nonnegative_optimal_codes():
    gen = torch.Generator().manual_seed(6)
    F = torch.randn(30, 8, generator=gen, dtype=torch.float64) * torch.linspace(0.1, 10, 8, dtype=torch.float64)
    G_true = torch.rand(200, 8, generator=gen, dtype=torch.float64) * (torch.rand(200, 8, generator=gen) < 0.4)
    x = G_true @ F.T
    G = nnls(x @ F, F.T @ F, n_iter=2000, tol=1e-12)
    assert (G >= 0).all()
    torch.testing.assert_close(G, G_true, atol=1e-5, rtol=0)
    # on noisy data: KKT conditions of min ||x - F g||², g >= 0 (gradient >= 0, zero where g > 0)
    y = x + 0.3 * torch.randn(x.shape, generator=gen, dtype=torch.float64)
    G = nnls(y @ F, F.T @ F, n_iter=3000, tol=1e-13)
    grad = G @ (F.T @ F) - y @ F
    assert (G >= 0).all() and float(grad.min()) > -1e-5
    assert float((grad * G).abs().max()) < 1e-5


def test_streaming_reaches_the_full_batch_loss():
    # like real activations: more structure than K features can hold, plus noise. (On noiseless data with exactly
    # K planted features the two solvers can settle in different local minima, either way round.)
    acts = planted(n=1000, k=10, seed=1) + 0.2 * torch.randn(1000, 40, generator=torch.Generator().manual_seed(9))
    cfg = SNMFSolverConfig(k=6, sparsity=0.15, init="svd", max_iter=60, patience=10)
    full = fit_full(acts, cfg)
    stream = fit_streaming(tensor_stream(acts, 250), cfg)
    ratio = stream.best_loss / full.best_loss
    assert ratio < 1.05, (stream.best_loss, full.best_loss)
    F = stream.best_F_DK
    assert ((F != 0).sum(0) <= n_keep(40, 0.15)).all()
    G = nnls(acts @ F, F.T @ F)
    assert math.isclose(float((acts - G @ F.T).pow(2).sum() / acts.pow(2).sum()), stream.best_loss, rel_tol=1e-3)


def test_streaming_resumes_mid_pass_to_the_same_result():
    acts = planted(n=600, seed=10)
    cfg = SNMFSolverConfig(k=6, sparsity=0.15, max_iter=5, patience=10**6)
    whole = fit_streaming(tensor_stream(acts, 200), cfg)

    class Stop(Exception):
        pass

    saved = {}

    def interrupt(st):
        if st.epoch == 3 and st.batch == 1:
            saved["st"] = st
            raise Stop

    with pytest.raises(Stop):
        fit_streaming(tensor_stream(acts, 200), cfg, on_batch=interrupt)
    resumed = fit_streaming(tensor_stream(acts, 200), cfg, state=saved["st"])
    np.testing.assert_allclose(resumed.losses, whole.losses, rtol=1e-6)
    torch.testing.assert_close(resumed.best_F_DK, whole.best_F_DK)
