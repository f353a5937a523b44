"""toy1: the first toy world (494 words, fixed sentence templates; the shipped toy1-* models are trained on it).

`register` adds it to the world registry (`interp.worlds.BUILT_IN`); its modules are imported only when the world
is first asked for.
"""

from __future__ import annotations

from functools import partial

from .. import World, register_world
from ..taxonomy import Taxonomy

WEIGHT_FIELDS = {"narrative": "narrative", "ioi": "ioi", "fact": "fact", "count": "count", "listing": "list",
                 "repeat": "repeat"}
"""CorpusConfig's toy1 weight fields -> the family each weights (they predate `mix`, so toy1 keeps them)."""


def _static_labels() -> dict[str, dict[str, str]]:
    from .vocab import build_lexicon

    lex = build_lexicon()
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


def _sampler(seed: int, split: str, ioi_forms: tuple[str, ...] = ()):
    from .grammar import SentenceSampler

    return SentenceSampler(seed, ioi_split=split)


def world() -> World:
    """toy1 as a `World`."""
    from ..toy import corpus_source as S
    from ..toy.tokenizer import load_tokenizer
    from . import evaluate
    from .labels import FAMILIES, TOY1
    from .vocab import build_lexicon

    taxonomy: Taxonomy = TOY1
    weights = {"narrative": 0.2, "ioi": 0.3, "fact": 0.15, "count": 0.1, "list": 0.1, "repeat": 0.15}
    return World("toy1", build_lexicon().words, taxonomy, FAMILIES, weights, _sampler, _static_labels,
                 evaluate.form_prompts, evaluate.name_prompts,
                 "held-out (template, IO, S) combinations of the toy1 templates (toy1 holds out no names)",
                 evaluate.ioi_card, partial(S.corpus_source, "toy1"), partial(S.corpus_texts, "toy1"),
                 partial(load_tokenizer, world="toy1"), partial(S.docs, "toy1"), weight_fields=WEIGHT_FIELDS)


def register() -> None:
    """Add toy1 to the world registry."""
    register_world("toy1", world)
