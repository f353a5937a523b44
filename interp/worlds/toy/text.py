"""What every toy world's text is made of: the special tokens, sentences of token ids with sparse labels, and IOI
prompts. Shared by the worlds' samplers and evaluations, so no world imports another.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

SPECIAL_TOKENS = ("<|bos|>", "<|pad|>", "<|unk|>", "<|eos|>")
"""BOS, PAD, UNK, EOS: the first four token ids of every toy world."""

Form = Literal["ABBA", "BABA"]
"""IOI name order: ABBA puts the IO first, BABA the subject first."""
ORDERS: tuple[Form, ...] = ("ABBA", "BABA")


@dataclass
class Sentence:
    """Token ids of one sentence plus sparse dynamic labels: rows of (word position, field index, value id), or as
    `spans` (toy2's composed sentences) a flat sequence of (first position, length, field index, value id)."""

    family: str
    ids: Sequence[int]
    marks: np.ndarray | None = None
    spans: Sequence[int] | None = None


@dataclass(frozen=True)
class IOIPrompt:
    """One IOI sentence: `words` end at the "to" whose next token should be `io`."""

    words: tuple[str, ...]
    io: str
    s: str
    template: int
    form: Form
    positions: dict[str, int]
    """Word positions (without BOS) of io (first IO mention), s1, s2 and end (the final "to")."""

    @property
    def text(self) -> str:
        return " ".join(self.words)
