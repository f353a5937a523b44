"""SAE results on the toy world: L0 vs R² and L0 vs CE-loss-recovered for ReLU, TopK and JumpReLU (docs/saes.md).

One sweep on toy-gelu-s0 blocks.2.mlp.hook_post, trained by our trainer in its sweep form (every SAE takes its Adam
step on the same activation batch, so the whole sweep costs one pass over the data): k for TopK, the L1 coefficient
for ReLU, the L0 coefficient for JumpReLU, plus a second seed of one setting per architecture for seed stability.
Data: the activation cache of bench/sae_vs_saelens.py (built if missing). Every SAE is evaluated by saes.eval.report
(held-out toy-world text, BOS left out: l0, r2, ce_loss_recovered, ground-truth concept AUROC) and the points, the
paper's claim check (at equal L0, JumpReLU >= TopK > ReLU in R², compared by interpolating each curve in log L0) and
the seed stabilities are written to bench/results/sae_results.json; the figure to docs/figures/saes_l0_tradeoff.html
(+ .json, the plotly figure).

    HF_HUB_OFFLINE=1 .venv/bin/python bench/sae_results.py            # train, evaluate, write (~20 min, loaded CPU)
    HF_HUB_OFFLINE=1 .venv/bin/python bench/sae_results.py --analyse  # re-read trained SAEs, rewrite outputs
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
MODEL, HOOK = "toy-gelu-s0", "blocks.2.mlp.hook_post"
CACHE = ROOT / "runs/bench/cache-toy2-gelu-s0-l2"  # toy-gelu-s0 is a toy2 model since 2026-11-25
CACHE_TOKENS = 400_000
ARCHS = ("relu", "topk", "jumprelu")


def ensure_cache(path: Path = CACHE, tokens: int = CACHE_TOKENS) -> Path:
    """The benchmark's activation cache of MODEL at HOOK (built once with `interp cache`, resumed if partial)."""
    from interp.activations.cache import main as cache_main
    from interp.activations.config import CacheConfig
    from interp.activations.reader import ActivationCache

    try:
        if ActivationCache.open(path).n_tokens >= tokens:
            return path
    except FileNotFoundError:
        pass
    cache_main(CacheConfig.of(model=MODEL, hooks=[HOOK], tokens=tokens, out=str(path), device="cpu"))
    return path


