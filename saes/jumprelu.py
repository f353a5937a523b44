"""JumpReLU SAE (Rajamanoharan et al. 2024, "Jumping Ahead"): f_i = h_i · H(h_i - θ_i), trained with a direct L0 loss.

The per-latent threshold θ > 0 is learned through straight-through estimators with the rectangle kernel
K(u) = 1[-1/2 < u < 1/2] and bandwidth ε (docs/methods.md §1):
    ∂f_i/∂θ_i = -(θ_i/ε)·K((h_i-θ_i)/ε),   ∂H(h_i-θ_i)/∂θ_i = -(1/ε)·K((h_i-θ_i)/ε),
    ∂f_i/∂h_i = 1[h_i > θ_i],               ∂H/∂h = 0.
θ is a raw positive float32 parameter (a log-parameterised θ barely moves under Adam). L0 loss = λ·mean_batch Σ_i H;
an optional pre-activation loss c·Σ_i relu(θ_i - h_i)·||W_dec[i]|| over dead latents pulls them back above threshold.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from jaxtyping import Bool, Float, Int, Shaped
from torch import Tensor, nn

from saes.base import BaseSAE, SAELosses, StepContext, mse_loss
from saes.config import SAEConfig, check_coeffs
from saes.registry import Kind, register_architecture
from saes.sparse_gate import sparse_gate

DEFAULT_BANDWIDTH = 0.05
"""ε, the one default (the upper end of the published 0.001-0.05: with thresholds started at the target sparsity
(--init-l0) a wider kernel lets them keep moving in short runs)."""


@dataclass
class JumpReLUConfig(SAEConfig):
    """JumpReLU SAE: learned per-latent thresholds, a direct L0 penalty."""

    arch: ClassVar[str] = "jumprelu"
    sparsity_coeff: float = 1.0
    """λ, the L0 coefficient."""
    bandwidth: float = DEFAULT_BANDWIDTH
    """ε, the straight-through-estimator bandwidth."""
    init_threshold: float = 0.001
    """θ₀, the initial threshold."""
    pre_act_coeff: float = 0.0
    """c, the pre-activation loss on dead latents (0 = off)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.bandwidth <= 0 or self.init_threshold <= 0:
            raise ValueError("bandwidth and init_threshold must be positive")
        check_coeffs(self.sparsity_coeff, self.pre_act_coeff)


def rectangle(u: Float[Tensor, "*shape"]) -> Float[Tensor, "*shape"]:
    """K(u) = 1[-1/2 < u < 1/2]."""
    return ((u > -0.5) & (u < 0.5)).to(u.dtype)


def _sum_to_threshold(g: Tensor) -> Tensor:
    """Sum a [..., d_sae] gradient over all leading (token) dimensions."""
    return g.reshape(-1, g.shape[-1]).sum(0)


class JumpReLUFn(torch.autograd.Function):
    """f = h·H(h-θ); grads: h -> 1[h>θ], θ -> -(θ/ε)·K((h-θ)/ε)."""

    @staticmethod
    def forward(ctx: Any, h: Float[Tensor, "... d_sae"], threshold: Float[Tensor, " d_sae"], bandwidth: float
                ) -> Float[Tensor, "... d_sae"]:
        ctx.save_for_backward(h, threshold)
        ctx.bandwidth = bandwidth
        return h * (h > threshold).to(h.dtype)

    @staticmethod
    def backward(ctx: Any, grad_out: Float[Tensor, "... d_sae"]
                 ) -> tuple[Float[Tensor, "... d_sae"], Float[Tensor, " d_sae"], None]:
        h, threshold = ctx.saved_tensors
        eps = ctx.bandwidth
        grad_h = (h > threshold).to(grad_out.dtype) * grad_out
        grad_theta = -(threshold / eps) * rectangle((h - threshold) / eps) * grad_out
        return grad_h, _sum_to_threshold(grad_theta).to(threshold.dtype), None


