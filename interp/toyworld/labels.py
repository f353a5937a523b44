"""Ground-truth labels: the fixed concept taxonomy stored beside every token of the toy corpus.

Each token carries one small integer per *field* (`LABEL_FIELDS`); value 0 means "not applicable". A *concept* is a
(field, value) pair written ``field:value`` — ``category:name``, ``gender:female``, ``colour:red``,
``ioi_role:io``, ``number:3``, ``induction:repeat``. ``concept_mask(labels, "gender:female")`` answers "which
tokens carry this concept", which is what later tools need to score SAE latents, neurons, patching and steering
against the truth.

Schema (``labels`` array: int8, shape [..., len(LABEL_FIELDS)], last axis in `LABEL_FIELDS` order):

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

FIELD_INDEX = {name: i for i, name in enumerate(LABEL_FIELDS)}
N_FIELDS = len(LABEL_FIELDS)


def value_id(field: str, value: str) -> int:
    """Stored id of `value` in `field` (ids start at 1)."""
    values = LABEL_FIELDS[field]
    if value not in values:
        raise KeyError(f"unknown value {value!r} for label field {field!r}; valid: {', '.join(values)}")
    return values.index(value) + 1


def all_concepts() -> list[str]:
    """Every concept name ``field:value`` in the taxonomy, in schema order."""
    return [f"{f}:{v}" for f, values in LABEL_FIELDS.items() for v in values if v != "special"]


def parse_concept(concept: str) -> tuple[int, int]:
    """``"gender:female"`` -> (field index, value id); a clear error names the valid fields or values."""
    field, sep, value = concept.partition(":")
    if not sep or field not in LABEL_FIELDS:
        raise KeyError(f"unknown concept {concept!r}: write it as field:value with field one of "
                       f"{', '.join(LABEL_FIELDS)}")
    return FIELD_INDEX[field], value_id(field, value)


def concept_mask(labels: np.ndarray, concept: str) -> np.ndarray:
    """Boolean mask of the tokens that carry `concept`; `labels` has the fields on its last axis."""
    if labels.shape[-1] != N_FIELDS:
        raise ValueError(f"labels have {labels.shape[-1]} fields on the last axis, expected {N_FIELDS}")
    fi, vi = parse_concept(concept)
    return labels[..., fi] == vi


def schema() -> dict:
    """The label schema as JSON-ready data (saved beside every corpus and cache that carries labels)."""
    return {
        "version": 1,
        "fields": list(LABEL_FIELDS),
        "values": {f: list(v) for f, v in LABEL_FIELDS.items()},
        "encoding": "int8 per field; value id = index in values + 1; 0 = not applicable",
    }


def check_schema(other: Mapping) -> None:
    """Raise if a saved schema does not match this code's (labels would be read wrongly)."""
    if dict(other) != json.loads(json.dumps(schema())):
        raise ValueError("label schema on disk differs from this version of interp; regenerate the corpus/cache")
