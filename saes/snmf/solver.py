"""Semi-nonnegative factorisation (SNMF) of MLP activations: the reference full-batch solver (docs/methods.md §3).

A (neurons × tokens) ≈ F Gᵀ with F [d_mlp, K] any sign and sparse per column (winner-take-all), G [n, K] >= 0
(Shafran, Geiger, Geva 2025). Activations are held tokens-major here, `acts_ND` = Aᵀ, so A G = acts_NDᵀ G_NK and
Aᵀ F = acts_ND F_DK. One iteration, exactly as specified:

 1. F ← A G (GᵀG + 1e-6 I)⁻¹ (solved in float64, K × K);
 2. keep the top ⌈s·d⌉ entries of each column of F by |value| (`wta`);
 3. c_k = ||G[:,k]||, G[:,k] /= c_k, F[:,k] *= c_k (a zero column keeps c_k = 1);
 4. G ← G ⊙ sqrt((P⁺ + G Q⁻) / (P⁻ + G Q⁺ + 1e-6)), P = AᵀF, Q = FᵀF (`mu_step`);
 5. keep the best (F, G); stop when the loss has not improved by `tol` (relative: loss < best·(1 - tol)) for
    `patience` iterations.

The loss ||A - F Gᵀ||² is computed as ||A||² - 2⟨F, A G⟩ + ⟨FᵀF, GᵀG⟩ (float64 scalars), and A G of the new G is kept
for step 1 of the next iteration; P = AᵀF uses the sparsity of F after step 2 (`full_step`), so an iteration costs one
dense n·d·K product. `loss` values reported are relative,
||A - F Gᵀ||² / ||A||². The streaming solver (saes/snmf/streaming.py) shares `solve_f`, `wta` and the inits; a
NumPy transcription to check against lives in bench/snmf_reference.py.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import torch
from jaxtyping import Float, Int
from torch import Tensor

Init = Literal["random", "svd", "kmeans"]
KMEANS_FLOOR = 0.2
"""k-means init: G = one-hot + 0.2 (Ding, Li & Jordan 2010); exact zeros would never move under step 4."""


@dataclass
class SNMFSolverConfig:
    """Settings of the SNMF solvers (reference defaults: K = 50-100, s = 0.01)."""

    k: int = 100
    sparsity: float = 0.01
    init: Init = "random"
    max_iter: int = 300
    patience: int = 10
    tol: float = 1e-4
    ridge: float = 1e-6
    eps: float = 1e-6
    seed: int = 0
    kmeans_iters: int = 10

    def __post_init__(self):
        if self.k < 1 or not 0 < self.sparsity <= 1:
            raise ValueError(f"need k >= 1 and 0 < sparsity <= 1, got k={self.k}, sparsity={self.sparsity}")
        if self.max_iter < 1 or self.patience < 1:
            raise ValueError("max_iter and patience must be >= 1")


def n_keep(d: int, sparsity: float) -> int:
    """⌈s·d⌉ entries kept per column of F (at least 1; 1e-9 guards float error such as 0.07·100)."""
    return max(1, min(d, math.ceil(sparsity * d - 1e-9)))


def wta(F_DK: Float[Tensor, "d k"], keep: int) -> Float[Tensor, "d k"]:
    """Winner-take-all: zero all but the `keep` largest-|value| entries of each column."""
    idx_JK = F_DK.abs().topk(keep, dim=0).indices
    return torch.zeros_like(F_DK).scatter_(0, idx_JK, F_DK.gather(0, idx_JK))


def solve_f(AG_DK: Float[Tensor, "d k"], GG_KK: Float[Tensor, "k k"], ridge: float) -> Float[Tensor, "d k"]:
    """F = A G (GᵀG + ridge·I)⁻¹ in float64, returned in AG's dtype."""
    M_KK = GG_KK.double() + ridge * torch.eye(GG_KK.shape[0], dtype=torch.float64, device=GG_KK.device)
    return torch.linalg.solve(M_KK, AG_DK.double().T).T.to(AG_DK.dtype)


