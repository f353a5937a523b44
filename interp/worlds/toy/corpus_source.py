"""A toy world's corpus as the core reads it: the token source of `--corpus toyworld` on a model of the world, its
documents as text for a model of no world, and held-out documents with labels. Each world's `World` points here
(`corpus_source`, `corpus_texts`, `docs`), so the core reaches the generator only through the registry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import torch

from ...corpus import TOYWORLD, TokenRows
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


def corpus_texts(world: str, seed: int, n_ctx: int, split: str) -> tuple[Callable[[], Iterator[str]], dict]:
    """`world`'s documents as strings and their description, for a model of another vocabulary."""
    cfg = CorpusConfig(seed=seed, n_ctx=n_ctx, split=split, world=world)
    return toy_texts(cfg), {"kind": "toyworld-text", "source": TOYWORLD, **cfg.describe()}


def docs(world: str, n_docs: int, seed: int, split: str, n_ctx: int) -> ToyCorpus:
    """The first `n_docs` documents of `world`'s `split` with their labels."""
    return generate_docs(CorpusConfig(seed=seed, split=split, n_ctx=n_ctx, world=world), n_docs)


def toy_texts(cfg: CorpusConfig) -> Callable[[], Iterator[str]]:
    """Toy-world documents as strings (words joined by spaces, BOS dropped), in document order, forever."""
    words = get_world(cfg.world).words

    def gen() -> Iterator[str]:
        chunk = 0
        while True:
            for row in generate_docs(cfg, CHUNK_DOCS, chunk * CHUNK_DOCS).tokens:
                yield " ".join(words[i] for i in row[1:])
            chunk += 1
    return gen
