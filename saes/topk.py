"""TopK SAE (Gao et al. 2024): keep the k largest ReLU'd pre-activations per token, zero the rest.

Sparsity is set directly by k, so there is no sparsity penalty; dead latents are revived with the AuxK loss
(docs/methods.md §1): e = x - x̂ (detached), ê = the k_aux = d_in // 2 largest pre-activations among dead latents only,
decoded without b_dec; aux = α·||e - ê||² / ||e - mean(e)||², α = 1/32, skipped when nothing is dead. Decoder rows are
kept at unit norm. Decoding uses only the k active rows per token (embedding_bag), which is exact and much faster
than the dense f @ W_dec when k << d_sae.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from jaxtyping import Bool, Float, Int
from torch import Tensor

from saes.base import BaseSAE, SAELosses, SAEOutput, mse_loss
from saes.config import SAEConfig, check_coeffs
from saes.registry import Kind, register_architecture


@dataclass
class TopKConfig(SAEConfig):
    """TopK SAE: k latents per token, AuxK against dead latents."""

    arch: ClassVar[str] = "topk"
    k: int | None = None
    """Active latents per token (required)."""
    aux_coeff: float = 1 / 32
    """α, the AuxK loss scale."""
    k_aux: int | None = None
    """Latents used by AuxK; None means d_in // 2."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.k is None or not 1 <= self.k <= self.d_sae:
            raise ValueError(f"{self.arch} needs 1 <= k <= d_sae={self.d_sae}, got k={self.k}")
        if self.k_aux is not None and self.k_aux <= 0:
            raise ValueError(f"k_aux must be positive, got {self.k_aux}")
        check_coeffs(self.aux_coeff)

    @classmethod
    def saelens_fields(cls, raw: dict) -> dict[str, Any]:
        """k, from cfg.json's k or (older SAELens) activation_fn_kwargs."""
        k = raw.get("k", (raw.get("activation_fn_kwargs") or {}).get("k"))
        return {} if k is None else {"k": max(1, round(float(k)))}


def topk_relu(h_NF: Float[Tensor, "... d_sae"], k: int) -> tuple[Float[Tensor, "... k"], Int[Tensor, "... k"]]:
    """Values (ReLU'd) and indices of the k largest entries of each row."""
    vals_NK, idx_NK = torch.topk(h_NF, k, dim=-1, sorted=False)
    return torch.relu(vals_NK), idx_NK


def sparse_decode(
    vals: Float[Tensor, "... k"], idx: Int[Tensor, "... k"], W_dec_FD: Float[Tensor, "d_sae d_in"]
) -> Float[Tensor, "... d_in"]:
    """Σ_j vals[j] · W_dec[idx[j]] per token, touching only the k selected rows (no bias)."""
    lead = vals.shape[:-1]
    k = vals.shape[-1]
    out_ND = F.embedding_bag(
        idx.reshape(-1, k), W_dec_FD, per_sample_weights=vals.reshape(-1, k).to(W_dec_FD.dtype), mode="sum"
    )
    return out_ND.reshape(*lead, W_dec_FD.shape[-1])


def scatter_dense(vals: Float[Tensor, "... k"], idx: Int[Tensor, "... k"], d_sae: int) -> Float[Tensor, "... d_sae"]:
    """The dense [..., d_sae] code with vals at idx."""
    out = torch.zeros(*vals.shape[:-1], d_sae, dtype=vals.dtype, device=vals.device)
    return out.scatter_(-1, idx, vals)


