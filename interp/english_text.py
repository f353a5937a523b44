"""Real English text that is on every machine with Python, for models and users without a corpus of their own.

`--corpus python-docs` reads two sources that ship with CPython itself (no download, no package):
- the reference manual's topics in `pydoc_data.topics` (what `help("if")` prints: ~65k words of prose about the
  language), one document per paragraph block;
- the docstrings of the standard library's modules, classes and functions (~250k words), read from the source files
  with `ast` (nothing is imported), tests, IDLE and vendored third-party code left out.

It is technical English (documentation), not web text: enough to cache a real model's activations, train dictionaries
and measure losses offline, and the same on every machine with the same Python version (the documents are read in a
fixed order; `fingerprint()` identifies the text). Prose filter: a document keeps paragraphs with at least
`MIN_WORDS` words of which most are alphabetic, so grammar rules, tables and code samples are dropped.
"""

from __future__ import annotations

import ast
import re
import sys
import sysconfig
from collections.abc import Iterator
from functools import cache
from pathlib import Path

NAME = "python-docs"
"""The --corpus name of this text."""
MIN_WORDS = 12
"""Shortest paragraph kept, in words."""
SKIP_PARTS = {"test", "tests", "idlelib", "site-packages", "dist-packages", "lib2to3", "ensurepip", "turtledemo",
              "__pycache__"}
"""Folders of the standard library whose docstrings are not documentation prose."""
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*[,.;:!?]?$")


def _prose(paragraph: str) -> str | None:
    """The paragraph as one line when it reads as prose (mostly words, long enough), else None."""
    words = paragraph.split()
    if len(words) < MIN_WORDS:
        return None
    if sum(bool(_WORD.match(w)) for w in words) < 0.8 * len(words):
        return None
    return " ".join(words)


def _paragraphs(text: str) -> Iterator[str]:
    for block in re.split(r"\n\s*\n", text):
        if block.startswith(("   ", "\t", ">>>")):  # indented: code, grammar or a table
            continue
        line = _prose(block)
        if line:
            yield line


def _topics() -> Iterator[str]:
    from pydoc_data.topics import topics

    for name in sorted(topics):
        yield from _paragraphs(topics[name])


def _stdlib_files() -> list[Path]:
    lib = Path(sysconfig.get_paths()["stdlib"])
    return sorted(p for p in lib.rglob("*.py") if not SKIP_PARTS & set(p.relative_to(lib).parts))


def _docstrings(path: Path) -> Iterator[str]:
    try:
        tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"))
    except (SyntaxError, ValueError):
        return
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            doc = ast.get_docstring(node)
            if doc:
                yield from _paragraphs(doc)


@cache
def documents() -> tuple[str, ...]:
    """Every document, in a fixed order: the manual's topics, then the standard library's docstrings by path."""
    out = list(_topics())
    for path in _stdlib_files():
        out.extend(_docstrings(path))
    return tuple(out)


def describe() -> dict[str, str]:
    """Where the text comes from, for provenance records."""
    return {"source": NAME, "python": sys.version.split()[0],
            "text": "pydoc_data.topics paragraphs + standard-library docstrings (prose paragraphs only)"}
