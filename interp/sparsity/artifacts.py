"""The artifact of `interp sparsity`: `sparsity.safetensors` (arrays) + `sparsity.json` (schema, model record, corpus,
settings, summaries), written atomically, arrays first and JSON last (a folder with sparsity.json holds a complete
pair). `neuron_sparsity(run, layer, neuron)` is what a neuron page reads: the neuron's hot / cold rank and dormancy.

Arrays (L layers, d = d_mlp, D = d_model, H heads, J activity thresholds, R massive ratios):
zero_frac, near_zero_frac, abs_mean, dormancy (ReDo score), active_freq (firing frequency at the activity CETT),
hot_rank (0: the model's most frequently firing neuron), w_out_norm [L, d]; thresholds, cett, sparsity [L, J]
(the sparsity-vs-CETT curve, on the CETT sample); activity_index [L] (the threshold of active_freq); massive_counts
[L, R];
max_ratio [L]; massive_site_mean, massive_site_count [L, 2, D] (at the first token, at later tokens);
bos_attention, massive_attention [L, H].
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from ..atomic import atomic_write, atomic_write_text
from ..json_files import read_json
from ..provenance import model_record
from ..safetensors_io import read_arrays, write_arrays
from .dormant import dormancy_scores, dormant_shares
from .hotcold import hot_cold_summary, hot_ranks

if TYPE_CHECKING:
    from transformer_lens import HookedTransformer

SCHEMA_VERSION = 1
KIND = "interp-sparsity"
SPARSITY_ARRAYS, SPARSITY_JSON = "sparsity.safetensors", "sparsity.json"


@dataclass
class SparsityRun:
    """A loaded (or just computed) sparsity run; arrays are reachable as attributes (`run.zero_frac`)."""

    model: str
    weight_processing: str
    model_fingerprint: str
    act_fn: str
    gated: bool
    n_tokens: int
    corpus: dict[str, Any]
    heldout_corpus: dict[str, Any] | None
    config: dict[str, Any]
    summary: dict[str, Any]
    arrays: dict[str, np.ndarray] = field(repr=False)

    def __getattr__(self, name: str) -> np.ndarray:
        arrays = self.__dict__.get("arrays", {})
        if name in arrays:
            return arrays[name]
        raise AttributeError(f"SparsityRun has no field or array {name!r}")

    def meta(self) -> dict[str, Any]:
        return {"schema_version": SCHEMA_VERSION, "kind": KIND, "model": self.model,
                "weight_processing": self.weight_processing, "model_fingerprint": self.model_fingerprint,
                "act_fn": self.act_fn, "gated": self.gated, "n_tokens": self.n_tokens, "corpus": self.corpus,
                "heldout_corpus": self.heldout_corpus, "config": self.config, "summary": self.summary,
                "arrays": sorted(self.arrays)}

    def summary_lines(self) -> list[str]:
        """Per layer, then the model: the printed summary."""
        s = self.summary
        lines = [f"layer {x['layer']}: nonzero {x['nonzero']:.1%}  near-zero {x['near_zero']:.1%}  sparsity at CETT "
                 f"{x['activity_cett']:.2f} {x['activity_sparsity']:.1%}  top-10% share {x['top10_share']:.1%}  "
                 f"dormant(0.1) {x['dormant_0.1']:.1%}  max |h|/median {x['max_ratio']:.0f}x"
                 for x in s["layers"]]
        for r in s["ppl"]:
            lines.append(f"PPL-{r['p']:g}% sparsity: " + ("not reached" if r["sparsity"] is None else
                                                          f"{r['sparsity']:.1%} at CETT {r['cett']:.3f}"))
        m = s["model"]
        lines.append(f"model: nonzero {m['nonzero']:.1%}, top-10% / 20% of neurons carry {m['top10_share']:.1%} / "
                     f"{m['top20_share']:.1%} of firings (power law alpha {m['power_law']['alpha']:.2f}, R^2 "
                     f"{m['power_law']['r2']:.2f}), residual entries >{s['massive']['ratios'][0]:g}x their token's "
                     f"median: {m['massive_entries']:,} (over layers, tokens, dims) in {s['massive']['tokens']:,} "
                     f"tokens (largest {m['max_ratio']:.0f}x), "
                     f"max BOS attention share {m['max_bos_attention']:.2f}")
        return lines


def build_run(model: HookedTransformer, name: str, cfg, parts, after: dict, corpus: dict,
              heldout: dict | None) -> SparsityRun:
    """The artifact from the streamed accumulators and the held-out results."""
    zero, near = parts.zeros.fractions()
    n = int(parts.zeros.n_tokens[0])
    cett, eps, idx = parts.grid.cett(), parts.grid.eps.numpy(), parts.grid.act_index.numpy()
    active = parts.grid.active.numpy() / max(n, 1)
    abs_mean = parts.abs_sums.total.numpy() / max(n, 1)
    dormancy = dormancy_scores(abs_mean)
    bos, mass = parts.massive.shares()
    arrays = {"zero_frac": zero, "near_zero_frac": near, "abs_mean": abs_mean, "dormancy": dormancy,
              "active_freq": active, "hot_rank": hot_ranks(active), "thresholds": eps, "cett": cett,
              "sparsity": parts.grid.sparsity(zero.shape[1]), "activity_index": idx,
              "w_out_norm": np.stack([b.mlp.W_out.detach().norm(dim=-1).cpu().numpy() for b in model.blocks]),
              "massive_counts": parts.massive.counts.numpy(), "max_ratio": parts.massive.max_ratio.numpy(),
              "massive_site_mean": parts.massive.site_mean().numpy(),
              "massive_site_count": parts.massive.site_n.numpy(), "bos_attention": bos.numpy(),
              "massive_attention": mass.numpy()}
    arrays = {k: np.asarray(v, dtype=np.int64 if v.dtype.kind in "iub" else np.float32) for k, v in arrays.items()}
    summary = _summary(model, cfg, arrays, idx, after, parts.massive.entries, int(parts.massive.n_tokens))
    config = {k: v for k, v in cfg.flat().items() if k not in ("out", "overwrite", "device", "threads")}
    return SparsityRun(**model_record(name, cfg.lm.weight_processing), act_fn=str(model.cfg.act_fn),
                       gated=bool(model.cfg.gated_mlp), n_tokens=n, corpus=corpus, heldout_corpus=heldout,
                       config=config, summary=summary, arrays=arrays)


def _summary(model, cfg, a: dict[str, np.ndarray], idx: np.ndarray, after: dict, entries: list[dict],
             massive_tokens: int) -> dict:
    """Per layer and for the model: every measure's headline numbers (the printed summary reads them)."""
    from ..models import token_strings

    hc = hot_cold_summary(a["active_freq"])
    dormant = dormant_shares(a["dormancy"], cfg.dormant_taus)
    layers = []
    for layer, j in enumerate(idx):
        layers.append({"layer": layer, "nonzero": float(1 - a["zero_frac"][layer].mean()),
                       "near_zero": float(a["near_zero_frac"][layer].mean()),
                       "activity_cett": float(a["cett"][layer, j]),
                       "activity_sparsity": float(1 - a["active_freq"][layer].mean()),
                       **{k: v for k, v in hc["layers"][layer].items()},
                       **{f"dormant_{t}": dormant[t][layer] for t in dormant},
                       "massive_counts": [int(c) for c in a["massive_counts"][layer]],
                       "max_ratio": float(a["max_ratio"][layer]),
                       "max_bos_attention": float(a["bos_attention"][layer].max()),
                       "max_massive_attention": float(a["massive_attention"][layer].max())})
    strings = token_strings(model, [e["token"] for e in entries])
    model_s = {"nonzero": float(1 - a["zero_frac"].mean()), **hc["model"],
               **{f"dormant_{t}": float(np.mean(v)) for t, v in dormant.items()},
               "massive_entries": int(a["massive_counts"][:, 0].sum()),
               "max_ratio": float(a["max_ratio"].max()), "max_bos_attention": float(a["bos_attention"].max())}
    return {"layers": layers, "model": model_s, "activity_index": [int(j) for j in idx], **after,
            "massive": {"ratios": cfg.massive_ratios, "tokens": massive_tokens,
                        "entries": [{**e, "token_str": s} for e, s in zip(entries, strings)]}}


