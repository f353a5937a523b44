"""A world's label taxonomy: the fields stored beside every token, the concepts they define, and the saved schema.

A world's labels are an int8 array [..., n_fields], one small integer per field, 0 = not applicable, value id =
index in the field's values + 1; a concept is ``field:value`` (``gender:female``). Each world has its own taxonomy,
versioned on its own and saved with the world's name, so data and models of one world keep loading when another is
added. Generic: the worlds' packages define the fields; this module knows none.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import numpy as np
from jaxtyping import Bool, Int

LEGACY_WORLD = "toy1"
"""The world of a saved artifact (corpus config, label schema, model card) that names none: everything saved before
a second world existed is toy1's. Only for reading such artifacts, never a default for new work."""


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

    def concept_mask(self, labels: Int[np.ndarray, "*shape field"], concept: str) -> Bool[np.ndarray, "*shape"]:
        """Boolean mask of the tokens that carry `concept`; `labels` has the fields on its last axis."""
        if labels.shape[-1] != self.n_fields:
            raise ValueError(f"labels have {labels.shape[-1]} fields on the last axis, expected {self.n_fields} "
                             f"({self.world} labels)")
        fi, vi = self.parse_concept(concept)
        return labels[..., fi] == vi

    def schema(self) -> dict:
        """The label schema as JSON-ready data (saved beside every corpus and cache that carries labels). The legacy
        world's (toy1) is the schema of the first version of interp, unchanged, so data saved then still loads."""
        out = {"world": self.world} if self.world != LEGACY_WORLD else {}
        return {**out, "version": self.version, "fields": list(self.fields),
                "values": {f: list(v) for f, v in self.fields.items()},
                "encoding": "int8 per field; value id = index in values + 1; 0 = not applicable"}

    def check_schema(self, other: Mapping) -> None:
        """Raise if a saved schema does not match this code's (labels would be read wrongly)."""
        if dict(other) != json.loads(json.dumps(self.schema())):
            theirs = other.get("world", LEGACY_WORLD) if isinstance(other, Mapping) else "?"
            what = f"{theirs} labels, not {self.world}" if theirs != self.world else "another version of interp"
            raise ValueError(f"label schema on disk differs from this version of interp ({what}); regenerate the "
                             f"corpus/cache")
