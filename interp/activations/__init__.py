"""Activations: resumable, sharded, checksummed safetensors caches of hook activations and their reader, and the
one activation stream dictionaries are trained and evaluated on.

Public API (imported lazily, so `interp --help`, which imports `.config`, does not pull in torch):

- `cache_activations(cfg, model=None) -> CacheResult` and `main(cfg)` (the `interp cache` command), in `.cache`;
- `ActivationCache.open(path)` with `iter_batches`, `get`, `tokens`, `doc_ids`, `positions`, `labels`, in `.reader`;
- `verify(path) -> VerifyReport`, `CacheError`, `CorruptCacheError`, in `.manifest`; `DiskFullError` in `.files`;
- `CacheSource`, `ModelSource`, `TensorSource` (shards of one hook's activations, walked as SAE training's shuffled
  batches or in order for SNMF and evaluation, with (input, target) `Pair`s), in `.sources`.

Shards are written by `.writer` (the background shard writer) through `.files` (aligned, streamed, checksummed
safetensors files).
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "CacheConfig": "config", "cache_activations": "cache", "CacheResult": "cache", "expand_hooks": "cache",
    "ActivationCache": "reader", "verify": "manifest", "VerifyReport": "manifest", "CacheError": "manifest",
    "CorruptCacheError": "manifest", "DiskFullError": "files", "CacheSource": "sources", "ModelSource": "sources",
    "TensorSource": "sources", "Pair": "sources",
}
__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
