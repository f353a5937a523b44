"""Reading an activation cache: streaming shuffled batches for training, random access for the explorer.

`ActivationCache.open(path)` reads the manifest (checking every listed file's size); nothing else is loaded until
asked. Global token index i means the i-th token of the cache in shard order (shards sorted by index, whichever
process wrote them); for a complete cache that is doc_id * n_ctx + position.

`iter_batches` never holds more than `window` shards of one hook in memory: it visits shards in a seeded random
order, a window of them at a time, and shuffles tokens within the window (tokens left over from a window are carried
into the next). The same seed gives the same batches. Tensors are read only through safetensors (memory-mapped).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from jaxtyping import Float, Int, Int8
from safetensors import safe_open
from torch import Tensor

from ..worlds import LEGACY_WORLD, taxonomy, taxonomy_of_schema
from ..worlds.taxonomy import Taxonomy
from .manifest import (
    MANIFEST,
    REWRITE_HINT,
    TOKENS_KEY,
    CacheError,
    CorruptCacheError,
    FileRecord,
    Manifest,
    VerifyReport,
    check_sizes,
    file_path,
    file_problem,
    verify,
)


@dataclass
class TokenInfo:
    """Token ids, document ids and positions (and labels, toy world only) of every cached token."""

    tokens: Int[Tensor, " n"]
    doc_ids: Int[Tensor, " n"]
    positions: Int[Tensor, " n"]
    labels: Int8[Tensor, "n field"] | None


class ActivationCache:
    """A cache folder written by `interp cache` (any number of processes)."""

    def __init__(self, path: Path, manifest: Manifest):
        self.path, self.manifest = path, manifest
        self.shards = manifest.shards
        sizes = [s.n_tokens for s in self.shards]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)  # [n_shards + 1]
        self._info: TokenInfo | None = None

    @classmethod
    def open(cls, path: str | Path) -> ActivationCache:
        path = Path(path)
        if not (path / MANIFEST).is_file():
            raise FileNotFoundError(f"{path} holds no activation cache ({MANIFEST} not found)")
        manifest = Manifest.load(path / MANIFEST)
        if manifest.label_schema is not None:
            taxonomy_of_schema(manifest.label_schema)  # raises for labels this code would read wrongly
        manifest.check_records(path)
        check_sizes(path, manifest)
        return cls(path, manifest)

    @property
    def taxonomy(self) -> Taxonomy | None:
        """The label taxonomy of the cached labels (their toy world's, as the manifest records); None without
        labels."""
        schema = self.manifest.label_schema
        return None if schema is None else taxonomy(str(schema.get("world", LEGACY_WORLD)))

    @property
    def hooks(self) -> list[str]:
        return self.manifest.hooks

    @property
    def n_tokens(self) -> int:
        return int(self.offsets[-1])

    def d(self, hook: str) -> int:
        return self.manifest.d[self._check_hook(hook)]

    def _check_hook(self, hook: str) -> str:
        if hook not in self.manifest.shapes:
            raise KeyError(f"hook {hook!r} is not in this cache; it holds {', '.join(self.hooks)}")
        return hook

    def _load(self, shard: int, key: str, name: str, lo: int = 0, hi: int | None = None) -> Tensor:
        """Rows [lo, hi) of tensor `name` in the file `key` of shard number `shard` (position in self.shards). The
        file's checksum is verified the first time this process reads it."""
        rec = self.shards[shard].files[key]
        path = _verified(self.path, rec)
        try:
            with safe_open(str(path), framework="pt") as f:
                sl = f.get_slice(name)
                return sl[lo:hi if hi is not None else sl.get_shape()[0]]
        except Exception as e:  # safetensors raises its own error types for damaged headers
            raise CorruptCacheError(f"shard file {rec.path} of {self.path} is unreadable ({type(e).__name__}: {e}); "
                                    f"{REWRITE_HINT}") from None

    def shard_activations(self, hook: str, shard: int) -> Float[Tensor, "n d"]:
        """All activations of one shard (position in `shards`)."""
        return self._load(shard, self._check_hook(hook), "activations")

    def get(self, hook: str, token_indices) -> Float[Tensor, "n d"]:
        """Activations of the given global token indices, in the order given (reads only the shards touched)."""
        self._check_hook(hook)
        idx = torch.as_tensor(token_indices, dtype=torch.int64).reshape(-1)  # any shape -> [n]
        if len(idx) and (idx.min() < 0 or idx.max() >= self.n_tokens):
            raise IndexError(f"token indices must be in [0, {self.n_tokens}), got {idx.min()}..{idx.max()}")
        out = torch.empty((len(idx), self.d(hook)), dtype=_torch_dtype(self.manifest.dtype))
        shard_of = np.searchsorted(self.offsets, idx.numpy(), side="right") - 1
        for s in np.unique(shard_of):
            sel = np.nonzero(shard_of == s)[0]
            local = idx[sel] - int(self.offsets[s])
            lo, hi = int(local.min()), int(local.max()) + 1
            out[torch.from_numpy(sel)] = self._load(int(s), hook, "activations", lo, hi)[local - lo]
        return out

    def iter_batches(self, hook: str, batch_size: int, shuffle: bool = True, seed: int = 0, window: int = 4,
                     drop_last: bool = False) -> Iterator[Float[Tensor, "batch d"]]:
        """Batches of activations of `hook`; shuffled (shard order + within a window of shards) unless told not."""
        self._check_hook(hook)
        if batch_size < 1 or window < 1:
            raise ValueError(f"batch_size and window must be >= 1, got {batch_size} and {window}")
        gen = torch.Generator().manual_seed(seed)
        order = torch.randperm(len(self.shards), generator=gen).tolist() if shuffle else range(len(self.shards))
        order = list(order)
        carry = torch.empty((0, self.d(hook)), dtype=_torch_dtype(self.manifest.dtype))
        for w0 in range(0, len(order), window):
            pool = torch.cat([carry] + [self.shard_activations(hook, s) for s in order[w0:w0 + window]])
            if shuffle:
                pool = pool[torch.randperm(len(pool), generator=gen)]
            n_full = len(pool) // batch_size * batch_size
            for b0 in range(0, n_full, batch_size):
                yield pool[b0:b0 + batch_size]
            carry = pool[n_full:]
        if len(carry) and not drop_last:
            yield carry

    def _token_info(self) -> TokenInfo:
        if self._info is None:
            parts = {k: [self._load(i, TOKENS_KEY, k) for i in range(len(self.shards))]
                     for k in ("tokens", "doc_ids", "positions")}
            labels = None
            if self.manifest.label_schema is not None:
                labels = torch.cat([self._load(i, TOKENS_KEY, "labels") for i in range(len(self.shards))]) \
                    if self.shards else torch.empty((0, self.taxonomy.n_fields), dtype=torch.int8)
            cat = {k: torch.cat(v) if v else torch.empty(0, dtype=torch.int64) for k, v in parts.items()}
            self._info = TokenInfo(cat["tokens"], cat["doc_ids"], cat["positions"], labels)
        return self._info

    def tokens(self) -> Int[Tensor, " n"]:
        """Token id of every cached token, by global token index."""
        return self._token_info().tokens

    def doc_ids(self) -> Int[Tensor, " n"]:
        """Document (row) id of every cached token."""
        return self._token_info().doc_ids

    def positions(self) -> Int[Tensor, " n"]:
        """Position within its document of every cached token."""
        return self._token_info().positions

    def labels(self) -> Int8[Tensor, "n field"]:
        """Toy-world labels [n, field] (schema in manifest.label_schema); an error for caches without labels."""
        labels = self._token_info().labels
        if labels is None:
            raise CacheError(f"{self.path} has no labels: only toy-world corpora on toy models carry them")
        return labels

    def verify(self) -> VerifyReport:
        """Check every shard file's checksum; raises CorruptCacheError naming the bad files."""
        return verify(self.path)


_VERIFIED: set[tuple[str, str]] = set()
"""(file, checksum) pairs this process has verified: each shard file is hashed once per process, not per read."""


def _verified(folder: Path, rec: FileRecord) -> Path:
    """The file's path after checking its size and xxh3-128 checksum (once per process); CorruptCacheError names
    the file and the command that rewrites it."""
    path = file_path(folder, rec)
    key = (str(path), rec.checksum)
    if key not in _VERIFIED:
        problem = file_problem(folder, rec)
        if problem:
            raise CorruptCacheError(f"corrupt shard file in {folder}: {problem}; {REWRITE_HINT}")
        _VERIFIED.add(key)
    return path


def _torch_dtype(name: str) -> torch.dtype:
    return {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}[name]
