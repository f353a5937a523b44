"""Streaming moments and correlations equal the full-matrix numpy answers; universal-neuron arithmetic."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats as sps

from interp.neurons.moments import PearsonSums, PowerSums, moments_along
from interp.neurons.universal import CorrelationSums, random_rotation, universal_from_sums


def _batches(x, size):
    return [x[i:i + size] for i in range(0, len(x), size)]


def test_streaming_moments_equal_numpy_on_the_full_matrix():
    g = torch.Generator().manual_seed(0)
    x = torch.cat([torch.randn(5000, 3, generator=g) * 2 + 100,  # large mean next to its spread
                   torch.rand(5000, 2, generator=g) ** 3, torch.full((5000, 1), 7.0)], dim=1)
    ps = PowerSums()
    for b in _batches(x, 777):
        ps.update(b)
    m = ps.moments()
    a = x.double().numpy()
    np.testing.assert_allclose(m.mean.numpy(), a.mean(0), rtol=1e-12)
    np.testing.assert_allclose(m.var.numpy(), a.var(0), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(m.skew.numpy()[:5], sps.skew(a[:, :5], axis=0), atol=1e-8)
    np.testing.assert_allclose(m.kurtosis.numpy()[:5], sps.kurtosis(a[:, :5], axis=0, fisher=False), atol=1e-8)
    assert m.skew[5] == 0 and m.kurtosis[5] == 0  # a constant column: defined, not NaN
    full = moments_along(x.T, dim=-1)
    np.testing.assert_allclose(full.kurtosis.numpy(), m.kurtosis.numpy(), atol=1e-8)


def test_streaming_pearson_equals_numpy_corrcoef_and_constant_columns_give_zero():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(3000, 4, generator=g)
    y = torch.cat([x @ torch.randn(4, 3, generator=g) + torch.randn(3000, 3, generator=g),
                   torch.ones(3000, 1)], dim=1)
    ps = PearsonSums()
    for bx, by in zip(_batches(x, 500), _batches(y, 500)):
        ps.update(bx, by)
    c = ps.correlation().numpy()
    ref = np.corrcoef(x.double().numpy().T, y[:, :3].double().numpy().T)[:4, 4:]
    np.testing.assert_allclose(c[:, :3], ref, atol=1e-12)
    assert np.all(c[:, 3] == 0) and not np.isnan(c).any()


def _corr_sums(acts, n_layers, d, dtype=torch.float64):
    s = CorrelationSums(len(acts), n_layers, d, dtype)
    for i in range(0, acts[0].shape[0], 600):
        s.update([a[i:i + 600] for a in acts])
    return s


def test_cross_correlation_sums_equal_numpy_in_float64_and_float32_products():
    g = torch.Generator().manual_seed(2)
    a = torch.randn(2000, 2 * 8, generator=g) + 3
    b = a @ torch.randn(16, 16, generator=g) + torch.randn(2000, 16, generator=g)
    ref = np.corrcoef(a.double().numpy().T, b.double().numpy().T)[:16, 16:].max(1)
    for dtype, tol in ((torch.float64, 1e-12), (torch.float32, 1e-5)):
        s = _corr_sums([a, b], 2, 8, dtype)
        np.testing.assert_allclose(s.max_corr(0, 1).numpy(), ref, atol=tol)


def test_a_model_compared_with_itself_is_universal_everywhere():
    g = torch.Generator().manual_seed(3)
    x = torch.randn(4000, 2 * 128, generator=g)
    res = universal_from_sums(_corr_sums([x, x.clone()], 2, 128), ["a", "b"], threshold=0.5)
    np.testing.assert_allclose(res.max_corr, 1.0, atol=1e-6)
    assert res.baseline.max() < 0.5
    assert res.universal.all() and (res.excess > 0.5).all()
    np.testing.assert_allclose(res.fraction_per_layer(), 1.0)


def test_rotation_baseline_equals_rotating_the_activations_and_independent_models_share_nothing():
    g = torch.Generator().manual_seed(4)
    L, d = 2, 32
    a = torch.randn(3000, L * d, generator=g).double()
    b = (a @ torch.randn(L * d, L * d, generator=g).double()) + 0.5 * torch.randn(3000, L * d, generator=g).double()
    rots = [random_rotation(d, 10 + layer) for layer in range(L)]
    b_rot = torch.cat([b[:, layer * d:(layer + 1) * d] @ rots[layer].T for layer in range(L)], dim=1)
    s = _corr_sums([a, b], L, d)
    explicit = np.corrcoef(a.numpy().T, b_rot.numpy().T)[:L * d, L * d:].max(1)
    np.testing.assert_allclose(s.max_corr(0, 1, rots).numpy(), explicit, atol=1e-10)
    indep = universal_from_sums(_corr_sums([a.float(), torch.randn(3000, L * d, generator=g)], L, d), ["a", "c"])
    assert np.abs(indep.excess).max() < 0.15 and not indep.universal.any()
    assert indep.baseline.max() < 0.15  # a rotated copy of unrelated activations is uncorrelated


def test_random_rotation_is_orthogonal_and_seeded():
    r = random_rotation(64, 5)
    torch.testing.assert_close(r @ r.T, torch.eye(64, dtype=torch.float64), atol=1e-10, rtol=0)
    assert torch.equal(r, random_rotation(64, 5)) and not torch.equal(r, random_rotation(64, 6))


def test_correlation_needs_data():
    with pytest.raises(ValueError, match="at least two"):
        PearsonSums().correlation()
    with pytest.raises(ValueError, match="no values"):
        PowerSums().moments()
