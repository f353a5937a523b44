"""IOI in toy2: sentences composed from an intro, an optional middle and a transfer clause (`forms`), and the
held-out prompts that score a model on forms and names it never saw in an IOI sentence.

`IOIWriter.sentence` is the `ioi` family of the corpus: in the train split it draws a training form and training
names only; in the held-out split half its sentences use a held-out form (training names), half a training form
with at least one held-out name. `ioi_prompts` gives evaluation prompts (`ioi.IOIPrompt`, ending at the final
"to", `template` = the index of the form in `forms.FORMS`) drawn by the same code, so the prompts a model is
scored on are exactly the sentences the grammar writes, cut before the answer.
"""

from __future__ import annotations

from ..toy.text import ORDERS, IOIPrompt, Sentence
from .compose import (
    ACTIVITY,
    ADJ_ANIMAL,
    ADJ_FOOD,
    ADJ_PERSON,
    ADJ_PLACE,
    ADJ_TIME,
    ALL_ANIMALS,
    COLOURS,
    CONTROL,
    DOT,
    FOODS,
    GIVE,
    GIVE_BASE,
    MODS,
    MOTION,
    NAMES,
    OBJECTS,
    OPENERS,
    PLACES,
    PRE_ADV,
    TIMES,
    TRANS,
    TRANS_PLACE,
    Composer,
    Pattern,
    ids,
    label,
)
from .forms import (
    FORMS,
    HELDOUT_FORMS,
    INTROS,
    MIDDLES,
    TRAIN_FORMS,
    TRANSFERS,
    check_forms,
    is_heldout_name,
    split_form,
)
from .lexicon import build_lexicon

_WORDS = build_lexicon().words
TRAIN_NAMES = tuple(n for n in NAMES if not is_heldout_name(_WORDS[n]))
HELDOUT_NAMES = tuple(n for n in NAMES if is_heldout_name(_WORDS[n]))
_ROLES = {r: label("ioi_role", r) for r in ("io", "s1", "s2", "end", "answer", "distractor")}


def _pick_into(pool: tuple[int, ...]):
    def slot(c: Composer) -> None:
        c.out.append(pool[int(c.r() * len(pool))])
    return slot


def _name(which: str):
    def slot(c: Composer) -> None:
        setattr(c, f"pos_{which}", len(c.out))
        c.out.append(getattr(c, which))
    return slot


def _distractor(c: Composer) -> None:
    pool = c.distractors
    while True:
        n = pool[int(c.r() * len(pool))]
        if n != c.a and n != c.b:
            break
    c.mark(len(c.out), 1, _ROLES["distractor"])
    c.out.append(n)


def _modified(nouns: tuple[int, ...], mods: tuple[int, ...], p_mod: float):
    """[modifier] noun, after a fixed "the"."""
    def slot(c: Composer) -> None:
        if c.r() < p_mod:
            c.out.append(mods[int(c.r() * len(mods))])
        c.out.append(nouns[int(c.r() * len(nouns))])
    return slot


def _object_or_food(the: bool):
    """ "a/an [modifier] thing" (or without the article, after a fixed "the"): an object, a fifth of the time a food."""
    after_the = (_modified(OBJECTS, MODS, 0.3), _modified(FOODS, ADJ_FOOD, 0.3))

    def slot(c: Composer) -> None:
        food = c.r() < 0.2
        if the:
            after_the[food](c)
        else:
            c.a_np(FOODS, ADJ_FOOD, 0.3) if food else c.a_np(OBJECTS, MODS, 0.3)
    return slot


MEET, PREP = ids(("met", "saw", "found", "visited", "greeted")), ids(("at", "near", "in"))
SLOTS = {
    "A": _name("a"), "B": _name("b"), "S": _name("s"), "N": _distractor,
    "P": _modified(PLACES, ADJ_PLACE, 0.15), "O": _modified(OBJECTS, MODS, 0.3),
    "aO": lambda c: c.a_np(OBJECTS, MODS, 0.3), "aX": _object_or_food(False), "X": _object_or_food(True),
    "Vmeet": _pick_into(MEET), "Prep": _pick_into(PREP), "Ctl": _pick_into(CONTROL),
    "AAnimal": lambda c: c.a_np(ALL_ANIMALS, ADJ_ANIMAL, 0.2, cap=True),
    "Vm": _pick_into(MOTION), "Va": _pick_into(ACTIVITY), "Vt": _pick_into(TRANS), "Vp": _pick_into(TRANS_PLACE),
    "Vg": _pick_into(GIVE), "Vg0": _pick_into(GIVE_BASE), "Adj": _pick_into(ADJ_PERSON), "AdjW": _pick_into(ADJ_TIME),
    "AdjP": _pick_into(ADJ_PLACE), "Adv": _pick_into(OPENERS), "adv": _pick_into(PRE_ADV), "T": _pick_into(TIMES),
    "C": _pick_into(COLOURS),
}
"""What fills each {slot} of `forms`'s texts."""
_INTRO = {k: (Pattern(t, SLOTS), label("ioi_intro", k), t.endswith(",")) for k, t in INTROS.items()}
_TRANSFER = {k: (Pattern(t, SLOTS), label("ioi_transfer", k)) for k, t in TRANSFERS.items()}
_MIDDLE = tuple(Pattern(t, SLOTS) for t in MIDDLES)
_FORM_PARTS = tuple((_INTRO[i], _TRANSFER[t]) for i, t in map(split_form, FORMS))
_FORM_INDEX = {f: i for i, f in enumerate(FORMS)}
P_MIDDLE = 0.4
"""Share of IOI sentences with a full-sentence intro that get a middle sentence."""


