"""eval.json for an SNMF result, with the SAE report's names (methods.md §2) so the two compare directly.

On held-out toy-world documents: l0, r2 (float64, streaming), r2_legacy, mse, cosine_similarity over the non-BOS
tokens, codes from NNLS on F; ce_loss_recovered and kl_score from saes.eval_model.splice_eval (decode(encode(x))
spliced in at every position, as for SAEs); dead_fraction / dense_fraction; ground_truth: per toy-world concept the
best feature's AUROC and F1 (saes.metrics.concept_scores), their means and the concepts missed (AUROC < 0.9).
"""

from __future__ import annotations

import torch
from torch import Tensor

from saes import metrics
from saes.eval_model import splice_eval
from saes.snmf_data import ModelSource
from saes.snmf_dictionary import SNMF

BATCH_DOCS = 32


@torch.no_grad()
def reconstruction(snmf: SNMF, source: ModelSource) -> tuple[dict, Tensor]:
    """Reconstruction metrics over the source's tokens and all their codes."""
    acc = metrics.ReconstructionAccumulator(snmf.d_sae)
    codes = []
    for x in source.batches():
        g = snmf.encode(x)
        acc.update(x, snmf.decode(g), g)
        codes.append(g)
    out = acc.report()
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
    report["ground_truth"] = metrics.ground_truth_report(codes, src.labels.numpy())
    report["n_tokens"] = rec["n_tokens"]
    report["splice"] = {k: getattr(splice, k) for k in ("ce_clean", "ce_sae", "ce_zero", "kl_sae", "kl_zero",
                                                       "n_tokens")}
    report["data"] = {"corpus": "toyworld heldout", "seed": seed, "n_ctx": model.cfg.n_ctx, "hook": snmf.hook_name}
    return report


