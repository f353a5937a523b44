"""The `interp` commands of apps (they may import saes and circuits); configs only, nothing heavy imported."""

from __future__ import annotations

from interp.commands import Command


def commands() -> list[Command]:
    from apps.steer_bench_config import SteerBenchConfig

    return [
        Command("steer-bench", SteerBenchConfig, "apps.steer_bench:main",
                "Ground-truth steering benchmark on the toy world: best SAE feature per architecture, best SNMF "
                "feature, best neuron and diff-in-means per concept at a fixed KL budget; JSON + figure."),
    ]
