"""Precomputed neuron pages: what a feature page shows, for every MLP neuron (top-activating examples, examples by
quantile bin, the histogram of positive activations, top positive / negative logits) and each neuron's best
correlate in other seeds' models (the explorer's neuron page shows them next to interp.neurons' statistics).

The shared parts come from the one page builder (interp.pages.builder) over the neuron x token matrix, with the
names feature pages use, shaped [L, d, ...] instead of [F, ...]:
`quantile_examples(acts, ...)` -> bin_edges [L, d, B+1], ex_index / ex_act [L, d, B, K] (the top bin's largest, a
seeded sample of the others; -1 / 0 where a bin has fewer), ex_ctx_tokens / ex_ctx_acts [L, d, B, K, W],
hist_counts [L, d, H], hist_edges [L, d, H+1];
`logit_effects(model)` -> logit_pos_ids / _vals, logit_neg_ids / _vals [L, d, T] (VocabProj of the neuron's output
weights). Neuron-only: `neuron_examples(acts, ...)` -> top_index / top_act [L, d, K], top_ctx_tokens /
top_ctx_acts [L, d, K, W] (the k largest activations, positive or not); `best_correlates(acts)` -> corr_ids /
corr_vals [model, other, L, d] (Pearson correlation over the same tokens); `row_tokens` [doc, pos] (the rows themselves,
for an example's whole passage on demand); with the model's statistics, what each neuron's label rests on
(`label_evidence_arrays`: concept_best / concept_auroc [L, d] and interp.pages.evidence's CONCEPT_ARRAYS [L, d, ...],
the concepts' positives in the AUROC sample in the meta), as feature pages record it.
Written as examples.safetensors + examples.json (interp.pages.artifact: schema, model, corpus, settings, vocab) with
`save_neuron_pages`; every example's activation equals the centre of its context, top examples are sorted and
quantile examples lie inside their bin (checked before writing).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import torch
from jaxtyping import Bool, Float, Int, Shaped
from torch import Tensor

from ..examples import CONTEXT, context_windows
from ..models import token_strings
from ..pages.artifact import PagesFormat, load_pages, save_pages
from ..pages.builder import BIN_NAMES, QUANTILES, bin_violation, logit_tables, unit_examples
from ..pages.evidence import CONCEPT_ARRAYS, concept_examples
from ..provenance import model_record

if TYPE_CHECKING:
    from transformer_lens import HookedTransformer

    from ..options import CorpusOptions
    from .artifacts import NeuronStats

SCHEMA_VERSION = 3
KIND = "interp-neuron-pages"
FILES = ("examples.safetensors", "examples.json")
FORMAT = PagesFormat(FILES, KIND, SCHEMA_VERSION, "neuron pages")


@torch.no_grad()
def mlp_acts(model: HookedTransformer, tokens: Int[Tensor, "doc pos"], batch: int = 16
             ) -> Float[Tensor, "n layer d_mlp"]:
    """Post-activations [n_tokens, L, d_mlp] of every MLP layer over rows of tokens [doc, pos] (flattened)."""
    from interp.activations.stream import HookRunner

    names = [f"blocks.{layer}.mlp.hook_post" for layer in range(model.cfg.n_layers)]
    runner, out = HookRunner(model, names), []
    for i in range(0, len(tokens), batch):
        got = runner.collect(tokens[i:i + batch].to(model.cfg.device))
        out.append(torch.stack([got[n] for n in names], dim=2).flatten(0, 1))  # [b, pos, L, d] -> [b * pos, L, d]
    return torch.cat(out)


def neuron_examples(acts: Float[Tensor, "n layer d_mlp"], tokens: Int[Tensor, " n"], doc_ids: Int[Tensor, " n"],
                    valid: Bool[Tensor, " n"], k: int = 5) -> dict[str, Shaped[np.ndarray, "*shape"]]:
    """The k largest activations of every neuron (over valid tokens) with their context windows."""
    n, L, d = acts.shape
    masked = torch.where(valid[:, None, None], acts, torch.full((), -torch.inf))
    top = masked.reshape(n, L * d).topk(k, dim=0)  # [k, L*d]
    idx = top.indices.T.reshape(-1)
    ctx = context_windows(tokens, doc_ids, idx, *CONTEXT)  # [L*d*k, W]
    ok = ctx >= 0
    unit = torch.arange(L * d).repeat_interleave(k)
    ctx_acts = acts.reshape(n, L * d)[ctx.clamp_min(0), unit[:, None]]
    W = ctx.shape[1]
    return {"top_index": idx.reshape(L, d, k).numpy(), "top_act": top.values.T.reshape(L, d, k).numpy(),
            "top_ctx_tokens": torch.where(ok, tokens[ctx.clamp_min(0)], -1).reshape(L, d, k, W).int().numpy(),
            "top_ctx_acts": torch.where(ok, ctx_acts, 0.0).reshape(L, d, k, W).numpy()}


def quantile_examples(acts: Float[Tensor, "n layer d_mlp"], tokens: Int[Tensor, " n"], doc_ids: Int[Tensor, " n"],
                      valid: Bool[Tensor, " n"], k: int = 5, seed: int = 0) -> dict[str, Shaped[np.ndarray, "*shape"]]:
    """Examples by quantile bin of every neuron's positive activations (over valid tokens) and their histogram:
    interp.pages.builder.unit_examples over the neuron x token matrix, its arrays shaped [L, d, ...]."""
    n, L, d = acts.shape
    got = unit_examples(acts.reshape(n, L * d).T.contiguous(), tokens, doc_ids, valid, k, seed)
    return {name: v.reshape(L, d, *v.shape[1:]) for name, v in got.items()}


@torch.no_grad()
def logit_effects(model: HookedTransformer, t: int = 10, chunk: int = 256) -> dict[str, Shaped[np.ndarray, "*shape"]]:
    """Top-t positive and negative logits of every neuron's output direction (interp.pages.builder.logit_tables,
    as feature pages; zeros where a layer has no linear path to the logits): logit_pos_ids / ... [L, d, T]."""
    L, d = model.cfg.n_layers, model.cfg.d_mlp
    parts = [[logit_tables(model, f"blocks.{layer}.mlp.hook_post", torch.eye(d)[i:i + chunk].to(model.cfg.device), t)
              for i in range(0, d, chunk)] for layer in range(L)]
    return {k: np.stack([np.concatenate([p[k] for p in row]) for row in parts])
            for k in ("logit_pos_ids", "logit_pos_vals", "logit_neg_ids", "logit_neg_vals")}


def best_correlates(acts: list[Float[Tensor, "n layer d_mlp"]]) -> tuple[Int[np.ndarray, "model other layer d_mlp"],
                                                                         Float[np.ndarray, "model other layer d_mlp"]]:
    """For every model a, other model b and neuron of a: the neuron of b (same layer) of highest correlation."""
    m = len(acts)
    n, L, d = acts[0].shape
    z = [(a - a.mean(0)) / a.std(0).clamp_min(1e-8) for a in acts]
    ids = np.zeros((m, m - 1, L, d), np.int32)
    vals = np.zeros((m, m - 1, L, d), np.float32)
    for i in range(m):
        for j, o in enumerate(x for x in range(m) if x != i):
            for layer in range(L):
                corr = z[i][:, layer].T @ z[o][:, layer] / (n - 1)
                best = corr.max(dim=1)
                ids[i, j, layer], vals[i, j, layer] = best.indices.numpy(), best.values.numpy()
    return ids, vals


REQUIRED = ("top_act", "top_ctx_tokens", "top_ctx_acts", "bin_edges", "ex_index", "ex_act", "ex_ctx_tokens",
            "ex_ctx_acts",
            "hist_counts", "hist_edges", "logit_pos_ids", "logit_pos_vals", "logit_neg_ids", "logit_neg_vals")


def validate(arrays: dict[str, Shaped[np.ndarray, "*shape"]]) -> None:
    """Raise ValueError unless every array is there, examples match their contexts, top examples are sorted and
    quantile examples lie inside their bins."""
    missing = [k for k in REQUIRED if k not in arrays]
    if missing:
        raise ValueError(f"neuron pages lack arrays {missing}")
    centre = arrays["top_ctx_acts"][..., CONTEXT[0]]
    if not np.allclose(centre, arrays["top_act"], atol=1e-5):
        raise ValueError("a neuron example's activation differs from its context's centre")
    if (np.diff(arrays["top_act"], axis=-1) > 1e-6).any():
        raise ValueError("neuron examples are not sorted by activation")
    problem = bin_violation(arrays["bin_edges"], arrays["ex_act"], arrays["ex_ctx_acts"], arrays["ex_index"] >= 0,
                            lambda at: f"L{at[0]} N{at[1]}")
    if problem:
        raise ValueError(problem)
    units = arrays["top_act"].shape[:2]
    bad = [k for k in ("concept_best", "concept_auroc", *CONCEPT_ARRAYS)
           if k in arrays and arrays[k].shape[:2] != units]
    if bad:
        raise ValueError(f"neuron pages' arrays {bad} do not have one row per layer and neuron {units}")


def save_neuron_pages(folder: str | Path, arrays: dict[str, Shaped[np.ndarray, "*shape"]],
                      meta: dict[str, Any]) -> Path:
    """Validate, then write examples.safetensors and examples.json (interp.pages.artifact)."""
    validate(arrays)
    return save_pages(FORMAT, folder, meta, arrays)


def load_neuron_pages(folder: str | Path) -> tuple[dict[str, Shaped[np.ndarray, "*shape"]], dict[str, Any]]:
    """(arrays, meta) of neuron pages; FileNotFoundError / ValueError say what is wrong."""
    meta, arrays = load_pages(FORMAT, folder)
    return arrays, meta


class PageRows(NamedTuple):
    """The held-out rows neuron pages show, their labels where the corpus has them, and their description."""

    tokens: Int[Tensor, "doc pos"]
    labels: Int[np.ndarray, "doc pos field"] | None
    taxonomy: Any
    """The labels' interp.worlds.taxonomy.Taxonomy (None without labels)."""
    described: dict[str, Any]


