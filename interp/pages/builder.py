"""The one page builder over a unit x token activation matrix, shared by feature pages (interp.pages.features) and
neuron pages (interp.neurons.pages): a unit is a dictionary feature or an MLP neuron, a token a global token index
of a cache or corpus (interp.examples).

Per unit: quantile-bin examples (bins are quantiles QUANTILES of the unit's positive activations; the last bin holds
the top examples, the others a seeded sample; each example with its context tokens and the unit's activation on
each), the histogram of its positive activations, its top positive / negative VocabProj logits
(interp.steering.scores.vocab_logits) and its AUROC as a detector of each ground-truth concept. The constants that
say how pages bin, flag and label units live here once, so feature and neuron pages (and the explorer) agree.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import torch
from jaxtyping import Bool, Float, Int, Shaped
from torch import Tensor

from interp.examples import CONTEXT, context_windows

if TYPE_CHECKING:
    from transformer_lens import HookedTransformer

QUANTILES = (0.0, 0.5, 0.9, 0.99, 1.0)
"""Edges of the quantile bins over a unit's positive activations: 0-50%, 50-90%, 90-99%, top 1%."""
BIN_NAMES = ("0-50%", "50-90%", "90-99%", "top 1%")
HIST_BINS = 30
"""Bins of the histogram of a unit's positive activations."""
DENSE_THRESHOLD = 0.1
"""A unit firing on more than this fraction of tokens is flagged dense."""
CONCEPT_AUROC_BAR = 0.9
"""A unit is labelled with its best-matching concept only when the concept's AUROC reaches this bar."""
NO_CONCEPT = "no clear concept"
"""The label of a unit whose best concept stays below CONCEPT_AUROC_BAR (or of a corpus without concepts)."""
EXAMPLE_ARRAYS = ("bin_edges", "ex_index", "ex_act", "ex_ctx_tokens", "ex_ctx_acts", "hist_counts", "hist_edges")
"""What `unit_examples` returns, per unit: [B+1], [B K], [B K], [B K W], [B K W], [H], [H+1]."""


def quantile_examples(col: Float[Tensor, " n"], k: int, gen: torch.Generator
                      ) -> tuple[Float[Tensor, " bins_plus_1"], Int[Tensor, "bins k"]]:
    """Bin edges [B+1] over col's positive values and example indices [B, K] (-1 where a bin has too few)."""
    n_bins = len(QUANTILES) - 1
    out = torch.full((n_bins, k), -1, dtype=torch.int64)
    pos = torch.nonzero(col > 0).squeeze(1)
    if len(pos) == 0:
        return torch.zeros(n_bins + 1), out
    vals = col[pos]
    edges = torch.quantile(vals.double(), torch.tensor(QUANTILES, dtype=torch.float64)).float()
    for b in range(n_bins):
        last = b == n_bins - 1
        inside = (vals >= edges[b]) & ((vals <= edges[b + 1]) if last else (vals < edges[b + 1]))
        cand, cv = pos[inside], vals[inside]
        # the top bin shows its largest values, the others a seeded sample; both sorted, largest first
        order = cv.argsort(descending=True)[:k] if last else torch.randperm(len(cand), generator=gen)[:k]
        pick = cand[order]
        pick = pick[cv[order].argsort(descending=True)]
        out[b, :len(pick)] = pick
    return edges, out


def unit_examples(acts: Float[Tensor, "unit n"], tokens: Int[Tensor, " n"], doc_ids: Int[Tensor, " n"],
                  valid: Bool[Tensor, " n"], k: int, seed: int) -> dict[str, Shaped[np.ndarray, "*shape"]]:
    """Quantile-bin examples in context and the histogram of every unit's positive activations over `valid` tokens
    (EXAMPLE_ARRAYS, one row per unit); one seeded generator over all units, so pages are reproducible."""
    gen = torch.Generator().manual_seed(seed)
    U, n_bins = acts.shape[0], len(QUANTILES) - 1
    W = CONTEXT[0] + 1 + CONTEXT[1]
    a = {"bin_edges": np.zeros((U, n_bins + 1), np.float32), "ex_index": np.full((U, n_bins, k), -1, np.int64),
         "ex_act": np.zeros((U, n_bins, k), np.float32), "ex_ctx_tokens": np.full((U, n_bins, k, W), -1, np.int32),
         "ex_ctx_acts": np.zeros((U, n_bins, k, W), np.float32), "hist_counts": np.zeros((U, HIST_BINS), np.int32),
         "hist_edges": np.zeros((U, HIST_BINS + 1), np.float32)}
    for u in range(U):
        col = torch.where(valid, acts[u], torch.zeros(()))
        edges, idx = quantile_examples(col, k, gen)
        if (idx < 0).all():
            continue  # a unit that never fired: no examples, no histogram
        a["bin_edges"][u] = edges.numpy()
        flat = idx.reshape(-1)
        ctx = context_windows(tokens, doc_ids, flat, *CONTEXT)
        ok = ctx >= 0
        a["ex_index"][u] = idx.numpy()
        a["ex_act"][u] = torch.where(flat >= 0, col[flat.clamp_min(0)], torch.zeros(())).reshape(idx.shape).numpy()
        a["ex_ctx_tokens"][u] = torch.where(ok, tokens[ctx.clamp_min(0)], -1).reshape(n_bins, k, W).numpy()
        a["ex_ctx_acts"][u] = torch.where(ok, col[ctx.clamp_min(0)], 0.0).reshape(n_bins, k, W).numpy()
        a["hist_counts"][u], a["hist_edges"][u] = np.histogram(col[col > 0].numpy(), bins=HIST_BINS)
    return a


