"""k-sparse probing of ground-truth concepts (Gurnee et al. 2023, "Finding Neurons in a Haystack"; SAEBench's
sparse_probing, Karvonen et al. 2025): how well k units of a representation, chosen by mean difference, detect a
concept through a logistic probe on held-out tokens (docs/methods.md §7).

For one binary concept and a feature matrix (a dictionary's codes, or the hook's raw neurons as the baseline):

1. split the tokens by document: every third document is held out (`held_out_tokens`), so a probe is never scored
   on the sentence it was fitted on;
2. balance each split as SAEBench does: all of the concept's tokens and as many others, drawn with a fixed seed;
3. rank the units by |mean on the concept's training tokens - mean on the others| (both signs: a neuron that falls
   on the concept carries it too) and keep the top k, for k = 1, 2, 5, 10;
4. fit a logistic regression on those k (standardised, a small L2 penalty on the weights, `fit_logistic`) on the
   training split and report F1 and accuracy of "logit > 0" on the held-out split.

A concept with fewer than MIN_POSITIVES tokens in either split cannot be probed: `probe_rows` raises
`TooFewTokens` naming the counts, which the report records as a skip.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from jaxtyping import Bool, Float, Int
from torch import Tensor

PROBE_KS = (1, 2, 5, 10)
"""The k of the k-sparse probes (SAEBench reports 1, 2, 5; Gurnee et al. go to 10 and beyond)."""
MIN_POSITIVES = 10
"""Fewest tokens of a concept in each split (training and held-out) for a probe to be fitted and scored."""
HELD_OUT_EVERY = 3
"""Every third document of the evaluation tokens is held out for scoring the probes."""
L2 = 1e-3
"""L2 penalty on the standardised probe weights (not the bias): keeps separable data from diverging."""
SEED = 0
"""Seed of the negatives drawn to balance each split."""


class TooFewTokens(ValueError):
    """A concept has too few tokens in a split to be probed."""


class LogisticProbe(NamedTuple):
    """logit(x) = ((x - mean) / scale) · weight + bias, one probe per batch row."""

    mean: Float[Tensor, "batch k"]
    scale: Float[Tensor, "batch k"]
    weight: Float[Tensor, "batch k"]
    bias: Float[Tensor, " batch"]

    def logits(self, X_BNK: Float[Tensor, "batch n k"]) -> Float[Tensor, "batch n"]:
        Z = (X_BNK.double() - self.mean[:, None]) / self.scale[:, None]
        return (Z * self.weight[:, None]).sum(-1) + self.bias[:, None]

    def direction(self) -> Float[Tensor, "batch k"]:
        """The probe's weight in the raw feature space (weight / scale), unit norm: the concept's direction."""
        w = self.weight / self.scale
        return w / w.norm(dim=-1, keepdim=True).clamp_min(1e-12)


NEWTON_MAX_FEATURES = 64
"""Probes on at most this many features are fitted by Newton's method (batched, exact in ~10 steps); wider ones (a
probe on every neuron) by L-BFGS, whose steps cost O(n·k) instead of O(n·k²)."""


def _standardise(X: Tensor, w: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Weighted mean and scale per batch row and feature, the standardised features and the weight totals."""
    total = w.sum(-1, keepdim=True).clamp_min(1e-12)
    mean = (w[..., None] * X).sum(1) / total
    var = (w[..., None] * (X - mean[:, None]).pow(2)).sum(1) / total
    scale = var.sqrt().clamp_min(1e-8)
    return mean, scale, (X - mean[:, None]) / scale[:, None], total


def _newton(Z: Tensor, y: Tensor, w: Tensor, total: Tensor, l2: float, steps: int = 30) -> Tensor:
    """β [batch, k+1] (bias last) by Newton's method on the penalised mean log-loss; each step's length is capped
    (a trust region) so nearly separable rows cannot overshoot."""
    Z1 = torch.cat([Z, torch.ones_like(Z[..., :1])], -1)
    k1 = Z1.shape[-1]
    reg = torch.eye(k1, dtype=Z.dtype) * l2
    reg[-1, -1] = 1e-9  # the bias is not penalised
    beta = torch.zeros(Z.shape[0], k1, dtype=Z.dtype)
    for _ in range(steps):
        p = torch.sigmoid((Z1 @ beta[..., None])[..., 0])
        grad = (Z1 * (w * (p - y))[..., None]).sum(1) / total + beta @ reg
        hess = Z1.transpose(1, 2) @ (Z1 * (w * p * (1 - p))[..., None]) / total[..., None] + reg
        step = torch.linalg.solve(hess, grad[..., None])[..., 0]
        norm = step.norm(dim=-1, keepdim=True)
        beta = beta - step * (5.0 / norm).clamp(max=1.0)
        if float(norm.max()) < 1e-8:
            break
    return beta


