"""Shared test set-up: no hub lookups (each would stall ~20 s offline) and cached shipped models."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def toy_model():
    """The shipped toy-gelu-s0 model, loaded once per session (do not modify its weights)."""
    from interp.models import load_model

    return load_model("toy-gelu-s0")


@pytest.fixture(scope="module")
def one_torch_thread():
    """One torch thread for a module: on 2 shared cores, two threads spin on each other and run ~20x slower."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
