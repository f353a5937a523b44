"""Configs of the circuits commands (kept free of torch so the CLI builds its parser quickly)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

COMPONENT_NAMES = ("resid_pre", "resid_mid", "attn_out", "mlp_out", "mlp", "head_out", "head_q", "head_k", "head_v",
                   "head_pattern", "head_out_by_pos", "head_q_by_pos", "head_k_by_pos", "head_v_by_pos",
                   "head_pattern_by_pos", "neuron")
"""Must equal circuits.patching.components.COMPONENTS (a test checks)."""


@dataclass
class TaskOptions:
    """Which task to build and how many prompts."""

    model: str = "toy-gelu-s0"
    """Shipped toy model name, model folder, or TransformerLens model name."""
    task: Literal["ioi", "gender", "colour"] = "ioi"
    """Task: IOI, gender-pronoun agreement or object-colour facts from the toy world."""
    corruption: Literal["abc", "swap"] = "abc"
    """IOI corruption: three new names (abc) or IO and S exchanged (swap); ignored by other tasks."""
    n_prompts: int = 32
    """Number of clean / corrupted prompt pairs."""
    seed: int = 0
    """Prompt sampling seed (held-out name and template combinations)."""

    def __post_init__(self):
        if self.n_prompts < 1:
            raise ValueError(f"n_prompts must be >= 1, got {self.n_prompts}")


@dataclass
class PatchConfig(TaskOptions):
    """Patch a model on a task with one method and write the scores (safetensors) and a JSON summary."""

    method: Literal["activation", "attribution", "relp", "relp_ah"] = "activation"
    """Activation patching, attribution patching (AtP), RelP, or RelP with the AH-rule."""
    components: list[str] = field(default_factory=lambda: ["resid_pre", "attn_out", "mlp_out", "head_out"])
    """Components to score (see circuits.patching.components)."""
    out: str = "runs/patch"
    """Output folder (scores.safetensors + summary.json)."""

    def __post_init__(self):
        super().__post_init__()
        bad = [c for c in self.components if c not in COMPONENT_NAMES]
        if bad or not self.components:
            raise ValueError(f"unknown component(s) {bad or '(none given)'}; choose from {', '.join(COMPONENT_NAMES)}")


@dataclass
class PatchCompareConfig(TaskOptions):
    """Pearson correlation and magnitude recovery of AtP, RelP and RelP+AH against activation patching."""

    out: str = ""
    """Optional JSON file for the table (printed either way)."""
