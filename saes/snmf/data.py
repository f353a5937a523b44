"""Where SNMF gets activations: MLP outputs (blocks.L.mlp.hook_post) with BOS removed, in a fixed token order.

- `ModelSource`: a corpus's rows run through the model on every pass (only up to layer L), so nothing but the
  token ids (4 bytes a token) stays in memory;
- `CacheSource`: an activation cache written by `interp cache` (shards in order, position 0 dropped).

Both are `saes.snmf.streaming.ActivationSource`s and expose, for the kept tokens in stream order, `tokens`,
`doc_ids` and `positions` (and `labels` for the toy world), so a stream index names a token.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch
from jaxtyping import Float, Int
from torch import Tensor

from interp.activations.stream import ModelActivations, require_finite
from interp.corpus import TokenSource


def mlp_hook(layer: int) -> str:
    return f"blocks.{layer}.mlp.hook_post"


class ModelSource:
    """The first `n_tokens` non-BOS tokens of a corpus's rows from `first_doc`, through the model per pass
    (interp.activations.stream.ModelActivations, which runs only up to layer L)."""

    def __init__(self, model, layer: int, n_tokens: int, corpus: TokenSource, batch_size: int = 8192,
                 first_doc: int = 0):
        if n_tokens < 1:
            raise ValueError(f"need n_tokens >= 1, got {n_tokens}")
        self.layer, self.hook, self.d, self.corpus = layer, mlp_hook(layer), model.cfg.d_mlp, corpus
        self.corpus_description = corpus.description
        n_ctx = corpus.n_ctx
        self.per_doc, self.first_doc = n_ctx - 1, first_doc
        self.n_docs = math.ceil(n_tokens / self.per_doc)
        if corpus.n_rows(first_doc + self.n_docs) < first_doc + self.n_docs:
            have = (corpus.n_rows(first_doc + self.n_docs) - first_doc) * self.per_doc
            raise ValueError(f"the corpus {corpus.description.get('source')} holds {max(0, have):,} non-BOS tokens, "
                             f"fewer than --tokens {n_tokens:,}: give more text or fewer --tokens")
        self.n_tokens = n_tokens
        self.docs_per_batch = max(1, batch_size // self.per_doc)
        self.acts = ModelActivations(model, corpus, [self.hook], batch_rows=self.docs_per_batch)
        rows = corpus.rows(first_doc, self.n_docs)
        self.doc_tokens = rows.tokens.long()  # [doc, n_ctx], BOS first
        self.tokens = self.doc_tokens[:, 1:].reshape(-1)[:n_tokens]
        self.doc_ids = (torch.arange(self.n_docs)[:, None] + first_doc).expand(-1, self.per_doc).reshape(-1)[:n_tokens]
        self.positions = torch.arange(1, n_ctx)[None, :].expand(self.n_docs, -1).reshape(-1)[:n_tokens]
        self.labels = None if rows.labels is None else \
            rows.labels[:, 1:].reshape(self.n_docs * self.per_doc, -1)[:n_tokens]  # [doc, pos, f] -> [tok, f]

    def token_batches(self) -> Iterator[Int[Tensor, "batch pos"]]:
        """The documents as model inputs (BOS included), `docs_per_batch` at a time."""
        return iter(self.doc_tokens.split(self.docs_per_batch))

    def batches(self, start: int = 0) -> Iterator[Float[Tensor, "n d"]]:
        seen = start * self.docs_per_batch * self.per_doc
        for i in range(start * self.docs_per_batch, self.n_docs, self.docs_per_batch):
            n = min(self.docs_per_batch, self.n_docs - i)
            acts = self.acts.rows(self.first_doc + i, n).acts[self.hook][:, 1:]  # [doc, pos, d], BOS dropped
            acts = acts.reshape(-1, self.d)[: self.n_tokens - seen]  # [doc * (pos - 1), d]
            seen += len(acts)
            yield require_finite(acts, f"corpus rows {self.first_doc + i}..{self.first_doc + i + n - 1} at {self.hook}")

    def all_acts(self) -> Float[Tensor, "n d"]:
        return torch.cat(list(self.batches()))


class CacheSource:
    """Activations of `hook` from an `interp cache` folder, shards in order, BOS (position 0) dropped, first
    `n_tokens` kept tokens (all when 0), re-batched to `batch_size`."""

    def __init__(self, path: str, hook: str, n_tokens: int = 0, batch_size: int = 8192):
        from interp.activations.reader import ActivationCache

        self.cache, self.hook, self.batch_size = ActivationCache.open(path), hook, batch_size
        self.corpus_description = self.cache.manifest.corpus
        self.d = self.cache.d(hook)
        keep = self.cache.positions() != 0
        self.index = torch.nonzero(keep).squeeze(1)
        if n_tokens:
            if n_tokens > len(self.index):
                raise ValueError(f"{path} holds {len(self.index)} non-BOS tokens, fewer than --tokens {n_tokens}")
            self.index = self.index[:n_tokens]
        self.n_tokens = len(self.index)
        self.tokens = self.cache.tokens()[self.index].long()
        self.doc_ids = self.cache.doc_ids()[self.index].long()
        self.positions = self.cache.positions()[self.index].long()
        self.labels = self.cache.labels()[self.index] if self.cache.manifest.label_schema is not None else None

    def batches(self, start: int = 0) -> Iterator[Float[Tensor, "n d"]]:
        for b0 in range(start * self.batch_size, self.n_tokens, self.batch_size):
            acts = self.cache.get(self.hook, self.index[b0 : b0 + self.batch_size]).float()
            where = f"tokens {b0}..{b0 + len(acts) - 1} of the cache {self.cache.path} at {self.hook}"
            yield require_finite(acts, where)

    def all_acts(self) -> Float[Tensor, "n d"]:
        return torch.cat(list(self.batches()))
