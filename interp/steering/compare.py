"""Base vs steered generations of one prompt, side by side: the explorer's Steering page (and a notebook) call
`steer_compare` and render its named result.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from ..models import prompt_tokens

if TYPE_CHECKING:
    from transformer_lens import HookedTransformer


@dataclass
class SteerComparison:
    """Base vs steered greedy generations of one prompt, with α and the tokens the direction moves."""

    prompt: str
    alpha: float
    kl: float | None
    base_tokens: list[str]
    steered_tokens: list[str]
    base_text: str
    steered_text: str
    promoted: dict
    suppressed: dict
    label: str
    note: str = ""


def steering_vector(model: HookedTransformer, kind: str, dictionary=None, feature: int = 0, layer: int = 0,
                    neuron: int = 0):
    """A unit steering vector: dictionary feature or MLP neuron (interp.steering.vectors)."""
    from interp.steering.vectors import feature_vector, neuron_vector

    if kind == "feature":
        return feature_vector(dictionary, feature, model)
    return neuron_vector(model, layer, neuron)


@torch.no_grad()
def steer_compare(model: HookedTransformer, vec, prompt: str, alpha: float | None = None,
                  kl_target: float | None = None, max_new_tokens: int = 12, k: int = 8) -> SteerComparison:
    """Calibrate α to `kl_target` (or take `alpha`), generate base and steered text, list promoted/suppressed."""
    from interp.steering.apply import generate
    from interp.steering.calibration import calibrate
    from interp.steering.scores import token_change

    toks = prompt_tokens(model, prompt)
    kl, note = None, ""
    if kl_target is not None:
        with torch.enable_grad():
            pt = calibrate(model, vec, toks, [kl_target]).points[0]
        alpha, kl = (float(pt.alpha) if pt.alpha is not None else 0.0), float(pt.kl)
        if not pt.reached:
            note = f"KL target {kl_target} not reached: {pt.note}"
    alpha = float(alpha or 0.0)
    base = generate(model, toks, max_new_tokens)
    steered = generate(model, toks, max_new_tokens, vec, alpha)
    _, up, down = token_change(model, vec, steered.tokens[None], alpha, k)
    return SteerComparison(prompt, alpha, kl, model.to_str_tokens(base.new_tokens),
                           model.to_str_tokens(steered.new_tokens), base.text, steered.text, up.to_json(),
                           down.to_json(), vec.label(), note)
