"""Our SAE trainer against sae_lens's SAETrainer: same activations, same architecture, same hyperparameters.

Data: the activation cache of toy-gelu-s0 blocks.2.mlp.hook_post in runs/bench/ (built once if missing), BOS left
out; batch `step` is the same tensor for both trainers (saes.training.data.CacheSource's plan), and the held-out
eval batches come after the training batches in the same epoch (disjoint tokens).
Both SAEs start from the same weights (ours, initialised by our trainer: unit-norm decoder rows, W_enc = W_decᵀ,
b_dec = geometric median of the first batch, activation scale sqrt(d_in)/E||x|| from the first batches, which is also
given to sae_lens's ActivationScaler) and follow the same schedule (Adam, lr warmup/decay steps, sparsity-coefficient
warmup steps, k, L1 / L0 coefficients, JumpReLU bandwidth and initial threshold, AuxK α, dead window).
Differences that are sae_lens's own behaviour and kept: its TopK rescales pre-activations by decoder norms instead of
keeping rows at unit norm, its AuxK is not variance-normalised. Its JumpReLU leaves decoder rows free, so ours is
trained that way here too (--unit-norm-decoder false, sae_e2e.SAELENS_UNIT_NORM); both clip the gradient norm to 1.

The two trainers run in lock-step inside one process, alternating which goes first, each step timed separately,
so a heavily shared CPU slows both alike: ours is Trainer.step + update_dead_stats (the body of Trainer.fit), sae_lens's
is the body of SAETrainer.fit (maybe_reset_sparsity, step(next(data_provider)), checkpoint check, step count), with the
batches coming from a data_provider iterator. tokens/s excludes reading the cache. A dense fp32 matmul of the SAE's
shapes ([batch, d_in] @ [d_in, d_sae]) is timed in the same run: the roofline. A dense SAE step costs 6 such matmuls
(encoder and decoder, forward and two backward each), so roofline tokens/s = matmul FLOP/s / (12·d_in·d_sae);
each trainer's tokens/s is printed as a fraction of it (above 100% means the step is not dense: TopK's decode, and
ReLU / JumpReLU once their codes are sparse, use only the active latents).

R² is the explained variance (float64, saes.eval.metrics.R2Accumulator) of each trained SAE on the held-out batches, at
the L0 it reached there. The warm window ends with the line
`topk_speedup=X jumprelu_speedup=Y relu_speedup=Z topk_r2_delta=.. jumprelu_r2_delta=.. relu_r2_delta=.. window=warm`
(speedup = our tokens/s over sae_lens's, r2_delta = our R² minus sae_lens's).

Then the end-to-end comparison (bench/sae_e2e.py): each trainer's whole training call, from the same initialisation,
over the same --e2e-steps x 4096 cached tokens (default 489 steps: 2,002,944 tokens; cache runs/bench/
cache-toy2-gelu-s0-l2-e2e, built once), timed start-up included; R² / L0 of the saved SAEs on the same held-out
batches. The bench's last line is the same ratio line with `window=e2e` (speedup = sae_lens's seconds over ours).

    HF_HUB_OFFLINE=1 .venv/bin/python bench/sae_vs_saelens.py            # warm window, then end to end (~45 min idle)
    HF_HUB_OFFLINE=1 .venv/bin/python bench/sae_vs_saelens.py --window e2e --e2e-steps 64   # shorter e2e runs
    HF_HUB_OFFLINE=1 .venv/bin/python bench/sae_vs_saelens.py --quick --window warm   # d_sae 1024, 10 steps, ~1 min
    HF_HUB_OFFLINE=1 .venv/bin/python bench/sae_vs_saelens.py --warm-steps 0 --window warm  # the first steps

Which phase of training is timed matters. In the first steps at d_sae 4096 the ReLU and JumpReLU codes are dense
(L0 ~ d_sae/2, R² still negative); within a few dozen steps they are sparse (L0 ~ 1-3% of d_sae), as for the rest
of a real run. So by default our trainer first trains 60 untimed steps (at lr 3e-3, high so that the codes get
sparse that soon: L0 ~40 for ReLU, ~200 for JumpReLU, 32 for TopK) and both trainers continue from that SAE (same
weights and activation scale, fresh Adam state and schedule, the usual lr) for the timed steps: speed is measured
where runs spend their time, and R² is compared between two SAEs that both reconstruct. `--warm-steps 0` times
the start instead.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("WANDB_MODE", "disabled")

import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sae_e2e import SAELENS_UNIT_NORM, check_cache, default_cache, report_e2e, run_e2e_arch  # noqa: E402
from sae_results import CACHE, HOOK, ensure_cache  # noqa: E402

from interp.activations.sources import Pair  # noqa: E402
from saes.eval import metrics  # noqa: E402
from saes.training.config import TrainSAEConfig  # noqa: E402
from saes.training.data import CacheSource  # noqa: E402
from saes.training.trainer import Trainer  # noqa: E402


class FixedSource:
    """The pre-read batches, served to our trainer as a ShardedSource (batch(step, lo, hi))."""

    corpus = None  # activations handed in directly: no corpus for cfg.json to record

    def __init__(self, batches: list[torch.Tensor]):
        self.batches, self.d_in = batches, batches[0].shape[-1]

    def batch(self, step: int, lo: int = 0, hi: int | None = None) -> torch.Tensor:
        return self.batches[step][lo:hi]

    def pair(self, step: int, lo: int = 0, hi: int | None = None) -> Pair:
        x = self.batch(step, lo, hi)
        return Pair(x, x)  # an SAE's target is its input


def matmul_flops(batch: int, d_in: int, d_sae: int, reps: int = 3) -> float:
    """Best-of FLOP/s of a dense fp32 [batch, d_in] @ [d_in, d_sae]."""
    a, w = torch.randn(batch, d_in), torch.randn(d_in, d_sae)
    a @ w
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        a @ w
        best = min(best, time.perf_counter() - t)
    return 2 * batch * d_in * d_sae / best


def ours(arch: str, args, batches: list[torch.Tensor]) -> Trainer:
    cfg = TrainSAEConfig.of(model="toy-gelu-s0", hook=HOOK, arch=[arch], d_sae=[args.d_sae], k=[args.k],
                         l1_coefficient=[args.l1], l0_coefficient=[args.l0], tokens=args.steps * args.batch_size,
                         batch_size=args.batch_size, lr=args.lr, bandwidth=args.bandwidth,
                         init_threshold=args.init_threshold, dead_window=args.dead_window, checkpoint_every=0,
                         eval=False, progress=False, device="cpu", out=tempfile.mkdtemp(prefix="sae_bench_"),
                         init_l0=0,  # SAELens's init, for a like-for-like comparison
                         unit_norm_decoder=SAELENS_UNIT_NORM.get(arch))  # and its decoder rule
    tr = Trainer(cfg, FixedSource(batches))  # type: ignore[arg-type]
    tr.init_from_data()
    tr.wrap()
    return tr


def saelens(arch: str, args, mine: Trainer, batches):
    """A sae_lens SAETrainer with the same settings and schedule (mine.cfg.steps steps), starting from our SAE's
    initial weights, reading `batches` (an iterable of tensors) through its data_provider."""
    from sae_lens import SAETrainer
    from sae_lens.config import SAETrainerConfig
    from sae_lens.saes.jumprelu_sae import JumpReLUTrainingSAE, JumpReLUTrainingSAEConfig
    from sae_lens.saes.standard_sae import StandardTrainingSAE, StandardTrainingSAEConfig
    from sae_lens.saes.topk_sae import TopKTrainingSAE, TopKTrainingSAEConfig

    cfg, n = mine.cfg, mine.cfg.steps
    sp_warm = round(cfg.optim.sparsity_warmup * n)
    common = {"d_in": mine.source.d_in, "d_sae": args.d_sae, "dtype": "float32", "device": "cpu",
              "apply_b_dec_to_input": True, "normalize_activations": "none", "decoder_init_norm": None}
    if arch == "topk":
        sae = TopKTrainingSAE(TopKTrainingSAEConfig(k=args.k, aux_loss_coefficient=cfg.sae.aux_coefficient,
                                                    rescale_acts_by_decoder_norm=True, **common))
    elif arch == "relu":
        sae = StandardTrainingSAE(StandardTrainingSAEConfig(l1_coefficient=args.l1, l1_warm_up_steps=sp_warm,
                                                            **common))
    else:
        sae = JumpReLUTrainingSAE(JumpReLUTrainingSAEConfig(
            l0_coefficient=args.l0, l0_warm_up_steps=sp_warm, jumprelu_bandwidth=args.bandwidth,
            jumprelu_init_threshold=args.init_threshold, **common))
    src = mine.runs[0].sae
    with torch.no_grad():
        for name in ("W_enc", "b_enc", "W_dec", "b_dec") + (("threshold",) if arch == "jumprelu" else ()):
            getattr(sae, name).copy_(getattr(src, name))
    tcfg = SAETrainerConfig(total_training_samples=n * args.batch_size, train_batch_size_samples=args.batch_size,
                            lr=mine.runs[0].spec.lr, lr_end=mine.runs[0].spec.lr,
                            lr_warm_up_steps=round(cfg.optim.lr_warmup * n),
                            lr_decay_steps=round(cfg.optim.lr_decay * n),
                            device="cpu", dead_feature_window=max(1, cfg.dead.dead_window // args.batch_size),
                            feature_sampling_window=10**9)
    provider = iter(batches)
    trainer = SAETrainer(cfg=tcfg, sae=sae, data_provider=provider)
    trainer.activation_scaler.scaling_factor = src.cfg.act_scale  # same s as ours (fit() would re-estimate it)
    return trainer


def ours_step(tr: Trainer, step: int) -> None:
    """The body of Trainer.fit for one step (minus the every-log_every logging)."""
    x = tr._batch(step)
    stats = tr.step(step, x)
    tr.check_finite(step, stats)
    for run, st in zip(tr.runs, stats):
        tr.update_dead_stats(run, st.fire_counts)


def saelens_step(tr) -> None:
    """The body of SAETrainer.fit for one step (minus wandb and the progress bar)."""
    tr.maybe_reset_sparsity()
    tr.step(next(tr.data_provider))
    tr._checkpoint_if_needed()
    tr.n_training_steps += 1


@torch.no_grad()
def r2_l0(encode_decode, eval_batches: list[torch.Tensor]) -> tuple[float, float]:
    acc, l0s = metrics.R2Accumulator(), []
    for x in eval_batches:
        f, x_hat = encode_decode(x)
        acc.update(x, x_hat)
        l0s.append(metrics.l0(f))
    return acc.compute(), sum(l0s) / len(l0s)


def warm_start(arch: str, args, batches: list[torch.Tensor]) -> tuple[dict, float] | None:
    """Our SAE's weights and activation scale after args.warm_steps untimed steps on `batches`, or None."""
    if not args.warm_steps:
        return None
    tr = ours(arch, argparse.Namespace(**{**vars(args), "steps": args.warm_steps, "lr": args.warm_lr}), batches)
    for step in range(args.warm_steps):
        ours_step(tr, step)
    sae = tr.runs[0].sae
    return {k: v.detach().clone() for k, v in sae.state_dict().items()}, sae.cfg.act_scale


