"""Config of `interp sparsity` (activation sparsity measured as the sparsity papers do); free of torch so the CLI
starts fast. It nests the shared option groups of interp.options (`lm`: --model / --weight-processing, `data`:
--corpus / --text-column / --n-ctx, `run`: --device / --threads, `output`: --out), so every option keeps its flat CLI
name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ..options import CorpusOptions, ModelOptions, Options, OutputOptions, RuntimeOptions, at_least, not_identity

MIN_TOKENS = 256
"""Fewest streamed tokens a run accepts (and fewest held-out tokens a perplexity search accepts)."""

ACTIVITY_LEVELS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99)
"""Quantiles (over the first batch's nonzero contribution norms, per layer) that set the thresholds of the
magnitude-defined activity grid; a zero threshold (exact zeros dropped) comes first."""


@dataclass
class SparsityOutput(OutputOptions):
    """Where the results go."""

    out: str = "runs/sparsity/toy-gelu-s0"
    """Output folder: sparsity.safetensors (per-layer and per-neuron arrays) + sparsity.json (schema, model, corpus,
    settings, per-layer and model summaries)."""


@dataclass
class SparsityConfig(Options):
    """Activation sparsity of every MLP layer and neuron, streamed over a corpus: exact / near-zero fractions,
    magnitude-defined activity by CETT, PPL-p% sparsity, hot / cold and dormant neurons, massive activations and
    attention sinks."""

    tokens: int = 20_000
    """Corpus tokens to stream (whole rows; the BOS position of each row is left out of the neuron measures)."""
    split: Literal["train", "heldout", "all"] = "train"
    """Corpus split streamed for the statistics; the perplexity search and the massive-activation ablation always
    read the held-out split (for text corpora the 1 document in 20 interp.corpus holds out by hash)."""
    seed: int = 0
    """Toy-world corpus seed (other corpora are fixed text)."""
    batch_size: int = 16
    """Corpus rows per forward pass."""
    near_zero: float = 1e-3
    """|activation| below this counts as near-zero (Lazy Neuron's share reports exact zeros and this)."""
    cett_tokens: int = 256
    """Tokens (evenly spread over the stream) on which the CETT of every threshold of the activity grid is computed:
    one masked down-projection per threshold, so it is measured on a sample (the thresholds' firing counts use every
    token)."""
    activity_cett: float = 0.2
    """CETT at which a neuron counts as firing for the hot / cold (PowerInfer) measures: the grid threshold whose
    layer CETT is nearest to it."""
    ppl: list[float] = field(default_factory=lambda: [1.0, 5.0])
    """PPL-p% sparsity for these p (percent rise of held-out perplexity, each in (0, 100)); none: skip the search."""
    ppl_tokens: int = 1024
    """Held-out tokens on which perplexity is measured (the full and every truncated model on the same rows)."""
    ppl_steps: int = 5
    """Truncated-model evaluations per p of the search (bracketing, then interpolation on the perplexity rise)."""
    dormant_taus: list[float] = field(default_factory=lambda: [0.0, 0.025, 0.1])
    """ReDo's tau: a neuron is tau-dormant when its mean |activation| over its layer's mean is <= tau."""
    massive_ratios: list[float] = field(default_factory=lambda: [100.0, 1000.0])
    """A residual entry is massive when |h| exceeds this many times the median |h| of its token's hidden state; the
    first ratio also marks the positions whose attention share (sinks) and mean-setting ablation are reported."""
    massive_tokens: int = 2048
    """Tokens (the first rows of the stream) on which massive activations and attention sinks are measured: they sit
    at a few fixed dimensions and positions, and hooking every head's pattern costs the fused attention kernels, so
    the rest of the stream runs with the MLP hooks only."""
    sink_skip: int = 4
    """First query positions left out of each head's attention shares (they can attend only to the first tokens)."""
    top_massive: int = 32
    """Largest massive entries listed (layer, dimension, position, token, value, ratio)."""
    checkpoint_every: int = not_identity(256)
    """Corpus rows between resumable checkpoints in <out>/checkpoint (0 = none); a killed run started again with
    the same options continues from the last one."""
    lm: ModelOptions = field(default_factory=ModelOptions)
    data: CorpusOptions = field(default_factory=CorpusOptions)
    run: RuntimeOptions = field(default_factory=RuntimeOptions)
    output: SparsityOutput = field(default_factory=SparsityOutput)

    def __post_init__(self):
        at_least(MIN_TOKENS, tokens=self.tokens)
        at_least(1, batch_size=self.batch_size, ppl_steps=self.ppl_steps, top_massive=self.top_massive)
        at_least(0, cett_tokens=self.cett_tokens, massive_tokens=self.massive_tokens, sink_skip=self.sink_skip,
                 seed=self.seed, checkpoint_every=self.checkpoint_every, near_zero=self.near_zero)
        if self.ppl:
            at_least(MIN_TOKENS, "the held-out perplexity of the --ppl search", ppl_tokens=self.ppl_tokens)
        for p in self.ppl:
            if not 0 < p < 100:
                raise ValueError(f"--ppl {p}: p is a percent rise of perplexity and must be in (0, 100), e.g. "
                                 f"--ppl 1 5")
        if not 0 < self.activity_cett < 1:
            raise ValueError(f"--activity-cett {self.activity_cett} must be in (0, 1) (a share of the layer's output)")
        for tau in self.dormant_taus:
            if not 0 <= tau < 1:
                raise ValueError(f"--dormant-taus {tau}: tau must be in [0, 1) (a share of the layer's mean)")
        if not self.massive_ratios or any(r <= 1 for r in self.massive_ratios):
            raise ValueError(f"--massive-ratios {self.massive_ratios}: give ratios > 1, e.g. --massive-ratios 100 1000")
        self.ppl = sorted(set(self.ppl))
        self.dormant_taus = sorted(set(self.dormant_taus))
        self.massive_ratios = sorted(set(self.massive_ratios))
