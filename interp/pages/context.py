"""An example's full context, on demand: the pages store each example's token index and a short window around it
(interp.examples.CONTEXT); a reader who wants the whole passage gets the example's document (up to `width` tokens
around the example) with the unit's activation on every token, recomputed: a feature's from the cached activations
(one dictionary encode of at most `width` rows, `full_context`), a neuron's by one forward pass of its model over
the example's row, which neuron pages keep (`neuron_context`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import torch
from jaxtyping import Float, Int
from torch import Tensor

if TYPE_CHECKING:
    from transformer_lens import HookedTransformer

    from interp.activations.reader import ActivationCache
    from interp.dictionary import Dictionary


class FullContext(NamedTuple):
    """One example's passage: token ids, the feature's activation on each, and where the example sits."""

    tokens: Int[np.ndarray, " m"]
    acts: Float[np.ndarray, " m"]
    centre: int
    clipped: bool
    """Whether the document is longer than what is shown."""


def passage(docs: Int[Tensor, " n"], index: int, width: int) -> tuple[Int[Tensor, " m"], bool]:
    """Global token indices of at most `width` tokens of token `index`'s document centred on it, and whether the
    document is longer."""
    if not 0 <= index < len(docs):
        raise IndexError(f"token {index} is not among the {len(docs):,} tokens the pages were built on")
    same = torch.nonzero(docs == docs[index]).squeeze(1)
    lo, hi = int(same.min()), int(same.max()) + 1
    start = max(lo, min(index - width // 2, hi - width))
    idx = torch.arange(start, min(hi, start + width))
    return idx, (hi - lo) > len(idx)


def full_context(cache: ActivationCache, dictionary: Dictionary, hook: str, index: int, feature: int,
                 width: int = 96) -> FullContext:
    """The document of cached token `index`, at most `width` tokens centred on it, with feature `feature`'s code on
    each token."""
    idx, clipped = passage(cache.doc_ids(), index, width)
    with torch.no_grad():
        acts = dictionary.encode(cache.get(hook, idx).float())[:, feature].float()
    return FullContext(cache.tokens()[idx].numpy(), acts.numpy(), index - int(idx[0]), clipped)


def neuron_context(model: HookedTransformer, rows: Int[np.ndarray, "doc pos"], index: int, layer: int, neuron: int,
                   width: int = 96) -> FullContext:
    """The row of token `index` (of `rows` flattened, as neuron pages index their examples), at most `width` tokens
    centred on it, with neuron (layer, neuron)'s post-activation on each token (one forward pass over the row)."""
    from interp.activations.stream import hook_activations

    n_docs, n_pos = rows.shape
    idx, clipped = passage(torch.arange(n_docs).repeat_interleave(n_pos), index, width)
    row = torch.as_tensor(rows[index // n_pos], dtype=torch.long)[None]
    acts = hook_activations(model, f"blocks.{layer}.mlp.hook_post", row.to(model.cfg.device))[0, :, neuron]
    pos = idx % n_pos
    return FullContext(row[0, pos].numpy(), acts[pos].numpy(), index - int(idx[0]), clipped)
