"""eval.json for an SNMF result, with the SAE report's names (methods.md §2) so the two compare directly.

On held-out toy-world documents: l0, r2 (float64, streaming), r2_legacy, mse, cosine_similarity over the non-BOS
tokens, codes from NNLS on F; ce_loss_recovered and kl_score from saes.eval_model.splice_eval (decode(encode(x))
spliced in at every position, as for SAEs); dead_fraction / dense_fraction; ground_truth: per toy-world concept the
best feature's AUROC and F1 (saes.metrics.concept_scores), their means and the concepts missed (AUROC < 0.9).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from interp.toyworld import labels as L
from saes import metrics
from saes.eval_model import splice_eval
from saes.snmf_data import ModelSource
from saes.snmf_dictionary import SNMF, atomic_write

REPORT = "eval.json"
BATCH_DOCS = 32


def ground_truth(codes_NK: Tensor, labels_NF: np.ndarray) -> dict:
    """Best single feature per concept present (with positives and negatives) in the eval tokens."""
    masks, absent = {}, []
    for concept in L.all_concepts():
        mask = L.concept_mask(labels_NF, concept)
        if 0 < mask.sum() < len(mask):
            masks[concept] = torch.from_numpy(mask)
        else:
            absent.append(concept)
    if not masks:
        return {"n_tokens": len(codes_NK), "concepts": {}, "mean_auroc": None, "mean_f1": None, "missed": [],
                "absent": absent}
    sc = metrics.concept_scores(codes_NK, masks)
    per = {c: {"latent": int(sc.best_latent[i]), "auroc": float(sc.auroc[i]), "f1": float(sc.f1[i])}
           for i, c in enumerate(sc.names)}
    return {"n_tokens": len(codes_NK), "concepts": per, "mean_auroc": sc.mean_auroc, "mean_f1": sc.mean_f1,
            "missed": sc.missed, "absent": absent}


@torch.no_grad()
def reconstruction(snmf: SNMF, source: ModelSource) -> tuple[dict, Tensor]:
    """Reconstruction metrics over the source's tokens and all their codes."""
    r2 = metrics.R2Accumulator()
    sums, legacy, n = torch.zeros(3, dtype=torch.float64), 0.0, 0
    counts = torch.zeros(snmf.d_sae, dtype=torch.int64)
    codes = []
    for x in source.batches():
        g = snmf.encode(x)
        x_hat = snmf.decode(g)
        m = len(x)
        r2.update(x, x_hat)
        sums += torch.tensor([metrics.l0(g), metrics.mse(x, x_hat), metrics.cosine_similarity(x, x_hat)]) * m
        legacy += metrics.r2_legacy(x, x_hat) * m
        counts += metrics.firing_counts(g)
        codes.append(g)
        n += m
    l0, mse, cos = (sums / n).tolist()
    hist = metrics.log_density_histogram(counts, n)
    out = {"l0": l0, "r2": r2.compute(), "r2_legacy": legacy / n, "mse": mse, "cosine_similarity": cos,
           "dead_fraction": metrics.dead_fraction(counts, n), "dense_fraction": metrics.dense_fraction(counts, n),
           "log_density_histogram": {"counts": hist.counts.tolist(), "edges": hist.edges.tolist(),
                                     "n_dead": hist.n_dead}, "n_tokens": n}
    return out, torch.cat(codes)


def evaluate_snmf(snmf: SNMF, model, layer: int, n_tokens: int = 8192, seed: int = 0) -> dict:
    """The SAE-style report of `snmf` spliced into `model` at blocks.`layer`.mlp.hook_post."""
    src = ModelSource(model, layer, n_tokens, batch_size=BATCH_DOCS * (model.cfg.n_ctx - 1), seed=seed,
                      split="heldout")
    rec, codes = reconstruction(snmf, src)
    splice = splice_eval(model, snmf.hook_name, snmf, src.token_batches())
    report = {k: rec[k] for k in ("l0", "r2", "r2_legacy", "mse", "cosine_similarity")}
    report.update(ce_loss_recovered=splice.ce_loss_recovered, kl_score=splice.kl_score)
    report.update({k: rec[k] for k in ("dead_fraction", "dense_fraction", "log_density_histogram")})
    report["ground_truth"] = ground_truth(codes, src.labels.numpy())
    report["n_tokens"] = rec["n_tokens"]
    report["splice"] = {k: getattr(splice, k) for k in ("ce_clean", "ce_sae", "ce_zero", "kl_sae", "kl_zero",
                                                       "n_tokens")}
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


def write_report(folder: str | Path, report: dict) -> Path:
    """folder/eval.json, non-finite numbers as null, written atomically."""
    path = Path(folder) / REPORT
    atomic_write(path, lambda p: p.write_text(json.dumps(_clean(report), indent=1)))
    return path