class StepFn(torch.autograd.Function):
    """H(h-θ); grads: h -> 0, θ -> -(1/ε)·K((h-θ)/ε)."""

    @staticmethod
    def forward(ctx: Any, h: Float[Tensor, "... d_sae"], threshold: Float[Tensor, " d_sae"], bandwidth: float
                ) -> Float[Tensor, "... d_sae"]:
        ctx.save_for_backward(h, threshold)
        ctx.bandwidth = bandwidth
        return (h > threshold).to(h.dtype)

    @staticmethod
    def backward(ctx: Any, grad_out: Float[Tensor, "... d_sae"]) -> tuple[None, Float[Tensor, " d_sae"], None]:
        h, threshold = ctx.saved_tensors
        eps = ctx.bandwidth
        grad_theta = -(1.0 / eps) * rectangle((h - threshold) / eps) * grad_out
        return None, _sum_to_threshold(grad_theta).to(threshold.dtype), None


class JumpReLUL0Fn(torch.autograd.Function):
    """f = h·H(h-θ), the per-token L0 Σ_i H(h_i-θ_i) and the per-latent fire counts in one pass over h.

    Gradients are those of JumpReLUFn (f) and StepFn (L0) together, computing the mask and the rectangle kernel once:
    h -> 1[h>θ]·grad_f;  θ -> -(1/ε)·Σ_batch K((h-θ)/ε)·(θ·grad_f + grad_l0).
    """

    @staticmethod
    def forward(ctx: Any, h: Float[Tensor, "batch d_sae"], threshold: Float[Tensor, " d_sae"], bandwidth: float
                ) -> tuple[Float[Tensor, "batch d_sae"], Float[Tensor, " batch"], Int[Tensor, " d_sae"]]:
        mask = h > threshold
        f = h * mask
        counts = torch.count_nonzero(mask, dim=0)
        l0 = mask.sum(-1, dtype=h.dtype)
        ctx.save_for_backward(h, threshold)
        ctx.bandwidth = bandwidth
        ctx.mark_non_differentiable(counts)
        return f, l0, counts

    @staticmethod
    def backward(ctx: Any, grad_f: Float[Tensor, "batch d_sae"] | None, grad_l0: Float[Tensor, " batch"] | None,
                 _grad_counts: Any) -> tuple:
        h, threshold = ctx.saved_tensors
        eps = ctx.bandwidth
        grad_h = None
        if grad_f is not None and ctx.needs_input_grad[0]:
            grad_h = grad_f * (h > threshold)
        kern = ((h - threshold).div_(eps).abs_() < 0.5).to(h.dtype)
        grad_theta = torch.zeros_like(threshold)
        if grad_f is not None:
            grad_theta = grad_theta + threshold * (kern * grad_f).sum(0)
        if grad_l0 is not None:
            grad_theta = grad_theta + grad_l0 @ kern
        return grad_h, (-grad_theta / eps).to(threshold.dtype), None


def jumprelu(h: Float[Tensor, "... d_sae"], threshold: Float[Tensor, " d_sae"], bandwidth: float
             ) -> Float[Tensor, "... d_sae"]:
    return JumpReLUFn.apply(h, threshold.to(h.dtype), bandwidth)


def step(h: Float[Tensor, "... d_sae"], threshold: Float[Tensor, " d_sae"], bandwidth: float
         ) -> Float[Tensor, "... d_sae"]:
    return StepFn.apply(h, threshold.to(h.dtype), bandwidth)


