"""Benchmark of the activation cache on toy-gelu-s0, side by side in one process:

(a) caching tokens/s over bare forward tokens/s up to the same layer (target >= 0.85), and
(b) caching tokens/s over a plain loop of TransformerLens run_with_cache + torch.save per batch (target >= 2).

The four (forward, cache, run_with_cache, fused forward) are measured in interleaved rounds and the median round
of each is used, so load from other processes on the machine hits all alike. Caching time covers everything after
the model is loaded: corpus generation, forward passes, copies, checksums, writes and fsyncs, manifest. The bare
forward runs on pre-generated token ids.

The cache runs attention and LayerNorms as fused kernels (interp.models.fused_kernels), which is where most of its
lead over the two TransformerLens baselines comes from; the "bare forward" of ratio (a) is TransformerLens's own
forward, as a user would run it. So that the cache's own overhead (copies, checksums, writes) stays visible, the
line before the last divides caching tokens/s by a bare forward with the same fused kernels. Prints per-round
numbers, then as its LAST line exactly:
``ratio_vs_forward=X ratio_vs_run_with_cache=Y``.

Usage: HF_HUB_OFFLINE=1 python bench/cache_throughput.py [--tokens 65536] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

from interp.activations.cache import cache_activations, expand_hooks, stop_layer  # noqa: E402
from interp.activations.config import CacheConfig  # noqa: E402
from interp.models import fused_kernels, load_model  # noqa: E402
from interp.toyworld.corpus import CorpusConfig, generate_docs  # noqa: E402

MODEL, HOOKS, BATCH, N_CTX = "toy-gelu-s0", ["blocks.*.mlp.hook_post"], 32, 128


def bare_forward(model, tokens: torch.Tensor, stop: int | None, fused: bool = False) -> float:
    """Tokens/s of model(tokens, stop_at_layer=stop) over pre-generated batches (fused: with fused kernels)."""
    t0 = time.perf_counter()
    with torch.inference_mode(), fused_kernels(model, fused):
        for b0 in range(0, len(tokens), BATCH):
            model(tokens[b0:b0 + BATCH], stop_at_layer=stop)
    return tokens.numel() / (time.perf_counter() - t0)


def run_with_cache_loop(model, tokens: torch.Tensor, hooks: list[str], folder: Path) -> float:
    """Tokens/s of the plain approach: run_with_cache on each batch, torch.save the wanted hooks to a file."""
    folder.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    with torch.inference_mode():
        for i, b0 in enumerate(range(0, len(tokens), BATCH)):
            _, cache = model.run_with_cache(tokens[b0:b0 + BATCH])
            torch.save({h: cache[h] for h in hooks}, folder / f"batch_{i:05d}.pt")
    return tokens.numel() / (time.perf_counter() - t0)


def cache_run(model, n_tokens: int, folder: Path, shard_tokens: int) -> float:
    cfg = CacheConfig(model=MODEL, hooks=HOOKS, tokens=n_tokens, out=str(folder), batch_size=BATCH, n_ctx=N_CTX,
                      shard_tokens=shard_tokens)
    return cache_activations(cfg, model=model, progress=False).tokens_per_s


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tokens", type=int, default=131_072)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--shard-tokens", type=int, default=16_384)
    args = ap.parse_args()
    model = load_model(MODEL)
    hooks = expand_hooks(model, HOOKS)
    stop = stop_layer(hooks, model.cfg.n_layers)
    n_docs = args.tokens // N_CTX
    tokens = torch.from_numpy(generate_docs(CorpusConfig(n_ctx=N_CTX), n_docs).tokens).long()  # [doc, pos]
    bare_forward(model, tokens[:BATCH * 2], stop)  # warm-up
    rates: dict[str, list[float]] = {"forward": [], "cache": [], "run_with_cache": [], "fused_forward": []}
    work = Path(tempfile.mkdtemp(prefix="cache_bench_", dir=os.environ.get("BENCH_DIR")))
    try:
        for r in range(args.rounds):
            rates["forward"].append(bare_forward(model, tokens, stop))
            rates["cache"].append(cache_run(model, n_docs * N_CTX, work / f"cache{r}", args.shard_tokens))
            shutil.rmtree(work / f"cache{r}")
            rates["run_with_cache"].append(run_with_cache_loop(model, tokens, hooks, work / f"rwc{r}"))
            shutil.rmtree(work / f"rwc{r}")
            rates["fused_forward"].append(bare_forward(model, tokens, stop, fused=True))
            print(f"round {r}: " + "  ".join(f"{k} {v[-1]:,.0f} tok/s" for k, v in rates.items()), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    med = {k: statistics.median(v) for k, v in rates.items()}
    print(f"{MODEL}, hooks {', '.join(hooks)}, {n_docs * N_CTX:,} tokens, float32, batch {BATCH}, "
          f"{torch.get_num_threads()} threads; medians: " + ", ".join(f"{k} {v:,.0f} tok/s" for k, v in med.items()))
    print(f"the cache's own overhead: caching tokens/s over a bare forward with the same fused kernels = "
          f"{med['cache'] / med['fused_forward']:.3f}")
    print(f"ratio_vs_forward={med['cache'] / med['forward']:.3f} "
          f"ratio_vs_run_with_cache={med['cache'] / med['run_with_cache']:.3f}")


if __name__ == "__main__":
    main()
