"""The toy2 families with known answers, and the sampler that draws every family of the second toy world.

- fact:   world facts in several surface forms, some inside composed clauses ("Mary saw a robin , which is a
          bird ."): an object's colour, material and size, an animal's or food's class, a place's class, an
          animal's sound, the top level of the hierarchy. fact subject / answer labelled.
- count:  counting occurrences in a list ("... a dog , a cup and a dog . Mary counted two dogs ."), counting runs
          ("one two three"), and sums ("had three apples and found two more . Now she has five apples").
- agree:  subject-verb agreement across an attractor of the other number ("The dogs near the cat sleep .",
          "The key that opened the boxes is small .", "Tom and Anna walk ."). subject / verb / attractor labelled.
- list:   three members of one class of the hierarchy ("At the zoo , Tom saw a lion , a tiger and a bear .").
- repeat: a random span of words, two to four other sentences, then the same span (induction over a long gap).
The narrative families (story, coref) are in `stories`, dialogue in `dialogue`, IOI in `ioi`.
"""

from __future__ import annotations

from functools import partial

from ..toy.text import Sentence
from .compose import (
    A_CAP,
    ADJ,
    ADJ_ANIMAL,
    ALL_ANIMALS,
    AN,
    AN_CAP,
    AND,
    ANIMALS,
    ANIMALS_PL,
    BY_CLASS,
    COLOURS,
    COMMA,
    DOT,
    F_ANTECEDENT,
    F_PRONOUN,
    FOODS,
    GENDER,
    NAMES,
    OBJECTS,
    PERSONS,
    PERSONS_PL,
    PLACES,
    PRO,
    THE,
    THE_CAP,
    THINGS,
    THINGS_PL,
    VOWEL,
    WAS,
    WERE,
    A,
    Composer,
    ids,
    label,
)
from .dialogue import ARE, IS, dialogue
from .ioi import IOIWriter
from .lexicon import ANIMAL_CLASS, ANIMAL_SOUNDS, FOOD_CLASS, OBJECT_FACTS, PLACE_CLASS
from .stories import PRESENT, coref, filler, sentence, story, verbs

FAMILY_WEIGHTS = {"story": 0.2, "dialogue": 0.08, "ioi": 0.25, "fact": 0.12, "count": 0.08, "agree": 0.08,
                   "coref": 0.07, "list": 0.05, "repeat": 0.07}
"""Default share of each toy2 family (CorpusConfig.mix overrides them)."""

_WORDS = "is made of says saw which has counted : had found more Now near that with have At bought visited place"
_ID = dict(zip(_WORDS.split(), ids(_WORDS.split())))
_FACT = label("fact", "subject"), label("fact", "answer")
_COUNT = label("count", "item"), label("count", "answer"), label("count", "step")
_AGREE = label("agreement", "subject"), label("agreement", "verb"), label("agreement", "attractor")
_IND = label("induction", "first"), label("induction", "repeat")
_COLOUR, _MATERIAL, _SIZE = ({ids([o])[0]: ids([f[k]])[0] for o, f in OBJECT_FACTS.items()} for k in range(3))
_CLASS_WORD = {ids([w])[0]: ids([k])[0] for w, k in {**ANIMAL_CLASS, **FOOD_CLASS, **PLACE_CLASS}.items()}
_SOUND = {ids([a])[0]: ids([s])[0] for a, s in ANIMAL_SOUNDS.items()}
_SOUNDERS = tuple(_SOUND)
_TOP = {ids([a])[0]: w for w, group in (("animal", ANIMAL_CLASS), ("food", FOOD_CLASS), ("place", PLACE_CLASS),
                                         ("thing", OBJECT_FACTS)) for a in group}
_TOP_WORDS = {"animal": ids(("an", "animal")), "food": ids(("food",)), "place": ids(("a", "place")),
              "thing": ids(("a", "thing"))}
"""The first level of the hierarchy, with its article."""
_TOP_KEYS = tuple(_TOP)
CONTENT = OBJECTS + ALL_ANIMALS + FOODS + NAMES + ADJ + COLOURS + PLACES
"""Words a repeated span is drawn from."""
NOUNS, NOUNS_PL = THINGS + PERSONS, THINGS_PL + PERSONS_PL
ANIMATE, ANIMATE_PL = ANIMALS + PERSONS, ANIMALS_PL + PERSONS_PL
"""Subjects of the agreement task (they act, and have things); attractors are any noun."""


def _article(word: int, cap: bool = False) -> int:
    return (AN_CAP if cap else AN) if word in VOWEL else (A_CAP if cap else A)


