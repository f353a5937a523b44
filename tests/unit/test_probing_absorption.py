"""k-sparse probing and feature absorption on constructed data whose answer is known."""

from __future__ import annotations

import pytest
import torch

from saes.eval.absorption import absorption_report, hierarchy_parents, parent_probes
from saes.eval.probing import (
    MIN_POSITIVES,
    TooFewTokens,
    concept_rows,
    fit_logistic,
    held_out_tokens,
    probe_rows,
    sparse_probing,
)


@pytest.mark.parametrize("width", [1, 80])  # Newton's method, L-BFGS
def test_logistic_fit_recovers_a_known_slope(width):
    torch.manual_seed(0)
    n = 20_000
    X = torch.randn(n, width) * 3 + 1
    y = torch.rand(n) < torch.sigmoid(2 * (X[:, 0] - 1) - 0.5)  # raw slope 2 on feature 0, bias -0.5 at its mean
    probe = fit_logistic(X[None], y[None], torch.ones(1, n), l2=0.0)
    raw = probe.weight[0] / probe.scale[0]
    assert raw[0].item() == pytest.approx(2.0, abs=0.15)
    assert raw[1:].abs().max().item() < 0.1 if width > 1 else True
    assert (probe.bias[0] - (probe.weight[0] * probe.mean[0] / probe.scale[0]).sum()).item() == \
        pytest.approx(-2.5, abs=0.2)  # the intercept in raw units: 2·(x - 1) - 0.5 = 2x - 2.5
    torch.testing.assert_close(probe.direction()[0, 0].abs(), torch.tensor(1.0, dtype=torch.float64), atol=0.02,
                               rtol=0)


def test_sparse_probe_finds_the_one_latent_that_is_the_concept():
    torch.manual_seed(1)
    n = 3000
    concept = torch.rand(n) < 0.1
    codes = torch.relu(torch.randn(n, 50) - 1.0)  # noise latents
    codes[:, 17] = concept.float() * (1 + torch.rand(n))  # the concept's own latent
    neurons = torch.randn(n, 20)  # neurons that know nothing
    test = held_out_tokens(n, 30)
    masks = {"kind:x": concept, "kind:rare": torch.arange(n) < 12}
    rows, skipped = concept_rows(masks, test)
    assert list(rows) == ["kind:x"] and "kind:rare has" in skipped["kind:rare"]
    ours = sparse_probing(codes, masks, rows, test)["kind:x"]
    base = sparse_probing(neurons, masks, rows, test)["kind:x"]
    assert ours["units"][0] == 17
    assert ours["1"]["f1"] == 1.0 and ours["1"]["accuracy"] == 1.0
    assert base["1"]["f1"] < 0.8 and base["10"]["f1"] < 0.8  # chance-level on balanced splits


def test_too_few_tokens_is_a_clear_error_with_the_counts():
    n = 300
    mask = torch.zeros(n, dtype=torch.bool)
    mask[:4] = True  # all in the first documents: training split
    with pytest.raises(TooFewTokens, match=rf"colour:red has 4 training and 0 held-out tokens .*>= {MIN_POSITIVES}"):
        probe_rows(mask, held_out_tokens(n, 10), "colour:red")


def _absorbing_world(absorbed: bool, n_children: int = 40, per_child: int = 10):
    """A parent concept with n_children child words; latent 0 writes the parent's direction p. When `absorbed`,
    latent 0 is silent on child 0, whose own latent 1 (written along p + q) carries the parent direction instead."""
    torch.manual_seed(2)
    d = 16
    p = torch.zeros(d)
    p[0] = 1.0
    q = torch.zeros(d)
    q[1] = 1.0
    ids = torch.cat([torch.arange(n_children).repeat_interleave(per_child),  # the parent's words 0..n-1
                     100 + torch.arange(20).repeat_interleave(n_children * per_child // 20)])  # other words
    ids = ids[torch.randperm(len(ids))]
    parent = ids < 100
    child0 = ids == 0
    x = 3 * parent[:, None] * p + 2 * child0[:, None] * q + 0.3 * torch.randn(len(ids), d)
    directions = torch.stack([p, (p + q) / 2**0.5, torch.randn(d) / d**0.5])
    codes = torch.zeros(len(ids), 3)
    codes[:, 0] = 3.0 * parent
    codes[:, 2] = torch.relu(torch.randn(len(ids)))  # an unrelated latent
    if absorbed:
        codes[child0, 0] = 0.0
        codes[child0, 1] = 3.0 * 2**0.5
    return x, codes, directions, ids, {"kind:parent": parent, "kind:other": ~parent}


def _absorption(absorbed: bool) -> dict:
    x, codes, directions, ids, masks = _absorbing_world(absorbed)
    test = held_out_tokens(len(ids), 25)
    rows, skipped = concept_rows(masks, test)
    parents, left_out = parent_probes(x, masks, ids, rows, skipped, test)
    return absorption_report(x, codes, directions, torch.zeros(x.shape[1]), ids, masks, rows, test, parents, left_out,
                             token_str=lambda i: f"w{i}")


def test_absorption_counts_the_absorbed_child_and_nothing_else():
    report = _absorption(absorbed=True)
    res = report["parents"]["kind:parent"]
    assert res["main_latents"] == [0] and res["probe_f1"] > 0.95
    assert set(res["absorbed_children"]) == {"w0"} and res["absorbing_latents"] == {"1": res["absorbed"]}
    assert res["absorbed"] > 0 and res["rate"] == res["absorbed"] / res["probe_true_positives"]
    assert res["rate"] == pytest.approx(1 / 40, abs=0.02)  # one child of 40 is absorbed
    assert report["parents"]["kind:other"]["absorbed"] == 0  # the other words' concept is a parent too, unabsorbed
    assert report["mean_rate"] == pytest.approx(res["rate"] / 2) and report["thresholds"]["probe_cos"] == 0.025
    clean = _absorption(absorbed=False)["parents"]["kind:parent"]
    assert clean["absorbed"] == 0 and clean["rate"] == 0.0


def test_hierarchy_parents_are_word_properties():
    ids = torch.tensor([1, 1, 2, 2, 3, 3, 4, 4])
    word_level = torch.tensor([1, 1, 1, 1, 0, 0, 0, 0], dtype=torch.bool)  # words 1, 2 always carry it
    by_context = torch.tensor([1, 0, 1, 0, 1, 0, 1, 0], dtype=torch.bool)  # every word on half its occurrences
    parents = hierarchy_parents({"a:b": word_level, "c:d": by_context}, ids)
    assert list(parents) == ["a:b"] and parents["a:b"].tolist() == [1, 2]


def test_without_labels_both_keys_say_why():
    from saes import build_sae, sae_config
    from saes.eval.probe_report import NO_LABELS, probe_reports

    sae = build_sae(sae_config("topk", d_in=4, d_sae=8, k=2))
    out = probe_reports(sae, torch.zeros(0, 8), None)
    assert out == {"sparse_probing": {"absent": NO_LABELS}, "absorption": {"absent": NO_LABELS}}
    assert "--corpus toyworld" in NO_LABELS
