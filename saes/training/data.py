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

import warnings
from collections import OrderedDict
from collections.abc import Iterator
from itertools import count

import torch
from torch import Tensor

from interp.activations.stream import ModelActivations, hook_width

SEED_MIX = 1_000_003


class NonFiniteError(ValueError):
    """NaN or Inf in the activations or the loss."""


class ShardedSource:
    """Base: a sequence of shards of activations; subclasses define the shards, the batch plan is shared."""

    d_in: int
    window: int = 1
    lru_size: int = 2

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
    """Activations computed on the fly: shard j = toy-world documents [j·D, (j+1)·D) run through the model."""

    def __init__(self, model, hook: str, batch_size: int, data_seed: int, exclude_bos: bool, n_ctx: int,
                 buffer_docs: int):
        from interp.activations.sources import make_source

        super().__init__(batch_size, data_seed, exclude_bos)
        if n_ctx > model.cfg.n_ctx:
            raise ValueError(f"--n-ctx {n_ctx} is longer than the model's context ({model.cfg.n_ctx}); lower it")
        self.hook, self.n_ctx, self.docs = hook, n_ctx, buffer_docs
        self.acts = ModelActivations(model, make_source("toyworld", model, n_ctx, data_seed), [hook])
        self.d_in = self.acts.widths[hook]
        self.shard_tokens = buffer_docs * n_ctx

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

    def load_shard(self, shard: int) -> Tensor:
        return self.acts.rows(shard * self.docs, self.docs).acts[self.hook].reshape(-1, self.d_in)  # [doc * pos, d]

    def describe(self, shard: int) -> str:
        return f"documents {shard * self.docs}..{(shard + 1) * self.docs - 1} of the toy-world corpus (on the fly)"


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
    """The cache source when cfg.cache is set (checked against the model), else the on-the-fly source."""
    if not cfg.cache:
        return ModelSource(model, cfg.hook, batch_size, cfg.data_seed, cfg.exclude_bos, cfg.n_ctx, cfg.buffer_docs)
    src = CacheSource(cfg.cache, cfg.hook, batch_size, cfg.data_seed, cfg.exclude_bos)
    if model is not None:
        width = hook_width(model, cfg.hook)
        if width != src.d_in:
            raise ValueError(f"d_in mismatch: the cache {cfg.cache} holds {cfg.hook} with d={src.d_in}, but "
                             f"{cfg.model}'s {cfg.hook} has d={width}; pass the cache's model ({src.model}) as --model")
        if src.model != cfg.model:
            warnings.warn(f"the cache {cfg.cache} was made with model {src.model!r}, --model is {cfg.model!r}",
                          stacklevel=2)
    return src
