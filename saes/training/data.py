"""Activation batches for SAE training: the shuffled plan of the one activation stream (interp.activations.sources),
from an activation cache or from the model on the fly.

`make_source` picks the source of a train-sae config; the sources, their batch plan (the same global batch for
every step number, so a resumed run replays it and torchrun ranks read their rows of it) and their NaN/Inf checks
live in interp.activations.sources, shared with SNMF and the evaluation report.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from interp.activations.sources import CacheSource, ModelSource, Pair, ShardedSource, TensorSource
from interp.activations.stream import NonFiniteError, hook_width
from interp.corpus import open_corpus

if TYPE_CHECKING:
    from transformer_lens import HookedTransformer

__all__ = ["CacheSource", "ModelSource", "NonFiniteError", "Pair", "ShardedSource", "TensorSource", "make_source"]


def make_source(cfg, model: HookedTransformer, batch_size: int) -> ShardedSource:
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
