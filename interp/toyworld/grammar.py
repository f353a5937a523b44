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
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import cache

from . import vocab as V
from .ioi import IOI_TEMPLATES, Form, Split, fill_template, in_split
from .labels import FIELD_INDEX, value_id

_ROLE = FIELD_INDEX["ioi_role"]
_IND = FIELD_INDEX["induction"]
_FACT = FIELD_INDEX["fact"]
_IOI_IDS = {r: value_id("ioi_role", r) for r in ("io", "s1", "s2", "end", "answer")}
_REPEAT_ID = value_id("induction", "repeat")
_ANSWER_ID = value_id("fact", "answer")
_SPAN_LENGTHS = range(4, 11)
"""Lengths of a repeated span (the repeat family)."""
_REPEAT_MARKS = {n: tuple((n + 1 + i, _IND, _REPEAT_ID) for i in range(n)) for n in _SPAN_LENGTHS}
"""Span length -> marks of the span's second copy, which starts after the first copy and its "."."""
_NAME_PRONOUNS = {n: (n, "He", "he", "his") if V.gender_of(n) == "male" else (n, "She", "she", "her")
                  for n in V.MALE_NAMES + V.FEMALE_NAMES}
"""name -> (name, subject pronoun capitalised and not, possessive)."""


@cache
def _ioi_frame(template: int, form: Form) -> tuple[str, tuple[tuple[int, int, int], ...]]:
    """The IOI sentence of (template, form) completed with its answer, as a format string, and its marks.

    Word positions and roles depend on the template and form only, so they are worked out once. Filling the template
    with the format fields themselves keeps `fill_template` the one definition of the IOI sentences.
    """
    p = fill_template(template, "{io}", "{s}", form, "{place}", "{obj}", "{food}")
    words = [*p.words, "{io}", "."]
    marks = tuple((p.positions[k], _ROLE, _IOI_IDS[k]) for k in ("io", "s1", "s2", "end"))
    return " ".join(words), (*marks, (len(words) - 2, _ROLE, _IOI_IDS["answer"]))


@dataclass
class Sentence:
    """Words of one sentence plus sparse dynamic labels as (word position, field index, value id)."""

    family: str
    words: list[str]
    marks: tuple[tuple[int, int, int], ...] = ()


class SentenceSampler:
    """Seeded sampler of sentences of every family; `ioi_split` picks train or held-out IOI combinations."""

    def __init__(self, seed: int, ioi_split: Split = "train"):
        self.rng = random.Random(seed)
        self.ioi_split = ioi_split
        self.names = V.MALE_NAMES + V.FEMALE_NAMES
        self.objects = tuple(V.OBJECT_COLOURS)
        self.animals = tuple(V.ANIMAL_SOUNDS)
        self.content = self.objects + self.animals + V.FOODS + tuple(self.names) + tuple(V.ADJECTIVES) + V.COLOURS
        self.families = {
            "narrative": self.narrative, "ioi": self.ioi, "fact": self.fact, "count": self.count,
            "list": self.listing, "repeat": self.repeat,
        }

    # --- helpers -------------------------------------------------------------------------------------------
    def _name(self) -> tuple[str, str, str, str]:
        """A random name with its subject pronoun (capitalised and not) and possessive."""
        return _NAME_PRONOUNS[self.rng.choice(self.names)]

    # --- families ------------------------------------------------------------------------------------------
    def narrative(self) -> Sentence:
        r = self.rng
        name, Pro, pro, poss = self._name()
        other = r.choice(self.names)
        place, obj, adj = r.choice(V.PLACES), r.choice(self.objects), r.choice(V.ADJECTIVES)
        kind = r.randrange(5)
        if kind == 0:
            text = f"{name} went to the {place} . {Pro} saw a {adj} {r.choice(self.animals)} there ."
        elif kind == 1:
            text = f"{name} had a {adj} {obj} . {Pro} gave it to {other} ."
        elif kind == 2:
            text = f"{name} was hungry , so {pro} ate a {r.choice(V.FOODS)} at the {place} ."
        elif kind == 3:
            text = f"Yesterday {name} walked home . {Pro} was tired and {poss} {obj} was heavy ."
        else:
            text = f"{name} met {other} at the {place} . {Pro} showed {poss} {adj} {obj} to {other} ."
        return Sentence("narrative", text.split())

    def ioi(self) -> Sentence:
        r = self.rng
        while True:
            t = r.randrange(len(IOI_TEMPLATES))
            io, s = r.sample(self.names, 2)
            if in_split(t, io, s, self.ioi_split):
                break
        form = r.choice(("ABBA", "BABA"))
        place, obj, food = r.choice(V.PLACES), r.choice(self.objects), r.choice(V.FOODS)
        text, marks = _ioi_frame(t, form)
        return Sentence("ioi", text.format(io=io, s=s, place=place, obj=obj, food=food).split(), marks)

    def fact(self) -> Sentence:
        r = self.rng
        kind = r.randrange(4)
        if kind == 0:
            obj = r.choice(self.objects)
            words = f"The {obj} is {V.OBJECT_COLOURS[obj]} .".split()
        elif kind == 1:
            obj = r.choice(self.objects)
            words = f"{r.choice(self.names)} has a {obj} . The {obj} is {V.OBJECT_COLOURS[obj]} .".split()
        elif kind == 2:
            animal = r.choice(self.animals)
            words = f"The {animal} says {V.ANIMAL_SOUNDS[animal]} .".split()
        else:
            place = r.choice(V.PLACES)
            words = f"At the {place} , people {V.PLACE_ACTIVITIES[place]} .".split()
        return Sentence("fact", words, ((len(words) - 2, _FACT, _ANSWER_ID),))

    def count(self) -> Sentence:
        r = self.rng
        if r.random() < 0.5:
            start = r.randrange(len(V.NUMBERS) - 3)
            stop = r.randrange(start + 3, len(V.NUMBERS) + 1)
            words = [r.choice(self.names), "counted", ":", *V.NUMBERS[start:stop], "."]
        else:
            i, j = r.randrange(len(V.FOODS)), r.randrange(len(V.FOODS))
            n1, n2 = r.choice(V.NUMBERS[1:]), r.choice(V.NUMBERS[1:])
            words = [r.choice(self.names), "has", n1, r.choice(V.COLOURS), V.FOOD_PLURALS[i], "and", n2,
                     V.FOOD_PLURALS[j], "."]
        return Sentence("count", words)

    def listing(self) -> Sentence:
        r = self.rng
        kind = r.randrange(3)
        if kind == 0:
            a, b, c = r.sample(V.FOODS, 3)
            text = f"{r.choice(self.names)} bought a {a} , a {b} and a {c} ."
        elif kind == 1:
            a, b, c = r.sample(self.animals, 3)
            text = f"At the {r.choice(V.PLACES)} , {r.choice(self.names)} saw a {a} , a {b} and a {c} ."
        else:
            a, b, c = r.sample(V.COLOURS, 3)
            text = f"The colours were {a} , {b} and {c} ."
        return Sentence("list", text.split())

    def repeat(self) -> Sentence:
        r = self.rng
        span = r.choices(self.content, k=r.randrange(_SPAN_LENGTHS.start, _SPAN_LENGTHS.stop))
        words = span + ["."] + span + ["."]
        return Sentence("repeat", words, _REPEAT_MARKS[len(span)])
