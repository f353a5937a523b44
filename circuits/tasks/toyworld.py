"""More toy-world tasks, showing how a user task is built: gender-pronoun agreement and object-colour facts.

Each task is written in the sentences of the model's own toy world (`interp.worlds.world_name_of_model`), so the
next token it scores is one the model was trained to predict:

- gender: clean name of one gender, corrupted the same sentence with a name of the other gender; answer = the
  pronoun agreeing with the clean name, wrong = the other one. toy1: "John went to the park . He" (its narrative
  family). toy2: "John walked to the park . He", the first sentence of a one-character story and the pronoun
  starting the next (interp.worlds.toy2.stories), with toy2's names and any of its motion verbs.
- colour: "The ball is" -> red; corrupted with another object of a different canonical colour; answer = the clean
  object's colour, wrong = the corrupted object's colour. toy1: vocab.OBJECT_COLOURS; toy2: the colour facts of its
  fact family ("The ball is red .", interp.worlds.toy2.families) over lexicon.OBJECT_FACTS.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

from interp.worlds import LEGACY_WORLD, TaskWords, get_world, world_name_of_model

from .base import Task

if TYPE_CHECKING:
    from transformer_lens import HookedTransformer


def world_words(model: HookedTransformer) -> TaskWords:
    """The task words of `model`'s world (toy1's for a model of none, as these tasks always drew)."""
    return get_world(world_name_of_model(model) or LEGACY_WORLD).task_words()


def gender_task(model: HookedTransformer, n: int = 32, seed: int = 0) -> Task:
    """Pronoun agreement: predict He / She after "NAME went to the PLACE ." (toy2: any motion verb)."""
    rng = random.Random(seed)
    words = world_words(model)
    clean, corrupt, ans, wrong = [], [], [], []
    for i in range(n):
        male = i % 2 == 0
        name, other = (rng.choice(words.male), rng.choice(words.female))[:: 1 if male else -1]
        verb = rng.choice(words.verbs) if len(words.verbs) > 1 else words.verbs[0]  # toy1: its seeds' prompts
        place = rng.choice(words.places)
        clean.append(f"{name} {verb} to the {place} .")
        corrupt.append(f"{other} {verb} to the {place} .")
        ans.append("He" if male else "She")
        wrong.append("She" if male else "He")
    verb = words.verbs[0] if len(words.verbs) == 1 else "VERB"
    return Task.from_text(model, "gender", clean, corrupt, ans, wrong, ["BOS", "NAME", verb, "to", "the", "PLACE",
                                                                        "."])


def colour_task(model: HookedTransformer, n: int = 32, seed: int = 0) -> Task:
    """Object colour fact: predict the canonical colour after "The OBJECT is"."""
    rng = random.Random(seed)
    colours = world_words(model).colours
    objects = list(colours)
    clean, corrupt, ans, wrong = [], [], [], []
    while len(clean) < n:
        a, b = rng.sample(objects, 2)
        if colours[a] == colours[b]:
            continue
        clean.append(f"The {a} is")
        corrupt.append(f"The {b} is")
        ans.append(colours[a])
        wrong.append(colours[b])
    return Task.from_text(model, "colour", clean, corrupt, ans, wrong, ["BOS", "The", "OBJECT", "is"])
