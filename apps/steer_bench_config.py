"""Config of `interp steer-bench` (free of torch so the CLI builds its parser quickly)."""

from __future__ import annotations

from dataclasses import dataclass, field

CONCEPTS = ["colour:red", "colour:blue", "gender:female", "gender:male", "category:animal", "category:food",
            "category:place", "category:number", "number:3"]


@dataclass
class SteerBenchConfig:
    """Ground-truth steering benchmark on the toy world: SAE features vs SNMF features vs neurons vs diff-in-means."""

    dictionaries: list[str] = field(default_factory=list)
    """SAE folders (SAELens format: cfg.json + sae_weights.safetensors) and SNMF folders (snmf.json)."""
    model: str = "toy-gelu-s0"
    """Model the dictionaries were trained on."""
    concepts: list[str] = field(default_factory=lambda: list(CONCEPTS))
    """Toy-world concepts field:value to steer toward."""
    kl_budget: float = 0.5
    """KL(base || steered) at the last token of the calibration prompt that fixes each direction's alpha."""
    n_docs: int = 64
    """Held-out documents for AUROCs (picking the best feature / neuron), diff-in-means and input scores."""
    gen_tokens: int = 12
    """Greedy tokens generated per prompt for the generation metrics."""
    output_quantile: float = 0.5
    """Output-score filter: SAE features below this quantile of the SAE's output scores are dropped."""
    out: str = "runs/steer-bench"
    """Output folder: bench.json (schema, settings, rows, summary), bench.safetensors, figure.html/json."""
    figure: str = ""
    """Also write the plotly figure here (HTML; the JSON spec goes beside it), e.g. docs/figures/steering.html."""

    def __post_init__(self):
        if not self.dictionaries:
            raise ValueError("give at least one --dictionaries FOLDER (SAE or SNMF)")
        if not self.kl_budget > 0 or self.n_docs < 2 or self.gen_tokens < 1:
            raise ValueError("need --kl-budget > 0, --n-docs >= 2 and --gen-tokens >= 1")
        if not 0 <= self.output_quantile < 1:
            raise ValueError(f"--output-quantile must be in [0, 1), got {self.output_quantile}")
        bad = [c for c in self.concepts if ":" not in c]
        if bad or not self.concepts:
            raise ValueError(f"concepts are written field:value, got {bad or '(none)'}")
