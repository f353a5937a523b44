"""A checkpoint's identity holds its model's weights: a folder whose weights changed in place (same name, same
options) is never resumed on the old sums; a checkpoint written before the fingerprint was recorded still resumes."""

import json

import pytest
import torch
from safetensors.torch import save_file

from interp.checkpoint import Checkpointer, CheckpointError, identity


def _model_folder(root, value: float):
    root.mkdir(exist_ok=True)
    (root / "config.json").write_text(json.dumps({"model_type": "llama"}))
    save_file({"w": torch.full((4,), value)}, str(root / "model.safetensors"))
    return root


def test_changed_weights_refuse_to_resume(tmp_path):
    folder = _model_folder(tmp_path / "m", 1.0)
    ident = identity({"model": str(folder), "tokens": 100})
    assert ident["model_fingerprint"] and ident["model_fingerprint"] != str(folder)
    Checkpointer(tmp_path / "run", ident).save(3, {"state": {"x": torch.ones(2)}})
    assert Checkpointer(tmp_path / "run", identity({"model": str(folder), "tokens": 100})).load().step == 3
    _model_folder(folder, 2.0)  # retrained in place: same folder, same options
    with pytest.raises(CheckpointError, match="model_fingerprint"):
        Checkpointer(tmp_path / "run", identity({"model": str(folder), "tokens": 100})).load()


def test_checkpoint_from_before_fingerprints_still_resumes(tmp_path):
    folder = _model_folder(tmp_path / "m", 1.0)
    Checkpointer(tmp_path / "run", {"model": str(folder), "tokens": 100}).save(5, {"state": {"x": torch.ones(2)}})
    assert Checkpointer(tmp_path / "run", identity({"model": str(folder), "tokens": 100})).load().step == 5


def test_several_models_and_no_model():
    assert "model_fingerprint" not in identity({"model": "", "tokens": 1})
    prints = identity({"models": ["toy-gelu-s0", "toy-gelu-s1"]})["model_fingerprint"]
    assert isinstance(prints, list) and len(set(prints)) == 2
