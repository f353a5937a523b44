"""The training step of the k-sparse kinds (per-token TopK, batch-level TopK, Matryoshka) without the dense code.

Their code keeps k of d_sae latents per token (k per token on average for the batch-level selection): with k = 32 of
d_sae 2048-4096 it is ~1% dense, yet autograd through the dense [batch, d_sae] code costs five dense
[batch x d_in x d_sae] matmuls per step. Here the one dense matmul that remains is h = (xs - b_dec) @ W_enc + b_enc,
computed without autograd because it is needed to know which latents are selected; the code is then the list of the
selected entries (token `rows`, latent `cols`, value relu(h[rows, cols])), and

- decode: x̂_b = Σ_{entries e of token b} f_e · W_dec[col_e] is `embedding_bag` over W_dec with the entries' values as
  per-sample weights and one bag per token (`offsets`: tokens hold different numbers of entries under the batch-level
  selection), as EleutherAI sparsify's eager fallback does; its backward gives ∂L/∂f_e = ∂L/∂x̂_b · W_dec[col_e] and
  ∂L/∂W_dec as a scatter-add of f_e · ∂L/∂x̂_b, never forming a dense code;
- the gradient of h exists only on the selected entries (h elsewhere does not reach the loss), so with G the sparse
  [batch, d_sae] matrix of ∂L/∂h: grad_W_enc = (Gᵀ @ xc)ᵀ (B·n_entries·d_in multiply-adds instead of B·d_sae·d_in),
  grad_b_enc = Σ_batch G, grad_b_dec = -W_enc @ Σ_batch G (through xc = xs - b_dec), grad_xs = G @ W_encᵀ.

These are exactly the gradients autograd gives through the dense code (tests/unit/test_sae_sparse_code.py compares
losses and gradients with the dense path for all three kinds). AuxK's dead-latent entries take the same road.
"""

from __future__ import annotations

import warnings
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from jaxtyping import Bool, Float, Int
from torch import Tensor


class Entries(NamedTuple):
    """Selected entries of a [batch, d_sae] code, token-major (rows ascending): what `embedding_bag` decodes."""

    rows: Int[Tensor, " n"]
    """Token of each entry (ascending)."""
    cols: Int[Tensor, " n"]
    """Latent of each entry."""
    offsets: Int[Tensor, " batch"]
    """Where each token's entries start (embedding_bag's bags)."""

    def subset(self, keep: Bool[Tensor, " n"] | Int[Tensor, " m"], n_rows: int) -> Entries:
        """The entries where `keep` is True (a bool mask or an index), still token-major."""
        rows, cols = self.rows[keep], self.cols[keep]
        return Entries(rows, cols, row_offsets(rows, n_rows))


def row_offsets(rows: Int[Tensor, " n"], n_rows: int) -> Int[Tensor, " batch"]:
    """Start of each row's entries, given the (ascending) row of every entry."""
    counts = torch.bincount(rows, minlength=n_rows)
    return torch.cumsum(counts, 0) - counts


def per_row_entries(idx_BK: Int[Tensor, "batch k"]) -> Entries:
    """The entries of a code with the same k latents (idx) on every token."""
    B, K = idx_BK.shape
    rows = torch.arange(B, device=idx_BK.device).repeat_interleave(K)
    return Entries(rows, idx_BK.reshape(-1), torch.arange(0, B * K, K, device=idx_BK.device))


def flat_entries(flat_idx: Int[Tensor, " n"], d_sae: int, n_rows: int) -> Entries:
    """The entries of positions in a flattened [n_rows, d_sae] code, sorted token-major."""
    flat_idx = torch.sort(flat_idx).values
    rows = torch.div(flat_idx, d_sae, rounding_mode="floor")
    return Entries(rows, flat_idx - rows * d_sae, row_offsets(rows, n_rows))


class _DecodeFn(torch.autograd.Function):
    """x̂ = Σ_entries value · W_dec[latent] per token (embedding_bag), with a backward that forms neither the dense
    code nor its gradient: ∂L/∂value_e = ∂L/∂x̂[row_e] · W_dec[col_e] (a sampled dense-dense product over the entries'
    CSR pattern) and ∂L/∂W_dec = Fᵀ @ ∂L/∂x̂ (a sparse-dense product). embedding_bag's own backward computes the same
    in two to three times the time on CPU (its weight gradient sorts the indices and accumulates row by row)."""

    @staticmethod
    def forward(ctx: Any, vals: Tensor, W_dec: Tensor, rows: Tensor, cols: Tensor, offsets: Tensor) -> Tensor:
        ctx.save_for_backward(vals, W_dec, rows, cols, offsets)
        return F.embedding_bag(cols, W_dec, offsets, mode="sum", per_sample_weights=vals)

    @staticmethod
    def backward(ctx: Any, g_BD: Tensor) -> tuple[Tensor | None, ...]:
        vals, W_dec, rows, cols, offsets = ctx.saved_tensors
        B, n, d_sae = g_BD.shape[0], cols.shape[0], W_dec.shape[0]
        g_vals = grad_W = None
        g32, W32, v32 = _sparse_dtype(g_BD), _sparse_dtype(W_dec), _sparse_dtype(vals)
        if ctx.needs_input_grad[0]:
            crow = torch.cat([offsets, offsets.new_full((1,), n)])
            with warnings.catch_warnings():  # "CSR support is in beta": used as documented, and tested
                warnings.simplefilter("ignore", UserWarning)
                pattern = torch.sparse_csr_tensor(crow, cols, torch.zeros_like(v32), (B, d_sae),
                                                  check_invariants=False)
            g_vals = torch.sparse.sampled_addmm(pattern, g32, W32.T).values().to(vals.dtype)
        if ctx.needs_input_grad[1]:
            F_FB = torch.sparse_coo_tensor(torch.stack([cols, rows]), v32, (d_sae, B), check_invariants=False)
            grad_W = torch.sparse.mm(F_FB, g32).to(W_dec.dtype)
        return g_vals, grad_W, None, None, None


