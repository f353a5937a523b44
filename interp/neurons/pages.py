"""Precomputed neuron pages: what a feature page shows, for every MLP neuron (top-activating examples, examples by
quantile bin, the histogram of positive activations, top positive / negative logits) and each neuron's best
correlate in other seeds' models (the explorer's neuron page shows them next to interp.neurons' statistics).

`neuron_examples(acts, ...)` -> ex_act [L, d, K], ex_ctx_tokens / ex_ctx_acts [L, d, K, W];
`quantile_examples(acts, ...)` -> bin_edges [L, d, B+1] (quantiles QUANTILES of the neuron's positive activations),
q_ex_act [L, d, B, K] (the top bin's largest, a seeded sample of the others, 0 where a bin has fewer),
q_ex_ctx_tokens / q_ex_ctx_acts [L, d, B, K, W], hist_counts [L, d, H], hist_edges [L, d, H+1];
`logit_effects(model)` -> logit_pos_ids / _vals, logit_neg_ids / _vals [L, d, T] (VocabProj of the neuron's output
weights, interp.steering.scores.vocab_logits, as feature pages);
`best_correlates(acts)` -> corr_ids / corr_vals [model, other, L, d] (Pearson correlation over the same tokens).
Written as examples.safetensors + examples.json (schema, models, vocab) with `save_neuron_pages`; every example's
activation equals the centre of its context, top examples are sorted and quantile examples lie inside their bin
(checked before writing).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.numpy import load_file, save_file
from torch import Tensor

from ..examples import CONTEXT, context_windows
from ..models import token_strings

SCHEMA_VERSION = 2
KIND = "interp-neuron-pages"
FILES = ("examples.safetensors", "examples.json")
QUANTILES = (0.0, 0.5, 0.9, 0.99, 1.0)
"""Edges of the quantile bins over a neuron's positive activations (as feature pages): 0-50%, 50-90%, 90-99%, top 1%."""
BIN_NAMES = ("0-50%", "50-90%", "90-99%", "top 1%")
HIST_BINS = 30


@torch.no_grad()
def mlp_acts(model, tokens: Tensor, batch: int = 16) -> Tensor:
    """Post-activations [n_tokens, L, d_mlp] of every MLP layer over rows of tokens [doc, pos] (flattened)."""
    from interp.activations.stream import HookRunner

    names = [f"blocks.{layer}.mlp.hook_post" for layer in range(model.cfg.n_layers)]
    runner, out = HookRunner(model, names), []
    for i in range(0, len(tokens), batch):
        got = runner.collect(tokens[i:i + batch].to(model.cfg.device))
        out.append(torch.stack([got[n] for n in names], dim=2).flatten(0, 1))  # [b, pos, L, d] -> [b * pos, L, d]
    return torch.cat(out)


def neuron_examples(acts: Tensor, tokens: Tensor, doc_ids: Tensor, valid: Tensor, k: int = 5) -> dict[str, np.ndarray]:
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
    return {"ex_index": idx.reshape(L, d, k).numpy(), "ex_act": top.values.T.reshape(L, d, k).numpy(),
            "ex_ctx_tokens": torch.where(ok, tokens[ctx.clamp_min(0)], -1).reshape(L, d, k, W).int().numpy(),
            "ex_ctx_acts": torch.where(ok, ctx_acts, 0.0).reshape(L, d, k, W).numpy()}


def _bin_picks(vals: Tensor, pos: Tensor, k: int, gen: torch.Generator) -> tuple[Tensor, Tensor]:
    """Quantile edges [B+1] of positive values `vals` (at token indices `pos`) and picked token indices [B, k]."""
    n_bins = len(QUANTILES) - 1
    out = torch.full((n_bins, k), -1, dtype=torch.int64)
    edges = torch.quantile(vals.double(), torch.tensor(QUANTILES, dtype=torch.float64)).float()
    for b in range(n_bins):
        last = b == n_bins - 1
        inside = (vals >= edges[b]) & ((vals <= edges[b + 1]) if last else (vals < edges[b + 1]))
        cand, cv = pos[inside], vals[inside]
        order = cv.argsort(descending=True)[:k] if last else torch.randperm(len(cand), generator=gen)[:k]
        pick = cand[order]
        pick = pick[cv[order].argsort(descending=True)]
        out[b, :len(pick)] = pick
    return edges, out


