"""ReLU SAE with an L1 penalty weighted by decoder-row norms (Bricken et al. 2023; Conerly et al. 2024, "Circuits
Updates April 2024"), the "standard" SAE of SAELens.

f = relu(h). Loss = MSE + λ · mean_batch Σ_i f_i · ||W_dec[i]|| (docs/methods.md §1): weighting by the row norm
means the penalty cannot be dodged by shrinking f and growing W_dec, so the decoder needs no norm constraint. The
trainer warms λ up linearly by passing `sparsity_coeff` to `loss`. Once the code is sparse, `loss` takes the sparse
step (sparse_gate.py): the same gradients, without the dense decode.

Dead-latent resampling (Anthropic, "Towards Monosemanticity", 2023; docs/methods.md §1, optional, --resample-every),
this kind's per-step training hook. An L1-trained SAE loses latents for good: once a latent's pre-activation is
negative on every input, ReLU passes it no gradient and nothing brings it back. Resampling re-initialises each latent
that has not fired for the dead window toward an input the SAE reconstructs badly, so the dictionary spends that
latent on what it still misses:

- draw inputs with probability proportional to their squared reconstruction error, squared (one per dead latent);
- the latent's decoder row becomes the unit vector along (x·s - b_dec) of its input (normalised space, as trained);
- its encoder column the same direction times 0.2 x the mean encoder-column norm of the live latents (the paper's
  factor: large enough to fire on that input, small enough not to swamp the live latents), its encoder bias 0;
- Adam's moments of those rows and columns are zeroed: stale moments would push the fresh weights straight back.

The trainer calls the hook every step; every `resample_every` steps it resamples on a whole global batch with a
generator seeded by the step, so every process resamples identically (the SAEs stay equal under DDP) and a resumed
run resamples as an uninterrupted one.
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


ENCODER_SCALE = 0.2
"""New encoder columns get this fraction of the mean live encoder-column norm (Towards Monosemanticity)."""


@torch.no_grad()
def resample_dead_latents(sae, opt: torch.optim.Optimizer, x_BD: Float[Tensor, "batch d_in"],
                          dead_F: Bool[Tensor, " d_sae"], seed: int) -> int:
    """Re-initialise the latents marked in `dead_F` from inputs in `x_BD` (raw activations); returns how many."""
    idx_R = dead_F.nonzero().squeeze(1)
    if idx_R.numel() == 0:
        return 0
    xs_BD = x_BD.to(sae.W_enc.dtype) * sae.cfg.act_scale
    err_B = (xs_BD - sae.decode_scaled(sae.activation(sae.pre_acts_scaled(xs_BD)))).pow(2).sum(-1)
    weight_B = err_B.double().pow(2).cpu()
    if not weight_B.sum() > 0:  # a perfect reconstruction everywhere: draw uniformly
        weight_B = torch.ones_like(weight_B)
    gen = torch.Generator().manual_seed(seed)
    pick_R = torch.multinomial(weight_B, idx_R.numel(), replacement=idx_R.numel() > len(weight_B), generator=gen)
    dir_RD = xs_BD[pick_R.to(xs_BD.device)] - sae.b_dec
    dir_RD = dir_RD / dir_RD.norm(dim=-1, keepdim=True).clamp_min(1e-8)
    alive_F = ~dead_F
    enc_norm = sae.W_enc[:, alive_F].norm(dim=0).mean() if alive_F.any() else torch.tensor(1.0)
    sae.W_dec[idx_R] = dir_RD
    sae.W_enc[:, idx_R] = dir_RD.T * (ENCODER_SCALE * enc_norm)  # [d_sae picks, d_in] -> [d_in, picks]
    sae.b_enc[idx_R] = 0
    for param, index in ((sae.W_dec, (idx_R,)), (sae.W_enc, (slice(None), idx_R)), (sae.b_enc, (idx_R,))):
        state = opt.state.get(param, {})
        for key in ("exp_avg", "exp_avg_sq"):
            if key in state:
                state[key][index] = 0
    return int(idx_R.numel())


def resample_hook(trainer, run, step: int) -> int:
    """--resample-every: every that many steps (until --resample-until of the run) re-initialise the dead latents
    from the whole global batch of this step (the same on every process)."""
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
