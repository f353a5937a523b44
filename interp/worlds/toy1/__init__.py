"""toy1: the first toy world (494 words, fixed sentence templates; the shipped toy1-* models are trained on it).

`register` adds it to the world registry (`interp.worlds.BUILT_IN`); its modules are imported only when the world
is first asked for.
"""

from __future__ import annotations

from functools import partial

from .. import TaskWords, TemplateIOI, World, register_world

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


def _task_words() -> TaskWords:
    from . import vocab as V

    return TaskWords(tuple(V.MALE_NAMES), tuple(V.FEMALE_NAMES), tuple(V.PLACES), ("went",), dict(V.OBJECT_COLOURS))


def _ioi() -> TemplateIOI:
    from . import vocab as V
    from .ioi import IOI_TEMPLATES, fill_template, in_split

    return TemplateIOI(IOI_TEMPLATES, fill_template, in_split, tuple(V.MALE_NAMES + V.FEMALE_NAMES), tuple(V.PLACES),
                       tuple(V.OBJECT_COLOURS), tuple(V.FOODS))


def world() -> World:
    """toy1 as a `World`."""
    from ..toy import corpus_source as S
    from ..toy.tokenizer import load_tokenizer
    from . import evaluate
    from .labels import FAMILIES, TOY1
    from .vocab import build_lexicon

    weights = {"narrative": 0.2, "ioi": 0.3, "fact": 0.15, "count": 0.1, "list": 0.1, "repeat": 0.15}
    return World(
        name="toy1", words=build_lexicon().words, taxonomy=TOY1, families=FAMILIES, default_weights=weights,
        sampler=_sampler, static_labels=_static_labels, form_prompts=evaluate.form_prompts,
        name_prompts=evaluate.name_prompts,
        heldout_names="held-out (template, IO, S) combinations of the toy1 templates (toy1 holds out no names)",
        ioi_card=evaluate.ioi_card, corpus_source=partial(S.corpus_source, "toy1"),
        corpus_texts=partial(S.corpus_texts, "toy1"), docs=partial(S.docs, "toy1"), task_words=_task_words,
        load_tokenizer=partial(load_tokenizer, world="toy1"), weight_fields=WEIGHT_FIELDS, ioi=_ioi())


def register() -> None:
    """Add toy1 to the world registry."""
    register_world("toy1", world)
