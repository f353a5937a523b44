"""Dictionary metrics on hand-computable cases."""

from __future__ import annotations

import math

import pytest
import torch

from saes.eval import metrics as M


def test_l0_mse_cosine():
    f = torch.tensor([[0.0, 1.0, 2.0], [0.0, 0.0, 0.0], [3.0, -1.0, 0.5]])
    assert M.l0(f) == pytest.approx(5 / 3)
    assert M.l0(f.reshape(1, 3, 3)) == pytest.approx(5 / 3)
    x = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    y = torch.tensor([[1.0, 1.0], [0.0, -2.0]])
    assert M.mse(x, y) == pytest.approx((1 + 16) / 2)
    assert M.cosine_similarity(x, y) == pytest.approx((1 / math.sqrt(2) - 1) / 2)


def test_r2_hand_case_and_streaming():
    x = torch.tensor([[1.0, 0.0], [3.0, 0.0], [2.0, 2.0], [2.0, -2.0]])
    x_hat = torch.tensor([[1.0, 0.0], [2.0, 0.0], [2.0, 1.0], [2.0, -2.0]])
    # E||x - x̂||² = 2/4; E||x||² = (1+9+8+8)/4 = 6.5; E x = (2, 0) -> ||E x||² = 4
    assert M.r2(x, x_hat) == pytest.approx(1 - 0.5 / 2.5)
    assert M.r2(x, x) == 1.0
    assert M.r2(x, x.mean(0).expand_as(x)) == pytest.approx(0.0)
    acc = M.R2Accumulator()
    acc.update(x[:1], x_hat[:1])
    acc.update(x[1:], x_hat[1:])
    assert acc.compute() == pytest.approx(M.r2(x, x_hat), abs=1e-12)
    with pytest.raises(ValueError):
        M.R2Accumulator().compute()


def test_r2_legacy_differs_from_r2():
    x = torch.tensor([[1.0, 0.0], [3.0, 0.0], [2.0, 2.0], [2.0, -2.0]])
    x_hat = torch.tensor([[1.0, 0.0], [2.0, 0.0], [2.0, 1.0], [2.0, -2.0]])
    # per-token variance around μ = (2, 0): [1, 1, 4, 4]; errors [0, 1, 1, 0]
    expected = ((1 - 0) + (1 - 1) + (1 - 1 / 4) + (1 - 0)) / 4
    assert M.r2_legacy(x, x_hat) == pytest.approx(expected)
    assert M.r2_legacy(x, x_hat) != pytest.approx(M.r2(x, x_hat))


def test_firing_fractions_and_histogram():
    acts = torch.zeros(10, 4)
    acts[:, 0] = 1.0  # fires on 100%
    acts[0, 1] = 2.0  # 10%: not dense (needs > 10%)
    acts[:2, 2] = 0.5  # 20%
    counts = M.firing_counts(acts)
    assert counts.tolist() == [10, 1, 2, 0]
    assert M.dead_fraction(counts, 10) == 0.25
    assert M.dense_fraction(counts, 10) == 0.5
    h = M.log_density_histogram(counts, 10, bins=2)  # range [-1, 0]: bins [-1, -0.5), [-0.5, 0]
    # log10 frequencies 0, -1, -0.70
    assert h.n_dead == 1 and h.counts.tolist() == [2, 1]
    torch.testing.assert_close(h.edges, torch.tensor([-1.0, -0.5, 0.0], dtype=torch.float64))


def test_relative_activity_counts_snmf_codes_that_are_never_exactly_zero():
    """NNLS codes are small but positive almost everywhere: with active_share (SNMF) a code counts as active only
    above that share of its feature's largest code over all batches (two batches, so the max comes late)."""
    codes = torch.full((20, 3), 1e-3)  # "> 0" everywhere: every feature would be dense
    codes[:2, 0] = 1.0  # feature 0: 2 of 20 tokens clearly active (10%: not dense)
    codes[10:16, 1] = 2.0  # feature 1: 6 of 20 (30%: dense), its max in the second batch
    x = torch.randn(20, 5)
    plain, rel = M.ReconstructionAccumulator(3), M.ReconstructionAccumulator(3, active_share=0.05)
    for acc in (plain, rel):
        for sl in (slice(0, 10), slice(10, 20)):
            acc.update(x[sl], x[sl], codes[sl])
    assert plain.report()["dense_fraction"] == 1.0
    rep = rel.report()
    assert rel.counts.tolist() == [2, 6, 20] and rep["dense_fraction"] == 2 / 3 and rep["dead_fraction"] == 0.0


