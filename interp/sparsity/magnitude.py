"""Magnitude-defined activity and its CETT curve (Zhang et al. 2024, "ReLU² Wins: Discovering Efficient Activation
Functions for Sparse LLMs").

A neuron's output on a token is its contribution c_i = a_i W_out[i], of norm m_i = |a_i| ||W_out[i]||. ReLU² Wins
calls a neuron active when m_i exceeds a threshold ε, one threshold per layer, and judges a threshold by the
cumulative error of tail truncation it causes,

    CETT(ε) = ||Σ_{i: m_i <= ε} c_i|| / ||Σ_i c_i||        (the layer's output without its bias),

averaged over tokens: the layer is then as sparse as the share of neurons with m_i <= ε, at an error CETT(ε).
Sparsity plotted against CETT is the curve the paper compares activation functions by (ReLU² best).

Streaming: the thresholds of a layer are a grid fixed on the first batch: ε_0 = 0 (only exact zeros dropped, so
CETT 0: Lazy Neuron's sparsity) and the `ACTIVITY_LEVELS` quantiles of that batch's nonzero m_i. The CETT of each
threshold needs one masked down-projection per threshold (12 times the layer's own down-projection), so the curve,
CETT and inactive share of every threshold, is averaged over a sample of `cett_tokens` tokens spread evenly over
the stream. Each neuron's firing frequency (the hot / cold measures) is counted over every token at one threshold
per layer, the grid threshold whose CETT on the first batch is nearest --activity-cett. `threshold_for` reads a
layer's threshold for any CETT off the curve (linear interpolation of the curve made monotone), as the PPL search
(interp.sparsity.ppl) needs it.
"""

from __future__ import annotations

import numpy as np
import torch
from jaxtyping import Float, Int, Shaped
from torch import Tensor

from .config import ACTIVITY_LEVELS
from .zeros import column_counts

QUANTILE_SAMPLE = 1 << 16
"""Norms (a fixed random sample of the first batch's) the grid's quantiles are taken from: enough for a grid, and
torch.quantile's sort of a whole batch of a real model's layer costs more than its forward pass."""

FIRST_SAMPLE = 128
"""Tokens of the first batch whose CETT picks the activity threshold."""

CHUNK = 256
"""Sample tokens per masked down-projection (J x CHUNK x d_mlp floats alive at once)."""


def grid_thresholds(m: Float[Tensor, "tok d_mlp"]) -> Float[Tensor, " J"]:
    """[0, q_1, ..., q_k]: zero, then the ACTIVITY_LEVELS quantiles of the nonzero norms (all zero: a zero grid)."""
    flat = m.flatten()
    if flat.numel() > QUANTILE_SAMPLE:  # a fixed random sample (a stride could fall on a few neurons only)
        pick = torch.randint(flat.numel(), (QUANTILE_SAMPLE,), generator=torch.Generator().manual_seed(0))
        flat = flat[pick.to(flat.device)]
    pos = flat[flat > 0].float()
    if pos.numel() == 0:
        return torch.zeros(len(ACTIVITY_LEVELS) + 1)
    q = torch.quantile(pos.cpu(), torch.tensor(ACTIVITY_LEVELS, dtype=torch.float32))
    return torch.cat([torch.zeros(1), q])


def token_cett(a: Float[Tensor, "tok d_mlp"], buckets: Int[Tensor, "tok d_mlp"], w_out: Float[Tensor, "d_mlp d_model"],
               n_thresholds: int) -> Float[Tensor, "tok J"]:
    """Per token, the CETT of each grid threshold j: ||Σ_{bucket <= j} c_i|| / ||Σ_i c_i|| (0 where the layer's
    output is 0; threshold 0 drops exact zeros only, so its CETT is 0 without a product)."""
    out = torch.zeros(a.shape[0], n_thresholds, device=a.device)
    for s in range(0, a.shape[0], CHUNK):
        a_c, b_c = a[s:s + CHUNK], buckets[s:s + CHUNK]
        js = torch.arange(1, n_thresholds, device=a.device)
        dropped = a_c.unsqueeze(0) * (b_c.unsqueeze(0) <= js[:, None, None])  # [J-1, tok, d_mlp]
        norms = (dropped @ w_out).norm(dim=-1)  # [J-1, tok]
        full = (a_c @ w_out).norm(dim=-1)  # [tok]
        out[s:s + CHUNK, 1:] = torch.where(full > 0, norms / full.clamp_min(1e-30), torch.zeros_like(norms)).T
    return out


