"""`interp train-sae` / `interp eval-sae` for real on toy-gelu-s0: on the fly and from a cache, sweeps, eval.json,
torchrun with 2 gloo processes = 1 process, SIGKILL + resume = uninterrupted, and bad input as one clear line."""

from __future__ import annotations

import json
import os
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from apps.cli import main
from interp.activations.manifest import checksum_file
from saes import io

ROOT = Path(__file__).resolve().parents[2]
INTERP = [sys.executable, "-m", "apps.cli"]
TORCHRUN = [str(Path(sys.executable).parent / "torchrun"), "--nproc_per_node=2", "-m", "apps.cli"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
HOOK = "blocks.0.mlp.hook_post"
EVAL_KEYS = ["l0", "r2", "r2_legacy", "mse", "cosine_similarity", "ce_loss_recovered", "kl_score", "dead_fraction",
             "dense_fraction", "log_density_histogram"]


def interp(*args: str, cmd=INTERP, check: bool = True) -> subprocess.CompletedProcess:
    r = subprocess.run(cmd + list(args), capture_output=True, text=True, env=ENV, cwd=ROOT, timeout=500)
    if check:
        assert r.returncode == 0, r.stderr[-3000:]
    return r


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cache") / "c"
    interp("cache", "--model", "toy-gelu-s0", "--hooks", HOOK, "--tokens", "16384", "--shard-tokens", "4096",
           "--out", str(out), "--device", "cpu")
    return out


def from_cache(cache: Path, out: Path, *extra: str) -> list[str]:
    """A topk + relu sweep. A dead window of 1M tokens (longer than the run) keeps AuxK off: AuxK's ratio over the
    batch is taken per process under DDP, so with dead latents 2 processes match 1 only approximately."""
    return ["train-sae", "--model", "toy-gelu-s0", "--hook", HOOK, "--cache", str(cache), "--arch", "topk", "relu",
            "--d-sae", "128", "--k", "8", "--l1-coefficient", "1.0", "--tokens", "20480", "--batch-size", "256",
            "--lr", "0.002", "--dead-window", "1000000", "--out", str(out), "--eval", "false", "--progress", "false",
            *extra]


@pytest.fixture(scope="module")
def one_process(cache, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("one") / "sweep"
    interp(*from_cache(cache, out))
    return out


def assert_same_weights(a: Path, b: Path, atol: float) -> None:
    for name in ("topk-d128-k8-s0", "relu-d128-l1c1-s0"):
        wa, wb = io.load(a / name).state_dict(), io.load(b / name).state_dict()
        for k in wa:
            torch.testing.assert_close(wa[k], wb[k], rtol=1e-4, atol=atol, msg=f"{name}.{k}")


@pytest.mark.slow
def test_train_on_the_fly_writes_saelens_folder_log_and_eval(tmp_path):
    out = tmp_path / "sae"
    r = interp("train-sae", "--model", "toy-gelu-s0", "--hook", HOOK, "--arch", "topk", "--d-sae", "128", "--k",
               "16", "--tokens", "30720", "--batch-size", "512", "--buffer-docs", "64", "--lr", "0.003",
               "--eval-tokens", "4096", "--out", str(out), "--progress", "false")
    assert f"saved {out}" in r.stdout
    assert sorted(p.name for p in out.iterdir()) == ["cfg.json", "eval.json", "sae_weights.safetensors",
                                                     "train_log.jsonl"]
    cfg = json.loads((out / "cfg.json").read_text())
    assert cfg["architecture"] == "topk" and cfg["d_in"] == 512 and cfg["metadata"]["hook_name"] == HOOK
    log = [json.loads(ln) for ln in (out / "train_log.jsonl").read_text().splitlines()]
    assert log[-1]["step"] == 60 and log[-1]["r2"] > log[0]["r2"]
    ev = json.loads((out / "eval.json").read_text())
    assert list(ev)[:len(EVAL_KEYS)] == EVAL_KEYS
    assert ev["r2"] > 0.5 and ev["r2_legacy"] > 0.3 and ev["cosine_similarity"] > 0.7
    assert 15 <= ev["l0"] <= 16  # at most k per token (a ReLU'd top-k value can be 0)
    assert 0.3 < ev["ce_loss_recovered"] <= 1.05 and 0.3 < ev["kl_score"] <= 1.0
    assert 0 <= ev["dead_fraction"] <= 1 and 0 <= ev["dense_fraction"] <= 1
    hist = ev["log_density_histogram"]
    assert sum(hist["counts"]) + hist["n_dead"] == 128
    gt = ev["ground_truth"]
    assert len(gt["concepts"]) > 20 and 0.5 < gt["mean_auroc"] <= 1 and 0 <= gt["mean_f1"] <= 1
    assert set(gt["missed"]) <= set(gt["concepts"]) and all(gt["concepts"][c]["auroc"] < 0.9 for c in gt["missed"])
    assert ev["seed_stability"] is None and ev["seed_stability_matched"] is None


@pytest.mark.slow
def test_sweep_from_cache_then_eval_sae_with_seed_stability(cache, tmp_path):
    out = tmp_path / "seeds"
    interp("train-sae", "--model", "toy-gelu-s0", "--hook", HOOK, "--cache", str(cache), "--arch", "topk",
           "--d-sae", "128", "--k", "8", "--seed", "0", "1", "--tokens", "10240", "--batch-size", "256",
           "--lr", "0.003", "--out", str(out), "--eval", "false", "--progress", "false")
    a, b = out / "topk-d128-k8-s0", out / "topk-d128-k8-s1"
    assert [s["name"] for s in json.loads((out / "sweep.json").read_text())] == [a.name, b.name]
    assert main(["eval-sae", "--sae", str(a), "--compare", str(b), "--tokens", "2048", "--ground-truth-tokens",
                 "1024"]) == 0
    ev = json.loads((a / "eval.json").read_text())
    assert ev["compare"] == str(b) and ev["model"] == "toy-gelu-s0"
    assert 0 <= ev["seed_stability"] < 1 and ev["r2"] > 0.5  # different seeds never share every latent
    matched = ev["seed_stability_matched"]  # one to one: a latent of the other seed counts for one latent only
    assert 0 <= matched["shared"] <= ev["seed_stability"] and 0 < matched["mean_cosine"] <= 1


@pytest.mark.slow
def test_torchrun_two_gloo_processes_match_one_process(cache, one_process, tmp_path):
    out = tmp_path / "ddp"
    interp(*from_cache(cache, out), cmd=TORCHRUN)
    assert_same_weights(one_process, out, atol=2e-5)


@pytest.mark.slow
def test_sigkilled_run_resumes_and_ends_where_the_uninterrupted_run_ends(cache, one_process, tmp_path):
    out = tmp_path / "killed"
    args = from_cache(cache, out, "--checkpoint-every", "10")
    proc = subprocess.Popen(INTERP + args, env=ENV, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    latest = out / "checkpoint" / "latest.json"
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        if latest.exists() and json.loads(latest.read_text())["step"] >= 20:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (out / "topk-d128-k8-s0" / "cfg.json").exists()
    interp(*args)
    assert_same_weights(one_process, out, atol=1e-6)
    assert not (out / "checkpoint").exists()


def test_eval_sae_with_a_hook_of_another_width_is_one_clear_line(one_process, capsys):
    code = main(["eval-sae", "--sae", str(one_process / "topk-d128-k8-s0"), "--hook", "blocks.0.hook_resid_post",
                 "--tokens", "512"])
    err = capsys.readouterr().err
    assert code == 1 and "d_in mismatch: the SAE has d_in=512 but blocks.0.hook_resid_post" in err
    assert len(err.strip().splitlines()) == 1


def test_hook_missing_from_cache_is_one_clear_line(cache, tmp_path, capsys):
    code = main(["train-sae", "--cache", str(cache), "--hook", "blocks.1.mlp.hook_post", "--out",
                 str(tmp_path / "x"), "--eval", "false", "--d-sae", "64", "--k", "4", "--tokens", "1024",
                 "--batch-size", "256"])
    err = capsys.readouterr().err
    assert code == 1 and f"is not in the cache {cache}; it holds {HOOK}" in err


@pytest.mark.slow
def test_nan_in_a_cache_shard_stops_naming_the_shard_and_keeps_the_checkpoint(cache, tmp_path, capsys):
    bad = tmp_path / "bad"
    subprocess.run(["cp", "-r", str(cache), str(bad)], check=True)
    shard = sorted((bad / "shards").glob(f"*000002.{HOOK}.safetensors"))[0]
    d = load_file(shard)["activations"].shape[1]
    data = bytearray(shard.read_bytes())
    row = struct.unpack("<Q", data[:8])[0] + 8 + 100 * d * 4  # header length + 8, then row 100 of float32 [n, d]
    data[row:row + d * 4] = struct.pack(f"<{d}f", *[float("nan")] * d)
    shard.write_bytes(bytes(data))
    # NaN activations as a model could have produced them: the manifest's checksum matches the file (a flipped
    # byte with a stale checksum is refused before training reads it: test_activation_cache_unit)
    manifest = json.loads((bad / "manifest.json").read_text())
    for rec in (r for s in manifest["shards"] for r in s["files"].values() if r["path"].endswith(shard.name)):
        rec["checksum"] = checksum_file(shard)
    (bad / "manifest.json").write_text(json.dumps(manifest))
    assert torch.isnan(load_file(shard)["activations"][100]).all()
    out = tmp_path / "run"
    code = main(["train-sae", "--model", "toy-gelu-s0", "--hook", HOOK, "--cache", str(bad), "--arch", "topk",
                 "--d-sae", "64", "--k", "4", "--tokens", "20480", "--batch-size", "256", "--out", str(out),
                 "--checkpoint-every", "5", "--eval", "false", "--progress", "false"])
    err = capsys.readouterr().err
    assert code == 1 and "NaN/Inf activations at step" in err and f"shard 2 ({shard})" in err
    assert "the last good checkpoint (step" in err
    latest = json.loads((out / "checkpoint" / "latest.json").read_text())
    step = int(err.split("NaN/Inf activations at step ")[1].split()[0])
    assert latest["step"] == step // 5 * 5 and not (out / "cfg.json").exists()