def quantile_examples(acts: Tensor, tokens: Tensor, doc_ids: Tensor, valid: Tensor, k: int = 5, seed: int = 0
                      ) -> dict[str, np.ndarray]:
    """Examples by quantile bin of every neuron's positive activations (over valid tokens) and their histogram."""
    n, L, d = acts.shape
    gen = torch.Generator().manual_seed(seed)
    n_bins, W = len(QUANTILES) - 1, CONTEXT[0] + 1 + CONTEXT[1]
    flat = torch.where(valid[:, None], acts.reshape(n, L * d), torch.zeros(()))
    a = {"bin_edges": np.zeros((L * d, n_bins + 1), np.float32), "q_ex_act": np.zeros((L * d, n_bins, k), np.float32),
         "q_ex_ctx_tokens": np.full((L * d, n_bins, k, W), -1, np.int32),
         "q_ex_ctx_acts": np.zeros((L * d, n_bins, k, W), np.float32),
         "hist_counts": np.zeros((L * d, HIST_BINS), np.int32),
         "hist_edges": np.zeros((L * d, HIST_BINS + 1), np.float32)}
    for u in range(L * d):
        col = flat[:, u]
        pos = torch.nonzero(col > 0).squeeze(1)
        if len(pos) == 0:
            continue
        vals = col[pos]
        edges, idx = _bin_picks(vals, pos, k, gen)
        a["bin_edges"][u] = edges.numpy()
        ids = idx.reshape(-1)
        ctx = context_windows(tokens, doc_ids, ids, *CONTEXT)
        ok = ctx >= 0
        a["q_ex_act"][u] = torch.where(ids >= 0, col[ids.clamp_min(0)], torch.zeros(())).reshape(n_bins, k).numpy()
        a["q_ex_ctx_tokens"][u] = torch.where(ok, tokens[ctx.clamp_min(0)], -1).reshape(n_bins, k, W).numpy()
        a["q_ex_ctx_acts"][u] = torch.where(ok, col[ctx.clamp_min(0)], 0.0).reshape(n_bins, k, W).numpy()
        a["hist_counts"][u], a["hist_edges"][u] = np.histogram(vals.numpy(), bins=HIST_BINS)
    return {name: v.reshape(L, d, *v.shape[1:]) for name, v in a.items()}


@torch.no_grad()
def logit_effects(model, t: int = 10, chunk: int = 256) -> dict[str, np.ndarray]:
    """Top-t positive and negative logits of every neuron's output direction (zeros where a layer has no linear
    path to the logits)."""
    from interp.steering.scores import vocab_logits

    L, d = model.cfg.n_layers, model.cfg.d_mlp
    t = min(t, model.cfg.d_vocab)
    out = {k: np.zeros((L, d, t), np.int32 if k.endswith("ids") else np.float32)
           for k in ("logit_pos_ids", "logit_pos_vals", "logit_neg_ids", "logit_neg_vals")}
    for layer in range(L):
        for i in range(0, d, chunk):
            eye = torch.eye(d)[i:i + chunk]
            try:
                logits = vocab_logits(model, f"blocks.{layer}.mlp.hook_post", eye.to(model.cfg.device))
            except ValueError:
                continue
            for sign, got in (("pos", logits.topk(t, dim=-1)), ("neg", logits.topk(t, dim=-1, largest=False))):
                out[f"logit_{sign}_ids"][layer, i:i + chunk] = got.indices.numpy()
                out[f"logit_{sign}_vals"][layer, i:i + chunk] = got.values.numpy()
    return out


def best_correlates(acts: list[Tensor]) -> tuple[np.ndarray, np.ndarray]:
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


REQUIRED = ("ex_act", "ex_ctx_tokens", "ex_ctx_acts", "bin_edges", "q_ex_act", "q_ex_ctx_tokens", "q_ex_ctx_acts",
            "hist_counts", "hist_edges", "logit_pos_ids", "logit_pos_vals", "logit_neg_ids", "logit_neg_vals")


