"""`interp snmf` end to end on toy-gelu-s0: outputs, eval.json keys, resume from the checkpoint."""

from __future__ import annotations

import json

import pytest
from safetensors.torch import load_file, save_file

from apps.cli import main
from interp.checkpoint import CKPT_DIR
from interp.dictionary import Dictionary
from saes.snmf.dictionary import SNMF

EVAL_KEYS = {"l0", "r2", "r2_legacy", "ce_loss_recovered", "kl_score", "dead_fraction", "ground_truth"}


def _args(out, *extra):
    return ["snmf", "--model", "toy-gelu-s0", "--layer", "1", "--k", "20", "--sparsity", "0.01", "--tokens", "5000",
            "--out", str(out), "--eval-tokens", "1500", "--checkpoint-every", "2", "--keep-checkpoint", "true", *extra]


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


def test_a_finished_run_removes_its_checkpoint_unless_asked_to_keep_it(tmp_path):
    out = tmp_path / "run"
    args = [a for a in _args(out, "--max-iter", "2", "--eval-tokens", "0") if a not in ("--keep-checkpoint", "true")]
    assert main(args) == 0
    assert (out / "snmf.safetensors").is_file() and not (out / CKPT_DIR).exists()


def test_nan_activations_stop_with_one_line_naming_where(tmp_path, capsys):
    """NaN in a cache (a model overflowing, as written by the model: the checksum matches) stops the SNMF with one
    line naming the tokens and the cache; no bare AssertionError, no checkpoint of garbage."""
    from interp.activations.cache import cache_activations
    from interp.activations.config import CacheConfig
    from interp.activations.manifest import checksum_file

    cache = tmp_path / "c"
    cache_activations(CacheConfig.of(model="toy-gelu-s0", hooks=["blocks.1.mlp.hook_post"], tokens=4096,
                                     out=str(cache), shard_tokens=2048), progress=False)
    shard = sorted((cache / "shards").glob("*000001.blocks.1.mlp.hook_post.safetensors"))[0]
    acts = load_file(shard)["activations"]
    acts[5] = float("nan")
    save_file({"activations": acts}, str(shard))
    manifest = json.loads((cache / "manifest.json").read_text())
    for rec in (r for s in manifest["shards"] for r in s["files"].values() if r["path"].endswith(shard.name)):
        rec["checksum"], rec["bytes"] = checksum_file(shard), shard.stat().st_size
    (cache / "manifest.json").write_text(json.dumps(manifest))
    code = main(["snmf", "--cache", str(cache), "--layer", "1", "--k", "8", "--tokens", "3000", "--eval-tokens", "0",
                 "--out", str(tmp_path / "s")])
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("interp:")]
    assert code == 1 and len(err) == 1 and "NaN/Inf activations" in err[0] and str(cache) in err[0]
    assert "nothing was written" in err[0] and not (tmp_path / "s" / "checkpoint").exists()
