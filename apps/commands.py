"""The `interp` commands of apps (they may import saes and circuits); configs only, nothing heavy imported."""

from __future__ import annotations

from interp.commands import Command


def commands() -> list[Command]:
    from apps.steer_bench_config import SteerBenchConfig
    from apps.workspace_config import ExploreConfig, WorkspaceBuildConfig

    return [
        Command("steer-bench", SteerBenchConfig, "apps.steer_bench:main",
                "Ground-truth steering benchmark on the toy world: best SAE feature per architecture, best SNMF "
                "feature, best neuron and diff-in-means per concept at a fixed KL budget; JSON + figure."),
        Command("workspace build", WorkspaceBuildConfig, "apps.workspace:main",
                "Build everything the explorer shows for the shipped toy models (cache, SAEs, SNMF, feature pages, "
                "neurons, universal neurons, steering, IOI patching) into one folder; resumable."),
        Command("explore", ExploreConfig, "apps.explore:main",
                "Open the Streamlit explorer on a workspace (binds 127.0.0.1 by default)."),
    ]
