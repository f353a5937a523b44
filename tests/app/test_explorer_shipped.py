"""Shipped dictionaries in the workspace and the explorer: a dictionary shipped for the workspace's model is linked
by the `shipped` step (not copied, not retrained), gets feature pages beside the workspace's own SAE, and the
Features page's dictionary picker marks it "shipped, converged: N tokens"; one shipped for another model is not
linked."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from apps.cli import main

pytestmark = pytest.mark.slow  # trains one tiny SAE and builds a tiny workspace (~20 s on 2 busy cores)
HOOK = "blocks.2.mlp.hook_post"
WS = ["--cache-tokens", "4096", "--sae-tokens", "2048", "--sae-batch-size", "512", "--d-sae", "32", "--k", "4",
      "--archs", "topk", "--examples-per-bin", "2", "--steps", "cache", "saes", "shipped", "features"]


def test_the_workspace_links_shipped_dictionaries_and_the_picker_marks_them(explorer, tmp_path, monkeypatch):
    torch.set_num_threads(1)
    root = tmp_path / "dictionaries"
    for model in ("toy-gelu-s0", "toy-relu-s0"):
        trained = tmp_path / model / "topk-mine"
        assert main(["train-sae", "--model", model, "--arch", "topk", "--d-sae", "48", "--k", "4", "--tokens", "3072",
                     "--batch-size", "256", "--eval-tokens", "512", "--progress", "false", "--out", str(trained)]) == 0
        assert main(["dictionaries", "ship", "--sae", str(trained), "--out", str(root), "--device", "cpu"]) == 0
    monkeypatch.setenv("INTERP_DICTIONARIES", str(root))
    ws = tmp_path / "ws"
    assert main(["workspace", "build", "--out", str(ws), *WS]) == 0
    links = json.loads((ws / "shipped" / "shipped.json").read_text())
    assert [d["name"] for d in links["dictionaries"]] == ["shipped-topk-mine"]  # toy-relu-s0's is not linked
    assert links["dictionaries"][0]["folder"] == str((root / "toy-gelu-s0" / HOOK / "topk-mine").resolve())
    assert sorted(p.name for p in (ws / "features").iterdir()) == ["sae-topk", "shipped-topk-mine"]
    assert not any((ws / "saes").rglob("topk-mine"))  # linked, never copied into the workspace's own SAEs
    again = tmp_path / "toy-gelu-s0" / "topk-again"  # one more shipped for the model: the next build links it
    shutil.copytree(tmp_path / "toy-gelu-s0" / "topk-mine", again)
    assert main(["dictionaries", "ship", "--sae", str(again), "--out", str(root), "--device", "cpu"]) == 0
    assert main(["workspace", "build", "--out", str(ws), *WS]) == 0
    steps = json.loads((ws / "workspace.json").read_text())["steps"]
    assert steps["shipped"]["status"] == steps["features"]["status"] == "built"
    assert steps["saes"]["status"] == steps["cache"]["status"] == "up to date"  # nothing of its own retrained
    assert sorted(p.name for p in (ws / "features").iterdir()) == ["sae-topk", "shipped-topk-again",
                                                                    "shipped-topk-mine"]
    at = explorer.open(ws, "pages/features.py")
    options = at.selectbox(key="dictionary").options
    assert "shipped-topk-mine (48 features; shipped, converged: 3,072 tokens)" in options
    assert "sae-topk (32 features)" in options
    at.selectbox(key="dictionary").set_value("shipped-topk-mine").run()
    explorer.ok(at)
    assert "48 features of sae" in explorer.texts(at)
    at = explorer.open(ws, "pages/open.py")  # the Open page lists every shipped dictionary, of any model
    labels = at.selectbox(key="shipped_pick").options
    assert f"shipped:toy-relu-s0/{HOOK}/topk-mine (shipped, converged: 3,072 tokens)" in labels
    assert f"shipped:toy-gelu-s0/{HOOK}/topk-mine (shipped, converged: 3,072 tokens)" in labels
    at.selectbox(key="shipped_pick").set_value(str((root / "toy-relu-s0" / HOOK / "topk-mine").resolve())).run()
    explorer.ok(at)
    assert at.text_input(key="folder").value == str((root / "toy-relu-s0" / HOOK / "topk-mine").resolve())
    assert explorer.metrics(at)["recorded model"] == "toy-relu-s0" and explorer.metrics(at)["d_sae"] == "48"
    assert at.text_input(key="model_name").value == "toy-relu-s0" and not at.warning  # the model it records
    at.text_input(key="model_name").set_value("toy-gelu-s0").run()  # another model: said, naming both
    assert any("records the model toy-relu-s0, but the model given is toy-gelu-s0" in w.value for w in at.warning)
