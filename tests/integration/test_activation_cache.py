"""End-to-end tests of `interp cache`: SIGKILL mid-run and resume, torchrun with 2 processes, the CLI itself.

Each runs the real command in a subprocess on the shipped toy-gelu-s0; the first two compare the activations
written with an uninterrupted single-process run of the same configuration.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from interp.activations import ActivationCache, cache_activations, verify  # noqa: E402
from interp.activations.config import CacheConfig  # noqa: E402
from interp.models import load_model  # noqa: E402

BIN = Path(sys.executable).parent
# one OpenMP thread per subprocess: on 2 shared cores, 2 threads per process thrash when other work runs (the
# toy model's activations are bitwise the same with 1 or 2 threads, so the comparisons below still hold exactly)
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
SHARD, BATCH = 1024, 8


def cache_args(out: Path, tokens: int) -> list[str]:
    return ["--model", "toy-gelu-s0", "--hooks", "blocks.*.mlp.hook_post", "--tokens", str(tokens),
            "--shard-tokens", str(SHARD), "--batch-size", str(BATCH), "--out", str(out)]


@pytest.fixture(scope="module")
def model():
    return load_model("toy-gelu-s0")


def run_here(model, out: Path, tokens: int) -> ActivationCache:
    """A single-process run of the same configuration in this process (a fresh folder: uninterrupted)."""
    cfg = CacheConfig.of(model="toy-gelu-s0", hooks=["blocks.*.mlp.hook_post"], tokens=tokens, out=str(out),
                      shard_tokens=SHARD, batch_size=BATCH)
    cache_activations(cfg, model=model, progress=False)
    return ActivationCache.open(out)


def n_listed(out: Path) -> int:
    try:
        return len(json.loads((out / "manifest.json").read_text())["shards"])
    except (FileNotFoundError, json.JSONDecodeError):
        return 0


def run_and_kill(out: Path, tokens: int, kill_after: int) -> int:
    """Start `python -m interp.activations.cache`, SIGKILL it once `kill_after` shards are listed; shards left."""
    proc = subprocess.Popen([str(BIN / "python"), "-m", "interp.activations.cache", *cache_args(out, tokens)],
                            env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    while n_listed(out) < kill_after:
        assert proc.poll() is None, "the run ended before it could be killed"
        assert time.monotonic() < deadline, "no shard appeared in time"
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return n_listed(out)


def by_key(cache: ActivationCache, hook: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(sorted doc * n_ctx + position keys, activations in that order): the cache as a set keyed by token."""
    keys = cache.doc_ids() * cache.manifest.n_ctx + cache.positions().long()
    order = torch.argsort(keys)
    return keys[order], cache.get(hook, order)


@pytest.mark.slow
def test_sigkill_at_two_points_then_resume_gives_the_uninterrupted_result(model, tmp_path):
    n_shards = 24
    tokens, out = n_shards * SHARD, tmp_path / "killed"
    first = run_and_kill(out, tokens, kill_after=2)
    assert 2 <= first < n_shards
    second = run_and_kill(out, tokens, kill_after=first + 3)  # resumes, then is killed again
    assert first + 3 <= second < n_shards
    cfg = CacheConfig.of(model="toy-gelu-s0", hooks=["blocks.*.mlp.hook_post"], tokens=tokens, out=str(out),
                      shard_tokens=SHARD, batch_size=BATCH)
    assert cache_activations(cfg, model=model, progress=False).new_tokens == tokens - second * SHARD
    assert not list(out.rglob("*.tmp")) and verify(out).ok
    resumed, ref = ActivationCache.open(out), run_here(model, tmp_path / "ref", tokens)
    assert resumed.n_tokens == ref.n_tokens == tokens
    assert torch.equal(resumed.tokens(), ref.tokens()) and torch.equal(resumed.labels(), ref.labels())
    for hook in ref.hooks:
        for i in range(len(ref.shards)):
            assert torch.equal(resumed.shard_activations(hook, i), ref.shard_activations(hook, i)), (hook, i)


@pytest.mark.slow
def test_torchrun_two_processes_cover_the_corpus_like_one(model, tmp_path):
    tokens, out = 8 * SHARD, tmp_path / "dist"
    proc = subprocess.run([str(BIN / "torchrun"), "--standalone", "--nproc_per_node=2", "-m",
                           "interp.activations.cache", *cache_args(out, tokens)],
                          env=ENV, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count(f"cached {tokens:,} tokens") == 1  # only rank 0 prints the summary
    dist = ActivationCache.open(out)
    assert {s.rank for s in dist.shards} == {0, 1} and not list(out.glob("manifest.rank*.json"))
    assert any(p.name.startswith("r1-") for p in (out / "shards").iterdir()) and verify(out).ok
    ref = run_here(model, tmp_path / "ref", tokens)
    for hook in ref.hooks:
        keys, acts = by_key(dist, hook)
        ref_keys, ref_acts = by_key(ref, hook)
        assert torch.equal(keys, ref_keys) and len(keys) == tokens
        torch.testing.assert_close(acts, ref_acts, atol=1e-5, rtol=1e-5)


def test_cli_summary_and_clear_errors(tmp_path):
    interp = str(BIN / "interp")
    ok = subprocess.run([interp, "cache", *cache_args(tmp_path / "c", 4096)], env=ENV, capture_output=True,
                        text=True, timeout=300)
    assert ok.returncode == 0, ok.stderr[-2000:]
    assert "cached 4,096 tokens x 4 hooks" in ok.stdout and "4 shards" in ok.stdout and "tokens/s" in ok.stdout
    assert "tok/s" in ok.stderr  # the tqdm progress bar
    bad = subprocess.run([interp, "cache", *cache_args(tmp_path / "d", 4096)[:3], "blocks.7.mlp.hook_post",
                          "--out", str(tmp_path / "d")], env=ENV, capture_output=True, text=True, timeout=300)
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert "unknown hook(s) blocks.7.mlp.hook_post" in bad.stderr and "blocks.0.hook_resid_pre" in bad.stderr
