"""Benchmark: our activation patching vs transformer_lens.patching, and the cost of AtP and RelP.

Same model (toy-gelu-s0), same 32 held-out IOI prompts (15 tokens, ABC corruption), same metric, one run:
- the full resid_pre / attn_out / mlp_out (layer, position) sweep with circuits' routine (starting each pass at
  the patch's layer and position),
  and with get_act_patch_block_every;
- the cost of AtP and RelP (all components of the sweep) in units of one forward pass on the prompts.
Our routines run blocks, attention and LayerNorms as fused kernels (interp.fused); the sweep is also timed
without them, and the AtP / RelP costs are in units of a forward pass with the same fused kernels (the conservative
unit: TransformerLens's own forward is slower).
Results are checked equal to TransformerLens's before timings are printed. Torch runs on one thread: on shared
cores two threads spin on each other and every number becomes noise.
The last line reads `sweep_speedup=X atp_cost=Y relp_cost=Z`.
"""

from __future__ import annotations

import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402
from transformer_lens import patching as tlp  # noqa: E402

from circuits.patching.activation import block_every  # noqa: E402
from circuits.patching.attribution import attribution_patch  # noqa: E402
from circuits.patching.relevance import relevance_patch  # noqa: E402
from circuits.tasks import toy_tasks  # noqa: E402
from interp.fused import fused_kernels  # noqa: E402
from interp.models import load_model  # noqa: E402

BLOCK = ["resid_pre", "attn_out", "mlp_out"]


def best_of(fn, repeats: int) -> tuple[float, object]:
    """Fastest wall time of `repeats` calls, and the last result."""
    times, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def main() -> None:
    torch.set_num_threads(1)
    model = load_model("toy-gelu-s0")
    task = toy_tasks(model)["ioi"](model, n=32)  # the IOI task of the model's own world
    _, clean_cache = model.run_with_cache(task.clean)
    print(f"model toy-gelu-s0, {task.n_prompts} prompts x {task.n_pos} tokens, torch threads 1")

    t_ours, ours = best_of(lambda: block_every(model, task, normalise=False), 3)
    t_tl, theirs = best_of(lambda: tlp.get_act_patch_block_every(model, task.corrupted, clean_cache, task.metric), 1)
    got = torch.stack([ours[c].scores for c in BLOCK])  # [3, n_layers, pos], TransformerLens's layout
    torch.testing.assert_close(got, theirs.cpu(), atol=1e-4, rtol=1e-4)
    n_patches = got.numel()
    print(f"block sweep, {n_patches} patches (results equal to TransformerLens's):")
    print(f"  ours (start at layer l and position p)        {t_ours:7.3f} s")
    print(f"  transformer_lens get_act_patch_block_every    {t_tl:7.3f} s  ({t_tl / t_ours:.1f}x slower)")

    with fused_kernels(model, enabled=False):  # the same routine on TransformerLens's own attention / LayerNorm code
        t_unfused, _ = best_of(lambda: block_every(model, task, normalise=False), 3)
    print(f"  ours, TransformerLens's unfused kernels       {t_unfused:7.3f} s  ({t_tl / t_unfused:.1f}x faster than "
          f"TransformerLens: the part of the speed-up that is not the fused kernels)")

    with torch.no_grad():
        t_fwd_tl, _ = best_of(lambda: model(task.corrupted), 10)
        with fused_kernels(model):  # the passes AtP and RelP run, so their cost is counted in their own unit
            t_fwd, _ = best_of(lambda: model(task.corrupted), 10)
    comps = BLOCK + ["head_out", "head_out_by_pos"]
    t_atp, _ = best_of(lambda: attribution_patch(model, task, comps), 5)
    t_relp, _ = best_of(lambda: relevance_patch(model, task, comps), 5)
    print(f"one forward pass {t_fwd * 1e3:.1f} ms fused ({t_fwd_tl * 1e3:.1f} ms TransformerLens's); "
          f"AtP {t_atp * 1e3:.1f} ms; RelP {t_relp * 1e3:.1f} ms (components: {', '.join(comps)})")
    print(f"sweep_speedup={t_tl / t_ours:.2f} atp_cost={t_atp / t_fwd:.2f} relp_cost={t_relp / t_fwd:.2f}")


if __name__ == "__main__":
    main()
