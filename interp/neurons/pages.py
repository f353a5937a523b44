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
corr_vals [model, other, L, d] (Pearson correlation over the same tokens).
Written as examples.safetensors + examples.json (interp.pages.artifact: schema, model, corpus, settings, vocab) with
`save_neuron_pages`; every example's activation equals the centre of its context, top examples are sorted and
quantile examples lie inside their bin (checked before writing).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from jaxtyping import Bool, Float, Int, Shaped
from torch import Tensor

from ..examples import CONTEXT, context_windows
from ..models import token_strings
from ..pages.artifact import PagesFormat, load_pages, save_pages
from ..pages.builder import BIN_NAMES, QUANTILES, bin_violation, logit_tables, unit_examples
from ..provenance import model_record

if TYPE_CHECKING:
    from transformer_lens import HookedTransformer

    from ..options import CorpusOptions

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


def save_neuron_pages(folder: str | Path, arrays: dict[str, Shaped[np.ndarray, "*shape"]],
                      meta: dict[str, Any]) -> Path:
    """Validate, then write examples.safetensors and examples.json (interp.pages.artifact)."""
    validate(arrays)
    return save_pages(FORMAT, folder, meta, arrays)


def load_neuron_pages(folder: str | Path) -> tuple[dict[str, Shaped[np.ndarray, "*shape"]], dict[str, Any]]:
    """(arrays, meta) of neuron pages; FileNotFoundError / ValueError say what is wrong."""
    meta, arrays = load_pages(FORMAT, folder)
    return arrays, meta


def _page_rows(model: HookedTransformer, n_docs: int, seed: int, corpus: CorpusOptions | None
               ) -> tuple[Int[Tensor, "doc pos"], dict[str, Any]]:
    """The held-out rows the pages show, and their description: `corpus`'s, else the model's toy world's."""
    from interp.worlds import get_world, world_name_of_model

    world = world_name_of_model(model)
    if corpus is None and world is None:
        raise ValueError("neuron pages of a model of no toy world need its corpus (build_neuron_pages(..., "
                         "corpus=CorpusOptions(corpus=...)))")
    if world is not None and (corpus is None or corpus.corpus in ("", "toyworld")):
        docs = get_world(world).docs(n_docs, seed, "heldout", model.cfg.n_ctx)
        return torch.as_tensor(docs.tokens, dtype=torch.long), {
            "source": "toyworld", "world": world, "split": "heldout", "seed": seed, "n_docs": n_docs}
    from interp.corpus import describe, open_corpus, rows_available

    source = open_corpus(corpus, model, "heldout", seed=seed)
    rows = source.rows(0, rows_available(source, n_docs, f"{n_docs:,} documents")).tokens.long()
    return rows, {**describe(source, rows.numel()), "n_docs": int(rows.shape[0])}


def build_neuron_pages(models: list[HookedTransformer], names: list[str], n_docs: int, seed: int = 0, k: int = 5,
                       corpus: CorpusOptions | None = None, weight_processing: str = "default"
                       ) -> list[tuple[dict[str, Shaped[np.ndarray, "*shape"]], dict[str, Any]]]:
    """Examples of every model's neurons over n_docs held-out documents: of `corpus` when given, else of the first
    model's toy world (a model of no world needs `corpus`: its pages are never drawn from toy-world text it cannot
    read); correlates when there are several models."""
    rows, described = _page_rows(models[0], n_docs, seed, corpus)
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
        meta = {**model_record(name, weight_processing), "corpus": described,
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
