"""A model's identity for workspace freshness: a name given to other weights (the toy-* rename of 2026-11-25, a
retrained folder) must not pass for the model an artifact was made with."""

from __future__ import annotations

import json
import shutil

from apps.workspace.config import WorkspaceBuildConfig
from apps.workspace.steps import settings
from interp.models import model_fingerprint


def test_fingerprint_follows_the_folder_contents_not_the_name(toy2_model, tmp_path):
    copy = tmp_path / "m"
    shutil.copytree(toy2_model, copy)
    assert model_fingerprint(str(copy)) == model_fingerprint(str(toy2_model))  # same files, same identity
    (copy / "card.json").write_text(json.dumps({"name": "retrained"}))
    assert model_fingerprint(str(copy)) != model_fingerprint(str(toy2_model))
    assert model_fingerprint("toy-gelu-s0") != model_fingerprint("toy1-gelu-s0")
    assert model_fingerprint("gpt2") == "gpt2"  # a hub name is all there is to go on offline


def test_workspace_steps_record_the_model_identity(toy2_model, tmp_path):
    copy = tmp_path / "m"
    shutil.copytree(toy2_model, copy)
    cfg = WorkspaceBuildConfig.of(model=str(copy), out=str(tmp_path / "ws"))
    before = {step: settings(step, cfg) for step in ("cache", "saes", "neurons", "patching")}
    assert all(s["model_id"] == model_fingerprint(str(copy)) for s in before.values())
    (copy / "card.json").write_text(json.dumps({"name": "retrained"}))
    assert all(settings(step, cfg) != was for step, was in before.items())  # every step is rebuilt
