"""ReLU SAE with an L1 penalty weighted by decoder-row norms (Bricken et al. 2023; Conerly et al. 2024, "Circuits
Updates April 2024"), the "standard" SAE of SAELens.

f = relu(h). Loss = MSE + λ · mean_batch Σ_i f_i · ||W_dec[i]|| (docs/methods.md §1): weighting by the row norm
means the penalty cannot be dodged by shrinking f and growing W_dec, so the decoder needs no norm constraint. The
trainer warms λ up linearly by passing `sparsity_coeff` to `loss`. Once the code is sparse, `loss` takes the sparse
step (sparse_gate.py): the same gradients, without the dense decode.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from jaxtyping import Bool, Float
from torch import Tensor

from saes.base import BaseSAE, SAELosses, StepContext, fire_counts, mse_loss
from saes.config import SAEConfig, check_coeffs
from saes.registry import Kind, register_architecture
from saes.sparse_gate import sparse_gate


@dataclass
class ReLUConfig(SAEConfig):
    """ReLU SAE with a decoder-norm-weighted L1 penalty."""

    arch: ClassVar[str] = "relu"
    unit_norm_default: ClassVar[bool] = False
    sparsity_coeff: float = 1.0
    """λ, the L1 coefficient."""

    def __post_init__(self) -> None:
        super().__post_init__()
        check_coeffs(self.sparsity_coeff)


class ReLUSAE(BaseSAE):
    """f = relu(h)."""

    def activation(self, h: Float[Tensor, "... d_sae"]) -> Float[Tensor, "... d_sae"]:
        return torch.relu(h)

    @torch.no_grad()
    def init_sparsity_(self, x_BD: Float[Tensor, "batch d_in"], l0: float) -> None:
        """b_enc lowered per latent so it fires on l0 / d_sae of the first batch's tokens: the L1 penalty then keeps a
        sparse code sparse, instead of having to prune a dense one (which a short run never finishes)."""
        self.b_enc.sub_(self._per_latent_quantile(x_BD, l0).to(self.b_enc.dtype))

    def step_loss(self, ctx: StepContext) -> SAELosses:
        return self.loss(ctx.x, dead_mask=ctx.dead_mask, sparsity_coeff=ctx.sparsity_coeff)

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


def resample_hook(trainer, run, step: int) -> int:
    """--resample-every: every that many steps (until --resample-until of the run) re-initialise the dead latents
    from the whole global batch of this step (the same on every process; saes/training/resample.py)."""
    from saes.training.resample import resample_dead_latents

    cfg = trainer.cfg
    n = cfg.dead.resample_every
    if not n or (step + 1) % n or step + 1 > cfg.dead.resample_until * cfg.steps:
        return 0
    x = trainer.global_batch(step)
    dead = run.tokens_since_fired >= cfg.dead_window
    changed = resample_dead_latents(run.sae, run.opt, x, dead, seed=run.spec.seed * 1_000_003 + step)
    run.tokens_since_fired[dead] = 0  # a fresh window for the new latents
    return changed


register_architecture(Kind("relu", ReLUConfig, ReLUSAE, saelens_save="standard", saelens_read=("standard",),
                           sweep_label="l1c{coefficient:g}", step_hook=resample_hook, legacy_activations=("*",)))