def _sparse_dtype(t: Tensor) -> Tensor:
    """float16 / bfloat16 in float32 (torch's sparse CPU kernels take float32 and float64 only)."""
    return t.float() if t.dtype in (torch.float16, torch.bfloat16) else t


def decode_entries(vals: Float[Tensor, " n"], ent: Entries, W_dec_FD: Float[Tensor, "d_sae d_in"]
                   ) -> Float[Tensor, "batch d_in"]:
    """Σ over each token's entries of value · W_dec[latent] (no bias): the dense code @ W_dec from its entries."""
    return _DecodeFn.apply(vals.to(W_dec_FD.dtype), W_dec_FD, ent.rows, ent.cols, ent.offsets)


def dense_code(vals: Float[Tensor, " n"], ent: Entries, shape: tuple[int, int]) -> Float[Tensor, "batch d_sae"]:
    """The dense [batch, d_sae] code with the entries' values (zeros elsewhere)."""
    out = torch.zeros(shape[0] * shape[1], dtype=vals.dtype, device=vals.device)
    return out.index_put_((ent.rows * shape[1] + ent.cols,), vals).reshape(shape)


class _GatherPreActsFn(torch.autograd.Function):
    """h[rows, cols] from a dense h computed without autograd, with the backward of h = (xs - b_dec) @ W_enc + b_enc
    restricted to those entries (module docstring)."""

    @staticmethod
    def forward(ctx: Any, h_BF: Tensor, xs_BD: Tensor, xc_BD: Tensor, W_enc: Tensor, b_enc: Tensor, b_dec: Tensor,
                rows: Tensor, cols: Tensor) -> Tensor:
        ctx.save_for_backward(xc_BD, W_enc, rows, cols)
        return h_BF.reshape(-1).index_select(0, rows * h_BF.shape[1] + cols)

    @staticmethod
    def backward(ctx: Any, g_N: Tensor) -> tuple[Tensor | None, ...]:
        xc_BD, W_enc, rows, cols = ctx.saved_tensors
        d_sae, g = W_enc.shape[1], g_N.to(W_enc.dtype)
        grad_b_enc = torch.zeros(d_sae, dtype=W_enc.dtype, device=W_enc.device).index_add_(0, cols, g)
        grad_xs = grad_W = None
        g32 = _sparse_dtype(g)
        if ctx.needs_input_grad[3]:  # Gᵀ @ xc with Gᵀ sparse [d_sae, batch]
            G_FB = torch.sparse_coo_tensor(torch.stack([cols, rows]), g32, (d_sae, xc_BD.shape[0]),
                                           check_invariants=False)
            grad_W = torch.sparse.mm(G_FB, _sparse_dtype(xc_BD.to(W_enc.dtype))).T.to(W_enc.dtype)
        if ctx.needs_input_grad[1]:  # G @ W_encᵀ with G sparse [batch, d_sae]
            G_BF = torch.sparse_coo_tensor(torch.stack([rows, cols]), g32, (xc_BD.shape[0], d_sae),
                                           check_invariants=False)
            grad_xs = torch.sparse.mm(G_BF, _sparse_dtype(W_enc.T.contiguous())).to(W_enc.dtype)
        grad_b_dec = -(W_enc @ grad_b_enc) if ctx.needs_input_grad[5] else None
        return (None, grad_xs, None, grad_W, grad_b_enc if ctx.needs_input_grad[4] else None, grad_b_dec, None,
                None)


def gather_pre_acts(h_BF: Float[Tensor, "batch d_sae"], xs_BD: Float[Tensor, "batch d_in"],
                    xc_BD: Float[Tensor, "batch d_in"], W_enc: Float[Tensor, "d_in d_sae"],
                    b_enc: Float[Tensor, " d_sae"], b_dec: Float[Tensor, " d_in"], ent: Entries) -> Float[Tensor, " n"]:
    """h at the entries, differentiable w.r.t. xs, W_enc, b_enc and b_dec (h and xc = xs - b_dec computed without
    autograd by the caller)."""
    return _GatherPreActsFn.apply(h_BF, xs_BD, xc_BD, W_enc, b_enc, b_dec, ent.rows, ent.cols)