class _GatherPreActsFn(torch.autograd.Function):
    """h[b, idx[b, j]] from a dense h computed without autograd, with the backward of h = (xs - b_dec) @ W_enc + b_enc
    restricted to the gathered entries: grad_W_enc = xcᵀ @ G with G sparse (k entries per token; a sparse-dense
    product, B·k·d_in multiply-adds instead of B·d_sae·d_in), grad_b_enc = Σ G, grad_b_dec = -W_enc @ Σ G. Exactly
    the gradient autograd gives through the dense h, when only these entries receive gradient (TopK, AuxK)."""

    @staticmethod
    def forward(ctx: Any, h_BF: Tensor, xc_BD: Tensor, W_enc: Tensor, b_enc: Tensor, b_dec: Tensor,
                idx_BK: Tensor) -> Tensor:
        ctx.save_for_backward(xc_BD, W_enc, idx_BK)
        return h_BF.gather(-1, idx_BK)

    @staticmethod
    def backward(ctx: Any, g_BK: Tensor) -> tuple[Tensor | None, ...]:
        xc_BD, W_enc, idx_BK = ctx.saved_tensors
        B, K = idx_BK.shape
        d_sae = W_enc.shape[1]
        flat_idx, g = idx_BK.reshape(-1), g_BK.reshape(-1).to(W_enc.dtype)
        grad_b_enc = torch.zeros(d_sae, dtype=W_enc.dtype, device=W_enc.device).index_add_(0, flat_idx, g)
        grad_W = None
        if ctx.needs_input_grad[2]:
            rows = torch.arange(B, device=idx_BK.device).repeat_interleave(K)
            G_FB = torch.sparse_coo_tensor(torch.stack([flat_idx, rows]), g, (d_sae, B), check_invariants=False)
            grad_W = torch.sparse.mm(G_FB, xc_BD.to(W_enc.dtype)).T
        grad_b_dec = -(W_enc @ grad_b_enc) if ctx.needs_input_grad[4] else None
        return None, None, grad_W, grad_b_enc if ctx.needs_input_grad[3] else None, grad_b_dec, None


def auxk_applies(dead_mask_F: Bool[Tensor, " d_sae"] | None, coeff: float) -> bool:
    """AuxK is skipped when no latent is dead (or its coefficient is 0)."""
    return dead_mask_F is not None and coeff != 0 and bool(dead_mask_F.any())


def auxk_ratio(err_BD: Float[Tensor, "batch d_in"], e_hat_BD: Float[Tensor, "batch d_in"], coeff: float
               ) -> Float[Tensor, ""]:
    """The AuxK loss (Gao et al. 2024, docs/methods.md §1): α·||e - ê||² / ||e - mean(e)||², where e = x - x̂ is the
    (detached) reconstruction error and ê its reconstruction from the top-k_aux dead latents, decoded without
    b_dec. Both training paths (dense autograd, sparse gather) call this one formula."""
    num = (err_BD - e_hat_BD).pow(2).sum()
    den = (err_BD - err_BD.mean(0, keepdim=True)).pow(2).sum().clamp_min(1e-12)
    return coeff * num / den


def auxk_loss(
    h_BF: Float[Tensor, "batch d_sae"], err_BD: Float[Tensor, "batch d_in"], dead_mask_F: Bool[Tensor, " d_sae"] | None,
    W_dec_FD: Float[Tensor, "d_sae d_in"], k_aux: int, coeff: float
) -> Float[Tensor, ""]:
    """AuxK of dense pre-activations h (autograd path); 0 when `auxk_applies` says no."""
    if not auxk_applies(dead_mask_F, coeff):
        return torch.zeros((), dtype=err_BD.dtype, device=err_BD.device)
    h_dead_BF = h_BF.masked_fill(~dead_mask_F.to(torch.bool), float("-inf"))
    vals_BK, idx_BK = topk_relu(h_dead_BF, min(k_aux, int(dead_mask_F.sum())))
    return auxk_ratio(err_BD, sparse_decode(vals_BK, idx_BK, W_dec_FD), coeff)


