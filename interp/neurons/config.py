"""Configs of the neuron commands (`interp neurons`, `interp universal`); free of torch so the CLI starts fast."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

MIN_TOKENS = 512
"""Fewest corpus tokens a run accepts: below this, frequencies, moments and AUROCs mean little."""


@dataclass
class StatsOptions:
    """Options of the per-model neuron statistics, shared by `interp neurons` and `interp universal`."""

    seed: int = 0
    """Toy-world corpus seed."""
    split: Literal["train", "heldout"] = "heldout"
    """Toy-world split to read (held-out text by default)."""
    batch_size: int = 32
    """Documents per forward pass."""
    fire_threshold: float = 0.0
    """A neuron fires when its activation exceeds this: post-activation for ReLU, pre-activation otherwise."""
    near_zero: float = 1e-3
    """|post-activation| below this counts as near-zero (activation sparsity)."""
    pos_bins: int = 32
    """Position bins for the mutual information between firing and position."""
    auroc_tokens: int = 20_000
    """Tokens sampled (the first of the stream) for the ground-truth concept AUROCs."""
    top_k: int = 8
    """Top tokens / bigrams kept per neuron."""
    bigram_slots: int = 8192
    """Distinct bigrams tracked exactly (first seen first); later new bigrams are counted as untracked."""
    device: Literal["auto", "cpu", "cuda"] = "auto"
    """Where to run the model(s)."""
    threads: int = 0
    """CPU threads for torch (0: torch's default). 1 is much faster on a machine whose cores are all busy."""
    checkpoint_every: int = 1024
    """Documents between resumable checkpoints in <out>/.checkpoint (0 = none); a killed run started again with the
    same options continues from the last one."""


@dataclass
class NeuronsConfig(StatsOptions):
    """Per-neuron statistics of every MLP neuron of a model, streamed over a toy-world corpus."""

    model: str = "toy-gelu-s0"
    """Shipped toy model name, model folder, or TransformerLens model name."""
    tokens: int = 200_000
    """Corpus tokens to stream (whole documents; the BOS position of each is left out of every statistic)."""
    out: str = "runs/neurons/toy-gelu-s0"
    """Output folder: stats.safetensors (per-neuron arrays) + stats.json (schema, config, summaries)."""

    def __post_init__(self):
        _check_common(self)


@dataclass
class UniversalConfig(StatsOptions):
    """Universal neurons: Pearson correlation of every neuron with every neuron of other seeds' models."""

    models: list[str] = field(default_factory=lambda: ["toy-gelu-s0", "toy-gelu-s1", "toy-gelu-s2", "toy-gelu-s3"])
    """Two or more models of one architecture (different seeds)."""
    tokens: int = 200_000
    """Corpus tokens to stream through every model (the same tokens for all)."""
    out: str = "runs/universal"
    """Output folder: universal.safetensors + universal.json, and each model's neuron statistics in a sub-folder."""
    threshold: float = 0.5
    """A neuron is universal when its excess correlation exceeds this."""
    product_dtype: Literal["float32", "float64"] = "float32"
    """dtype of each batch's matrix products (centred values; running sums are always float64). float32 is ~2x
    faster on CPU and agrees with float64 to ~1e-6 in correlation."""
    rotation_seed: int = 0
    """Seed of the random orthogonal matrices of the rotation baseline."""

    def __post_init__(self):
        _check_common(self)
        if len(self.models) < 2:
            raise ValueError(f"universal neurons need at least two models (seeds), got {self.models}")
        if len(set(self.models)) != len(self.models):
            raise ValueError(f"each model may be given once, got {self.models}")


def _check_common(cfg) -> None:
    if cfg.tokens < MIN_TOKENS:
        raise ValueError(f"tokens={cfg.tokens} is too few for neuron statistics; use at least {MIN_TOKENS}")
    if cfg.batch_size < 1 or cfg.pos_bins < 1 or cfg.top_k < 1 or cfg.bigram_slots < 1 or cfg.auroc_tokens < 0:
        raise ValueError("batch_size, pos_bins, top_k and bigram_slots must be >= 1 and auroc_tokens >= 0")
    if cfg.threads < 0 or cfg.checkpoint_every < 0:
        raise ValueError(f"threads and checkpoint_every must be >= 0, got {cfg.threads} and {cfg.checkpoint_every}")
    if cfg.near_zero < 0:
        raise ValueError(f"near_zero must be >= 0, got {cfg.near_zero}")
