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
            cal = calibrate(model, vec, toks, [kl_target])
        pt = cal.points[0]
        # an unreachable target steers with the strongest α tried (never α = 0, which would show the base text)
        alpha, kl = (float(pt.alpha) if pt.alpha is not None else cal.alpha_max), float(pt.kl)
        if not pt.reached:
            note = (f"KL target {kl_target:g} not reached: the closest was KL {kl:.4g} at α = {alpha:.4g} "
                    f"(α searched in [0, {cal.alpha_max:.4g}]); the generation below uses that α.")
    alpha = float(alpha or 0.0)
    base = generate(model, toks, max_new_tokens)
    steered = generate(model, toks, max_new_tokens, vec, alpha)
    special = special_ids(model)
    _, up, down = token_change(model, vec, steered.tokens[None], alpha, k + len(special))
    return SteerComparison(prompt, alpha, kl, model.to_str_tokens(base.new_tokens),
                           model.to_str_tokens(steered.new_tokens), base.text, steered.text,
                           without(up.to_json(), special, k), without(down.to_json(), special, k), vec.label(), note)


def special_ids(model: HookedTransformer) -> set[int]:
    """The tokenizer's special tokens (BOS, EOS, padding, unknown): a steered direction moves their logits too, but
    they are never text a reader could be promoted towards."""
    tok = model.tokenizer
    return set(getattr(tok, "all_special_ids", None) or []) if tok is not None else set()


def without(tokens: dict, drop: set[int], k: int) -> dict:
    """The first k entries of a TokenList's JSON ({ids, tokens, values}) whose id is not in `drop`."""
    keep = [i for i, t in enumerate(tokens["ids"]) if t not in drop][:k]
    return {key: [tokens[key][i] for i in keep] for key in ("ids", "tokens", "values")}
