"""The dictionary evaluation report (eval.json beside the weights) of SAEs (`evaluate`, `interp eval-sae`) and
SNMF (`evaluate_snmf`), both through one `dictionary_report`.

On held-out toy-world text (the model's own tokenization of it when the model is not a toy-world model), BOS
positions left out, it reports with the names of methods.md §2: l0, r2 (float64 explained variance), r2_legacy
(SAELens <= 6.x style, per batch of documents, token-weighted mean), mse (normalised by nothing: raw activation
space), cosine_similarity, ce_loss_recovered and kl_score (saes.eval.splice.splice_eval: SAE spliced in vs zero
ablation), dead_fraction and dense_fraction (on the eval tokens), log_density_histogram; ground_truth: for every
toy-world concept present in the eval tokens the best single latent's AUROC and F1, their means over concepts and the
concepts no latent captures (AUROC < 0.9); seed_stability against --compare (best match per latent, and
one-to-one: seed_stability_matched). Metrics come from saes.eval.metrics.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from interp.activations.stream import hook_activations, hook_width
from saes import io
from saes.eval import metrics
from saes.eval.splice import splice_eval

REPORT = "eval.json"
BATCH_DOCS = 32


def eval_rows(model, n_tokens: int, seed: int, n_ctx: int) -> tuple[Tensor, np.ndarray | None]:
    """Held-out documents [doc, n_ctx] and their labels (None when the model is not a toy-world model)."""
    from interp.activations.sources import PackedTextSource, is_toy_tokenizer, toy_texts
    from interp.toyworld.corpus import CorpusConfig, generate_docs

    n_ctx = min(n_ctx, model.cfg.n_ctx)
    n_docs = max(1, math.ceil(n_tokens / (n_ctx - 1)))
    ccfg = CorpusConfig(seed=seed, n_ctx=n_ctx, split="heldout")
    if is_toy_tokenizer(model.tokenizer):
        docs = generate_docs(ccfg, n_docs)
        return torch.from_numpy(docs.tokens).long(), docs.labels
    rows = PackedTextSource(toy_texts(ccfg), model.tokenizer, n_ctx, {"kind": "toyworld-text"}).rows(0, n_docs)
    return rows.tokens.long(), None


@torch.no_grad()
def reconstruction(dictionary, batches: Iterable[Tensor], keep_codes: int) -> tuple[dict, Tensor]:
    """Reconstruction metrics of decode(encode(x)) over every batch x [tokens, d_in], and the codes of the first
    `keep_codes` tokens (for the ground-truth concept scores)."""
    acc = metrics.ReconstructionAccumulator(dictionary.d_sae)
    codes: list[Tensor] = []
    kept = 0
    for x in batches:
        f = dictionary.encode(x)
        acc.update(x, dictionary.decode(f), f)
        if kept < keep_codes:
            codes.append(f[: keep_codes - kept].float().cpu())
            kept += len(codes[-1])
    return acc.report(), torch.cat(codes) if codes else torch.empty(0, dictionary.d_sae)


def _token_acts(model, hook: str, tokens: Tensor, device, max_tokens: int | None) -> Iterator[Tensor]:
    """Activations [token, d] of `hook` on rows of `tokens`, BOS positions dropped, BATCH_DOCS rows at a time,
    at most `max_tokens` tokens in all."""
    left = max_tokens if max_tokens is not None else len(tokens) * (tokens.shape[1] - 1)
    for b0 in range(0, len(tokens), BATCH_DOCS):
        if left <= 0:
            return
        batch = tokens[b0:b0 + BATCH_DOCS]
        x = hook_activations(model, hook, batch).reshape(len(batch), batch.shape[1], -1)[:, 1:]  # [doc, pos, d]
        x = x.reshape(-1, x.shape[-1])[:left].to(device)  # [token, d]
        left -= len(x)
        yield x


def ground_truth(codes: Tensor, labels: np.ndarray) -> dict:
    """Ground-truth concept scores of the codes of the eval documents' tokens (BOS positions dropped)."""
    lab = labels[:, 1:].reshape(-1, labels.shape[-1])[: len(codes)]  # [doc, pos, field] -> [token, field], no BOS
    return metrics.ground_truth_report(codes, lab)


def _ignore_ids(tokenizer) -> list[int]:
    if tokenizer is None:
        return []
    return sorted({t for t in (tokenizer.pad_token_id, tokenizer.eos_token_id) if t is not None})


