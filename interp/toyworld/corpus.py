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
from pathlib import Path
from typing import Literal

import numpy as np
from jaxtyping import Int8, Int32

from . import labels as L
from .grammar import SentenceSampler
from .vocab import BOS, CATEGORIES, build_lexicon

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
    word_id = {w: i for i, w in enumerate(lex.words)}
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


def _generate_chunk(cfg: CorpusConfig, chunk: int) -> tuple[np.ndarray, np.ndarray]:
    """Token ids [CHUNK_DOCS, n_ctx] and labels [CHUNK_DOCS, n_ctx, field] of one chunk."""
    word_id, table = _tables()
    sampler = SentenceSampler(_chunk_seed(cfg, chunk), ioi_split=cfg.split)
    families, weights = zip(*cfg.weights().items())
    fam_fns = [sampler.families[f] for f in families]
    fam_ids = [L.value_id("family", f) for f in families]
    n_ctx, fam_field = cfg.n_ctx, L.FIELD_INDEX["family"]
    ids = np.zeros((CHUNK_DOCS, n_ctx), dtype=np.int32)
    dyn = np.zeros((CHUNK_DOCS, n_ctx, L.N_FIELDS), dtype=np.int8)
    bos = word_id[BOS]
    for d in range(CHUNK_DOCS):
        row, fam_row, marks = [bos], [0], []
        while len(row) < n_ctx:
            k = sampler.rng.choices(range(len(fam_fns)), weights)[0]
            sent = fam_fns[k]()
            marks.extend((len(row) + p, f, v) for p, f, v in sent.marks)
            row.extend(word_id[w] for w in sent.words)
            fam_row.extend([fam_ids[k]] * len(sent.words))
        ids[d] = row[:n_ctx]
        dyn[d, :, fam_field] = fam_row[:n_ctx]
        for p, f, v in marks:
            if p < n_ctx:
                dyn[d, p, f] = v
    labels = table[ids] | dyn  # static and dynamic labels live in disjoint fields
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
    """CLI entry (`interp toyworld generate`): write a labelled corpus to cfg.out."""
    corpus = generate_corpus(CorpusConfig(seed=cfg.seed, n_ctx=cfg.n_ctx, split=cfg.split), cfg.tokens)
    corpus.save(cfg.out)
    print(f"wrote {corpus.n_tokens:,} tokens ({len(corpus.tokens)} documents) with labels to {cfg.out}")
    return corpus