def _lbfgs(Z: Tensor, y: Tensor, w: Tensor, total: Tensor, l2: float, max_iter: int = 60) -> Tensor:
    """β [batch, k+1] (bias last) by L-BFGS on the same objective (the rows' objectives are independent, so their
    sum has the same minimiser in each row)."""
    beta = torch.zeros(Z.shape[0], Z.shape[2] + 1, dtype=Z.dtype, requires_grad=True)
    opt = torch.optim.LBFGS([beta], lr=1, max_iter=max_iter, tolerance_grad=1e-6, tolerance_change=1e-9,
                            history_size=20, line_search_fn="strong_wolfe")

    def objective() -> Tensor:
        opt.zero_grad()
        logit = (Z @ beta[:, :-1, None])[..., 0] + beta[:, None, -1]
        bce = torch.nn.functional.binary_cross_entropy_with_logits(logit, y, reduction="none")
        loss = ((w * bce).sum(-1) / total[:, 0]).sum() + l2 / 2 * beta[:, :-1].pow(2).sum()
        loss.backward()
        return loss

    opt.step(objective)
    return beta.detach()


def fit_logistic(X_BNK: Float[Tensor, "batch n k"], y_BN: Bool[Tensor, "batch n"], w_BN: Float[Tensor, "batch n"],
                 l2: float = L2) -> LogisticProbe:
    """Independent L2-regularised logistic regressions, one per batch row, fitted together (float64).

    Row b minimises (1/Σw) Σ_n w_n · BCE(σ(z_n·β_b + c_b), y_n) + (l2/2)·||β_b||² over the features z standardised
    by their weighted mean and standard deviation; w_BN = 0 marks padding (rows of unequal length share one
    tensor). Newton's method for up to NEWTON_MAX_FEATURES features, L-BFGS beyond."""
    mean, scale, Z, total = _standardise(X_BNK.double(), w_BN.double())
    solve = _newton if Z.shape[-1] <= NEWTON_MAX_FEATURES else _lbfgs
    beta = solve(Z, y_BN.double(), w_BN.double(), total, l2)
    return LogisticProbe(mean, scale, beta[:, :-1], beta[:, -1])


def f1_accuracy(pred_N: Bool[Tensor, " n"], y_N: Bool[Tensor, " n"]) -> tuple[float, float]:
    """F1 of the positive class and accuracy."""
    tp = int((pred_N & y_N).sum())
    f1 = 2 * tp / max(1, int(pred_N.sum()) + int(y_N.sum()))
    return f1, float((pred_N == y_N).double().mean()) if len(y_N) else float("nan")


