"""ReLU SAE with an L1 penalty weighted by decoder-row norms (Bricken et al. 2023; Conerly et al. 2024, "Circuits
Updates April 2024"), the "standard" SAE of SAELens.

f = relu(h). Loss = MSE + λ · mean_batch Σ_i f_i · ||W_dec[i]|| (docs/methods.md §1): weighting by the row norm
means the penalty cannot be dodged by shrinking f and growing W_dec, so the decoder needs no norm constraint. The
trainer warms λ up linearly by passing `sparsity_coeff` to `loss`. Once the code is sparse, `loss` takes the sparse
step (sparse_gate.py): the same gradients, without the dense decode.
"""

from __future__ import annotations

import torch
from jaxtyping import Bool, Float
from torch import Tensor

from saes.base import BaseSAE, SAELosses, fire_counts, mse_loss
from saes.sparse_gate import sparse_gate


class ReLUSAE(BaseSAE):
    """f = relu(h)."""

    def activation(self, h: Tensor) -> Tensor:
        return torch.relu(h)

    @torch.no_grad()
    def init_sparsity_(self, x_BD: Tensor, l0: float) -> None:
        """b_enc lowered per latent so it fires on l0 / d_sae of the first batch's tokens: the L1 penalty then keeps a
        sparse code sparse, instead of having to prune a dense one (which a short run never finishes)."""
        self.b_enc.sub_(self._per_latent_quantile(x_BD, l0).to(self.b_enc.dtype))

    def loss(
        self,
        x: Float[Tensor, "batch d_in"],
        dead_mask: Bool[Tensor, " d_sae"] | None = None,
        sparsity_coeff: float | None = None,
    ) -> SAELosses:
        """MSE + λ·decoder-norm-weighted L1; `sparsity_coeff` overrides cfg.sparsity_coeff (for warm-up)."""
        lam = self.cfg.sparsity_coeff if sparsity_coeff is None else sparsity_coeff
        xs_BD = self._scale_in(x)
        if self.use_sparse_step(xs_BD):
            code = sparse_gate(xs_BD, self.W_enc, self.b_enc, self.W_dec, self.b_dec)
            return self.sparse_losses(xs_BD, code, lam * (code.fsum_F @ self.W_dec.norm(dim=-1)) / xs_BD.shape[0])
        acts_BF = torch.relu(self.pre_acts_scaled(xs_BD))
        mse = mse_loss(xs_BD, self.decode_scaled(acts_BF))
        # mean_b Σ_i f_bi·||W_dec[i]|| as (Σ_b f_b) · norms / B: one reduction over the batch, no [batch, d_sae] temp
        n_tokens = acts_BF.numel() // acts_BF.shape[-1]
        l1 = acts_BF.reshape(-1, acts_BF.shape[-1]).sum(0) @ self.W_dec.norm(dim=-1) / n_tokens
        sparsity = lam * l1
        zero = torch.zeros((), device=x.device, dtype=mse.dtype)
        counts = fire_counts(acts_BF)
        l0 = (counts.sum() / n_tokens).float()
        return SAELosses(mse=mse, sparsity=sparsity, aux=zero, total=mse + sparsity, l0=l0, fire_counts=counts)
