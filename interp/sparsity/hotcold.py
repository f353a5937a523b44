"""Hot and cold neurons (Song et al. 2023, "PowerInfer: Fast Large Language Model Serving with a Consumer-grade
GPU").

PowerInfer observes that neuron firing is power-law distributed: a small set of hot neurons fires on most tokens
(kept on the GPU) and the cold majority rarely (left on the CPU). Measured here from each neuron's firing frequency
f_i (the share of tokens on which it is active; active is magnitude-defined, interp.sparsity.magnitude, at the
grid threshold nearest --activity-cett, or nonzero): the share of all firings carried by the most frequent 10% and
20% of neurons, and a power-law (Zipf) fit of frequency against rank, log f = c - α log rank over the neurons that
fire, with its R² on the log-log scale as the quality of the fit.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from jaxtyping import Float, Int


class PowerLaw(NamedTuple):
    """f(rank) ≈ C rank^-alpha over the firing neurons; r2 on log-log axes."""

    alpha: float
    log_c: float
    r2: float
    n: int


def top_share(freq: Float[np.ndarray, " n"], top: float) -> float:
    """Share of all firings carried by the `top` fraction (0.1 = 10%) of neurons with the highest frequency."""
    total = float(freq.sum())
    if total <= 0:
        return 0.0
    k = max(1, int(round(top * freq.size)))
    return float(np.sort(freq)[::-1][:k].sum() / total)


def power_law_fit(freq: Float[np.ndarray, " n"]) -> PowerLaw:
    """Least-squares line through (log rank, log f) of the neurons with f > 0, ranked by decreasing f."""
    f = np.sort(freq[freq > 0])[::-1]
    if f.size < 3:
        return PowerLaw(float("nan"), float("nan"), float("nan"), int(f.size))
    x, y = np.log(np.arange(1, f.size + 1)), np.log(f)
    slope, intercept = np.polyfit(x, y, 1)
    resid = y - (slope * x + intercept)
    ss = float(((y - y.mean()) ** 2).sum())
    r2 = 1.0 - float((resid ** 2).sum()) / ss if ss > 0 else 1.0
    return PowerLaw(float(-slope), float(intercept), r2, int(f.size))


def hot_ranks(freq: Float[np.ndarray, "layer d_mlp"]) -> Int[np.ndarray, "layer d_mlp"]:
    """Each neuron's rank among all the model's neurons by firing frequency (0: the hottest; ties by index)."""
    flat = freq.reshape(-1)
    order = np.argsort(-flat, kind="stable")
    ranks = np.empty_like(order)
    ranks[order] = np.arange(order.size)
    return ranks.reshape(freq.shape)


def hot_cold_summary(freq: Float[np.ndarray, "layer d_mlp"], tops: tuple[float, ...] = (0.1, 0.2)) -> dict:
    """Per layer and for the whole model: top-share per fraction, the power-law fit, the mean frequency."""
    def one(f: np.ndarray) -> dict:
        fit = power_law_fit(f)
        return {"mean_freq": float(f.mean()), **{f"top{round(t * 100)}_share": top_share(f, t) for t in tops},
                "power_law": fit._asdict()}

    return {"model": one(freq.reshape(-1)), "layers": [one(f) for f in freq]}
