"""Dead-latent resampling for ReLU SAEs (Anthropic, "Towards Monosemanticity", 2023; docs/methods.md §1, optional).

An L1-trained SAE loses latents for good: once a latent's pre-activation is negative on every input, ReLU passes it
no gradient and nothing brings it back. Resampling re-initialises each latent that has not fired for the dead window
toward an input the SAE reconstructs badly, so the dictionary spends that latent on what it still misses:

- draw inputs with probability proportional to their squared reconstruction error, squared (one per dead latent);
- the latent's decoder row becomes the unit vector along (x·s - b_dec) of its input (normalised space, as trained);
- its encoder column the same direction times 0.2 x the mean encoder-column norm of the live latents (the paper's
  factor: large enough to fire on that input, small enough not to swamp the live latents), its encoder bias 0;
- Adam's moments of those rows and columns are zeroed: stale moments would push the fresh weights straight back.

The trainer calls it every `resample_every` steps on a whole global batch with a generator seeded by the step, so every
process resamples identically (the SAEs stay equal under DDP) and a resumed run resamples as an uninterrupted one.
"""

from __future__ import annotations

import torch
from jaxtyping import Bool, Float
from torch import Tensor

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
