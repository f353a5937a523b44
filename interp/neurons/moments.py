"""Streaming float64 moments and Pearson correlations: sums per batch, statistics at the end.

All sums are of *shifted* values x - c, with c a per-column shift fixed from the first batch (its mean). Moments and
correlations do not depend on c, but shifting keeps the power sums small, so the float64 sums stay accurate even
for columns whose mean is large next to their spread.

Conventions (documented once, used everywhere): variances are population variances (divide by n); skew is
m3 / m2^1.5; kurtosis is Pearson's m4 / m2^2 (3 for a normal distribution, not the excess). A column with zero
variance gets skew 0 and kurtosis 0, and a correlation of 0 with every other column: a constant neuron never puts a
NaN into a max.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from jaxtyping import Float, Shaped
from torch import Tensor

VAR_EPS = 1e-12
"""Variances at or below this (in activation units squared) count as zero."""


@dataclass
class Moments:
    """Per-column mean, variance, skew and kurtosis (float64)."""

    mean: Tensor
    var: Tensor
    skew: Tensor
    kurtosis: Tensor


def colsum(x: Shaped[Tensor, " n *cols"]) -> Float[Tensor, "*cols"]:
    """Float64 sums over dim 0 of a 2-D tensor, as a matrix-vector product (much faster than .sum(0) on CPU). A
    boolean tensor is counted in float32, exact below 2^24 rows, without a float64 copy of it."""
    if x.dtype == torch.bool and x.dim() == 2 and x.shape[0] < 1 << 24:
        return (torch.ones(x.shape[0]) @ x.float()).double()
    x = x.to(torch.float64)
    return torch.ones(x.shape[0], dtype=torch.float64) @ x if x.dim() == 2 else x.sum(0)


class PowerSums:
    """Streaming Σ(x-c)^k, k = 1..4, per column of batches shaped [n, *cols]."""

    def __init__(self) -> None:
        self.n = 0
        self.shift: Tensor | None = None
        self.sums: list[Tensor] = []

    def update(self, x: Float[Tensor, "n ..."]) -> None:
        if self.shift is None:
            self.shift = x.to(torch.float64).mean(0)
            self.sums = [torch.zeros_like(self.shift) for _ in range(4)]
        d = x - self.shift  # float64 (the shift is), without a float64 copy of x first
        self.sums[0] += colsum(d)
        p = d * d
        for k in range(1, 4):
            self.sums[k] += colsum(p)
            if k < 3:
                p.mul_(d)
        self.n += x.shape[0]

    def moments(self) -> Moments:
        if self.n == 0 or self.shift is None:
            raise ValueError("no values were accumulated")
        return moments_from_sums(self.n, self.shift, *self.sums)


def moments_from_sums(n: int, shift: Float[Tensor, "*cols"], s1: Float[Tensor, "*cols"], s2: Float[Tensor, "*cols"],
                      s3: Float[Tensor, "*cols"], s4: Float[Tensor, "*cols"]) -> Moments:
    """Central moments from power sums of x - shift over n values."""
    e1, e2, e3, e4 = s1 / n, s2 / n, s3 / n, s4 / n
    m2 = (e2 - e1**2).clamp_min(0)
    m3 = e3 - 3 * e1 * e2 + 2 * e1**3
    m4 = e4 - 4 * e1 * e3 + 6 * e1**2 * e2 - 3 * e1**4
    ok = m2 > VAR_EPS
    safe = torch.where(ok, m2, torch.ones_like(m2))
    skew = torch.where(ok, m3 / safe**1.5, torch.zeros_like(m2))
    kurt = torch.where(ok, m4 / safe**2, torch.zeros_like(m2))
    return Moments(shift + e1, m2, skew, kurt)


def moments_along(x: Float[Tensor, "... n"], dim: int = -1) -> Moments:
    """Moments of a full tensor along `dim` (same conventions as the streaming ones). The third and fourth central
    sums are dot products of the squared deviations with the deviations (no cube or fourth-power temporaries)."""
    x = x.to(torch.float64).movedim(dim, -1)
    n = x.shape[-1]
    mean = x.mean(-1, keepdim=True)
    d = x - mean
    d2 = d * d
    m2 = d2.mean(-1)
    m3 = torch.einsum("...i,...i->...", d2, d) / n
    m4 = torch.einsum("...i,...i->...", d2, d2) / n
    ok = m2 > VAR_EPS
    safe = torch.where(ok, m2, torch.ones_like(m2))
    zero = torch.zeros_like(m2)
    return Moments(mean.squeeze(-1), m2, torch.where(ok, m3 / safe**1.5, zero), torch.where(ok, m4 / safe**2, zero))


def correlation_from_cov(cov: Float[Tensor, "a b"], var_a: Float[Tensor, " a"], var_b: Float[Tensor, " b"]
                         ) -> Float[Tensor, "a b"]:
    """Pearson correlation from a covariance matrix and the variances; 0 wherever either variance is zero."""
    ok_a, ok_b = var_a > VAR_EPS, var_b > VAR_EPS
    sa = torch.where(ok_a, var_a, torch.ones_like(var_a)).sqrt()
    sb = torch.where(ok_b, var_b, torch.ones_like(var_b)).sqrt()
    corr = cov / sa[:, None] / sb[None, :]
    corr = torch.where(ok_a[:, None] & ok_b[None, :], corr, torch.zeros_like(corr))
    return corr.clamp(-1.0, 1.0)


class PearsonSums:
    """Streaming Pearson correlation of every column of X with every column of Y, in float64 sums.

    Keeps n, Σx, Σx², Σy, Σy² and Σxyᵀ (one matrix product per batch) of the shifted values.
    """

    def __init__(self) -> None:
        self.n = 0
        self.cx: Tensor | None = None

    def update(self, x: Float[Tensor, "n a"], y: Float[Tensor, "n b"]) -> None:
        x, y = x.to(torch.float64), y.to(torch.float64)
        if self.cx is None:
            self.cx, self.cy = x.mean(0), y.mean(0)
            self.sx, self.sxx = torch.zeros_like(self.cx), torch.zeros_like(self.cx)
            self.sy, self.syy = torch.zeros_like(self.cy), torch.zeros_like(self.cy)
            self.sxy = torch.zeros(x.shape[1], y.shape[1], dtype=torch.float64)
        dx, dy = x - self.cx, y - self.cy
        self.sx += colsum(dx)
        self.sxx += colsum(dx * dx)
        self.sy += colsum(dy)
        self.syy += colsum(dy * dy)
        self.sxy.addmm_(dx.T, dy)
        self.n += x.shape[0]

    def correlation(self) -> Float[Tensor, "a b"]:
        if self.cx is None or self.n < 2:
            raise ValueError("need at least two accumulated rows for a correlation")
        n = self.n
        cov = (self.sxy - torch.outer(self.sx, self.sy) / n) / n
        var_x = (self.sxx - self.sx**2 / n) / n
        var_y = (self.syy - self.sy**2 / n) / n
        return correlation_from_cov(cov, var_x, var_y)
