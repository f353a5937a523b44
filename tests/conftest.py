"""Shared test set-up: no hub lookups (each would stall ~20 s offline) and cached shipped models."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# The shipped dictionaries (data/dictionaries) change as converged ones are added: tests see none unless they ship
# their own into a folder they name (tests/unit/test_shipped_dictionaries.py checks the real folder explicitly), so a
# workspace built by a test does not grow with what is shipped.
os.environ.setdefault("INTERP_DICTIONARIES",
                      os.path.join(os.environ.get("TMPDIR", "/tmp"), "interp-tests-none-shipped"))

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def toy_model():
    """The shipped toy-gelu-s0 model, loaded once per session (do not modify its weights)."""
    from interp.models import load_model

    return load_model("toy-gelu-s0")


@pytest.fixture(scope="session")
def toy1_model():
    """The shipped toy1-gelu-s0 model (toy world 1: 494 words, n_ctx 128), loaded once per session."""
    from interp.models import load_model

    return load_model("toy1-gelu-s0")


@pytest.fixture(scope="session")
def toy2_model(tmp_path_factory):
    """A random two-layer model of the toy2 vocabulary, saved as a toy model folder of world toy2 (its path)."""
    from transformer_lens import HookedTransformer

    from interp.models import save_toy_model, toy_config
    from interp.worlds.toy.corpus import vocabulary
    from interp.worlds.toy.tokenizer import build_tokenizer

    root = tmp_path_factory.mktemp("toy2")
    tok = build_tokenizer(root / "tok", "toy2")
    cfg = toy_config("gelu", 0, len(vocabulary("toy2")), n_layers=2, d_model=32, n_heads=2, d_mlp=64, n_ctx=64)
    return save_toy_model(HookedTransformer(cfg, tokenizer=tok, move_to_device=False), root / "m", world="toy2")


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

