"""Gated SAE (Rajamanoharan et al. 2024, "Improving Dictionary Learning with Gated Sparse Autoencoders"), for
inference: opening SAELens's "gated" SAEs. Training gated SAEs is not offered (train-sae trains relu, topk,
jumprelu and batchtopk).

A gate decides which latents are active, a magnitude path how strongly, sharing the encoder up to a per-latent
rescale: with x_c = x·s - b_dec,
    gate_i = 1[(x_c W_enc + b_gate)_i > 0],   f_i = gate_i · relu((x_c (W_enc ⊙ exp(r_mag)) + b_mag)_i),
and the usual linear decoder. Our b_enc plays b_gate (SAELens's name on disk).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from jaxtyping import Bool, Float, Shaped
from torch import Tensor, nn

from saes.base import BaseSAE, SAELosses, SAEOutput
from saes.config import SAEConfig
from saes.registry import Kind, register_architecture


@dataclass
class GatedConfig(SAEConfig):
    """Gated SAE (inference only): no hyperparameters of its own."""

    arch: ClassVar[str] = "gated"


class GatedSAE(BaseSAE):
    """Gate by the sign of the gated pre-activation, magnitude by a rescaled copy of the encoder."""

    SAELENS_NAMES: ClassVar[dict[str, str]] = {"b_enc": "b_gate"}

    def __init__(self, cfg: SAEConfig):
        super().__init__(cfg)
        kw = {"dtype": cfg.torch_dtype, "device": cfg.device}
        self.r_mag = nn.Parameter(torch.zeros(cfg.d_sae, **kw))
        self.b_mag = nn.Parameter(torch.zeros(cfg.d_sae, **kw))

    @classmethod
    def saelens_extra_shapes(cls, cfg: SAEConfig) -> dict[str, tuple[int, ...]]:
        return {"r_mag": (cfg.d_sae,), "b_mag": (cfg.d_sae,)}

    @classmethod
    @torch.no_grad()
    def fold_b_dec_into_input(cls, state: dict[str, Shaped[Tensor, "*shape"]]) -> None:
        """apply_b_dec_to_input=false: both paths' biases absorb b_dec (exact)."""
        super().fold_b_dec_into_input(state)
        state["b_mag"] = state["b_mag"] + state["b_dec"] @ (state["W_enc"] * state["r_mag"].exp())

    def encode(self, x: Float[Tensor, "... d_in"]) -> Float[Tensor, "... d_sae"]:
        xc = self._scale_in(x) - self.b_dec
        gate = (xc @ self.W_enc + self.b_enc) > 0
        magnitude = torch.relu(xc @ (self.W_enc * self.r_mag.exp()) + self.b_mag)
        return gate.to(magnitude.dtype) * magnitude

    def forward(self, x: Float[Tensor, "... d_in"]) -> SAEOutput:
        f = self.encode(x)
        return SAEOutput(self.decode(f), f, self.pre_acts(x))

    def loss(self, x: Float[Tensor, "batch d_in"], dead_mask: Bool[Tensor, " d_sae"] | None = None) -> SAELosses:
        raise NotImplementedError("gated SAEs are opened for inference only; train-sae trains relu, topk, jumprelu "
                                  "and batchtopk")


register_architecture(Kind("gated", GatedConfig, GatedSAE, saelens_save="gated", saelens_read=("gated",)))
