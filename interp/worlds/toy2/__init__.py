"""toy2: the compositional toy world of the toy-* models (stories, dialogue, IOI forms, facts, agreement, ...).

`register` adds it to the world registry (`interp.worlds.BUILT_IN`); its modules are imported only when the world
is first asked for.
"""

from __future__ import annotations

from functools import partial

from .. import World, register_world


def _sampler(seed: int, split: str, ioi_forms: tuple[str, ...] = ()):
    from .families import Sampler2

    return Sampler2(seed, split, ioi_forms)


def world() -> World:
    """toy2 as a `World`."""
    from ..toy import corpus_source as S
    from ..toy.tokenizer import load_tokenizer
    from . import evaluate
    from .families import FAMILY_WEIGHTS2
    from .forms import check_forms
    from .labels import FAMILIES2, TOY2
    from .lexicon import build_lexicon2

    lex = build_lexicon2()
    return World("toy2", lex.words, TOY2, FAMILIES2, FAMILY_WEIGHTS2, _sampler, lambda: lex.labels,
                 evaluate.form_prompts, evaluate.name_prompts, "training forms with held-out names",
                 evaluate.ioi_card, partial(S.corpus_source, "toy2"), partial(S.corpus_texts, "toy2"),
                 partial(load_tokenizer, world="toy2"), partial(S.docs, "toy2"), check_ioi_forms=check_forms)


def register() -> None:
    """Add toy2 to the world registry."""
    register_world("toy2", world)