class ActivityGrid:
    """Per layer: the threshold grid; the CETT and the inactive share of each threshold over the sample; per neuron,
    the tokens on which it is active at the activity threshold (over all tokens)."""

    def __init__(self, n_layers: int, d_mlp: int, cett_tokens: int, stream_tokens: int, activity_cett: float):
        self.J = len(ACTIVITY_LEVELS) + 1
        self.cett_tokens, self.activity_cett = cett_tokens, activity_cett
        self.stride = max(1, stream_tokens // max(cett_tokens, 1))
        """The sample is every stride-th token of each batch, so it spans the whole stream."""
        self.eps = torch.zeros(n_layers, self.J)
        self.act_index = torch.full((n_layers,), -1, dtype=torch.int64)
        """The grid threshold of the activity CETT (chosen on the first batch), -1 before it."""
        self.active = torch.zeros(n_layers, d_mlp, dtype=torch.int64)
        self.cett_sum = torch.zeros(n_layers, self.J, dtype=torch.float64)
        self.inactive = torch.zeros(n_layers, self.J, dtype=torch.int64)
        self.cett_n = torch.zeros(n_layers, dtype=torch.int64)
        self.m_max = torch.zeros(n_layers)

    def add(self, layer: int, a: Float[Tensor, "tok d_mlp"], w_norm: Float[Tensor, " d_mlp"],
            w_out: Float[Tensor, "d_mlp d_model"]) -> None:
        """One batch of a layer's activations (BOS positions already left out): `sample`, then `count` over it."""
        self.sample(layer, a, w_norm, w_out)
        self.count(layer, a.abs() * w_norm)

    def sample(self, layer: int, a: Float[Tensor, "tok d_mlp"], w_norm: Float[Tensor, " d_mlp"],
               w_out: Float[Tensor, "d_mlp d_model"]) -> None:
        """The grid (on the first batch) and the CETT sample's share of one batch; `count` does the firing counts."""
        if self.act_index[layer] < 0:
            self._first_batch(layer, a, a.abs() * w_norm, w_out)
        take = min(-(-a.shape[0] // self.stride), self.cett_tokens - int(self.cett_n[layer]))
        if take > 0:
            every = slice(None, take * self.stride, self.stride)
            m = a[every].abs() * w_norm
            eps = self.eps[layer].to(m.device)
            buckets = torch.bucketize(m.contiguous(), eps)  # 0: m == 0; j: eps[j-1] < m <= eps[j]; J: above all
            self.cett_sum[layer] += token_cett(a[every].float(), buckets, w_out.float(), self.J).sum(0).double().cpu()
            self.inactive[layer] += (buckets.unsqueeze(-1) <= torch.arange(self.J, device=m.device)).sum((0, 1)).cpu()
            self.cett_n[layer] += take

    def count(self, layer: int, m: Float[Tensor, "tok d_mlp"]) -> None:
        """Firing counts at the activity threshold and the largest norm, over a chunk of tokens' norms
        m = |a| ||W_out[i]|| (after `sample` saw their batch)."""
        self.active[layer] += column_counts(m > self.eps[layer, self.act_index[layer]]).cpu()
        self.m_max[layer] = max(float(self.m_max[layer]), float(m.max()) if m.numel() else 0.0)

    def _first_batch(self, layer: int, a: Tensor, m: Tensor, w_out: Tensor) -> None:
        """The grid from the first batch's norms, and the activity threshold: the grid threshold whose CETT on (up
        to FIRST_SAMPLE tokens of) the first batch is nearest the activity CETT. Counting activity at one fixed
        threshold per layer costs one comparison per activation; all thresholds for every token would cost more
        than the forward pass."""
        self.eps[layer] = grid_thresholds(m)
        pick = slice(None, None, max(1, a.shape[0] // FIRST_SAMPLE))
        buckets = torch.bucketize(m[pick].contiguous(), self.eps[layer].to(m.device))
        first = token_cett(a[pick].float(), buckets, w_out.float(), self.J).mean(0)
        self.act_index[layer] = nearest_index(self.activity_cett, first.cpu().numpy())

    def cett(self) -> Float[np.ndarray, "layer J"]:
        """Mean CETT of each threshold over the sample."""
        return (self.cett_sum / self.cett_n.clamp_min(1)[:, None]).numpy()

    def sparsity(self, d_mlp: int) -> Float[np.ndarray, "layer J"]:
        """Share of the sample's (token, neuron) pairs inactive at each threshold: with `cett`, the curve."""
        return (self.inactive / (self.cett_n.clamp_min(1) * d_mlp)[:, None]).numpy()

    def state(self) -> tuple[dict[str, Shaped[Tensor, "*shape"]], dict]:
        names = ("eps", "act_index", "active", "cett_sum", "inactive", "cett_n", "m_max")
        return {k: getattr(self, k) for k in names}, {}

    def restore(self, tensors: dict[str, Shaped[Tensor, "*shape"]], meta: dict) -> None:
        for k, v in tensors.items():
            getattr(self, k).copy_(v)


def threshold_for(cett: float, curve: Float[np.ndarray, " J"], eps: Float[np.ndarray, " J"], top: float) -> float:
    """The threshold of one layer at which its mean CETT is `cett`: the curve (made non-decreasing) interpolated
    linearly, with (1, `top`) as its end (a threshold above every norm drops everything: CETT 1)."""
    xs = np.maximum.accumulate(np.append(curve, 1.0))
    ys = np.append(eps, top)
    return float(np.interp(cett, xs, ys))


def nearest_index(cett: float, curve: Float[np.ndarray, " J"]) -> int:
    """The grid threshold whose mean CETT is nearest `cett`."""
    return int(np.abs(curve - cett).argmin())
