"""Activation batches for SAE training: the same global batch for every step number, from a cache or from the model.

Both sources are sequences of *shards* (cache shards, or blocks of `buffer_docs` toy-world documents run through the
model on the fly) addressed by a global token id. The batch plan works on ids only: shards are visited in windows
(a seeded random order per epoch for a cache, in corpus order on the fly), the ids of a window (plus the ids left
over from the previous one) are shuffled with a seed of (data_seed, window number) and cut into global batches.
So batch `step` is a pure function of the data and the seed: a resumed run skips ahead by replaying the plan (no
activations are read), and under torchrun each rank reads only its rows [lo, hi) of each global batch. BOS
positions are left out when asked. Every batch is checked for NaN/Inf, naming the shard it came from.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from itertools import count

import torch
from torch import Tensor

from interp.activations.stream import ModelActivations, NonFiniteError, hook_width
from interp.corpus import TokenSource, open_corpus

SEED_MIX = 1_000_003


class ShardedSource:
    """Base: a sequence of shards of activations; subclasses define the shards, the batch plan is shared."""

    d_in: int
    window: int = 1
    lru_size: int = 2
    corpus: dict | None = None
    """The corpus the activations come from, as artifacts record it (None for activations handed in directly)."""

    def __init__(self, batch_size: int, data_seed: int, exclude_bos: bool):
        self.batch_size, self.data_seed, self.exclude_bos = batch_size, data_seed, exclude_bos
        self._loaded: OrderedDict[int, Tensor] = OrderedDict()
        self._plan: Iterator[Tensor] | None = None
        self._next_step = 0

    # subclass interface
    def windows(self) -> Iterator[list[int]]:
        raise NotImplementedError

    def shard_ids(self, shard: int) -> Tensor:
        """Global ids of the shard's tokens (all positions)."""
        raise NotImplementedError

    def positions(self, ids: Tensor) -> Tensor:
        raise NotImplementedError

    def shard_of(self, ids: Tensor) -> Tensor:
        raise NotImplementedError

    def shard_start(self, shard: int) -> int:
        raise NotImplementedError

    def load_shard(self, shard: int) -> Tensor:
        """Activations [tokens of the shard, d_in] in id order."""
        raise NotImplementedError

    def describe(self, shard: int) -> str:
        raise NotImplementedError

    # shared
    def _valid_ids(self, shard: int) -> Tensor:
        ids = self.shard_ids(shard)
        return ids[self.positions(ids) != 0] if self.exclude_bos else ids

    def plan(self) -> Iterator[Tensor]:
        """Global id tensors [batch_size] of step 0, 1, 2, ... (endless)."""
        carry = torch.empty(0, dtype=torch.int64)
        for w, shards in enumerate(self.windows()):
            gen = torch.Generator().manual_seed(self.data_seed * SEED_MIX + w)
            pool = torch.cat([carry] + [self._valid_ids(s) for s in shards])
            pool = pool[torch.randperm(len(pool), generator=gen)]
            n_full = len(pool) // self.batch_size * self.batch_size
            yield from pool[:n_full].split(self.batch_size)
            carry = pool[n_full:]

    def batch_ids(self, step: int) -> Tensor:
        if self._plan is None or step < self._next_step:
            self._plan, self._next_step = self.plan(), 0
        while self._next_step < step:  # skip ahead (resume): ids only, no activations read
            next(self._plan)
            self._next_step += 1
        self._next_step += 1
        return next(self._plan)

    def _shard(self, shard: int) -> Tensor:
        if shard not in self._loaded:
            self._loaded[shard] = self.load_shard(shard)
            while len(self._loaded) > self.lru_size:
                self._loaded.popitem(last=False)
        self._loaded.move_to_end(shard)
        return self._loaded[shard]

    def gather(self, ids: Tensor) -> Tensor:
        out = torch.empty((len(ids), self.d_in), dtype=torch.float32)
        shard_of = self.shard_of(ids)
        for s in shard_of.unique().tolist():
            sel = (shard_of == s).nonzero().squeeze(1)
            out[sel] = self._shard(s)[ids[sel] - self.shard_start(s)].float()
        return out

    def batch(self, step: int, lo: int = 0, hi: int | None = None) -> Tensor:
        """Rows [lo, hi) of global batch `step` (float32); NonFiniteError names the shard of any NaN/Inf."""
        ids = self.batch_ids(step)[lo:hi]
        x = self.gather(ids)
        finite = torch.isfinite(x).all(-1)
        if not bool(finite.all()):
            bad = sorted(set(self.shard_of(ids[~finite]).tolist()))
            raise NonFiniteError(f"NaN/Inf activations at step {step} in {', '.join(self.describe(s) for s in bad)}")
        return x