def train(args) -> None:
    from interp.models import load_model
    from saes.training.config import SAESpec, TrainSAEConfig
    from saes.training.data import CacheSource
    from saes.training.run import finish
    from saes.training.trainer import Trainer

    cache = ensure_cache()
    cfg = TrainSAEConfig.of(model=MODEL, hook=HOOK, arch=list(args.archs), d_sae=[args.d_sae], k=args.k,
                         l1_coefficient=args.l1, l0_coefficient=args.l0, seed=[0], tokens=args.tokens,
                         batch_size=args.batch_size, cache=str(cache), out=str(args.out), checkpoint_every=0,
                         bandwidth=args.bandwidth, init_threshold=args.init_threshold, eval_tokens=args.eval_tokens,
                         device="cpu", log_every=25, init_l0=0, dead_window=1_000_000)  # the docs' settings
    source = CacheSource(str(cache), HOOK, cfg.optim.batch, cfg.source.data_seed, cfg.source.exclude_bos)
    trainer = Trainer(cfg, source)
    # one extra seed of the middle setting of --stability-archs (seed stability), same stream, same pass
    for spec in list(trainer.specs):
        mid = {"relu": args.l1[len(args.l1) // 2], "jumprelu": args.l0[len(args.l0) // 2]}.get(spec.arch)
        if spec.arch not in args.stability_archs:
            continue
        if (spec.k == args.k[len(args.k) // 2]) if spec.arch == "topk" else spec.coefficient == mid:
            extra = SAESpec(spec.arch, spec.d_sae, 1, spec.k, spec.coefficient, spec.lr)
            trainer.specs.append(extra)
            trainer.runs.append(trainer._build(extra, Path(cfg.output.out) / extra.name))
    trainer.init_from_data()
    for run in trainer.runs:
        run.folder.mkdir(parents=True, exist_ok=True)
    trainer.wrap()
    t0 = time.time()
    trainer.fit()
    n_tok = cfg.steps * cfg.optim.batch
    print(f"trained {len(trainer.runs)} SAEs on {n_tok:,} tokens in {time.time() - t0:.0f} s")
    t0 = time.time()
    finish(trainer, load_model(MODEL, device="cpu"))
    print(f"evaluated in {time.time() - t0:.0f} s")
    (Path(args.out) / "bench_args.json").write_text(json.dumps({**vars(args), "train_s": trainer.elapsed}, indent=1,
                                                                default=str))


def interp_r2(points: list[dict], l0: float) -> float | None:
    """R² of a curve at `l0`, linear in log L0 between its points (None outside the curve's L0 range)."""
    pts = sorted((p["l0"], p["r2"]) for p in points)
    xs = np.log([p[0] for p in pts])
    if not pts or not xs[0] <= np.log(l0) <= xs[-1]:
        return None
    return float(np.interp(np.log(l0), xs, [p[1] for p in pts]))


def analyse(outs: list[Path]) -> dict:
    """Points of every SAE under the --out folders (a later folder's SAE replaces an earlier one of the same name)."""
    from saes import io
    from saes.eval import metrics

    found = {f.name: f for out in outs for f in sorted(out.iterdir()) if (f / "eval.json").exists()}
    points, pairs = [], {}
    for folder in found.values():
        rep = json.loads((folder / "eval.json").read_text())
        meta = json.loads((folder / "cfg.json").read_text())
        arch = folder.name.split("-")[0]
        seed = int(folder.name.rsplit("-s", 1)[1])
        gt = rep.get("ground_truth") or {}
        points.append({"name": folder.name, "arch": arch, "seed": seed, "l0": rep["l0"], "r2": rep["r2"],
                       "r2_legacy": rep["r2_legacy"], "ce_loss_recovered": rep["ce_loss_recovered"],
                       "kl_score": rep["kl_score"], "dead_fraction": rep["dead_fraction"],
                       "mean_auroc": gt.get("mean_auroc"), "mean_f1": gt.get("mean_f1"),
                       "n_missed": len(gt.get("missed", [])), "d_sae": meta.get("d_sae")})
        pairs.setdefault(folder.name.rsplit("-s", 1)[0], []).append(folder)
    stability = {}
    for setting, folders in pairs.items():
        if len(folders) == 2:
            a, b = (io.load(f) for f in sorted(folders))
            stability[setting] = {"a_in_b": metrics.seed_stability(a.W_dec.detach(), b.W_dec.detach()),
                                  "b_in_a": metrics.seed_stability(b.W_dec.detach(), a.W_dec.detach())}
    seed0 = [p for p in points if p["seed"] == 0]
    by_arch = {a: [p for p in seed0 if p["arch"] == a] for a in ARCHS}
    claim = []
    for p in sorted(seed0, key=lambda p: p["l0"]):  # at every point's L0, each curve's R² (interpolated in log L0)
        row = {"l0": p["l0"], "at": p["name"], **{a: interp_r2(by_arch[a], p["l0"]) for a in ARCHS}}
        row["jumprelu_ge_topk"] = None if None in (row["jumprelu"], row["topk"]) else row["jumprelu"] >= row["topk"]
        row["topk_gt_relu"] = None if None in (row["topk"], row["relu"]) else row["topk"] > row["relu"]
        claim.append(row)
    auroc = {a: float(np.mean([p["mean_auroc"] for p in by_arch[a] if p["mean_auroc"] is not None]))
             for a in ARCHS if by_arch[a]}
    return {"points": points, "claim": claim, "mean_auroc_by_arch": auroc, "seed_stability": stability}


def figure(res: dict, path: Path) -> None:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=2, subplot_titles=("L0 vs R² (explained variance)", "L0 vs CE loss recovered"))
    colors = {"relu": "#1f77b4", "topk": "#ff7f0e", "jumprelu": "#2ca02c"}
    for arch in ARCHS:
        pts = sorted((p for p in res["points"] if p["arch"] == arch and p["seed"] == 0), key=lambda p: p["l0"])
        for col, key in ((1, "r2"), (2, "ce_loss_recovered")):
            fig.add_trace(go.Scatter(x=[p["l0"] for p in pts], y=[p[key] for p in pts], mode="lines+markers",
                                     name=arch, legendgroup=arch, showlegend=col == 1,
                                     line={"color": colors[arch]}, text=[p["name"] for p in pts]), row=1, col=col)
    fig.update_xaxes(type="log", title_text="L0 (active latents per token, held-out)")
    fig.update_yaxes(title_text="R²", row=1, col=1)
    fig.update_yaxes(title_text="CE loss recovered", row=1, col=2)
    fig.update_layout(title=f"SAEs on {MODEL} {HOOK}", width=1000, height=420)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.write_html(path.with_suffix(".html"), include_plotlyjs="directory")
    path.with_suffix(".json").write_text(fig.to_json())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=ROOT / "runs/bench/sae_results", help="where this run trains")
    ap.add_argument("--also", type=Path, nargs="*", default=[], help="earlier --out folders to include (analysis)")
    ap.add_argument("--archs", nargs="+", default=list(ARCHS), help="architectures this run trains")
    ap.add_argument("--d-sae", type=int, default=512)
    ap.add_argument("--k", type=int, nargs="+", default=[8, 16, 32])
    ap.add_argument("--l1", type=float, nargs="+", default=[2.0, 5.0, 12.0])
    ap.add_argument("--l0", type=float, nargs="+", default=[0.1, 0.3, 1.0])
    ap.add_argument("--stability-archs", nargs="+", default=["topk"], help="archs trained with a second seed")
    ap.add_argument("--bandwidth", type=float, default=0.05)
    ap.add_argument("--init-threshold", type=float, default=0.1)
    ap.add_argument("--tokens", type=int, default=150_000)
    ap.add_argument("--batch-size", type=int, default=1024)
    ap.add_argument("--eval-tokens", type=int, default=4096)
    ap.add_argument("--analyse", action="store_true", help="only re-read trained SAEs and rewrite the outputs")
    ap.add_argument("--json", type=Path, default=ROOT / "bench/results/sae_results.json")
    ap.add_argument("--figure", type=Path, default=ROOT / "docs/figures/saes_l0_tradeoff.html")
    args = ap.parse_args()
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    if not args.analyse:
        train(args)
    outs = [*args.also, args.out]
    res = analyse(outs)
    res["settings"] = {str(o): json.loads((o / "bench_args.json").read_text()) for o in outs
                       if (o / "bench_args.json").exists()}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(res, indent=1))
    figure(res, args.figure)
    for p in sorted(res["points"], key=lambda p: (p["arch"], p["seed"], p["l0"])):
        print(f"{p['name']:28s} L0={p['l0']:7.1f} R2={p['r2']:.4f} CErec={p['ce_loss_recovered']:.4f} "
              f"AUROC={p['mean_auroc'] if p['mean_auroc'] is None else round(p['mean_auroc'], 4)} "
              f"dead={p['dead_fraction']:.3f}")
    def f(v):
        return "  -   " if v is None else f"{v:.4f}"

    for row in res["claim"]:
        print(f"at L0={row['l0']:6.1f} ({row['at']}): R2 relu {f(row['relu'])} topk {f(row['topk'])} "
              f"jumprelu {f(row['jumprelu'])}  jumprelu>=topk={row['jumprelu_ge_topk']} "
              f"topk>relu={row['topk_gt_relu']}")
    print("mean AUROC by arch:", {a: round(v, 4) for a, v in res["mean_auroc_by_arch"].items()})
    print("seed stability:", res["seed_stability"])
    print(f"wrote {args.json} and {args.figure}")


if __name__ == "__main__":
    main()
