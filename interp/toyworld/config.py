"""Configs of the toy-world commands (kept free of torch so the CLI builds its parser quickly)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ..options import Options, OutputOptions, RuntimeOptions


@dataclass
class ToyTrainOutput(OutputOptions):
    """Where the trained model goes."""

    out: str = ""
    """Output folder; default runs/models/toy-{act}-s{seed}."""


@dataclass
class ToyTrainConfig(Options):
    """Training run of one toy model."""

    seed: int = 0
    """Model seed: initialisation and data. The shipped toy-gelu-sN / toy-relu-sN used seed N."""
    act: Literal["gelu", "relu"] = "gelu"
    """MLP activation function."""
    tokens: int = 10_000_000
    """Training tokens (IOI appears around 4-5M tokens)."""
    batch_size: int = 32
    """Documents per step (each n_ctx tokens)."""
    lr: float = 1e-3
    """Peak learning rate."""
    warmup_steps: int = 200
    """Linear warmup steps before cosine decay to a tenth of lr."""
    weight_decay: float = 0.1
    """AdamW weight decay (matrices only)."""
    n_layers: int = 4
    """Transformer blocks."""
    d_model: int = 128
    """Residual stream width."""
    n_heads: int = 4
    """Attention heads per layer."""
    d_mlp: int = 512
    """MLP neurons per layer."""
    n_ctx: int = 128
    """Context length (tokens per document)."""
    checkpoint_every: int = 500
    """Steps between resumable checkpoints."""
    run: RuntimeOptions = field(default_factory=RuntimeOptions)
    output: ToyTrainOutput = field(default_factory=ToyTrainOutput)

    def __post_init__(self):
        if self.tokens < self.batch_size * self.n_ctx:
            raise ValueError(f"tokens={self.tokens} is less than one batch ({self.batch_size}x{self.n_ctx})")
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model={self.d_model} is not divisible by n_heads={self.n_heads}")
        if self.lr <= 0 or self.batch_size < 1:
            raise ValueError("lr must be > 0 and batch_size >= 1")

    @property
    def name(self) -> str:
        return f"toy-{self.act}-s{self.seed}"

    @property
    def out_dir(self) -> Path:
        return Path(self.output.out or f"runs/models/{self.name}")

    @property
    def steps(self) -> int:
        return self.tokens // (self.batch_size * self.n_ctx)


@dataclass
class GenerateOutput(OutputOptions):
    """Where the corpus goes."""

    out: str = "runs/corpus"
    """Output folder."""


@dataclass
class GenerateConfig(Options):
    """Write toy-world documents with their ground-truth labels to a folder (corpus.npz + corpus.json)."""

    tokens: int = 1_000_000
    """How many tokens to generate (whole documents of n_ctx tokens)."""
    seed: int = 0
    """Corpus seed."""
    split: Literal["train", "heldout"] = "train"
    """train or held-out IOI combinations and random stream."""
    n_ctx: int = 128
    """Tokens per document, BOS included."""
    output: GenerateOutput = field(default_factory=GenerateOutput)

    def __post_init__(self):
        if self.tokens < 1:
            raise ValueError(f"tokens must be >= 1, got {self.tokens}")
