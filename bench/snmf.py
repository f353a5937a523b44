"""SNMF benchmark: time per iteration and time to reach a loss, full-batch vs streaming, and the torch full-batch
solver against a straightforward NumPy transcription of the reference update (bench/snmf_reference.py).

Same data for all: toy-gelu-s0, blocks.1.mlp.hook_post, BOS removed, --tokens tokens; same random init (seed 0).
One run each, one thread each (OMP/OPENBLAS/MKL_NUM_THREADS, default 1). The last line reads
`speedup_vs_reference=X streaming_loss_ratio=Y`: X = NumPy seconds per iteration
over torch seconds per iteration (same G, same iterations, the two interleaved iteration by iteration so that the
load of a shared machine falls on both alike), Y = streaming final loss / full-batch final loss.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/snmf.py [--tokens 20000 --k 50]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):  # one thread each for NumPy and torch:
    os.environ.setdefault(_var, "1")  # the cores are shared, and oversubscribed threads make timings meaningless

import numpy as np  # noqa: E402
import torch  # noqa: E402
from snmf_reference import reference_iteration  # noqa: E402

from interp.corpus import open_corpus  # noqa: E402
from interp.models import load_model  # noqa: E402
from interp.options import CorpusOptions  # noqa: E402
from saes.snmf.data import model_stream, tensor_stream  # noqa: E402
from saes.snmf.solver import SNMFSolverConfig, fit_full, full_step, init_full, n_keep  # noqa: E402
from saes.snmf.streaming import fit_streaming  # noqa: E402


def time_to(target: float, losses: list[float], stamps: list[float]) -> float | None:
    """Seconds until the first loss <= target."""
    return next((t for loss, t in zip(losses, stamps) if loss <= target), None)


def run_full(acts, cfg):
    stamps, t0 = [], time.perf_counter()
    st = fit_full(acts, cfg, on_step=lambda s: stamps.append(time.perf_counter() - t0))
    return st, stamps


def run_stream(acts, cfg, batch):
    stamps, t0 = [], time.perf_counter()

    def on_epoch(s):
        if s.losses:
            stamps.append(time.perf_counter() - t0)

    st = fit_streaming(tensor_stream(acts, batch), cfg, on_epoch=on_epoch)
    return st, stamps


def run_reference(acts, cfg, n_iter):
    """NumPy float64 reference iterations and torch float32 full-batch iterations from the same initial G,
    interleaved (reference i, torch i, ...) so that a shared, loaded CPU slows both alike; seconds per iteration of
    each and the NumPy G (for the float64 agreement check)."""
    A = acts.double().T.numpy().copy()  # neurons × tokens, as the spec writes it
    G = init_full(acts.double(), cfg).G_NK.numpy()
    keep = n_keep(A.shape[0], cfg.sparsity)
    st, A_DN = init_full(acts, cfg), acts.T.contiguous()  # what fit_full holds (its copy is outside its timing too)
    sq_norm = float(acts.double().pow(2).sum())
    t_ref = t_torch = 0.0
    for _ in range(n_iter):
        t0 = time.perf_counter()
        _, G, _ = reference_iteration(A, G, keep)
        t1 = time.perf_counter()
        full_step(A_DN, st, cfg, sq_norm)
        t2 = time.perf_counter()
        t_ref, t_torch = t_ref + t1 - t0, t_torch + t2 - t1
    return t_ref / n_iter, t_torch / n_iter, G


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokens", type=int, default=20_000)
    ap.add_argument("--k", type=int, default=50)
    ap.add_argument("--sparsity", type=float, default=0.01)
    ap.add_argument("--max-iter", type=int, default=150)
    ap.add_argument("--ref-iter", type=int, default=10)
    ap.add_argument("--batch", type=int, default=4096)
    a = ap.parse_args()
    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    model = load_model("toy-gelu-s0")
    acts = model_stream(model, 1, a.tokens, open_corpus(CorpusOptions(corpus="toyworld"), model)).all_acts()
    print(f"data: toy-gelu-s0 blocks.1.mlp.hook_post, {acts.shape[0]} tokens x {acts.shape[1]} neurons; "
          f"K={a.k} s={a.sparsity} (keep {n_keep(acts.shape[1], a.sparsity)} neurons/feature)")
    cfg = SNMFSolverConfig(k=a.k, sparsity=a.sparsity, max_iter=a.max_iter, patience=10, seed=0)

    fixed = SNMFSolverConfig(k=a.k, sparsity=a.sparsity, max_iter=a.ref_iter, patience=10**6, seed=0)
    ref_s, torch_s, G_ref = run_reference(acts, fixed, a.ref_iter)
    st64 = fit_full(acts.double(), fixed)
    dev = float(np.abs(st64.G_NK.numpy() - G_ref).max())
    print(f"reference (NumPy float64): {ref_s * 1e3:.1f} ms/it; torch float32 full-batch: {torch_s * 1e3:.1f} ms/it "
          f"over the same {a.ref_iter} iterations, interleaved; torch float64 vs NumPy max|dG| = {dev:.2e}")

    full, t_full = run_full(acts, cfg)
    ms = t_full[-1] / full.iteration * 1e3
    print(f"full-batch: {full.iteration} iterations, {t_full[-1]:.2f} s ({ms:.1f} ms/it), "
          f"best loss {full.best_loss:.5f}")
    stream, t_stream = run_stream(acts, cfg, a.batch)
    n_pass = len(stream.losses)
    print(f"streaming (batch {a.batch}): {n_pass} passes, {t_stream[-1]:.2f} s ({t_stream[-1] / n_pass * 1e3:.1f} "
          f"ms/pass), best loss {stream.best_loss:.5f}")
    target = 1.01 * max(full.best_loss, stream.best_loss)
    tf, ts = time_to(target, full.losses, t_full), time_to(target, stream.losses, t_stream)
    print(f"time to reach loss {target:.5f} (1.01 x the worse final): full {tf:.2f} s, streaming {ts:.2f} s")
    print(f"speedup_vs_reference={ref_s / torch_s:.2f} streaming_loss_ratio={stream.best_loss / full.best_loss:.4f}")


if __name__ == "__main__":
    main()
