"""Composition of toy2 sentences: phrases and clauses put together at random, not fixed templates.

A sentence is built left to right into token ids (`Composer.out`) while the grammar records the labels only it knows
as spans (`Composer.sp`: first position, length, field index, value id; see `labels`). The pieces combine freely:
noun phrases with optional articles, adjectives, colours and sizes and relative clauses ("a red ball that was
heavy", "Mary , who was tired ,"); verb phrases of motion, activity, transitive, transfer, speech and control verbs
with adverbs and place phrases; clauses joined by subordinators and conjunctions ("When ... , ...", "... because
..."); sentence openers ("Yesterday ,", "In the morning ,"); dialogue in quotation marks. Stories track their
characters, so a later mention can be a pronoun of the right gender (labelled coref).

Speed: everything is precompiled to token ids; a random choice is `seq[int(random() * len(seq))]`, about half the cost
of `random.choice`, and fixed word runs are tuples appended in one step. `Pattern` compiles a text with {slot}s for
the families that have a clause skeleton (IOI, facts): fixed words are looked up once, slots are functions of the
composer. The order of the random draws is part of the corpus.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Mapping

from ..toy.text import Sentence
from . import words as W
from .labels import TOY2
from .lexicon import ANIMAL_CLASS, FOOD_CLASS, OBJECT_FACTS, PLACE_CLASS, PLURAL_OF, VERB_TABLE, word_ids

_ID = word_ids()


def ids(words: Iterable[str]) -> tuple[int, ...]:
    return tuple(_ID[w] for w in words)


def label(field: str, value: str) -> tuple[int, int]:
    """(field index, value id) of a toy2 concept: what a span records."""
    return TOY2.field_index[field], TOY2.value_id(field, value)


# Word tables as token ids, in the order of words (the order is part of the random stream).
NAMES_M, NAMES_F = ids(W.MALE_NAMES), ids(W.FEMALE_NAMES)
NAMES = NAMES_M + NAMES_F
PERSONS_BY_G = (ids(p for p, g in W.PERSONS.items() if g == "male"),
                ids(p for p, g in W.PERSONS.items() if g == "female"))
NAMES_BY_G = (NAMES_M, NAMES_F)
GENDER = {**dict.fromkeys(NAMES_M + PERSONS_BY_G[0], 0), **dict.fromkeys(NAMES_F + PERSONS_BY_G[1], 1)}
"""Name or gendered person noun -> 0 (male) / 1 (female)."""
PRO = (ids(("He", "he", "him", "his", "himself", "His")), ids(("She", "she", "her", "her", "herself", "Her")))
"""gender -> pronouns by case (the SUBJ_CAP ... POSS_CAP indices below)."""
SUBJ_CAP, SUBJ, OBJ, POSS, REFL, POSS_CAP = range(6)
PERSONS, PERSONS_PL = ids(W.PERSONS), ids(PLURAL_OF[p] for p in W.PERSONS)
_COUNTABLE_ANIMALS = [a for a in ANIMAL_CLASS if a in PLURAL_OF]
ANIMALS, ANIMALS_PL = ids(_COUNTABLE_ANIMALS), ids(PLURAL_OF[a] for a in _COUNTABLE_ANIMALS)
ALL_ANIMALS = ids(ANIMAL_CLASS)
FOODS, FOODS_PL = ids(FOOD_CLASS), ids(PLURAL_OF[f] for f in FOOD_CLASS)
PLACES = ids(PLACE_CLASS)
OBJECTS, OBJECTS_PL = ids(OBJECT_FACTS), ids(PLURAL_OF[o] for o in OBJECT_FACTS)
THINGS, THINGS_PL = OBJECTS + ANIMALS + FOODS, OBJECTS_PL + ANIMALS_PL + FOODS_PL
"""Countable nouns, singular and plural aligned."""
BY_CLASS = {c: ids(w for w, k in {**ANIMAL_CLASS, **FOOD_CLASS, **PLACE_CLASS}.items() if k == c)
            for c in ("mammal", "bird", "fish", "fruit", "vegetable", "dish", "indoor", "outdoor")}
COLOURS, MATERIALS = ids(W.COLOURS), ids(W.MATERIALS)
ADJ, TIMES, OPENERS, NUMBERS = ids(W.ADJECTIVES), ids(W.TIMES[:15]), ids(W.OPENERS), ids(W.NUMBERS)
ADJ_PERSON = ids("happy sad old young quiet loud kind brave clever funny lovely strange calm busy lazy proud shy rich "
                 "poor tired hungry thirsty angry friendly gentle noisy curious careful sleepy cheerful grumpy silly "
                 "wise famous nervous polite rude honest loyal eager bold neat messy tidy tall short lucky".split())
ADJ_ANIMAL = ids("happy sad old young quiet loud brave clever funny lovely strange calm lazy proud shy tired hungry "
                 "thirsty angry friendly gentle wild tame noisy fierce curious sleepy grumpy silly fast slow tall "
                 "short".split())
ADJ_THING = ids("old new bright dark warm cold soft hard shiny dusty heavy light lovely pretty ugly strange dirty wet "
                "dry empty full sharp smooth rough fancy plain simple rare sturdy fragile broken ancient modern "
                "long round famous".split())
ADJ_FOOD = ids("sweet sour bitter fresh ripe hot cold warm soft hard dry lovely strange fancy plain simple".split())
ADJ_PLACE = ids("quiet busy noisy old new bright dark warm cold cosy famous ancient modern sunny empty strange "
                "lovely".split())
ADJ_TIME = ids("sunny rainy windy cloudy cold warm hot cool quiet calm bright dark long short lovely strange".split())
"""Adjectives by what they describe (people, animals, objects, food, places, times and weather)."""
SIZE_MODS = ids(("tiny", "small", "little", "big", "large", "huge"))
MODS = ADJ_THING + COLOURS + SIZE_MODS
"""Modifiers of an object noun."""
KINDS = ((OBJECTS, MODS), (ANIMALS, ADJ_ANIMAL), (FOODS, ADJ_FOOD))
"""Kinds of thing, each with the modifiers that describe it ..."""
MANNER = ids(w for w in W.ADVERBS if w.endswith("ly"))
PRE_ADV = MANNER + ids(("also", "still", "always", "never", "sometimes", "often", "rarely", "soon", "just"))
"""Adverbs that may stand before a verb."""


def verbs(cls: str, form: int, only: str = "") -> tuple[int, ...]:
    """Token ids of one form (0 base, 1 s, 2 past) of the verbs of a class, optionally only the given lemmas."""
    keep = only.split()
    return ids(f[form] for lemma, f in VERB_TABLE[cls].items() if not keep or lemma in keep)


V_OBJ = "see find like take wash carry drop lose hide open close clean fix buy hold keep move pick want need love " \
        "watch notice draw build break make paint check collect choose push pull kick touch polish pack fill borrow " \
        "admire win count"
"""Transitive verbs that take an object."""
V_ANIMAL = "see find like watch notice feed chase follow help catch admire love hate hear draw paint wash hold"
V_FOOD = "eat cook bake buy like want pick find grow wash choose love hate take"
V_PLACE = "visit clean paint like love see notice check admire watch find"
"""Transitive verbs that take a place."""
V_GIVE = "give hand pass throw send bring show offer lend sell toss mail deliver slide explain describe"
"""Transfer verbs that take a thing ("write" and "tell" take their own objects)."""
MOTION, MOTION_BASE = verbs("motion", 2), verbs("motion", 0)
ACTIVITY = verbs("activity", 2, "sleep laugh sing dance smile cry wait rest play work talk sit stand jump study "
                 "dream wave relax stay listen")
TRANS, TRANS_BASE = verbs("transitive", 2, V_OBJ), verbs("transitive", 0, V_OBJ)
TRANS_PLACE = verbs("transitive", 2, V_PLACE)
KIND_VERBS = tuple(tuple(verbs("transitive", f, v) for f in (2, 0, 1)) for v in (V_OBJ, V_ANIMAL, V_FOOD))
"""... and the transitive verbs that take it (past, base, third person singular)."""
GIVE, GIVE_BASE = verbs("transfer", 2, V_GIVE), verbs("transfer", 0, V_GIVE)
SAID = ids(("said", "whispered", "shouted", "replied", "answered"))
CONTROL = ids(("decided", "wanted", "tried", "began", "planned", "hoped", "promised"))
VOWEL = frozenset(i for w, i in _ID.items() if w[:1] in "aeiou")
"""Words that take "an"."""

(THE, A, AN, THE_CAP, A_CAP, AN_CAP, TO, AT, IN, IN_CAP, WITH, WAS, WERE, WHO, WHICH, THAT, DOT, COMMA, Q, QM,
 AND) = ids('the a an The A An to at in In with was were who which that . , " ? and'.split())
SUB = ids(("when", "because", "while", "after", "although", "before", "since", "until", "if"))
SUB_CAP = ids(("When", "Because", "While", "After", "Although", "Before", "Since", "Until", "If"))
CONJ = ids(("and", "but", "so"))

F_SUBORD, F_RELATIVE, F_QUOTE = label("clause", "subordinate"), label("clause", "relative"), label("clause", "quote")
F_ANTECEDENT, F_PRONOUN = label("coref", "antecedent"), label("coref", "pronoun")


class Character:
    """A person of a story: how it is named (a name, or "the" + a person noun), its gender, whether seen yet."""

    __slots__ = ("words", "gender", "seen")

    def __init__(self, words: tuple[int, ...], gender: int):
        self.words, self.gender, self.seen = words, gender, False


def _open_span(c: Composer) -> None:
    c.stack.append(len(c.out))


def _close_span(clause: str) -> Callable:
    fv = label("clause", clause)

    def close(c: Composer) -> None:
        p = c.stack.pop()
        c.mark(p, len(c.out) - p, fv)
    return close


class Pattern:
    """Text with {slot}s compiled to token ids: fixed words are looked up once, each slot is a function of the
    composer that writes its words; "<relative" ... "relative>" (subordinate, quote) label the words between with
    that clause type. Calling the pattern writes the whole text."""

    __slots__ = ("ops",)

    def __init__(self, text: str, slots: Mapping[str, Callable]):
        ops: list = []
        run: list[int] = []
        for w in text.split():
            slot = slots.get(w[1:-1]) if w.startswith("{") and w.endswith("}") else \
                _open_span if w.startswith("<") and len(w) > 1 else \
                _close_span(w[:-1]) if w.endswith(">") and len(w) > 1 else None
            if slot is not None:
                if run:
                    ops.append(tuple(run))
                    run = []
                ops.append(slot)
            else:
                run.append(_ID[w])
        if run:
            ops.append(tuple(run))
        self.ops = tuple(ops)

    def __call__(self, c: Composer) -> None:
        out = c.out
        for op in self.ops:
            if op.__class__ is tuple:
                out += op
            else:
                op(c)


class Composer:
    """Seeded builder of toy2 sentences: `start`, write words into `out` and spans into `sp`, then `done`."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.r = self.rng.random
        self.out: list[int] = []
        self.sp: list[int] = []
        self.stack: list[int] = []
        """Starts of the clause spans a pattern has opened."""

    def pick(self, seq):
        return seq[int(self.r() * len(seq))]

    def start(self) -> None:
        self.out, self.sp = [], []

    def done(self, family: str) -> Sentence:
        return Sentence(family, self.out, spans=self.sp)

    def mark(self, pos: int, n: int, fv: tuple[int, int]) -> None:
        self.sp += (pos, n, *fv)

    # --- noun phrases ---
    def a_np(self, nouns: tuple[int, ...], mods: tuple[int, ...], p_mod: float, cap: bool = False) -> int:
        """ "a/an [modifier] noun"; returns the noun."""
        r = self.r
        noun = nouns[int(r() * len(nouns))]
        first = mods[int(r() * len(mods))] if r() < p_mod else noun
        art = (AN_CAP if cap else AN) if first in VOWEL else (A_CAP if cap else A)
        self.out += (art, first, noun) if first != noun else (art, noun)
        return noun

    def the_np(self, nouns: tuple[int, ...], mods: tuple[int, ...], p_mod: float, cap: bool = False) -> int:
        """ "the [modifier] noun"; returns the noun."""
        r = self.r
        noun = nouns[int(r() * len(nouns))]
        art = THE_CAP if cap else THE
        self.out += (art, mods[int(r() * len(mods))], noun) if r() < p_mod else (art, noun)
        return noun

    def thing(self, the: bool, p_mod: float, cap: bool = False, verb: int = -1) -> tuple[int, tuple[int, ...]]:
        """ "a/the [adjective] noun" of an object (half the time), an animal or a food, after a transitive verb
        that takes it (verb 0: past, 1: base, 2: third person singular) if asked; returns the noun and the
        adjectives that fit it."""
        x = self.r()
        kind = 0 if x < 0.5 else 1 if x < 0.75 else 2
        if verb >= 0:
            vs = KIND_VERBS[kind][verb]
            self.out.append(vs[int(self.r() * len(vs))])
        nouns, adjs = KINDS[kind]
        noun = (self.the_np if the else self.a_np)(nouns, adjs, p_mod, cap)
        return noun, adjs

    def place(self) -> None:
        """ "the [adjective] place"."""
        self.the_np(PLACES, ADJ_PLACE, 0.15)

    def relative(self, person: bool, adjs: tuple[int, ...]) -> None:
        """ ", who was happy ," after a person, ", which was heavy" or "that was heavy" after a thing; labelled
        relative (commas excluded)."""
        out, r = self.out, self.r
        p = len(out) + person
        if person:
            out += (COMMA, WHO, WAS, adjs[int(r() * len(adjs))], COMMA)
        elif r() < 0.5:
            out += (COMMA, WHICH, WAS, adjs[int(r() * len(adjs))])
            p += 1
        else:
            out += (THAT, WAS, adjs[int(r() * len(adjs))])
        self.mark(p, 3, F_RELATIVE)

    # --- characters ---
    def cast(self, n: int) -> list[Character]:
        """One or two characters; two have different genders, so every pronoun has one referent."""
        r = self.r
        g = int(r() * 2)
        out = []
        for i in range(n):
            gi = g if i == 0 else 1 - g
            if r() < 0.8:
                pool = NAMES_BY_G[gi]
                out.append(Character((pool[int(r() * len(pool))],), gi))
            else:
                pool = PERSONS_BY_G[gi]
                out.append(Character((THE, pool[int(r() * len(pool))]), gi))
        return out

    def mention(self, ch: Character, case: int, cap: bool = False, pronoun: bool = True) -> bool:
        """Name a character: a pronoun of its gender once it has been seen (coref pronoun; never with
        pronoun=False), else its name or noun phrase (its first mention: coref antecedent). Returns whether it wrote
        a pronoun."""
        out = self.out
        if pronoun and ch.seen and self.r() < 0.6:
            self.mark(len(out), 1, F_PRONOUN)
            out.append(PRO[ch.gender][SUBJ_CAP if cap and case == SUBJ else case])
            return True
        words = ch.words
        if not ch.seen:
            self.mark(len(out) + len(words) - 1, 1, F_ANTECEDENT)
            ch.seen = True
        out += (THE_CAP, words[1]) if cap and len(words) == 2 else words
        return False
