"""Configs of the toy-world commands (kept free of torch so the CLI builds its parser quickly)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from interp.options import (
    TOKEN_BYTES,
    ModelOptions,
    Options,
    OutputOptions,
    RuntimeOptions,
    at_least,
    fits_memory,
    not_identity,
)

WorldName = Literal["toy1", "toy2"]
"""The worlds the toy commands offer (the CLI's choices; a test checks they are `interp.worlds.world_names()`)."""


@dataclass
class ToyTrainOutput(OutputOptions):
    """Where the trained model goes."""

    out: str = ""
    """Output folder; default runs/models/toy-{act}-s{seed}."""


TOY1_RECIPE = dict(world="toy1", tokens=10_000_000, batch_size=32, lr=1e-3, n_ctx=128, positions="learned",
                   tie_embeddings=False, mix="")
"""Options of the toy1 models (toy1-gelu-s0 ...): `interp toyworld train --world toy1 --tokens 10000000
--batch-size 32 --lr 0.001 --n-ctx 128 --positions learned --notie-embeddings --mix ""`."""


@dataclass
class ProSparseOptions(Options):
    """ProSparse (Song et al. 2024): train a ReLU model (usually one converted from GELU by --init-from) with an L1
    penalty on its MLP activations whose factor rises in stages, then shift the activation threshold."""

    prosparse: bool = False
    """Train with ProSparse: --tokens is split evenly into a first stage without penalty (the activation swap
    settles) and one stage per --l1-peaks entry, in which the factor of the penalty lambda * sum_i |a_i| (summed over
    layers and neurons, averaged over tokens) rises along a sine curve from the previous peak to this one; finally
    the ReLU becomes FATReLU with --act-threshold. Needs --act relu; held-out loss and sparsity are logged and put in
    the card after each stage."""
    l1_peaks: str = "1e-4,3e-4,1e-3"
    """The L1 factor each ProSparse stage ends at, comma-separated and non-decreasing."""
    act_threshold: float = 0.01
    """FATReLU threshold of ProSparse's last step: activations below it become exactly 0 (0: none)."""

    def peaks(self) -> tuple[float, ...]:
        try:
            peaks = tuple(float(v) for v in self.l1_peaks.split(",") if v.strip())
        except ValueError:
            peaks = ()
        if not peaks or any(p <= 0 for p in peaks) or list(peaks) != sorted(peaks):
            raise ValueError(f"--l1-peaks {self.l1_peaks!r} is not a comma-separated list of positive, non-decreasing "
                             f"factors: write e.g. --l1-peaks 1e-4,3e-4,1e-3")
        return peaks


@dataclass
class ToyTrainConfig(Options):
    """Training run of one toy model."""

    seed: int = 0
    """Model seed: initialisation and data. The shipped toy-gelu-sN / toy-relu-sN used seed N, except toy-gelu-s1
    (seed 4: seed 1 did not learn IOI; data/models/README.md)."""
    world: WorldName = "toy2"
    """Toy world to train on: toy2 (the compositional world) or toy1 (the first models' world). The defaults below
    are the toy2 recipe; `TOY1_RECIPE` gives the toy1 models' options."""
    act: Literal["gelu", "relu", "relu2", "drelu"] = "gelu"
    """MLP activation (interp.mlp_variants): gelu, relu, relu2 (ReLU squared, "ReLU² Wins") or drelu (a gated MLP
    with ReLU on both the gate and the up branch and RMSNorm, "Turbo Sparse"). With --init-from, a model of another
    activation has it swapped for this one (ProSparse: --init-from toy-gelu-s0 --act relu)."""
    tokens: int = 8_000_000
    """Training tokens (with the toy2 recipe IOI on held-out forms appears abruptly at ~3-4M tokens)."""
    batch_size: int = 64
    """Documents per step (each n_ctx tokens)."""
    lr: float = 3e-3
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
    n_ctx: int = 64
    """Context length (tokens per training row; documents are packed)."""
    positions: Literal["learned", "rotary"] = "rotary"
    """Position encoding: learned absolute embeddings (GPT-2, the toy1 models) or rotary (RoPE on queries and keys;
    toy2 models learn IOI on unseen forms with it, see data/models/README.md)."""
    tie_embeddings: bool = True
    """Train with the unembedding tied to the embedding (W_U = W_E^T, as GPT-2); the saved model holds W_U as an
    ordinary untied copy, so it loads and is analysed like any other."""
    mix: str = "ioi=0.75,repeat=0.3"
    """Corpus family weights replacing the world's defaults (relative weights, as in `interp toyworld generate
    --mix`; "" trains on the world's default mix). The recipe's IOI- and repeat-heavy mix is what the models need
    to learn IOI in a CPU budget; held-out loss is measured on the default mix."""
    init_from: str = ""
    """A toy model (a shipped name such as toy-gelu-s0, or a folder) whose unprocessed weights the run starts from
    instead of a fresh initialisation; its world, sizes, context and positions must be this run's."""
    sparse: ProSparseOptions = field(default_factory=ProSparseOptions)
    checkpoint_every: int = not_identity(500)
    """Steps between resumable checkpoints."""
    compile: bool = not_identity(False)
    """torch.compile the training forward and backward: ~1.5x the tokens/s on a CPU after a compile of 1-2
    minutes (needs a C compiler); the weights differ from an eager run only in floating-point detail."""
    run: RuntimeOptions = field(default_factory=RuntimeOptions)
    output: ToyTrainOutput = field(default_factory=ToyTrainOutput)

    def __post_init__(self):
        if self.tokens < self.batch_size * self.n_ctx:
            raise ValueError(f"--tokens {self.tokens} is less than one batch (--batch-size {self.batch_size} x --n-ctx "
                             f"{self.n_ctx}): raise --tokens or lower --batch-size")
        at_least(1, d_model=self.d_model, n_heads=self.n_heads)
        if self.d_model % self.n_heads:
            raise ValueError(f"--d-model {self.d_model} is not divisible by --n-heads {self.n_heads}: give a multiple")
        if not self.lr > 0:
            raise ValueError(f"--lr must be > 0, got {self.lr}")
        at_least(1, batch_size=self.batch_size, n_layers=self.n_layers, d_mlp=self.d_mlp)
        at_least(0, seed=self.seed, warmup_steps=self.warmup_steps, weight_decay=self.weight_decay,
                 checkpoint_every=self.checkpoint_every)
        self.corpus()  # unknown families, bad weights: one-line errors now, not at the first batch
        at_least(0, "0: none", act_threshold=self.sparse.act_threshold)  # checked with or without --prosparse
        self.sparse.peaks()
        if self.sparse.prosparse:
            if self.act != "relu":
                raise ValueError(f"--prosparse trains a ReLU model, not --act {self.act}: add --act relu")
            if self.steps < len(self.sparse.peaks()) + 1:
                raise ValueError(f"--tokens {self.tokens} gives {self.steps} steps, fewer than ProSparse's "
                                 f"{len(self.sparse.peaks()) + 1} stages: raise --tokens")

    def corpus(self):
        """The training corpus: the world's documents with this run's seed, context and mix."""
        from .corpus import CorpusConfig

        return CorpusConfig(seed=self.seed, n_ctx=self.n_ctx, world=self.world, mix=parse_mix(self.mix))

    @property
    def name(self) -> str:
        return f"toy-{'prosparse' if self.sparse.prosparse else self.act}-s{self.seed}"

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
    n_ctx: int = 64
    """Tokens per document, BOS included (64: the toy-* models' context; the toy1-* models' is 128)."""
    world: WorldName = "toy2"
    """Toy world: toy2 (the compositional world of the toy-* models) or toy1 (the toy1-* models' world)."""
    mix: str = ""
    """Family weights replacing the world's defaults, as family=weight,... (e.g. ioi=0.5,story=0)."""
    ioi_forms: str = ""
    """toy2 only: comma-separated IOI forms to restrict IOI sentences to (interp.worlds.toy2.forms.FORMS)."""
    output: GenerateOutput = field(default_factory=GenerateOutput)

    def __post_init__(self):
        at_least(1, tokens=self.tokens)
        fits_memory(TOKEN_BYTES, tokens=self.tokens)  # the whole corpus is generated in memory, then written
        at_least(0, seed=self.seed)
        from .corpus import CorpusConfig  # numpy only: checks the families and forms at parse time

        CorpusConfig(n_ctx=self.n_ctx, split=self.split, world=self.world, mix=self.mix_weights(),
                     ioi_forms=self.forms())

    def mix_weights(self) -> dict[str, float]:
        return parse_mix(self.mix)

    def forms(self) -> tuple[str, ...]:
        return tuple(f.strip() for f in self.ioi_forms.split(",") if f.strip())


def parse_mix(text: str) -> dict[str, float]:
    """ "ioi=0.5,story=0" -> {"ioi": 0.5, "story": 0.0}; a malformed entry is a one-line error saying the format."""
    out: dict[str, float] = {}
    for entry in filter(None, (e.strip() for e in text.split(","))):
        name, sep, value = entry.partition("=")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep or not name.strip():
            raise ValueError(f"--mix entry {entry!r} is not family=weight: write e.g. --mix ioi=0.5,story=0")
    return out


@dataclass
class ToyEvalModel(ModelOptions):
    """The toy model to evaluate."""

    model: str = "toy-gelu-s0"
    """A shipped toy model (toy-gelu-s0 ...) or a toy model folder; its vocabulary says which world it is of."""


@dataclass
class ToyEvalConfig(Options):
    """IOI on held-out surface forms and held-out names: accuracy (logit[IO] > logit[S] at the final "to") and mean
    logit difference, per form and name order."""

    n_prompts: int = 60
    """Prompts per held-out form and name order (the held-out names get twice this many in all)."""
    seed: int = 0
    """Seed of the prompts' names, places and objects."""
    batch_size: int = 128
    """Prompts per forward pass."""
    lm: ToyEvalModel = field(default_factory=ToyEvalModel)
    run: RuntimeOptions = field(default_factory=RuntimeOptions)

    def __post_init__(self):
        at_least(1, n_prompts=self.n_prompts, batch_size=self.batch_size)
        at_least(0, seed=self.seed)
