"""The dictionary interface shared by SAEs and SNMF: encode, decode, feature directions.

Circuits, steering, neuron tools and the explorer work with any object that satisfies `Dictionary`, so they never
import `saes` (imports flow apps -> saes, circuits -> interp). An SAE satisfies it with its encoder and decoder
rows; an SNMF result with nonnegative least squares on its factor F and F's columns.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from jaxtyping import Float
from torch import Tensor


@runtime_checkable
class Dictionary(Protocol):
    """A sparse dictionary over the activations of one hook."""

    hook_name: str
    """The TransformerLens hook whose activations it encodes (e.g. blocks.2.mlp.hook_post)."""
    d_in: int
    """Width of the activations."""
    d_sae: int
    """Number of features (latents)."""

    def encode(self, x: Float[Tensor, "... d_in"]) -> Float[Tensor, "... d_sae"]:
        """Feature activations (codes) of activations x."""
        ...

    def decode(self, f: Float[Tensor, "... d_sae"]) -> Float[Tensor, "... d_in"]:
        """Reconstruction of activations from codes."""
        ...

    def feature_directions(self) -> Float[Tensor, "d_sae d_in"]:
        """Each feature's direction in activation space (SAE decoder rows, SNMF columns of F)."""
        ...
