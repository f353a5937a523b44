"""Config of `interp snmf` (kept free of torch so the CLI builds its parser quickly)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from interp.options import (
    TOKEN_BYTES,
    CorpusOptions,
    Options,
    OutputOptions,
    RecordedModelOptions,
    RuntimeOptions,
    at_least,
    fits_memory,
    not_identity,
)


@dataclass
class SNMFOutput(OutputOptions):
    """Where the factorisation goes."""

    out: str = ""
    """Output folder (snmf.safetensors, snmf.json, eval.json; a checkpoint there is resumed); default:
    runs/snmf/MODEL-LLAYER (e.g. runs/snmf/toy-gelu-s0-L2)."""
    keep_checkpoint: bool = False
    """Keep the last checkpoint after a finished run, so that a rerun with a larger --max-iter continues from it
    (default: removed once the result is saved)."""


@dataclass
class SNMFModelOptions(RecordedModelOptions):
    """The model whose MLP activations are factorised; by default the one --cache records, else toy-gelu-s0."""


@dataclass
class SNMFConfig(Options):
    """Semi-nonnegative factorisation of one layer's MLP activations (docs/methods.md §3), evaluated like an SAE."""

    layer: int = -1
    """Factorise blocks.LAYER.mlp.hook_post; default: the model's middle layer (-1: n_layers // 2, of the model the
    --cache records when one is given)."""
    k: int = 100
    """Number of features K."""
    sparsity: float = 0.01
    """Fraction s of neurons kept per feature (winner-take-all keeps ceil(s * d_mlp))."""
    tokens: int = 100_000
    """Tokens to factorise (BOS removed)."""
    solver: Literal["full", "streaming"] = "full"
    """full: the reference solver on all tokens in memory; streaming: passes over batches, memory O(d K)."""
    init: Literal["random", "svd", "kmeans"] = "random"
    """Initialisation of G (seeded)."""
    max_iter: int = not_identity(300)
    """Maximum iterations (full) or passes (streaming)."""
    patience: int = not_identity(10)
    """Stop after this many iterations without a relative loss improvement of tol."""
    tol: float = not_identity(1e-4)
    """Relative improvement that resets the patience counter."""
    seed: int = 0
    """Seed of the init and of the toy-world corpus."""
    cache: str = ""
    """Read activations from this `interp cache` folder instead of running the model on --corpus."""
    batch_size: int = 8192
    """Tokens per batch (streaming passes, activation collection)."""
    eval_tokens: int = not_identity(8192)
    """Held-out tokens for eval.json, from the held-out split of the corpus (0: skip evaluation)."""
    top_m: int = not_identity(20)
    """Top activating tokens stored per feature."""
    checkpoint_every: int = not_identity(10)
    """Iterations (full) or batches (streaming) between checkpoints."""
    lm: SNMFModelOptions = field(default_factory=SNMFModelOptions)
    data: CorpusOptions = field(default_factory=CorpusOptions)
    run: RuntimeOptions = field(default_factory=RuntimeOptions)
    output: SNMFOutput = field(default_factory=SNMFOutput)

    def __post_init__(self):
        at_least(1, k=self.k, batch_size=self.batch_size, max_iter=self.max_iter, patience=self.patience,
                 top_m=self.top_m)
        if not 0 < self.sparsity <= 1:
            raise ValueError(f"--sparsity must be in (0, 1], got {self.sparsity}")
        if self.tokens < self.k:
            raise ValueError(f"--tokens {self.tokens} must be at least --k {self.k}")
        at_least(-1, "-1: the middle layer", layer=self.layer)
        at_least(0, "0: skip evaluation", eval_tokens=self.eval_tokens)
        fits_memory(TOKEN_BYTES, eval_tokens=self.eval_tokens)  # refused before the fit, not after it
        at_least(0, tol=self.tol, seed=self.seed)
        at_least(1, checkpoint_every=self.checkpoint_every)
