"""The one on-disk form of unit pages (feature pages, neuron pages): NAME.safetensors (the arrays, unit axes first)
beside NAME.json (kind, schema_version, the arrays' names, and the pages' meta: provenance and settings), written
atomically with the JSON last (its presence means the pair is complete) and read back with safetensors only.

Each kind of pages names its files and kind (interp.pages.features: features.*, interp.neurons.pages: examples.*)
and validates its arrays before `save_pages`; the shared arrays (interp.pages.builder.EXAMPLE_ARRAYS and the logit
tables) have the same names and per-unit shapes in both.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from jaxtyping import Shaped

from interp.atomic import atomic_write
from interp.json_files import read_json
from interp.safetensors_io import read_arrays, write_arrays


class PagesFormat(NamedTuple):
    """One kind of pages: its files (arrays, JSON), its kind string and schema version."""

    files: tuple[str, str]
    kind: str
    schema_version: int
    what: str
    """How errors name these pages ("feature pages", "neuron pages")."""


def save_pages(fmt: PagesFormat, folder: str | Path, meta: dict[str, Any],
               arrays: dict[str, Shaped[np.ndarray, "*shape"]]) -> Path:
    """Write the arrays, then the JSON (kind, schema, array names, meta), each atomically."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {k: np.ascontiguousarray(v) for k, v in arrays.items()}
    atomic_write(folder / fmt.files[0], lambda p: write_arrays(p, arrays))
    head = {**meta, "schema_version": fmt.schema_version, "kind": fmt.kind, "arrays": sorted(arrays)}
    atomic_write(folder / fmt.files[1], lambda p: p.write_text(json.dumps(head)))
    return folder


def load_pages(fmt: PagesFormat, folder: str | Path) -> tuple[dict[str, Any], dict[str, Shaped[np.ndarray, "*shape"]]]:
    """(meta, arrays) of pages in `folder`; FileNotFoundError when they are not there, ValueError when they are
    unreadable, of another kind or schema, or lack an array their JSON lists."""
    folder = Path(folder)
    if not (folder / fmt.files[1]).is_file() or not (folder / fmt.files[0]).is_file():
        raise FileNotFoundError(f"{folder} holds no {fmt.what} ({' + '.join(fmt.files)})")
    try:
        meta = read_json(folder / fmt.files[1])
        arrays = read_arrays(folder / fmt.files[0], fmt.what)
    except Exception as e:  # truncated or garbled files
        raise ValueError(f"{folder}: unreadable {fmt.what} ({type(e).__name__}: {e})") from e
    if meta.get("kind") != fmt.kind or meta.get("schema_version") != fmt.schema_version:
        raise ValueError(f"{folder / fmt.files[1]}: not {fmt.kind} schema {fmt.schema_version}; rebuild them")
    listed = meta.pop("arrays", [])
    if set(listed) - set(arrays):
        raise ValueError(f"{folder / fmt.files[0]} lacks arrays listed in {fmt.files[1]}; rebuild them")
    return {k: v for k, v in meta.items() if k not in ("schema_version", "kind")}, arrays
