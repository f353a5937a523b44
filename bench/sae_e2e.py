"""End-to-end half of bench/sae_vs_saelens.py: both trainers from the same initialisation over the same cached tokens.

A user's training call, timed whole, start-up included: for ours `saes.training.run.train_saes` (what
`interp train-sae --cache CACHE --eval false --checkpoint-every 0` runs: provenance from the cache, opening it, building
the SAE, activation scale and geometric-median b_dec from the first batches, the loop with its logging, saving in
SAELens format); for sae_lens building its training SAE, copying our initial weights into it, its SAETrainer, `fit()`
(which folds the activation scale into the weights) and `save_model`. Both read batch `step` from the same cache
through the same plan (saes.training.data.CacheSource; the cache is read inside each timing), so they see the same
tokens in the same order; ours builds its initialisation itself (seeded, so bit-identical to the untimed one that is
copied into sae_lens's SAE: checked), and sae_lens is given our activation scale as its ActivationScaler's factor.
R² / L0 of both saved SAEs on the same held-out batches (after the training batches in the same epoch, disjoint).
The two calls run one after the other (ours first), so the machine's load is sampled (1-min load average) around
each and printed beside it.

The cache (>= 2M tokens of toy-gelu-s0 blocks.2.mlp.hook_post, ~4.4 GB fp32) is built once, outside git, into
runs/bench/cache-toy2-gelu-s0-l2-e2e of the checkout (`--e2e-cache` to point elsewhere) and reused.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import torch

from interp.activations.reader import ActivationCache
from saes import io
from saes.training.config import TrainSAEConfig
from saes.training.data import CacheSource
from saes.training.run import train_saes, with_provenance
from saes.training.trainer import Trainer

SAELENS_UNIT_NORM = {"jumprelu": False}
"""Our --unit-norm-decoder where sae_lens's trainer differs from our default: its JumpReLU leaves decoder rows free (we
keep them at unit norm by default), so both train the same model. That constraint alone made the 128-step e2e
jumprelu_r2_delta -0.0068 (ours 0.9057 @ L0 16.4, sae_lens 0.9125 @ L0 18.2); on 64 steps of d_sae 4096 from the same
init, ours with free rows matched sae_lens (R² 0.8196 vs 0.8195, both L0 22.1) where unit-norm rows gave 0.8106 @ L0
20.7. (Its ReLU also leaves them free, as ours does; its TopK rescales by the decoder norms instead.)"""
E2E_TOKENS = 2_200_000  # cache size: 2M training tokens (489 batches of 4096) + held-out batches + BOS left out


def e2e_config(arch: str, args: argparse.Namespace, out: str) -> TrainSAEConfig:
    """The train-sae config of one architecture's end-to-end run (the bench's hyperparameters)."""
    return TrainSAEConfig.of(model="toy-gelu-s0", hook=args.hook, arch=[arch], d_sae=[args.d_sae], k=[args.k],
                             l1_coefficient=[args.l1], l0_coefficient=[args.l0],
                             tokens=args.e2e_steps * args.batch_size, batch_size=args.batch_size, lr=args.lr,
                             bandwidth=args.bandwidth, init_threshold=args.init_threshold,
                             dead_window=args.dead_window, checkpoint_every=0, eval=False, progress=False,
                             device="cpu", threads=args.threads, cache=str(args.e2e_cache), out=out,
                             unit_norm_decoder=SAELENS_UNIT_NORM.get(arch))


def initial_trainer(cfg: TrainSAEConfig) -> Trainer:
    """Our trainer right after initialisation (untimed): the weights both trainers start from."""
    cfg = with_provenance(cfg)
    tr = Trainer(cfg, CacheSource(cfg.source.cache, cfg.hook, cfg.optim.batch_size, cfg.source.data_seed,
                                  cfg.source.exclude_bos))
    tr.init_from_data()
    return tr


def check_cache(args: argparse.Namespace) -> None:
    """The e2e cache, built once if missing; it must hold the training plus the held-out batches."""
    from sae_results import ensure_cache

    if not (Path(args.e2e_cache) / "manifest.json").exists():
        ensure_cache(args.e2e_cache, E2E_TOKENS)
    n_avail = ActivationCache.open(args.e2e_cache).n_tokens // args.batch_size - 1
    if args.e2e_steps + args.eval_batches > n_avail:
        raise SystemExit(f"the cache {args.e2e_cache} holds {n_avail} batches of {args.batch_size}; need "
                         f"--e2e-steps + --eval-batches <= that")


def run_e2e_arch(arch: str, args: argparse.Namespace, saelens_builder, r2_l0) -> dict:
    """Both trainings of one architecture from the same initialisation; times, R², L0, load."""
    out_ours = tempfile.mkdtemp(prefix="sae_e2e_ours_")
    cfg = e2e_config(arch, args, out_ours)
    init = initial_trainer(cfg)
    src = init.source
    eval_batches = [src.batch(args.e2e_steps + i) for i in range(args.eval_batches)]

    load0 = os.getloadavg()[0]
    t = time.perf_counter()
    train_saes(cfg)
    t_ours = time.perf_counter() - t
    load1 = os.getloadavg()[0]
    mine = io.load(out_ours)
    same = all(torch.equal(a, b) for a, b in zip(init.runs[0].sae.state_dict().values(),
                                                  initial_trainer(cfg).runs[0].sae.state_dict().values()))
    if not same:
        raise SystemExit("our initialisation is not deterministic: the copied weights would differ")

    out_theirs = tempfile.mkdtemp(prefix="sae_e2e_saelens_")
    t = time.perf_counter()
    cache_src = CacheSource(str(args.e2e_cache), args.hook, args.batch_size, 0, True)
    theirs = saelens_builder(arch, args, init, (cache_src.batch(i) for i in range(args.e2e_steps)))
    theirs.fit()
    theirs.sae.save_model(out_theirs)
    t_theirs = time.perf_counter() - t
    load2 = os.getloadavg()[0]

    def ours_ed(x):
        o = mine(x)
        return o.feature_acts, o.x_hat

    tsae = theirs.sae.eval()  # activation scale folded in by fit(): raw activations in and out

    def theirs_ed(x):
        f = tsae.encode(x)
        return f, tsae.decode(f)

    r2_o, l0_o = r2_l0(ours_ed, eval_batches)
    r2_t, l0_t = r2_l0(theirs_ed, eval_batches)
    return {"arch": arch, "ours_s": t_ours, "saelens_s": t_theirs, "ours_r2": r2_o, "saelens_r2": r2_t,
            "ours_l0": l0_o, "saelens_l0": l0_t, "load": (load0, load1, load2)}


def report_e2e(results: list[dict], args: argparse.Namespace) -> None:
    """Per-architecture lines, then the ratio line (the bench's last line)."""
    tokens = args.e2e_steps * args.batch_size
    line = {}
    for r in results:
        a, sp, d = r["arch"], r["saelens_s"] / r["ours_s"], r["ours_r2"] - r["saelens_r2"]
        print(f"e2e {a:9s} ours {r['ours_s']:7.1f} s ({tokens / r['ours_s']:7,.0f} tok/s)  sae_lens "
              f"{r['saelens_s']:7.1f} s ({tokens / r['saelens_s']:7,.0f} tok/s)  speedup {sp:.2f}x  R2 ours "
              f"{r['ours_r2']:.4f} @L0 {r['ours_l0']:.1f}  sae_lens {r['saelens_r2']:.4f} @L0 {r['saelens_l0']:.1f}"
              f"  delta {d:+.4f}  load {'/'.join(f'{v:.1f}' for v in r['load'])}", flush=True)
        line[a] = (sp, d)
    get = {a: line.get(a, (float("nan"), float("nan"))) for a in ("topk", "jumprelu", "relu")}
    print(f"topk_speedup={get['topk'][0]:.2f} jumprelu_speedup={get['jumprelu'][0]:.2f} "
          f"relu_speedup={get['relu'][0]:.2f} topk_r2_delta={get['topk'][1]:+.4f} "
          f"jumprelu_r2_delta={get['jumprelu'][1]:+.4f} relu_r2_delta={get['relu'][1]:+.4f} window=e2e")


def default_cache() -> Path:
    return Path(__file__).resolve().parents[1] / "runs/bench/cache-toy2-gelu-s0-l2-e2e"