def mu_step(G_NK: Float[Tensor, "n k"], P_NK: Float[Tensor, "n k"], Q_KK: Float[Tensor, "k k"],
            eps: float) -> Float[Tensor, "n k"]:
    """Multiplicative update of G (Ding et al. semi-NMF), X⁺ = relu(X) = (|X|+X)/2, X⁻ = relu(-X):
    G ⊙ sqrt((P⁺ + G Q⁻) / (P⁻ + G Q⁺ + eps)). Tokens-major view of `mu_step_kn`, the one implementation."""
    return mu_step_kn(G_NK.T, P_NK.T, Q_KK, eps).T


def mu_step_kn(G_KN: Float[Tensor, "k n"], P_KN: Float[Tensor, "k n"], Q_KK: Float[Tensor, "k k"],
               eps: float) -> Float[Tensor, "k n"]:
    """`mu_step` on Gᵀ and Pᵀ (features × tokens, how the full-batch solver holds them). Q and Q± are symmetric, so
    (G Q±)ᵀ = Q± Gᵀ: one product [Q⁻; Q⁺] Gᵀ gives both, as contiguous row blocks. P⁻ = P⁺ - P exactly (one of the
    two is zero), which saves a pass; the elementwise work is in place."""
    k = Q_KK.shape[0]
    GQ_2KN = torch.cat([(-Q_KK).clamp_min(0), Q_KK.clamp_min(0)], dim=0) @ G_KN
    pos_KN = P_KN.clamp_min(0)
    den_KN = torch.sub(pos_KN, P_KN).add_(GQ_2KN[k:]).add_(eps)
    return pos_KN.add_(GQ_2KN[:k]).div_(den_KN).sqrt_().mul_(G_KN)


def sparse_t(F_DK: Float[Tensor, "d k"]) -> Float[Tensor, "k d"]:
    """Fᵀ [k, d] as a sparse CSR matrix: after `wta` it holds ⌈s·d⌉ entries per row, so Fᵀ A skips the zeros."""
    with warnings.catch_warnings():  # "CSR support is in beta": used as documented, and tested
        warnings.simplefilter("ignore", UserWarning)
        return F_DK.T.to_sparse_csr()


def sq_loss(sq_norm: float, F_DK: Float[Tensor, "d k"], AG_DK: Float[Tensor, "d k"],
            GG_KK: Float[Tensor, "k k"]) -> float:
    """||A - F Gᵀ||² = ||A||² - 2⟨F, A G⟩ + ⟨FᵀF, GᵀG⟩ with float64 reductions."""
    F64 = F_DK.double()
    return sq_norm - 2 * float((F64 * AG_DK.double()).sum()) + float(((F64.T @ F64) * GG_KK.double()).sum())


def nnls(
    P_NK: Float[Tensor, "n k"], Q_KK: Float[Tensor, "k k"], n_iter: int = 200, tol: float = 1e-6
) -> Float[Tensor, "n k"]:
    """argmin_{G >= 0} ||a - F g||² per row, given P = A F and Q = FᵀF: FISTA (accelerated projected gradient)
    with Jacobi scaling (unit-norm columns of F), started from the clipped least-squares solution, stopped when the
    relative change falls below `tol`. Zero columns of F get code 0."""
    d_K = Q_KK.diagonal().clamp_min(0).sqrt()
    alive_K = d_K > 1e-12 * d_K.max().clamp_min(1e-30)
    s_K = torch.where(alive_K, d_K, torch.ones_like(d_K))
    Qs_KK = (Q_KK / s_K[:, None] / s_K[None, :]) * (alive_K[:, None] & alive_K[None, :])
    Ps_NK = (P_NK / s_K) * alive_K
    lip = float(torch.linalg.eigvalsh(Qs_KK.double()).max().clamp_min(1e-12))
    ridge = 1e-6 * torch.eye(Qs_KK.shape[0], dtype=torch.float64, device=Q_KK.device)
    G = (Ps_NK @ torch.linalg.inv(Qs_KK.double() + ridge).to(P_NK.dtype)).clamp_min_(0)
    M_KK = torch.eye(Qs_KK.shape[0], dtype=Qs_KK.dtype, device=Q_KK.device) - Qs_KK / lip
    Pl_NK = Ps_NK / lip
    Y, t = G, 1.0
    for i in range(n_iter):  # G' = max(0, Y - (Y Q - P) / L) = max(0, Y (I - Q/L) + P/L), Y = G' + β (G' - G)
        G_new = torch.addmm(Pl_NK, Y, M_KK).clamp_min_(0)
        t_new = (1 + math.sqrt(1 + 4 * t * t)) / 2
        beta = (t - 1) / t_new
        if i % 10 == 9 and float((G_new - G).norm()) <= tol * float(G_new.norm().clamp_min(1e-30)):
            G = G_new
            break
        Y = G_new.mul(1 + beta).sub_(G, alpha=beta)
        G, t = G_new, t_new
    return (G / s_K) * alive_K