def _page_rows(model: HookedTransformer, n_docs: int, seed: int, corpus: CorpusOptions | None) -> PageRows:
    """The held-out rows the pages show: `corpus`'s, else the model's toy world's."""
    from interp.worlds import get_world, world_name_of_model

    world = world_name_of_model(model)
    if corpus is None and world is None:
        raise ValueError("neuron pages of a model of no toy world need its corpus (build_neuron_pages(..., "
                         "corpus=CorpusOptions(corpus=...)))")
    if world is not None and (corpus is None or corpus.corpus in ("", "toyworld")):
        w = get_world(world)
        docs = w.docs(n_docs, seed, "heldout", model.cfg.n_ctx)
        return PageRows(torch.as_tensor(docs.tokens, dtype=torch.long), np.asarray(docs.labels), w.taxonomy, {
            "source": "toyworld", "world": world, "split": "heldout", "seed": seed, "n_docs": n_docs})
    from interp.corpus import describe, open_corpus, rows_available

    source = open_corpus(corpus, model, "heldout", seed=seed)
    got = source.rows(0, rows_available(source, n_docs, f"{n_docs:,} documents"))
    rows = got.tokens.long()
    labels = None if got.labels is None else got.labels.numpy()
    return PageRows(rows, labels, source.taxonomy if labels is not None else None,
                    {**describe(source, rows.numel()), "n_docs": int(rows.shape[0])})


