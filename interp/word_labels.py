"""Per-word labels carried onto a model's own tokens: how a labelled toy-world document, rendered as English text,
keeps its ground truth when a model of no toy world (a real BPE tokenizer, e.g. SmolLM2's) reads it.

A labelled document (`LabelledText`) is its text, each word's character span in that text and each word's labels
(the world's taxonomy: int8 per field, 0 = not applicable). A fast tokenizer's offset mapping gives each token's
character span; `token_labels` then gives every token the labels of the words it covers, by one of two rules:

- 'last' (the default): a word's labels sit on the token holding its last character, the position at which the
  whole word has been read (for " Bernice" -> " Bern" + "ice", on "ice"); the word's earlier tokens carry no label,
  so for a concept they count as negatives, as any other token does;
- 'all': every token overlapping the word carries its labels.

A token that covers the end of two words (a BPE merge of ".\"") carries both words' labels, field by field, the
later word's value where both set a field. Tokens of no word (a space a tokenizer keeps apart) carry no label; the
corpus gives BOS and the document separator the world's BOS labels (interp.corpus.PackedTextSource).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from jaxtyping import Int, Int8

WORD_LABEL_RULES = ("last", "all")
"""Which tokens of a multi-token word carry its labels (see the module doc); the first is the default."""


class LabelledText(NamedTuple):
    """One document with labels per word."""

    text: str
    spans: Int[np.ndarray, "word 2"]
    """[start, end) character offsets of each word in `text`."""
    labels: Int8[np.ndarray, "word field"]
    """Each word's labels (its world's taxonomy)."""


def check_rule(rule: str) -> str:
    """`rule` if it is one of WORD_LABEL_RULES; otherwise a one-line error listing them."""
    if rule not in WORD_LABEL_RULES:
        raise ValueError(f"unknown word-label rule {rule!r}; valid: {', '.join(WORD_LABEL_RULES)}")
    return rule


def token_labels(offsets: Int[np.ndarray, "tok 2"], doc: LabelledText, rule: str = "last"
                 ) -> Int8[np.ndarray, "tok field"]:
    """Labels [token, field] of a document's tokens, given their [start, end) character `offsets` in `doc.text`
    (a fast tokenizer's offset mapping, in token order), by `rule`; tokens of no word get none (0)."""
    check_rule(rule)
    n_fields = doc.labels.shape[1]
    offsets = np.asarray(offsets, dtype=np.int64).reshape(-1, 2)
    out = np.zeros((len(offsets), n_fields), dtype=np.int8)
    if not len(offsets) or not len(doc.spans):
        return out
    ends = np.maximum.accumulate(offsets[:, 1])  # nondecreasing, so a character's token is found by bisection
    spans = np.asarray(doc.spans, dtype=np.int64)
    last = np.searchsorted(ends, spans[:, 1] - 1, side="right")  # the first token ending after the last character
    first = np.searchsorted(ends, spans[:, 0], side="right") if rule == "all" else last
    found = last < len(offsets)
    found[found] &= offsets[last[found], 0] <= spans[found, 1] - 1  # that token really holds the character
    first, last, word = first[found], last[found], np.flatnonzero(found)
    counts = last - first + 1
    tok = np.repeat(first - np.cumsum(counts) + counts, counts) + np.arange(int(counts.sum()))
    word = np.repeat(word, counts)
    for f in range(n_fields):
        value = doc.labels[word, f]
        keep = np.flatnonzero(value != 0)[::-1]  # latest word first, so np.unique's first index is the later word
        t, at = np.unique(tok[keep], return_index=True)
        out[t, f] = value[keep[at]]
    return out
