"""Config of `interp eval-sae` (free of torch so the CLI builds its parser quickly)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass
class EvalSAEConfig:
    """Evaluate a saved SAE (SAELens-format folder) and write eval.json beside its weights."""

    sae: str = ""
    """SAE folder (cfg.json + sae_weights.safetensors)."""
    model: str = ""
    """Model to splice the SAE into; default: the model recorded in the SAE's cfg.json."""
    hook: str = ""
    """Hook the SAE reads; default: the hook recorded in the SAE's cfg.json."""
    compare: str = ""
    """Another SAE folder (e.g. another seed): adds seed stability (share of latents with a decoder-cosine match)."""
    tokens: int = 32_768
    """Held-out toy-world tokens to evaluate on (BOS positions left out)."""
    ground_truth_tokens: int = 8192
    """How many of those tokens score latents against the toy world's concept labels (AUROC, F1)."""
    seed: int = 0
    """Seed of the held-out toy-world text."""
    n_ctx: int = 128
    """Tokens per document, BOS included."""
    device: Literal["auto", "cpu", "cuda"] = "auto"
    """Where to run the model and the SAE."""
    out: str = ""
    """Where to write the report; default: eval.json in the SAE folder."""

    def __post_init__(self):
        if not self.sae:
            raise ValueError("give the SAE folder to evaluate with --sae FOLDER")
        if self.tokens < 1 or self.ground_truth_tokens < 0 or self.n_ctx < 3:
            raise ValueError("need tokens >= 1, ground_truth_tokens >= 0 and n_ctx >= 3")
