"""interp.auroc: the one AUROC (rank-based, ties averaged) and F1 used by neurons, dictionaries and steering."""

import pytest
import torch

from interp.auroc import auroc, fire_f1, require_both_classes


def test_rank_auroc_with_ties_matches_pairwise_counting():
    g = torch.Generator().manual_seed(0)
    acts = torch.randint(0, 4, (200, 3), generator=g).float()  # many ties, like ReLU zeros
    mask = torch.rand(2, 200, generator=g) < 0.3
    au = auroc(acts, mask).numpy()
    for c in range(2):
        for n in range(3):
            p, q = acts[mask[c], n].numpy(), acts[~mask[c], n].numpy()
            want = ((p[:, None] > q[None, :]).mean() + 0.5 * (p[:, None] == q[None, :]).mean())
            assert au[c, n] == pytest.approx(want, abs=1e-12)


def test_auroc_by_hand_and_chunking_changes_nothing():
    scores = torch.tensor([[0.0, 3.0, 1.0], [1.0, 2.0, 1.0], [2.0, 1.0, 1.0], [3.0, 0.0, 1.0]])
    mask = torch.tensor([[False, False, True, True]])
    assert auroc(scores, mask).tolist() == [[1.0, 0.0, 0.5]]
    torch.manual_seed(0)
    acts = torch.relu(torch.randn(100, 7)).round(decimals=1)
    m = torch.rand(3, 100) < 0.3
    assert torch.equal(auroc(acts, m, chunk=2), auroc(acts, m))


def test_degenerate_concepts_score_chance_or_raise_when_asked():
    acts = torch.randn(6, 2)
    masks = torch.stack([torch.zeros(6, dtype=torch.bool), torch.ones(6, dtype=torch.bool)])
    assert auroc(acts, masks).tolist() == [[0.5, 0.5], [0.5, 0.5]]
    with pytest.raises(ValueError, match="positive and one negative"):
        require_both_classes(masks)
    with pytest.raises(ValueError, match="cover 5 tokens, the scores 6"):
        auroc(acts, masks[:, :5])


def test_fire_f1():
    acts = torch.tensor([[1.0, 0.0, 2.0, 0.0]])
    mask = torch.tensor([[True, True, False, False]])
    # tp 1, fired 2, positives 2 -> 2 * 1 / 4
    assert fire_f1(acts, mask).tolist() == [0.5]
