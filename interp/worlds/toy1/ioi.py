"""Indirect-object identification (IOI) sentences of the toy world, and their train / held-out split.

"When Mary and John went to the park , John gave a ball to" -> Mary. The first two names are the indirect object
(IO) and the subject (S) in either order — ABBA (IO first) or BABA (S first) — the subject is repeated (S2), and
the answer is the IO. A model that completes these must find the name that appears once: the task the IOI circuit
(duplicate-token, S-inhibition and name-mover heads) solves in GPT-2 small.

The held-out split is a fixed ~10% of (template, IO, S) combinations, chosen by a hash, never seen in training
corpora, so IOI accuracy measured on it is accuracy on unseen combinations.
"""

from __future__ import annotations

import zlib
from typing import Literal

from ..toy.text import Form, IOIPrompt

# {N1} {N2}: the two names of the first clause; {S}: subject repeated; {P}: place; {O}: object; {F}: food.
IOI_TEMPLATES: tuple[str, ...] = (
    "When {N1} and {N2} went to the {P} , {S} gave a {O} to",
    "After {N1} and {N2} arrived at the {P} , {S} handed a {O} to",
    "While {N1} and {N2} were at the {P} , {S} threw a {O} to",
    "{N1} and {N2} went to the {P} . {S} gave a {O} to",
    "Then , {N1} and {N2} had a long talk at the {P} . {S} passed a {O} to",
    "When {N1} and {N2} sat in the {P} , {S} told a story to",
    "The {P} was quiet when {N1} and {N2} came . {S} sent a {O} to",
    "{N1} and {N2} found a {O} at the {P} . {S} showed it to",
    "Friends {N1} and {N2} walked to the {P} . {S} brought a {F} to",
    "After the lunch , {N1} and {N2} went to the {P} . {S} offered a {F} to",
    "{N1} and {N2} were working at the {P} . {S} decided to give a {O} to",
    "When {N1} and {N2} met at the {P} , {S} lent a {O} to",
)
IOI_WORDS = ("told", "story", "quiet", "came", "working", "lunch", "Friends", "Then", "While", "After", "When")
"""Words the templates need beyond the categories (kept in the lexicon)."""

HELDOUT_PERCENT = 10
Split = Literal["train", "heldout", "any"]


def is_heldout(template: int, io: str, s: str) -> bool:
    """True for the fixed ~10% of (template, IO, S) combinations reserved for evaluation."""
    return zlib.crc32(f"{template}|{io}|{s}".encode()) % 100 < HELDOUT_PERCENT


def in_split(template: int, io: str, s: str, split: Split) -> bool:
    if split == "any":
        return True
    return is_heldout(template, io, s) == (split == "heldout")


def fill_template(template: int, io: str, s: str, form: Form, place: str, obj: str, food: str) -> IOIPrompt:
    """Instantiate template `template`; ABBA puts the IO first, BABA the subject first."""
    return fill_text(IOI_TEMPLATES[template], template, io, s, form, place, obj, food)


def fill_text(text: str, template: int, io: str, s: str, form: Form, place: str, obj: str, food: str) -> IOIPrompt:
    """Instantiate an IOI text with the slots of `IOI_TEMPLATES` (also used for forms outside them)."""
    n1, n2 = (io, s) if form == "ABBA" else (s, io)
    slots = {"{N1}": n1, "{N2}": n2, "{S}": s, "{P}": place, "{O}": obj, "{F}": food}
    words: list[str] = []
    positions: dict[str, int] = {}
    for w in text.split():
        if w in ("{N1}", "{N2}"):
            positions["io" if slots[w] == io else "s1"] = len(words)
        elif w == "{S}":
            positions["s2"] = len(words)
        words.append(slots.get(w, w))
    positions["end"] = len(words) - 1
    return IOIPrompt(tuple(words), io, s, template, form, positions)