# ---------------------------------------------------------------------------------------------------- inits


@dataclass
class InitParams:
    """What an init learned from the data before codes are drawn: SVD basis or k-means centroids."""

    kind: Init
    U_DK: Tensor | None = None
    S_K: Tensor | None = None
    C_DK: Tensor | None = None


def svd_params(gram_DD: Float[Tensor, "d d"], k: int) -> InitParams:
    """Top-k left singular vectors and values of A from its Gram matrix A Aᵀ."""
    evals, evecs = torch.linalg.eigh(gram_DD.double())
    order = evals.argsort(descending=True)[:k]
    if k > gram_DD.shape[0]:
        raise ValueError(f"svd init needs k <= d ({k} > {gram_DD.shape[0]})")
    return InitParams("svd", U_DK=evecs[:, order], S_K=evals[order].clamp_min(0).sqrt())


def init_codes(acts_ND: Float[Tensor, "n d"], params: InitParams, k: int, gen: torch.Generator) -> Float[Tensor, "n k"]:
    """Initial G rows for a batch of tokens: random U(0,1); SVD |V| = |A U / S|; k-means one-hot + 0.2."""
    n = acts_ND.shape[0]
    if params.kind == "random":
        return torch.rand(n, k, generator=gen, dtype=torch.float64).to(acts_ND)
    if params.kind == "svd":
        assert params.U_DK is not None and params.S_K is not None
        V_NK = (acts_ND.double() @ params.U_DK) / params.S_K.clamp_min(1e-12)
        return V_NK.abs().to(acts_ND)
    assert params.C_DK is not None
    assign_N = kmeans_assign(acts_ND, params.C_DK)
    return torch.nn.functional.one_hot(assign_N, k).to(acts_ND) + KMEANS_FLOOR


def kmeans_assign(acts_ND: Float[Tensor, "n d"], C_DK: Float[Tensor, "d k"]) -> Int[Tensor, " n"]:
    """Nearest centroid of each token (squared Euclidean)."""
    C = C_DK.to(acts_ND.dtype)
    dist_NK = (C * C).sum(0)[None, :] - 2 * acts_ND @ C
    return dist_NK.argmin(dim=1)


def kmeans_centroids(batches: Callable, first_ND: Float[Tensor, "n d"], k: int, iters: int, gen: torch.Generator
                     ) -> Float[Tensor, "d k"]:
    """Lloyd's k-means over a re-iterable stream of batches; centroids start at k random tokens of the first
    batch; an empty cluster keeps its centroid."""
    if first_ND.shape[0] < k:
        raise ValueError(f"k-means init needs at least k={k} tokens in the first batch")
    pick = torch.randperm(first_ND.shape[0], generator=gen)[:k]
    C_DK = first_ND[pick].double().T.clone()
    for _ in range(iters):
        sums_DK = torch.zeros_like(C_DK)
        counts_K = torch.zeros(k, dtype=torch.float64)
        for acts_ND in batches():
            a = kmeans_assign(acts_ND, C_DK)
            sums_DK.index_add_(1, a, acts_ND.double().T)
            counts_K += torch.bincount(a, minlength=k).double()
        C_DK = torch.where(counts_K > 0, sums_DK / counts_K.clamp_min(1), C_DK)
    return C_DK


# ---------------------------------------------------------------------------------------------------- full batch


@dataclass
class FullState:
    """Everything the full-batch solver needs to continue (checkpointed by the CLI)."""

    F_DK: Tensor
    G_NK: Tensor
    AG_DK: Tensor
    GG_KK: Tensor
    iteration: int = 0
    best_loss: float = math.inf
    best_F_DK: Tensor | None = None
    best_G_NK: Tensor | None = None
    since_best: int = 0
    losses: list[float] = field(default_factory=list)
    done: bool = False


