"""The toy-world corpus: seeded documents of token ids with ground-truth labels on every token.

A document is one row of exactly `n_ctx` tokens: BOS, then sentences drawn from the families in proportion to the
configured weights, packed and cut at `n_ctx`. Documents come in chunks of `CHUNK_DOCS`, each chunk seeded from
(seed, split, chunk index), so any range of documents can be regenerated on its own — the activation cache relies
on this to resume without replaying the corpus — and the held-out split never shares a random stream with training.
The same machinery serves every toy world (`CorpusConfig.world`, see `worlds`): a world supplies its sampler, its
vocabulary and its label taxonomy.
"""

from __future__ import annotations

import json
from bisect import bisect
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from itertools import accumulate, chain
from pathlib import Path
from typing import Literal, NamedTuple

import numpy as np
from jaxtyping import Bool, Int, Int8, Int32

from interp.json_files import read_json

from .. import LEGACY_WORLD, get_world, label_table
from ..taxonomy import Taxonomy

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
    """train: IOI sentences use only training (template, IO, S) combinations (toy2: training forms and names);
    heldout: only the held-out ones (toy2: a held-out form, or a training form with a held-out name)."""
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
    world: str = LEGACY_WORLD
    """Which world (`interp.worlds.world_names()`): toy1 (the toy1-* models' world; the weight fields above are its
    families) or toy2 (the compositional world of the toy-* models, families weighted by `mix`). A saved config that
    names none is toy1's, as every config was before a second world existed."""
    mix: dict[str, float] = field(default_factory=dict)
    """Family weights replacing the world's defaults for the families named, e.g. {"ioi": 0.5, "story": 0.0}."""
    ioi_forms: tuple[str, ...] = ()
    """toy2 only: IOI sentences use only these forms (interp.worlds.toy2.forms.FORMS); held-out forms need
    split='heldout'."""

    def __post_init__(self):
        if self.n_ctx < 16:
            raise ValueError(f"--n-ctx {self.n_ctx} (n_ctx) is too short for a toy-world document; use >= 16")
        self.ioi_forms = tuple(self.ioi_forms)
        self.mix = {k: float(v) for k, v in dict(self.mix).items()}
        _check_world_options(self)
        w = self.weights()
        bad = {k: v for k, v in w.items() if not v >= 0}  # also catches NaN
        if bad or sum(w.values()) <= 0:
            raise ValueError(f"family weights must be >= 0 with a positive sum, got {bad or w}: set at least one "
                             f"family's weight above 0 and none below")

    def weights(self) -> dict[str, float]:
        """Family -> weight, in the world's family order (the order is part of the random stream)."""
        world = get_world(self.world)
        base = dict(world.default_weights)
        base.update({family: getattr(self, name) for name, family in world.weight_fields.items()})
        return {**base, **self.mix}

    def describe(self) -> dict:
        """The config as recorded in artifacts: every field, less the options added for toy2 while they are at their
        defaults, so a toy1 corpus is described exactly as before they existed (caches keep resuming)."""
        d = asdict(self)
        for k, default in (("world", LEGACY_WORLD), ("mix", {}), ("ioi_forms", [])):
            if d[k] == default or d[k] == ():
                del d[k]
        return d


def _check_world_options(cfg: CorpusConfig) -> None:
    """One-line errors for options that do not fit the world: unknown families, toy1 weights on toy2, forms."""
    world = get_world(cfg.world)
    unknown = sorted(set(cfg.mix) - set(world.families))
    if unknown:
        raise ValueError(f"unknown {cfg.world} famil{'ies' if len(unknown) > 1 else 'y'} {', '.join(unknown)} in mix; "
                         f"valid: {', '.join(world.families)}")
    if not world.weight_fields:
        fields = CorpusConfig.__dataclass_fields__
        changed = [k for k in ("narrative", "ioi", "fact", "count", "listing", "repeat")
                   if getattr(cfg, k) != fields[k].default]
        if changed:
            raise ValueError(f"{', '.join(changed)}= are toy1 family weights; for {cfg.world} give them as "
                             f"mix={{'family': weight}} (families: {', '.join(world.families)})")
    if cfg.ioi_forms:
        if world.check_ioi_forms is None:
            raise ValueError(f"ioi_forms chooses toy2 IOI forms; {cfg.world} has fixed templates (use world='toy2')")
        world.check_ioi_forms(cfg.ioi_forms, cfg.split)


