"""A toy world's corpus as the core reads it: the token source of `--corpus toyworld` on a model of the world, its
documents as labelled English text for a model of no world, and held-out documents with labels. Each world's `World`
points here (`corpus_source`, `corpus_texts`, `docs`), so the core reaches the generator only through the registry.

Text for a model of no world (`render`): the document's words after BOS, as ordinary English spacing has them, so a
real tokenizer sees the text it was trained on: one space between words, none before . , : ; ! ? and a closing
quote, none after an opening one ('He said, "Yes."'). Each word keeps its character span and its labels
(`interp.word_labels.LabelledText`), which interp.corpus carries onto the model's tokens.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import torch
from jaxtyping import Int8

from ...corpus import TOYWORLD, TokenRows
from ...word_labels import LabelledText
from .. import get_world
from .corpus import CHUNK_DOCS, CorpusConfig, ToyCorpus, generate_docs


class ToyWorldSource:
    """Toy-world documents as generated (token ids of the world's vocabulary) with their labels (`cfg.world`)."""

    def __init__(self, cfg: CorpusConfig):
        self.taxonomy = get_world(cfg.world).taxonomy
        self.cfg, self.n_ctx, self.n_label_fields = cfg, cfg.n_ctx, self.taxonomy.n_fields
        self.description = {"kind": "toyworld", "source": TOYWORLD, **cfg.describe()}
        self._chunk: tuple[int, np.ndarray, np.ndarray] | None = None

    def n_rows(self, wanted: int) -> int:
        return wanted

    def _get_chunk(self, c: int) -> tuple[np.ndarray, np.ndarray]:
        if self._chunk is None or self._chunk[0] != c:
            docs = generate_docs(self.cfg, CHUNK_DOCS, c * CHUNK_DOCS)
            self._chunk = (c, docs.tokens, docs.labels)
        return self._chunk[1], self._chunk[2]

    def rows(self, first: int, n: int) -> TokenRows:
        ids, labs = [], []
        for doc in range(first, first + n):
            c_ids, c_labs = self._get_chunk(doc // CHUNK_DOCS)
            ids.append(c_ids[doc % CHUNK_DOCS])
            labs.append(c_labs[doc % CHUNK_DOCS])
        return TokenRows(torch.from_numpy(np.stack(ids)), torch.from_numpy(np.stack(labs)))


def corpus_source(world: str, seed: int, n_ctx: int, split: str) -> ToyWorldSource:
    """The token source (ids and labels) of `world`'s documents."""
    return ToyWorldSource(CorpusConfig(seed=seed, n_ctx=n_ctx, split=split, world=world))


def corpus_texts(world: str, seed: int, n_ctx: int, split: str
                 ) -> tuple[Callable[[], Iterator[LabelledText]], dict]:
    """`world`'s documents as labelled English text (`render`) and their description, for a model of another
    vocabulary."""
    cfg = CorpusConfig(seed=seed, n_ctx=n_ctx, split=split, world=world)
    return labelled_texts(cfg), {"kind": "toyworld-text", "source": TOYWORLD, "text": "english", **cfg.describe()}


NO_SPACE_BEFORE = frozenset(".,:;!?")
QUOTE = '"'


def render(words: list[str], labels: Int8[np.ndarray, "word field"]) -> LabelledText:
    """One document's words (BOS left out) as English text (module doc), with each word's span and labels."""
    parts, spans, pos = [], np.zeros((len(words), 2), dtype=np.int64), 0
    glue, quoted = True, False  # glue: the next word follows without a space (text start, after an opening quote)
    for i, w in enumerate(words):
        closing = w == QUOTE and quoted
        sep = "" if glue or closing or w in NO_SPACE_BEFORE else " "
        glue = w == QUOTE and not quoted
        quoted = quoted != (w == QUOTE)
        parts.append(sep + w)
        pos += len(sep)
        spans[i] = pos, pos + len(w)
        pos += len(w)
    return LabelledText("".join(parts), spans, labels)


def labelled_texts(cfg: CorpusConfig) -> Callable[[], Iterator[LabelledText]]:
    """The world's documents as labelled English text, in document order, forever."""
    words = get_world(cfg.world).words

    def gen() -> Iterator[LabelledText]:
        chunk = 0
        while True:
            docs = generate_docs(cfg, CHUNK_DOCS, chunk * CHUNK_DOCS)
            for row, labels in zip(docs.tokens, docs.labels):
                yield render([words[i] for i in row[1:]], labels[1:])
            chunk += 1
    return gen


def docs(world: str, n_docs: int, seed: int, split: str, n_ctx: int) -> ToyCorpus:
    """The first `n_docs` documents of `world`'s `split` with their labels."""
    return generate_docs(CorpusConfig(seed=seed, split=split, n_ctx=n_ctx, world=world), n_docs)


def toy_texts(cfg: CorpusConfig) -> Callable[[], Iterator[str]]:
    """Toy-world documents as English text alone (`render`), in document order, forever."""
    labelled = labelled_texts(cfg)
    return lambda: (doc.text for doc in labelled())
