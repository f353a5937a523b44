"""Rank-based AUROC of every neuron for every concept at once (ties get average ranks)."""

from __future__ import annotations

import numpy as np
import torch
from jaxtyping import Bool, Float
from scipy.stats import rankdata
from torch import Tensor


def concept_auroc(acts: Float[Tensor, "n neurons"], mask: Bool[Tensor, "concepts n"]
                  ) -> Float[Tensor, "concepts neurons"]:
    """AUROC of each neuron's activation as a score for each concept mask (Mann-Whitney U / (P * N)).

    AUROC = (sum of the positives' ranks - P(P+1)/2) / (P * N), ranks 1..n over all tokens with ties averaged, so a
    neuron that is exactly 0 on most tokens (ReLU) is scored fairly. One matrix product gives every
    (concept, neuron) pair. A concept with no positives or no negatives gets 0.5.
    """
    n = acts.shape[0]
    if mask.shape[-1] != n:
        raise ValueError(f"mask covers {mask.shape[-1]} tokens, activations {n}")
    ranks = torch.from_numpy(rankdata(acts.float().numpy(), axis=0).astype(np.float64))
    m = mask.to(torch.float64)
    p = m.sum(-1, keepdim=True)
    neg = n - p
    u = m @ ranks - p * (p + 1) / 2
    ok = (p > 0) & (neg > 0)
    return torch.where(ok, u / (p * neg).clamp_min(1), torch.full_like(u, 0.5))
