"""Each sparsity measure (interp.sparsity) on constructed tensors with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from interp.sparsity.artifacts import SparsityRun, neuron_sparsity
from interp.sparsity.config import ACTIVITY_LEVELS, SparsityConfig
from interp.sparsity.dormant import AbsSums, dormancy_scores, dormant_shares
from interp.sparsity.hotcold import hot_ranks, power_law_fit, top_share
from interp.sparsity.magnitude import ActivityGrid, threshold_for, token_cett
from interp.sparsity.massive import MassiveStats, ablation_hooks, ratios_to_median
from interp.sparsity.ppl import Evaluation, rise_pct, search, truncation_hooks
from interp.sparsity.zeros import ZeroCounts


def test_zero_and_near_zero_fractions_count_each_neuron():
    z = ZeroCounts(1, 3, near_zero=0.01)
    z.add(0, torch.tensor([[0.0, 0.005, 1.0], [0.0, 2.0, -0.001], [1.0, 0.0, 3.0], [0.0, 0.0, 0.0]]))
    zero, near = z.fractions()
    assert zero[0].tolist() == [0.75, 0.5, 0.25]
    assert near[0].tolist() == [0.75, 0.75, 0.5]


def test_dormancy_is_mean_abs_over_layer_mean():
    s = AbsSums(1, 4)
    s.add(0, torch.tensor([[1.0, -3.0, 0.0, 0.1], [1.0, 3.0, 0.0, -0.1]]))
    scores = dormancy_scores(s.total.numpy() / 2)
    # E|a| = 1, 3, 0, 0.1; layer mean 1.025
    assert scores[0] == pytest.approx([1 / 1.025, 3 / 1.025, 0.0, 0.1 / 1.025])
    shares = dormant_shares(scores, [0.0, 0.025, 0.1])
    assert shares == {"0.0": [0.25], "0.025": [0.25], "0.1": [0.5]}


def test_hot_share_power_law_and_ranks():
    freq = np.array([0.5, 0.1, 0.05, 0.0, 0.35] + [0.0] * 5)
    assert top_share(freq, 0.1) == pytest.approx(0.5)  # the top neuron of 10 carries half of all firings
    assert top_share(freq, 0.2) == pytest.approx(0.85)
    zipf = 0.3 / np.arange(1, 101) ** 1.5
    fit = power_law_fit(np.random.default_rng(0).permutation(zipf))
    assert fit.alpha == pytest.approx(1.5) and fit.r2 == pytest.approx(1.0) and fit.n == 100
    assert power_law_fit(np.exp(-np.arange(200) / 10.0)).r2 < 0.9  # an exponential is no power law
    ranks = hot_ranks(np.array([[0.1, 0.9], [0.5, 0.0]]))
    assert ranks.tolist() == [[2, 0], [1, 3]]


def test_cett_of_orthogonal_contributions_is_the_dropped_norm_share():
    # orthonormal W_out rows: ||Σ_dropped c_i|| = sqrt(Σ_dropped a_i²)
    w = torch.eye(4)
    a = torch.tensor([[1.0, 2.0, 0.0, 4.0]])
    buckets = torch.tensor([[1, 2, 0, 3]])  # the neurons dropped at threshold j are those with bucket <= j
    cett = token_cett(a, buckets, w, 4)
    assert cett[0].tolist() == pytest.approx([0.0, 1 / math.sqrt(21), math.sqrt(5 / 21), 1.0])


def test_activity_grid_matches_brute_force():
    torch.manual_seed(0)
    a = torch.relu(torch.randn(300, 8))
    w = torch.randn(8, 5)
    grid = ActivityGrid(1, 8, cett_tokens=100, stream_tokens=300, activity_cett=0.2)  # every 3rd token sampled
    grid.add(0, a[:150], w.norm(dim=-1), w)
    grid.add(0, a[150:], w.norm(dim=-1), w)
    eps = grid.eps[0]
    assert eps[0] == 0 and len(eps) == len(ACTIVITY_LEVELS) + 1 and bool((eps[1:].diff() >= 0).all())
    m = a.abs() * w.norm(dim=-1)
    cett_of = [float((((a * (m <= e)) @ w).norm(dim=-1) / (a @ w).norm(dim=-1)).mean()) for e in eps]
    # the activity threshold: nearest CETT 0.2 on the first batch (its CETT there by brute force)
    first = [float((((a[:150] * (m[:150] <= e)) @ w).norm(dim=-1) / (a[:150] @ w).norm(dim=-1)).mean())
             for e in eps]
    j = int(grid.act_index[0])
    assert j == int(np.abs(np.array(first) - 0.2).argmin())
    assert torch.equal(grid.active[0], (m > eps[j]).sum(0))  # firing counted over every token
    assert int(grid.cett_n[0]) == 100
    s = slice(None, None, 3)  # the sample's CETT and inactive share at every threshold
    want = [float((((a[s] * (m[s] <= e)) @ w).norm(dim=-1) / (a[s] @ w).norm(dim=-1)).mean()) for e in eps]
    assert grid.cett()[0] == pytest.approx(want, rel=1e-5, abs=1e-7)
    assert grid.sparsity(8)[0] == pytest.approx([float((m[s] <= e).float().mean()) for e in eps])
    assert grid.sparsity(8)[0, 0] == pytest.approx(float((a[s] == 0).float().mean()))
    assert cett_of[0] == 0 and cett_of[-1] > cett_of[1]


def test_threshold_for_interpolates_the_monotone_curve():
    curve, eps = np.array([0.0, 0.1, 0.3]), np.array([0.0, 1.0, 2.0])
    assert threshold_for(0.2, curve, eps, top=10.0) == pytest.approx(1.5)
    assert threshold_for(0.65, curve, eps, top=10.0) == pytest.approx(6.0)  # towards (CETT 1, top)


def test_truncation_hooks_drop_small_contributions_and_count_them():
    counter = [0, 0]
    (name, hook), = truncation_hooks([1.0], torch.tensor([[1.0, 2.0, 0.1]]), counter)
    a = torch.tensor([[[9.0, 9.0, 9.0], [0.5, 0.75, 5.0]]])  # position 0 (BOS) is not counted
    out = hook(a, None)
    assert name == "blocks.0.mlp.hook_post"
    assert out[0, 1].tolist() == [0.0, 0.75, 0.0] and counter == [2, 3]


def test_search_finds_the_cett_of_a_known_perplexity_rise():
    # perplexity rises by 10 * c percent and the sparsity is c: PPL-1% at c = 0.1, PPL-5% at c = 0.5
    def run(c):
        return Evaluation(c, math.log(1 + 0.1 * c) + 2.0, c)

    results, evals = search(run, [1.0, 5.0], steps=8)
    assert [r["p"] for r in results] == [1.0, 5.0]
    assert results[0]["cett"] == pytest.approx(0.1, rel=0.02) and results[0]["sparsity"] == pytest.approx(0.1, rel=0.02)
    assert results[1]["cett"] == pytest.approx(0.5, rel=0.02)
    assert rise_pct(run(0.3).loss, run(0).loss) == pytest.approx(3.0)
    assert evals[0].cett == 0.0 and len(evals) <= 1 + 2 * 8

    never, _ = search(lambda c: Evaluation(c, 2.0, c), [1.0], steps=6)
    assert never[0]["sparsity"] is None and "less than 1.0%" in never[0]["note"]


def test_massive_entries_sinks_and_the_mean_ablation():
    h = torch.ones(2, 5, 8)
    h[0, 0, 3] = 500.0  # 500x the median at row 0, BOS
    h[1, 2, 6] = -2000.0
    r = ratios_to_median(h)
    assert r[0, 0, 3] == 500 and r[1, 2, 6] == 2000
    st = MassiveStats(1, 8, 2, [100.0, 1000.0], top=4, sink_skip=1)
    st.begin_batch()
    pattern = torch.zeros(2, 2, 5, 5)
    pattern[:, 0, :, 0] = 1.0  # head 0 attends only to position 0
    pattern[:, 1, :, 2] = 1.0  # head 1 only to position 2
    st.add_pattern(0, pattern)
    st.add_resid(0, h, torch.arange(10).reshape(2, 5), first_row=10)
    st.end_batch()
    assert st.counts[0].tolist() == [2, 1] and float(st.max_ratio[0]) == 2000
    assert st.entries[0] == {"layer": 0, "dim": 6, "row": 11, "pos": 2, "token": 7, "value": -2000.0, "ratio": 2000.0}
    # site means kept apart for the first token and later ones; a kind with no entry takes the other's
    assert st.site_mean()[0, 0, 3] == 500 and st.site_mean()[0, 1, 6] == -2000 and int(st.site_n[0].sum()) == 2
    assert st.site_mean()[0, 1, 3] == 500 and st.site_mean()[0, 0, 6] == -2000 and st.site_mean()[0, :, 0].eq(0).all()
    bos, massive = st.shares()
    assert bos[0].tolist() == [1.0, 0.0]
    # massive positions: row 0 pos 0 and row 1 pos 2 -> head 0 on row 0 and head 1 on row 1
    assert massive[0].tolist() == [0.5, 0.5]
    means = torch.stack([torch.full((8,), 7.0), torch.full((8,), -3.0)])[None]  # [layer, first / later, dim]
    (name, hook), = ablation_hooks(means, st.site_n, 100.0)
    out = hook(h.clone(), None)
    assert name == "blocks.0.hook_resid_post" and out[0, 0, 3] == 7.0 and out[1, 2, 6] == -3.0
    assert out[0, 1, 3] == 1.0 and torch.equal(out[0, 1:], h[0, 1:])  # entries below the ratio are kept
    (_, zero), = ablation_hooks(means, torch.ones(1, 2, 8, dtype=torch.int64), 100.0, to_zero=True)
    assert zero(h.clone(), None)[0, 0, 3] == 0 and zero(h.clone(), None)[1, 2, 6] == 0


def test_neuron_sparsity_reads_rank_and_dormancy():
    arrays = {"hot_rank": np.array([[2, 0], [1, 3]]), "dormancy": np.array([[1.0, 2.0, ], [0.02, 0.0]]),
              "active_freq": np.array([[0.1, 0.9], [0.5, 0.0]]), "zero_frac": np.zeros((2, 2)),
              "near_zero_frac": np.zeros((2, 2))}
    run = SparsityRun("m", "default", "", "relu", False, 10, {}, None, {"dormant_taus": [0.0, 0.025, 0.1]}, {},
                      arrays)
    n = neuron_sparsity(run, 1, 0)
    assert n.hot_rank == 1 and n.hot_percentile == pytest.approx(0.5) and n.active_freq == 0.5
    assert n.dormant == {"0.0": False, "0.025": True, "0.1": True}
    with pytest.raises(IndexError, match="outside"):
        neuron_sparsity(run, 2, 0)


@pytest.mark.parametrize("bad, msg", [({"ppl": [0.0]}, "must be in \\(0, 100\\)"),
                                      ({"ppl": [100.0]}, "must be in \\(0, 100\\)"),
                                      ({"ppl": [-1.0]}, "must be in \\(0, 100\\)"),
                                      ({"activity_cett": 1.5}, "--activity-cett"),
                                      ({"dormant_taus": [1.0]}, "--dormant-taus"),
                                      ({"massive_ratios": [1.0]}, "--massive-ratios")])
def test_bad_settings_are_one_line_errors(bad, msg):
    with pytest.raises(ValueError, match=msg) as e:
        SparsityConfig.of(**bad)
    assert "\n" not in str(e.value)
