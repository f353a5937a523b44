"""The training step of ReLU and JumpReLU SAEs once their codes are sparse: only the nonzero latents are decoded and
only the entries that can receive gradient are differentiated.

With d_sae = 4096 and L0 ~ 50-100 a code is 1-3% dense, yet autograd's step through the dense code costs five dense
[batch x d_in x d_sae] matmuls. Here, given the dense pre-activations h (one dense matmul, needed to know which
latents fire), everything else runs on sparse CSR matrices:

- decode: x̂ = F @ W_dec with F the CSR code (sparse x dense);
- the gradient of the code is needed only on the support S where ∂f/∂h or ∂f/∂θ can be nonzero: h > 0 for ReLU,
  h > θ - ε/2 for JumpReLU (active, or inside the straight-through kernel's window). There it is
  (∂L/∂x̂ @ W_decᵀ)[S] (a sampled dense-dense product) plus the L1 term's per-latent gradient;
- grad_W_dec = Fᵀ @ ∂L/∂x̂, grad_W_enc = (Gᵀ @ xc)ᵀ with G the CSR gradient of h, grad_b_enc = column sums of G,
  grad_b_dec (through xc = xs - b_dec) = -W_enc @ grad_b_enc.

The gradients equal autograd's through the dense code (tests/unit/test_sae_sparse_gate.py; also checked on an H100).
The SAE's `loss` takes this path on CPU when the support is sparse enough (`SPARSE_BELOW`) and the dense one
otherwise: early in training, when L0 is still ~d_sae/2, and on GPUs, where the dense step was 2x faster.
"""

from __future__ import annotations

import warnings
from typing import Any, NamedTuple

import torch
from jaxtyping import Bool, Float, Int
from torch import Tensor

warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")  # used as documented; tested
warnings.filterwarnings("ignore", message="Sparse invariant checks are implicitly disabled")  # built valid here

SPARSE_BELOW = 0.15
"""Use the sparse step when at most this fraction of the [batch, d_sae] entries is in the support."""


class SparseCode(NamedTuple):
    """What the loss needs from the sparse step (b_dec is added by the caller)."""

    recon_BD: Tensor
    """F @ W_dec, without b_dec."""
    fsum_F: Tensor
    """Σ_batch f per latent (the ReLU L1 term is fsum · ||W_dec rows|| / batch)."""
    l0_B: Tensor
    """Active latents per token (differentiable w.r.t. θ through the step STE for JumpReLU)."""
    fire_counts_F: Tensor
    """Tokens on which each latent fired (not differentiable)."""


def support_mask(h_BF: Float[Tensor, "batch d_sae"], threshold_F: Float[Tensor, " d_sae"] | None,
                 bandwidth: float) -> Bool[Tensor, "batch d_sae"]:
    """Entries whose gradient can be nonzero: h > 0 (ReLU) or h > θ - ε/2 (JumpReLU)."""
    return h_BF > 0 if threshold_F is None else h_BF > threshold_F - bandwidth / 2


def _csr(crow: Tensor, cols: Tensor, values: Tensor, shape: torch.Size) -> Tensor:
    """A CSR matrix from its parts (built valid here, so torch's invariant checks are skipped)."""
    with warnings.catch_warnings():  # "CSR support is in beta": used as documented, and tested (also per call,
        warnings.simplefilter("ignore", UserWarning)  # since pytest and others reset the module-level filters)
        return torch.sparse_csr_tensor(crow, cols, values, shape, check_invariants=False)


