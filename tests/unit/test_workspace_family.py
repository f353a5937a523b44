"""The workspace compares a shipped toy model with the other seeds and the ReLU model of its own family only."""

from __future__ import annotations

import shutil

import pytest

import interp.models as M
from apps.workspace import family
from apps.workspace.config import WorkspaceBuildConfig


@pytest.fixture
def two_families(tmp_path, monkeypatch):
    """A models folder with the shipped toy-* family and a copy of two of them as an older toy1-* family."""
    for name in (*family.TOY_SEEDS, family.TOY_RELU):
        shutil.copytree(M.MODELS_DIR / name, tmp_path / name)
    for name in ("toy1-gelu-s0", "toy1-relu-s0"):
        shutil.copytree(M.MODELS_DIR / name.replace("toy1-", "toy-"), tmp_path / name)
    monkeypatch.setattr(M, "MODELS_DIR", tmp_path)


def test_the_family_of_a_model_is_its_own_world(two_families):
    cfg = WorkspaceBuildConfig.of(model="toy1-gelu-s0")
    assert family.neuron_models(cfg) == ["toy1-gelu-s0", "toy1-relu-s0"]
    assert family.universal_models(cfg) == ["toy1-gelu-s0"]
    cfg = WorkspaceBuildConfig.of(model="toy-gelu-s2")
    assert family.neuron_models(cfg) == ["toy-gelu-s2", "toy-relu-s0"]
    assert family.universal_models(cfg) == family.TOY_SEEDS
    assert family.neuron_models(WorkspaceBuildConfig.of(model="toy-relu-s0")) == ["toy-relu-s0"]
    assert family.toy_family("some/folder") == []
