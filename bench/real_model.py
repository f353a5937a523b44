"""Benchmark at real scale: SmolLM2-135M (30 layers, GQA, SwiGLU), side by side in one run.

1. Caching every layer's MLP output (blocks.*.hook_mlp_out, 30 hooks) on python-docs text with `interp cache`,
   against a bare TransformerLens forward and against run_with_cache + torch.save per batch, each in a fresh
   process, interleaved in rounds (bench/cache_throughput.py's method and workers; medians). Targets: >= 0.85 of
   the forward's tokens/s, >= 2x run_with_cache + saving.
2. The head-by-position activation-patching sweep (head_out_by_pos: every head at every position) on IOI prompts
   of Wang et al.'s templates, against transformer_lens.patching's generic_activation_patch with its
   head-by-position setter on the same layers, prompts and metric. transformer_lens takes prompts of one length,
   so both run one template's prompts. The time of each includes its clean run (ours: the clean and corrupted
   runs it caches). The results are checked equal before timings are printed. Target >= 3x.
3. The cost of AtP and RelP (resid_pre, attn_out, mlp_out, head_out, head_out_by_pos together), in units of one
   forward pass over the same prompts. Target <= 3.
4. Peak memory: the largest resident set of this process and of the cache workers, in GB (10^9 bytes).

Torch runs on one thread (on shared cores two threads spin on each other). Needs `interp models fetch
smollm2-135m` first. The LAST line reads exactly
``cache_vs_forward=X cache_vs_run_with_cache=Y sweep_speedup=Z atp_cost=A relp_cost=B peak_gb=M``.

Usage: python bench/real_model.py [--tokens 8192] [--rounds 3] [--prompts 8] [--layers 0 15 29]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import pandas as pd  # noqa: E402
import torch  # noqa: E402
from cache_throughput import Setup, median_rates  # noqa: E402
from patching import best_of  # noqa: E402
from transformer_lens import patching as tlp  # noqa: E402

from circuits.patching.activation import generic_activation_patch  # noqa: E402
from circuits.patching.attribution import attribution_patch  # noqa: E402
from circuits.patching.components import COMPONENTS  # noqa: E402
from circuits.patching.relevance import relevance_patch  # noqa: E402
from circuits.tasks import as_groups, classic_ioi_task  # noqa: E402
from interp.fused import fused_kernels  # noqa: E402
from interp.models import load_model  # noqa: E402

MODEL = "smollm2-135m"
CACHE = Setup(MODEL, ("blocks.*.hook_mlp_out",), "python-docs", batch=8, n_ctx=128)
ESTIMATED = ["resid_pre", "attn_out", "mlp_out", "head_out", "head_out_by_pos"]


def one_template_task(model, n_prompts: int):
    """`n_prompts` IOI prompt pairs of one template and length (the group of the first template)."""
    groups = as_groups(classic_ioi_task(model, n=15 * n_prompts, seed=0))
    group = max(groups, key=lambda g: g.n_prompts)
    return group.subset(slice(0, n_prompts))


def sweep(model, task, layers: list[int]) -> tuple[float, float]:
    """Seconds of our head-by-position sweep and of transformer_lens.patching's on `layers`; results checked equal."""
    comp = COMPONENTS["head_out_by_pos"]
    t_ours, ours = best_of(lambda: generic_activation_patch(model, task, comp, layers=layers, normalise=False), 1)
    index = pd.DataFrame([(la, p, h) for la in layers for p in range(task.n_pos) for h in range(model.cfg.n_heads)],
                         columns=["layer", "pos", "head"])

    def theirs():
        _, clean_cache = model.run_with_cache(task.clean)
        return tlp.generic_activation_patch(model, task.corrupted, clean_cache, task.metric,
                                            patch_setter=tlp.layer_pos_head_vector_patch_setter,
                                            activation_name="z", index_df=index)

    t_tl, flat = best_of(theirs, 1)
    got = ours.scores.reshape(-1)  # [layer, pos, head] flattened in the index's (layer, pos, head) order
    torch.testing.assert_close(got, flat.cpu(), atol=1e-3 * float(flat.abs().max()), rtol=1e-3)
    return t_ours, t_tl


def costs(model, task) -> tuple[float, float, float]:
    """Seconds of one forward pass, of AtP and of RelP on `task` (all of ESTIMATED together)."""
    with torch.no_grad(), fused_kernels(model):  # AtP and RelP run with the same kernels
        t_fwd, _ = best_of(lambda: model(task.corrupted), 5)
    torch.set_grad_enabled(True)
    t_atp, _ = best_of(lambda: attribution_patch(model, task, ESTIMATED), 3)
    t_relp, _ = best_of(lambda: relevance_patch(model, task, ESTIMATED), 3)
    return t_fwd, t_atp, t_relp


def peak_gb() -> float:
    """Largest resident set of this process or any finished child (Linux reports KiB)."""
    kib = max(resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return kib * 1024 / 1e9


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tokens", type=int, default=8192, help="tokens each cache measurement runs")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--prompts", type=int, default=8, help="IOI prompt pairs of the sweep and of AtP / RelP")
    ap.add_argument("--layers", type=int, nargs="+", default=[0, 15, 29], help="layers the sweep covers")
    args = ap.parse_args()
    med = median_rates(("forward", "cache", "run_with_cache"), args.tokens, args.rounds, CACHE)
    print(f"{MODEL}: caching {', '.join(CACHE.hooks)} (every layer's MLP output) on {CACHE.corpus}, {args.tokens:,} "
          f"tokens, rows of {CACHE.n_ctx}, batch {CACHE.batch}; medians of {args.rounds} rounds: "
          + ", ".join(f"{k} {v:,.0f} tok/s" for k, v in med.items()), flush=True)

    torch.set_num_threads(1)
    model = load_model(MODEL)
    task = one_template_task(model, args.prompts)
    print(f"IOI: {task.n_prompts} prompt pairs x {task.n_pos} tokens (one template, ABC corruption)", flush=True)
    t_ours, t_tl = sweep(model, task, args.layers)
    n_patches = len(args.layers) * task.n_pos * model.cfg.n_heads
    print(f"head_out_by_pos sweep over layers {args.layers}, {n_patches} patches (results equal to "
          f"transformer_lens's): ours {t_ours:.1f} s, transformer_lens.patching {t_tl:.1f} s", flush=True)
    t_fwd, t_atp, t_relp = costs(model, task)
    print(f"one forward pass {t_fwd * 1e3:.0f} ms; AtP {t_atp * 1e3:.0f} ms; RelP {t_relp * 1e3:.0f} ms "
          f"(components: {', '.join(ESTIMATED)})")
    print(f"cache_vs_forward={med['cache'] / med['forward']:.3f} "
          f"cache_vs_run_with_cache={med['cache'] / med['run_with_cache']:.3f} sweep_speedup={t_tl / t_ours:.2f} "
          f"atp_cost={t_atp / t_fwd:.2f} relp_cost={t_relp / t_fwd:.2f} peak_gb={peak_gb():.2f}")


if __name__ == "__main__":
    main()
