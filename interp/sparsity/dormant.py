"""Dormant neurons (Sokar et al. 2023, "The Dormant Neuron Phenomenon in Deep Reinforcement Learning", ReDo).

A neuron's score is its mean |activation| over its layer's mean, s_i = E|a_i| / ((1/d) Σ_k E|a_k|); it is
τ-dormant when s_i <= τ (ReDo uses τ = 0 for ReLU's dead neurons and τ = 0.025 / 0.1 for nearly silent ones). The
score is scale-free, so it compares layers and activation functions.
"""

from __future__ import annotations

import numpy as np
import torch
from jaxtyping import Float, Shaped
from torch import Tensor


class AbsSums:
    """Per layer and neuron: Σ |a_i| over tokens (float64)."""

    def __init__(self, n_layers: int, d_mlp: int):
        self.total = torch.zeros(n_layers, d_mlp, dtype=torch.float64)

    def add(self, layer: int, a: Float[Tensor, "tok d_mlp"], abs_a: Float[Tensor, "tok d_mlp"] | None = None) -> None:
        abs_a = a.abs() if abs_a is None else abs_a
        self.total[layer] += abs_a.sum(0).double().cpu()  # a chunk in float32 (3x faster), the total in float64

    def state(self) -> tuple[dict[str, Shaped[Tensor, "*shape"]], dict]:
        return {"total": self.total}, {}

    def restore(self, tensors: dict[str, Shaped[Tensor, "*shape"]], meta: dict) -> None:
        self.total.copy_(tensors["total"])


def dormancy_scores(abs_mean: Float[np.ndarray, "layer d_mlp"]) -> Float[np.ndarray, "layer d_mlp"]:
    """s_i = E|a_i| over the mean of its layer (0 for a layer that is silent altogether)."""
    layer_mean = abs_mean.mean(-1, keepdims=True)
    return np.divide(abs_mean, layer_mean, out=np.zeros_like(abs_mean), where=layer_mean > 0)


def dormant_shares(scores: Float[np.ndarray, "layer d_mlp"], taus: list[float]) -> dict[str, list[float]]:
    """Per τ (as a string key), the τ-dormant share of each layer."""
    return {str(t): [float(x) for x in (scores <= t).mean(-1)] for t in taus}
