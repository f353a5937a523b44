"""Feature-page building blocks on synthetic data: quantile bins, context windows, neighbours."""

from __future__ import annotations

import torch

from interp.examples import context_windows
from interp.pages.builder import QUANTILES, quantile_examples
from interp.pages.features import neighbours


def test_quantile_examples_sit_in_their_bins():
    gen = torch.Generator().manual_seed(0)
    col = torch.relu(torch.randn(5000, generator=gen)) ** 2
    edges, idx = quantile_examples(col, 6, torch.Generator().manual_seed(1))
    assert edges.shape == (len(QUANTILES),) and (edges.diff() >= 0).all()
    for b in range(len(QUANTILES) - 1):
        vals = col[idx[b][idx[b] >= 0]]
        assert len(vals) == 6
        assert ((vals >= edges[b]) & (vals <= edges[b + 1])).all()
    top = col[idx[-1]]
    assert torch.equal(top, col.topk(6).values)  # the last bin holds the top examples


def test_quantile_examples_of_a_dead_feature_are_empty():
    edges, idx = quantile_examples(torch.zeros(100), 3, torch.Generator())
    assert (idx == -1).all() and (edges == 0).all()


def test_context_windows_stop_at_document_boundaries():
    doc_ids = torch.tensor([0, 0, 0, 1, 1, 1])
    ctx = context_windows(torch.arange(6), doc_ids, torch.tensor([1, 3]), 2, 1)
    assert ctx.tolist() == [[-1, 0, 1, 2], [-1, -1, 3, 4]]


def test_neighbours_leave_out_the_feature_itself():
    d = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]])
    ids, cos = neighbours(d, 2)
    assert ids[0].tolist() == [1, 2] and cos[0, 0] > 0.99 and abs(cos[0, 1]) < 1e-6
