"""Config of `interp train-sae` (kept free of torch so the CLI builds its parser quickly) and its sweep grid.

List-valued options (--arch, --d-sae, --k, --l0-coefficient, --l1-coefficient, --seed) describe a sweep: the grid of
every combination that applies to each architecture (each reads the one sweep option that sets its sparsity, as
saes.registry declares: k, the L1 or the L0 coefficient) is trained at once on the same activation stream, one pass
over the data.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Literal

from interp.options import (
    TOKEN_BYTES,
    CorpusOptions,
    ModelOptions,
    Options,
    OutputOptions,
    RuntimeOptions,
    at_least,
    fits_memory,
    not_identity,
    within,
)
from saes.config import check_prefixes
from saes.registry import DEFAULT_ARCH, SWEEP_OPTIONS, arch_names, architecture, kind, option_users, uses_k

LIST_OF_INTS = {"custom_args": {"type": str, "nargs": "*", "metavar": "M1,M2,..."}}
"""An option of integers given comma- or space-separated ("128,512,2048" or "128 512 2048"), parsed in __post_init__."""


@dataclass
class SAEOptions(Options):
    """The SAEs to train (list-valued options form a sweep) and their architecture settings."""

    arch: list[str] = field(default_factory=lambda: [DEFAULT_ARCH])
    """Architecture(s): relu, topk, jumprelu, batchtopk, matryoshka (several = a sweep)."""
    d_sae: list[int] = field(default_factory=lambda: [4096])
    """Number of latents (several = a sweep)."""
    k: list[int] = field(default_factory=lambda: [32])
    """Active latents per token for topk / batchtopk / matryoshka (several = a sweep)."""
    l0_coefficient: list[float] = field(default_factory=lambda: [0.05])
    """JumpReLU L0 loss coefficient λ, on activations normalised to E||x||² = d_in (several = a sweep)."""
    l1_coefficient: list[float] = field(default_factory=lambda: [1.75])
    """ReLU decoder-norm-weighted L1 coefficient λ, on normalised activations (several = a sweep). With --init-l0 32,
    1.75 ends a 300k-token run of toy-gelu-s0 layer 1 (d_sae 2048) at L0 ~59, R² ~0.86 (2.5, the toy1 models'
    default, ends at L0 ~46, R² ~0.84 there)."""
    seed: list[int] = field(default_factory=lambda: [0])
    """SAE initialisation seed(s); every seed sees the same data (several = a sweep)."""
    prefixes: list[int] | None = field(default=None, metadata=LIST_OF_INTS)
    """Matryoshka: the nested prefix sizes m_1 < m_2 < ... (latents), comma- or space-separated, each trained to
    reconstruct on its own; every --d-sae of the sweep is appended as the last. Default: d_sae/16, d_sae/4, d_sae."""
    aux_coefficient: float = 1 / 32
    """AuxK loss scale α (topk, batchtopk, matryoshka)."""
    bandwidth: float | None = None
    """JumpReLU straight-through-estimator bandwidth ε; default: the JumpReLU config's (0.05, the upper end of the
    published 0.001-0.05: with thresholds started at the target sparsity (--init-l0) a wider kernel lets them keep
    moving in short runs)."""
    init_threshold: float = 0.001
    """JumpReLU initial threshold θ₀."""
    pre_act_coefficient: float = 0.0
    """JumpReLU pre-activation loss on dead latents (0 = off)."""
    init_l0: float = 32.0
    """ReLU / JumpReLU: start at about this L0, the encoder bias (ReLU) or thresholds (JumpReLU) set from the first
    batch so each latent fires on init_l0 / d_sae of its tokens (0: the plain init, every latent half on)."""
    b_dec_init: Literal["mean", "median", "zero"] = "median"
    """b_dec init from the first batch: mean, geometric median, or zero."""
    unit_norm_decoder: bool | None = None
    """Keep decoder rows at unit norm while training (gradient projected, rows renormalised after each step); default:
    the architecture's (every kind but relu). sae_lens's JumpReLU trainer leaves them free: false trains ours the same
    way (bench/sae_vs_saelens.py)."""

    def __post_init__(self):
        valid = arch_names()
        bad = [a for a in self.arch if a not in valid]
        if bad or not self.arch:
            raise ValueError(f"unknown SAE architecture {', '.join(bad) or '(none)'}; valid: {', '.join(valid)}")
        for name in ("arch", "d_sae", "seed", "k", "l0_coefficient", "l1_coefficient"):
            values = getattr(self, name)
            if len(set(values)) != len(values):
                raise ValueError(f"--{name.replace('_', '-')} lists a value twice: {values}")
        if not self.d_sae or not self.seed:
            raise ValueError(f"give at least one {'--d-sae' if not self.d_sae else '--seed'} value")
        at_least(1, d_sae=min(self.d_sae))
        at_least(0, seed=min(self.seed))
        by_k = option_users("k")
        if set(by_k) & set(self.arch) and (not self.k or min(self.k) < 1 or max(self.k) > min(self.d_sae)):
            default = next(f.default_factory() for f in fields(self) if f.name == "k")
            given = " (the default)" if self.k == default else ""
            raise ValueError(f"--k must be >= 1 and at most --d-sae ({'/'.join(by_k)} need 1 <= k <= d_sae), got "
                             f"--k {self.k}{given} and --d-sae {self.d_sae}: give --k between 1 and "
                             f"{min(self.d_sae)}, or a larger --d-sae")
        coeffs = [*(("--l0-coefficient", c) for c in self.l0_coefficient),
                  *(("--l1-coefficient", c) for c in self.l1_coefficient),
                  ("--aux-coefficient", self.aux_coefficient), ("--pre-act-coefficient", self.pre_act_coefficient)]
        for name, c in coeffs:  # the first coefficient at fault, by its own option
            if not (c >= 0 and math.isfinite(c)):
                raise ValueError(f"{name} is a loss coefficient and must be finite and >= 0, got {c}")
        self._check_prefixes()
        at_least(0, "0: the plain init", init_l0=self.init_l0)
        learned = [a for a in self.arch if not uses_k(a)]  # the architectures that start at --init-l0
        if learned and self.init_l0 > min(self.d_sae):
            raise ValueError(f"--init-l0 {self.init_l0:g} is more active latents than --d-sae {min(self.d_sae)} has "
                             f"({'/'.join(learned)}): give --init-l0 <= --d-sae (0: the plain init)")
        for name in ("bandwidth", "init_threshold"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"--{name.replace('_', '-')} must be > 0, got {value}")

    def _check_prefixes(self) -> None:
        """--prefixes as integers (from "128,512,2048" or "128 512 2048"), refused where no --arch reads it and
        checked against every --d-sae (one-line errors naming --prefixes)."""
        if self.prefixes is None:
            return
        try:
            self.prefixes = [int(p) for item in self.prefixes for p in str(item).replace(",", " ").split()]
        except ValueError:
            raise ValueError(f"--prefixes {' '.join(map(str, self.prefixes))} is not a list of integers: give "
                             f"increasing sizes, e.g. --prefixes 128,512,2048") from None
        users = option_users("prefixes")
        if not set(users) & set(self.arch):
            raise ValueError(f"--prefixes is for {'/'.join(users)} SAEs: add --arch {users[0]} or leave it out")
        for d_sae in self.d_sae:
            check_prefixes(self.prefixes, d_sae)


@dataclass
class OptimOptions(Options):
    """Optimisation: tokens, batch, learning-rate and sparsity schedules."""

    tokens: int = 2_000_000
    """Training tokens (steps = tokens // batch_size)."""
    batch_size: int = 0
    """Tokens per step (the global batch; under torchrun it is split evenly over the processes). 0: adapts to
    --tokens (`default_batch_size`): 4096 (Gao et al.; SAELens) once that gives MIN_STEPS steps, else the largest
    power of two that does (at least 256), since a short run of few large steps stops far from converged."""
    lr: float | None = None
    """Adam learning rate; default 2e-4 / sqrt(d_sae / 2^14) (Gao et al.'s scaling rule), per SAE."""
    lr_warmup: float = 0.01
    """Fraction of the steps over which the learning rate rises linearly from 0."""
    lr_decay: float = 0.2
    """Final fraction of the steps over which the learning rate falls linearly to 0."""
    grad_clip: float = 1.0
    """Clip each SAE's gradient norm to this before its Adam step (0 = off). SAELens clips to 1.0 too; without it
    the first steps at a high learning rate cost ~0.02-0.04 R² that short runs never win back."""
    sparsity_warmup: float = 0.05
    """Fraction of the steps over which the L1 / L0 coefficient rises linearly from 0 (relu, jumprelu)."""
    sparse_step: bool = not_identity(True)
    """Train relu / jumprelu with the sparse step once their codes are sparse (saes/sparse_gate.py): the same
    gradients from sparse products instead of dense ones, ~2x faster per step once L0 is ~d_sae / 50."""

    def __post_init__(self):
        at_least(0, "0: adapts to --tokens", batch_size=self.batch_size)
        at_least(1, tokens=self.tokens)
        if self.tokens < self.batch:
            raise ValueError(f"--tokens {self.tokens} is less than one batch (--batch-size {self.batch}; need "
                             f"tokens >= batch_size): raise --tokens or lower --batch-size")
        if not (self.grad_clip >= 0 and math.isfinite(self.grad_clip)):
            raise ValueError(f"--grad-clip must be >= 0 (0 = off), got {self.grad_clip}")
        if self.lr is not None and not self.lr > 0:
            raise ValueError(f"--lr must be > 0, got {self.lr}")
        within(0, 1, lr_warmup=self.lr_warmup, lr_decay=self.lr_decay, sparsity_warmup=self.sparsity_warmup)
        if self.lr_warmup + self.lr_decay > 1:
            raise ValueError(f"--lr-warmup {self.lr_warmup} plus --lr-decay {self.lr_decay} is more than the whole run "
                             f"(both are fractions of it; need lr_warmup + lr_decay <= 1): lower one of them")

    @property
    def batch(self) -> int:
        """The batch the run takes: --batch-size, or for 0 `default_batch_size(tokens)` (resolved here, never stored:
        nested configs are built from a default instance, which would freeze the default's resolution)."""
        return self.batch_size or default_batch_size(self.tokens)

    @property
    def steps(self) -> int:
        return self.tokens // self.batch


@dataclass
class DeadOptions(Options):
    """Dead latents: when a latent counts as dead, and ReLU resampling."""

    dead_window: int = 0
    """Tokens without firing after which a latent counts as dead (AuxK / pre-activation loss, resampling, dead
    fraction); 0: a tenth of the run's tokens, at most 1,000,000 (a window longer than the run marks nothing dead)."""
    resample_every: int = 0
    """ReLU: steps between dead-latent resamplings (Towards Monosemanticity; 0 = off): latents silent for
    --dead-window tokens are re-initialised toward badly reconstructed inputs (saes/relu.py)."""
    resample_until: float = 0.5
    """Fraction of the run after which no more resampling happens (the last fresh latents need steps to settle)."""

    def __post_init__(self):
        at_least(0, "0: a tenth of the run", dead_window=self.dead_window)
        at_least(0, "0: off", resample_every=self.resample_every)
        within(0, 1, resample_until=self.resample_until)


@dataclass
class TrainDataOptions(Options):
    """Where the activations come from (a cache, or the model on the fly) and how they are fed."""

    cache: str = ""
    """Activation cache folder to train from; empty = compute activations on the fly from the model."""
    data_seed: int = 0
    """Seed of the data: toy-world corpus (on the fly) and the shuffling order (both sources)."""
    buffer_docs: int = 128
    """On the fly: documents per shuffle buffer (their activations are shuffled together)."""
    exclude_bos: bool = True
    """Leave out BOS-position activations (outliers that the model never reads as content)."""
    normalize: bool = True
    """Scale activations by sqrt(d_in)/E||x|| (estimated on the first batches, folded into the saved weights)."""

    def __post_init__(self):
        at_least(1, buffer_docs=self.buffer_docs)
        at_least(0, data_seed=self.data_seed)


@dataclass
class TrainOutputOptions(OutputOptions):
    """Where the SAEs go, checkpoints, logging and the final evaluation."""

    out: str = "runs/sae"
    """Output folder: the SAE (one SAE) or one sub-folder per SAE (a sweep). A non-empty folder is only resumed."""
    checkpoint_every: int = 1000
    """Steps between resumable checkpoints (0 = none)."""
    keep_checkpoint: bool = False
    """Keep the last checkpoint (weights + Adam state) after a finished run."""
    log_every: int = 50
    """Steps between training-log lines (train_log.jsonl) and progress-bar updates."""
    eval: bool = True
    """Evaluate every SAE after training and write eval.json beside its weights."""
    eval_tokens: int = 32_768
    """Held-out tokens for the evaluation."""
    progress: bool = True
    """Show a progress bar."""

    def __post_init__(self):
        super().__post_init__()
        at_least(0, checkpoint_every=self.checkpoint_every)
        at_least(1, log_every=self.log_every, eval_tokens=self.eval_tokens)
        fits_memory(TOKEN_BYTES, eval_tokens=self.eval_tokens)  # refused before training, not after it


@dataclass
class TrainModelOptions(ModelOptions):
    """The model whose activations the SAEs read."""

    model: str = ""
    """Model name or folder; default: the model the --cache records, else toy-gelu-s0. A model that disagrees with
    the one the cache records is an error naming both."""


@dataclass
class TrainCorpusOptions(CorpusOptions):
    """The text the model reads on the fly (without --cache) and the final evaluation's held-out text."""


@dataclass
class TrainSAEConfig(Options):
    """Train one SAE, or a sweep of SAEs on the same activations, on one hook of a model."""

    hook: str = ""
    """Hook the SAEs read (TransformerLens name); default: the model's middle layer's MLP output,
    blocks.LAYER.mlp.hook_post with LAYER = n_layers // 2 (of the model the --cache records when one is given)."""
    sae: SAEOptions = field(default_factory=SAEOptions)
    optim: OptimOptions = field(default_factory=OptimOptions)
    dead: DeadOptions = field(default_factory=DeadOptions)
    source: TrainDataOptions = field(default_factory=TrainDataOptions)
    lm: TrainModelOptions = field(default_factory=TrainModelOptions)
    data: TrainCorpusOptions = field(default_factory=TrainCorpusOptions)
    run: RuntimeOptions = field(default_factory=RuntimeOptions)
    output: TrainOutputOptions = field(default_factory=TrainOutputOptions)

    def __post_init__(self):
        users = option_users("resample_every")
        if self.dead.resample_every and not set(users) & set(self.sae.arch):
            raise ValueError(f"--resample-every is for {'/'.join(users)} SAEs (the others revive latents with AuxK "
                             f"or --pre-act-coefficient)")

    @property
    def steps(self) -> int:
        return self.optim.steps

    @property
    def dead_window(self) -> int:
        """--dead-window, or a tenth of the run's tokens (at most 1,000,000) when it is 0."""
        return self.dead.dead_window or max(self.optim.batch, min(1_000_000, self.optim.tokens // 10))

    @property
    def threshold_lr(self) -> float:
        """EMA rate of BatchTopK's inference threshold: 0.01 (SAELens's), faster for runs too short for 0.01 to
        forget its first batches (the EMA's horizon is kept under a twentieth of the run)."""
        return min(1.0, max(0.01, 20 / max(self.steps, 1)))


@dataclass(frozen=True)
class SAESpec:
    """One point of the sweep grid."""

    arch: str
    d_sae: int
    seed: int
    k: int | None
    coefficient: float
    """λ, the L1 or L0 coefficient of a kind whose sparsity a coefficient sets; 0 where k sets it."""
    lr: float

    @property
    def name(self) -> str:
        """ARCH-dD_SAE-SPARSITY-sSEED, the sparsity part as the architecture's kind labels it."""
        return f"{self.arch}-d{self.d_sae}-{kind(self.arch).sweep_label.format(**asdict(self))}-s{self.seed}"


MIN_STEPS = 256
"""Fewest optimiser steps the default batch size aims for. Measured on toy-gelu-s0 (d_mlp 512, d_sae 2048, 300k
tokens, every architecture's defaults): batch 4096 (73 steps) ends at R² 0.83-0.88, batch 1024 (292 steps) at
0.91-0.95 with CE loss recovered >= 0.99 (tests/integration/test_sae_defaults.py)."""


def default_batch_size(tokens: int, largest: int = 4096, smallest: int = 256) -> int:
    """The batch of `--batch-size 0`: `largest` when tokens // largest >= MIN_STEPS, else the largest power of two
    giving MIN_STEPS steps, never below `smallest` (nor above tokens)."""
    batch = largest
    while batch > smallest and tokens // batch < MIN_STEPS:
        batch //= 2
    return max(1, min(batch, tokens))


def default_lr(d_sae: int) -> float:
    """2e-4 / sqrt(d_sae / 2^14) (Gao et al. 2024, for Adam)."""
    return 2e-4 / math.sqrt(d_sae / 2**14)


def expand_grid(cfg: TrainSAEConfig) -> list[SAESpec]:
    """Every SAE of the sweep, in a fixed order (arch, d_sae, k or coefficient, seed)."""
    specs = []
    for arch in cfg.sae.arch:
        option = architecture(arch).sparsity_option
        assert option in SWEEP_OPTIONS, f"{arch} declares the sparsity option {option!r}, not one of {SWEEP_OPTIONS}"
        by_k = option == "k"  # a count of latents, or a loss coefficient
        for d_sae in cfg.sae.d_sae:
            lr = cfg.optim.lr if cfg.optim.lr is not None else default_lr(d_sae)
            for opt in getattr(cfg.sae, option):
                for seed in cfg.sae.seed:
                    specs.append(SAESpec(arch, d_sae, seed, int(opt) if by_k else None, 0.0 if by_k else opt, lr))
    return specs
