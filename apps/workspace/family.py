"""Which models a workspace compares with --model: the seeds and the ReLU model of a shipped toy model's own family
(never a mix of worlds), or the seeds the user gives (--universal-models)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .config import WorkspaceBuildConfig

TOY_SEEDS = ["toy-gelu-s0", "toy-gelu-s1", "toy-gelu-s2", "toy-gelu-s3"]
TOY_RELU = "toy-relu-s0"


def is_toy(name: str) -> bool:
    from interp.models import shipped_models

    return name in shipped_models()


def toy_family(name: str) -> list[str]:
    """The shipped seeds of `name`'s family: toy-gelu-s0 -> toy-gelu-s0..s3 and toy-relu-s0, toy1-gelu-s2 -> the
    toy1-* ones (never a mix of worlds); [] for a model that is not a shipped toy model."""
    from interp.models import shipped_models

    if not is_toy(name):
        return []
    prefix = name.split("-")[0]
    names = [f"{prefix}-{m.split('-', 1)[1]}" for m in (*TOY_SEEDS, TOY_RELU)]
    return [m for m in names if m in shipped_models()]


def neuron_models(cfg: WorkspaceBuildConfig) -> list[str]:
    """--model, and with a shipped toy model also the ReLU model of its family (the explorer compares GELU and ReLU
    neurons)."""
    relu = [m for m in toy_family(cfg.lm.model) if "-relu-" in m and m != cfg.lm.model]
    return [cfg.lm.model, *relu]


def universal_models(cfg: WorkspaceBuildConfig) -> list[str]:
    """--universal-models, or with a shipped toy model the GELU seeds of its family."""
    return list(cfg.universal_models) or [m for m in toy_family(cfg.lm.model) if "-gelu-" in m]
