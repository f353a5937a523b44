"""The few live computations of the explorer, as pure functions of (model, dictionary, inputs) -> named results:
a feature's activations on the user's own text, base vs steered generations, and an opened SAE's summary.
Pages call these and render the results; they never compute inline.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class TextActivations:
    """Token ids of a text and the activations [pos, d_sae] of every feature on them (BOS included)."""

    tokens: list[int]
    strs: list[str]
    codes: np.ndarray


@torch.no_grad()
def text_activations(model, dictionary, text: str) -> TextActivations:
    """Codes of every feature of `dictionary` on the tokens of `text`."""
    from interp.activations.stream import hook_activations

    toks = model.to_tokens(text)[: , : model.cfg.n_ctx]
    acts = hook_activations(model, dictionary.hook_name, toks)[0]
    codes = dictionary.encode(acts.float()).float().cpu().numpy()
    return TextActivations(toks[0].tolist(), model.to_str_tokens(toks[0]), codes)


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


def steering_vector(model, kind: str, dictionary=None, feature: int = 0, layer: int = 0, neuron: int = 0):
    """A unit steering vector: dictionary feature or MLP neuron (interp.steering.vectors)."""
    from interp.steering.vectors import feature_vector, neuron_vector

    if kind == "feature":
        return feature_vector(dictionary, feature, model)
    return neuron_vector(model, layer, neuron)


@torch.no_grad()
def steer_compare(model, vec, prompt: str, alpha: float | None = None, kl_target: float | None = None,
                  max_new_tokens: int = 12, k: int = 8) -> SteerComparison:
    """Calibrate α to `kl_target` (or take `alpha`), generate base and steered text, list promoted/suppressed."""
    from interp.steering.apply import generate
    from interp.steering.calibration import calibrate
    from interp.steering.scores import token_change

    toks = model.to_tokens(prompt)[0]
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


@dataclass
class SAESummary:
    """What the Open page shows about an SAE folder."""

    arch: str
    hook: str
    d_in: int
    d_sae: int
    decoder_norms: np.ndarray
    eval_report: dict | None


def sae_summary(sae, folder) -> SAESummary:
    import json
    from pathlib import Path

    path = Path(folder) / "eval.json"
    report = json.loads(path.read_text()) if path.is_file() else None
    norms = sae.feature_directions().detach().float().norm(dim=-1).cpu().numpy()
    return SAESummary(sae.cfg.arch, sae.cfg.hook_name, sae.cfg.d_in, sae.cfg.d_sae, norms, report)


def top_features(acts: TextActivations, k: int = 10) -> list[tuple[int, float]]:
    """The k features of largest max activation over the text's non-BOS tokens."""
    codes = acts.codes[1:] if len(acts.codes) > 1 else acts.codes
    mx = codes.max(0)
    order = np.argsort(-mx)[:k]
    return [(int(f), float(mx[f])) for f in order if mx[f] > 0]
