"""`interp snmf` end to end on toy-gelu-s0: outputs, eval.json keys, resume from the checkpoint."""

from __future__ import annotations

import json

import pytest

from apps.cli import main
from interp.checkpoint import CKPT_DIR
from interp.dictionary import Dictionary
from saes.snmf.dictionary import SNMF

EVAL_KEYS = {"l0", "r2", "r2_legacy", "ce_loss_recovered", "kl_score", "dead_fraction", "ground_truth"}


def _args(out, *extra):
    return ["snmf", "--model", "toy-gelu-s0", "--layer", "1", "--k", "20", "--sparsity", "0.01", "--tokens", "5000",
            "--out", str(out), "--eval-tokens", "1500", "--checkpoint-every", "2", *extra]


@pytest.mark.slow
def test_snmf_cli_writes_result_and_eval_and_resumes(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(_args(out, "--max-iter", "4", "--patience", "100", "--eval-tokens", "0")) == 0
    first = json.loads((out / "snmf.json").read_text())
    assert first["iterations"] == 4 and len(first["losses"]) == 4
    assert not (out / "eval.json").exists()
    # a rerun with more iterations continues from the checkpoint (iteration 4), not from scratch
    assert main(_args(out, "--max-iter", "8", "--patience", "100")) == 0
    res = json.loads((out / "snmf.json").read_text())
    assert res["iterations"] == 8
    assert res["losses"][:4] == first["losses"]
    snmf = SNMF.load(out)
    assert isinstance(snmf, Dictionary) and (snmf.d_in, snmf.d_sae) == (512, 20)
    assert ((snmf.F_DK != 0).sum(0) <= 6).all()
    assert snmf.top is not None and snmf.top.values_KM.shape == (20, 20) and (snmf.top.pos_KM >= 1).all()
    report = json.loads((out / "eval.json").read_text())
    assert EVAL_KEYS <= set(report)
    assert report["l0"] > 0 and 0 < report["r2"] < 1
    assert report["ce_loss_recovered"] > 0
    assert 0.5 < report["ground_truth"]["mean_auroc"] <= 1
    assert "eval: l0=" in capsys.readouterr().out


@pytest.mark.slow
def test_snmf_cli_streaming_and_refuses_a_mismatched_checkpoint(tmp_path, capsys):
    out = tmp_path / "s"
    args = _args(out, "--solver", "streaming", "--batch-size", "2000", "--max-iter", "3", "--eval-tokens", "0")
    assert main(args) == 0
    res = json.loads((out / "snmf.json").read_text())
    assert res["solver"] == "streaming" and res["iterations"] == 3
    ck = json.loads(next((out / CKPT_DIR).glob("step-*/state.json")).read_text())
    assert ck["meta"]["epoch"] == 4  # init pass + 3 passes
    assert main(args[:-2] + ["--eval-tokens", "0", "--k", "21"]) == 1
    assert "other options (k differ" in capsys.readouterr().err
