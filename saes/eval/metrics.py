"""Dictionary metrics (docs/methods.md §2; SAEBench, Karvonen et al. 2025; seed stability: Paulo & Belrose 2025) as
pure functions of activations, codes and reconstructions; no model needed.

Names follow the spec: l0, r2 (explained variance, the correct one, float64 and streaming via R2Accumulator),
r2_legacy (SAEBench / SAELens <= 6.x: per-token variance around the batch mean; it differs from r2 and published
numbers mix them), mse, cosine_similarity, dead_fraction / dense_fraction and the log10-density histogram from firing
counts, ground-truth concept scores (best single latent per concept by AUROC, with its F1), and seed stability.
The model-based metrics (CE loss recovered, KL score) live in saes/eval/splice.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from jaxtyping import Bool, Float, Int
from torch import Tensor

from interp.auroc import auroc, fire_f1, require_both_classes
from interp.pages.builder import CONCEPT_AUROC_BAR
from interp.worlds.taxonomy import Taxonomy


def _flat(t: Tensor) -> Tensor:
    return t.reshape(-1, t.shape[-1])


def l0(feature_acts: Float[Tensor, "... d_sae"]) -> float:
    """Mean over tokens of the number of nonzero latents."""
    return float((_flat(feature_acts) != 0).sum(-1).double().mean())


def mse(x: Float[Tensor, "... d"], x_hat: Float[Tensor, "... d"]) -> float:
    """Mean over tokens of ||x - x̂||² (summed over the activation dimension, like the training loss)."""
    return float((_flat(x).double() - _flat(x_hat).double()).pow(2).sum(-1).mean())


def cosine_similarity(x: Float[Tensor, "... d"], x_hat: Float[Tensor, "... d"], eps: float = 1e-12) -> float:
    """Mean over tokens of cos(x, x̂)."""
    x_ND, y_ND = _flat(x).double(), _flat(x_hat).double()
    cos_N = (x_ND * y_ND).sum(-1) / (x_ND.norm(dim=-1) * y_ND.norm(dim=-1)).clamp_min(eps)
    return float(cos_N.mean())


class R2Accumulator:
    """Streaming R² = 1 - E||x - x̂||² / (E||x||² - ||E x||²), with all sums in float64."""

    def __init__(self) -> None:
        self.n = 0
        self.sse = 0.0
        self.sum_sq = 0.0
        self.sum_x: Tensor | None = None

    def update(self, x: Float[Tensor, "... d"], x_hat: Float[Tensor, "... d"]) -> None:
        x_ND, y_ND = _flat(x).double(), _flat(x_hat).double()
        self.n += x_ND.shape[0]
        self.sse += float((x_ND - y_ND).pow(2).sum())
        self.sum_sq += float(x_ND.pow(2).sum())
        s_D = x_ND.sum(0).cpu()
        self.sum_x = s_D if self.sum_x is None else self.sum_x + s_D

    def compute(self) -> float:
        if self.n == 0 or self.sum_x is None:
            raise ValueError("R2Accumulator.compute() before any update()")
        mean_D = self.sum_x / self.n
        total_var = self.sum_sq / self.n - float(mean_D.pow(2).sum())
        return 1.0 - (self.sse / self.n) / total_var


def r2(x: Float[Tensor, "... d"], x_hat: Float[Tensor, "... d"]) -> float:
    """Explained variance over all tokens of one batch (use R2Accumulator across batches)."""
    acc = R2Accumulator()
    acc.update(x, x_hat)
    return acc.compute()


def r2_legacy(x: Float[Tensor, "... d"], x_hat: Float[Tensor, "... d"]) -> float:
    """mean_t [1 - ||x_t - x̂_t||² / Σ_d (x_td - μ_d)²] with μ the batch mean (SAEBench paper, SAELens <= 6.x)."""
    x_ND, y_ND = _flat(x).double(), _flat(x_hat).double()
    resid_N = (x_ND - y_ND).pow(2).sum(-1)
    var_N = (x_ND - x_ND.mean(0, keepdim=True)).pow(2).sum(-1)
    return float((1 - resid_N / var_N).mean())


def firing_counts(feature_acts: Float[Tensor, "... d_sae"]) -> Int[Tensor, " d_sae"]:
    """Per latent, the number of tokens on which it is nonzero (int64); sum these over batches."""
    return (_flat(feature_acts) != 0).sum(0).long()


def dead_fraction(counts: Int[Tensor, " d_sae"], n_tokens: int) -> float:
    """Share of latents that fired on no token."""
    del n_tokens
    return float((counts == 0).double().mean())


def dense_fraction(counts: Int[Tensor, " d_sae"], n_tokens: int, threshold: float = 0.1) -> float:
    """Share of latents firing on more than `threshold` (10%) of tokens."""
    return float((counts.double() / n_tokens > threshold).double().mean())


@dataclass
class DensityHistogram:
    """Histogram of log10(firing frequency) over latents that fired; dead latents counted apart."""

    counts: Tensor
    edges: Tensor
    n_dead: int


def log_density_histogram(counts: Int[Tensor, " d_sae"], n_tokens: int, bins: int = 50, lo: float | None = None
                          ) -> DensityHistogram:
    """Histogram of log10(counts / n_tokens) on [lo, 0], lo defaulting to log10(1 / n_tokens)."""
    freq = counts.double() / n_tokens
    alive = freq[freq > 0]
    lo = float(torch.log10(torch.tensor(1.0 / n_tokens, dtype=torch.float64))) if lo is None else lo
    hist, edges = torch.histogram(torch.log10(alive), bins=bins, range=(lo, 0.0))
    return DensityHistogram(hist.long(), edges, int((freq == 0).sum()))


@dataclass
class ConceptScores:
    """Per concept, the best single latent as a detector of its tokens."""

    names: list[str]
    best_latent: Tensor
    auroc: Tensor
    f1: Tensor
    """F1 of "latent fires (> 0)" as a detector, for the best latent."""
    mean_auroc: float
    mean_f1: float
    missed: list[str] = field(default_factory=list)
    """Concepts whose best AUROC is below the threshold."""


def concept_scores(
    feature_acts: Float[Tensor, "n_tokens d_sae"],
    concept_masks: dict[str, Bool[Tensor, " n_tokens"]],
    auroc_threshold: float = CONCEPT_AUROC_BAR,
    chunk: int = 1024,
) -> ConceptScores:
    """For each concept mask, the latent with the highest AUROC over tokens, its AUROC and F1 (vectorised)."""
    names = list(concept_masks)
    acts_NF = _flat(feature_acts).float()
    mask_CN = torch.stack([concept_masks[c].reshape(-1).bool() for c in names])
    require_both_classes(mask_CN)
    best_auroc_C, best_C = auroc(acts_NF, mask_CN, chunk).max(dim=-1)
    f1_C = fire_f1(acts_NF[:, best_C].T, mask_CN)
    missed = [c for c, a in zip(names, best_auroc_C.tolist()) if a < auroc_threshold]
    return ConceptScores(names, best_C, best_auroc_C, f1_C, float(best_auroc_C.mean()), float(f1_C.mean()), missed)


def _unit_rows(W: Float[Tensor, "n d"]) -> Float[Tensor, "n d"]:
    """Rows scaled to unit norm, in float64 (decoder directions for cosine comparisons)."""
    W = W.double()
    return W / W.norm(dim=-1, keepdim=True).clamp_min(1e-12)


def seed_stability(
    W_dec_a: Float[Tensor, "d_sae_a d_in"], W_dec_b: Float[Tensor, "d_sae_b d_in"], threshold: float = 0.7
) -> float:
    """Fraction of latents of SAE A whose decoder row has cosine > threshold with some decoder row of SAE B."""
    a_FD, b_GD = _unit_rows(W_dec_a), _unit_rows(W_dec_b)
    best = torch.cat([(a_FD[i : i + 4096] @ b_GD.T).max(-1).values for i in range(0, a_FD.shape[0], 4096)])
    return float((best > threshold).double().mean())


MATCH_MAX_LATENTS = 8192
"""Largest SAE the one-to-one matching takes: the assignment is O(d_sae³) on a dense d_sae² cosine matrix."""


@dataclass
class MatchedStability:
    """Seed stability under a one-to-one (Hungarian) matching of the two SAEs' decoder rows."""

    shared: float
    """Share of SAE A's latents whose matched partner has decoder cosine > threshold."""
    mean_cosine: float
    """Mean decoder cosine of the matched pairs (over A's latents; unmatched ones, when A is wider, count 0)."""


