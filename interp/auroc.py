"""Rank-based AUROC of many scores for many binary concepts at once, and the F1 of "fires" as a detector.

The one AUROC of the workbench: neuron concept detectors (interp.neurons), dictionary ground-truth scores
(saes.eval), feature pages and the steering benchmark all call `auroc`.

AUROC of a score s for a concept mask m is the Mann-Whitney U statistic over P positives and N negatives:
AUROC = (Σ_{i: m_i} rank(s_i) - P(P+1)/2) / (P · N), ranks 1..n over all tokens with ties given their average rank,
so a ReLU neuron that is exactly 0 on most tokens is scored fairly (ties count one half). One matrix product
mask_CN @ ranks_NF gives every (concept, score) pair; scores are processed `chunk` columns at a time to bound memory.
A concept with no positives or no negatives gets 0.5 (chance); `require_both_classes` turns that into an error.
"""

from __future__ import annotations

import torch
from jaxtyping import Bool, Float
from torch import Tensor


def average_ranks(scores_NF: Float[Tensor, "n f"]) -> Float[Tensor, "f n"]:
    """1-based ranks of every column over its n rows, ties averaged (float64), transposed to [f, n]."""
    col_FN = scores_NF.T.double().contiguous()
    sorted_FN = col_FN.sort(dim=-1).values
    below = torch.searchsorted(sorted_FN, col_FN, right=False)  # rows strictly smaller
    upto = torch.searchsorted(sorted_FN, col_FN, right=True)  # rows smaller or equal
    return (below + upto + 1).double() / 2


def require_both_classes(masks_CN: Bool[Tensor, "c n"], what: str = "every concept") -> None:
    """Raise when a concept has no positive or no negative token (its AUROC would be undefined)."""
    pos_C = masks_CN.sum(-1)
    if bool(((pos_C == 0) | (pos_C == masks_CN.shape[-1])).any()):
        raise ValueError(f"{what} needs at least one positive and one negative token")


def auroc(scores_NF: Float[Tensor, "n f"], masks_CN: Bool[Tensor, "c n"], chunk: int = 1024
          ) -> Float[Tensor, "c f"]:
    """AUROC (float64) of every score column as a detector of every concept mask row (see module doc)."""
    n = scores_NF.shape[0]
    if masks_CN.shape[-1] != n:
        raise ValueError(f"the concept masks cover {masks_CN.shape[-1]} tokens, the scores {n}")
    m_CN = masks_CN.to(torch.float64)
    pos_C = m_CN.sum(-1, keepdim=True)
    neg_C = n - pos_C
    parts = []
    for f0 in range(0, scores_NF.shape[1], chunk):
        ranks_FN = average_ranks(scores_NF[:, f0:f0 + chunk])
        u_CF = m_CN @ ranks_FN.T - pos_C * (pos_C + 1) / 2
        parts.append(u_CF / (pos_C * neg_C).clamp_min(1))
    out = torch.cat(parts, dim=1) if parts else torch.empty(masks_CN.shape[0], 0, dtype=torch.float64)
    defined = (pos_C > 0) & (neg_C > 0)
    return torch.where(defined, out, torch.full_like(out, 0.5))


def fire_f1(acts_CN: Float[Tensor, "c n"], masks_CN: Bool[Tensor, "c n"]) -> Float[Tensor, " c"]:
    """F1 (float64) of "activation > 0" as a detector of each concept, one activation row per concept."""
    fires_CN = acts_CN > 0
    tp_C = (fires_CN & masks_CN).sum(-1).double()
    return 2 * tp_C / (fires_CN.sum(-1) + masks_CN.sum(-1)).double().clamp_min(1)
