"""The one corpus reader: any text a command runs a model on, as rows of exactly n_ctx token ids (BOS first),
addressable by row index so that any range can be read again (resume, several processes, a held-out split).

Corpora (`--corpus`):
- 'toyworld[:WORLD][:RULE]': the labelled toy world. On a toy model the text of that model's world (toy1 or toy2,
  told by its vocabulary: `interp.worlds.world_name_of_model`; the registry's `World.corpus_source`), its own token
  ids with that world's ground-truth labels and taxonomy (WORLD, if given, must be the model's; RULE changes
  nothing: one token per word). On any other model the sentences of WORLD (default toy1, `LEGACY_WORLD`), rendered
  as English text (`World.corpus_texts`), tokenised with the model's own tokenizer, each word's labels carried onto
  the model's tokens by RULE (interp.word_labels: 'last', the default, labels the token that completes the word;
  'all' every token of it), BOS and the separator labelled as the world's BOS; the concept AUROCs of neurons,
  dictionaries and pages then work on that model as on a toy one;
- 'python-docs': English prose that ships with Python (its reference manual's topics and the standard library's
  docstrings; interp.english_text), one document per paragraph: a real-language corpus that works offline;
- a .txt file, or a folder of .txt files: one document per non-empty line;
- a .jsonl or .parquet file: one document per record, from its text column (`--text-column`);
- a `datasets` folder written by `Dataset.save_to_disk`: one document per row of the text column;
- 'hf:NAME[:SPLIT]' or a bare dataset name (no such path): the dataset streamed from the hub (needs the hub).

Text is tokenised with the model's own tokenizer, documents are joined with its EOS token (or BOS where it has no
EOS) and cut into rows of n_ctx - 1 tokens, each row then led by BOS: the BOS convention of TransformerLens, where
position 0 is the attention sink the model was run with. The held-out split is deterministic and order-free: a
document belongs to 'heldout' when the xxh3 hash of its text is 0 mod HELDOUT_EVERY (5%), else to 'train' (the toy
world has its own split, interp.worlds.toy.corpus). Every source describes itself (`description`: kind, source, a
fingerprint of the content, split, n_ctx, tokenizer): the record artifacts store under "corpus".

A model that is not a toy model gets no silent toy-world default: `open_corpus` asks for --corpus. Garbage does not
pass as text (interp.text_check): a file that is not UTF-8 text is refused when the corpus is opened, and above a
small share of tokens the tokenizer does not know, the source warns once; a command that asks for more rows than
a finite corpus holds hears so (`rows_available`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

import numpy as np
import torch
import xxhash
from jaxtyping import Int, Int8
from torch import Tensor

from .corpus_files import CorpusError
from .options import CorpusOptions
from .text_check import UnknownCount, count_unknown, warn_unknown
from .word_labels import WORD_LABEL_RULES, LabelledText, token_labels
from .worlds import LEGACY_WORLD, get_world, label_table, world_name_of_model, world_names
from .worlds.taxonomy import Taxonomy

if TYPE_CHECKING:
    from transformer_lens import HookedTransformer

HELDOUT_EVERY = 20
"""One document in HELDOUT_EVERY (by the hash of its text) is held out."""
SPLITS = ("train", "heldout")
TOYWORLD = "toyworld"
DEFAULT_N_CTX = 128


class TokenRows(NamedTuple):
    """A range of corpus rows."""

    tokens: Int[Tensor, "doc pos"]
    labels: Int8[Tensor, "doc pos field"] | None


class TokenSource(Protocol):
    """Rows of exactly `n_ctx` tokens, the same rows whenever asked."""

    n_ctx: int
    description: dict
    n_label_fields: int | None
    taxonomy: Taxonomy | None
    """The label taxonomy of the rows' labels (the toy world's), None when rows carry no labels."""

    def n_rows(self, wanted: int) -> int:
        """How many of the first `wanted` rows exist (fewer only when a finite corpus runs out)."""

    def rows(self, first: int, n: int) -> TokenRows: ...


def bos_and_separator(tokenizer) -> tuple[int, int]:
    """(BOS id that leads every row, id that separates packed documents): BOS, else EOS; EOS, else BOS."""
    if tokenizer is None:
        raise CorpusError("this model has no tokenizer, so text cannot be tokenised for it; give a model folder "
                          "with tokenizer files (tokenizer.json or vocab + merges)")
    bos = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
    if bos is None:
        raise CorpusError("the model's tokenizer has neither a BOS nor an EOS token to start rows with")
    return bos, tokenizer.eos_token_id if tokenizer.eos_token_id is not None else bos


class WordLabels(NamedTuple):
    """How a labelled text's word labels become token labels (interp.word_labels)."""

    taxonomy: Taxonomy
    rule: str
    """'last' or 'all' (WORD_LABEL_RULES)."""
    special: Int8[np.ndarray, " field"]
    """The labels of BOS and of the separator between documents (the world's BOS labels)."""


