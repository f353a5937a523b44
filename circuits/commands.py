"""CLI commands of the circuits package (picked up by apps/cli.py)."""

from __future__ import annotations

from interp.commands import Command


def commands() -> list[Command]:
    from .config import PatchCompareConfig, PatchConfig
    from .patching.methods import estimators, ground_truth

    return [
        Command("patch", PatchConfig, "circuits.cli:patch_main",
                "Activation / attribution / relevance patching of a model on a task; writes scores and a summary."),
        Command("patch-compare", PatchCompareConfig, "circuits.cli:compare_main",
                f"Pearson table of {', '.join(m.label for m in estimators())} against {ground_truth().label}."),
    ]