def _pattern(mask_BF: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """CSR row pointers, column indices and row index of each entry of the True entries of `mask_BF` (row-major)."""
    idx = mask_BF.nonzero()  # [nnz, 2], row-major order as CSR wants
    rows = idx[:, 0]
    # row counts from the nnz row indices: a bool mask's sum(-1) widens all batch·d_sae entries to int64 on CPU
    # (~10x the cost of nonzero itself at d_sae 4096)
    crow = torch.zeros(mask_BF.shape[0] + 1, dtype=torch.int64, device=mask_BF.device)
    torch.cumsum(torch.bincount(rows, minlength=mask_BF.shape[0]), 0, out=crow[1:])
    return crow, idx[:, 1].contiguous(), rows


def _transposed(crow: Tensor, cols: Tensor, rows: Tensor, n_cols: int) -> tuple[Tensor, Tensor, Tensor]:
    """The CSR pattern of the transpose (row pointers, column indices) and the permutation taking the row-major
    entries to column-major order. A stable sort of the column indices (rows already ascend within each column);
    torch's own CSR.t() @ dense converts CSC back to CSR with a sort per product, and the backward has two."""
    perm = torch.sort(cols, stable=True).indices
    crow_t = torch.zeros(n_cols + 1, dtype=torch.int64, device=cols.device)
    torch.cumsum(torch.bincount(cols, minlength=n_cols), 0, out=crow_t[1:])
    return crow_t, rows[perm], perm


class SparseGateFn(torch.autograd.Function):
    """(xs, W_enc, b_enc, W_dec, b_dec, θ) -> SparseCode, for ReLU (θ None) or JumpReLU, with the sparse backward."""

    @staticmethod
    def forward(ctx: Any, xs_BD: Float[Tensor, "batch d_in"], W_enc: Float[Tensor, "d_in d_sae"],
                b_enc: Float[Tensor, " d_sae"], W_dec: Float[Tensor, "d_sae d_in"], b_dec: Float[Tensor, " d_in"],
                threshold_F: Float[Tensor, " d_sae"] | None, bandwidth: float
                ) -> tuple[Float[Tensor, "batch d_in"], Float[Tensor, " d_sae"], Float[Tensor, " batch"],
                Int[Tensor, " d_sae"]]:
        xc_BD = xs_BD - b_dec
        h_BF = torch.addmm(b_enc, xc_BD, W_enc)
        active_BF = h_BF > (0 if threshold_F is None else threshold_F)
        support_BF = active_BF if threshold_F is None else support_mask(h_BF, threshold_F, bandwidth)
        crow, cols, rows = _pattern(support_BF)
        flat = rows * h_BF.shape[1] + cols  # the support's flat positions: gathers instead of boolean indexing
        h_vals = h_BF.reshape(-1).index_select(0, flat)  # h on the support; f = h where active, 0 elsewhere in it
        # [nnz] which support entries are active (all of them for ReLU, whose support is the active set)
        on = torch.ones_like(cols, dtype=torch.bool) if threshold_F is None else active_BF.reshape(-1)[flat]
        f_vals = torch.where(on, h_vals, 0)
        recon_BD = _csr(crow, cols, f_vals, h_BF.shape) @ W_dec  # [batch, d_in]
        fsum_F = torch.zeros_like(b_enc).index_add_(0, cols, f_vals)
        counts_F = torch.zeros(W_enc.shape[1], dtype=torch.int64, device=xs_BD.device).index_add_(
            0, cols, on.to(torch.int64))
        l0_B = torch.zeros(h_BF.shape[0], dtype=h_BF.dtype, device=h_BF.device).index_add_(0, rows, on.to(h_BF.dtype))
        ctx.save_for_backward(xc_BD, W_enc, W_dec, threshold_F, crow, cols, rows, f_vals, h_vals, on)
        ctx.shape = h_BF.shape
        ctx.bandwidth = bandwidth
        ctx.mark_non_differentiable(counts_F)
        return recon_BD, fsum_F, l0_B, counts_F

    @staticmethod
    def backward(ctx: Any, g_recon_BD: Float[Tensor, "batch d_in"] | None, g_fsum_F: Float[Tensor, " d_sae"] | None,
                 g_l0_B: Float[Tensor, " batch"] | None, _g_counts: Any) -> tuple[Float[Tensor, "*shape"] | None, ...]:
        xc_BD, W_enc, W_dec, threshold_F, crow, cols, rows, f_vals, h_vals, on = ctx.saved_tensors
        g_f = torch.zeros_like(h_vals)  # dL/df on the support
        grad_W_dec = None
        crow_t, cols_t, perm = _transposed(crow, cols, rows, ctx.shape[1])
        shape_t = (ctx.shape[1], ctx.shape[0])
        if g_recon_BD is not None:
            pattern = _csr(crow, cols, torch.zeros_like(h_vals), ctx.shape)
            g_f = torch.sparse.sampled_addmm(pattern, g_recon_BD, W_dec.T).values()  # (g_recon @ W_decᵀ)[S]
            grad_W_dec = _csr(crow_t, cols_t, f_vals[perm], shape_t) @ g_recon_BD  # Fᵀ @ g_recon: [d_sae, d_in]
        if g_fsum_F is not None:
            g_f = g_f + g_fsum_F[cols]
        grad_theta = None
        if threshold_F is None:
            g_h = g_f  # relu: the support is the active set, ∂f/∂h = 1 there
        else:  # JumpReLU STE (jumprelu.py): h -> 1[h>θ]·g_f; θ -> -(1/ε)·Σ K((h-θ)/ε)·(θ·g_f + g_l0)
            eps, theta = ctx.bandwidth, threshold_F[cols]
            g_h = torch.where(on, g_f, 0)
            kern = ((h_vals - theta).abs() < eps / 2).to(h_vals.dtype)
            per = theta * g_f + (g_l0_B[rows] if g_l0_B is not None else 0)
            grad_theta = torch.zeros_like(threshold_F).index_add_(0, cols, kern * per).div_(-eps)
        grad_b_enc = torch.zeros(W_enc.shape[1], dtype=W_enc.dtype, device=W_enc.device).index_add_(0, cols, g_h)
        grad_W_enc = (_csr(crow_t, cols_t, g_h[perm], shape_t) @ xc_BD).T  # (Gᵀ @ xc)ᵀ: [d_in, d_sae]
        grad_b_dec = -(W_enc @ grad_b_enc)
        return None, grad_W_enc, grad_b_enc, grad_W_dec, grad_b_dec, grad_theta, None


def support_fraction(xs_BD: Float[Tensor, "batch d_in"], W_enc: Float[Tensor, "d_in d_sae"],
                     b_enc: Float[Tensor, " d_sae"], b_dec: Float[Tensor, " d_in"],
                     threshold_F: Float[Tensor, " d_sae"] | None,
                     bandwidth: float, rows: int = 128) -> float:
    """Fraction of entries in the support on the first `rows` tokens (cheap: decides sparse vs dense step)."""
    with torch.no_grad():
        h = torch.addmm(b_enc, xs_BD[:rows] - b_dec, W_enc)
        return float(support_mask(h, threshold_F, bandwidth).float().mean())


def sparse_gate(xs_BD: Float[Tensor, "batch d_in"], W_enc: Float[Tensor, "d_in d_sae"], b_enc: Float[Tensor, " d_sae"],
                W_dec: Float[Tensor, "d_sae d_in"], b_dec: Float[Tensor, " d_in"],
                threshold_F: Float[Tensor, " d_sae"] | None = None, bandwidth: float = 0.0) -> SparseCode:
    return SparseCode(*SparseGateFn.apply(xs_BD, W_enc, b_enc, W_dec, b_dec, threshold_F, bandwidth))
