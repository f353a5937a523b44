"""The one activation stream of dictionary training and evaluation (SAE training, SNMF, eval.json): one hook's
activations, from an activation cache, from a model run over a corpus, or from memory, addressed by global token id.

A source is a sequence of *shards* (cache shards; blocks of corpus rows run through the model when first needed;
slices of a tensor) and knows each token's id, shard and position, so batches are gathered by id from a small LRU of
loaded shards. Two walks over the same shards:

- `batch(step)`, the shuffled plan of SAE training: shards are visited in windows (a seeded random order per epoch
  for a cache, in corpus order on the fly), the ids of a window (plus the ids left over from the previous one) are
  shuffled with a seed of (data_seed, window number) and cut into global batches. So batch `step` is a pure function
  of the data and the seed: a resumed run skips ahead by replaying the plan (no activations are read), and under
  torchrun each rank reads only its rows [lo, hi) of each global batch.
- `ordered_ids(n_tokens)` + `ordered(ids, batch_size)`: the tokens in corpus / cache order (SNMF, evaluation).

BOS positions are left out when asked (`exclude_bos`). A dictionary that reads one hook and writes another (a
transcoder) trains on `pair(step)`: the batch's activations at `hook` and at `target_hook` for the same tokens; for an
SAE the target is its input. Every batch is checked for NaN/Inf, naming where it came from.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from itertools import count
from typing import NamedTuple

import torch
from jaxtyping import Float, Int
from torch import Tensor

from .stream import ModelActivations, NonFiniteError

SEED_MIX = 1_000_003


class Pair(NamedTuple):
    """Activations of the same tokens at a dictionary's input hook and at the hook it reconstructs."""

    input: Float[Tensor, "n d_in"]
    target: Float[Tensor, "n d_out"]


