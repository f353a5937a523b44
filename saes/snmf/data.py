"""Where SNMF gets activations: MLP outputs (blocks.L.mlp.hook_post) with BOS removed, in a fixed token order, read
in order from the one activation stream (interp.activations.sources) of SAE training and evaluation.

`model_stream` runs a corpus's rows through the model on every pass (only up to layer L), so nothing but the token
ids (4 bytes a token) stays in memory; `cache_stream` reads an activation cache written by `interp cache` (shards
in order, position 0 dropped); `tensor_stream` serves a tensor already in memory. Each gives an
`OrderedActivations`, a `saes.snmf.streaming.ActivationSource` that also exposes, for the kept tokens in stream order,
`tokens`, `doc_ids` and `positions` (and `labels` for the toy world), so a stream index names a token.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import TYPE_CHECKING

import torch
from jaxtyping import Float, Int
from torch import Tensor

from interp.activations.sources import CacheSource, ModelSource, ShardedSource, TensorSource
from interp.corpus import TokenSource
from interp.options import check_memory

if TYPE_CHECKING:
    from transformer_lens import HookedTransformer


def mlp_hook(layer: int) -> str:
    return f"blocks.{layer}.mlp.hook_post"


class OrderedActivations:
    """The first `n_tokens` kept tokens of a source, in order, `batch_size` tokens a batch, with what names each
    token (`tokens`, `doc_ids`, `positions`, `labels`)."""

    def __init__(self, source: ShardedSource, ids: Int[Tensor, " n"], batch_size: int, tokens: Tensor,
                 doc_ids: Tensor, positions: Tensor, labels: Tensor | None):
        self.source, self.ids, self.batch_size, self.d = source, ids, batch_size, source.d_in
        self.hook, self.corpus_description = getattr(source, "hook", ""), source.corpus or {}
        self.n_tokens = len(ids)
        self.tokens, self.doc_ids, self.positions, self.labels = tokens, doc_ids, positions, labels

    def batches(self, start: int = 0) -> Iterator[Float[Tensor, "n d"]]:
        """Batches from batch index `start` on (the same batches every pass)."""
        return self.source.ordered(self.ids, self.batch_size, start)

    def all_acts(self) -> Float[Tensor, "n d"]:
        return torch.cat(list(self.batches()))


TOKEN_BOOKKEEPING_BYTES = 40
"""What model_stream holds per token before the first pass (int64 token, document, position, row ids)."""


def model_stream(model: HookedTransformer, layer: int, n_tokens: int, corpus: TokenSource, batch_size: int = 8192,
                 first_doc: int = 0) -> OrderedActivations:
    """The first `n_tokens` non-BOS tokens of a corpus's rows from `first_doc`, through the model per pass (batches
    of whole rows: batch_size // (n_ctx - 1) rows)."""
    if n_tokens < 1:
        raise ValueError(f"need n_tokens >= 1, got {n_tokens}")
    per_doc = corpus.n_ctx - 1
    n_docs = math.ceil(n_tokens / per_doc)
    # token ids, documents, positions and rows are held per token before any pass: a typo of 10^15 is refused
    check_memory(n_tokens * TOKEN_BOOKKEEPING_BYTES, f"--tokens {n_tokens:,}")
    if corpus.n_rows(first_doc + n_docs) < first_doc + n_docs:
        have = (corpus.n_rows(first_doc + n_docs) - first_doc) * per_doc
        raise ValueError(f"the corpus {corpus.description.get('source')} holds {max(0, have):,} non-BOS tokens, "
                         f"fewer than --tokens {n_tokens:,}: give more text or fewer --tokens")
    docs_per_batch = max(1, batch_size // per_doc)
    source = ModelSource(model, mlp_hook(layer), 0, 0, True, corpus, docs_per_batch, first_row=first_doc,
                         n_rows=n_docs, batch_rows=docs_per_batch)
    rows = corpus.rows(first_doc, n_docs)
    doc_tokens = rows.tokens.long()  # [doc, n_ctx], BOS first
    doc_ids = (torch.arange(n_docs)[:, None] + first_doc).expand(-1, per_doc).reshape(-1)[:n_tokens]
    positions = torch.arange(1, corpus.n_ctx)[None, :].expand(n_docs, -1).reshape(-1)[:n_tokens]
    labels = None if rows.labels is None else \
        rows.labels[:, 1:].reshape(n_docs * per_doc, -1)[:n_tokens]  # [doc, pos, f] -> [tok, f]
    return OrderedActivations(source, source.ordered_ids(n_tokens), docs_per_batch * per_doc,
                              doc_tokens[:, 1:].reshape(-1)[:n_tokens], doc_ids, positions, labels)


def cache_stream(path: str, hook: str, n_tokens: int = 0, batch_size: int = 8192) -> OrderedActivations:
    """Activations of `hook` from an `interp cache` folder, shards in order, BOS (position 0) dropped, first
    `n_tokens` kept tokens (all when 0), re-batched to `batch_size`."""
    source = CacheSource(path, hook, exclude_bos=True)
    kept = int((source.cache.positions() != 0).sum())
    if n_tokens > kept:  # a cache of exactly --tokens holds fewer: the factorisation leaves each row's BOS out
        rows = int((source.cache.positions() == 0).sum())
        raise ValueError(f"the cache {path} holds {kept:,} tokens besides the BOS of each of its {rows:,} rows (BOS "
                         f"positions are left out), fewer than --tokens {n_tokens:,}: give --tokens {kept:,} or "
                         f"less, or cache more tokens")
    ids = source.ordered_ids(n_tokens)
    cache = source.cache
    labels = cache.labels()[ids] if cache.manifest.label_schema is not None else None
    return OrderedActivations(source, ids, batch_size, cache.tokens()[ids].long(), cache.doc_ids()[ids].long(),
                              cache.positions()[ids].long(), labels)


def tensor_stream(acts_ND: Float[Tensor, "n d"], batch_size: int) -> OrderedActivations:
    """An in-memory [n, d] tensor served in order, `batch_size` tokens a batch, in its own dtype (tests, benches)."""
    source = TensorSource(acts_ND, 0, shard_tokens=batch_size)
    source.dtype = None
    ids = torch.arange(len(acts_ND))
    return OrderedActivations(source, ids, batch_size, ids, ids, ids, None)