def matched_seed_stability(
    W_dec_a: Float[Tensor, "d_sae_a d_in"], W_dec_b: Float[Tensor, "d_sae_b d_in"], threshold: float = 0.7
) -> MatchedStability:
    """Seed stability with each latent of B matched to at most one latent of A (Hungarian matching maximising the
    summed decoder cosine). Unlike `seed_stability`, several latents of A cannot all claim the same latent of B, so
    split or duplicated features count once; the share is never above `seed_stability`'s."""
    from scipy.optimize import linear_sum_assignment

    n_a, n_b = W_dec_a.shape[0], W_dec_b.shape[0]
    if max(n_a, n_b) > MATCH_MAX_LATENTS:
        raise ValueError(f"one-to-one matching takes SAEs of up to {MATCH_MAX_LATENTS} latents (O(d_sae³)); these "
                         f"have {n_a} and {n_b}: use seed_stability (best match per latent) instead")
    a_FD, b_GD = _unit_rows(W_dec_a), _unit_rows(W_dec_b)
    cos_FG = (a_FD @ b_GD.T).numpy()
    rows, cols = linear_sum_assignment(cos_FG, maximize=True)
    matched = cos_FG[rows, cols]
    return MatchedStability(float((matched > threshold).sum() / n_a), float(matched.sum() / n_a))


