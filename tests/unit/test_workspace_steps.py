"""The workspace's steps and its patching methods are each one list: the CLI, the layout, settings and the explorer
read them; and an SAE copied into a workspace is shown beside the workspace's own, never instead of it."""

from __future__ import annotations

import json
import shutil

import pytest

from apps.workspace.config import WorkspaceBuildConfig
from apps.workspace.layout import Layout, dictionary_folders, sae_folders
from apps.workspace.steps import STEP_NAMES, STEPS, settings, step_named
from circuits.config import PatchConfig
from circuits.patching.methods import METHOD_NAMES, METHODS, estimators, ground_truth, method_named


def _sae(folder, arch: str):
    import torch

    from saes import build_sae, sae_config
    from saes import io as sae_io

    torch.manual_seed(0)
    cfg = sae_config(strict=False, d_in=8, d_sae=16, arch=arch, k=4 if arch == "topk" else None,
                     hook_name="blocks.0.mlp.hook_post", model_name="toy-gelu-s0", sparsity_coeff=1.0)
    sae_io.save(build_sae(cfg).eval(), folder)
    return folder


def test_each_step_is_declared_once_and_read_by_the_config_and_the_layout(tmp_path):
    assert [s.name for s in STEPS] == STEP_NAMES and len(set(STEP_NAMES)) == len(STEP_NAMES)
    assert WorkspaceBuildConfig().steps == STEP_NAMES
    layout = Layout(tmp_path)
    for s in STEPS:
        assert layout.folder(s.name) == getattr(layout, s.name) == tmp_path / s.folder
        assert all(STEP_NAMES.index(i) < STEP_NAMES.index(s.name) for i in s.inputs)  # built before it
    with pytest.raises(ValueError, match="unknown workspace step 'nope'"):
        step_named("nope")
    cfg = WorkspaceBuildConfig.of(out=str(tmp_path))
    for s in STEPS:  # a step's settings include its inputs'
        assert all(settings(i, cfg).items() <= settings(s.name, cfg).items() for i in s.inputs)


def test_each_patching_method_is_one_entry():
    assert METHOD_NAMES == ("activation", "attribution", "relp", "relp_ah")
    assert PatchConfig.of(method="relp_ah").method == "relp_ah"
    assert ground_truth().name == "activation" and [m.name for m in estimators()] == ["attribution", "relp", "relp_ah"]
    assert all(m.description and m.label for m in METHODS.values())
    with pytest.raises(ValueError, match="unknown patching method 'x'; choose one of activation"):
        method_named("x")


def test_a_copied_sae_never_replaces_the_workspaces_own(tmp_path):
    layout = Layout(tmp_path)
    own = {a: _sae(layout.saes / f"{a}-d16-s0", a) for a in ("relu", "topk")}
    (layout.saes / "sweep.json").write_text(json.dumps([{"name": p.name, "folder": str(p)} for p in own.values()]))
    _sae(layout.saes / "zz-mine", "relu")  # sorts after the workspace's own ReLU SAE
    shutil.copytree(own["topk"], layout.saes / "topk")  # named like the key of the workspace's own
    assert sae_folders(layout) == own
    found = dictionary_folders(layout)
    assert found["sae-relu"] == own["relu"] and found["sae-topk"] == own["topk"]
    assert found["sae-zz-mine"] == layout.saes / "zz-mine"
    assert layout.saes / "topk" in found.values() and len(found) == 4


def test_a_single_sae_workspace_keeps_its_sae(tmp_path):
    layout = Layout(tmp_path)
    _sae(layout.saes, "topk")
    _sae(layout.saes / "copied", "topk")
    assert dictionary_folders(layout) == {"sae-topk": layout.saes, "sae-copied": layout.saes / "copied"}
