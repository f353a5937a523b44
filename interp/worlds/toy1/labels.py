"""toy1's ground-truth labels: the fixed concept taxonomy stored beside every token of the toy1 corpus.

Each token carries one small integer per *field* (`LABEL_FIELDS`); value 0 means "not applicable". A *concept* is a
(field, value) pair written ``field:value`` — ``category:name``, ``gender:female``, ``colour:red``,
``ioi_role:io``, ``number:3``, ``induction:repeat``. ``concept_mask(labels, "gender:female")`` answers "which
tokens carry this concept", which is what later tools need to score SAE latents, neurons, patching and steering
against the truth.

Each world has its own taxonomy (`interp.worlds.taxonomy.Taxonomy`), versioned on its own and saved with the
world's name, so data and models of one world keep loading when another is added. The module-level names
(`LABEL_FIELDS`, `concept_mask`, `schema`, ...) are toy1's, documented below; toy2's schema is documented in
`interp.worlds.toy2.labels`.

toy1 schema (``labels`` array: int8, shape [..., len(LABEL_FIELDS)], last axis in `LABEL_FIELDS` order):

- category:  the word's lexical category (`vocab.CATEGORIES`): name, place, object, animal, colour, ...
- gender:    male / female for gendered names and pronouns.
- number:    the value 1..12 of a number word.
- colour:    a colour word's colour, or an object's canonical colour (so "ball" carries colour:red).
- family:    the sentence family the token belongs to (narrative, ioi, fact, count, list, repeat).
- ioi_role:  in IOI sentences: io (indirect object, first mention), s1, s2 (subject mentions), end (the token
             after which the IO name must be predicted), answer (the IO name that completes the sentence).
- induction: repeat marks tokens of the second copy of a repeated span (predictable by induction only).
- fact:      answer marks the token that completes a world fact (a colour, a sound, an activity).
"""

from __future__ import annotations

from ..taxonomy import Taxonomy
from .vocab import CATEGORIES, COLOURS

FAMILIES = ("narrative", "ioi", "fact", "count", "list", "repeat")
IOI_ROLES = ("io", "s1", "s2", "end", "answer")

LABEL_FIELDS: dict[str, tuple[str, ...]] = {
    "category": CATEGORIES,
    "gender": ("male", "female"),
    "number": tuple(str(i) for i in range(1, 13)),
    "colour": COLOURS,
    "family": FAMILIES,
    "ioi_role": IOI_ROLES,
    "induction": ("repeat",),
    "fact": ("answer",),
}
"""field -> its value names; a value's stored id is its index + 1 (0 = not applicable)."""

TOY1 = Taxonomy("toy1", LABEL_FIELDS)
FIELD_INDEX = TOY1.field_index
N_FIELDS = TOY1.n_fields


# toy1's taxonomy as module functions: what every existing caller uses.
value_id = TOY1.value_id
all_concepts = TOY1.all_concepts
parse_concept = TOY1.parse_concept
concept_mask = TOY1.concept_mask
schema = TOY1.schema
check_schema = TOY1.check_schema