class PackedTextSource:
    """Documents of text, tokenized with a model's tokenizer and packed into BOS-led rows of n_ctx tokens; with
    `word_labels`, documents are `LabelledText` and rows carry their words' labels on the model's tokens."""

    def __init__(self, texts: Callable[[], Iterator[str | LabelledText]], tokenizer, n_ctx: int, description: dict,
                 tokenize_batch: int = 256, word_labels: WordLabels | None = None):
        self.texts, self.tok, self.n_ctx, self.description = texts, tokenizer, n_ctx, description
        self.word_labels = word_labels
        self.taxonomy = None if word_labels is None else word_labels.taxonomy
        self.n_label_fields = None if word_labels is None else word_labels.taxonomy.n_fields
        self.bos, self.sep = bos_and_separator(tokenizer)
        if word_labels is not None and not getattr(tokenizer, "is_fast", False):
            raise CorpusError("carrying toy-world labels onto this model's tokens needs a fast tokenizer (its "
                              "character offsets): give a model folder with a tokenizer.json")
        self.batch = tokenize_batch
        self._rows: list[np.ndarray] = []
        self._label_rows: list[np.ndarray] = []
        self._stream: Iterator[str | LabelledText] | None = None
        self._pending: list[int] = []
        self._pending_labels: list[np.ndarray] = []
        self._exhausted = False
        self._unknown, self._warned = UnknownCount(0, 0), False

    def _tokenize(self, docs: list) -> None:
        """Append the documents' tokens (and labels), each followed by the separator, to the pending stream."""
        if self.word_labels is None:
            batch = self.tok(docs, add_special_tokens=False)["input_ids"]
            self._unknown += count_unknown(self.tok, batch)
            for ids in batch:
                self._pending.extend(ids)
                self._pending.append(self.sep)
            return
        wl = self.word_labels
        enc = self.tok([d.text for d in docs], add_special_tokens=False, return_offsets_mapping=True)
        self._unknown += count_unknown(self.tok, enc["input_ids"])
        for ids, offsets, doc in zip(enc["input_ids"], enc["offset_mapping"], docs):
            self._pending.extend(ids)
            self._pending.append(self.sep)
            self._pending_labels += [token_labels(np.asarray(offsets), doc, wl.rule), wl.special[None]]

    def _fill(self, wanted: int) -> None:
        """Pack rows until `wanted` exist or the text runs out."""
        if self._stream is None:
            self._stream = iter(self.texts())
        body = self.n_ctx - 1
        while len(self._rows) < wanted and not self._exhausted:
            docs = [t for _, t in zip(range(self.batch), self._stream)]
            if len(docs) < self.batch:
                self._exhausted = True
            docs = [t for t in docs if (t if isinstance(t, str) else t.text).strip()]
            if docs:
                self._tokenize(docs)
            labels = np.concatenate(self._pending_labels) if self._pending_labels else None
            n_rows = len(self._pending) // body
            for r in range(n_rows):
                self._rows.append(np.asarray([self.bos] + self._pending[r * body:(r + 1) * body], dtype=np.int32))
                if labels is not None:
                    self._label_rows.append(np.concatenate([self.word_labels.special[None],
                                                            labels[r * body:(r + 1) * body]]))
            del self._pending[:n_rows * body]
            self._pending_labels = [labels[n_rows * body:]] if labels is not None else []
        if not self._warned:  # once, as soon as the text read so far is mostly words the model does not know
            self._warned = warn_unknown(self._unknown, f"corpus {self.description.get('source')}", self.tok,
                                        "give text in this model's vocabulary (a toy model reads --corpus toyworld)")

    def n_rows(self, wanted: int) -> int:
        self._fill(wanted)
        return min(wanted, len(self._rows))

    def rows(self, first: int, n: int) -> TokenRows:
        self._fill(first + n)
        if first + n > len(self._rows):
            raise CorpusError(f"the corpus {self.description.get('source')} has only {len(self._rows)} rows of "
                              f"{self.n_ctx} tokens ({self.description.get('split', 'all')} split); rows up to "
                              f"{first + n} were asked for: give more text, fewer --tokens or a smaller --n-ctx")
        labels = None if self.word_labels is None else torch.from_numpy(np.stack(self._label_rows[first:first + n]))
        return TokenRows(torch.from_numpy(np.stack(self._rows[first:first + n])), labels)