def held_out_tokens(n_tokens: int, tokens_per_doc: int) -> Bool[Tensor, " n"]:
    """The held-out tokens: those of every HELD_OUT_EVERY-th document (tokens are in document order)."""
    return (torch.arange(n_tokens) // max(1, tokens_per_doc)) % HELD_OUT_EVERY == HELD_OUT_EVERY - 1


class ProbeRows(NamedTuple):
    """A concept's balanced rows: its tokens and as many others, per split."""

    train: Int[Tensor, " n_train"]
    train_y: Bool[Tensor, " n_train"]
    test: Int[Tensor, " n_test"]
    test_y: Bool[Tensor, " n_test"]


def probe_rows(mask_N: Bool[Tensor, " n"], test_N: Bool[Tensor, " n"], concept: str, seed: int = SEED
               ) -> ProbeRows:
    """Balanced training and held-out rows of one concept; `TooFewTokens` when a split has < MIN_POSITIVES."""
    gen = torch.Generator().manual_seed(seed)
    parts = []
    for split in (~test_N, test_N):
        pos = torch.nonzero(mask_N & split).squeeze(1)
        neg = torch.nonzero(~mask_N & split).squeeze(1)
        if len(pos) < MIN_POSITIVES or len(neg) < MIN_POSITIVES:
            n_train, n_test = int((mask_N & ~test_N).sum()), int((mask_N & test_N).sum())
            raise TooFewTokens(f"{concept} has {n_train} training and {n_test} held-out tokens (and "
                               f"{int((~mask_N).sum())} others); a probe needs >= {MIN_POSITIVES} of each in each "
                               f"split: evaluate on more tokens (--ground-truth-tokens)")
        neg = neg[torch.randperm(len(neg), generator=gen)[: len(pos)]]
        rows = torch.cat([pos, neg])
        parts += [rows, mask_N[rows]]
    return ProbeRows(*parts)


def mean_difference(X_NF: Float[Tensor, "n f"], masks_CN: Bool[Tensor, "c n"]) -> Float[Tensor, "c f"]:
    """Per concept and unit: mean over the concept's tokens minus mean over the others (one matrix product)."""
    m = masks_CN.to(X_NF.dtype)
    pos = m @ X_NF / m.sum(-1, keepdim=True).clamp_min(1)
    neg = (1 - m) @ X_NF / (1 - m).sum(-1, keepdim=True).clamp_min(1)
    return pos - neg


def _stack(X_NF: Tensor, rows: list[Tensor], units: Tensor, ys: list[Tensor]) -> tuple[Tensor, Tensor, Tensor]:
    """Rows of unequal length padded into [concept, row, unit] features, labels and weights (0 = padding)."""
    n = max(len(r) for r in rows)
    X = torch.zeros(len(rows), n, units.shape[1], dtype=torch.float64)
    y = torch.zeros(len(rows), n, dtype=torch.bool)
    w = torch.zeros(len(rows), n, dtype=torch.float64)
    for c, (r, yc) in enumerate(zip(rows, ys)):
        X[c, : len(r)] = X_NF[r][:, units[c]].double()
        y[c, : len(r)] = yc
        w[c, : len(r)] = 1
    return X, y, w


def k_sparse_f1(X_NF: Float[Tensor, "n f"], order_CF: Int[Tensor, "c f"], rows: list[ProbeRows], k: int
                ) -> list[tuple[float, float]]:
    """F1 and accuracy on the held-out rows of a logistic probe on each concept's first k units of `order_CF`."""
    units = order_CF[:, :k]
    X, y, w = _stack(X_NF, [r.train for r in rows], units, [r.train_y for r in rows])
    probe = fit_logistic(X, y, w)
    Xt, yt, wt = _stack(X_NF, [r.test for r in rows], units, [r.test_y for r in rows])
    pred = probe.logits(Xt) > 0
    return [f1_accuracy(pred[c][wt[c] > 0], yt[c][wt[c] > 0]) for c in range(len(rows))]


def concept_rows(masks: dict[str, Bool[Tensor, " n"]], test_N: Bool[Tensor, " n"]
                 ) -> tuple[dict[str, ProbeRows], dict[str, str]]:
    """The balanced rows of every concept that can be probed, and the reason each other one is skipped."""
    rows, skipped = {}, {}
    for c, m in masks.items():
        try:
            rows[c] = probe_rows(m, test_N, c)
        except TooFewTokens as e:
            skipped[c] = str(e)
    return rows, skipped


def sparse_probing(X_NF: Float[Tensor, "n f"], masks: dict[str, Bool[Tensor, " n"]], rows: dict[str, ProbeRows],
                   test_N: Bool[Tensor, " n"], ks: tuple[int, ...] = PROBE_KS) -> dict[str, dict]:
    """Per concept of `rows` (those that can be probed): the top max(ks) units by |mean difference| on the training
    split ("units"), and F1 / accuracy of the k-sparse probe for each k (capped at the number of units)."""
    if not rows:
        return {}
    names = list(rows)
    train_N = ~test_N
    diff = mean_difference(X_NF[train_N].double(), torch.stack([masks[c][train_N] for c in names]))
    order = diff.abs().argsort(dim=-1, descending=True)[:, : max(ks)]
    out: dict[str, dict] = {c: {"units": order[i].tolist()} for i, c in enumerate(names)}
    for k in ks:
        scores = k_sparse_f1(X_NF, order, [rows[c] for c in names], min(k, X_NF.shape[1]))
        for c, (f1, acc) in zip(names, scores):
            out[c][str(k)] = {"f1": f1, "accuracy": acc}
    return out
