"""The `interp` commands of apps (they may import saes and circuits); configs only, nothing heavy imported."""

from __future__ import annotations

from interp.commands import Command


def commands() -> list[Command]:
    from apps.workspace.config import ExploreConfig, WorkspaceBuildConfig

    return [
        Command("workspace build", WorkspaceBuildConfig, "apps.workspace.build:main",
                "Build everything the explorer shows for one model and corpus (default: the toy-gelu-s0 toy model on "
                "the toy world) into one folder: cache, SAEs, SNMF, feature pages, neurons, universal neurons, "
                "steering, IOI patching; resumable. Steps a model cannot run are skipped with the reason."),
        Command("explore", ExploreConfig, "apps.explorer.launch:main",
                "Open the Streamlit explorer on a workspace (binds 127.0.0.1 by default)."),
    ]
