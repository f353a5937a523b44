"""IOI surface forms of toy2 and its held-out forms and names: which IOI sentences training may ever contain.

A toy2 IOI sentence is composed of an *intro* that mentions the two names once each ("{A} met {B} at the {P} ."),
an optional *middle* sentence (distractor names and nouns: "{N} was there too ."), and a *transfer* clause whose
subject repeats one of them and which ends at "to" ("Later , {S} gave the {O} to"); the answer is the other name,
the indirect object (IO). Every slot is filled by the grammar (`ioi2`): names, places, objects with optional
adjectives, verbs of motion, activity and transfer, adverbs, so one form has many surface strings. A *form* is an
(intro, transfer) pair, named "intro+transfer"; a subordinate intro ending in "," combines only with transfers that
start with the subject. Each form comes in both name orders (ABBA: IO first; BABA: subject first).

Held out, never produced in the train split (`is_heldout_form`, `is_heldout_name`):
- forms: the five shapes of issue 16's probe ("Yesterday A and B walked to the P . B sold a O to", "A met B at the P
  . Later , B gave the O to", ...) and a fixed ~12% of the others by hash, chosen so that every intro and every
  transfer still occurs in training (the held-out forms test composition, not unseen words);
- names: a fixed ~10% of the names never take part in a training IOI sentence (as IO, subject or distractor); they
  still occur in every other family, so their embeddings are trained.
Nothing is random: the split is a property of the names of forms and people.
"""

from __future__ import annotations

import zlib

INTROS: dict[str, str] = {
    "and_went": "{A} and {B} {Vm} to the {P} .",
    "met": "{A} met {B} at the {P} .",
    "when": "When {A} and {B} {Vm} to the {P} ,",
    "while_at": "While at the {P} , {A} and {B} {Vt} {aO} .",
    "at_place": "At the {P} , {A} and {B} {Va} .",
    "with": "{A} {Va} with {B} at the {P} .",
    "who_was": "{A} , who was {Adj} , {Vm} to the {P} with {B} .",
    "opener": "{Adv} {A} and {B} {Vm} to the {P} .",
    "opener_place": "{Adv} {A} and {B} {Vp} the {P} .",
    "saw_near": "{A} saw {B} near the {P} .",
    "called": "{A} called {B} , and they {Vm} to the {P} .",
    "place_was": "The {P} was {AdjP} when {A} and {B} arrived .",
    "friends": "{A} and {B} , who were friends , {Va} in the {P} .",
    "said_to": '{A} said to {B} , " I like the {P} . "',
    "waited": "{A} waited for {B} at the {P} .",
    "after_met": "After {A} met {B} at the {P} ,",
    "both": "Both {A} and {B} {Vt} {aO} at the {P} .",
    "in_time": "In the {T} , {A} {Va} with {B} .",
    "visited_who": "{A} visited {B} , who {Va} at the {P} .",
}
"""Intro kinds: {A} and {B} are the first and second names mentioned (ABBA: A is the IO; BABA: A is the subject)."""
TRANSFERS: dict[str, str] = {
    "plain": "{S} {Vg} {aO} to",
    "adverb": "{S} {adv} {Vg} the {O} to",
    "later": "Later , {S} {Vg} the {O} to",
    "then": "Then {S} {Vg} {aO} to",
    "decided": "{S} decided to {Vg0} the {O} to",
    "took_and": "{S} took {aO} and {Vg} it to",
    "who_was": "{S} , who was {Adj} , {Vg} {aO} to",
    "after_that": "After that , {S} {Vg} the {O} back to",
    "from_place": "{S} {Vg} {aO} from the {P} to",
    "because": "Because it was {AdjW} , {S} {Vg} {aO} to",
    "wanted": "{S} wanted to {Vg0} {aF} to",
    "food": "{S} {Vg} {aF} to",
    "wrote": "{S} wrote a letter to",
}
"""Transfer kinds: {S} is the subject's second mention (S2); the IO completes the sentence after the final "to"."""
MIDDLES: tuple[str, ...] = (
    "{N} was there too .",
    "{AAnimal} {Va} nearby .",
    "It was {AdjW} .",
    "They {Va} for a while .",
    "The {O} was {C} .",
    "{N} {Va} at the {P} .",
    "They talked about {N} .",
)
"""Optional sentences between a full-sentence intro and the transfer; {N} is a distractor name (neither IO nor S)."""

ISSUE_FORMS = ("opener+plain", "opener_place+plain", "met+later", "while_at+plain", "at_place+plain")
"""The shapes issue 16 probed the toy1 models with, held out here so toy2 models are scored on them."""
HELDOUT_FORM_PERCENT = 12
HELDOUT_NAME_PERCENT = 10
ORDERS = ("ABBA", "BABA")


def _starts_with_subject(transfer: str) -> bool:
    return TRANSFERS[transfer].startswith("{S}")


def all_forms() -> tuple[str, ...]:
    """Every valid form "intro+transfer", intros in table order."""
    return tuple(f"{i}+{t}" for i in INTROS for t in TRANSFERS
                 if not INTROS[i].endswith(",") or _starts_with_subject(t))


def _hashed_out(form: str) -> bool:
    return zlib.crc32(f"ioi-form|{form}".encode()) % 100 < HELDOUT_FORM_PERCENT


FORMS = all_forms()
HELDOUT_FORMS = tuple(f for f in FORMS if f in ISSUE_FORMS or _hashed_out(f))
TRAIN_FORMS = tuple(f for f in FORMS if f not in HELDOUT_FORMS)


def is_heldout_form(form: str) -> bool:
    return form in HELDOUT_FORMS


def is_heldout_name(name: str) -> bool:
    """True for the fixed ~10% of names that no training IOI sentence contains."""
    return zlib.crc32(f"ioi-name|{name}".encode()) % 100 < HELDOUT_NAME_PERCENT


def split_form(form: str) -> tuple[str, str]:
    """ "met+later" -> ("met", "later")."""
    intro, _, transfer = form.partition("+")
    return intro, transfer


def check_forms(forms: tuple[str, ...], split: str) -> None:
    """Raise a one-line ValueError for an unknown form, or a held-out form asked for in the train split."""
    unknown = [f for f in forms if f not in FORMS]
    if unknown:
        raise ValueError(f"unknown IOI form(s) {', '.join(unknown)}: a form is intro+transfer, e.g. {FORMS[0]}; "
                         f"see interp.toyworld.forms2.FORMS for all {len(FORMS)}")
    held = [f for f in forms if is_heldout_form(f)]
    if held and split == "train":
        raise ValueError(f"IOI form(s) {', '.join(held)} are held out and never used for training: use "
                         f"split='heldout' to generate them, or choose from forms2.TRAIN_FORMS")