def validate(arrays: dict[str, np.ndarray]) -> None:
    """Raise ValueError unless every array is there, examples match their contexts, top examples are sorted and
    quantile examples lie inside their bins."""
    missing = [k for k in REQUIRED if k not in arrays]
    if missing:
        raise ValueError(f"neuron pages lack arrays {missing}")
    centre = arrays["ex_ctx_acts"][..., CONTEXT[0]]
    if not np.allclose(centre, arrays["ex_act"], atol=1e-5):
        raise ValueError("a neuron example's activation differs from its context's centre")
    if (np.diff(arrays["ex_act"], axis=-1) > 1e-6).any():
        raise ValueError("neuron examples are not sorted by activation")
    edges, act = arrays["bin_edges"], arrays["q_ex_act"]
    shown = arrays["q_ex_ctx_tokens"][..., CONTEXT[0]] >= 0
    tol = 1e-5 * np.maximum(1.0, np.abs(edges).max(axis=-1))[..., None, None]
    outside = shown & ((act < edges[..., :-1, None] - tol) | (act > edges[..., 1:, None] + tol))
    if outside.any():
        layer, n, b, _ = (int(x[0]) for x in np.nonzero(outside))
        raise ValueError(f"L{layer} N{n}: a quantile example lies outside its bin {b}")
    if not np.allclose(np.where(shown, arrays["q_ex_ctx_acts"][..., CONTEXT[0]], 0), np.where(shown, act, 0),
                       atol=1e-5):
        raise ValueError("a quantile example's activation differs from its context's centre")


def save_neuron_pages(folder: str | Path, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> Path:
    validate(arrays)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / (FILES[0] + ".tmp")
    save_file({k: np.ascontiguousarray(v) for k, v in arrays.items()}, str(tmp))
    tmp.replace(folder / FILES[0])
    tmp = folder / (FILES[1] + ".tmp")
    tmp.write_text(json.dumps({"schema_version": SCHEMA_VERSION, "kind": KIND, **meta, "arrays": sorted(arrays)}))
    tmp.replace(folder / FILES[1])
    return folder


def load_neuron_pages(folder: str | Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    folder = Path(folder)
    if not (folder / FILES[1]).is_file():
        raise FileNotFoundError(f"{folder} holds no neuron pages ({FILES[1]})")
    meta = json.loads((folder / FILES[1]).read_text())
    if meta.get("kind") != KIND or meta.get("schema_version") != SCHEMA_VERSION:
        raise ValueError(f"{folder / FILES[1]}: not {KIND} schema {SCHEMA_VERSION}")
    arrays = load_file(str(folder / FILES[0]))
    if set(meta["arrays"]) - set(arrays):
        raise ValueError(f"{folder / FILES[0]} lacks arrays listed in {FILES[1]}")
    return arrays, meta


def build_neuron_pages(models: list, names: list[str], n_docs: int, seed: int = 0, k: int = 5
                       ) -> list[tuple[dict[str, np.ndarray], dict[str, Any]]]:
    """Examples of every model's neurons over n_docs held-out toy-world documents (of the first model's world, toy1
    for a model of none); correlates when there are several models."""
    from interp.worlds import LEGACY_WORLD, get_world, world_name_of_model

    world = get_world(world_name_of_model(models[0]) or LEGACY_WORLD)
    docs = world.docs(n_docs, seed, "heldout", models[0].cfg.n_ctx)
    rows = torch.as_tensor(docs.tokens, dtype=torch.long)
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
        meta = {"model": name, "n_tokens": int(valid.sum()), "context": list(CONTEXT), "vocab": vocab,
                "quantiles": list(QUANTILES), "bin_names": list(BIN_NAMES),
                "others": [n for n in names if n != name] if ids is not None else []}
        if ids is not None:
            arrays["corr_ids"], arrays["corr_vals"] = ids[i], vals[i]
        out.append((arrays, meta))
    return out


def neuron_summary(arrays: dict[str, np.ndarray], meta: dict[str, Any], layer: int, neuron: int, n: int = 3) -> str:
    """One sentence on a neuron: the tokens its top examples fire on and the logits its output promotes and
    suppresses (as saes.feature_pages.FeaturePages.summary says of a feature)."""
    vocab = meta.get("vocab")
    tok = lambda i: repr(vocab[i] if vocab is not None and 0 <= i < len(vocab) else f"#{i}")  # noqa: E731
    if float(arrays["ex_act"][layer, neuron, 0]) <= 0:
        return f"Never fired on the {meta['n_tokens']:,} tokens of its examples."
    ids = arrays["ex_ctx_tokens"][layer, neuron, :, CONTEXT[0]]
    ids, counts = np.unique(ids[ids >= 0], return_counts=True)
    fires = ", ".join(tok(int(ids[i])) for i in np.argsort(-counts, kind="stable")[:n])
    text = f"Fires most on {fires} (its top examples' tokens)"
    if np.abs(arrays["logit_pos_vals"][layer, neuron]).max(initial=0) > 0:
        up = ", ".join(tok(int(i)) for i in arrays["logit_pos_ids"][layer, neuron][:n])
        down = ", ".join(tok(int(i)) for i in arrays["logit_neg_ids"][layer, neuron][:n])
        text += f"; its output promotes {up}; suppresses {down}"
    return text + "."
