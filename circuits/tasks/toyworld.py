"""More toy-world tasks, showing how a user task is built: gender-pronoun agreement and object-colour facts.

- gender: "John went to the park . He" — clean name of one gender, corrupted the same sentence with a name of the
  other gender; answer = the pronoun agreeing with the clean name, wrong = the other one.
- colour: "The ball is" -> red; corrupted with another object of a different canonical colour; answer = the clean
  object's colour, wrong = the corrupted object's colour.
"""

from __future__ import annotations

import random

from interp.toyworld import vocab as V

from .base import Task


def gender_task(model, n: int = 32, seed: int = 0) -> Task:
    """Pronoun agreement: predict He / She after "NAME went to the PLACE ."."""
    rng = random.Random(seed)
    clean, corrupt, ans, wrong = [], [], [], []
    for i in range(n):
        male = i % 2 == 0
        name, other = (rng.choice(V.MALE_NAMES), rng.choice(V.FEMALE_NAMES))[:: 1 if male else -1]
        place = rng.choice(V.PLACES)
        clean.append(f"{name} went to the {place} .")
        corrupt.append(f"{other} went to the {place} .")
        ans.append("He" if male else "She")
        wrong.append("She" if male else "He")
    return Task.from_text(model, "gender", clean, corrupt, ans, wrong, ["BOS", "NAME", "went", "to", "the",
                                                                        "PLACE", "."])


def colour_task(model, n: int = 32, seed: int = 0) -> Task:
    """Object colour fact: predict the canonical colour after "The OBJECT is"."""
    rng = random.Random(seed)
    objects = list(V.OBJECT_COLOURS)
    clean, corrupt, ans, wrong = [], [], [], []
    while len(clean) < n:
        a, b = rng.sample(objects, 2)
        if V.OBJECT_COLOURS[a] == V.OBJECT_COLOURS[b]:
            continue
        clean.append(f"The {a} is")
        corrupt.append(f"The {b} is")
        ans.append(V.OBJECT_COLOURS[a])
        wrong.append(V.OBJECT_COLOURS[b])
    return Task.from_text(model, "colour", clean, corrupt, ans, wrong, ["BOS", "The", "OBJECT", "is"])
