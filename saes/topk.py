"""TopK SAE (Gao et al. 2024): keep the k largest ReLU'd pre-activations per token, zero the rest.

Sparsity is set directly by k, so there is no sparsity penalty; dead latents are revived with the AuxK loss
(docs/methods.md §1): e = x - x̂ (detached), ê = the k_aux = d_in // 2 largest pre-activations among dead latents only,
decoded without b_dec; aux = α·||e - ê||² / ||e - mean(e)||², α = 1/32, skipped when nothing is dead. Decoder rows are
kept at unit norm. Training and decoding use only the k active entries per token (saes/sparse_code.py: embedding_bag
decode, gradients on the selected entries only), which is exact and much faster than the dense code when k << d_sae;
BatchTopK and Matryoshka inherit this loss and change only the selection and the reconstruction objective.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

import torch
from jaxtyping import Bool, Float, Int
from torch import Tensor

from saes.base import BaseSAE, SAELosses, SAEOutput, mse_loss
from saes.config import SAEConfig, check_coeffs
from saes.registry import Kind, register_architecture
from saes.sparse_code import Entries, decode_entries, gather_pre_acts, per_row_entries


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
    lead, k = vals.shape[:-1], vals.shape[-1]
    out_ND = decode_entries(vals.reshape(-1), per_row_entries(idx.reshape(-1, k)), W_dec_FD)
    return out_ND.reshape(*lead, W_dec_FD.shape[-1])


def scatter_dense(vals: Float[Tensor, "... k"], idx: Int[Tensor, "... k"], d_sae: int) -> Float[Tensor, "... d_sae"]:
    """The dense [..., d_sae] code with vals at idx."""
    out = torch.zeros(*vals.shape[:-1], d_sae, dtype=vals.dtype, device=vals.device)
    return out.scatter_(-1, idx, vals)


def auxk_applies(dead_mask_F: Bool[Tensor, " d_sae"] | None, coeff: float) -> bool:
    """AuxK is skipped when no latent is dead (or its coefficient is 0)."""
    return dead_mask_F is not None and coeff != 0 and bool(dead_mask_F.any())


def auxk_ratio(err_BD: Float[Tensor, "batch d_in"], e_hat_BD: Float[Tensor, "batch d_in"], coeff: float
               ) -> Float[Tensor, ""]:
    """The AuxK loss (Gao et al. 2024, docs/methods.md §1): α·||e - ê||² / ||e - mean(e)||², where e = x - x̂ is the
    (detached) reconstruction error and ê its reconstruction from the top-k_aux dead latents, decoded without
    b_dec."""
    num = (err_BD - e_hat_BD).pow(2).sum()
    den = (err_BD - err_BD.mean(0, keepdim=True)).pow(2).sum().clamp_min(1e-12)
    return coeff * num / den


class Reconstruction(NamedTuple):
    """What a k-sparse kind's loss makes of its code's entries (`TopKSAE.reconstruction`)."""

    x_hat_BD: Tensor
    """The whole dictionary's reconstruction (normalised space)."""
    mse: Tensor
    """Its squared error (what SAELosses.mse reports)."""
    objective: Tensor
    """The reconstruction term the loss minimises (the MSE itself, or Matryoshka's mean over prefixes)."""


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

    def select_entries(self, h_BF: Float[Tensor, "batch d_sae"]) -> Entries:
        """The code's entries given the pre-activations (no gradient): the k largest of each token, latents ascending
        within each token (the canonical CSR order the decode's backward hands to sparse kernels)."""
        return per_row_entries(torch.topk(h_BF, self.k, dim=-1, sorted=False).indices.sort(dim=-1).values)

    def reconstruction(self, xs_BD: Float[Tensor, "batch d_in"], vals_N: Float[Tensor, " n"], ent: Entries
                       ) -> Reconstruction:
        """x̂ = Σ entries' value · W_dec row + b_dec and its MSE, which is also the objective."""
        x_hat_BD = decode_entries(vals_N, ent, self.W_dec) + self.b_dec
        mse = mse_loss(xs_BD, x_hat_BD)
        return Reconstruction(x_hat_BD, mse, mse)

    def loss(self, x: Float[Tensor, "batch d_in"], dead_mask: Bool[Tensor, " d_sae"] | None = None) -> SAELosses:
        """Reconstruction objective + AuxK over the latents in dead_mask (none when it is None or empty), through the
        selected entries only (saes/sparse_code.py): one dense matmul without autograd for h, then sparse."""
        xs_BD = self._scale_in(x).reshape(-1, self.cfg.d_in)
        with torch.no_grad():
            xc_BD = xs_BD - self.b_dec
            h_BF = torch.addmm(self.b_enc, xc_BD, self.W_enc)
            ent = self.select_entries(h_BF)
        params = (self.W_enc, self.b_enc, self.b_dec)
        vals_N = torch.relu(gather_pre_acts(h_BF, xs_BD, xc_BD, *params, ent))
        rec = self.reconstruction(xs_BD, vals_N, ent)
        fired_N = vals_N.detach() > 0
        counts_F = torch.bincount(ent.cols[fired_N], minlength=self.cfg.d_sae)
        aux = torch.zeros((), dtype=rec.mse.dtype, device=rec.mse.device)
        if auxk_applies(dead_mask, self.cfg.aux_coeff):
            with torch.no_grad():  # h is not needed again: mask it in place
                h_dead_BF = h_BF.masked_fill_(~dead_mask.to(torch.bool), float("-inf"))
                k_aux = min(self.k_aux, int(dead_mask.sum()))
                aux_ent = per_row_entries(torch.topk(h_dead_BF, k_aux, dim=-1, sorted=False).indices.sort(-1).values)
            e_hat_BD = decode_entries(torch.relu(gather_pre_acts(h_BF, xs_BD, xc_BD, *params, aux_ent)), aux_ent,
                                      self.W_dec)
            aux = auxk_ratio((xs_BD - rec.x_hat_BD).detach(), e_hat_BD, self.cfg.aux_coeff)
        zero = torch.zeros((), dtype=aux.dtype, device=aux.device)
        return SAELosses(mse=rec.mse, sparsity=zero, aux=aux, total=rec.objective + aux,
                         l0=fired_N.sum().float() / xs_BD.shape[0], fire_counts=counts_F)

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