class JumpReLUSAE(BaseSAE):
    """f = h·H(h-θ) with a learned per-latent threshold θ (float32)."""

    def __init__(self, cfg: SAEConfig):
        super().__init__(cfg)
        self.threshold = nn.Parameter(
            torch.full((cfg.d_sae,), cfg.init_threshold, dtype=torch.float32, device=cfg.device)
        )

    @classmethod
    def saelens_extra_shapes(cls, cfg: SAEConfig) -> dict[str, tuple[int, ...]]:
        return {"threshold": (cfg.d_sae,)}

    @classmethod
    def from_saelens_state(cls, state: dict[str, Shaped[Tensor, "*shape"]]) -> None:
        """SAELens gates relu(h); with θ >= 0 our h·H(h-θ) is the same function."""
        state["threshold"] = state["threshold"].clamp_min(0.0)

    def _apply(self, fn: Any, recurse: bool = True) -> JumpReLUSAE:
        # .to(dtype) would cast θ too; keep it float32 so small thresholds survive bf16.
        super()._apply(fn, recurse)
        if self.threshold.dtype != torch.float32:
            self.threshold.data = self.threshold.data.float()
        return self

    def activation(self, h: Float[Tensor, "... d_sae"]) -> Float[Tensor, "... d_sae"]:
        return jumprelu(h, self.threshold, self.cfg.bandwidth)

    @torch.no_grad()
    def init_sparsity_(self, x_BD: Float[Tensor, "batch d_in"], l0: float) -> None:
        """Thresholds at the per-latent pre-activation quantile that l0 / d_sae of the first batch's tokens exceed
        (at least init_threshold), so training starts near the target sparsity."""
        q = self._per_latent_quantile(x_BD, l0).clamp_min(self.cfg.init_threshold)
        self.threshold.copy_(q.to(self.threshold.dtype))

    def step_loss(self, ctx: StepContext) -> SAELosses:
        return self.loss(ctx.x, dead_mask=ctx.dead_mask, sparsity_coeff=ctx.sparsity_coeff)

    def loss(
        self,
        x: Float[Tensor, "batch d_in"],
        dead_mask: Bool[Tensor, " d_sae"] | None = None,
        sparsity_coeff: float | None = None,
    ) -> SAELosses:
        """MSE + λ·L0 (through the step STE) + optional pre-activation loss over dead latents."""
        lam = self.cfg.sparsity_coeff if sparsity_coeff is None else sparsity_coeff
        xs_BD = self._scale_in(x).reshape(-1, self.cfg.d_in)
        dead_loss = self.cfg.pre_act_coeff > 0 and dead_mask is not None and bool(dead_mask.any())
        if not dead_loss and self.use_sparse_step(xs_BD, self.threshold, self.cfg.bandwidth):  # pre-act loss: dense h
            code = sparse_gate(xs_BD, self.W_enc, self.b_enc, self.W_dec, self.b_dec,
                               self.threshold.to(xs_BD.dtype), self.cfg.bandwidth)
            return self.sparse_losses(xs_BD, code, lam * code.l0_B.mean())
        h_BF = self.pre_acts_scaled(xs_BD)
        acts_BF, l0_B, counts_F = JumpReLUL0Fn.apply(h_BF, self.threshold.to(h_BF.dtype), self.cfg.bandwidth)
        mse = mse_loss(xs_BD, self.decode_scaled(acts_BF))
        sparsity = lam * l0_B.mean()
        aux = torch.zeros((), dtype=mse.dtype, device=mse.device)
        if dead_loss:
            gap_BF = torch.relu(self.threshold.to(h_BF.dtype) - h_BF) * self.W_dec.norm(dim=-1)
            aux = self.cfg.pre_act_coeff * (gap_BF * dead_mask.to(gap_BF.dtype)).sum(-1).mean()
        total = mse + sparsity + aux
        return SAELosses(
            mse=mse, sparsity=sparsity, aux=aux, total=total, l0=l0_B.mean().detach(), fire_counts=counts_F
        )

    @torch.no_grad()
    def after_optimizer_step(self) -> None:
        """Decoder constraint, then keep θ strictly positive."""
        super().after_optimizer_step()
        self.threshold.clamp_(min=1e-6)


register_architecture(Kind("jumprelu", JumpReLUConfig, JumpReLUSAE, saelens_save="jumprelu",
                           saelens_read=("jumprelu",), sweep_label="l0c{coefficient:g}"))
