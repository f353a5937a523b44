"""A straightforward NumPy transcription of the reference SNMF iteration (docs/methods.md §3), for tests and benchmarks.

Written the way the spec reads, with A as neurons × tokens (d × n), float64, an explicit inverse and the loss from
the explicit residual; saes/snmf/solver.py must agree with it on the same initial G.
"""

from __future__ import annotations

import math

import numpy as np


def pos(X: np.ndarray) -> np.ndarray:
    return (np.abs(X) + X) / 2


def neg(X: np.ndarray) -> np.ndarray:
    return (np.abs(X) - X) / 2


def reference_iteration(A: np.ndarray, G: np.ndarray, keep: int, ridge: float = 1e-6, eps: float = 1e-6
                        ) -> tuple[np.ndarray, np.ndarray, float]:
    """One iteration: returns (F, G, ||A - F Gᵀ||²) after steps 1-4."""
    K = G.shape[1]
    F = A @ G @ np.linalg.inv(G.T @ G + ridge * np.eye(K))
    drop = np.argsort(-np.abs(F), axis=0)[keep:]
    np.put_along_axis(F, drop, 0.0, axis=0)
    c = np.linalg.norm(G, axis=0)
    c[c == 0] = 1.0
    G = G / c
    F = F * c
    P = A.T @ F
    Q = F.T @ F
    G = G * np.sqrt((pos(P) + G @ neg(Q)) / (neg(P) + G @ pos(Q) + eps))
    loss = float(np.linalg.norm(A - F @ G.T) ** 2)
    return F, G, loss


def reference_snmf(A: np.ndarray, G0: np.ndarray, sparsity: float, max_iter: int, patience: int = 10,
                   tol: float = 1e-4) -> tuple[np.ndarray, np.ndarray, list[float]]:
    """Best (F, G) and the relative losses per iteration, early stopping as in saes.snmf."""
    keep = max(1, min(A.shape[0], math.ceil(sparsity * A.shape[0] - 1e-9)))
    sq = float((A * A).sum())
    G, best, since, losses = G0.copy(), math.inf, 0, []
    best_F = best_G = None
    for _ in range(max_iter):
        F, G, loss = reference_iteration(A, G, keep)
        losses.append(loss / sq)
        since = 0 if losses[-1] < best * (1 - tol) else since + 1
        if losses[-1] < best:
            best, best_F, best_G = losses[-1], F, G
        if since >= patience:
            break
    return best_F, best_G, losses
