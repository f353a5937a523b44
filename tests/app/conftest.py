"""A small explorer workspace, built once per test session through `interp workspace build` with tiny settings."""

from __future__ import annotations

import pytest

TINY = ["--cache-tokens", "4096", "--sae-tokens", "4096", "--sae-batch-size", "512", "--d-sae", "128", "--k", "8",
        "--snmf-k", "12", "--snmf-tokens", "2048", "--neuron-tokens", "1024", "--universal-tokens", "1024",
        "--universal-models", "toy-gelu-s0", "toy-gelu-s1", "--steer-concepts", "colour:red", "--ioi-prompts", "3",
        "--examples-per-bin", "3", "--archs", "relu", "topk"]
"""Two SAE architectures, an SNMF, neurons, two seeds: every page has something to show, in well under a minute."""


@pytest.fixture(scope="session")
def workspace(tmp_path_factory):
    """Path of the built tiny workspace (do not modify it; copy what a test corrupts)."""
    import torch

    from apps.cli import main

    torch.set_num_threads(1)
    import os
    from pathlib import Path

    # INTERP_TEST_WORKSPACE: build into (and reuse) this folder; the build is resumable, so a rerun takes seconds
    keep = os.environ.get("INTERP_TEST_WORKSPACE")
    root = Path(keep) if keep else tmp_path_factory.mktemp("explorer") / "workspace"
    assert main(["workspace", "build", "--out", str(root), *TINY]) == 0
    return root