class CacheSource(ShardedSource):
    """Activations of one hook from an activation cache (interp.activations.reader)."""

    def __init__(self, path: str, hook: str, batch_size: int, data_seed: int, exclude_bos: bool, window: int = 4):
        from interp.activations.reader import ActivationCache

        super().__init__(batch_size, data_seed, exclude_bos)
        self.cache = ActivationCache.open(path)
        if hook not in self.cache.hooks:
            raise ValueError(f"hook {hook!r} is not in the cache {path}; it holds {', '.join(self.cache.hooks)}. "
                             f"Pass one of those as --hook or cache this hook")
        if self.cache.n_tokens == 0:
            raise ValueError(f"the cache {path} holds no tokens yet")
        self.path, self.hook, self.d_in = path, hook, self.cache.d(hook)
        self.window, self.lru_size = window, 2 * window
        self.offsets = torch.as_tensor(self.cache.offsets, dtype=torch.int64)
        self.corpus = self.cache.manifest.corpus
        self._positions = self.cache.positions().long() if exclude_bos else None

    @property
    def model(self) -> str:
        return self.cache.manifest.model

    def windows(self) -> Iterator[list[int]]:
        n = len(self.cache.shards)
        for epoch in count():
            gen = torch.Generator().manual_seed(self.data_seed * SEED_MIX + 7919 * (epoch + 1))
            order = torch.randperm(n, generator=gen).tolist()
            for w0 in range(0, n, self.window):
                yield order[w0:w0 + self.window]

    def shard_ids(self, shard: int) -> Tensor:
        return torch.arange(int(self.offsets[shard]), int(self.offsets[shard + 1]))

    def positions(self, ids: Tensor) -> Tensor:
        assert self._positions is not None
        return self._positions[ids]

    def shard_of(self, ids: Tensor) -> Tensor:
        return torch.searchsorted(self.offsets, ids, right=True) - 1

    def shard_start(self, shard: int) -> int:
        return int(self.offsets[shard])

    def load_shard(self, shard: int) -> Tensor:
        return self.cache.shard_activations(self.hook, shard)

    def describe(self, shard: int) -> str:
        rec = self.cache.shards[shard]
        return f"shard {rec.index} ({self.cache.path / rec.files[self.hook].path})"


class ModelSource(ShardedSource):
    """Activations computed on the fly: shard j = corpus rows [j·D, (j+1)·D) run through the model."""

    def __init__(self, model, hook: str, batch_size: int, data_seed: int, exclude_bos: bool, corpus: TokenSource,
                 buffer_docs: int):
        super().__init__(batch_size, data_seed, exclude_bos)
        self.hook, self.n_ctx, self.docs, self.rows_source = hook, corpus.n_ctx, buffer_docs, corpus
        self.corpus = corpus.description
        self.acts = ModelActivations(model, corpus, [hook])
        self.d_in = self.acts.widths[hook]
        self.shard_tokens = buffer_docs * self.n_ctx
        if corpus.n_rows(buffer_docs) < buffer_docs:
            raise ValueError(f"the corpus {corpus.description.get('source')} has fewer than --buffer-docs "
                             f"{buffer_docs} rows of {self.n_ctx} tokens: give more text or a smaller --buffer-docs")

    def windows(self) -> Iterator[list[int]]:
        return ([j] for j in count())

    def shard_ids(self, shard: int) -> Tensor:
        return torch.arange(shard * self.shard_tokens, (shard + 1) * self.shard_tokens)

    def positions(self, ids: Tensor) -> Tensor:
        return ids % self.n_ctx

    def shard_of(self, ids: Tensor) -> Tensor:
        return ids // self.shard_tokens

    def shard_start(self, shard: int) -> int:
        return shard * self.shard_tokens

    def first_row(self, shard: int) -> int:
        """Shard j reads rows [j·D, (j+1)·D); a corpus that runs out is read again from its start (epochs)."""
        end = (shard + 1) * self.docs
        have = self.rows_source.n_rows(end)
        return shard * self.docs if have == end else (shard % (have // self.docs)) * self.docs

    def load_shard(self, shard: int) -> Tensor:
        rows = self.acts.rows(self.first_row(shard), self.docs)
        return rows.acts[self.hook].reshape(-1, self.d_in)  # [doc, pos, d] -> [doc * pos, d]

    def describe(self, shard: int) -> str:
        first = self.first_row(shard)
        where = self.corpus.get("source")
        return f"rows {first}..{first + self.docs - 1} of the corpus {where} (on the fly)"


class TensorSource(ShardedSource):
    """Activations already in memory, [n, d], cut into shards of `shard_tokens` (for tests and notebooks)."""

    def __init__(self, acts: Tensor, batch_size: int, data_seed: int = 0, shard_tokens: int = 4096):
        super().__init__(batch_size, data_seed, exclude_bos=False)
        self.acts, self.d_in, self.shard_tokens = acts, acts.shape[-1], shard_tokens
        self.n_shards = max(1, -(-len(acts) // shard_tokens))

    def windows(self) -> Iterator[list[int]]:
        return ([j % self.n_shards] for j in count())

    def shard_ids(self, shard: int) -> Tensor:
        return torch.arange(shard * self.shard_tokens, min(len(self.acts), (shard + 1) * self.shard_tokens))

    def shard_of(self, ids: Tensor) -> Tensor:
        return ids // self.shard_tokens

    def shard_start(self, shard: int) -> int:
        return shard * self.shard_tokens

    def load_shard(self, shard: int) -> Tensor:
        return self.acts[shard * self.shard_tokens:(shard + 1) * self.shard_tokens]

    def describe(self, shard: int) -> str:
        return f"rows {shard * self.shard_tokens}..{min(len(self.acts), (shard + 1) * self.shard_tokens) - 1}"


def make_source(cfg, model, batch_size: int) -> ShardedSource:
    """The cache source when cfg.source.cache is set (its hook width checked against the model), else the model on
    the fly over the training split of cfg.data's corpus."""
    src = cfg.source
    if not src.cache:
        corpus = open_corpus(cfg.data, model, "train", seed=src.data_seed, model_name=cfg.lm.model)
        return ModelSource(model, cfg.hook, batch_size, src.data_seed, src.exclude_bos, corpus, src.buffer_docs)
    cache = CacheSource(src.cache, cfg.hook, batch_size, src.data_seed, src.exclude_bos)
    if model is not None:
        width = hook_width(model, cfg.hook)
        if width != cache.d_in:
            raise ValueError(f"d_in mismatch: the cache {src.cache} holds {cfg.hook} with d={cache.d_in}, but "
                             f"{cfg.lm.model}'s {cfg.hook} has d={width}; pass the cache's model ({cache.model}) as "
                             f"--model")
    return cache