def run_arch(arch: str, args, batches, eval_batches) -> dict:
    warm = warm_start(arch, args, batches[:args.warm_steps])
    timed = batches[args.warm_steps:]
    mine = ours(arch, args, timed)
    if warm is not None:  # both trainers continue from the same partly trained SAE (fresh Adam and schedule)
        mine.runs[0].sae.load_state_dict(warm[0])
        mine.runs[0].sae.cfg.act_scale = warm[1]
    theirs = saelens(arch, args, mine, timed)
    t_ours = t_theirs = 0.0
    for step in range(args.steps):
        order = (0, 1) if step % 2 == 0 else (1, 0)
        for who in order:
            t = time.perf_counter()
            if who == 0:
                ours_step(mine, step)
                t_ours += time.perf_counter() - t
            else:
                saelens_step(theirs)
                t_theirs += time.perf_counter() - t
    sae = mine.runs[0].sae.eval()
    s = sae.cfg.act_scale

    def ours_ed(x):
        out = sae(x)
        return out.feature_acts, out.x_hat

    tsae = theirs.sae.eval()

    def theirs_ed(x):  # sae_lens's SAE works on scaled inputs (its activation scaler is not folded yet)
        f = tsae.encode(x * s)
        return f, tsae.decode(f) / s

    r2_o, l0_o = r2_l0(ours_ed, eval_batches)
    r2_t, l0_t = r2_l0(theirs_ed, eval_batches)
    tokens = args.steps * args.batch_size
    return {"arch": arch, "ours_tps": tokens / t_ours, "saelens_tps": tokens / t_theirs, "ours_r2": r2_o,
            "saelens_r2": r2_t, "ours_l0": l0_o, "saelens_l0": l0_t}


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="d_sae 1024 and fewer steps (~1 min smoke run)")
    ap.add_argument("--d-sae", type=int, default=None, help="default 4096 (1024 with --quick)")
    ap.add_argument("--steps", type=int, default=None, help="timed training steps per trainer (default 8; 10 quick)")
    ap.add_argument("--warm-steps", type=int, default=None,
                    help="untimed steps of our trainer first, whose SAE both trainers then continue from "
                         "(default 60; 0 = both start from the initialisation)")
    ap.add_argument("--warm-lr", type=float, default=3e-3,
                    help="learning rate of the warm-up steps (high, so the codes are sparse after 60 steps)")
    ap.add_argument("--batch-size", type=int, default=4096)
    ap.add_argument("--k", type=int, default=32)
    ap.add_argument("--l1", type=float, default=2.0, help="ReLU L1 coefficient")
    ap.add_argument("--l0", type=float, default=0.3, help="JumpReLU L0 coefficient")
    ap.add_argument("--bandwidth", type=float, default=0.05)
    ap.add_argument("--init-threshold", type=float, default=0.1)
    ap.add_argument("--lr", type=float, default=None, help="default: our trainer's 2e-4/sqrt(d_sae/2^14)")
    ap.add_argument("--dead-window", type=int, default=1_000_000)
    ap.add_argument("--eval-batches", type=int, default=2)
    ap.add_argument("--archs", nargs="+", default=["topk", "jumprelu", "relu"])
    ap.add_argument("--cache", type=Path, default=CACHE, help="the warm window's cache (400k tokens)")
    ap.add_argument("--window", choices=["both", "warm", "e2e"], default="both",
                    help="the warm window (--warm-steps, then --steps timed), the end-to-end runs, or both")
    ap.add_argument("--e2e-steps", type=int, default=489,
                    help="training steps of each end-to-end run (489 x 4096 = 2,002,944 tokens)")
    ap.add_argument("--e2e-cache", type=Path, default=default_cache(),
                    help="the end-to-end runs' cache (>= 2M tokens; built there once if missing)")
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads of both trainers")
    args = ap.parse_args()
    args.d_sae = args.d_sae or (1024 if args.quick else 4096)
    args.steps = args.steps or (10 if args.quick else 8)
    args.warm_steps = (0 if args.quick else 60) if args.warm_steps is None else args.warm_steps
    args.hook = HOOK
    return args


