"""A dictionary's features on a user's own text: the codes of every feature at every token, and the features that
fire most (the explorer's "try your own text" boxes and the Open page call these; a notebook can too)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from .models import prompt_tokens, prompt_unknown

if TYPE_CHECKING:
    from transformer_lens import HookedTransformer


@dataclass
class TextActivations:
    """Token ids of a text and the activations [pos, d_sae] of every feature on them (BOS included)."""

    tokens: list[int]
    strs: list[str]
    codes: np.ndarray
    unknown: str = ""
    """A one-line warning when the text has words the model's tokenizer does not know, else ""."""


@torch.no_grad()
def text_activations(model: HookedTransformer, dictionary, text: str) -> TextActivations:
    """Codes of every feature of `dictionary` on the tokens of `text`."""
    from .activations.stream import hook_activations

    toks = prompt_tokens(model, text, "the text", warn=False)[None]  # [pos] -> [1, pos]
    acts = hook_activations(model, dictionary.hook_name, toks)[0]
    codes = dictionary.encode(acts.float()).float().cpu().numpy()
    return TextActivations(toks[0].tolist(), model.to_str_tokens(toks[0]), codes,
                           prompt_unknown(model, text, toks[0], "the text"))


def top_features(acts: TextActivations, k: int = 10) -> list[tuple[int, float]]:
    """The k features of largest max activation over the text's non-BOS tokens."""
    codes = acts.codes[1:] if len(acts.codes) > 1 else acts.codes
    mx = codes.max(0)
    order = np.argsort(-mx)[:k]
    return [(int(f), float(mx[f])) for f in order if mx[f] > 0]