def concept_masks(labels_NL, taxonomy: Taxonomy | None = None) -> tuple[dict[str, Bool[Tensor, " n"]], list[str]]:
    """The token mask of every concept of `taxonomy` (default toy1's) present in the labels [token, field] but not on
    every token, and the concepts absent from them."""
    from interp.worlds import LEGACY_WORLD, get_world

    tax = taxonomy if taxonomy is not None else get_world(LEGACY_WORLD).taxonomy
    masks, absent = {}, []
    for concept in tax.all_concepts():
        mask = tax.concept_mask(labels_NL, concept)
        if 0 < mask.sum() < len(mask):
            masks[concept] = torch.from_numpy(mask)
        else:
            absent.append(concept)
    return masks, absent


def ground_truth_report(codes_NF: Float[Tensor, "n d_sae"], labels_NL, taxonomy: Taxonomy | None = None) -> dict:
    """Best single latent per toy-world concept present in the tokens (AUROC, F1), their means, the concepts no
    latent captures (`missed`: AUROC < 0.9) and the concepts absent from these tokens; `labels_NL` holds the
    label fields of each token in `taxonomy`'s schema (the labels' toy world; default toy1's). JSON-ready."""
    masks, absent = concept_masks(labels_NL, taxonomy)
    if not masks:
        return {"n_tokens": len(codes_NF), "concepts": {}, "mean_auroc": None, "mean_f1": None, "missed": [],
                "absent": absent}
    sc = concept_scores(codes_NF, masks)
    per = {c: {"latent": int(sc.best_latent[i]), "auroc": float(sc.auroc[i]), "f1": float(sc.f1[i])}
           for i, c in enumerate(sc.names)}
    return {"n_tokens": len(codes_NF), "concepts": per, "mean_auroc": sc.mean_auroc, "mean_f1": sc.mean_f1,
            "missed": sc.missed, "absent": absent}


class ReconstructionAccumulator:
    """Streams the reconstruction metrics of a dictionary over many batches into the eval.json fields.

    l0, mse and cosine are token-weighted means; r2 is the float64 explained variance over all tokens; r2_legacy
    the token-weighted mean of per-batch legacy R²; firing counts give dead / dense fractions and the histogram.
    """

    def __init__(self, d_sae: int, active_share: float = 0.0):
        self.r2 = R2Accumulator()
        self.sums = torch.zeros(3, dtype=torch.float64)  # l0, mse, cosine, each times the batch's token count
        self.legacy, self.n = 0.0, 0
        self.counts = torch.zeros(d_sae, dtype=torch.int64)
        # active_share > 0 (SNMF): a code is active above this share of its feature's largest code over all
        # batches, so the codes are kept (float32, CPU) and counted in report(); 0 (SAEs): nonzero, per batch
        self.active_share = active_share
        self.codes: list[Tensor] = []

    def update(self, x_ND: Float[Tensor, "n d_in"], x_hat_ND: Float[Tensor, "n d_in"],
               codes_NF: Float[Tensor, "n d_sae"]) -> None:
        m = len(x_ND)
        self.r2.update(x_ND, x_hat_ND)
        self.sums += torch.tensor([l0(codes_NF), mse(x_ND, x_hat_ND), cosine_similarity(x_ND, x_hat_ND)]) * m
        self.legacy += r2_legacy(x_ND, x_hat_ND) * m
        if self.active_share > 0:
            self.codes.append(codes_NF.reshape(-1, codes_NF.shape[-1]).float().cpu())
        else:
            self.counts += firing_counts(codes_NF).cpu()
        self.n += m

    def report(self) -> dict:
        n = self.n
        if self.codes:  # relative activity: the feature's largest code is only known now
            codes_NF = torch.cat(self.codes)
            self.counts = (codes_NF > self.active_share * codes_NF.max(0).values).sum(0).long()
            self.codes = []
        l0_, mse_, cos_ = (self.sums / n).tolist()
        hist = log_density_histogram(self.counts, n)
        return {"l0": l0_, "r2": self.r2.compute(), "r2_legacy": self.legacy / n, "mse": mse_,
                "cosine_similarity": cos_, "dead_fraction": dead_fraction(self.counts, n),
                "dense_fraction": dense_fraction(self.counts, n),
                "log_density_histogram": {"counts": hist.counts.tolist(), "edges": hist.edges.tolist(),
                                          "n_dead": hist.n_dead}, "n_tokens": n}
