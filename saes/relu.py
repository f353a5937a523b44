"""ReLU SAE with an L1 penalty weighted by decoder-row norms (the "standard" SAE, SAELens architecture "standard").

f = relu(h). Loss = MSE + λ · mean_batch Σ_i f_i · ||W_dec[i]|| (methods.md §1): weighting by the row norm means the
penalty cannot be dodged by shrinking f and growing W_dec, so the decoder needs no norm constraint. The trainer warms
λ up linearly by passing `sparsity_coeff` to `loss`.
"""

from __future__ import annotations

import torch
from jaxtyping import Bool, Float
from torch import Tensor

from saes.base import BaseSAE, SAELosses, fire_counts, mse_loss


class ReLUSAE(BaseSAE):
    """f = relu(h)."""

    def activation(self, h: Tensor) -> Tensor:
        return torch.relu(h)

    def loss(
        self,
        x: Float[Tensor, "batch d_in"],
        dead_mask: Bool[Tensor, " d_sae"] | None = None,
        sparsity_coeff: float | None = None,
    ) -> SAELosses:
        """MSE + λ·decoder-norm-weighted L1; `sparsity_coeff` overrides cfg.sparsity_coeff (for warm-up)."""
        lam = self.cfg.sparsity_coeff if sparsity_coeff is None else sparsity_coeff
        xs_BD = self._scale_in(x)
        acts_BF = torch.relu(self.pre_acts_scaled(xs_BD))
        mse = mse_loss(xs_BD, self.decode_scaled(acts_BF))
        l1 = (acts_BF * self.W_dec.norm(dim=-1)).sum(-1).mean()
        sparsity = lam * l1
        zero = torch.zeros((), device=x.device, dtype=mse.dtype)
        l0 = (acts_BF > 0).sum(-1).float().mean().detach()
        return SAELosses(
            mse=mse, sparsity=sparsity, aux=zero, total=mse + sparsity, l0=l0, fire_counts=fire_counts(acts_BF)
        )