def load_batches(args) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """The training batches (warm-up, then timed) and the held-out batches, read from the cache once."""
    ensure_cache(args.cache)
    src = CacheSource(str(args.cache), HOOK, args.batch_size, data_seed=0, exclude_bos=True)
    n_avail = src.cache.n_tokens // args.batch_size - 1
    n_train = args.warm_steps + args.steps
    if n_train + args.eval_batches > n_avail:
        raise SystemExit(f"the cache holds {n_avail} batches; need warm steps + steps + eval batches <= that")
    t0 = time.time()
    batches = [src.batch(i) for i in range(n_train)]
    eval_batches = [src.batch(n_train + i) for i in range(args.eval_batches)]
    print(f"data: {args.cache} {HOOK}, d_in {batches[0].shape[-1]}, {args.warm_steps} warm-up + {args.steps} timed "
          f"steps x {args.batch_size} tokens (+{args.eval_batches} held-out batches), read in "
          f"{time.time() - t0:.1f} s; d_sae {args.d_sae}, k {args.k}, l1 {args.l1}, l0 {args.l0}, "
          f"threads {torch.get_num_threads()}", flush=True)
    return batches, eval_batches


def report(results: list[dict], flops: list[float], args, d_in: int) -> None:
    """Per-architecture lines against the matmul roofline, then the ratio line."""
    peak = max(flops)
    roof_tps = peak / (12 * d_in * args.d_sae)
    print(f"roofline: fp32 matmul [{args.batch_size}x{d_in}]@[{d_in}x{args.d_sae}] best {peak / 1e9:.1f} GFLOP/s "
          f"(samples {', '.join(f'{f / 1e9:.1f}' for f in flops)}) -> dense SAE step roofline {roof_tps:,.0f} tok/s")
    line = {}
    for r in results:
        a = r["arch"]
        sp, d = r["ours_tps"] / r["saelens_tps"], r["ours_r2"] - r["saelens_r2"]
        print(f"{a:9s} ours {r['ours_tps']:8,.0f} tok/s ({r['ours_tps'] / roof_tps:5.1%} of roofline)  "
              f"sae_lens {r['saelens_tps']:8,.0f} tok/s ({r['saelens_tps'] / roof_tps:5.1%})  speedup {sp:.2f}x  "
              f"R2 ours {r['ours_r2']:.4f} @L0 {r['ours_l0']:.1f}  sae_lens {r['saelens_r2']:.4f} "
              f"@L0 {r['saelens_l0']:.1f}  delta {d:+.4f}")
        line[a] = (sp, d)
    get = {a: line.get(a, (float("nan"), float("nan"))) for a in ("topk", "jumprelu", "relu")}
    print(f"topk_speedup={get['topk'][0]:.2f} jumprelu_speedup={get['jumprelu'][0]:.2f} "
          f"relu_speedup={get['relu'][0]:.2f} topk_r2_delta={get['topk'][1]:+.4f} "
          f"jumprelu_r2_delta={get['jumprelu'][1]:+.4f} relu_r2_delta={get['relu'][1]:+.4f} window=warm")