class TopKSAE(BaseSAE):
    """f = topk(relu(h), k)."""

    @property
    def k(self) -> int:
        assert self.cfg.k is not None
        return self.cfg.k

    @property
    def k_aux(self) -> int:
        return self.cfg.k_aux if self.cfg.k_aux is not None else max(1, self.cfg.d_in // 2)

    def activation(self, h: Float[Tensor, "... d_sae"]) -> Float[Tensor, "... d_sae"]:
        vals, idx = topk_relu(h, self.k)
        return scatter_dense(vals, idx, self.cfg.d_sae)

    def encode_sparse(self, x: Float[Tensor, "... d_in"]) -> tuple[Float[Tensor, "... k"], Int[Tensor, "... k"]]:
        """The k active values and their latent indices per token."""
        return topk_relu(self.pre_acts(x), self.k)

    def decode_sparse(self, vals: Float[Tensor, "... k"], idx: Int[Tensor, "... k"]) -> Float[Tensor, "... d_in"]:
        """decode() of the dense code scatter(vals, idx), computed from the k rows only."""
        return self._scale_out(sparse_decode(vals, idx, self.W_dec) + self.b_dec)

    def loss(self, x: Float[Tensor, "batch d_in"], dead_mask: Bool[Tensor, " d_sae"] | None = None) -> SAELosses:
        """MSE + AuxK over the latents in dead_mask (no AuxK when dead_mask is None or empty)."""
        xs_BD = self._scale_in(x).reshape(-1, self.cfg.d_in)
        if not (torch.is_grad_enabled() and self.W_enc.requires_grad) or xs_BD.requires_grad:
            return self._loss_dense(xs_BD, dead_mask)
        # sparse path: one dense matmul (h, no autograd), gradients only through the selected entries
        with torch.no_grad():
            xc_BD = xs_BD - self.b_dec
            h_BF = torch.addmm(self.b_enc, xc_BD, self.W_enc)
            idx_BK = torch.topk(h_BF, self.k, dim=-1, sorted=False).indices
        vals_BK = torch.relu(_GatherPreActsFn.apply(h_BF, xc_BD, self.W_enc, self.b_enc, self.b_dec, idx_BK))
        x_hat_BD = sparse_decode(vals_BK, idx_BK, self.W_dec) + self.b_dec
        fired_BK = vals_BK.detach() > 0
        counts_F = torch.bincount(idx_BK[fired_BK], minlength=self.cfg.d_sae)
        mse = mse_loss(xs_BD, x_hat_BD)
        aux = torch.zeros((), dtype=mse.dtype, device=mse.device)
        if auxk_applies(dead_mask, self.cfg.aux_coeff):
            with torch.no_grad():
                h_dead_BF = h_BF.masked_fill_(~dead_mask.to(torch.bool), float("-inf"))  # h is not needed again
                idx_aux = torch.topk(h_dead_BF, min(self.k_aux, int(dead_mask.sum())), dim=-1, sorted=False).indices
            vals_aux = torch.relu(_GatherPreActsFn.apply(h_BF, xc_BD, self.W_enc, self.b_enc, self.b_dec, idx_aux))
            e_hat_BD = sparse_decode(vals_aux, idx_aux, self.W_dec)
            aux = auxk_ratio((xs_BD - x_hat_BD).detach(), e_hat_BD, self.cfg.aux_coeff)
        zero = torch.zeros((), dtype=mse.dtype, device=mse.device)
        return SAELosses(
            mse=mse, sparsity=zero, aux=aux, total=mse + aux, l0=fired_BK.sum(-1).float().mean(), fire_counts=counts_F
        )

    def _loss_dense(self, xs_BD: Tensor, dead_mask: Tensor | None) -> SAELosses:
        """The loss through autograd on the dense pre-activations (used when gradients w.r.t. inputs are needed)."""
        h_BF = self.pre_acts_scaled(xs_BD)
        vals_BK, idx_BK = topk_relu(h_BF, self.k)
        x_hat_BD = sparse_decode(vals_BK, idx_BK, self.W_dec) + self.b_dec
        fired_BK = vals_BK.detach() > 0
        counts_F = torch.bincount(idx_BK[fired_BK], minlength=self.cfg.d_sae)
        mse = mse_loss(xs_BD, x_hat_BD)
        aux = auxk_loss(h_BF, (xs_BD - x_hat_BD).detach(), dead_mask, self.W_dec, self.k_aux, self.cfg.aux_coeff)
        zero = torch.zeros((), dtype=mse.dtype, device=mse.device)
        return SAELosses(
            mse=mse, sparsity=zero, aux=aux, total=mse + aux, l0=fired_BK.sum(-1).float().mean(), fire_counts=counts_F
        )

    def saelens_cfg_fields(self) -> dict[str, Any]:
        """SAELens's topk reads k; our encoder is not rescaled by decoder norms."""
        return {"k": self.cfg.k, "rescale_acts_by_decoder_norm": False}

    def forward(self, x: Float[Tensor, "... d_in"]) -> SAEOutput:
        """Like BaseSAE.forward but decodes sparsely."""
        h = self.pre_acts(x)
        vals, idx = topk_relu(h, self.k)
        return SAEOutput(self.decode_sparse(vals, idx), scatter_dense(vals, idx, self.cfg.d_sae), h)


register_architecture(Kind("topk", TopKConfig, TopKSAE, saelens_save="topk", saelens_read=("topk",),
                           sweep_label="k{k}", legacy_activations=("topk",)))
