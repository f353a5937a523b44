"""Top-activating examples in context, shared by feature pages (interp.pages.features) and neuron pages
(interp.neurons.pages): an example is a global token index of a cache or corpus, shown with the tokens around it
within its own document."""

from __future__ import annotations

import torch
from jaxtyping import Int
from torch import Tensor

CONTEXT = (8, 4)
"""Tokens shown before and after an example's token."""


def context_windows(tokens: Int[Tensor, " n"], doc_ids: Int[Tensor, " n"], index: Int[Tensor, " m"], before: int,
                    after: int) -> Int[Tensor, "m window"]:
    """[m, W] global token indices around each index (-1 outside the token's document or the cache)."""
    offs = torch.arange(-before, after + 1)
    idx = index[:, None] + offs[None]
    ok = (idx >= 0) & (idx < len(tokens)) & (index[:, None] >= 0)
    safe = idx.clamp(0, len(tokens) - 1)
    ok &= doc_ids[safe] == doc_ids[index.clamp(0, len(tokens) - 1)][:, None]
    return torch.where(ok, idx, torch.full_like(idx, -1))
