"""Configs of `interp steer` and `interp steer-bench` (free of torch so the CLI builds its parser quickly)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..options import (
    DOC_BYTES,
    Options,
    OutputOptions,
    RecordedModelOptions,
    RuntimeOptions,
    at_least,
    check_output_path,
    fits_memory,
)

DEFAULT_CONCEPTS = ("colour:red", "colour:blue", "gender:female", "gender:male", "category:animal", "category:food",
                    "category:place", "category:number", "number:3")
"""Toy-world concepts the steering benchmark steers toward by default."""


@dataclass
class SteerModelOptions(RecordedModelOptions):
    """The model to steer; with --dictionary by default the model the dictionary records, else toy-gelu-s0."""


@dataclass
class SteerOutput(OutputOptions):
    """Where the steering artifact goes."""

    out: str = ""
    """Optional folder for the steering artifact (steering.safetensors + steering.json)."""


@dataclass
class SteerConfig(Options):
    """Steer a model along one direction and compare base and steered generations."""

    hook: str = ""
    """Hook to steer at (TransformerLens name). Optional with --dictionary (its hook) or --neuron (mlp.hook_post)."""
    feature: int = -1
    """Feature index of --dictionary; without --dictionary, basis direction FEATURE of --hook (at an mlp.hook_post
    hook that is neuron FEATURE)."""
    dictionary: str = ""
    """SAE folder (SAELens format) or SNMF folder whose feature --feature to steer with."""
    neuron: str = ""
    """Steer with MLP neuron LAYER:INDEX (one-hot at blocks.LAYER.mlp.hook_post)."""
    concept: str = ""
    """Steer with the difference-in-means direction of a toy-world concept (e.g. gender:female) at --hook."""
    alpha: float | None = None
    """Steering strength: alpha times the unit direction is added at every position."""
    kl_target: float | None = None
    """Instead of --alpha: calibrate alpha so KL(base || steered) at the prompt's last token equals this."""
    alpha_max: float | None = None
    """Upper end of the calibration range (default: 20x the mean activation norm at the hook on the prompt)."""
    prompt: str = "The"
    """Prompt to continue."""
    max_new_tokens: int = 20
    """Tokens to generate."""
    temperature: float = 0.0
    """0: greedy; > 0: sample with --seed."""
    seed: int = 0
    """Sampling seed."""
    top_k: int = 10
    """Promoted / suppressed tokens to list."""
    lm: SteerModelOptions = field(default_factory=SteerModelOptions)
    run: RuntimeOptions = field(default_factory=RuntimeOptions)
    output: SteerOutput = field(default_factory=SteerOutput)

    def __post_init__(self):
        if self.feature < -1:  # -1 is the default, "no feature"; below it is a bad index, not a missing one
            raise ValueError(f"--feature is a feature index and must be >= 0, got {self.feature}")
        sources = [self.feature >= 0 or bool(self.dictionary), bool(self.neuron), bool(self.concept)]
        if sum(sources) != 1:
            raise ValueError("give exactly one direction: --feature (with --dictionary or --hook), --neuron, or "
                             "--concept (with --hook)")
        if self.dictionary and self.feature < 0:
            raise ValueError("--dictionary needs --feature INDEX")
        if (self.concept or (self.feature >= 0 and not self.dictionary)) and not self.hook:
            raise ValueError("--concept and --feature without --dictionary need --hook")
        if (self.alpha is None) == (self.kl_target is None):
            raise ValueError("give exactly one of --alpha and --kl-target")
        if self.alpha is not None and not math.isfinite(self.alpha):
            raise ValueError(f"--alpha must be finite, got {self.alpha}")
        if self.kl_target is not None and not self.kl_target > 0:
            raise ValueError(f"--kl-target must be > 0, got {self.kl_target}")
        at_least(0, max_new_tokens=self.max_new_tokens, temperature=self.temperature, seed=self.seed)
        at_least(1, top_k=self.top_k)
        if self.alpha_max is not None and not self.alpha_max > 0:
            raise ValueError(f"--alpha-max must be > 0, got {self.alpha_max}")


@dataclass
class BenchModelOptions(RecordedModelOptions):
    """The model the dictionaries were trained on; by default the one they record (they must agree)."""


@dataclass
class BenchOutput(OutputOptions):
    """Where the benchmark goes."""

    out: str = "runs/steer-bench"
    """Output folder: bench.json (schema, settings, rows, summary), bench.safetensors, figure.html/json."""


@dataclass
class SteerBenchConfig(Options):
    """Ground-truth steering benchmark on the toy world: SAE features vs SNMF features vs neurons vs diff-in-means."""

    dictionaries: list[str] = field(default_factory=list)
    """Dictionary folders: SAEs (SAELens format: cfg.json + sae_weights.safetensors) and SNMF (snmf.json)."""
    concepts: list[str] = field(default_factory=lambda: list(DEFAULT_CONCEPTS))
    """Toy-world concepts field:value to steer toward."""
    kl_budget: float = 0.5
    """KL(base || steered) at the last token of the calibration prompt that fixes each direction's alpha."""
    n_docs: int = 64
    """Held-out documents for AUROCs (picking the best feature / neuron), diff-in-means and input scores."""
    gen_tokens: int = 12
    """Greedy tokens generated per prompt for the generation metrics."""
    output_quantile: float = 0.5
    """Output-score filter: SAE features below this quantile of the SAE's output scores are dropped."""
    figure: str = ""
    """Also write the plotly figure here (HTML; the JSON spec goes beside it), e.g. docs/figures/steering.html."""
    lm: BenchModelOptions = field(default_factory=BenchModelOptions)
    run: RuntimeOptions = field(default_factory=RuntimeOptions)
    output: BenchOutput = field(default_factory=BenchOutput)

    def __post_init__(self):
        if not self.dictionaries:
            raise ValueError("give at least one --dictionaries FOLDER (SAE or SNMF)")
        if not self.kl_budget > 0:
            raise ValueError(f"--kl-budget must be > 0, got {self.kl_budget}")
        at_least(2, n_docs=self.n_docs)
        fits_memory(DOC_BYTES, n_docs=self.n_docs)
        at_least(1, gen_tokens=self.gen_tokens)
        check_output_path(self.figure, "--figure", folder=False, empty_ok=True)
        if not 0 <= self.output_quantile < 1:
            raise ValueError(f"--output-quantile must be in [0, 1), got {self.output_quantile}")
        bad = [c for c in self.concepts if ":" not in c]
        if bad or not self.concepts:
            raise ValueError(f"concepts are written field:value, got {bad or '(none)'}")