def test_concept_scores_hand_case():
    # 6 tokens; latent 0 detects concept "a" perfectly, latent 1 is noise, latent 2 detects "b" with one error
    acts = torch.tensor(
        [[2.0, 0.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 3.0], [0.0, 1.0, 2.0], [0.0, 0.0, 0.0], [0.0, 1.0, 1.0]]
    )
    masks = {
        "a": torch.tensor([1, 1, 0, 0, 0, 0]).bool(),
        "b": torch.tensor([0, 0, 1, 1, 1, 0]).bool(),
        "c": torch.tensor([0, 0, 0, 0, 1, 1]).bool(),
    }
    s = M.concept_scores(acts, masks, auroc_threshold=0.8)
    assert s.names == ["a", "b", "c"]
    assert s.best_latent[:2].tolist() == [0, 2]
    assert s.auroc[0] == pytest.approx(1.0)
    # "b" by latent 2: positives scores {3, 2, 0}, negatives {0, 0, 1}: pairs won 3+3+1 (ties 0.5 each) of 9
    assert s.auroc[1] == pytest.approx((3 + 3 + 1) / 9)
    # F1 of latent 2 firing: fires on tokens 2, 3, 5 -> tp 2, predicted 3, positives 3 -> 4/6
    assert s.f1[1] == pytest.approx(2 / 3)
    assert s.f1[0] == pytest.approx(1.0)
    assert s.mean_auroc == pytest.approx(float(s.auroc.mean()))
    assert "b" in s.missed and "a" not in s.missed
    with pytest.raises(ValueError):
        M.concept_scores(acts, {"empty": torch.zeros(6, dtype=torch.bool)})


def test_concept_auroc_matches_pairwise_definition():
    torch.manual_seed(0)
    acts = torch.relu(torch.randn(200, 7)).round(decimals=1)  # many ties
    mask = torch.rand(200) < 0.3
    s = M.concept_scores(acts, {"c": mask}, chunk=3)
    pos, neg = acts[mask], acts[~mask]
    pair = (pos[:, None, :] > neg[None, :, :]).double() + 0.5 * (pos[:, None, :] == neg[None, :, :]).double()
    auroc_F = pair.mean((0, 1))
    assert s.auroc[0].item() == pytest.approx(auroc_F.max().item())
    assert s.best_latent[0].item() == int(auroc_F.argmax())


def test_seed_stability():
    a = torch.eye(4)
    b = torch.stack([torch.tensor([1.0, 0, 0, 0]), torch.tensor([0, 2.0, 0.1, 0]), torch.tensor([0, 0, 1.0, 1.0])])
    # a0 matches b0 (1.0), a1 matches b1 (~0.999), a2/a3 only cos 0.707 > 0.7 with b2
    assert M.seed_stability(a, b) == 1.0
    assert M.seed_stability(a, b, threshold=0.8) == 0.5
    assert M.seed_stability(a, -a) == 0.0


def test_matched_seed_stability_counts_each_partner_once():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(64, 256, generator=g)  # in 256 dims unrelated rows have |cosine| ~0.06, far below 0.7
    perm = torch.randperm(64, generator=g)
    b = 3.0 * a[perm] + 0.01 * torch.randn(64, 256, generator=g)  # the same features, shuffled and rescaled
    m = M.matched_seed_stability(a, b)
    assert m.shared == 1.0 and m.mean_cosine > 0.99
    # each of A's first 32 features twice: every row of `dup` has its feature in `a`, but one to one only one copy
    # of each gets it (the other copy is left with an unrelated latent)
    dup = torch.cat([a[:32], a[:32]])
    assert M.seed_stability(dup, a) == 1.0
    m = M.matched_seed_stability(dup, a)
    assert m.shared == 0.5 and 0.5 < m.mean_cosine < 0.65  # 32 perfect pairs, 32 best-of-unrelated (~0.1)
    with pytest.raises(ValueError, match="up to 8192 latents"):
        M.matched_seed_stability(torch.randn(8193, 2), torch.randn(4, 2))