@dataclass
class ToyCorpus:
    """Documents of a toy world with their labels (schema: the world's `taxonomy`)."""

    tokens: Int32[np.ndarray, "doc pos"]
    labels: Int8[np.ndarray, "doc pos field"]
    config: CorpusConfig
    first_doc: int = 0

    @property
    def n_tokens(self) -> int:
        return int(self.tokens.size)

    @property
    def taxonomy(self) -> Taxonomy:
        return get_world(self.config.world).taxonomy

    def concept_mask(self, concept: str) -> Bool[np.ndarray, "doc pos"]:
        """[doc, pos] mask of the tokens that carry `concept` (e.g. "gender:female")."""
        return self.taxonomy.concept_mask(self.labels, concept)

    def save(self, path: str | Path) -> None:
        """Write tokens + labels (npz) and the config and label schema (JSON) into folder `path`."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path / "corpus.npz", tokens=self.tokens, labels=self.labels)
        meta = {"config": asdict(self.config), "first_doc": self.first_doc, "schema": self.taxonomy.schema()}
        (path / "corpus.json").write_text(json.dumps(meta, indent=1))

    @classmethod
    def load(cls, path: str | Path) -> ToyCorpus:
        path = Path(path)
        meta = read_json(path / "corpus.json")
        cfg = CorpusConfig(**meta["config"])
        get_world(cfg.world).taxonomy.check_schema(meta["schema"])
        arrays = np.load(path / "corpus.npz", allow_pickle=False)
        return cls(arrays["tokens"], arrays["labels"], cfg, meta["first_doc"])


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
    span_at: list[int]
    """Offset in `ids` of each sentence that has spans ..."""
    span_groups: list[list[int]]
    """... and its spans, flat (first position in the sentence, length, field, value) * n."""


def _sample_chunk(cfg: CorpusConfig, chunk: int) -> _ChunkText:
    """Sample the sentences of one chunk: the only part that needs the random stream, and the hot loop."""
    world = get_world(cfg.world)
    sampler = world.sampler(_chunk_seed(cfg, chunk), cfg.split, cfg.ioi_forms)
    families, weights = zip(*cfg.weights().items())
    # choices(pool, weights=w)[0] accumulates w on every call, then returns pool[bisect(cum, random() * total, 0,
    # n - 1)]; doing exactly that here, with the accumulation done once, keeps the random stream (and the text).
    cum_weights = list(accumulate(weights))
    total, hi = cum_weights[-1] + 0.0, len(cum_weights) - 1
    pool = tuple((sampler.families[f], world.taxonomy.value_id("family", f)) for f in families)
    rand, n_ctx, bos = sampler.rng.random, cfg.n_ctx, 0  # BOS is token 0 in every world
    text = _ChunkText(*([] for _ in _ChunkText._fields))
    ids, starts, run_family, run_len, mark_at, mark_groups, span_at, span_groups = text
    n = 0  # len(ids)
    for _ in range(CHUNK_DOCS):
        starts.append(n)
        end = n + n_ctx
        ids.append(bos)
        run_family.append(0)
        run_len.append(1)
        n += 1
        while n < end:
            fn, fam_id = pool[bisect(cum_weights, rand() * total, 0, hi)]
            sent = fn()
            if sent.marks is not None:
                mark_at.append(n)
                mark_groups.append(sent.marks)
            if sent.spans:
                span_at.append(n)
                span_groups.append(sent.spans)
            ids += sent.ids
            run_family.append(fam_id)
            run_len.append(len(sent.ids))
            n += len(sent.ids)
    return text


def _generate_chunk(cfg: CorpusConfig, chunk: int) -> tuple[np.ndarray, np.ndarray]:
    """Token ids [CHUNK_DOCS, n_ctx] and labels [CHUNK_DOCS, n_ctx, field] of one chunk."""
    text = _sample_chunk(cfg, chunk)
    tax = get_world(cfg.world).taxonomy
    # Ids and dynamic labels are built on the flat text; `take` then cuts every document at n_ctx in one gather,
    # which also drops the marks of a sentence's part beyond the cut.
    dyn = np.zeros((len(text.ids), tax.n_fields), dtype=np.int8)
    dyn[:, tax.field_index["family"]] = np.repeat(np.array(text.run_family, dtype=np.int8), text.run_len)
    if text.mark_at:  # no two marks share a (position, field), so the order of assignment does not matter
        pfv = np.concatenate(text.mark_groups)
        pfv[:, 0] += np.repeat(text.mark_at, [len(g) for g in text.mark_groups])
        dyn[pfv[:, 0], pfv[:, 1]] = pfv[:, 2]
    if text.span_at:
        _write_spans(dyn, text.span_at, text.span_groups)
    take = np.asarray(text.starts)[:, None] + np.arange(cfg.n_ctx)
    ids = np.take(np.fromiter(text.ids, dtype=np.int32, count=len(text.ids)), take)
    # np.take gathers whole rows far faster than fancy indexing (table[ids]) does
    labels = np.take(label_table(cfg.world), ids, axis=0) | np.take(dyn, take, axis=0)  # static, dynamic: disjoint
    return ids, labels


def _write_spans(dyn: np.ndarray, span_at: list[int], groups: list[list[int]]) -> None:
    """Expand spans (first position, length, field, value), offset by their sentence's start, into `dyn`."""
    s = np.fromiter(chain.from_iterable(groups), dtype=np.int64).reshape(-1, 4)
    s[:, 0] += np.repeat(np.asarray(span_at, dtype=np.int64), [len(g) // 4 for g in groups])
    lens = s[:, 1]
    first = np.cumsum(lens) - lens  # where each span starts in the expanded list
    pos = np.repeat(s[:, 0] - first, lens) + np.arange(int(lens.sum()))
    dyn[pos, np.repeat(s[:, 2], lens)] = np.repeat(s[:, 3], lens)


def iter_chunks(cfg: CorpusConfig, first_chunk: int = 0
                ) -> Iterator[tuple[Int[np.ndarray, "doc pos"], Int[np.ndarray, "doc pos field"]]]:
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


def vocabulary(world: str) -> tuple[str, ...]:
    """All words of a world in token-id order (the tokenizer's vocabulary)."""
    return get_world(world).words


def main(cfg) -> ToyCorpus:
    """CLI entry (`interp toyworld generate`): write a labelled corpus to cfg.output.out."""
    cfg.output.claim(*(Path(cfg.output.out) / f for f in ("corpus.npz", "corpus.json")))  # both files `save` writes
    corpus = generate_corpus(CorpusConfig(seed=cfg.seed, n_ctx=cfg.n_ctx, split=cfg.split, world=cfg.world,
                                          mix=cfg.mix_weights(), ioi_forms=cfg.forms()), cfg.tokens)
    corpus.save(cfg.output.out)
    print(f"wrote {corpus.n_tokens:,} tokens ({len(corpus.tokens)} documents) with labels to {cfg.output.out}")
    return corpus