def init_full(acts_ND: Float[Tensor, "n d"], cfg: SNMFSolverConfig) -> FullState:
    """Initial G (seeded) with its A G and GᵀG; F is computed by the first iteration's step 1."""
    gen = torch.Generator().manual_seed(cfg.seed)
    if cfg.init == "random":
        params = InitParams("random")
    elif cfg.init == "svd":
        params = svd_params(acts_ND.double().T @ acts_ND.double(), cfg.k)
    else:
        params = InitParams("kmeans", C_DK=kmeans_centroids(lambda: [acts_ND], acts_ND, cfg.k, cfg.kmeans_iters, gen))
    G_NK = init_codes(acts_ND, params, cfg.k, gen)
    F_DK = torch.zeros(acts_ND.shape[1], cfg.k, dtype=acts_ND.dtype)
    return FullState(F_DK, G_NK, acts_ND.T @ G_NK, G_NK.T @ G_NK)


def full_step(A_DN: Float[Tensor, "d n"], st: FullState, cfg: SNMFSolverConfig, sq_norm: float) -> float:
    """One reference iteration (steps 1-5) in place on `st`; returns the relative loss. A is held neurons × tokens
    (the spec's layout) and G as Gᵀ (features × tokens; st.G_NK is its transposed view), so that:
    - P = AᵀF is computed as Fᵀ A with Fᵀ sparse (step 2 leaves ⌈s·d⌉ entries per column of F): n·K·⌈s·d⌉
      multiply-adds instead of n·d·K, rows of A read contiguously;
    - step 3's column norms of G come from diag(GᵀG), already at hand, instead of a pass over G.
    What is computed is the reference iteration (tests compare with the NumPy transcription); only the order of the
    floating-point sums differs."""
    F_DK = wta(solve_f(st.AG_DK, st.GG_KK, cfg.ridge), n_keep(A_DN.shape[0], cfg.sparsity))
    c_K = st.GG_KK.diagonal().sqrt().to(F_DK.dtype)  # step 3: ||G[:,k]||, a zero column keeps c_k = 1
    c_K = torch.where(c_K > 0, c_K, torch.ones_like(c_K))
    F_DK = F_DK * c_K
    G_KN = st.G_NK.T.contiguous() / c_K[:, None]  # a copy only on the first step (init_full's G is tokens-major)
    G_KN = mu_step_kn(G_KN, sparse_t(F_DK) @ A_DN, F_DK.T @ F_DK, cfg.eps)
    st.F_DK, st.G_NK, st.AG_DK, st.GG_KK = F_DK, G_KN.T, A_DN @ G_KN.T, G_KN @ G_KN.T
    loss = sq_loss(sq_norm, F_DK, st.AG_DK, st.GG_KK) / sq_norm
    st.iteration += 1
    st.losses.append(loss)
    if loss < st.best_loss * (1 - cfg.tol):
        st.since_best = 0
    else:
        st.since_best += 1
    if loss < st.best_loss:
        st.best_loss, st.best_F_DK, st.best_G_NK = loss, F_DK.clone(), G_KN.T.clone()
    st.done = st.since_best >= cfg.patience or st.iteration >= cfg.max_iter
    return loss


def fit_full(
    acts_ND: Float[Tensor, "n d"],
    cfg: SNMFSolverConfig,
    state: FullState | None = None,
    on_step: Callable[[FullState], None] | None = None,
) -> FullState:
    """Run the reference solver to early stopping or max_iter (from `state` to resume); the best (F, G) are in
    state.best_F_DK / state.best_G_NK. Works in acts' dtype (float32, or float64 to compare with NumPy)."""
    st = state if state is not None else init_full(acts_ND, cfg)
    sq_norm = float(acts_ND.double().pow(2).sum())
    if sq_norm == 0:
        raise ValueError("all activations are zero; nothing to factorise")
    A_DN = acts_ND.T.contiguous()  # neurons × tokens, see full_step (a copy while the caller holds acts_ND)
    while not st.done:
        full_step(A_DN, st, cfg, sq_norm)
        if on_step is not None:
            on_step(st)
    return st