def write_ioi(c: Composer, form: int, abba: bool, io: int, s: int, distractors: tuple[int, ...]) -> int:
    """Write one IOI sentence of form `form` (index into FORMS) completed by the IO, with its labels; returns the
    position of the final "to" in the sentence."""
    (intro, intro_label, clause_intro), (transfer, transfer_label) = _FORM_PARTS[form]
    out = c.out
    c.a, c.b = (io, s) if abba else (s, io)
    c.s, c.distractors = s, distractors
    p0 = len(out)
    intro(c)
    c.mark(p0, len(out) - p0, intro_label)
    if not clause_intro and c.r() < P_MIDDLE:
        _MIDDLE[int(c.r() * len(_MIDDLE))](c)
    p1 = len(out)
    transfer(c)
    end = len(out) - 1
    out += (io, DOT)
    c.mark(p1, len(out) - p1, transfer_label)
    io_pos, s1_pos = (c.pos_a, c.pos_b) if abba else (c.pos_b, c.pos_a)
    R = _ROLES
    c.sp += (io_pos, 1, *R["io"], s1_pos, 1, *R["s1"], c.pos_s, 1, *R["s2"], end, 1, *R["end"], end + 1, 1,
             *R["answer"])
    return end


class IOIWriter:
    """The ioi family of one sampler: which forms and names its split may use."""

    def __init__(self, c: Composer, split: str = "train", forms: tuple[str, ...] = ()):
        check_forms(forms, split)
        self.c, self.split = c, split
        chosen = forms or (TRAIN_FORMS if split == "train" else FORMS)
        self.train_forms = tuple(_FORM_INDEX[f] for f in chosen if f in TRAIN_FORMS)
        self.heldout_forms = tuple(_FORM_INDEX[f] for f in chosen if f in HELDOUT_FORMS)

    def _names(self, pool_a: tuple[int, ...], pool_b: tuple[int, ...]) -> tuple[int, int]:
        r = self.c.r
        while True:
            x, y = pool_a[int(r() * len(pool_a))], pool_b[int(r() * len(pool_b))]
            if x != y:
                return (x, y) if r() < 0.5 else (y, x)

    def sentence(self) -> Sentence:
        c = self.c
        c.start()
        r = c.r
        abba = r() < 0.5
        if self.split == "train":
            form = self.train_forms[int(r() * len(self.train_forms))]
            io, s = self._names(TRAIN_NAMES, TRAIN_NAMES)
            pool = TRAIN_NAMES
        elif self.heldout_forms and (not self.train_forms or r() < 0.5):  # a held-out form, training names
            form = self.heldout_forms[int(r() * len(self.heldout_forms))]
            io, s = self._names(TRAIN_NAMES, TRAIN_NAMES)
            pool = NAMES
        else:  # a training form with at least one held-out name
            form = self.train_forms[int(r() * len(self.train_forms))]
            io, s = self._names(HELDOUT_NAMES, NAMES)
            pool = NAMES
        write_ioi(c, form, abba, io, s, pool)
        return c.done("ioi")


def prompt_of(c: Composer, form: int, abba: bool, io: int, s: int, pool: tuple[int, ...]) -> IOIPrompt:
    """One IOI sentence as an evaluation prompt: its words up to the final "to" and the roles' positions."""
    c.start()
    end = write_ioi(c, form, abba, io, s, pool)
    roles = {v: k for k, v in _ROLES.items()}
    sp = c.sp
    pos = {roles[(sp[i + 2], sp[i + 3])]: sp[i] for i in range(0, len(sp), 4) if (sp[i + 2], sp[i + 3]) in roles}
    return IOIPrompt(tuple(_WORDS[i] for i in c.out[:end + 1]), _WORDS[io], _WORDS[s], form,
                     "ABBA" if abba else "BABA", {k: pos[k] for k in ("io", "s1", "s2", "end")})


def ioi_prompts(n: int, seed: int = 0, kind: str = "heldout_form", form: str | None = None,
                 order: str | None = None) -> list[IOIPrompt]:
    """`n` evaluation prompts. kind: heldout_form (held-out forms, training names), heldout_name (training forms,
    at least one held-out name) or train (training forms and names); `form` / `order` fix the form and name order
    (order None alternates ABBA and BABA)."""
    if kind not in ("heldout_form", "heldout_name", "train"):
        raise ValueError(f"unknown IOI prompt kind {kind!r}; valid: heldout_form, heldout_name, train")
    if order is not None and order not in ORDERS:
        raise ValueError(f"unknown name order {order!r}; valid: {', '.join(ORDERS)}")
    forms = (form,) if form else HELDOUT_FORMS if kind == "heldout_form" else TRAIN_FORMS
    check_forms(forms, "heldout" if kind == "heldout_form" else "train")
    c = Composer(seed)
    writer = IOIWriter(c)
    out = []
    for k in range(n):
        f = _FORM_INDEX[forms[int(c.r() * len(forms))]]
        abba = order == "ABBA" if order else k % 2 == 0
        io, s = writer._names(HELDOUT_NAMES, NAMES) if kind == "heldout_name" else writer._names(TRAIN_NAMES,
                                                                                                 TRAIN_NAMES)
        out.append(prompt_of(c, f, abba, io, s, TRAIN_NAMES))
    return out
