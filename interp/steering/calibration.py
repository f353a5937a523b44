"""Steering strength calibration (docs/methods.md §6; KL-matched comparison as in Shafran et al. 2025): per
direction, the α at which KL(p_base || p_steered) at the last token of a neutral prompt hits each target, found by
bisection on all targets at once (one batched forward per step).

Targets that no α in [0, α_max] reaches are reported in the result with the KL reached at α_max — never dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import torch
from jaxtyping import Float, Int
from torch import Tensor
from transformer_lens import HookedTransformer

from ..activations.stream import hook_activations
from .apply import steered_logits
from .vectors import SteeringVector, check_direction

DEFAULT_TARGETS = (0.05, 0.1, 0.25, 0.5)


@dataclass
class CalibrationPoint:
    """One KL target: the α found and the KL it gives, or `reached=False` with the KL at α_max."""

    target: float
    alpha: float | None
    kl: float
    reached: bool
    note: str = ""


@dataclass
class Calibration:
    """α per KL target for one steering vector on one prompt."""

    points: list[CalibrationPoint]
    alpha_max: float
    kl_at_alpha_max: float
    prompt: str
    tol: float
    source: dict = field(default_factory=dict)

    @property
    def unreachable(self) -> list[float]:
        """Targets no α in [0, alpha_max] reached."""
        return [p.target for p in self.points if not p.reached]

    def alpha(self, target: float) -> float:
        """α for `target`; a clear error when that target was not calibrated or not reached."""
        for p in self.points:
            if abs(p.target - target) < 1e-12:
                if not p.reached:
                    raise ValueError(f"KL target {target} unreachable: KL at alpha_max={self.alpha_max:g} is only "
                                     f"{self.kl_at_alpha_max:.4g}")
                return float(p.alpha)
        raise KeyError(f"KL target {target} was not calibrated; targets: {[p.target for p in self.points]}")

    def to_json(self) -> dict:
        return asdict(self)


def kl_divergence(logits_base: Float[Tensor, "... d_vocab"], logits_new: Float[Tensor, "... d_vocab"]
                  ) -> Float[Tensor, "..."]:
    """KL(softmax(base) || softmax(new)) over the last axis, in nats."""
    lp = torch.log_softmax(logits_base.double(), -1)
    lq = torch.log_softmax(logits_new.double(), -1)
    return (lp.exp() * (lp - lq)).sum(-1)


@torch.no_grad()
def kl_at_alphas(model: HookedTransformer, vec: SteeringVector, prompt: Int[Tensor, " pos"],
                 alphas: Float[Tensor, " alpha"]) -> Float[Tensor, " alpha"]:
    """KL(p_base || p_steered) at the last token of `prompt` [pos] for each α of `alphas` (one batched pass)."""
    base = model(prompt[None])[0, -1]
    batch = prompt[None].expand(len(alphas), -1)
    steered = steered_logits(model, batch, vec, [alphas.float()])[:, -1]
    return kl_divergence(base[None], steered).cpu()


def default_alpha_max(model: HookedTransformer, hook: str, prompt: Int[Tensor, " pos"], factor: float = 20.0) -> float:
    """`factor` × the mean activation norm at `hook` over the prompt's non-BOS positions."""
    acts = hook_activations(model, hook, prompt[None])[0]
    acts = acts[1:] if len(acts) > 1 else acts
    return float(factor * acts.flatten(1).norm(dim=-1).mean().clamp_min(1e-6))


def calibrate(model: HookedTransformer, vec: SteeringVector, prompt: Int[Tensor, " pos"],
              targets: Sequence[float] = DEFAULT_TARGETS, alpha_max: float | None = None, tol: float = 0.02,
              max_iter: int = 50, grid_size: int = 32) -> Calibration:
    """Bisection on α ∈ [0, alpha_max] for every KL target; `tol` is the relative KL tolerance.

    Steering adds +α·d̂ (the direction's own sign). A log-spaced grid of `grid_size` strengths (one batched pass)
    brackets the first crossing of each target; KL need not be monotone in α, and bisection keeps the bracket
    [lo, hi] with KL(lo) < target <= KL(hi), so it converges to a crossing point.
    """
    check_direction(model, vec.hook, vec.direction)
    tg = torch.tensor([float(t) for t in targets], dtype=torch.float64)
    if len(tg) == 0 or not bool((tg > 0).all()):
        raise ValueError(f"KL targets must be positive numbers, got {list(targets)}")
    amax = default_alpha_max(model, vec.hook, prompt) if alpha_max is None else float(alpha_max)
    if not amax > 0:
        raise ValueError(f"alpha_max must be > 0, got {amax}")
    grid = torch.cat([torch.zeros(1), amax * torch.logspace(-3, 0, grid_size - 1)]).double()
    kl_grid = kl_at_alphas(model, vec, prompt, grid)
    kl_max = float(kl_grid[-1])
    reach = tg <= kl_max
    first = (kl_grid[None, :] >= tg[:, None]).double().argmax(-1).clamp_min(1)  # first grid point at/above target
    lo, hi = torch.where(reach, grid[first - 1], 0.0), torch.where(reach, grid[first], amax)
    best_a, best_kl = hi.clone(), torch.full_like(tg, kl_max)
    for _ in range(max_iter):
        mid = (lo + hi) / 2
        kl = kl_at_alphas(model, vec, prompt, mid)
        close = (kl - tg).abs() <= tol * tg
        better = (kl - tg).abs() < (best_kl - tg).abs()
        best_a, best_kl = torch.where(better, mid, best_a), torch.where(better, kl, best_kl)
        above = kl >= tg
        hi, lo = torch.where(above, mid, hi), torch.where(above, lo, mid)
        if bool((close | ~reach).all()):
            break
    points = []
    for i, t in enumerate(tg.tolist()):
        if not reach[i]:
            points.append(CalibrationPoint(t, None, kl_max, False,
                                           f"unreachable: KL at alpha_max={amax:.4g} is {kl_max:.4g} < {t:g}"))
            continue
        ok = abs(float(best_kl[i]) - t) <= tol * t
        points.append(CalibrationPoint(t, float(best_a[i]), float(best_kl[i]), ok,
                                       "" if ok else f"bisection ended {float(best_kl[i]):.4g} away from tolerance"))
    text = model.to_string(prompt) if model.tokenizer is not None else ""
    return Calibration(points, amax, kl_max, text, tol, dict(vec.source))
