"""Sentence families of the toy world, each a small generator of words plus the labels only the grammar knows.

Static labels (a word's category, gender, number value, colour) come from the lexicon; the families add the
dynamic ones: which family a token belongs to, IOI roles, the second copy of a repeated span (induction) and the
answer of a world fact. Families:

- narrative: short stories whose pronouns agree with the gender of the name they refer to;
- ioi:       IOI sentences in ABBA and BABA form over `ioi.IOI_TEMPLATES`, completed with the IO name;
- fact:      fixed world facts (object -> colour, animal -> sound, place -> activity);
- count:     number words: counting runs ("one two three") and quantities ("three red apples");
- list:      lists of things of one category;
- repeat:    a random span of words followed by the same span, so that induction pays off.

Sentences come out as token ids (`vocab.word_ids`), which spares the corpus a word -> id lookup per token: the
sampler draws from tuples of ids in the same order as the word tuples of `vocab`, and the fixed words of every
sentence template are looked up once, when the template is compiled. Drawing from a tuple only depends on its
length, so the random stream, and the text, are the same as if words were drawn.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from functools import cache
from operator import itemgetter

import numpy as np

from ..toy.text import Sentence
from . import vocab as V
from .ioi import IOI_TEMPLATES, Form, Split, fill_template, in_split
from .labels import FIELD_INDEX, value_id

_ROLE = FIELD_INDEX["ioi_role"]
_IND = FIELD_INDEX["induction"]
_FACT = FIELD_INDEX["fact"]
_IOI_IDS = {r: value_id("ioi_role", r) for r in ("io", "s1", "s2", "end", "answer")}
_REPEAT_ID = value_id("induction", "repeat")
_ANSWER_ID = value_id("fact", "answer")

_ID = V.word_ids()
_WORDS = V.build_lexicon().words
"""Token id -> word (decodes a sentence, and gives the names the held-out IOI split is defined on)."""


def _ids(words: Iterable[str]) -> tuple[int, ...]:
    return tuple(_ID[w] for w in words)


# The word tuples of `vocab` as token ids, in the same order (the order is part of the random stream).
NAMES = _ids(V.MALE_NAMES + V.FEMALE_NAMES)
OBJECTS, ANIMALS, PLACES = _ids(V.OBJECT_COLOURS), _ids(V.ANIMAL_SOUNDS), _ids(V.PLACES)
FOODS, FOOD_PLURALS, COLOURS = _ids(V.FOODS), _ids(V.FOOD_PLURALS), _ids(V.COLOURS)
ADJECTIVES, NUMBERS = _ids(V.ADJECTIVES), _ids(V.NUMBERS)
CONTENT = OBJECTS + ANIMALS + FOODS + NAMES + ADJECTIVES + COLOURS
"""Words a repeated span is drawn from."""
_PRONOUNS = {"male": _ids(("He", "he", "his")), "female": _ids(("She", "she", "her"))}
_NAME_PRONOUNS = {_ID[n]: (_ID[n], *_PRONOUNS[V.gender_of(n)]) for n in V.MALE_NAMES + V.FEMALE_NAMES}
"""name -> (name, subject pronoun capitalised and not, possessive), all ids."""
_DOT, _COUNTED, _COLON = _ID["."], _ID["counted"], _ID[":"]


class _Template:
    """Sentence text with {field} slots, compiled to token ids: called with the slot values (ids, in the order of
    `fields`) it returns the sentence's ids. Fixed words are looked up here, once; a call is a single C-level gather
    over the values followed by the fixed ids."""

    def __init__(self, text: str, fields: tuple[str, ...]):
        words = text.split()
        fixed = [w for w in words if not w.startswith("{")]
        self.fixed, self.n_words = _ids(fixed), len(words)
        order = [fields.index(w[1:-1]) if w.startswith("{") else len(fields) + fixed.index(w) for w in words]
        if len(order) < 2:
            raise ValueError(f"a template needs two words or more, got {text!r}")  # itemgetter(i) returns no tuple
        self._gather = itemgetter(*order)

    def __call__(self, values: tuple) -> tuple[int, ...]:
        return self._gather(values + self.fixed)


# Each family's templates share one field order; the order in which the values are drawn is the sampler's business.
_NARRATIVE_FIELDS = ("name", "Pro", "pro", "poss", "other", "place", "obj", "adj", "x")
_NARRATIVES = tuple(_Template(t, _NARRATIVE_FIELDS) for t in (
    "{name} went to the {place} . {Pro} saw a {adj} {x} there .",  # x: an animal
    "{name} had a {adj} {obj} . {Pro} gave it to {other} .",
    "{name} was hungry , so {pro} ate a {x} at the {place} .",  # x: a food
    "Yesterday {name} walked home . {Pro} was tired and {poss} {obj} was heavy .",
    "{name} met {other} at the {place} . {Pro} showed {poss} {adj} {obj} to {other} .",
))
_FACTS = tuple(_Template(t, ("x", "answer", "name")) for t in (
    "The {x} is {answer} .",
    "{name} has a {x} . The {x} is {answer} .",
    "The {x} says {answer} .",
    "At the {x} , people {answer} .",
))
_FACT_SUBJECTS = (OBJECTS, OBJECTS, ANIMALS, PLACES)
"""What each fact template is about (x) ..."""
_FACT_ANSWERS = tuple({_ID[k]: _ID[v] for k, v in facts.items()}
                      for facts in (V.OBJECT_COLOURS, V.OBJECT_COLOURS, V.ANIMAL_SOUNDS, V.PLACE_ACTIVITIES))
"""... and x -> its answer: an object's colour, an animal's sound, a place's activity."""
_QUANTITY = _Template("{name} has {n1} {colour} {foods1} and {n2} {foods2} .",
                      ("name", "n1", "colour", "foods1", "n2", "foods2"))