def bin_violation(edges: Float[np.ndarray, "*unit bins_plus_1"], act: Float[np.ndarray, "*unit bins k"],
                  ctx_acts: Float[np.ndarray, "*unit bins k window"], shown: Bool[np.ndarray, "*unit bins k"],
                  unit_name: Callable[[tuple[int, ...]], str] = lambda at: f"unit {at}") -> str | None:
    """Why quantile-bin examples are inconsistent (an example outside the bin it claims, or an activation that
    differs from its context's centre), naming the first offending unit by `unit_name(unit index)`; None when they
    are consistent. edges [..., B+1], act / shown [..., B, K], ctx_acts [..., B, K, W]."""
    lo, hi = edges[..., :-1, None], edges[..., 1:, None]
    tol = 1e-5 * np.maximum(1.0, np.abs(edges).max(axis=-1))[..., None, None]
    outside = shown & ((act < lo - tol) | (act > hi + tol))
    if outside.any():
        at = tuple(int(x[0]) for x in np.nonzero(outside))
        return (f"{unit_name(at[:-2])}: example {at[-1]} (activation {act[at]:.4g}) is outside its quantile bin "
                f"{at[-2]} [{edges[at[:-1]]:.4g}, {edges[(*at[:-2], at[-2] + 1)]:.4g}]")
    if not np.allclose(np.where(shown, ctx_acts[..., CONTEXT[0]], 0), np.where(shown, act, 0), atol=1e-5):
        return "an example's activation differs from its context's centre activation"
    return None


def logit_tables(model: HookedTransformer, hook: str, directions: Float[Tensor, "unit d"], t: int
                 ) -> dict[str, Shaped[np.ndarray, "*shape"]]:
    """Top-t positive and negative VocabProj logits of every direction written at `hook` (zeros when the hook has no
    linear path to the logits): logit_pos_ids / _vals, logit_neg_ids / _vals [unit, t]."""
    from interp.steering.scores import vocab_logits

    t = min(t, model.cfg.d_vocab)
    try:
        logits = vocab_logits(model, hook, directions)
    except ValueError:
        logits = torch.zeros(len(directions), model.cfg.d_vocab)
    top, bot = logits.topk(t, dim=-1), logits.topk(t, dim=-1, largest=False)
    return {"logit_pos_ids": top.indices.int().numpy(), "logit_pos_vals": top.values.numpy(),
            "logit_neg_ids": bot.indices.int().numpy(), "logit_neg_vals": bot.values.numpy()}


class ConceptMatch(NamedTuple):
    """Concepts present in the AUROC's token sample, the AUROC matrix, and what it rests on."""

    concepts: list[str]
    auroc: Float[Tensor, "concept unit"]
    positives: list[int]
    """Concept-positive tokens of each concept in the sample."""
    sample: int
    """Tokens in the sample."""


def concept_match(acts: Float[Tensor, "n unit"], labels: Int[np.ndarray, "n field"], n_max: int, gen: torch.Generator,
                  taxonomy) -> ConceptMatch:
    """Concepts of `taxonomy` (the labels' world, interp.worlds.taxonomy.Taxonomy) present in a sample of n_max
    tokens, and the AUROC matrix [concept, unit] of the activations as detectors of each."""
    from interp.auroc import auroc

    sel = torch.randperm(len(acts), generator=gen)[:n_max]
    lab = labels[sel.numpy()]
    names, masks = [], []
    for c in taxonomy.all_concepts():
        m = taxonomy.concept_mask(lab, c)
        if 5 <= m.sum() <= len(m) - 5:  # too few positives or negatives give no meaningful AUROC
            names.append(c)
            masks.append(torch.from_numpy(m))
    if not names:
        return ConceptMatch([], torch.zeros(0, acts.shape[1]), [], len(sel))
    return ConceptMatch(names, auroc(acts[sel], torch.stack(masks)).float(), [int(m.sum()) for m in masks], len(sel))


def concept_label(concepts: list[str], best: int, auroc_value: float) -> str:
    """A unit's label: its best concept when that concept's AUROC reaches CONCEPT_AUROC_BAR, else NO_CONCEPT."""
    return concepts[best] if best >= 0 and auroc_value >= CONCEPT_AUROC_BAR else NO_CONCEPT
