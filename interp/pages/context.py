"""An example's full context, on demand: the pages store each example's token index in the cache and a short window
around it (interp.examples.CONTEXT); a reader who wants the whole passage gets the example's document (up to
`width` tokens around the example) with the unit's activation on every token, recomputed from the cached
activations (one dictionary encode of at most `width` rows)."""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import torch
from jaxtyping import Float, Int

if TYPE_CHECKING:
    from interp.activations.reader import ActivationCache
    from interp.dictionary import Dictionary


class FullContext(NamedTuple):
    """One example's passage: token ids, the feature's activation on each, and where the example sits."""

    tokens: Int[np.ndarray, " m"]
    acts: Float[np.ndarray, " m"]
    centre: int
    clipped: bool
    """Whether the document is longer than what is shown."""


def full_context(cache: ActivationCache, dictionary: Dictionary, hook: str, index: int, feature: int,
                 width: int = 96) -> FullContext:
    """The document of cached token `index`, at most `width` tokens centred on it, with feature `feature`'s code on
    each token."""
    docs = cache.doc_ids()
    if not 0 <= index < len(docs):
        raise IndexError(f"token {index} is not in the cache ({len(docs):,} tokens)")
    same = torch.nonzero(docs == docs[index]).squeeze(1)
    lo, hi = int(same.min()), int(same.max()) + 1
    start = max(lo, min(index - width // 2, hi - width))
    idx = torch.arange(start, min(hi, start + width))
    with torch.no_grad():
        acts = dictionary.encode(cache.get(hook, idx).float())[:, feature].float()
    return FullContext(cache.tokens()[idx].numpy(), acts.numpy(), index - start, (hi - lo) > len(idx))