def in_split(text: str, split: str | None) -> bool:
    """Whether a document belongs to `split` (None: every document)."""
    if split is None:
        return True
    held = xxhash.xxh3_64_intdigest(text.encode("utf-8")) % HELDOUT_EVERY == 0
    return held == (split == "heldout")


def resolve_n_ctx(n_ctx: int, model: HookedTransformer) -> int:
    """0 -> min(DEFAULT_N_CTX, the model's context); a context longer than the model's is an error."""
    if n_ctx == 0:
        return min(DEFAULT_N_CTX, model.cfg.n_ctx)
    if n_ctx > model.cfg.n_ctx:
        raise CorpusError(f"--n-ctx {n_ctx} is longer than the model's context ({model.cfg.n_ctx} tokens); "
                          f"use --n-ctx {model.cfg.n_ctx} or less (0: min({DEFAULT_N_CTX}, the model's))")
    return n_ctx


def resolve_corpus(spec: str, model: HookedTransformer, model_name: str) -> str:
    """The corpus to read: `spec`, or for "" the toy world on a toy model and an error on any other."""
    if spec:
        return spec
    if world_name_of_model(model) is not None:
        return TOYWORLD
    raise CorpusError(f"{model_name} is not a toy-world model, so there is no default corpus: give one with --corpus "
                      f"(a .txt file or folder, .jsonl/.parquet, a datasets folder, hf:NAME), --corpus python-docs for "
                      f"English text that ships with Python, or --corpus toyworld for toy-world sentences with their "
                      f"labels on its tokens")


def open_corpus(options: CorpusOptions, model: HookedTransformer, split: str | None = "train", *, seed: int = 0,
                model_name: str = "") -> TokenSource:
    """The token source for corpus `options.corpus` (see module doc) on `model`, rows of `options.n_ctx` tokens
    (0: the default) of `split` ('train', 'heldout', or None for every document); `seed` picks a world's documents."""
    from .corpus_files import read_texts

    spec = resolve_corpus(options.corpus, model, model_name or "this model")
    n_ctx = resolve_n_ctx(options.n_ctx, model)
    if split is not None and split not in SPLITS:
        raise CorpusError(f"unknown split {split!r}; valid: {', '.join(SPLITS)}")
    if spec == TOYWORLD or spec.startswith(TOYWORLD + ":"):
        return _toyworld(spec, model, seed, n_ctx, split or "train")
    texts, desc = read_texts(spec, options.text_column)
    split_texts = (lambda: (t for t in texts() if in_split(t, split)))
    desc = {**desc, "split": split or "all", "n_ctx": n_ctx, "heldout_every": HELDOUT_EVERY}
    return PackedTextSource(split_texts, model.tokenizer, n_ctx, _with_tokenizer(desc, model))