def warm_window(args) -> None:
    """The warm-window measurement: lock-step timed steps from a partly trained SAE (see the module docstring)."""
    batches, eval_batches = load_batches(args)
    d_in = batches[0].shape[-1]
    flops = [matmul_flops(args.batch_size, d_in, args.d_sae)]
    results = []
    for arch in args.archs:
        with contextlib.redirect_stderr(io.StringIO()):  # sae_lens's tqdm/warnings
            res = run_arch(arch, args, batches, eval_batches)
        flops.append(matmul_flops(args.batch_size, d_in, args.d_sae))
        results.append(res)
        print(f"  {arch}: ours {res['ours_tps']:,.0f} tok/s, sae_lens {res['saelens_tps']:,.0f} tok/s", flush=True)
    report(results, flops, args, d_in)


def end_to_end(args) -> None:
    """Both trainers' whole training calls from the same initialisation (bench/sae_e2e.py); the last line."""
    check_cache(args)
    print(f"e2e data: {args.e2e_cache} {HOOK}, {args.e2e_steps} steps x {args.batch_size} tokens "
          f"({args.e2e_steps * args.batch_size:,}), +{args.eval_batches} held-out batches; d_sae {args.d_sae}, "
          f"k {args.k}, l1 {args.l1}, l0 {args.l0}, threads {args.threads}, fp32", flush=True)
    results = []
    for arch in args.archs:
        with contextlib.redirect_stderr(io.StringIO()):  # sae_lens's tqdm/warnings
            results.append(run_e2e_arch(arch, args, saelens, r2_l0))
        r = results[-1]
        print(f"  e2e {arch}: ours {r['ours_s']:.1f} s, sae_lens {r['saelens_s']:.1f} s", flush=True)
    report_e2e(results, args)


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(f"load average at start: {' '.join(f'{v:.2f}' for v in os.getloadavg())} on {os.cpu_count()} cores",
          flush=True)
    if args.window in ("both", "warm"):
        warm_window(args)
    if args.window in ("both", "e2e"):
        end_to_end(args)


if __name__ == "__main__":
    main()
