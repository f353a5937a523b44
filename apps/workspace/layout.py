"""The folder layout of a workspace and the dictionaries it holds: the builder (apps.workspace.build) writes
these paths and the explorer's pages read them, so pages never import the builder.

Every build step writes one sub-folder (and is skipped when its artifact validates):

    cache/                      activation cache of MODEL at HOOK (interp cache)
    saes/<arch>-d.../           one SAE per architecture (interp train-sae sweep, SAELens format + eval.json)
    snmf/                       SNMF of the same layer (interp snmf)
    features/<dictionary>/      precomputed feature pages (features.json + features.safetensors)
    neurons/<model>/            neuron statistics (interp neurons) + examples.json/safetensors (top examples)
    universal/                  universal neurons across the GELU seeds (interp universal) + correlates
    steering/                   steering benchmark (interp steer-bench: bench.json)
    patching/                   IOI patching: activation/, attribution/, relp/, relp_ah/ + faithfulness.json
    workspace.json              what was built, with which settings, and how long each step took
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SAE_PREFIX = "sae-"


@dataclass(frozen=True)
class Layout:
    """Paths inside a workspace folder."""

    root: Path

    @property
    def cache(self) -> Path:
        return self.root / "cache"

    @property
    def saes(self) -> Path:
        return self.root / "saes"

    @property
    def snmf(self) -> Path:
        return self.root / "snmf"

    @property
    def features(self) -> Path:
        return self.root / "features"

    @property
    def neurons(self) -> Path:
        return self.root / "neurons"

    @property
    def universal(self) -> Path:
        return self.root / "universal"

    @property
    def steering(self) -> Path:
        return self.root / "steering"

    @property
    def patching(self) -> Path:
        return self.root / "patching"

    @property
    def manifest(self) -> Path:
        return self.root / "workspace.json"


def sae_folders(layout: Layout) -> dict[str, Path]:
    """arch -> SAE folder (cfg.json) under saes/ (a sweep's sub-folders, or saes/ itself for one SAE)."""
    if not layout.saes.is_dir():
        return {}
    from interp.dictionary import info

    found = [p for p in [layout.saes, *sorted(layout.saes.iterdir())] if (p / "cfg.json").is_file()]
    return {info(p).arch: p for p in found}


def dictionary_folders(layout: Layout) -> dict[str, Path]:
    """Explorer name ("sae-topk", "snmf") -> dictionary folder, for what exists."""
    out = {f"{SAE_PREFIX}{a}": p for a, p in sae_folders(layout).items()}
    if (layout.snmf / "snmf.json").is_file():
        out["snmf"] = layout.snmf
    return out
