"""Throughput of `interp sparsity` over a bare forward pass of the same model on the same rows (issue 27, item 5:
target >= 0.5), on toy-gelu-s0 (toy-world corpus) and SmolLM2-135M (python-docs), measured side by side in one
process, end to end.

For each model, alternately (`--reps` pairs, medians taken):
- forward: load the model (interp.models.load_model) and run it, with fused kernels and no hooks, over the rows the
  command streams (the same corpus, split, row length and batch size), up to the last block (no unembedding: the
  command does not compute logits while streaming);
- sparsity: `interp sparsity` as the CLI runs it (interp.sparsity.run.main on its config: model load, the stream
  with every measure, the PPL-p% search and the massive-activation ablation on held-out rows, the artifact
  written), with the command's defaults except --tokens.
tokens/s is --tokens over the wall time of each; the ratio is sparsity over forward. Both sides start alike: each
reads its corpus afresh (python-docs is parsed from the standard library once per process and cached: the cache is
cleared before each side, so neither inherits the other's start-up) and both run with interp.allocator's retained
memory (which `interp sparsity` sets for itself; set once for the whole process, so the forward has it too). The
perplexity search scores the held-out rows once per evaluation (listed in the artifact), a cost that does not grow
with --tokens, so the ratio rises with --tokens; the line of each model says how many held-out tokens it scored.

Usage: python bench/sparsity.py [--toy-tokens 20000] [--smol-tokens 8192] [--threads 1] [--reps 1] [--keep DIR]
Prints each model's ratio; the LAST line reads exactly ``sparsity_vs_forward=X``, X the ratio on SmolLM2-135M.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

MODELS = {"toy-gelu-s0": "", "smollm2-135m": "python-docs"}


def fresh_start() -> None:
    """Forget what one side's start-up left for the other: the parsed python-docs corpus."""
    from interp import english_text

    english_text.documents.cache_clear()


def bare_forward(cfg) -> float:
    """Seconds to load the model and run it over the rows `interp sparsity` streams for cfg."""
    import torch

    from interp.corpus import open_corpus
    from interp.fused import fused_kernels
    from interp.models import load_model
    from interp.sparsity.run import stream_rows

    t0 = time.perf_counter()
    model = load_model(cfg.lm.model, "cpu", cfg.lm.weight_processing)
    source = open_corpus(cfg.data, model, cfg.split, seed=cfg.seed, model_name=cfg.lm.model)
    n_rows = stream_rows(cfg.tokens, source, "the bench")
    with torch.inference_mode(), fused_kernels(model):
        for first in range(0, n_rows, cfg.batch_size):
            tokens = source.rows(first, min(cfg.batch_size, n_rows - first)).tokens.long()
            model(tokens, stop_at_layer=model.cfg.n_layers)
    return time.perf_counter() - t0


def sparsity_run(cfg) -> tuple[float, int]:
    """Seconds of `interp sparsity` end to end, and the held-out tokens its search and ablation scored."""
    from interp.sparsity.run import main

    t0 = time.perf_counter()
    run = main(cfg)
    seconds = time.perf_counter() - t0
    passes = len(run.summary.get("ppl_evaluations", [])) + 2 * ("loss_set_to_mean" in run.summary["ablation"])
    return seconds, passes * int((run.heldout_corpus or {}).get("tokens", 0))


def measure(model: str, corpus: str, tokens: int, threads: int, reps: int, keep: str = "") -> float:
    from interp.sparsity.config import SparsityConfig

    fwd, spa = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(reps):
            out = Path(keep) / model if keep and rep == reps - 1 else Path(tmp) / f"run{rep}"
            cfg = SparsityConfig.of(model=model, corpus=corpus, tokens=tokens, threads=threads, device="cpu",
                                    out=str(out), overwrite=True)
            fresh_start()
            fwd.append(bare_forward(cfg))
            fresh_start()
            seconds, scored = sparsity_run(cfg)
            spa.append(seconds)
    f, s = statistics.median(fwd), statistics.median(spa)
    ratio = f / s
    print(f"{model}: --tokens {tokens:,} on {corpus or 'toyworld'}: forward {tokens / f:,.0f} tok/s, interp sparsity "
          f"{tokens / s:,.0f} tok/s (held-out tokens scored by the PPL search and ablation: {scored:,}); "
          f"ratio {ratio:.3f} (median of {reps})", flush=True)
    return ratio


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--toy-tokens", type=int, default=20_000)
    ap.add_argument("--smol-tokens", type=int, default=8192)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--keep", default="", help="keep each model's last run in KEEP/<model> (the docs' numbers)")
    args = ap.parse_args()
    import torch

    from interp.allocator import retain_freed_memory

    torch.set_num_threads(args.threads)
    retain_freed_memory()  # interp sparsity sets it for itself; the forward gets the same from the start
    measure("toy-gelu-s0", "", args.toy_tokens, args.threads, max(args.reps, 3), args.keep)
    smol = measure("smollm2-135m", "python-docs", args.smol_tokens, args.threads, args.reps, args.keep)
    print(f"sparsity_vs_forward={smol:.3f}")


if __name__ == "__main__":
    main()