def _state(c: Composer, pre: tuple, subj: int, mid: tuple, ans: int) -> None:
    """pre SUBJECT mid ANSWER ."""
    out = c.out
    out += pre
    c.mark(len(out), 1, _FACT[0])
    out.append(subj)
    out += mid
    c.mark(len(out), 1, _FACT[1])
    out += (ans, DOT)


def fact(c: Composer) -> Sentence:
    c.start()
    r, out, w = c.r, c.out, _ID
    k = int(r() * 9)
    if k < 3:  # The ball is red . / The ball is made of rubber . / The ball is small .
        o = OBJECTS[int(r() * len(OBJECTS))]
        mid = (w["is"], w["made"], w["of"]) if k == 1 else (w["is"],)
        _state(c, (THE_CAP,), o, mid, (_COLOUR, _MATERIAL, _SIZE)[k][o])
    elif k < 5:  # A robin is a bird . / An apple is a fruit .
        pool = ALL_ANIMALS if k == 3 else FOODS
        x = pool[int(r() * len(pool))]
        _state(c, (_article(x, True),), x, (w["is"], A), _CLASS_WORD[x])
    elif k == 5:  # The kitchen is an indoor place .
        p = PLACES[int(r() * len(PLACES))]
        _state(c, (THE_CAP,), p, (w["is"], AN), _CLASS_WORD[p])
        out.insert(-1, w["place"])
    elif k == 6:  # The cow says moo .
        a = _SOUNDERS[int(r() * len(_SOUNDERS))]
        _state(c, (THE_CAP,), a, (w["says"],), _SOUND[a])
    elif k == 7:  # Mary saw a robin , which is a bird .
        out.append(NAMES[int(r() * len(NAMES))])
        x = ALL_ANIMALS[int(r() * len(ALL_ANIMALS))]
        _state(c, (w["saw"], _article(x)), x, (COMMA, w["which"], w["is"], A), _CLASS_WORD[x])
        c.mark(len(out) - 5, 4, label("clause", "relative"))
    else:  # A robin is an animal . / An apple is food . / A kitchen is a place . / A cup is a thing .
        x = _TOP_KEYS[int(r() * len(_TOP_KEYS))]
        top = _TOP_WORDS[_TOP[x]]
        _state(c, (_article(x, True),), x, (w["is"], *top[:-1]), top[-1])
    return c.done("fact")


def count(c: Composer) -> Sentence:
    c.start()
    r, out, w = c.r, c.out, _ID
    name = NAMES[int(r() * len(NAMES))]
    x = r()
    if x < 0.5:  # Tom saw a dog , a cup and a dog . Tom counted two dogs .
        i = int(r() * len(THINGS))
        target, other = THINGS[i], THINGS[int(r() * len(THINGS))]
        items = [target] * (1 + int(r() * 4)) + [other] * (int(r() * 3) if other != target else 0)
        c.rng.shuffle(items)
        out += (name, w["saw"])
        for k, it in enumerate(items):
            if k:
                out.append(COMMA if k < len(items) - 1 else AND)
            out.append(_article(it))
            if it == target:
                c.mark(len(out), 1, _COUNT[0])
            out.append(it)
        out += (DOT, name, w["counted"])
        n = items.count(target)
        c.mark(len(out), 1, _COUNT[1])
        out += (NUMBER[n - 1], target if n == 1 else THINGS_PL[i], DOT)
    elif x < 0.75:  # Tom counted : three four five six .
        first = int(r() * 15)
        stop = min(20, first + 3 + int(r() * 6))
        out += (name, w["counted"], w[":"], NUMBER[first])
        c.mark(len(out), stop - first - 1, _COUNT[2])
        out += (*NUMBER[first + 1:stop], DOT)
    else:  # Tom had three apples and found two more . Now he has five apples .
        a, b = 2 + int(r() * 10), 1 + int(r() * 9)
        noun = THINGS_PL[int(r() * len(THINGS_PL))]
        c.sp += (0, 1, *F_ANTECEDENT, 10, 1, *F_PRONOUN)  # the name, and "he" / "she" after "Now"
        out += (name, w["had"], NUMBER[a - 1], noun, AND, w["found"], NUMBER[b - 1], w["more"], DOT, w["Now"],
                PRO[GENDER[name]][1], w["has"])
        c.mark(len(out), 1, _COUNT[1])
        out += (NUMBER[a + b - 1], noun, DOT)
    return c.done("count")


