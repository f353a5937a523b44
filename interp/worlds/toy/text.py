"""What every toy world's text is made of: the special tokens, sentences of token ids with sparse labels, and IOI
prompts. Shared by the worlds' samplers and evaluations, so no world imports another. The IOI prompt (`IOIPrompt`,
`Form`, `ORDERS`) is defined in interp.worlds.ioi, the contract with circuits' IOI tasks, and re-exported here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..ioi import ORDERS, Form, IOIPrompt

__all__ = ["ORDERS", "SPECIAL_TOKENS", "Form", "IOIPrompt", "Sentence"]

SPECIAL_TOKENS = ("<|bos|>", "<|pad|>", "<|unk|>", "<|eos|>")
"""BOS, PAD, UNK, EOS: the first four token ids of every toy world."""


@dataclass
class Sentence:
    """Token ids of one sentence plus sparse dynamic labels: rows of (word position, field index, value id), or as
    `spans` (toy2's composed sentences) a flat sequence of (first position, length, field index, value id)."""

    family: str
    ids: Sequence[int]
    marks: np.ndarray | None = None
    spans: Sequence[int] | None = None
