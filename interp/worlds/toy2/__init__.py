"""toy2: the compositional toy world of the toy-* models (stories, dialogue, IOI forms, facts, agreement, ...).

`register` adds it to the world registry (`interp.worlds.BUILT_IN`); its modules are imported only when the world
is first asked for.
"""

from __future__ import annotations

from functools import partial

from .. import GrammarIOI, TaskWords, World, register_world


def _sampler(seed: int, split: str, ioi_forms: tuple[str, ...] = ()):
    from .families import Sampler

    return Sampler(seed, split, ioi_forms)


def _task_words() -> TaskWords:
    from .lexicon import OBJECT_FACTS, build_lexicon

    lex = build_lexicon()
    return TaskWords(lex.of(category="name", gender="male"), lex.of(category="name", gender="female"),
                     lex.of(category="place"), lex.of(category="verb", verb_class="motion", verb_form="past"),
                     {o: colour for o, (colour, _, _) in OBJECT_FACTS.items()})


def _ioi() -> GrammarIOI:
    from .forms import FORMS, TRAIN_FORMS, check_forms, is_heldout_form
    from .ioi import NAMES, TRAIN_NAMES, ioi_prompts
    from .lexicon import build_lexicon

    lex = build_lexicon()
    return GrammarIOI(ioi_prompts, FORMS, TRAIN_FORMS, is_heldout_form, check_forms,
                      tuple(lex.words[t] for t in NAMES), tuple(lex.words[t] for t in TRAIN_NAMES), lex.labels)


def world() -> World:
    """toy2 as a `World`."""
    from ..toy import corpus_source as S
    from ..toy.tokenizer import load_tokenizer
    from . import evaluate
    from .families import FAMILY_WEIGHTS
    from .forms import check_forms
    from .labels import FAMILIES, TOY2
    from .lexicon import build_lexicon

    lex = build_lexicon()
    return World(
        name="toy2", words=lex.words, taxonomy=TOY2, families=FAMILIES, default_weights=FAMILY_WEIGHTS,
        sampler=_sampler, static_labels=lambda: lex.labels, form_prompts=evaluate.form_prompts,
        name_prompts=evaluate.name_prompts, heldout_names="training forms with held-out names",
        ioi_card=evaluate.ioi_card, corpus_source=partial(S.corpus_source, "toy2"),
        corpus_texts=partial(S.corpus_texts, "toy2"), docs=partial(S.docs, "toy2"), task_words=_task_words,
        load_tokenizer=partial(load_tokenizer, world="toy2"), check_ioi_forms=check_forms,
        ioi=_ioi())


def register() -> None:
    """Add toy2 to the world registry."""
    register_world("toy2", world)