def agree(c: Composer) -> Sentence:
    """Subject-verb agreement: the verb's number is the head noun's, whatever the attractor's."""
    c.start()
    r, out, w = c.r, c.out, _ID
    pl = r() < 0.5
    k = int(r() * 5)
    if k == 4:  # Tom walks . / Tom and Anna walk .
        p = len(out)
        out.append(NAMES[int(r() * len(NAMES))])
        if pl:
            out += (AND, NAMES[int(r() * len(NAMES))])
        c.mark(p, len(out) - p, _AGREE[0])
        vs = PRESENT[0 if pl else 1][int(r() * 2)]
        c.mark(len(out), 1, _AGREE[1])
        out += (vs[int(r() * len(vs))], DOT)
        return c.done("agree")
    _head(c, pl, True)
    apl = (not pl) if r() < 0.6 else pl
    if k == 0:  # The dogs near the cat sleep .
        out.append(w["near"])
        _head(c, apl, False)
        verb = PRESENT[0 if pl else 1][1]
        verb = (verb[int(r() * len(verb))],)
    elif k == 1:  # The key that opened the boxes is small .
        p = len(out)
        out += (w["that"], TRANS_PAST[int(r() * len(TRANS_PAST))])
        _head(c, apl, False)
        c.mark(p, len(out) - p, label("clause", "relative"))
        verb = ((ARE if pl else IS), ADJ_ANIMAL[int(r() * len(ADJ_ANIMAL))])
    elif k == 2:  # The girls with the dog have a ball .
        out.append(w["with"])
        _head(c, apl, False)
        verb = (w["have"] if pl else w["has"], A, OBJECTS[int(r() * len(OBJECTS))])
        if verb[2] in VOWEL:
            verb = (verb[0], AN, verb[2])
    else:  # The cup of the kings was old .
        out.append(w["of"])
        _head(c, apl, False)
        verb = ((WERE if pl else WAS), ADJ_ANIMAL[int(r() * len(ADJ_ANIMAL))])
    c.mark(len(out), 1, _AGREE[1])
    out += (*verb, DOT)
    return c.done("agree")


def _head(c: Composer, pl: bool, subject: bool) -> None:
    """ "the noun" in the number asked for, an animate subject or any noun as attractor; labelled."""
    sg, plural = (ANIMATE, ANIMATE_PL) if subject else (NOUNS, NOUNS_PL)
    c.out.append(THE_CAP if subject else THE)
    c.mark(len(c.out), 1, _AGREE[0] if subject else _AGREE[2])
    c.out.append((plural if pl else sg)[int(c.r() * len(sg))])


def listing(c: Composer) -> Sentence:
    c.start()
    r, out, w = c.r, c.out, _ID
    k = int(r() * 3)
    cls = (("mammal", "bird", "fish"), ("fruit", "vegetable", "dish"), ("indoor", "outdoor"))[k]
    pool = BY_CLASS[cls[int(r() * len(cls))]]
    n = len(pool)
    i, j, k2 = int(r() * n), int(r() * (n - 1)), int(r() * (n - 2))  # three distinct members
    j += j >= i
    k2 += k2 >= min(i, j)
    k2 += k2 >= max(i, j)
    items = (pool[i], pool[j], pool[k2])
    name = NAMES[int(r() * len(NAMES))]
    if k == 0:
        out += (w["At"], THE, PLACES[int(r() * len(PLACES))], COMMA, name, w["saw"])
    else:
        out += (name, (w["bought"], w["visited"])[k - 1])
    for j, it in enumerate(items):
        out += ((), (COMMA,), (AND,))[j]
        out += (THE, it) if k == 2 else (_article(it), it)
    out.append(DOT)
    return c.done("list")


def repeat(c: Composer) -> Sentence:
    """A span of 4-12 random words, two to four other sentences, then the span again."""
    c.start()
    r, out = c.r, c.out
    span = [CONTENT[int(r() * len(CONTENT))] for _ in range(4 + int(r() * 9))]
    c.mark(len(out), len(span), _IND[0])
    out += (*span, DOT)
    chars = c.cast(1)
    for _ in range(2 + int(r() * 3)):
        filler(c) if r() < 0.5 else sentence(c, chars)
    c.mark(len(out), len(span), _IND[1])
    out += (*span, DOT)
    return c.done("repeat")


NUMBER = ids(("one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
              "seventeen eighteen nineteen twenty").split())
TRANS_PAST = verbs("transitive", 2, "see find like take wash carry open clean fix buy hold keep move pick watch")


class Sampler(Composer):
    """Seeded sampler of every toy2 family; `split` picks training or held-out IOI sentences, `ioi_forms` restricts
    IOI to some forms. The order of the draws is part of the corpus."""

    def __init__(self, seed: int, split: str = "train", ioi_forms: tuple[str, ...] = ()):
        super().__init__(seed)
        self.ioi = IOIWriter(self, split, ioi_forms)
        self.families = {"story": partial(story, self), "dialogue": partial(dialogue, self),
                         "ioi": self.ioi.sentence, "fact": partial(fact, self), "count": partial(count, self),
                         "agree": partial(agree, self), "coref": partial(coref, self), "list": partial(listing, self),
                         "repeat": partial(repeat, self)}
