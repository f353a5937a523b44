"""Ground-truth label taxonomy of the second toy world ("toy2"): the fields stored beside every toy2 token.

Same encoding as toy1 (`labels`): an int8 array [..., n_fields], one small integer per field, 0 = not applicable,
value id = index in the field's values + 1; a concept is ``field:value`` (``subclass:bird``, ``material:wood``,
``agreement:verb``). The schema is saved with ``"world": "toy2"`` and its own version, so toy1 data never reads as
toy2's. `TOY2.concept_mask(labels, "subclass:bird")`, `TOY2.all_concepts()`, `TOY2.schema()` work as toy1's do.

Static fields (a property of the word, from `lexicon`):

- category:    name, person, animal, food, place, object, class (a word naming a hierarchy level: "bird",
               "vegetable", "indoor"), colour, material, size, sound, time, number, verb, adjective, adverb,
               pronoun, function, punct.
- gender:      male / female: names, gendered person nouns ("queen"), gendered pronouns.
- number:      the value 1..20 of a number word.
- plurality:   singular / plural of nouns ("dog" / "dogs"); fish and places are singular only.
- colour:      a colour word's colour, or an object's canonical colour ("ball" and "balls" carry colour:red).
- material:    a material word, or an object's material ("chair": material:wood).
- size:        small / medium / large: an object's size class, or the class a size word names ("tiny": small).
- subclass:    the second hierarchy level: mammal, bird, fish (animals), fruit, vegetable, dish (foods), indoor,
               outdoor (places); also on the class words that name them. The first level is the category.
- verb_form:   base ("walk", also "am", "are", "have", "do") / s ("walks", "is", "has", "does") / past ("walked",
               "was", "were", "did").
- verb_class:  motion, activity, transitive, transfer, speech, control, aux (be, have, do).

Dynamic fields (set by the grammar, `compose` / `families` / `ioi`):

- family:      the sentence family: story, dialogue, ioi, fact, count, agree, coref, list, repeat.
- clause:      subordinate (a clause opened by when / because / while / after / although / before / since / until /
               if, or a reported "that ..."), relative ("who was tired", "that was red", "where Tom slept"), quote
               (inside quotation marks, the marks excluded).
- ioi_role:    io (the IO's mention in the intro), s1 (the subject's), s2 (the subject repeated in the transfer
               clause), end (the final "to"), answer (the IO completing the sentence), distractor (a third name).
- ioi_intro:   on every token of an IOI intro, the intro kind (`forms.INTROS`);
- ioi_transfer: on every token of the transfer clause through its final ".", the transfer kind (`forms.TRANSFERS`).
- coref:       antecedent (a character's first mention in a story, coref passage, sum or quote) and pronoun (a
               gendered pronoun referring to a character, reflexives and possessives included; its gender is the
               antecedent's, often many tokens later).
- agreement:   subject (the head noun, name or coordinated names whose number the verb agrees with), verb (the
               agreeing verb, or the "Do" / "Does" of a question), attractor (a noun between them, often of the
               other number). In the agree family and in quoted present-tense clauses.
- count:       item (each listed occurrence of the counted noun), answer (the number word that states the count or
               a sum), step (a number word continuing a counting run).
- fact:        subject (what a world fact is about) and answer (the word completing it: colour, material, size,
               class, sound).
- induction:   first (the first copy of a span repeated later) and repeat (its second copy, predictable by
               induction only).
"""

from __future__ import annotations

from ..taxonomy import Taxonomy
from . import words as W
from .forms import INTROS, TRANSFERS
from .lexicon import CATEGORIES, SUBCLASSES, VERB_CLASSES, VERB_FORMS

FAMILIES = ("story", "dialogue", "ioi", "fact", "count", "agree", "coref", "list", "repeat")
IOI_ROLES = ("io", "s1", "s2", "end", "answer", "distractor")

LABEL_FIELDS: dict[str, tuple[str, ...]] = {
    "category": CATEGORIES,
    "gender": ("male", "female"),
    "number": tuple(str(i) for i in range(1, len(W.NUMBERS) + 1)),
    "plurality": ("singular", "plural"),
    "colour": W.COLOURS,
    "material": W.MATERIALS,
    "size": W.SIZES,
    "subclass": SUBCLASSES,
    "verb_form": VERB_FORMS,
    "verb_class": VERB_CLASSES,
    "family": FAMILIES,
    "clause": ("subordinate", "relative", "quote"),
    "ioi_role": IOI_ROLES,
    "ioi_intro": tuple(INTROS),
    "ioi_transfer": tuple(TRANSFERS),
    "coref": ("antecedent", "pronoun"),
    "agreement": ("subject", "verb", "attractor"),
    "count": ("item", "answer", "step"),
    "fact": ("answer", "subject"),
    "induction": ("repeat", "first"),
}
"""field -> its value names, in schema order (static fields first)."""
STATIC_FIELDS2 = ("category", "gender", "number", "plurality", "colour", "material", "size", "subclass", "verb_form",
                  "verb_class")

TOY2 = Taxonomy("toy2", LABEL_FIELDS, version=1)
