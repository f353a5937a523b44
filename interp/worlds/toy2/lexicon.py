"""The lexicon of the second toy world ("toy2"): every word, one token each, with the static labels it carries.

Built from the tables of `words`: names with gender; person nouns; animals in three classes (mammal, bird,
fish), foods in three (fruit, vegetable, dish), places in two (indoor, outdoor), each countable noun with its plural;
objects with a canonical colour, material and size; verbs with their agreement forms (base "walk", third person
singular "walks", past "walked") grouped by how the grammar uses them; adjectives, adverbs, times, numbers 1-20,
pronouns, function words and punctuation including the quote mark. Nothing here is random: the same words in the same
order (the token ids) on every machine. A word listed twice is an error, so every token has exactly one reading.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from ..toy.text import SPECIAL_TOKENS
from . import words as W

CATEGORIES = ("name", "person", "animal", "food", "place", "object", "class", "colour", "material", "size", "sound",
              "time", "number", "verb", "adjective", "adverb", "pronoun", "function", "punct")
"""Word categories of toy2, in label-id order (the special tokens carry none)."""
VERB_CLASSES = tuple(W.VERBS)
VERB_FORMS = ("base", "s", "past")
SUBCLASSES = ("mammal", "bird", "fish", "fruit", "vegetable", "dish", "indoor", "outdoor")
"""The second level of the concept hierarchy (the first is the category: animal, food, place)."""
SIZE_WORDS = {**W.SIZE_WORDS, "medium": "medium"}


def plural(word: str) -> str:
    """English plural of a countable noun of the lexicon."""
    if word in W.PLURALS:
        return W.PLURALS[word]
    if word.endswith("y") and word[-2] not in "aeiou":
        return word[:-1] + "ies"
    if word.endswith(("s", "x", "z", "ch", "sh")):
        return word + "es"
    return word + "s"


def _table(text: str) -> list[list[str]]:
    """'a b c | d e f' (rows also end at a line end) -> [[a, b, c], [d, e, f]]."""
    return [row.split() for row in re.split(r"[|\n]", text) if row.strip()]


OBJECT_FACTS: dict[str, tuple[str, str, str]] = {o: (c, m, s) for o, c, m, s in _table(W.OBJECTS)}
"""object -> (colour, material, size)."""
VERB_TABLE: dict[str, dict[str, tuple[str, str, str]]] = {
    cls: {base: (base, s, past) for base, s, past in _table(text)} for cls, text in W.VERBS.items()}
"""verb class -> lemma -> (base, third person singular, past)."""
ANIMAL_CLASS = {**{a: "mammal" for a in W.MAMMALS}, **{a: "bird" for a in W.BIRDS}, **{a: "fish" for a in W.FISH}}
FOOD_CLASS = {**{f: "fruit" for f in W.FRUITS}, **{f: "vegetable" for f in W.VEGETABLES},
              **{f: "dish" for f in W.DISHES}}
PLACE_CLASS = {**{p: "indoor" for p in W.INDOOR_PLACES}, **{p: "outdoor" for p in W.OUTDOOR_PLACES}}
ANIMAL_SOUNDS = {a: s for a, s in {**W.MAMMALS, **W.BIRDS}.items() if s}
COUNTABLE = (*W.PERSONS, *W.MAMMALS, *W.BIRDS, *FOOD_CLASS, *OBJECT_FACTS)
"""Nouns with a plural form (fish and places appear only in the singular)."""
PLURAL_OF = {w: plural(w) for w in COUNTABLE}


@dataclass(frozen=True)
class Lexicon:
    """Every word of toy2 in token order, and the static labels of each: word -> {label field: value}."""

    words: tuple[str, ...]
    labels: dict[str, dict[str, str]]

    def of(self, **want: str) -> tuple[str, ...]:
        """The words whose static labels include all of `want` (e.g. of(category="animal", subclass="bird"))."""
        return tuple(w for w in self.words if all(self.labels[w].get(k) == v for k, v in want.items()))


class _Builder:
    """Adds words in token order; a second listing of a word is an error (one reading per token)."""

    def __init__(self):
        self.labels: dict[str, dict[str, str]] = {}

    def add(self, words, **labels: str) -> None:
        for w in words:
            if w in self.labels:
                raise ValueError(f"toy2 word {w!r} is listed twice ({self.labels[w]} and {labels})")
            if not (w.isalnum() or w in W.PUNCTUATION or w in SPECIAL_TOKENS):
                raise ValueError(f"toy2 word {w!r} is not one token of the word-level tokenizer")
            self.labels[w] = {k: v for k, v in labels.items() if v}


def _add_nouns(b: _Builder) -> None:
    for gender, names in (("male", W.MALE_NAMES), ("female", W.FEMALE_NAMES)):
        b.add(names, category="name", gender=gender, plurality="singular")
    for pl in ("singular", "plural"):
        for p, g in W.PERSONS.items():
            b.add([p if pl == "singular" else PLURAL_OF[p]], category="person", gender=g, plurality=pl)
    for pl in ("singular", "plural"):
        for a, cls in ANIMAL_CLASS.items():
            if pl == "singular" or a in PLURAL_OF:
                b.add([a if pl == "singular" else PLURAL_OF[a]], category="animal", subclass=cls, plurality=pl)
    for pl in ("singular", "plural"):
        for f, cls in FOOD_CLASS.items():
            b.add([f if pl == "singular" else PLURAL_OF[f]], category="food", subclass=cls, plurality=pl)
    for p, cls in PLACE_CLASS.items():
        b.add([p], category="place", subclass=cls, plurality="singular")
    for pl in ("singular", "plural"):
        for o, (colour, material, size) in OBJECT_FACTS.items():
            b.add([o if pl == "singular" else PLURAL_OF[o]], category="object", colour=colour, material=material,
                  size=size, plurality=pl)


def _add_others(b: _Builder) -> None:
    for w, sub in W.CLASS_WORDS.items():
        b.add([w], category="class", subclass=sub)
    for c in W.COLOURS:
        b.add([c], category="colour", colour=c)
    for m in W.MATERIALS:
        b.add([m], category="material", material=m)
    for w, s in SIZE_WORDS.items():
        b.add([w], category="size", size=s)
    b.add(dict.fromkeys(ANIMAL_SOUNDS.values()), category="sound")
    b.add(W.TIMES, category="time")
    for i, n in enumerate(W.NUMBERS):
        b.add([n], category="number", number=str(i + 1))
    for cls, lemmas in VERB_TABLE.items():
        for forms in lemmas.values():
            for form, w in zip(VERB_FORMS, forms):
                b.add([w], category="verb", verb_form=form, verb_class=cls)
    for w, (_lemma, form) in W.EXTRA_VERB_FORMS.items():
        b.add([w], category="verb", verb_form=form, verb_class="aux")
    b.add(W.ADJECTIVES, category="adjective")
    b.add([*W.ADVERBS, *W.OPENERS], category="adverb")
    for p, g in W.PRONOUNS.items():
        b.add([p], category="pronoun", gender=g)
    b.add([*W.FUNCTION_WORDS, *W.CAPITALISED], category="function")
    b.add(W.PUNCTUATION, category="punct")


@cache
def build_lexicon() -> Lexicon:
    """The fixed toy2 lexicon: special tokens first (BOS has id 0, as in toy1), then every table of `words`."""
    b = _Builder()
    b.add(SPECIAL_TOKENS)
    _add_nouns(b)
    _add_others(b)
    return Lexicon(words=tuple(b.labels), labels=b.labels)


@cache
def word_ids() -> dict[str, int]:
    """word -> token id (its index in the lexicon)."""
    return {w: i for i, w in enumerate(build_lexicon().words)}