def parse_toyworld(spec: str) -> tuple[str | None, str]:
    """'toyworld[:WORLD][:RULE]' -> (WORLD or None, RULE); anything else after 'toyworld:' is a one-line error."""
    world, rule = None, WORD_LABEL_RULES[0]
    for part in spec.split(":")[1:]:
        if part in WORD_LABEL_RULES:
            rule = part
        elif part in world_names():
            world = part
        else:
            raise CorpusError(f"--corpus {spec}: {part!r} is neither a toy world ({', '.join(world_names())}) nor a "
                              f"word-label rule ({', '.join(WORD_LABEL_RULES)}); write toyworld[:WORLD][:RULE]")
    return world, rule


def _toyworld(spec: str, model: HookedTransformer, seed: int, n_ctx: int, split: str) -> TokenSource:
    """The toy-world source of `spec` on `model` (module doc): its own world's ids, or labelled English text."""
    world, rule = parse_toyworld(spec)
    own = world_name_of_model(model)
    if own is not None:
        if world not in (None, own):
            raise CorpusError(f"--corpus {spec} asks for {world} text, but this is a {own} model, which reads only "
                              f"its own world: use --corpus toyworld")
        return get_world(own).corpus_source(seed, n_ctx, split)
    name = world or LEGACY_WORLD
    texts, desc = get_world(name).corpus_texts(seed, n_ctx, split)
    source = ":".join([TOYWORLD] + ([name] if name != LEGACY_WORLD else []) + ([rule] if rule != "last" else []))
    desc = {**desc, "source": source, "word_labels": rule}
    labels = WordLabels(get_world(name).taxonomy, rule, label_table(name)[0])
    return PackedTextSource(texts, model.tokenizer, n_ctx, _with_tokenizer(desc, model), word_labels=labels)


def _with_tokenizer(desc: dict[str, Any], model) -> dict[str, Any]:
    tok = model.tokenizer
    name = getattr(tok, "name_or_path", "") or type(tok).__name__
    bos, _ = bos_and_separator(tok)
    return {**desc, "tokenizer": os.path.basename(str(name).rstrip("/")) or str(name), "bos_token_id": bos}


def rows_available(source: TokenSource, wanted: int, asked: str) -> int:
    """How many of the first `wanted` rows `source` has, saying so loudly (a one-line warning naming the corpus,
    what was `asked` for, e.g. "--tokens 5,000", and the fix) when a finite corpus runs out first: every command that
    reads a corpus up to a count takes its rows here, so none runs short in silence."""
    import warnings

    have = source.n_rows(wanted)
    if have < wanted:
        d = source.description
        warnings.warn(f"the corpus {d.get('source')} ({d.get('split', 'all')} split) holds only {have:,} rows of "
                      f"{source.n_ctx} tokens ({have * source.n_ctx:,} tokens), fewer than the {wanted:,} rows "
                      f"{asked} asks for; using those: give more text or ask for fewer", stacklevel=2)
    return have


def describe(source: TokenSource, n_tokens: int) -> dict[str, Any]:
    """What an artifact records under "corpus": the source's description plus the tokens used."""
    return json.loads(json.dumps({**source.description, "tokens": int(n_tokens)}, default=str))


def summary(corpus: dict[str, Any]) -> str:
    """One line naming a recorded corpus, for the commands' summary lines."""
    what = corpus.get("source", corpus.get("kind", "?"))
    fp = corpus.get("fingerprint")
    bits = [f"corpus {Path(str(what)).name if os.sep in str(what) else what}"]
    if corpus.get("split"):
        bits.append(f"split {corpus['split']}")
    if corpus.get("tokens") is not None:
        bits.append(f"{corpus['tokens']:,} tokens")
    if fp:
        bits.append(f"fingerprint {str(fp)[:12]}")
    return ", ".join(bits)