_LISTS = tuple(_Template(t, ("a", "b", "c", "name", "place")) for t in (
    "{name} bought a {a} , a {b} and a {c} .",  # foods
    "At the {place} , {name} saw a {a} , a {b} and a {c} .",  # animals
    "The colours were {a} , {b} and {c} .",  # colours
))


def _marks(*marks: tuple[int, int, int]) -> np.ndarray:
    """Marks as a read-only [n, 3] array (they are shared by every sentence of one template)."""
    out = np.array(marks, dtype=np.int64).reshape(-1, 3)
    out.flags.writeable = False
    return out


_FACT_MARKS = tuple(_marks((t.n_words - 2, _FACT, _ANSWER_ID)) for t in _FACTS)
"""The answer of a fact is its last word before the "."."""
_SPAN_LENGTHS = range(4, 11)
"""Lengths of a repeated span (the repeat family)."""
_REPEAT_MARKS = {n: _marks(*[(n + 1 + i, _IND, _REPEAT_ID) for i in range(n)]) for n in _SPAN_LENGTHS}
"""Span length -> marks of the span's second copy, which starts after the first copy and its "."."""


@cache
def _ioi_frame(template: int, form: Form) -> tuple[_Template, np.ndarray]:
    """The IOI sentence of (template, form) completed with its answer, compiled, and its marks.

    Word positions and roles depend on the template and form only, so they are worked out once. Filling the template
    with the slot fields themselves keeps `fill_template` the one definition of the IOI sentences.
    """
    p = fill_template(template, "{io}", "{s}", form, "{place}", "{obj}", "{food}")
    words = [*p.words, "{io}", "."]
    marks = [(p.positions[k], _ROLE, _IOI_IDS[k]) for k in ("io", "s1", "s2", "end")]
    marks.append((len(words) - 2, _ROLE, _IOI_IDS["answer"]))
    return _Template(" ".join(words), ("io", "s", "place", "obj", "food")), _marks(*marks)


def words_of(ids: Iterable[int]) -> list[str]:
    """The words of token ids (to read a sentence)."""
    return [_WORDS[i] for i in ids]


class SentenceSampler:
    """Seeded sampler of sentences of every family; `ioi_split` picks train or held-out IOI combinations.

    The order of the draws in each family is part of the corpus: changing it changes every document.
    """

    def __init__(self, seed: int, ioi_split: Split = "train"):
        self.rng = random.Random(seed)
        self.ioi_split = ioi_split
        self.families = {
            "narrative": self.narrative, "ioi": self.ioi, "fact": self.fact, "count": self.count,
            "list": self.listing, "repeat": self.repeat,
        }

    def narrative(self) -> Sentence:
        r = self.rng
        name, Pro, pro, poss = _NAME_PRONOUNS[r.choice(NAMES)]
        other = r.choice(NAMES)
        place, obj, adj = r.choice(PLACES), r.choice(OBJECTS), r.choice(ADJECTIVES)
        kind = r.randrange(5)
        x = r.choice(ANIMALS) if kind == 0 else r.choice(FOODS) if kind == 2 else None
        return Sentence("narrative", _NARRATIVES[kind]((name, Pro, pro, poss, other, place, obj, adj, x)))

    def ioi(self) -> Sentence:
        r = self.rng
        while True:
            t = r.randrange(len(IOI_TEMPLATES))
            io, s = r.sample(NAMES, 2)
            if in_split(t, _WORDS[io], _WORDS[s], self.ioi_split):
                break
        form = r.choice(("ABBA", "BABA"))
        place, obj, food = r.choice(PLACES), r.choice(OBJECTS), r.choice(FOODS)
        template, marks = _ioi_frame(t, form)
        return Sentence("ioi", template((io, s, place, obj, food)), marks)

    def fact(self) -> Sentence:
        r = self.rng
        kind = r.randrange(4)
        x = r.choice(_FACT_SUBJECTS[kind])
        name = r.choice(NAMES) if kind == 1 else None
        return Sentence("fact", _FACTS[kind]((x, _FACT_ANSWERS[kind][x], name)), _FACT_MARKS[kind])

    def count(self) -> Sentence:
        r = self.rng
        if r.random() < 0.5:
            start = r.randrange(len(NUMBERS) - 3)
            stop = r.randrange(start + 3, len(NUMBERS) + 1)
            return Sentence("count", [r.choice(NAMES), _COUNTED, _COLON, *NUMBERS[start:stop], _DOT])
        i, j = r.randrange(len(FOODS)), r.randrange(len(FOODS))
        n1, n2 = r.choice(NUMBERS[1:]), r.choice(NUMBERS[1:])
        name, colour = r.choice(NAMES), r.choice(COLOURS)
        return Sentence("count", _QUANTITY((name, n1, colour, FOOD_PLURALS[i], n2, FOOD_PLURALS[j])))

    def listing(self) -> Sentence:
        r = self.rng
        kind = r.randrange(3)
        name = place = None
        if kind == 0:
            a, b, c = r.sample(FOODS, 3)
            name = r.choice(NAMES)
        elif kind == 1:
            a, b, c = r.sample(ANIMALS, 3)
            place, name = r.choice(PLACES), r.choice(NAMES)
        else:
            a, b, c = r.sample(COLOURS, 3)
        return Sentence("list", _LISTS[kind]((a, b, c, name, place)))

    def repeat(self) -> Sentence:
        r = self.rng
        span = r.choices(CONTENT, k=r.randrange(_SPAN_LENGTHS.start, _SPAN_LENGTHS.stop))
        return Sentence("repeat", [*span, _DOT, *span, _DOT], _REPEAT_MARKS[len(span)])
