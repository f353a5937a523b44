"""Ground-truth labels: the fixed concept taxonomy stored beside every token of the toy corpus.

Each token carries one small integer per *field* (`LABEL_FIELDS`); value 0 means "not applicable". A *concept* is a
(field, value) pair written ``field:value`` — ``category:name``, ``gender:female``, ``colour:red``,
``ioi_role:io``, ``number:3``, ``induction:repeat``. ``concept_mask(labels, "gender:female")`` answers "which
tokens carry this concept", which is what later tools need to score SAE latents, neurons, patching and steering
against the truth.

Each toy world has its own taxonomy (`Taxonomy`, `taxonomy(world)`), versioned on its own and saved with the world's
name, so data and models of one world keep loading when another is added. The module-level names (`LABEL_FIELDS`,
`concept_mask`, `schema`, ...) are the first world's ("toy1"), documented below; toy2's schema is documented in
`labels2`.

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

import json
from collections.abc import Mapping

import numpy as np

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

WORLDS = ("toy1", "toy2")
"""The toy worlds; each has its own taxonomy (`taxonomy(world)`), versioned on its own."""


class Taxonomy:
    """The label fields of one toy world and everything derived from them: concept names, masks and the schema.

    A world's labels are an int8 array [..., n_fields]; a concept is ``field:value``. The schema saved beside data
    carries the world and its version, so data of one world is never read with the fields of another.
    """

    def __init__(self, world: str, fields: dict[str, tuple[str, ...]], version: int = 1):
        if any(len(v) > 127 for v in fields.values()):
            raise ValueError(f"{world}: a label field has more than 127 values, which int8 cannot store")
        self.world, self.fields, self.version = world, fields, version
        self.field_index = {name: i for i, name in enumerate(fields)}
        self.n_fields = len(fields)

    def value_id(self, field: str, value: str) -> int:
        """Stored id of `value` in `field` (ids start at 1)."""
        values = self.fields[field]
        if value not in values:
            raise KeyError(f"unknown value {value!r} for label field {field!r}; valid: {', '.join(values)}")
        return values.index(value) + 1

    def all_concepts(self) -> list[str]:
        """Every concept name ``field:value`` in the taxonomy, in schema order."""
        return [f"{f}:{v}" for f, values in self.fields.items() for v in values if v != "special"]

    def parse_concept(self, concept: str) -> tuple[int, int]:
        """``"gender:female"`` -> (field index, value id); a clear error names the valid fields or values."""
        field, sep, value = concept.partition(":")
        if not sep or field not in self.fields:
            raise KeyError(f"unknown concept {concept!r}: write it as field:value with field one of "
                           f"{', '.join(self.fields)}")
        return self.field_index[field], self.value_id(field, value)

    def concept_mask(self, labels: np.ndarray, concept: str) -> np.ndarray:
        """Boolean mask of the tokens that carry `concept`; `labels` has the fields on its last axis."""
        if labels.shape[-1] != self.n_fields:
            raise ValueError(f"labels have {labels.shape[-1]} fields on the last axis, expected {self.n_fields} "
                             f"({self.world} labels)")
        fi, vi = self.parse_concept(concept)
        return labels[..., fi] == vi

    def schema(self) -> dict:
        """The label schema as JSON-ready data (saved beside every corpus and cache that carries labels). toy1's
        is the schema of the first version of interp, unchanged, so data saved then still loads."""
        out = {"world": self.world} if self.world != "toy1" else {}
        return {**out, "version": self.version, "fields": list(self.fields),
                "values": {f: list(v) for f, v in self.fields.items()},
                "encoding": "int8 per field; value id = index in values + 1; 0 = not applicable"}

    def check_schema(self, other: Mapping) -> None:
        """Raise if a saved schema does not match this code's (labels would be read wrongly)."""
        if dict(other) != json.loads(json.dumps(self.schema())):
            theirs = other.get("world", "toy1") if isinstance(other, Mapping) else "?"
            what = f"{theirs} labels, not {self.world}" if theirs != self.world else "another version of interp"
            raise ValueError(f"label schema on disk differs from this version of interp ({what}); regenerate the "
                             f"corpus/cache")


TOY1 = Taxonomy("toy1", LABEL_FIELDS)
FIELD_INDEX = TOY1.field_index
N_FIELDS = TOY1.n_fields


def taxonomy(world: str = "toy1") -> Taxonomy:
    """The label taxonomy of `world` (toy2's lives in labels2, imported only when asked for)."""
    if world == "toy1":
        return TOY1
    if world == "toy2":
        from .labels2 import TOY2

        return TOY2
    raise ValueError(f"unknown toy world {world!r}; valid: {', '.join(WORLDS)}")


def taxonomy_of_schema(saved: Mapping) -> Taxonomy:
    """The taxonomy a saved label schema was written with (its "world"; toy1 when it names none, as the first
    schemas did), checked against this code's, so saved labels are always read with their own world's fields."""
    tax = taxonomy(str(saved.get("world", "toy1")))
    tax.check_schema(saved)
    return tax


# toy1's taxonomy as module functions: what every existing caller uses.
value_id = TOY1.value_id
all_concepts = TOY1.all_concepts
parse_concept = TOY1.parse_concept
concept_mask = TOY1.concept_mask
schema = TOY1.schema
check_schema = TOY1.check_schema
