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


def _small_tmpfs(path, size: str, options: str = ""):
    path.mkdir()
    if os.geteuid() != 0 or os.system(f"mount -t tmpfs -o size={size}{options} tmpfs {path} 2>/dev/null") != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    return path


@pytest.fixture
def small_disk(tmp_path):
    """A real 6 MiB file system (tmpfs), where the machine lets us mount one (root in CI's container)."""
    mnt = _small_tmpfs(tmp_path / "small", "6m")
    yield mnt
    os.system(f"umount {mnt}")


@pytest.fixture
def read_only_disk(tmp_path):
    """A real read-only file system (tmpfs mounted ro), where the machine lets us mount one."""
    mnt = _small_tmpfs(tmp_path / "ro", "1m", ",ro")
    yield mnt
    os.system(f"umount {mnt}")

