"""Corpora as rows of exactly n_ctx token ids (BOS first), addressable by row index so any range regenerates.

- toy world on a toy model: the corpus generator's own token ids, with ground-truth labels;
- toy world on any other model: toy documents detokenized to text and re-tokenized with the model's tokenizer;
- a local text file: one document per line, tokenized with the model's tokenizer;
- 'hf:DATASET[:SPLIT]': the dataset's "text" column, streamed with the `datasets` library (needs the hub).

Text is packed: documents are joined with the tokenizer's EOS (or BOS) token and cut into rows of n_ctx - 1
tokens, each row then gets BOS in front. A row's "document id" is its row index. Resume and multi-process runs
need a range of rows at any time; the toy world regenerates a range from its chunk seeds, text sources pack rows
once up to what the run needs and keep them (int32, 4 bytes per token).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import NamedTuple, Protocol

import numpy as np
import torch
from jaxtyping import Int, Int8
from torch import Tensor

from ..toyworld import labels as L
from ..toyworld.corpus import CHUNK_DOCS, CorpusConfig, generate_docs, vocabulary
from .manifest import CacheError


class TokenRows(NamedTuple):
    """A range of corpus rows."""

    tokens: Int[Tensor, "doc pos"]
    labels: Int8[Tensor, "doc pos field"] | None


class TokenSource(Protocol):
    """Rows of exactly `n_ctx` tokens, the same rows whenever asked."""

    n_ctx: int
    description: dict
    n_label_fields: int | None

    def n_rows(self, wanted: int) -> int:
        """How many of the first `wanted` rows exist (fewer only when a finite corpus runs out)."""

    def rows(self, first: int, n: int) -> TokenRows: ...


class ToyWorldSource:
    """Toy-world documents as generated (token ids of the toy vocabulary) with their labels."""

    def __init__(self, cfg: CorpusConfig):
        self.cfg, self.n_ctx, self.n_label_fields = cfg, cfg.n_ctx, L.N_FIELDS
        self.description = {"kind": "toyworld", **asdict(cfg)}
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


class PackedTextSource:
    """Documents of text, tokenized with a model's tokenizer and packed into BOS-led rows of n_ctx tokens."""

    def __init__(self, texts: Callable[[], Iterator[str]], tokenizer, n_ctx: int, description: dict,
                 tokenize_batch: int = 256):
        if tokenizer is None:
            raise CacheError("this model has no tokenizer, so text corpora cannot be tokenized for it")
        self.texts, self.tok, self.n_ctx, self.description = texts, tokenizer, n_ctx, description
        self.n_label_fields = None
        bos = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
        if bos is None:
            raise CacheError("the model's tokenizer has neither a BOS nor an EOS token to start rows with")
        self.bos = bos
        self.sep = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else bos
        self.batch = tokenize_batch
        self._rows: list[np.ndarray] = []
        self._stream: Iterator[str] | None = None
        self._pending: list[int] = []
        self._exhausted = False

    def _fill(self, wanted: int) -> None:
        """Pack rows until `wanted` exist or the text runs out."""
        if self._stream is None:
            self._stream = iter(self.texts())
        body = self.n_ctx - 1
        while len(self._rows) < wanted and not self._exhausted:
            docs = [t for _, t in zip(range(self.batch), self._stream) if t.strip()]
            if len(docs) < self.batch:
                self._exhausted = True
            for ids in self.tok(docs, add_special_tokens=False)["input_ids"] if docs else []:
                self._pending.extend(ids)
                self._pending.append(self.sep)
            while len(self._pending) >= body:
                self._rows.append(np.asarray([self.bos] + self._pending[:body], dtype=np.int32))
                del self._pending[:body]

    def n_rows(self, wanted: int) -> int:
        self._fill(wanted)
        return min(wanted, len(self._rows))

    def rows(self, first: int, n: int) -> TokenRows:
        self._fill(first + n)
        if first + n > len(self._rows):
            raise CacheError(f"the corpus has only {len(self._rows)} rows of {self.n_ctx} tokens, "
                             f"rows up to {first + n} were asked for")
        return TokenRows(torch.from_numpy(np.stack(self._rows[first:first + n])), None)


def is_toy_tokenizer(tokenizer) -> bool:
    """Whether `tokenizer` is the toy world's (token id = index in the toy vocabulary)."""
    words = vocabulary()
    if tokenizer is None or len(tokenizer) != len(words):
        return False
    return list(tokenizer.convert_ids_to_tokens(list(range(len(words))))) == list(words)


def toy_texts(cfg: CorpusConfig) -> Callable[[], Iterator[str]]:
    """Toy-world documents as strings (words joined by spaces, BOS dropped), in document order, forever."""
    words = vocabulary()

    def gen() -> Iterator[str]:
        chunk = 0
        while True:
            for row in generate_docs(cfg, CHUNK_DOCS, chunk * CHUNK_DOCS).tokens:
                yield " ".join(words[i] for i in row[1:])
            chunk += 1
    return gen


def _file_texts(path: Path) -> Callable[[], Iterator[str]]:
    def gen() -> Iterator[str]:
        with open(path, encoding="utf-8") as f:
            for line in f:
                yield line.rstrip("\n")
    return gen


def _hf_texts(spec: str) -> tuple[Callable[[], Iterator[str]], dict]:
    name, _, split = spec[3:].partition(":")
    split = split or "train"
    if not name:
        raise CacheError(f"corpus {spec!r}: write it as hf:DATASET or hf:DATASET:SPLIT")
    if os.environ.get("HF_HUB_OFFLINE") == "1":
        raise CacheError(f"corpus {spec!r} needs the Hugging Face hub, which is unreachable (HF_HUB_OFFLINE=1); "
                         f"use --corpus toyworld or a local text file")
    try:
        import datasets

        ds = datasets.load_dataset(name, split=split, streaming=True)
    except Exception as e:  # datasets raises many types (connection, missing dataset, bad split)
        raise CacheError(f"cannot load dataset {name!r} split {split!r} from the hub: {e}") from None
    return (lambda: (ex["text"] for ex in ds)), {"kind": "hf", "dataset": name, "split": split}


def make_source(spec: str, model, n_ctx: int, seed: int = 0) -> TokenSource:
    """The token source for corpus `spec` ('toyworld', a text file path, or 'hf:DATASET[:SPLIT]')."""
    if n_ctx > model.cfg.n_ctx:
        raise CacheError(f"n_ctx={n_ctx} is longer than the model's context ({model.cfg.n_ctx} tokens)")
    if spec == "toyworld":
        cfg = CorpusConfig(seed=seed, n_ctx=n_ctx)
        if is_toy_tokenizer(model.tokenizer):
            return ToyWorldSource(cfg)
        desc = {"kind": "toyworld-text", **asdict(cfg)}
        return PackedTextSource(toy_texts(cfg), model.tokenizer, n_ctx, desc)
    if spec.startswith("hf:"):
        texts, desc = _hf_texts(spec)
        return PackedTextSource(texts, model.tokenizer, n_ctx, {**desc, "n_ctx": n_ctx})
    path = Path(spec).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"corpus {spec!r} is neither 'toyworld', 'hf:DATASET[:SPLIT]', nor a text file")
    desc = {"kind": "text", "path": str(path.resolve()), "bytes": path.stat().st_size, "n_ctx": n_ctx}
    return PackedTextSource(_file_texts(path), model.tokenizer, n_ctx, desc)
