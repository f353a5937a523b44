"""KL calibration of the steering strength on toy-gelu-s0."""

from __future__ import annotations

import pytest
import torch

from interp.steering import calibrate, kl_at_alphas, kl_divergence, neuron_vector


def test_kl_divergence_by_hand():
    p, q = torch.tensor([0.5, 0.5]), torch.tensor([0.25, 0.75])
    want = 0.5 * torch.log(torch.tensor(2.0)) + 0.5 * torch.log(torch.tensor(0.5 / 0.75))
    assert torch.allclose(kl_divergence(p.log(), q.log()).float(), want, atol=1e-6)
    assert float(kl_divergence(p.log(), p.log())) == 0.0


def test_calibrated_alpha_reaches_each_target(toy_model):
    prompt = toy_model.to_tokens("The")[0]
    vec = neuron_vector(toy_model, 3, 17)
    targets = (0.05, 0.1, 0.25, 0.5)
    cal = calibrate(toy_model, vec, prompt, targets, tol=0.02)
    assert [p.target for p in cal.points] == list(targets) and cal.unreachable == []
    alphas = torch.tensor([cal.alpha(t) for t in targets])
    assert bool((alphas[1:] > alphas[:-1]).all())  # larger KL needs more strength here
    kl = kl_at_alphas(toy_model, vec, prompt, alphas)
    for t, k, p in zip(targets, kl.tolist(), cal.points):
        assert abs(k - t) <= 0.02 * t and abs(p.kl - k) < 1e-6
    assert float(kl_at_alphas(toy_model, vec, prompt, torch.tensor([0.0]))[0]) == pytest.approx(0.0, abs=1e-9)


def test_unreachable_target_is_reported_not_dropped(toy_model):
    prompt = toy_model.to_tokens("The")[0]
    vec = neuron_vector(toy_model, 3, 17)
    k_max = float(kl_at_alphas(toy_model, vec, prompt, torch.tensor([5.0]))[0])
    cal = calibrate(toy_model, vec, prompt, (k_max / 2, 50.0), alpha_max=5.0)
    assert len(cal.points) == 2 and cal.unreachable == [50.0] and cal.points[0].reached
    bad = cal.points[1]
    assert not bad.reached and bad.alpha is None and "unreachable" in bad.note and bad.kl == cal.kl_at_alpha_max
    with pytest.raises(ValueError, match="unreachable"):
        cal.alpha(50.0)
    assert cal.to_json()["points"][1]["reached"] is False
    with pytest.raises(ValueError, match="positive"):
        calibrate(toy_model, vec, prompt, (0.0,))
