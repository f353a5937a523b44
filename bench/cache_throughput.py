"""Benchmark of the activation cache (default: toy-gelu-s0's MLPs), side by side in one run:

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

Usage: HF_HUB_OFFLINE=1 python bench/cache_throughput.py [--tokens 131072] [--rounds 5] [--model M --hooks H ...
--corpus C --batch B --n-ctx N] (bench/real_model.py runs it on SmolLM2-135M)
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
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

@dataclass(frozen=True)
class Setup:
    """What is cached and how: the model, its hooks, the corpus, rows per forward pass and tokens per row."""

    model: str = "toy-gelu-s0"
    hooks: tuple[str, ...] = ("blocks.*.mlp.hook_post",)
    corpus: str = ""
    """--corpus of `interp cache` ("": the model's default, the toy world for a toy model)."""
    batch: int = 32
    n_ctx: int = 0
    """Tokens per row (0: the model's own context, read from its folder)."""

    def ctx(self) -> int:
        if self.n_ctx:
            return self.n_ctx
        from interp.models import MODELS_DIR

        return json.loads((MODELS_DIR / self.model / "config.json").read_text())["cfg"]["n_ctx"]

    def args(self) -> list[str]:
        return ["--model", self.model, "--hooks", *self.hooks, "--corpus", self.corpus, "--batch", str(self.batch),
                "--n-ctx", str(self.ctx())]


METHODS = ("forward", "cache", "run_with_cache", "forward_retained", "fused_forward")
"""forward / run_with_cache: TransformerLens as a user runs it; cache: `interp cache`; forward_retained:
TransformerLens's forward with interp.allocator's setting; fused_forward: interp.fused kernels and the allocator."""


def worker(method: str, n_tokens: int, folder: Path, setup: Setup) -> dict:
    """Tokens/s of one method in this (fresh) process."""
    import torch

    from interp.activations.cache import cache_activations, expand_hooks
    from interp.activations.config import CacheConfig
    from interp.activations.stream import stop_layer
    from interp.allocator import retain_freed_memory
    from interp.corpus import open_corpus
    from interp.fused import fused_kernels
    from interp.models import load_model
    from interp.options import CorpusOptions

    model, n_ctx, batch = load_model(setup.model), setup.ctx(), setup.batch
    hook_list = list(setup.hooks)
    n_docs = n_tokens // n_ctx
    if method == "cache":
        def cache(n_tokens: int, out: Path) -> float:
            cfg = CacheConfig.of(model=setup.model, hooks=hook_list, tokens=n_tokens, out=str(out), batch_size=batch,
                                 n_ctx=n_ctx, corpus=setup.corpus, shard_tokens=16_384)
            return cache_activations(cfg, model=model, progress=False).tokens_per_s

        cache(2 * batch * n_ctx, folder / "warm-up")  # two batches, as the baselines' warm-up
        shutil.rmtree(folder / "warm-up")
        return {"rate": cache(n_docs * n_ctx, folder / "cache")}
    if method in ("forward_retained", "fused_forward"):
        retain_freed_memory()
    hooks = expand_hooks(model, hook_list)
    stop = stop_layer(hooks, model.cfg.n_layers)
    # the rows `interp cache` reads: the same corpus, split and packing
    source = open_corpus(CorpusOptions(corpus=setup.corpus, n_ctx=n_ctx), model, "train", model_name=setup.model)
    tokens = source.rows(0, n_docs).tokens.long()  # [doc, pos]
    folder.mkdir(parents=True, exist_ok=True)

    def one_batch(i: int, batch: torch.Tensor) -> None:
        if method == "run_with_cache":
            _, cache = model.run_with_cache(batch)
            torch.save({h: cache[h] for h in hooks}, folder / f"batch_{i:05d}.pt")
        else:
            model(batch, stop_at_layer=stop)

    with torch.inference_mode(), fused_kernels(model, method == "fused_forward"):
        for i in range(2):  # warm-up
            one_batch(i, tokens[i * batch:(i + 1) * batch])
        t0 = time.perf_counter()
        for i, b0 in enumerate(range(0, n_docs, batch)):
            one_batch(i, tokens[b0:b0 + batch])
        return {"rate": tokens.numel() / (time.perf_counter() - t0), "threads": torch.get_num_threads()}


def _command_env(name: str) -> dict[str, str]:
    """The environment defaults the `interp` CLI sets for a command (those the user has not set)."""
    from interp.commands import commands

    env = next(c.env for c in commands() if c.name == name)
    return {k: v for k, v in env.items() if k not in os.environ}


def measure(method: str, n_tokens: int, work: Path, setup: Setup = Setup()) -> dict:
    folder = work / method
    env = {**os.environ, **(_command_env("cache") if method == "cache" else {})}
    try:
        out = subprocess.run([sys.executable, __file__, "--worker", method, "--tokens", str(n_tokens),
                              "--folder", str(folder), *setup.args()], capture_output=True, text=True, check=False,
                             env=env)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if out.returncode != 0:
        raise SystemExit(f"{method} worker failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def median_rates(methods: tuple[str, ...], n_tokens: int, rounds: int, setup: Setup = Setup()) -> dict[str, float]:
    """Median tokens/s of each method over `rounds` interleaved rounds (one fresh process per measurement)."""
    rates: dict[str, list[float]] = {m: [] for m in methods}
    work = Path(tempfile.mkdtemp(prefix="cache_bench_", dir=os.environ.get("BENCH_DIR")))
    try:
        for r in range(rounds):
            for m in rates:
                rates[m].append(measure(m, n_tokens, work, setup)["rate"])
            print(f"round {r}: " + "  ".join(f"{k} {v[-1]:,.0f}" for k, v in rates.items()) + " tok/s", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {k: statistics.median(v) for k, v in rates.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tokens", type=int, default=131_072)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--only", nargs="+", choices=METHODS, help="measure only these (no ratio line)")
    ap.add_argument("--worker", choices=METHODS, help=argparse.SUPPRESS)
    ap.add_argument("--folder", help=argparse.SUPPRESS)
    ap.add_argument("--model", default=Setup.model)
    ap.add_argument("--hooks", nargs="+", default=list(Setup.hooks))
    ap.add_argument("--corpus", default=Setup.corpus)
    ap.add_argument("--batch", type=int, default=Setup.batch)
    ap.add_argument("--n-ctx", type=int, default=Setup.n_ctx)
    args = ap.parse_args()
    setup = Setup(args.model, tuple(args.hooks), args.corpus, args.batch, args.n_ctx)
    if args.worker:
        print(json.dumps(worker(args.worker, args.tokens, Path(args.folder), setup)))
        return
    med = median_rates(tuple(args.only or METHODS), args.tokens, args.rounds, setup)
    if args.only:
        print("medians: " + ", ".join(f"{k} {v:,.0f} tok/s" for k, v in med.items()))
        return
    n_tok = args.tokens // setup.ctx() * setup.ctx()
    print(f"{setup.model}, hooks {', '.join(setup.hooks)}, {n_tok:,} tokens, float32, batch {setup.batch}, "
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
