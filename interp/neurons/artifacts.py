"""Neuron-statistics artifacts: `stats.safetensors` (per-neuron arrays) + `stats.json` (schema, config, summary).

Both files are written atomically (temp file + os.replace), arrays first and JSON last: a folder with stats.json
always holds a complete, matching pair, and an interrupted run leaves at most a stray *.tmp file.

stats.json records the model, its weight processing and the corpus (interp.corpus.describe: source, fingerprint,
split, tokens) next to the config, the scored concepts (and the token ids of concepts given as tokens), the
per-layer summary and the readable vocabulary (`vocab`, token strings by id; None for a model without tokenizer).

Arrays (L = layers, d = d_mlp, V = vocab, S = token slots, C = scored concepts, k = top_k), per neuron unless said:
fire_freq, dead, mean, var, skew, kurtosis (Pearson, normal = 3), zero_frac, near_zero_frac [L, d];
pos_mi (bits), pos_mi_norm (MI / firing entropy) [L, d]; top_tokens (token ids), top_token_share [L, d, k];
top_token_lift, untracked_token_share (positive activation on tokens without a slot) [L, d]; tracked_tokens [S];
token_count [V]; top_bigrams (slot into bigram_pairs), top_bigram_share [L, d, k]; top_bigram_lift,
untracked_bigram_share [L, d]; bigram_count [slots]; bigram_pairs [slots, 2] (prev, cur);
concept_auroc [L, C, d]; best_concept (index into `concepts`, -1 if none), best_auroc [L, d]; concept_positives [C]
(each concept's positives among the `concept_sample` tokens its AUROCs were computed on: what a label rests on);
w_in_norm, w_out_norm, b_in, cos_in_out, vocab_mean, vocab_var, vocab_skew, vocab_kurtosis [L, d];
prediction, suppression (bool), family (index into `families`) [L, d].
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from jaxtyping import Shaped
from safetensors.numpy import load_file, save_file

from interp.json_files import read_json

from ..atomic import atomic_write

SCHEMA_VERSION = 2
STATS_ARRAYS, STATS_JSON = "stats.safetensors", "stats.json"


def write_json(path: Path, data: dict) -> None:
    atomic_write(path, lambda p: p.write_text(json.dumps(data, indent=1)))


def write_arrays(path: Path, arrays: dict[str, Shaped[np.ndarray, "*shape"]]) -> None:
    arrays = {k: np.ascontiguousarray(v) for k, v in arrays.items()}
    atomic_write(path, lambda p: save_file(arrays, str(p)))


@dataclass
class NeuronStats:
    """Loaded neuron statistics of one model; arrays are reachable as attributes (`stats.fire_freq`)."""

    model: str
    n_tokens: int
    act_fn: str
    config: dict[str, Any]
    concepts: list[str]
    families: list[str]
    rules: dict[str, Any]
    summary: dict[str, Any]
    """Per-layer summary: dead / firing / sparsity fractions and family counts."""
    arrays: dict[str, np.ndarray] = field(repr=False)
    vocab: list[str] | None = None
    weight_processing: str = "default"
    model_fingerprint: str = ""
    """The weights' identity (interp.provenance.model_record); "" in statistics written before it was recorded."""
    corpus: dict[str, Any] = field(default_factory=dict)
    """What interp.corpus.describe records: kind, source, fingerprint, split, n_ctx, tokenizer, tokens."""
    concept_tokens: dict[str, Any] = field(default_factory=dict)
    """Concepts given as tokens (--concepts): name -> {"ids": token ids, "missing": strings matching no token}."""
    concept_sample: int = 0
    """Tokens the concept AUROCs were computed on (0: no concepts, or statistics written before it was recorded)."""

    def __getattr__(self, name: str) -> np.ndarray:
        arrays = self.__dict__.get("arrays", {})
        if name in arrays:
            return arrays[name]
        raise AttributeError(f"NeuronStats has no field or array {name!r}; arrays: {', '.join(sorted(arrays))}")

    @property
    def n_layers(self) -> int:
        return int(self.arrays["fire_freq"].shape[0])

    @property
    def d_mlp(self) -> int:
        return int(self.arrays["fire_freq"].shape[1])

    def meta(self) -> dict[str, Any]:
        return {"schema_version": SCHEMA_VERSION, "kind": "interp-neuron-stats", "model": self.model,
                "weight_processing": self.weight_processing, "model_fingerprint": self.model_fingerprint,
                "corpus": self.corpus,
                "concept_tokens": self.concept_tokens, "concept_sample": self.concept_sample,
                "n_tokens": self.n_tokens, "act_fn": self.act_fn,
                "config": self.config, "concepts": self.concepts,
                "families": self.families, "rules": self.rules, "summary": self.summary, "vocab": self.vocab,
                "arrays": sorted(self.arrays)}


def save_neuron_stats(stats: NeuronStats, folder: str | Path) -> Path:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    write_arrays(folder / STATS_ARRAYS, stats.arrays)
    write_json(folder / STATS_JSON, stats.meta())
    return folder


def load_neuron_stats(folder: str | Path) -> NeuronStats:
    """Read a folder written by `interp neurons` (or a model sub-folder of `interp universal`)."""
    folder = Path(folder)
    meta_path = folder / STATS_JSON
    if not meta_path.is_file():
        raise FileNotFoundError(f"{folder} holds no {STATS_JSON}: not a finished `interp neurons` output")
    meta = read_json(meta_path)
    if meta.get("kind") != "interp-neuron-stats" or meta.get("schema_version") != SCHEMA_VERSION:
        raise ValueError(f"{meta_path}: schema {meta.get('schema_version')!r} of kind {meta.get('kind')!r}; "
                         f"this interp reads interp-neuron-stats schema {SCHEMA_VERSION}")
    arrays = load_file(str(folder / STATS_ARRAYS))
    missing = set(meta["arrays"]) - set(arrays)
    if missing:
        raise ValueError(f"{folder / STATS_ARRAYS} lacks arrays {sorted(missing)} listed in {STATS_JSON}")
    keys = ("model", "n_tokens", "act_fn", "config", "concepts", "families", "rules", "summary", "vocab",
            "weight_processing", "corpus", "concept_tokens")
    return NeuronStats(**{k: meta[k] for k in keys}, model_fingerprint=meta.get("model_fingerprint") or "",
                       concept_sample=int(meta.get("concept_sample") or 0), arrays=arrays)