class ShardedSource:
    """Base: a sequence of shards of activations; subclasses define the shards, the walks are shared."""

    d_in: int
    window: int = 1
    lru_size: int = 2
    corpus: dict | None = None
    """The corpus the activations come from, as artifacts record it (None for activations handed in directly)."""
    target_hook: str = ""
    """The hook `pair` reads targets from; "" means the input hook (an SAE's target is its input)."""
    n_shards: int | None = None
    """How many shards there are (None: endless, a corpus read again from its start)."""
    dtype: torch.dtype | None = torch.float32
    """The dtype batches are served in (None: as stored)."""

    def __init__(self, batch_size: int = 0, data_seed: int = 0, exclude_bos: bool = True):
        self.batch_size, self.data_seed, self.exclude_bos = batch_size, data_seed, exclude_bos
        self._loaded: OrderedDict[tuple[int, bool], Tensor] = OrderedDict()
        self._plan: Iterator[Tensor] | None = None
        self._next_step = 0

    # subclass interface
    def windows(self) -> Iterator[list[int]]:
        raise NotImplementedError

    def shard_ids(self, shard: int) -> Int[Tensor, " tokens"]:
        """Global ids of the shard's tokens (all positions)."""
        raise NotImplementedError

    def positions(self, ids: Int[Tensor, " n"]) -> Int[Tensor, " n"]:
        raise NotImplementedError

    def shard_of(self, ids: Int[Tensor, " n"]) -> Int[Tensor, " n"]:
        raise NotImplementedError

    def shard_start(self, shard: int) -> int:
        raise NotImplementedError

    def load_shard(self, shard: int, target: bool = False) -> Float[Tensor, "tokens d"]:
        """Activations [tokens of the shard, d] in id order, at the input hook (or the target hook)."""
        raise NotImplementedError

    def describe(self, shard: int) -> str:
        raise NotImplementedError

    # shared
    def _valid_ids(self, shard: int) -> Tensor:
        ids = self.shard_ids(shard)
        return ids[self.positions(ids) != 0] if self.exclude_bos else ids

    def plan(self) -> Iterator[Int[Tensor, " batch"]]:
        """Global id tensors [batch_size] of step 0, 1, 2, ... (endless)."""
        carry = torch.empty(0, dtype=torch.int64)
        for w, shards in enumerate(self.windows()):
            gen = torch.Generator().manual_seed(self.data_seed * SEED_MIX + w)
            pool = torch.cat([carry] + [self._valid_ids(s) for s in shards])
            pool = pool[torch.randperm(len(pool), generator=gen)]
            n_full = len(pool) // self.batch_size * self.batch_size
            yield from pool[:n_full].split(self.batch_size)
            carry = pool[n_full:]

    def batch_ids(self, step: int) -> Int[Tensor, " batch"]:
        if self._plan is None or step < self._next_step:
            self._plan, self._next_step = self.plan(), 0
        while self._next_step < step:  # skip ahead (resume): ids only, no activations read
            next(self._plan)
            self._next_step += 1
        self._next_step += 1
        return next(self._plan)

    def _shard(self, shard: int, target: bool = False) -> Tensor:
        key = (shard, target and bool(self.target_hook))
        if key not in self._loaded:
            self._loaded[key] = self.load_shard(shard, key[1])
            while len(self._loaded) > self.lru_size * (2 if self.target_hook else 1):
                self._loaded.popitem(last=False)
        self._loaded.move_to_end(key)
        return self._loaded[key]

    def gather(self, ids: Int[Tensor, " n"], target: bool = False) -> Float[Tensor, "n d"]:
        """The activations of tokens `ids` (in `dtype`), at the input hook or the target hook."""
        parts: list[tuple[Tensor, Tensor]] = []
        shard_of = self.shard_of(ids)
        for s in shard_of.unique().tolist():
            sel = (shard_of == s).nonzero().squeeze(1)
            x = self._shard(s, target)[ids[sel] - self.shard_start(s)]
            parts.append((sel, x.to(self.dtype) if self.dtype is not None else x))
        width = parts[0][1].shape[-1] if parts else self.d_in
        out = torch.empty((len(ids), width), dtype=parts[0][1].dtype if parts else torch.float32)
        for sel, x in parts:
            out[sel] = x
        return out

    def _checked(self, ids: Tensor, x: Tensor, where: str) -> Tensor:
        finite = torch.isfinite(x).all(-1)
        if not bool(finite.all()):
            bad = sorted(set(self.shard_of(ids[~finite]).tolist()))
            raise NonFiniteError(f"NaN/Inf activations {where} in {', '.join(self.describe(s) for s in bad)}")
        return x

    def batch(self, step: int, lo: int = 0, hi: int | None = None) -> Float[Tensor, "rows d_in"]:
        """Rows [lo, hi) of global batch `step` (float32); NonFiniteError names the shard of any NaN/Inf."""
        ids = self.batch_ids(step)[lo:hi]
        return self._checked(ids, self.gather(ids), f"at step {step}")

    def pair(self, step: int, lo: int = 0, hi: int | None = None) -> Pair:
        """Rows [lo, hi) of global batch `step` at the input hook and at the target hook (the same tensor when
        there is no target hook)."""
        ids = self.batch_ids(step)[lo:hi]
        x = self._checked(ids, self.gather(ids), f"at step {step}")
        if not self.target_hook:
            return Pair(x, x)
        return Pair(x, self._checked(ids, self.gather(ids, target=True), f"at step {step} (target)"))

    def ordered_ids(self, n_tokens: int = 0) -> Int[Tensor, " n"]:
        """Global ids of the first `n_tokens` tokens (all when 0, for a source with an end) in shard order, BOS
        positions left out when exclude_bos."""
        if not n_tokens and self.n_shards is None:
            raise ValueError("an endless source needs n_tokens > 0 to be read in order")
        parts, have = [], 0
        for shard in range(self.n_shards) if self.n_shards is not None else count():
            parts.append(self._valid_ids(shard))
            have += len(parts[-1])
            if n_tokens and have >= n_tokens:
                break
        ids = torch.cat(parts) if parts else torch.empty(0, dtype=torch.int64)
        return ids[:n_tokens] if n_tokens else ids

    def ordered(self, ids: Int[Tensor, " n"], batch_size: int, start: int = 0) -> Iterator[Float[Tensor, "batch d"]]:
        """The activations of `ids` (e.g. `ordered_ids`), `batch_size` tokens at a time, from batch `start` on."""
        for b0 in range(start * batch_size, len(ids), batch_size):
            chunk = ids[b0:b0 + batch_size]
            yield self._checked(chunk, self.gather(chunk), f"in tokens {b0}..{b0 + len(chunk) - 1}")