def label_evidence_arrays(acts: Float[Tensor, "n layer d_mlp"], rows: PageRows, stats: NeuronStats,
                          ex_index: Int[np.ndarray, "layer d_mlp bins k"]
                          ) -> tuple[dict[str, Any], dict[str, Shaped[np.ndarray, "*shape"]]]:
    """What each neuron's label rests on (interp.pages.evidence, as feature pages record it), for its best concept
    in the statistics `stats`: meta (concepts, their positives in the AUROC sample, the sample's size) and arrays
    concept_best / concept_auroc [L, d] (the statistics') and CONCEPT_ARRAYS [L, d, ...] over the pages' rows.
    Empty when the statistics scored no concept or the rows carry neither labels nor the concepts' tokens."""
    names = list(stats.concepts)
    given = {c: v["ids"] for c, v in (stats.concept_tokens or {}).items()}
    if not names or (rows.labels is None and not set(names) <= set(given)):
        return {}, {}
    tokens = rows.tokens.reshape(-1)
    labels = None if rows.labels is None else rows.labels.reshape(len(tokens), -1)

    def mask_of(c: str) -> Bool[np.ndarray, " n"]:
        if c in given:
            return np.isin(tokens.numpy(), np.asarray(given[c]))
        return rows.taxonomy.concept_mask(labels, c)

    n, L, d = acts.shape
    doc_ids = torch.arange(rows.tokens.shape[0]).repeat_interleave(rows.tokens.shape[1])
    valid = torch.arange(rows.tokens.shape[1]).repeat(rows.tokens.shape[0]) != 0
    best = np.where(stats.dead, -1, stats.best_concept).astype(np.int32)  # a dead neuron matches nothing
    got = concept_examples(acts.reshape(n, L * d), tokens, doc_ids, valid, mask_of, names, best.reshape(-1),
                           ex_index[:, :, -1].reshape(L * d, -1), ex_index.shape[-1])
    arrays = {k: v.reshape(L, d, *v.shape[1:]) for k, v in got.items()}
    arrays.update(concept_best=best, concept_auroc=np.where(best >= 0, stats.best_auroc, np.nan).astype(np.float32))
    positives = stats.arrays.get("concept_positives")
    meta = {"concepts": names, "concept_sample": stats.concept_sample or None,
            "concept_positives": None if positives is None else [int(x) for x in positives]}
    return meta, arrays


