"""Throughput and peak memory of the neuron statistics (`interp neurons`) on a GPT-2-small-shaped model.

The model is a randomly initialised TransformerLens HookedTransformer of GPT-2 small's shape (12 layers, d_model 768,
3,072 MLP neurons a layer, a 50,257-token vocabulary, context 1,024; GELU-new, LayerNorm), so nothing is downloaded.
The corpus is synthetic: rows of 128 tokens (BOS first, the corpus reader's default row length), each token drawn
from a Zipf law over the whole vocabulary (p ∝ 1 / (rank + 2.7), ranks a fixed permutation of the ids), the same
rows for a given row index whatever is asked first, as interp.corpus's sources are. Every token is a new draw, so
most bigrams are distinct: the bigram slots fill early and the rest is counted as untracked, the hardest case for
them.

The statistics run end to end as `interp neurons` runs them, from the command's defaults (token slots, bigram slots,
checkpoints every 1,024 rows into the output folder, weight and vocabulary-composition statistics, the artifact
written): `compute_neuron_stats` + `save_neuron_stats`. tokens/s is the streamed tokens over the wall time of all of
that (model construction excluded); peak memory is the process's peak resident set (getrusage ru_maxrss, in GB of
10^9 bytes), model and all. The issue's bound: under 8 GB over 1M tokens.

Usage: python bench/neurons.py [--tokens 1000000] [--threads 0] [--quick]
The LAST line reads exactly ``neurons_tok_s=X peak_gb=Y``.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

N_CTX, VOCAB, BOS = 128, 50257, 50256


def gpt2_small_shaped(seed: int = 0):
    """A random HookedTransformer with GPT-2 small's shape."""
    from transformer_lens import HookedTransformer, HookedTransformerConfig

    cfg = HookedTransformerConfig(n_layers=12, d_model=768, n_heads=12, d_head=64, d_mlp=3072, d_vocab=VOCAB,
                                  n_ctx=1024, act_fn="gelu_new", normalization_type="LN", seed=seed)
    return HookedTransformer(cfg).eval()


class ZipfRows:
    """A synthetic TokenSource: row r is a pure function of (seed, r)."""

    n_label_fields = taxonomy = None

    def __init__(self, n_ctx: int = N_CTX, seed: int = 0, exponent: float = 1.0):
        import numpy as np

        self.n_ctx, self.seed = n_ctx, seed
        self.description = {"kind": "synthetic", "source": f"zipf-{exponent}-seed{seed}", "n_ctx": n_ctx,
                            "split": "all"}
        rank_of = np.random.default_rng(seed).permutation(VOCAB - 1)  # BOS (50256) is never drawn
        p = 1.0 / (np.arange(VOCAB - 1) + 2.7) ** exponent
        self.cdf, self.ids = np.cumsum(p / p.sum()), rank_of

    def n_rows(self, wanted: int) -> int:
        return wanted

    def rows(self, first: int, n: int):
        import numpy as np
        import torch

        from interp.corpus import TokenRows

        out = np.empty((n, self.n_ctx), dtype=np.int64)
        out[:, 0] = BOS
        for i in range(n):
            u = np.random.default_rng((self.seed, first + i)).random(self.n_ctx - 1)
            out[i, 1:] = self.ids[np.minimum(np.searchsorted(self.cdf, u), VOCAB - 2)]
        return TokenRows(torch.from_numpy(out), None)


def peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9  # ru_maxrss is in KiB on Linux


def timed(module, names: list[str], log: dict[str, tuple[float, float]]) -> None:
    """Wrap module.<name> so that its wall time and the peak memory after it are logged (the phases line)."""
    for name in names:
        real = getattr(module, name)

        def wrapper(*args, _real=real, _name=name, **kwargs):
            t = time.perf_counter()
            out = _real(*args, **kwargs)
            spent = log.get(_name, (0.0, 0.0))[0] + time.perf_counter() - t
            log[_name] = (spent, peak_gb())
            return out

        setattr(module, name, wrapper)


def report_memory_every(batches: int) -> None:
    """Print the peak memory so far every `batches` batches (to see it plateau over a long run)."""
    from interp.neurons.stats import NeuronAccumulator

    real, seen = NeuronAccumulator.begin_batch, [0]

    def begin_batch(self, tokens, labels=None):
        seen[0] += 1
        if seen[0] % batches == 0:
            print(f"\n{self.n_tokens:,} tokens: peak {peak_gb():.2f} GB", flush=True)
        return real(self, tokens, labels)

    NeuronAccumulator.begin_batch = begin_batch


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--tokens", type=int, default=1_000_000, help="tokens to stream (default 1M)")
    p.add_argument("--quick", action="store_true", help="a fast check: 8,192 tokens")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    p.add_argument("--checkpoint-every", type=int, default=None,
                   help="rows between checkpoints (default: the command's, 1,024)")
    p.add_argument("--out", default="", help="output folder (default: a temporary folder, removed after)")
    a = p.parse_args(argv)
    tokens = 8192 if a.quick else a.tokens

    from interp.allocator import retain_freed_memory
    from interp.neurons import run
    from interp.neurons.artifacts import save_neuron_stats
    from interp.neurons.config import NeuronsConfig
    from interp.runtime import start_run

    out = Path(a.out or tempfile.mkdtemp(prefix="bench-neurons-"))
    every = {} if a.checkpoint_every is None else {"checkpoint_every": a.checkpoint_every}
    cfg = NeuronsConfig.of(model="random-gpt2-small-shape", tokens=tokens, out=str(out), device="cpu",
                           threads=a.threads, corpus="synthetic-zipf", **every)
    retain_freed_memory()  # as `interp neurons` does
    start_run(cfg.run.device, cfg.run.threads)
    model = gpt2_small_shaped()
    print(f"model built: peak {peak_gb():.2f} GB", flush=True)
    phases: dict[str, tuple[float, float]] = {}
    timed(run, ["frequent_tokens", "stream", "summarize", "weight_stats"], phases)
    report_memory_every(25)
    t0 = time.perf_counter()
    stats = run.compute_neuron_stats(model, cfg.lm.model, cfg, out, source=ZipfRows())
    save_neuron_stats(stats, out)
    run.checkpointer(out, cfg).clear()
    seconds = time.perf_counter() - t0
    print("phases (seconds, peak GB after): " + ", ".join(f"{k} {t:.0f} s {g:.2f} GB" for k, (t, g) in phases.items()))
    size = sum(f.stat().st_size for f in out.iterdir() if f.is_file()) / 1e6
    print(f"{stats.n_tokens:,} tokens in {seconds:.0f} s; artifact {size:.1f} MB; untracked share of positive "
          f"activation: tokens {stats.untracked_token_share.mean():.1%}, bigrams "
          f"{stats.untracked_bigram_share.mean():.1%}")
    if not a.out:
        shutil.rmtree(out, ignore_errors=True)
    print(f"neurons_tok_s={stats.n_tokens / seconds:.1f} peak_gb={peak_gb():.2f}")


if __name__ == "__main__":
    main()
