"""Garbage that passes as text, caught where text is read: a file that is not UTF-8 text (NUL bytes, bytes that do
not decode) is refused with the encoding expected, and the share of tokens a model's tokenizer does not know (its
unknown token) is counted wherever text meets a model: corpora, prompts, task files and task words, concept files
and the explorer's own text. Above `UNKNOWN_SHARE_WARN` a warning names the share, the text and the fix: a binary
or Latin-1 file, or English on a toy model, would otherwise give numbers measured on `<unk>`.

Kept free of torch: the explorer and the corpus readers use it before a model is loaded.
"""

from __future__ import annotations

import codecs
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

UNKNOWN_SHARE_WARN = 0.02
"""Above this share of unknown tokens (2%) a text is named in a warning."""
EXPECTED_ENCODING = "UTF-8"
_BLOCK = 1 << 24


class NotText(ValueError):
    """A file that is not UTF-8 text (a ValueError: the CLI prints it as one line)."""


def unknown_token_id(tokenizer) -> int | None:
    """The id a tokenizer gives text it does not know, or None when it has none that text can produce: GPT-2's
    byte-level BPE names <|endoftext|> its unknown token, but that is also its BOS / EOS and no text maps to it."""
    unk = getattr(tokenizer, "unk_token_id", None)
    specials = {getattr(tokenizer, "bos_token_id", None), getattr(tokenizer, "eos_token_id", None)}
    return None if unk is None or unk in specials else unk


class UnknownCount(NamedTuple):
    """How many of a text's tokens are the tokenizer's unknown token."""

    unknown: int
    tokens: int

    @property
    def share(self) -> float:
        return self.unknown / self.tokens if self.tokens else 0.0

    def __add__(self, other: UnknownCount) -> UnknownCount:  # type: ignore[override]
        return UnknownCount(self.unknown + other.unknown, self.tokens + other.tokens)


def count_unknown(tokenizer, rows: Iterable[Iterable[int]]) -> UnknownCount:
    """Unknown tokens among `rows` of token ids (none for a tokenizer without an unknown token)."""
    unk = unknown_token_id(tokenizer)
    unknown = tokens = 0
    for ids in rows:
        ids = [int(i) for i in ids]
        tokens += len(ids)
        unknown += 0 if unk is None else sum(i == unk for i in ids)
    return UnknownCount(unknown, tokens)


def unknown_message(count: UnknownCount, what: str, tokenizer, fix: str, words: Iterable[str] = (),
                    unit: str = "tokens") -> str:
    """One line: the share of `what`'s tokens (or other `unit`) this tokenizer does not know, the words (if known),
    and the fix."""
    unk = getattr(tokenizer, "unk_token", None)
    named = sorted(set(words))[:10]
    return (f"{what}: {count.unknown:,} of {count.tokens:,} {unit} ({count.share:.1%}) are words this model's "
            f"tokenizer does not know" + (f", read as {unk}" if unk else "")
            + (f": {', '.join(named)}" if named else "") + f"; {fix}")


def warn_unknown(count: UnknownCount, what: str, tokenizer, fix: str, words: Iterable[str] = (),
                 threshold: float = UNKNOWN_SHARE_WARN, unit: str = "tokens") -> bool:
    """Warn (one line) when more than `threshold` of the tokens are unknown; whether it warned."""
    if count.unknown == 0 or count.share <= threshold:
        return False
    warnings.warn(unknown_message(count, what, tokenizer, fix, words, unit), stacklevel=3)
    return True


def unknown_words(tokenizer, text: str) -> list[str]:
    """The whitespace-separated words of `text` the tokenizer's vocabulary does not hold (for naming them)."""
    known = set(tokenizer.get_vocab()) if hasattr(tokenizer, "get_vocab") else set()
    return sorted({w for w in text.replace(",", " , ").replace(".", " . ").split() if w not in known})


class TextValidator:
    """Fed a file's bytes block by block, raises `NotText` at the first NUL byte or byte that is not UTF-8."""

    def __init__(self, path: Path, what: str = "file"):
        self.path, self.what, self.offset = path, what, 0
        self._decoder = codecs.getincrementaldecoder("utf-8")()

    def feed(self, block: bytes, final: bool = False) -> None:
        nul = block.find(b"\0")
        if nul >= 0:
            raise NotText(f"{self.what} {self.path} is not a text file (a NUL byte at offset {self.offset + nul:,}: "
                          f"binary data): give a {EXPECTED_ENCODING} text file")
        try:
            self._decoder.decode(block, final)
        except UnicodeDecodeError as e:
            byte = f"byte 0x{e.object[e.start]:02x}" if e.start < len(e.object) else "an unfinished character"
            raise NotText(f"{self.what} {self.path} is not {EXPECTED_ENCODING} text ({byte} near offset "
                          f"{self.offset + max(e.start, 0):,} does not decode): convert it to "
                          f"{EXPECTED_ENCODING}, e.g. iconv -f latin1 -t utf-8 {self.path.name} > "
                          f"{self.path.stem}.utf8{self.path.suffix}") from None
        self.offset += len(block)

    def end(self) -> None:
        self.feed(b"", final=True)


def check_text_file(path: str | Path, what: str = "file") -> None:
    """Raise `NotText` unless every byte of `path` is UTF-8 text without NUL bytes."""
    path = Path(path)
    check = TextValidator(path, what)
    with open(path, "rb") as f:
        while block := f.read(_BLOCK):
            check.feed(block)
    check.end()


def read_text_file(path: str | Path, what: str = "file") -> str:
    """The text of `path`, refused (`NotText`, one line) unless it is UTF-8 text; a leading BOM is dropped."""
    path = Path(path)
    data = path.read_bytes()
    check = TextValidator(path, what)
    check.feed(data, final=True)
    return data.decode("utf-8-sig")