def build_neuron_pages(models: list[HookedTransformer], names: list[str], n_docs: int, seed: int = 0, k: int = 5,
                       corpus: CorpusOptions | None = None, weight_processing: str = "default",
                       stats: list[NeuronStats | None] | None = None
                       ) -> list[tuple[dict[str, Shaped[np.ndarray, "*shape"]], dict[str, Any]]]:
    """Examples of every model's neurons over n_docs held-out documents: of `corpus` when given, else of the first
    model's toy world (a model of no world needs `corpus`: its pages are never drawn from toy-world text it cannot
    read); correlates when there are several models. With each model's statistics (`stats`), what each neuron's
    label rests on (`label_evidence_arrays`). The rows themselves are kept (row_tokens [doc, pos]): a page shows an
    example's whole document on demand (interp.pages.context.neuron_context)."""
    page_rows = _page_rows(models[0], n_docs, seed, corpus)
    rows, described = page_rows.tokens, page_rows.described
    tokens = rows.reshape(-1)
    doc_ids = torch.arange(rows.shape[0]).repeat_interleave(rows.shape[1])
    valid = torch.arange(rows.shape[1]).repeat(rows.shape[0]) != 0
    acts = [mlp_acts(m, rows) for m in models]
    ids, vals = best_correlates(acts) if len(models) > 1 else (None, None)
    vocab = token_strings(models[0], range(models[0].cfg.d_vocab)) if models[0].tokenizer is not None else None
    out = []
    for i, name in enumerate(names):
        arrays = neuron_examples(acts[i], tokens, doc_ids, valid, k)
        arrays.update(quantile_examples(acts[i], tokens, doc_ids, valid, k, seed))
        arrays.update(logit_effects(models[i]))
        arrays["row_tokens"] = rows.int().numpy()
        evidence_meta, evidence = ({}, {}) if stats is None or stats[i] is None else \
            label_evidence_arrays(acts[i], page_rows, stats[i], arrays["ex_index"])
        arrays.update(evidence)
        meta = {**evidence_meta, **model_record(name, weight_processing), "corpus": described,
                "settings": {"k": k, "seed": seed},
                "n_tokens": int(valid.sum()), "context": list(CONTEXT), "vocab": vocab,
                "quantiles": list(QUANTILES), "bin_names": list(BIN_NAMES),
                "others": [n for n in names if n != name] if ids is not None else []}
        if ids is not None:
            arrays["corr_ids"], arrays["corr_vals"] = ids[i], vals[i]
        out.append((arrays, meta))
    return out


def neuron_summary(arrays: dict[str, Shaped[np.ndarray, "*shape"]], meta: dict[str, Any], layer: int, neuron: int,
                   n: int = 3) -> str:
    """One sentence on a neuron: the tokens its top examples fire on and the logits its output promotes and
    suppresses (as interp.pages.features.FeaturePages.summary says of a feature)."""
    vocab = meta.get("vocab")
    tok = lambda i: repr(vocab[i] if vocab is not None and 0 <= i < len(vocab) else f"#{i}")  # noqa: E731
    if float(arrays["top_act"][layer, neuron, 0]) <= 0:
        return f"Never fired on the {meta['n_tokens']:,} tokens of its examples."
    ids = arrays["top_ctx_tokens"][layer, neuron, :, CONTEXT[0]]
    ids, counts = np.unique(ids[ids >= 0], return_counts=True)
    fires = ", ".join(tok(int(ids[i])) for i in np.argsort(-counts, kind="stable")[:n])
    text = f"Fires most on {fires} (its top examples' tokens)"
    if np.abs(arrays["logit_pos_vals"][layer, neuron]).max(initial=0) > 0:
        up = ", ".join(tok(int(i)) for i in arrays["logit_pos_ids"][layer, neuron][:n])
        down = ", ".join(tok(int(i)) for i in arrays["logit_neg_ids"][layer, neuron][:n])
        text += f"; its output promotes {up}; suppresses {down}"
    return text + "."