def dictionary_report(dictionary, model, hook: str, tokens: Tensor, labels: np.ndarray | None,
                      ground_truth_tokens: int, max_tokens: int | None = None, device="cpu") -> dict:
    """The eval.json fields of any dictionary (SAE, SNMF) spliced into `model` at `hook`, on token rows `tokens`
    [doc, pos] (BOS first; `max_tokens` caps the non-BOS tokens of the reconstruction metrics) with their toy-world
    labels, when known."""
    keep = ground_truth_tokens if labels is not None else 0
    rec, codes = reconstruction(dictionary, _token_acts(model, hook, tokens, device, max_tokens), keep)
    splice = splice_eval(model, hook, dictionary, tokens.split(BATCH_DOCS), _ignore_ids(model.tokenizer))
    report = {k: rec[k] for k in ("l0", "r2", "r2_legacy", "mse", "cosine_similarity")}
    report.update(ce_loss_recovered=splice.ce_loss_recovered, kl_score=splice.kl_score)
    report.update({k: rec[k] for k in ("dead_fraction", "dense_fraction", "log_density_histogram")})
    report["ground_truth"] = ground_truth(codes, labels) if labels is not None and len(codes) else None
    report["n_tokens"] = rec["n_tokens"]
    report["splice"] = {k: getattr(splice, k) for k in ("ce_clean", "ce_sae", "ce_zero", "kl_sae", "kl_zero",
                                                       "n_tokens")}
    return report


def evaluate(sae, model, hook: str | None = None, n_tokens: int = 32_768, seed: int = 0, n_ctx: int = 128,
             ground_truth_tokens: int = 8192, compare=None) -> dict:
    """The full report for `sae` (raw-activation SAE, e.g. from saes.io.load) spliced into `model` at `hook`."""
    hook = hook or sae.cfg.hook_name
    width = hook_width(model, hook)
    if width != sae.cfg.d_in:
        raise ValueError(f"d_in mismatch: the SAE has d_in={sae.cfg.d_in} but {hook} of this model has d={width}; "
                         f"pass the hook (--hook) and model (--model) the SAE was trained on")
    sae = sae.eval()
    tokens, labels = eval_rows(model, n_tokens, seed, n_ctx)
    report = dictionary_report(sae, model, hook, tokens, labels, ground_truth_tokens, device=sae.W_dec.device)
    report["seed_stability"] = report["seed_stability_matched"] = None
    if compare is not None:
        a, b = sae.W_dec.detach().cpu(), compare.W_dec.detach().cpu()
        report["seed_stability"] = metrics.seed_stability(a, b)
        if max(len(a), len(b)) <= metrics.MATCH_MAX_LATENTS:
            report["seed_stability_matched"] = asdict(metrics.matched_seed_stability(a, b))
    report["data"] = {"corpus": "toyworld heldout", "seed": seed, "n_ctx": tokens.shape[1], "hook": hook}
    return report


def evaluate_snmf(snmf, model, layer: int, n_tokens: int = 8192, seed: int = 0) -> dict:
    """The SAE-style report of an SNMF spliced into `model` at blocks.`layer`.mlp.hook_post, over the first
    `n_tokens` non-BOS tokens of held-out toy-world documents (codes by NNLS on F; every code scored)."""
    tokens, labels = eval_rows(model, n_tokens, seed, model.cfg.n_ctx)
    report = dictionary_report(snmf, model, snmf.hook_name, tokens, labels, n_tokens, max_tokens=n_tokens)
    report["data"] = {"corpus": "toyworld heldout", "seed": seed, "n_ctx": model.cfg.n_ctx, "hook": snmf.hook_name}
    return report


def _clean(v):
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dict):
        return {k: _clean(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_clean(x) for x in v]
    return v


def write_report(folder: str | Path, report: dict, path: str | Path | None = None) -> Path:
    """Write the report as JSON (non-finite numbers as null) to folder/eval.json or `path`."""
    target = Path(path) if path else Path(folder) / REPORT
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(json.dumps(_clean(report), indent=1))
    tmp.replace(target)
    return target


def main(cfg) -> dict:
    """CLI entry (`interp eval-sae`): load the SAE (and --compare), evaluate, write eval.json, print the headline."""
    from interp.models import load_model
    from interp.runtime import resolve_device

    device = resolve_device(cfg.device)
    sae = io.load(cfg.sae, device=device)
    model_name = cfg.model or sae.cfg.model_name
    if not model_name:
        raise ValueError(f"{cfg.sae}/cfg.json records no model; pass --model")
    compare = io.load(cfg.compare, device=device) if cfg.compare else None
    report = evaluate(sae, load_model(model_name, device=device), cfg.hook or None, cfg.tokens, cfg.seed,
                      cfg.n_ctx, cfg.ground_truth_tokens, compare)
    report["model"] = model_name
    if compare is not None:
        report["compare"] = str(cfg.compare)
    path = write_report(cfg.sae, report, cfg.out or None)
    head = " ".join(f"{k}={report[k]:.4g}" for k in ("l0", "r2", "r2_legacy", "ce_loss_recovered", "kl_score",
                                                      "dead_fraction") if report[k] is not None)
    print(f"wrote {path}: {head}")
    return report
