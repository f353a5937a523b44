"""The toy-world corpus: seeded documents of token ids with ground-truth labels on every token.

A document is one row of exactly `n_ctx` tokens: BOS, then sentences drawn from the families in proportion to the
configured weights, packed and cut at `n_ctx`. Documents come in chunks of `CHUNK_DOCS`, each chunk seeded from
(seed, split, chunk index), so any range of documents can be regenerated on its own — the activation cache relies
on this to resume without replaying the corpus — and the held-out split never shares a random stream with training.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from functools import lru_cache
from itertools import accumulate
from pathlib import Path
from typing import Literal, NamedTuple

import numpy as np
from jaxtyping import Int8, Int32

from . import labels as L
from .grammar import SentenceSampler
from .vocab import BOS, CATEGORIES, build_lexicon, word_ids

CHUNK_DOCS = 256
_SPLIT_SALT = {"train": 0x5EED, "heldout": 0xE7A1}


@dataclass
class CorpusConfig:
    """Which toy-world text to generate."""

    seed: int = 0
    """Corpus seed. Held-out text uses a separate stream of the same seed and held-out IOI combinations."""
    n_ctx: int = 128
    """Tokens per document, BOS included (the toy models' context length)."""
    split: Literal["train", "heldout"] = "train"
    """train: IOI sentences use only training (template, IO, S) combinations; heldout: only the held-out ones."""
    narrative: float = 0.2
    """Weight of short narratives with pronoun agreement."""
    ioi: float = 0.3
    """Weight of IOI sentences (ABBA / BABA)."""
    fact: float = 0.15
    """Weight of world facts (object colour, animal sound, place activity)."""
    count: float = 0.1
    """Weight of counting runs and quantities."""
    listing: float = 0.1
    """Weight of lists of things."""
    repeat: float = 0.15
    """Weight of repeated spans (induction)."""

    def __post_init__(self):
        if self.n_ctx < 16:
            raise ValueError(f"n_ctx={self.n_ctx} is too short for a toy-world document; use >= 16")
        w = self.weights()
        if any(v < 0 for v in w.values()) or sum(w.values()) <= 0:
            raise ValueError(f"family weights must be >= 0 with a positive sum, got {w}")

    def weights(self) -> dict[str, float]:
        return {"narrative": self.narrative, "ioi": self.ioi, "fact": self.fact, "count": self.count,
                "list": self.listing, "repeat": self.repeat}


@dataclass
class ToyCorpus:
    """Documents of the toy world with their labels (schema: `interp.toyworld.labels`)."""

    tokens: Int32[np.ndarray, "doc pos"]
    labels: Int8[np.ndarray, "doc pos field"]
    config: CorpusConfig
    first_doc: int = 0

    @property
    def n_tokens(self) -> int:
        return int(self.tokens.size)

    def concept_mask(self, concept: str) -> np.ndarray:
        """[doc, pos] mask of the tokens that carry `concept` (e.g. "gender:female")."""
        return L.concept_mask(self.labels, concept)

    def save(self, path: str | Path) -> None:
        """Write tokens + labels (npz) and the config and label schema (JSON) into folder `path`."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path / "corpus.npz", tokens=self.tokens, labels=self.labels)
        meta = {"config": asdict(self.config), "first_doc": self.first_doc, "schema": L.schema()}
        (path / "corpus.json").write_text(json.dumps(meta, indent=1))

    @classmethod
    def load(cls, path: str | Path) -> ToyCorpus:
        path = Path(path)
        meta = json.loads((path / "corpus.json").read_text())
        L.check_schema(meta["schema"])
        arrays = np.load(path / "corpus.npz", allow_pickle=False)
        return cls(arrays["tokens"], arrays["labels"], CorpusConfig(**meta["config"]), meta["first_doc"])


@lru_cache(maxsize=1)
def _tables() -> tuple[dict[str, int], np.ndarray]:
    """word -> id and the static label table [vocab, field] derived from the lexicon."""
    lex = build_lexicon()
    word_id = word_ids()
    table = np.zeros((len(lex.words), L.N_FIELDS), dtype=np.int8)
    for w, i in word_id.items():
        cat = lex.category[w]
        if cat != "special":
            table[i, L.FIELD_INDEX["category"]] = CATEGORIES.index(cat) + 1
        if w in lex.gender:
            table[i, L.FIELD_INDEX["gender"]] = L.value_id("gender", lex.gender[w])
        if w in lex.number:
            table[i, L.FIELD_INDEX["number"]] = lex.number[w]
        if w in lex.colour:
            table[i, L.FIELD_INDEX["colour"]] = L.value_id("colour", lex.colour[w])
    return word_id, table


def _chunk_seed(cfg: CorpusConfig, chunk: int) -> int:
    return (cfg.seed * 1_000_003 + _SPLIT_SALT[cfg.split]) * 1_000_033 + chunk


class _ChunkText(NamedTuple):
    """The documents of one chunk back to back, each running on until it reaches n_ctx tokens (cut later).

    Everything is kept in flat lists of ints, which the hot loop appends to cheaply and numpy reads fast.
    """

    ids: list[int]
    starts: list[int]
    """Offset of each document in `ids`."""
    run_family: list[int]
    """Family id of each run of tokens: a sentence, or the BOS of a document (family 0)."""
    run_len: list[int]
    """Length of each run."""
    mark_at: list[int]
    """Offset in `ids` of each sentence that has marks ..."""
    mark_groups: list[np.ndarray]
    """... and its marks, rows of (position in the sentence, field, value)."""


def _sample_chunk(cfg: CorpusConfig, chunk: int) -> _ChunkText:
    """Sample the sentences of one chunk: the only part that needs the random stream, and the hot loop."""
    sampler = SentenceSampler(_chunk_seed(cfg, chunk), ioi_split=cfg.split)
    families, weights = zip(*cfg.weights().items())
    # choices(weights=w) accumulates w on every call and then draws exactly as choices(cum_weights=...) with that
    # accumulation, so precomputing it once keeps the random stream (and the text) unchanged.
    cum_weights = list(accumulate(weights))
    pool = tuple((sampler.families[f], L.value_id("family", f)) for f in families)
    choices, n_ctx, bos = sampler.rng.choices, cfg.n_ctx, word_ids()[BOS]
    text = _ChunkText(*([] for _ in _ChunkText._fields))
    ids, starts, run_family, run_len, mark_at, mark_groups = text
    n = 0  # len(ids)
    for _ in range(CHUNK_DOCS):
        starts.append(n)
        end = n + n_ctx
        ids.append(bos)
        run_family.append(0)
        run_len.append(1)
        n += 1
        while n < end:
            fn, fam_id = choices(pool, cum_weights=cum_weights)[0]
            sent = fn()
            if sent.marks is not None:
                mark_at.append(n)
                mark_groups.append(sent.marks)
            ids += sent.ids
            run_family.append(fam_id)
            run_len.append(len(sent.ids))
            n += len(sent.ids)
    return text


def _generate_chunk(cfg: CorpusConfig, chunk: int) -> tuple[np.ndarray, np.ndarray]:
    """Token ids [CHUNK_DOCS, n_ctx] and labels [CHUNK_DOCS, n_ctx, field] of one chunk."""
    text = _sample_chunk(cfg, chunk)
    # Ids and dynamic labels are built on the flat text; `take` then cuts every document at n_ctx in one gather,
    # which also drops the marks of a sentence's part beyond the cut.
    dyn = np.zeros((len(text.ids), L.N_FIELDS), dtype=np.int8)
    dyn[:, L.FIELD_INDEX["family"]] = np.repeat(np.array(text.run_family, dtype=np.int8), text.run_len)
    if text.mark_at:  # no two marks share a (position, field), so the order of assignment does not matter
        pfv = np.concatenate(text.mark_groups)
        pfv[:, 0] += np.repeat(text.mark_at, [len(g) for g in text.mark_groups])
        dyn[pfv[:, 0], pfv[:, 1]] = pfv[:, 2]
    take = np.asarray(text.starts)[:, None] + np.arange(cfg.n_ctx)
    ids = np.take(np.fromiter(text.ids, dtype=np.int32, count=len(text.ids)), take)
    # np.take gathers whole rows far faster than fancy indexing (table[ids]) does
    labels = np.take(_tables()[1], ids, axis=0) | np.take(dyn, take, axis=0)  # static, dynamic: disjoint fields
    return ids, labels


def iter_chunks(cfg: CorpusConfig, first_chunk: int = 0) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Endless stream of (ids, labels) chunks starting at chunk `first_chunk`."""
    chunk = first_chunk
    while True:
        yield _generate_chunk(cfg, chunk)
        chunk += 1


def generate_docs(cfg: CorpusConfig, n_docs: int, first_doc: int = 0) -> ToyCorpus:
    """Documents [first_doc, first_doc + n_docs) of the corpus; the same range always gives the same text."""
    if n_docs < 1 or first_doc < 0:
        raise ValueError(f"need n_docs >= 1 and first_doc >= 0, got n_docs={n_docs}, first_doc={first_doc}")
    c0, c1 = first_doc // CHUNK_DOCS, (first_doc + n_docs - 1) // CHUNK_DOCS
    parts = [_generate_chunk(cfg, c) for c in range(c0, c1 + 1)]
    ids = np.concatenate([p[0] for p in parts])  # [n_chunks * CHUNK_DOCS, n_ctx]
    lab = np.concatenate([p[1] for p in parts])
    lo = first_doc - c0 * CHUNK_DOCS
    return ToyCorpus(ids[lo:lo + n_docs], lab[lo:lo + n_docs], cfg, first_doc)


def generate_corpus(cfg: CorpusConfig, n_tokens: int) -> ToyCorpus:
    """At least `n_tokens` tokens of the corpus (whole documents), from document 0."""
    return generate_docs(cfg, max(1, -(-n_tokens // cfg.n_ctx)))


def vocabulary() -> tuple[str, ...]:
    """All words in token-id order (the tokenizer's vocabulary)."""
    return build_lexicon().words


def main(cfg) -> ToyCorpus:
    """CLI entry (`interp toyworld generate`): write a labelled corpus to cfg.output.out."""
    cfg.output.claim(Path(cfg.output.out) / "corpus.npz")
    corpus = generate_corpus(CorpusConfig(seed=cfg.seed, n_ctx=cfg.n_ctx, split=cfg.split), cfg.tokens)
    corpus.save(cfg.output.out)
    print(f"wrote {corpus.n_tokens:,} tokens ({len(corpus.tokens)} documents) with labels to {cfg.output.out}")
    return corpus
