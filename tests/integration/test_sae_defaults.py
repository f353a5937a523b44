"""The defaults of `interp train-sae` give sparse SAEs: every architecture, trained with its default settings for
300k tokens of toy-gelu-s0 layer 1 (d_sae 2048; the four in one sweep, one pass over the same activations), ends at
L0 <= 64 with R² >= 0.83 and CE loss recovered >= 0.97 on held-out text. Measured when the bar moved to the toy2
models: ReLU L0 59 / R² 0.863, TopK 32 / 0.882, BatchTopK 32 / 0.874, JumpReLU 19 / 0.834 (sparser than asked, so
its R² is the lowest; CE recovered 0.98-0.995 for all). (Before --init-l0 and these defaults, JumpReLU ended at L0
757 and ReLU at L0 444: dense codes from the command the README shows first.)"""

from __future__ import annotations

import json

import pytest

from apps.cli import main


@pytest.mark.slow
def test_every_architecture_is_sparse_and_faithful_with_default_settings(tmp_path, capsys):
    out = tmp_path / "sweep"
    code = main(["train-sae", "--model", "toy-gelu-s0", "--hook", "blocks.1.mlp.hook_post", "--arch", "relu", "topk",
                 "jumprelu", "batchtopk", "--d-sae", "2048", "--tokens", "300000", "--progress", "false",
                 "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    sweep = {s["name"].split("-")[0]: s for s in json.loads((out / "sweep.json").read_text())}
    assert set(sweep) == {"relu", "topk", "jumprelu", "batchtopk"}
    for arch, s in sweep.items():
        assert s["l0"] <= 64 and s["r2"] >= 0.83 and s["ce_loss_recovered"] >= 0.97, (arch, s)
