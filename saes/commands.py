"""The `interp` commands of the saes package (apps/cli.py picks them up); configs only, nothing heavy imported."""

from __future__ import annotations

from interp.commands import Command


def commands() -> list[Command]:
    from saes.snmf_config import SNMFConfig

    return [
        Command("snmf", SNMFConfig, "saes.snmf_run:main",
                "Semi-nonnegative factorisation of one layer's MLP activations (full-batch or streaming), resumable; "
                "writes snmf.safetensors/json and eval.json."),
    ]
