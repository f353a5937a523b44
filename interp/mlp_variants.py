"""The toy models' MLP activations, including the two TransformerLens has no config field for.

Activation sparsity papers train or convert models whose MLPs fire on few tokens:
- ReLU² (So et al. 2021, "Primer"; Zhang et al. 2024, "ReLU² Wins"): a = relu(x W_in)², best on sparsity and
  performance together. TransformerLens supports it natively (`act_fn="relu2"`).
- dReLU (Song et al. 2024, "Turbo Sparse"): a gated MLP with ReLU on both branches,
  a = relu(x W_gate) ⊙ relu(x W_up), then W_out. TransformerLens's `GatedMLP` computes act(x W_gate) ⊙ (x W_in)
  with the activation on the gate only, so the up branch's ReLU is a permanent hook on `mlp.hook_pre_linear`: every
  path that runs the MLP (TransformerLens's forward, interp.fused's gated MLP, RelP's rebuilt MLP) reads the up
  projection through that hook point, so each computes dReLU, and `model.reset_hooks()` keeps permanent hooks. The
  hook point's value is therefore relu(x W_up). dReLU models use RMSNorm (as Mistral, which Turbo Sparse
  sparsified): TransformerLens folds a LayerNorm's bias into a gated MLP's `b_in`, which it adds after the product,
  so a gated LayerNorm model would not survive the default weight processing.
- FATReLU (ProSparse, Song et al. 2024: activation threshold shifting): a = x if x >= θ else 0, for a small θ > 0;
  set as each MLP's `act_fn` (TransformerLens and interp.fused call `mlp.act_fn`).

The saved toy model records the two non-native variants in its config.json (`"mlp": {"up_relu": true}` /
`{"threshold": θ}`) and `interp.models.load_toy_model` applies them again, so the model loads by name or folder.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, NamedTuple

from jaxtyping import Float

if TYPE_CHECKING:
    from torch import Tensor
    from transformer_lens import HookedTransformer


class Activation(NamedTuple):
    """How a toy activation choice is built."""

    act_fn: str
    """TransformerLens's act_fn (on the gate branch of a gated MLP)."""
    gated: bool
    """A gated MLP (W_gate, W_in, W_out) rather than a plain one (W_in, W_out)."""
    up_relu: bool
    """ReLU on the up branch too (dReLU)."""
    normalization: str
    """TransformerLens normalization_type."""


ACTIVATIONS = {
    "gelu": Activation("gelu", False, False, "LN"),
    "relu": Activation("relu", False, False, "LN"),
    "relu2": Activation("relu2", False, False, "LN"),
    "drelu": Activation("relu", True, True, "RMS"),
}
"""The toy models' activation choices (`interp toyworld train --act`)."""

VARIANT_KEY = "mlp"
"""The key of a toy config.json that records the non-native variants."""


def fatrelu(pre: Float[Tensor, "*shape"], threshold: float) -> Float[Tensor, "*shape"]:
    """FATReLU: pre where pre >= threshold, else 0 (ProSparse's shifted ReLU; threshold 0 is ReLU)."""
    return pre * (pre >= threshold)


def _relu_hook(value: Tensor, hook) -> Tensor:
    return value.clamp_min(0)


def apply_variant(model: HookedTransformer, up_relu: bool = False, threshold: float = 0.0) -> HookedTransformer:
    """Make `model`'s MLPs dReLU (`up_relu`, a gated ReLU model) and / or FATReLU with `threshold` (a ReLU model), and
    record it on the model (`variant_of`) so `save_toy_model` writes it. Returns the model."""
    if up_relu and not (model.cfg.gated_mlp and model.cfg.act_fn == "relu"):
        raise ValueError("dReLU needs a gated MLP with act_fn relu")
    if threshold and model.cfg.act_fn != "relu":
        raise ValueError(f"the activation threshold shift (FATReLU) needs a ReLU model, not {model.cfg.act_fn}")
    if threshold < 0:
        raise ValueError(f"the activation threshold must be >= 0, got {threshold}")
    for block in model.blocks:
        if up_relu and not getattr(block.mlp, "_up_relu", False):
            block.mlp.hook_pre_linear.add_hook(_relu_hook, is_permanent=True)
            block.mlp._up_relu = True
        if threshold:
            block.mlp.act_fn = functools.partial(fatrelu, threshold=threshold)
    old = variant_of(model)
    model._interp_mlp_variant = {**old, **({"up_relu": True} if up_relu else {}),
                                 **({"threshold": float(threshold)} if threshold else {})}
    return model


def variant_of(model: HookedTransformer) -> dict[str, Any]:
    """The non-native MLP variant applied to `model` ({} for a plain TransformerLens model)."""
    return dict(getattr(model, "_interp_mlp_variant", {}))
