"""Config of activation caching (kept free of torch so the CLI builds its parser quickly)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ..options import CorpusOptions, ModelOptions, Options, OutputOptions, RuntimeOptions, at_least


@dataclass
class CacheOutput(OutputOptions):
    """Where the cache goes."""

    out: str = "runs/cache/toy-gelu-s0"
    """Cache folder (created; an existing cache of the same model, hooks and corpus is resumed)."""


@dataclass
class CacheConfig(Options):
    """Cache activations of a model at a set of hooks over a corpus."""

    hooks: list[str] = field(default_factory=lambda: ["blocks.*.mlp.hook_post"])
    """Hook names or glob patterns (e.g. 'blocks.*.mlp.hook_post', 'blocks.2.hook_resid_post')."""
    tokens: int = 2_000_000
    """How many tokens to cache."""
    seed: int = 0
    """Corpus seed (toy world)."""
    batch_size: int = 32
    """Rows (of n_ctx tokens) per forward pass."""
    shard_tokens: int = 65_536
    """Tokens per shard file (fewer where --shard-mb caps them)."""
    shard_mb: int = 512
    """Cap on one shard's activation bytes over all hooks: wide models or many hooks get shards of fewer tokens, so
    the two shard buffers held in memory stay bounded (e.g. GPT-2's 12 MLP hooks: ~3.6k tokens a shard)."""
    dtype: Literal["float32", "float16", "bfloat16"] = "float32"
    """Storage dtype of activations."""
    fused_kernels: bool = True
    """Run blocks, attention and LayerNorms as fused kernels (interp.fused): the same values up to float rounding
    (~1e-6 relative) and a ~2x faster forward pass on small models. False runs TransformerLens's own code."""
    retain_memory: bool = True
    """Keep freed memory in the process between batches (glibc mallopt, interp.allocator) instead of page-faulting
    fresh pages for every batch's tensors; the process keeps its peak heap."""
    lm: ModelOptions = field(default_factory=ModelOptions)
    data: CorpusOptions = field(default_factory=CorpusOptions)
    run: RuntimeOptions = field(default_factory=RuntimeOptions)
    output: CacheOutput = field(default_factory=CacheOutput)

    def __post_init__(self):
        at_least(1, tokens=self.tokens, batch_size=self.batch_size, shard_tokens=self.shard_tokens,
                 shard_mb=self.shard_mb)
        at_least(0, seed=self.seed)
        if not self.hooks or not all(h.strip() for h in self.hooks):
            raise ValueError(f"--hooks {' '.join(repr(h) for h in self.hooks) or '(none)'} names no hook: give at "
                             f"least one hook name or pattern, e.g. --hooks 'blocks.*.mlp.hook_post'")
