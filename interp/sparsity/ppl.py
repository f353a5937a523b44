"""PPL-p% sparsity (Luo et al. 2024, "Sparsing Law: Towards Large Language Models with Greater Activation
Sparsity").

The Sparsing Law measures a model's activation sparsity at a fixed cost in quality: every layer drops its smallest
contributions (magnitude-defined activity, interp.sparsity.magnitude) up to one CETT shared by all layers, and the
CETT is raised until the held-out perplexity of the truncated model is (1 + p/100) times the full model's; the
share of dropped (token, neuron) pairs there is the PPL-p% sparsity.

Here the truncation is applied through hooks on the real model: at each layer's mlp.hook_post, activations whose
norm |a_i| ||W_out[i]|| is at most the layer's threshold for that CETT (read off its CETT curve) are set to zero,
and the full and the truncated model are scored on the same held-out rows, so the rise is a paired comparison.
`search` starts at CETT 0.1 and steps along a power law through the evaluations nearest the target (`next_cett`)
until a rise lies within 10% of p; the reported CETT and sparsity are
that evaluation's, else they interpolate between the bracket's ends (listed, with every evaluation).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

import torch
from jaxtyping import Float, Int
from torch import Tensor

from ..fused import fused_kernels

if TYPE_CHECKING:
    from transformer_lens import HookedTransformer

START_CETT = 0.1
PRIOR_POWER = 2.0
"""The exponent k of rise ~ CETT^k assumed where the evaluations do not give one yet (a single evaluation with a
positive rise). Measured k lie between 1.4 and 4 on the toy models and SmolLM2 (about 2 in the middle of their
CETT range); the straight line from the full model (k = 1) used before undershot the CETT of a 1% rise by ~1.5x
(SmolLM2: 0.023 evaluated for 0.036)."""
MIN_SPAN = 1.5
"""Fewest times apart in CETT two evaluations must lie for the exponent of the power law through them."""
MIN_STEP = 1.05
"""Above every evaluation, the next CETT is at least this factor higher (progress when the power law says little);
a larger floor (1.2 before) steps over the target band: a 10% band of the rise is a ~3-5% band of the CETT where the
rise grows as CETT^2-3 (SmolLM2's PPL-5%: 0.12 evaluated for 0.104)."""
TOLERANCE = 0.1
"""A p's search stops once an evaluation's rise is within this share of p, or the bracket is this narrow relative to
its upper end: the rise is measured on a finite held-out sample, so finer steps would chase its noise."""


class Evaluation(NamedTuple):
    """One truncated model on the held-out rows."""

    cett: float
    loss: float
    """Mean next-token loss (nats)."""
    sparsity: float
    """Share of (non-BOS token, neuron) pairs dropped, over every layer."""


def truncation_hooks(thresholds: list[float], w_norms: Float[Tensor, "layer d_mlp"], counter: list[int]
                     ) -> list[tuple[str, Callable]]:
    """mlp.hook_post hooks zeroing activations whose contribution norm is at most the layer's threshold; `counter`
    accumulates [dropped, total] over non-BOS positions."""
    def make(layer: int):
        eps, w = thresholds[layer], w_norms[layer]

        def hook(a, hook):
            keep = a.abs() * w.to(a.device) > eps
            counter[0] += int((~keep[:, 1:]).sum())
            counter[1] += keep[:, 1:].numel()
            return a * keep

        return hook

    return [(f"blocks.{layer}.mlp.hook_post", make(layer)) for layer in range(len(thresholds))]


@torch.inference_mode()
def heldout_loss(model: HookedTransformer, tokens: Int[Tensor, "row pos"], batch_size: int,
                 hooks: list[tuple[str, Callable]] = ()) -> float:
    """Mean next-token loss of `model` (with `hooks`) over the rows."""
    total, n = 0.0, 0
    with fused_kernels(model), model.hooks(fwd_hooks=list(hooks)):
        for s in range(0, tokens.shape[0], batch_size):
            batch = tokens[s:s + batch_size].to(model.cfg.device).long()
            loss = model(batch, return_type="loss", loss_per_token=True)  # [batch, pos - 1]
            total += float(loss.double().sum())
            n += loss.numel()
    return total / max(n, 1)


def evaluate(model: HookedTransformer, tokens: Int[Tensor, "row pos"], batch_size: int, cett: float,
             thresholds: list[float], w_norms: Float[Tensor, "layer d_mlp"]) -> Evaluation:
    counter = [0, 0]
    loss = heldout_loss(model, tokens, batch_size, truncation_hooks(thresholds, w_norms, counter))
    return Evaluation(cett, loss, counter[0] / max(counter[1], 1))


def rise_pct(loss: float, base: float) -> float:
    """Percent rise of perplexity exp(loss) over exp(base)."""
    return (math.exp(loss - base) - 1.0) * 100.0


def search(run: Callable[[float], Evaluation], ps: list[float], steps: int) -> tuple[list[dict], list[Evaluation]]:
    """For each p, the CETT and sparsity at which perplexity rises by p% (module docstring); evaluations are
    shared between the p's. `run(0)` is the full model (threshold 0 drops only exact zeros)."""
    done = {0.0: run(0.0)}
    base = done[0.0].loss

    def bracket(p: float) -> tuple[float, float | None]:
        below = [c for c, e in done.items() if rise_pct(e.loss, base) < p]
        above = [c for c, e in done.items() if rise_pct(e.loss, base) >= p and c > 0]
        return max(below), (min(above) if above else None)

    results = []
    for p in ps:
        for _ in range(steps):
            lo, hi = bracket(p)
            if any(abs(rise_pct(e.loss, base) - p) <= TOLERANCE * p for e in done.values()) or (
                    hi is not None and hi - lo <= TOLERANCE * hi):
                break
            if hi is None and lo >= 1.0:
                break
            c = next_cett(p, lo, hi, {k: rise_pct(e.loss, base) for k, e in done.items()})
            if c not in done:
                done[c] = run(c)
        results.append(_result(p, done, base, *bracket(p)))
    return results, sorted(done.values())


def next_cett(p: float, lo: float, hi: float | None, rise: dict[float, float]) -> float:
    """The next CETT to evaluate, on a power law rise = A * CETT^k through the nearest evaluation (log rise linear
    in log CETT: the rise grows slowly at small CETT and faster later). Inside a bracket with a positive lower end:
    the power law through its ends. Inside (0, hi]: through hi. Above every evaluation: through the highest, at
    least MIN_STEP and at most 4 times it. Outside a bracket the exponent comes from `_power`."""
    if hi is None:
        if lo == 0:
            return START_CETT
        guess = lo * (p / rise[lo]) ** (1 / _power(rise, lo)) if rise[lo] > 0 else 2 * lo
        return min(1.0, max(guess, MIN_STEP * lo), 4 * lo)
    width = hi - lo
    if lo > 0 and rise[lo] > 0 and rise[hi] > rise[lo]:
        guess = lo * (p / rise[lo]) ** (1 / math.log(rise[hi] / rise[lo]) * math.log(hi / lo))
    else:
        guess = hi * (p / rise[hi]) ** (1 / _power(rise, hi))
    return min(max(guess, lo + 0.05 * width), hi - 0.05 * width)


def _power(rise: dict[float, float], at: float) -> float:
    """The exponent k of the power law through evaluation `at` and the nearest one at least MIN_SPAN times away in
    CETT (nearer ones differ by little more than the noise of the rise: on toy-gelu-s0 CETT 0.094 rose 1.18%,
    CETT 0.1 1.13%); PRIOR_POWER where there is none or the two give no positive exponent."""
    far = [c for c in rise if c > 0 and rise[c] > 0 and max(c / at, at / c) >= MIN_SPAN]
    if not far or rise[at] <= 0:
        return PRIOR_POWER
    other = min(far, key=lambda c: abs(math.log(c / at)))
    k = math.log(rise[other] / rise[at]) / math.log(other / at)
    return k if k > 0 else PRIOR_POWER


def _result(p: float, done: dict[float, Evaluation], base: float, lo: float, hi: float | None) -> dict:
    """The CETT and sparsity at a p% rise: an evaluation within the tolerance of p, else interpolated between the
    bracket's ends (None when never reached)."""
    out = {"p": p, "bracket": [lo, hi], "base_ppl": math.exp(base)}
    near = min(done.values(), key=lambda e: abs(rise_pct(e.loss, base) - p))
    if abs(rise_pct(near.loss, base) - p) <= TOLERANCE * p:
        return {**out, "cett": near.cett, "sparsity": near.sparsity, "rise_pct": rise_pct(near.loss, base)}
    if hi is None:
        return {**out, "cett": None, "sparsity": None, "rise_pct": None,
                "note": f"perplexity rose by less than {p}% up to CETT {lo:.3g}"}
    e_lo, e_hi = done[lo], done[hi]
    r_lo, r_hi = rise_pct(e_lo.loss, base), rise_pct(e_hi.loss, base)
    t = min(max((p - r_lo) / max(r_hi - r_lo, 1e-12), 0.0), 1.0)
    return {**out, "cett": lo + t * (hi - lo), "sparsity": e_lo.sparsity + t * (e_hi.sparsity - e_lo.sparsity),
            "rise_pct": p}
