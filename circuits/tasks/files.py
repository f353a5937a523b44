"""Task files: your own prompt pairs for `interp patch --task FILE`.

A task file is `.jsonl` (one object a line) or `.csv` (a header row, then one row a pair) with the columns

- clean: the clean prompt (the model should continue it with `answer`);
- corrupted: the corrupted prompt, as many tokens as the clean one;
- answer: the next token of the clean prompt, as text, one token for the model (" Mary" with GPT-2's leading space;
  CSV keeps leading spaces, quote the field if your editor strips them);
- wrong: the competing next token (the metric is logit[answer] - logit[wrong] at the last position).

Other columns are ignored. Pairs of different token lengths are grouped by length (circuits.tasks.groups). Every
problem (a missing column, an empty file, a multi-token answer, a pair whose two prompts differ in length) is a
one-line error naming the file, the line and the fix, raised before anything is written. `read_task_file` also
returns the xxh3-128 fingerprint of the file's bytes, which summary.json records with the path.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import xxhash

from interp.text_check import TextValidator

from .base import Task
from .groups import PromptPair, TaskGroups, grouped_task

if TYPE_CHECKING:
    from transformer_lens import HookedTransformer

COLUMNS = PromptPair._fields
"""clean, corrupted, answer, wrong."""


class TaskFile(NamedTuple):
    """The pairs of a task file, the line each came from, and the file's fingerprint."""

    path: Path
    pairs: list[PromptPair]
    lines: list[int]
    fingerprint: str
    """xxh3-128 of the file's bytes (hex)."""


def read_task_file(path: str | Path) -> TaskFile:
    """Read and check a .jsonl or .csv task file (see the module docstring)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"task file {path} does not exist: give a .jsonl or .csv file with the columns "
                                f"{', '.join(COLUMNS)}")
    data = path.read_bytes()
    TextValidator(path, "task file").feed(data, final=True)  # a binary or Latin-1 file is refused, not garbled
    text = data.decode("utf-8-sig")
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        rows = _jsonl_rows(path, text)
    elif suffix == ".csv":
        rows = _csv_rows(path, text)
    else:
        raise ValueError(f"task file {path} must end in .jsonl or .csv (one prompt pair a line)")
    if not rows:
        raise ValueError(f"task file {path} holds no prompt pairs: write one line per pair with the columns "
                         f"{', '.join(COLUMNS)}")
    pairs = [PromptPair(*(_text(path, line, row, c) for c in COLUMNS)) for line, row in rows]
    return TaskFile(path, pairs, [line for line, _ in rows], xxhash.xxh3_128(data).hexdigest())


def _jsonl_rows(path: Path, text: str) -> list[tuple[int, dict]]:
    rows = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path} line {n} is not JSON ({e.msg}): write one object a line, e.g. "
                             f'{{"clean": ..., "corrupted": ..., "answer": ..., "wrong": ...}}') from None
        if not isinstance(row, dict):
            raise ValueError(f"{path} line {n} is a JSON {type(row).__name__}, not an object: write one object a "
                             f"line with the keys {', '.join(COLUMNS)}")
        rows.append((n, row))
    return rows


def _csv_rows(path: Path, text: str) -> list[tuple[int, dict]]:
    reader = csv.DictReader(io.StringIO(text))
    header = reader.fieldnames or []
    missing = [c for c in COLUMNS if c not in header]
    if header and missing:
        raise ValueError(f"{path} has no column(s) {', '.join(missing)}: its header row must name "
                         f"{', '.join(COLUMNS)} (it names {', '.join(header)})")
    return [(reader.line_num, row) for row in reader if any((v or "").strip() for v in row.values())]


def _text(path: Path, line: int, row: dict, column: str) -> str:
    """The row's `column` as a non-empty string, or an error naming the file, line and column."""
    if column not in row or row[column] is None:
        raise ValueError(f"{path} line {line} has no {column!r}: every pair needs {', '.join(COLUMNS)}")
    value = row[column]
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{path} line {line}: {column!r} must be non-empty text, got {value!r}")
    return value


def file_task(model: HookedTransformer, path: str | Path | TaskFile) -> tuple[Task | TaskGroups, TaskFile]:
    """The task of a task file (a path, or the file read) for `model`, grouped by token length when the lengths
    differ, and the file read."""
    tf = path if isinstance(path, TaskFile) else read_task_file(path)
    task = grouped_task(model, tf.path.stem, tf.pairs, where=lambda i: f"{tf.path} line {tf.lines[i]}")
    return task, tf