def save_sparsity(run: SparsityRun, folder: str | Path) -> Path:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write(folder / SPARSITY_ARRAYS, lambda p: write_arrays(p, run.arrays))
    atomic_write_text(folder / SPARSITY_JSON, json.dumps(run.meta(), indent=1, default=float))
    return folder


def load_sparsity(folder: str | Path) -> SparsityRun:
    """Read a folder written by `interp sparsity` (one-line errors for a missing or foreign folder)."""
    folder = Path(folder)
    path = folder / SPARSITY_JSON
    if not path.is_file():
        raise FileNotFoundError(f"{folder} holds no {SPARSITY_JSON}: not a finished `interp sparsity` output")
    meta = read_json(path)
    if meta.get("kind") != KIND or meta.get("schema_version") != SCHEMA_VERSION:
        raise ValueError(f"{path}: schema {meta.get('schema_version')!r} of kind {meta.get('kind')!r}; this interp "
                         f"reads {KIND} schema {SCHEMA_VERSION}")
    arrays = read_arrays(folder / SPARSITY_ARRAYS, "sparsity arrays")
    missing = set(meta["arrays"]) - set(arrays)
    if missing:
        raise ValueError(f"{folder / SPARSITY_ARRAYS} lacks arrays {sorted(missing)} listed in {SPARSITY_JSON}")
    keys = ("model", "weight_processing", "model_fingerprint", "act_fn", "gated", "n_tokens", "corpus",
            "heldout_corpus", "config", "summary")
    return SparsityRun(**{k: meta.get(k) for k in keys}, arrays=arrays)


class NeuronSparsity(NamedTuple):
    """What a neuron page shows of one neuron's sparsity."""

    hot_rank: int
    """Rank among all the model's neurons by firing frequency at the activity CETT (0: the hottest)."""
    hot_percentile: float
    """Share of the model's neurons that fire less often (1: the hottest, 0: the coldest)."""
    active_freq: float
    zero_frac: float
    near_zero_frac: float
    dormancy: float
    """ReDo score: mean |a| over its layer's mean."""
    dormant: dict[str, bool]
    """tau (as recorded) -> whether the neuron is tau-dormant."""


def neuron_sparsity(run: SparsityRun, layer: int, neuron: int) -> NeuronSparsity:
    """One neuron's hot / cold rank and dormancy from a sparsity run (a pure function of the artifact)."""
    L, d = run.arrays["hot_rank"].shape
    if not (0 <= layer < L and 0 <= neuron < d):
        raise IndexError(f"neuron L{layer}N{neuron} is outside this run's {L} layers x {d} neurons")
    at = {k: float(run.arrays[k][layer, neuron]) for k in ("hot_rank", "dormancy", "active_freq", "zero_frac",
                                                             "near_zero_frac")}
    rank, score = int(at["hot_rank"]), at["dormancy"]
    return NeuronSparsity(rank, 1.0 - (rank + 1) / (L * d), at["active_freq"], at["zero_frac"], at["near_zero_frac"],
                          score, {str(t): score <= t for t in run.config.get("dormant_taus", [])})
