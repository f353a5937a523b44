"""IOI surface forms of toy2 and its held-out forms and names: which IOI sentences training may ever contain.

A toy2 IOI sentence is composed of an *intro* that mentions the two names once each ("{A} met {B} at the {P} ."),
an optional *middle* sentence (distractor names and nouns: "{N} was there too ."), and a *transfer* clause whose
subject repeats one of them and which ends at "to" ("Later , {S} gave the {O} to"); the answer is the other name,
the indirect object (IO). Every slot is filled by the grammar (`ioi`): names, places, objects with optional
adjectives, verbs of motion, activity and transfer, adverbs, so one form has many surface strings; "<relative" ...
"relative>" (and subordinate, quote) delimit the words labelled with that clause type. A *form* is an
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
    "met": "{A} {Vmeet} {B} {Prep} the {P} .",
    "when": "<subordinate When {A} and {B} {Vm} to the {P} subordinate> ,",
    "while_at": "<subordinate While at the {P} subordinate> , {A} and {B} {Vt} {aO} .",
    "at_place": "At the {P} , {A} and {B} {Va} .",
    "with": "{A} {Va} with {B} at the {P} .",
    "who_was": "{A} , <relative who was {Adj} relative> , {Vm} to the {P} with {B} .",
    "opener": "{Adv} {A} and {B} {Vm} to the {P} .",
    "opener_place": "{Adv} {A} and {B} {Vp} the {P} .",
    "called": "{A} called {B} , and they {Vm} to the {P} .",
    "place_was": "The {P} was {AdjP} <subordinate when {A} and {B} arrived subordinate> .",
    "friends": "{A} and {B} , <relative who were friends relative> , {Va} in the {P} .",
    "said_to": '{A} said to {B} , " <quote I like the {P} quote> . "',
    "after_met": "<subordinate After {A} met {B} at the {P} subordinate> ,",
    "both": "Both {A} and {B} {Vt} {aO} at the {P} .",
    "in_time": "In the {T} , {A} {Va} with {B} .",
    "visited_who": "{A} visited {B} , <relative who {Va} at the {P} relative> .",
}
"""Intro kinds, each a syntactic frame of its own (words vary within a frame: {Vmeet} is met / saw / found /
visited / greeted, {Prep} at / near / in): {A} and {B} are the first and second names mentioned (ABBA: A is the IO;
BABA: A is the subject)."""
TRANSFERS: dict[str, str] = {
    "plain": "{S} {Vg} {aX} to",
    "adverb": "{S} {adv} {Vg} the {O} to",
    "later": "Later , {S} {Vg} the {O} to",
    "then": "Then {S} {Vg} {aO} to",
    "control": "{S} {Ctl} to {Vg0} the {X} to",
    "took_and": "{S} took {aO} and {Vg} it to",
    "who_was": "{S} , <relative who was {Adj} relative> , {Vg} {aO} to",
    "after_that": "After that , {S} {Vg} the {O} back to",
    "from_place": "{S} {Vg} {aO} from the {P} to",
    "because": "<subordinate Because it was {AdjW} subordinate> , {S} {Vg} {aO} to",
    "and_then": "{S} {Va} and {Vg} {aO} to",
}
"""Transfer kinds, each a syntactic frame ({X} an object or a food, {Ctl} decided / wanted / tried / planned / hoped
/ promised): {S} is the subject's second mention (S2); the IO completes the sentence after the final "to"."""
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


def _starts_with_subject(transfer: str) -> bool:
    return TRANSFERS[transfer].startswith("{S}")


def words_of_text(text: str) -> list[str]:
    """The words and {slots} of a form text, without its clause markers."""
    return [w for w in text.split() if not (w.startswith("<") or w.endswith(">")) or len(w) == 1]


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
                         f"see interp.worlds.toy2.forms.FORMS for all {len(FORMS)}")
    held = [f for f in forms if is_heldout_form(f)]
    if held and split == "train":
        raise ValueError(f"IOI form(s) {', '.join(held)} are held out and never used for training: use "
                         f"split='heldout' to generate them, or choose from interp.worlds.toy2.forms.TRAIN_FORMS")
