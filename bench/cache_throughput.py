"""Benchmark of the activation cache on toy-gelu-s0, side by side in one run:

(a) caching tokens/s over bare forward tokens/s up to the same layer (target >= 0.85), and
(b) caching tokens/s over a plain loop of TransformerLens run_with_cache + torch.save per batch (target >= 2).

Each measurement runs in a fresh Python process, as each would on a user's machine: the two TransformerLens
baselines in a plain process, the cache as `interp cache` runs (fused kernels, freed memory kept in the process
by `interp.allocator`, and the environment the `cache` command sets before torch loads: OpenMP workers that sleep
rather than spin, see `interp.commands.OPENMP_PASSIVE`). The measurements are interleaved in rounds and the median
round of each is used, so load from other processes on the machine hits all alike. Every method is timed after
two warm-up batches (for the cache: a two-batch cache into a scratch folder in the same process, which also
leaves its shard buffers' pages in the heap, as the baselines' warm-up batches leave theirs). Caching time covers
everything after that: corpus generation, forward passes, copies, checksums, writes and fsyncs, manifest. The
baselines run on pre-generated token ids.

So that it is visible where the lead comes from, two more measurements are printed: TransformerLens's forward in a
process that keeps freed memory as the cache does (the allocator's share), and a bare forward with the cache's
fused kernels and allocator (the line before the last: the cache's own overhead of copies, checksums and writes).
The LAST line reads exactly ``ratio_vs_forward=X ratio_vs_run_with_cache=Y``.

Usage: HF_HUB_OFFLINE=1 python bench/cache_throughput.py [--tokens 131072] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

MODEL, HOOKS, BATCH = "toy-gelu-s0", ["blocks.*.mlp.hook_post"], 32


def _model_ctx() -> int:
    """The model's own context (read from its folder without loading torch): every method runs full rows of it."""
    import json

    from interp.models import MODELS_DIR

    return json.loads((MODELS_DIR / MODEL / "config.json").read_text())["cfg"]["n_ctx"]


N_CTX = _model_ctx()
METHODS = ("forward", "cache", "run_with_cache", "forward_retained", "fused_forward")
"""forward / run_with_cache: TransformerLens as a user runs it; cache: `interp cache`; forward_retained:
TransformerLens's forward with interp.allocator's setting; fused_forward: interp.fused kernels and the allocator."""


def worker(method: str, n_tokens: int, folder: Path) -> dict:
    """Tokens/s of one method in this (fresh) process."""
    import torch

    from interp.activations.cache import cache_activations, expand_hooks
    from interp.activations.config import CacheConfig
    from interp.activations.stream import stop_layer
    from interp.allocator import retain_freed_memory
    from interp.fused import fused_kernels
    from interp.models import load_model
    from interp.worlds import world_name_of_model
    from interp.worlds.toy.corpus import CorpusConfig, generate_docs

    model = load_model(MODEL)
    n_docs = n_tokens // N_CTX
    if method == "cache":
        def cache(n_tokens: int, out: Path) -> float:
            cfg = CacheConfig.of(model=MODEL, hooks=HOOKS, tokens=n_tokens, out=str(out), batch_size=BATCH,
                              n_ctx=N_CTX, shard_tokens=16_384)
            return cache_activations(cfg, model=model, progress=False).tokens_per_s

        cache(2 * BATCH * N_CTX, folder / "warm-up")  # two batches, as the baselines' warm-up
        shutil.rmtree(folder / "warm-up")
        return {"rate": cache(n_docs * N_CTX, folder / "cache")}
    if method in ("forward_retained", "fused_forward"):
        retain_freed_memory()
    hooks = expand_hooks(model, HOOKS)
    stop = stop_layer(hooks, model.cfg.n_layers)
    # the model's own world, as `interp cache` reads
    corpus = CorpusConfig(n_ctx=N_CTX, world=world_name_of_model(model))
    tokens = torch.from_numpy(generate_docs(corpus, n_docs).tokens).long()  # [doc, pos]
    folder.mkdir(parents=True, exist_ok=True)

    def one_batch(i: int, batch: torch.Tensor) -> None:
        if method == "run_with_cache":
            _, cache = model.run_with_cache(batch)
            torch.save({h: cache[h] for h in hooks}, folder / f"batch_{i:05d}.pt")
        else:
            model(batch, stop_at_layer=stop)

    with torch.inference_mode(), fused_kernels(model, method == "fused_forward"):
        for i in range(2):  # warm-up
            one_batch(i, tokens[i * BATCH:(i + 1) * BATCH])
        t0 = time.perf_counter()
        for i, b0 in enumerate(range(0, n_docs, BATCH)):
            one_batch(i, tokens[b0:b0 + BATCH])
        return {"rate": tokens.numel() / (time.perf_counter() - t0), "threads": torch.get_num_threads()}


def _command_env(name: str) -> dict[str, str]:
    """The environment defaults the `interp` CLI sets for a command (those the user has not set)."""
    from interp.commands import commands

    env = next(c.env for c in commands() if c.name == name)
    return {k: v for k, v in env.items() if k not in os.environ}


def measure(method: str, n_tokens: int, work: Path) -> dict:
    folder = work / method
    env = {**os.environ, **(_command_env("cache") if method == "cache" else {})}
    try:
        out = subprocess.run([sys.executable, __file__, "--worker", method, "--tokens", str(n_tokens),
                              "--folder", str(folder)], capture_output=True, text=True, check=False, env=env)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if out.returncode != 0:
        raise SystemExit(f"{method} worker failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tokens", type=int, default=131_072)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--only", nargs="+", choices=METHODS, help="measure only these (no ratio line)")
    ap.add_argument("--worker", choices=METHODS, help=argparse.SUPPRESS)
    ap.add_argument("--folder", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.tokens, Path(args.folder))))
        return
    rates: dict[str, list[float]] = {m: [] for m in args.only or METHODS}
    work = Path(tempfile.mkdtemp(prefix="cache_bench_", dir=os.environ.get("BENCH_DIR")))
    try:
        for r in range(args.rounds):
            for m in rates:
                rates[m].append(measure(m, args.tokens, work)["rate"])
            print(f"round {r}: " + "  ".join(f"{k} {v[-1]:,.0f}" for k, v in rates.items()) + " tok/s", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    med = {k: statistics.median(v) for k, v in rates.items()}
    if args.only:
        print("medians: " + ", ".join(f"{k} {v:,.0f} tok/s" for k, v in med.items()))
        return
    n_tok = args.tokens // N_CTX * N_CTX
    print(f"{MODEL}, hooks {', '.join(HOOKS)} (4 MLPs), {n_tok:,} tokens, float32, batch {BATCH}, "
          f"{os.cpu_count()} cpus; medians: " + ", ".join(f"{k} {v:,.0f} tok/s" for k, v in med.items()))
    print(f"the allocator's share: TransformerLens's forward keeping freed memory runs at "
          f"{med['forward_retained'] / med['forward']:.2f}x its default; caching over that forward = "
          f"{med['cache'] / med['forward_retained']:.3f}")
    print(f"the cache's own overhead: caching tokens/s over a bare forward with the same fused kernels and allocator "
          f"= {med['cache'] / med['fused_forward']:.3f}")
    print(f"ratio_vs_forward={med['cache'] / med['forward']:.3f} "
          f"ratio_vs_run_with_cache={med['cache'] / med['run_with_cache']:.3f}")


if __name__ == "__main__":
    main()
