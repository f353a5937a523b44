"""A model's vocabulary as the neuron statistics see it: readable token strings, the token slots whose activation
sums are kept, and concepts a user gives as lists of tokens.

- `readable_vocab(model)`: one string per token id as a person reads it: the toy world's words, and for any other
  tokenizer its decode of the single id (a byte-level BPE "Ġediting" reads " editing"); None without a tokenizer.
- `TokenSlots`: which token ids get a row of per-neuron activation sums. A vocabulary that fits gets one slot per
  id (slot = id: the toy models), a larger one (GPT-2's 50k) the `capacity` most frequent tokens of the rows the run
  streams (`frequent_tokens`, a pure function of the corpus, so a resumed run gets the same slots).
- `load_concepts(path, vocab)`: {"name": ["token", ...]} from a JSON file, resolved to token ids.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import torch
from jaxtyping import Int
from torch import Tensor

from ..corpus import TokenSource
from ..text_check import UnknownCount, read_text_file, warn_unknown
from ..worlds import get_world, world_name_of_model

if TYPE_CHECKING:
    from transformer_lens import HookedTransformer


def real_vocab_size(model: HookedTransformer) -> int:
    """Token ids that are real tokens: the tokenizer's size, at most d_vocab (unembedding columns past it are
    padding, e.g. Pythia's 50304 columns for 50277 tokens)."""
    tok = getattr(model, "tokenizer", None)
    return model.cfg.d_vocab if tok is None else min(model.cfg.d_vocab, len(tok))


def readable_vocab(model: HookedTransformer) -> list[str] | None:
    """Token strings by id, readable (decoded, not raw BPE symbols); ids past the tokenizer read "<id>"."""
    tok = getattr(model, "tokenizer", None)
    if tok is None:
        return None
    n, real = model.cfg.d_vocab, real_vocab_size(model)
    world = world_name_of_model(model)
    if world is not None:
        words = list(get_world(world).words)
    else:
        words = tok.batch_decode([[i] for i in range(real)], skip_special_tokens=False,
                                 clean_up_tokenization_spaces=False)
    return words[:n] + [f"<{i}>" for i in range(len(words[:n]), n)]


class TokenSlots:
    """Rows of the per-token sums: slot k holds token ids[k]; slot_of[id] is -1 for a token without a slot."""

    def __init__(self, d_vocab: int, ids: Tensor | None = None):
        self.d_vocab = d_vocab
        self.ids = torch.arange(d_vocab) if ids is None else torch.as_tensor(ids, dtype=torch.long)
        self.slot_of = torch.full((d_vocab,), -1, dtype=torch.long)
        self.slot_of[self.ids] = torch.arange(len(self.ids))
        self.every_token = len(self.ids) == d_vocab

    @property
    def capacity(self) -> int:
        return len(self.ids)


def frequent_tokens(source: TokenSource, n_rows: int, capacity: int, d_vocab: int, batch: int = 256
                    ) -> Int[Tensor, " capacity"] | None:
    """The `capacity` most frequent token ids (BOS column left out; ties to the lower id) of rows [0, n_rows), in
    id order; None when the vocabulary fits in `capacity` (every token gets its slot)."""
    if d_vocab <= capacity:
        return None
    counts = np.zeros(d_vocab, dtype=np.int64)
    for first in range(0, n_rows, batch):
        tokens = source.rows(first, min(batch, n_rows - first)).tokens[:, 1:].reshape(-1)
        counts += np.bincount(tokens.numpy().astype(np.int64), minlength=d_vocab)[:d_vocab]
    order = np.lexsort((np.arange(d_vocab), -counts))  # most frequent first, then lower id
    return torch.from_numpy(np.sort(order[:capacity]))


class Concepts(NamedTuple):
    """Concepts given as tokens: name -> token ids, and the strings of each that matched no token."""

    ids: dict[str, list[int]]
    missing: dict[str, list[str]]


def load_concepts(path: str | Path, vocab: list[str] | None) -> Concepts:
    """Read a concepts file ({"name": ["token", ...]}); each string matches every token whose readable form equals
    it up to surrounding whitespace. A concept none of whose strings is a token is skipped with a warning naming it;
    when no concept is left, that is an error."""
    path = Path(path)
    try:
        data = json.loads(read_text_file(path, "--concepts"))
    except FileNotFoundError:
        raise FileNotFoundError(f"--concepts {path}: no such file") from None
    except json.JSONDecodeError as e:
        raise ValueError(f"--concepts {path} is not JSON ({e.msg} at line {e.lineno})") from None
    if not isinstance(data, dict) or not data or not all(
            isinstance(v, list) and v and all(isinstance(s, str) for s in v) for v in data.values()):
        raise ValueError(f'--concepts {path}: expected a JSON object of concept name -> list of token strings, '
                         f'e.g. {{"animals": ["cat", "dog"]}}')
    if vocab is None:
        raise ValueError("this model has no tokenizer, so concepts cannot be given as token strings")
    index: dict[str, list[int]] = {}
    for i, word in enumerate(vocab):
        index.setdefault(word.strip(), []).append(i)
    ids, missing, empty = {}, {}, []
    for name, words in data.items():
        found = sorted({i for w in words for i in index.get(w.strip(), [])})
        if not found:
            empty.append(f"{name!r} ({', '.join(map(repr, words[:5]))}{', ...' if len(words) > 5 else ''})")
            continue
        ids[name] = found
        missing[name] = [w for w in words if w.strip() not in index]
    if not ids:
        raise ValueError(f"concept {empty[0]} of {path}: none of its strings is a token of this model's vocabulary"
                         if len(empty) == 1 else f"no concept of {path} has a string that is a token of this "
                         f"model's vocabulary: {'; '.join(empty)}")
    strings = [w for words in data.values() for w in words]
    unknown = [w for w in strings if w.strip() not in index]  # strings the vocabulary holds as no token
    warn_unknown(UnknownCount(len(unknown), len(strings)), f"--concepts {path}", None,
                 "give strings that are single tokens of this model's vocabulary", words=unknown, unit="strings")
    if empty:  # the other concepts are still measured: one unusable concept does not abort the run
        warnings.warn(f"--concepts {path}: skipped {'; '.join(empty)}: none of its strings is a token of this "
                      f"model's vocabulary (a word the tokenizer splits into pieces has no single token)",
                      stacklevel=2)
    return Concepts(ids, missing)
