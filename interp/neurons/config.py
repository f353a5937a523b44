"""Configs of the neuron commands (`interp neurons`, `interp universal`); free of torch so the CLI starts fast.

Both nest the shared option groups of interp.options (`data`: --corpus / --text-column / --n-ctx, `run`: --device /
--threads, `output`: --out); `interp neurons` takes one model (`lm`: --model / --weight-processing), `interp
universal` several seeds of one architecture (`lm`: --models / --weight-processing). Every option keeps its flat
CLI name.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

from ..options import (
    CorpusOptions,
    ModelOptions,
    Options,
    OutputOptions,
    RuntimeOptions,
    WeightProcessing,
    at_least,
    canonical_model,
    not_identity,
)

MIN_TOKENS = 512
"""Fewest corpus tokens a run accepts: below this, frequencies, moments and AUROCs mean little."""


@dataclass
class StatsOptions(Options):
    """Options of the per-model neuron statistics, shared by `interp neurons` and `interp universal`."""

    seed: int = 0
    """Toy-world corpus seed (other corpora are fixed text)."""
    split: Literal["train", "heldout", "all"] = "heldout"
    """Corpus split: heldout (the toy world's held-out text; for other corpora the 1 document in 20 that
    interp.corpus holds out by hash), train (the rest), or all (every document; the endless toy world reads its
    train split)."""
    batch_size: int = 32
    """Corpus rows per forward pass."""
    fire_threshold: float = 0.0
    """A neuron fires when its activation exceeds this: post-activation for ReLU, pre-activation otherwise."""
    near_zero: float = 1e-3
    """|post-activation| below this counts as near-zero (activation sparsity)."""
    pos_bins: int = 32
    """Position bins for the mutual information between firing and position."""
    auroc_tokens: int = 20_000
    """Tokens sampled (the first of the stream) for the concept AUROCs; their activations are kept in memory
    (tokens x layers x d_mlp x 4 bytes), only when there are concepts to score (toy-world labels or --concepts)."""
    concepts: str = ""
    """JSON file of concepts given as tokens, {"name": ["token", ...], ...}: each neuron's AUROC for "the token is
    one of these" (a string matches every token whose readable form, stats.json's vocab, equals it up to
    surrounding whitespace). Scored next to the toy world's ground-truth labels where the corpus has them."""
    top_k: int = 8
    """Top tokens / bigrams kept per neuron."""
    token_slots: int = 4096
    """Tokens whose activation sums are kept per neuron (layers x slots x d_mlp float64): every token when the
    vocabulary fits, else the most frequent tokens of the streamed rows; activation on the others is reported as
    untracked (untracked_token_share), never folded into a share."""
    bigram_slots: int = 8192
    """Distinct bigrams tracked exactly (first seen first; layers x slots x d_mlp float32); later new bigrams are
    counted as untracked."""
    checkpoint_every: int = not_identity(1024)
    """Corpus rows between resumable checkpoints in <out>/checkpoint (0 = none); a killed run started again with
    the same options continues from the last one."""
    data: CorpusOptions = field(default_factory=CorpusOptions)
    run: RuntimeOptions = field(default_factory=RuntimeOptions)


@dataclass
class NeuronsOutput(OutputOptions):
    """Where the statistics go."""

    out: str = "runs/neurons/toy-gelu-s0"
    """Output folder: stats.safetensors (per-neuron arrays) + stats.json (schema, model, corpus, config,
    summaries)."""


@dataclass
class NeuronsConfig(StatsOptions):
    """Per-neuron statistics of every MLP neuron of a model, streamed over a corpus."""

    tokens: int = 200_000
    """Corpus tokens to stream (whole rows; the BOS position of each is left out of every statistic)."""
    lm: ModelOptions = field(default_factory=ModelOptions)
    output: NeuronsOutput = field(default_factory=NeuronsOutput)

    def __post_init__(self):
        _check_common(self)


@dataclass
class UniversalModels(Options):
    """The models compared: seeds of one architecture."""

    models: list[str] = field(default_factory=lambda: ["toy-gelu-s0", "toy-gelu-s1", "toy-gelu-s2", "toy-gelu-s3"])
    """Two or more models of one architecture (different seeds): shipped toy names, model folders or TransformerLens
    names."""
    weight_processing: WeightProcessing = "default"
    """default: TransformerLens's weight processing (folded LayerNorms, centred writing weights); none: the
    checkpoints' weights as they are. MLP neuron activations are the same either way up to float rounding."""

    def __post_init__(self):
        self.models = [canonical_model(m) for m in self.models]


@dataclass
class UniversalOutput(OutputOptions):
    """Where the universal-neuron results go."""

    out: str = "runs/universal"
    """Output folder: universal.safetensors + universal.json, and each model's neuron statistics in a sub-folder."""


@dataclass
class UniversalConfig(StatsOptions):
    """Universal neurons: Pearson correlation of every neuron with every neuron of other seeds' models."""

    tokens: int = 200_000
    """Corpus tokens to stream through every model (the same tokens for all)."""
    threshold: float = 0.5
    """A neuron is universal when its excess correlation exceeds this."""
    product_dtype: Literal["float32", "float64"] = "float32"
    """dtype of each batch's matrix products (centred values; running sums are always float64). float32 is ~2x
    faster on CPU and agrees with float64 to ~1e-6 in correlation."""
    rotation_seed: int = 0
    """Seed of the random orthogonal matrices of the rotation baseline."""
    lm: UniversalModels = field(default_factory=UniversalModels)
    output: UniversalOutput = field(default_factory=UniversalOutput)

    def __post_init__(self):
        _check_common(self)
        if not (math.isfinite(self.threshold) and -1.0 <= self.threshold <= 1.0):
            raise ValueError(f"--threshold: threshold={self.threshold} must be a number in [-1, 1] (an excess "
                             f"correlation); the default is 0.5")
        models = self.lm.models
        if len(models) < 2:
            raise ValueError(f"universal neurons need at least two models (seeds), got {models}")
        if len(set(models)) != len(models):
            raise ValueError(f"each model may be given once, got {models}")
        folders = [m.rstrip("/").rsplit("/", 1)[-1] for m in models]
        if len(set(folders)) != len(folders):
            raise ValueError(f"each model's statistics go to <out>/<its folder name>, and two of {models} share "
                             f"a folder name: rename one")


def _check_common(cfg: NeuronsConfig | UniversalConfig) -> None:
    if cfg.tokens < MIN_TOKENS:
        raise ValueError(f"--tokens {cfg.tokens} is too few for neuron statistics; use at least {MIN_TOKENS}")
    at_least(1, batch_size=cfg.batch_size, pos_bins=cfg.pos_bins, top_k=cfg.top_k, token_slots=cfg.token_slots,
             bigram_slots=cfg.bigram_slots)
    at_least(0, auroc_tokens=cfg.auroc_tokens, checkpoint_every=cfg.checkpoint_every,
             seed=getattr(cfg, "seed", 0), rotation_seed=getattr(cfg, "rotation_seed", 0))
    if not cfg.near_zero >= 0:  # also refuses NaN
        raise ValueError(f"--near-zero: near_zero must be >= 0, got {cfg.near_zero}")
    if not math.isfinite(cfg.fire_threshold):
        raise ValueError(f"--fire-threshold: fire_threshold must be a finite number, got {cfg.fire_threshold}")