class CacheSource(ShardedSource):
    """Activations of one hook (and optionally a target hook) from an activation cache (`interp cache`)."""

    def __init__(self, path: str, hook: str, batch_size: int = 0, data_seed: int = 0, exclude_bos: bool = True,
                 window: int = 4, target_hook: str = ""):
        from .reader import ActivationCache

        super().__init__(batch_size, data_seed, exclude_bos)
        self.cache = ActivationCache.open(path)
        for h in (hook, target_hook or hook):
            if h not in self.cache.hooks:
                raise ValueError(f"hook {h!r} is not in the cache {path}; it holds {', '.join(self.cache.hooks)}. "
                                 f"Pass one of those as --hook or cache this hook")
        if self.cache.n_tokens == 0:
            raise ValueError(f"the cache {path} holds no tokens yet")
        self.path, self.hook, self.target_hook, self.d_in = path, hook, target_hook, self.cache.d(hook)
        self.window, self.lru_size, self.n_shards = window, 2 * window, len(self.cache.shards)
        self.offsets = torch.as_tensor(self.cache.offsets, dtype=torch.int64)
        self.corpus = self.cache.manifest.corpus
        self._positions = self.cache.positions().long()

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

    def shard_ids(self, shard: int) -> Int[Tensor, " tokens"]:
        return torch.arange(int(self.offsets[shard]), int(self.offsets[shard + 1]))

    def positions(self, ids: Int[Tensor, " n"]) -> Int[Tensor, " n"]:
        return self._positions[ids]

    def shard_of(self, ids: Int[Tensor, " n"]) -> Int[Tensor, " n"]:
        return torch.searchsorted(self.offsets, ids, right=True) - 1

    def shard_start(self, shard: int) -> int:
        return int(self.offsets[shard])

    def load_shard(self, shard: int, target: bool = False) -> Float[Tensor, "tokens d"]:
        return self.cache.shard_activations(self.target_hook if target else self.hook, shard)

    def describe(self, shard: int) -> str:
        rec = self.cache.shards[shard]
        return f"shard {rec.index} ({self.cache.path / rec.files[self.hook].path})"


