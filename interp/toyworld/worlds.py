"""The toy worlds by name: each world's vocabulary, label taxonomy, static label table, families and sampler.

"toy1" is the first world (494 words, fixed sentence templates; the shipped toy models are trained on it) and stays
the default; "toy2" is the compositional world (`lexicon2`, `compose`, `stories2`, `dialogue2`, `tasks2`, `ioi2`).
The corpus generator, the tokenizer and the evaluation ask this module for a world instead of importing one
directly, so the chunked, seeded corpus machinery (`corpus`) is shared by both. Heavy modules of a world are imported
only when that world is asked for.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import numpy as np

from .labels import WORLDS, Taxonomy, taxonomy


@dataclass(frozen=True)
class World:
    """What the corpus generator and the tokenizer need of a toy world."""

    name: str
    words: tuple[str, ...]
    """Every word in token-id order (the tokenizer's vocabulary; BOS is id 0)."""
    taxonomy: Taxonomy
    families: tuple[str, ...]
    """Family names, in the order their weights are listed (part of the random stream)."""
    default_weights: dict[str, float]
    sampler: Callable[..., object]
    """sampler(seed, split, ioi_forms) -> an object with `rng` (random.Random) and `families` (name -> function
    returning a grammar.Sentence)."""
    static_labels: Callable[[], dict[str, dict[str, str]]]
    """word -> {field: value} of the fields that depend on the word alone."""


def _toy1() -> World:
    from . import vocab as V
    from .grammar import SentenceSampler
    from .labels import FAMILIES

    def sampler(seed: int, split: str, ioi_forms: tuple[str, ...] = ()):
        return SentenceSampler(seed, ioi_split=split)

    def static() -> dict[str, dict[str, str]]:
        lex = V.build_lexicon()
        out = {}
        for w in lex.words:
            d = {"category": lex.category[w]} if lex.category[w] != "special" else {}
            if w in lex.gender:
                d["gender"] = lex.gender[w]
            if w in lex.number:
                d["number"] = str(lex.number[w])
            if w in lex.colour:
                d["colour"] = lex.colour[w]
            out[w] = d
        return out

    weights = {"narrative": 0.2, "ioi": 0.3, "fact": 0.15, "count": 0.1, "list": 0.1, "repeat": 0.15}
    return World("toy1", V.build_lexicon().words, taxonomy("toy1"), FAMILIES, weights, sampler, static)


def _toy2() -> World:
    from .labels2 import FAMILIES2
    from .lexicon2 import build_lexicon2
    from .tasks2 import FAMILY_WEIGHTS2, Sampler2

    def sampler(seed: int, split: str, ioi_forms: tuple[str, ...] = ()):
        return Sampler2(seed, split, ioi_forms)

    lex = build_lexicon2()
    return World("toy2", lex.words, taxonomy("toy2"), FAMILIES2, FAMILY_WEIGHTS2, sampler, lambda: lex.labels)


@cache
def get_world(name: str = "toy1") -> World:
    """The world called `name` ("toy1" or "toy2"); an unknown name is a one-line error listing the valid ones."""
    if name == "toy1":
        return _toy1()
    if name == "toy2":
        return _toy2()
    raise ValueError(f"unknown toy world {name!r}; valid: {', '.join(WORLDS)}")


@cache
def label_table(name: str = "toy1") -> np.ndarray:
    """Static labels per token id, [vocab, field] int8: every field that depends on the word alone."""
    w = get_world(name)
    tax = w.taxonomy
    static = w.static_labels()
    table = np.zeros((len(w.words), tax.n_fields), dtype=np.int8)
    for i, word in enumerate(w.words):
        for field, value in static.get(word, {}).items():
            table[i, tax.field_index[field]] = tax.value_id(field, value)
    return table
