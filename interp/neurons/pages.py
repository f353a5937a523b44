"""Precomputed neuron pages: top-activating examples of every MLP neuron and each neuron's best correlate in other
seeds' models (the explorer's neuron page shows them next to interp.neurons' statistics and universality).

`neuron_examples(model, docs)` -> arrays ex_act [L, d, K], ex_ctx_tokens / ex_ctx_acts [L, d, K, W];
`best_correlates(acts)` -> corr_ids / corr_vals [model, other, L, d] (Pearson correlation over the same tokens).
Written as examples.safetensors + examples.json (schema, models, vocab) with `save_neuron_pages`; every example's
activation equals the centre of its context and is among the neuron's K largest (checked before writing).
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

SCHEMA_VERSION = 1
KIND = "interp-neuron-pages"
FILES = ("examples.safetensors", "examples.json")


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


def validate(arrays: dict[str, np.ndarray]) -> None:
    centre = arrays["ex_ctx_acts"][..., CONTEXT[0]]
    if not np.allclose(centre, arrays["ex_act"], atol=1e-5):
        raise ValueError("a neuron example's activation differs from its context's centre")
    if (np.diff(arrays["ex_act"], axis=-1) > 1e-6).any():
        raise ValueError("neuron examples are not sorted by activation")


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
    """Examples of every model's neurons over n_docs held-out documents; correlates when there are several models."""
    from interp.toyworld.corpus import CorpusConfig, generate_docs

    docs = generate_docs(CorpusConfig(seed=seed, split="heldout", n_ctx=models[0].cfg.n_ctx), n_docs)
    rows = torch.as_tensor(docs.tokens, dtype=torch.long)
    tokens = rows.reshape(-1)
    doc_ids = torch.arange(rows.shape[0]).repeat_interleave(rows.shape[1])
    valid = torch.arange(rows.shape[1]).repeat(rows.shape[0]) != 0
    acts = [mlp_acts(m, rows) for m in models]
    ids, vals = best_correlates(acts) if len(models) > 1 else (None, None)
    vocab = models[0].to_str_tokens(torch.arange(models[0].cfg.d_vocab))
    out = []
    for i, name in enumerate(names):
        arrays = neuron_examples(acts[i], tokens, doc_ids, valid, k)
        meta = {"model": name, "n_tokens": int(valid.sum()), "context": list(CONTEXT), "vocab": vocab,
                "others": [n for n in names if n != name] if ids is not None else []}
        if ids is not None:
            arrays["corr_ids"], arrays["corr_vals"] = ids[i], vals[i]
        out.append((arrays, meta))
    return out