class ModelSource(ShardedSource):
    """Activations computed on the fly: shard j = corpus rows [first_row + j·D, first_row + (j+1)·D) run through the
    model. Without `n_rows` the source is endless (a corpus that runs out is read again from its start); with it,
    the shards cover rows [first_row, first_row + n_rows) and the last one may be shorter."""

    def __init__(self, model, hook: str, batch_size: int, data_seed: int, exclude_bos: bool, corpus,
                 buffer_docs: int, target_hook: str = "", first_row: int = 0, n_rows: int | None = None,
                 batch_rows: int = 32):
        super().__init__(batch_size, data_seed, exclude_bos)
        self.hook, self.target_hook, self.n_ctx, self.docs, self.rows_source = hook, target_hook, corpus.n_ctx, \
            buffer_docs, corpus
        self.first, self.n_rows = first_row, n_rows
        self.corpus = corpus.description
        self.acts = ModelActivations(model, corpus, [hook] + ([target_hook] if target_hook else []), batch_rows)
        self.d_in = self.acts.widths[hook]
        self.shard_tokens = buffer_docs * self.n_ctx
        if n_rows is not None:
            self.n_shards = -(-n_rows // buffer_docs)
        elif corpus.n_rows(buffer_docs) < buffer_docs:
            raise ValueError(f"the corpus {corpus.description.get('source')} has fewer than --buffer-docs "
                             f"{buffer_docs} rows of {self.n_ctx} tokens: give more text or a smaller --buffer-docs")

    def windows(self) -> Iterator[list[int]]:
        return ([j] for j in count())

    def _n_docs(self, shard: int) -> int:
        return self.docs if self.n_rows is None else min(self.docs, self.n_rows - shard * self.docs)

    def shard_ids(self, shard: int) -> Int[Tensor, " tokens"]:
        return torch.arange(shard * self.shard_tokens, shard * self.shard_tokens + self._n_docs(shard) * self.n_ctx)

    def positions(self, ids: Int[Tensor, " n"]) -> Int[Tensor, " n"]:
        return ids % self.n_ctx

    def shard_of(self, ids: Int[Tensor, " n"]) -> Int[Tensor, " n"]:
        return ids // self.shard_tokens

    def shard_start(self, shard: int) -> int:
        return shard * self.shard_tokens

    def first_row(self, shard: int) -> int:
        """Shard j reads rows [j·D, (j+1)·D) (after first_row); an endless source whose corpus runs out reads it
        again from its start (epochs)."""
        if self.n_rows is not None:
            return self.first + shard * self.docs
        end = (shard + 1) * self.docs
        have = self.rows_source.n_rows(end)
        return shard * self.docs if have == end else (shard % (have // self.docs)) * self.docs

    def load_shard(self, shard: int, target: bool = False) -> Float[Tensor, "tokens d"]:
        rows = self.acts.rows(self.first_row(shard), self._n_docs(shard))
        acts = rows.acts[self.target_hook if target else self.hook]
        return acts.reshape(-1, acts.shape[-1])  # [doc, pos, d] -> [doc * pos, d]

    def describe(self, shard: int) -> str:
        first = self.first_row(shard)
        where = self.corpus.get("source")
        return f"rows {first}..{first + self._n_docs(shard) - 1} of the corpus {where} (on the fly) at {self.hook}"


class TensorSource(ShardedSource):
    """Activations already in memory, [n, d], cut into shards of `shard_tokens` (for tests and notebooks); `target`
    (same rows) for pairs."""

    def __init__(self, acts: Tensor, batch_size: int, data_seed: int = 0, shard_tokens: int = 4096,
                 target: Tensor | None = None):
        super().__init__(batch_size, data_seed, exclude_bos=False)
        self.acts, self.target, self.d_in, self.shard_tokens = acts, target, acts.shape[-1], shard_tokens
        self.target_hook = "target" if target is not None else ""
        self.n_shards = max(1, -(-len(acts) // shard_tokens))

    def windows(self) -> Iterator[list[int]]:
        return ([j % self.n_shards] for j in count())

    def shard_ids(self, shard: int) -> Int[Tensor, " tokens"]:
        return torch.arange(shard * self.shard_tokens, min(len(self.acts), (shard + 1) * self.shard_tokens))

    def shard_of(self, ids: Int[Tensor, " n"]) -> Int[Tensor, " n"]:
        return ids // self.shard_tokens

    def shard_start(self, shard: int) -> int:
        return shard * self.shard_tokens

    def load_shard(self, shard: int, target: bool = False) -> Float[Tensor, "tokens d"]:
        acts = self.target if target and self.target is not None else self.acts
        return acts[shard * self.shard_tokens:(shard + 1) * self.shard_tokens]

    def describe(self, shard: int) -> str:
        return f"rows {shard * self.shard_tokens}..{min(len(self.acts), (shard + 1) * self.shard_tokens) - 1}"


class RowsSource:
    """Token rows already in memory as a corpus (interp.corpus.TokenSource), e.g. an evaluation's rows."""

    def __init__(self, tokens: Int[Tensor, "row pos"], description: dict | None = None):
        self.tokens, self.n_ctx, self.description = tokens, tokens.shape[1], description or {}
        self.n_label_fields, self.taxonomy = None, None

    def n_rows(self, wanted: int) -> int:
        return min(wanted, len(self.tokens))

    def rows(self, first: int, n: int):
        from ..corpus import TokenRows

        return TokenRows(self.tokens[first:first + n], None)
