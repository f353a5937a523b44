"""Feature absorption (Chanin et al. 2024, "A is for Absorption"; SAEBench's absorption eval, Karvonen et al. 2025)
on the toy world's hierarchies (docs/methods.md §7).

A parent concept splits into children: "animal" into the animal words (and "bird" into robin, ...), "female" into
the female names, "red" into the red objects. An SAE trained for sparsity can stop firing its "animal" latent on
"robin" and let a "robin" latent carry the animal direction instead: the parent feature is absorbed into the child.

Parents and children come from the labels alone (no world is named here): a parent is a concept that is a property
of the word, i.e. at least WORD_LEVEL_SHARE of its tokens are of words (token ids) that carry it on at least
WORD_LEVEL_SHARE of their occurrences, with at least two such child words ("category:animal", "gender:female",
"colour:red", "subclass:bird" qualify; "family:story" or "ioi_role:io", set by the sentence, do not).

Per parent P, with SAEBench's criteria for full absorption by one latent:
- a logistic probe for P on the hook's raw activations (balanced training split, saes.eval.probing) gives P's
  direction p (unit norm in activation space); a parent whose probe scores held-out F1 < MIN_PROBE_F1 is skipped;
- P's main latents: the latents with the largest positive mean difference on P, as many (1..MAX_MAIN_LATENTS) as
  keep raising the k-sparse probe's held-out F1 by more than F1_JUMP (SAEBench's feature-split rule);
- on each held-out token of P that the probe gets right (logit > 0), with probe projection π = (x - x̂(0))·p > 0
  (x̂(0) = the decoder's bias: the part of x no latent writes): the token is absorbed when every main latent is
  silent (code <= 0) while the latent j with the largest contribution f_j·(d_j·p) has decoder cosine
  cos(d_j, p) >= PROBE_COS and carries f_j·(d_j·p) >= PROJECTION_SHARE·π, and j is child-specific: at least
  CHILD_SPECIFIC_SHARE of j's firings on P's tokens are on this token's child word (our addition: SAEBench does not
  check it, and its absorbing latent may be any latent aligned with the probe);
- absorption rate = absorbed tokens / held-out tokens of P the probe gets right.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import NamedTuple

import torch
from jaxtyping import Bool, Float, Int
from torch import Tensor

from saes.eval.probing import ProbeRows, f1_accuracy, fit_logistic, mean_difference

PROBE_COS = 0.025
"""SAEBench's full-absorption threshold: the absorbing latent's decoder cosine with the probe direction."""
PROJECTION_SHARE = 0.4
"""SAEBench's: the absorbing latent carries at least this share of the token's probe projection."""
MIN_PROBE_F1 = 0.6
"""SAEBench's min_GT_probe_f1: a parent whose probe is worse on held-out tokens is not evaluated."""
F1_JUMP = 0.03
"""SAEBench's feature-split rule: a further main latent is kept while it raises the k-sparse probe's F1 by more."""
MAX_MAIN_LATENTS = 10
"""SAEBench's max_k_value."""
WORD_LEVEL_SHARE = 0.9
"""A child word carries its parent on at least this share of its occurrences (a property of the word)."""
CHILD_SPECIFIC_SHARE = 0.5
"""The absorbing latent fires on the token's child word on at least this share of its firings on the parent."""
THRESHOLDS = {"probe_cos": PROBE_COS, "projection_share": PROJECTION_SHARE, "min_probe_f1": MIN_PROBE_F1,
              "f1_jump": F1_JUMP, "max_main_latents": MAX_MAIN_LATENTS, "word_level_share": WORD_LEVEL_SHARE,
              "child_specific_share": CHILD_SPECIFIC_SHARE}
"""Every threshold, as eval.json records them (the first five are SAEBench's)."""


def hierarchy_parents(masks: dict[str, Bool[Tensor, " n"]], token_ids_N: Int[Tensor, " n"]
                      ) -> dict[str, Int[Tensor, " children"]]:
    """The concepts that are properties of words, each with its child words (token ids): see the module doc."""
    occurrences = torch.bincount(token_ids_N)
    parents = {}
    for concept, mask in masks.items():
        ids, counts = token_ids_N[mask].unique(return_counts=True)
        word_level = counts >= WORD_LEVEL_SHARE * occurrences[ids]
        if int(word_level.sum()) >= 2 and int(counts[word_level].sum()) >= WORD_LEVEL_SHARE * int(mask.sum()):
            parents[concept] = ids[word_level]
    return parents


def nested_f1(X_NK: Float[Tensor, "n k"], rows: ProbeRows) -> list[float]:
    """Held-out F1 of the probes on the first 1, 2, ..., k columns, fitted in one batch (row b of the batch sees the
    columns after b as zeros, which standardise to zero and keep a zero weight)."""
    k = X_NK.shape[1]
    keep = torch.ones(k, k).tril()  # [probe, column]

    def nested(r: Tensor) -> Tensor:
        return X_NK[r].double()[None] * keep[:, None].double()

    probe = fit_logistic(nested(rows.train), rows.train_y.expand(k, -1), torch.ones(k, len(rows.train)))
    pred = probe.logits(nested(rows.test)) > 0
    return [f1_accuracy(pred[b], rows.test_y)[0] for b in range(k)]


def main_latents(codes_NF: Float[Tensor, "n d_sae"], mask_N: Bool[Tensor, " n"], rows: ProbeRows,
                 test_N: Bool[Tensor, " n"]) -> list[int]:
    """P's main latents: the top latents by positive mean difference, as many as SAEBench's F1-jump rule keeps."""
    train = ~test_N
    diff = mean_difference(codes_NF[train].double(), mask_N[train][None])[0]
    order = diff.argsort(descending=True)[: min(MAX_MAIN_LATENTS, int((diff > 0).sum()))]
    if len(order) == 0:
        return []
    f1 = nested_f1(codes_NF[:, order], rows)
    k = 1
    while k < len(f1) and f1[k] - f1[k - 1] > F1_JUMP:
        k += 1
    return order[:k].tolist()


def _child_share(fires_PF: Bool[Tensor, "p d_sae"], ids_P: Int[Tensor, " p"], latent_T: Int[Tensor, " t"],
                 child_T: Int[Tensor, " t"]) -> Float[Tensor, " t"]:
    """Per token t: the share of latent_T[t]'s firings on the parent's tokens that fall on child_T[t]."""
    fired = fires_PF[:, latent_T].double()  # [p, t]
    on_child = (ids_P[:, None] == child_T[None]).double()
    return (fired * on_child).sum(0) / fired.sum(0).clamp_min(1)


class ParentProbe(NamedTuple):
    """A parent concept's child words and its probe on the raw activations (shared by every dictionary)."""

    children: Int[Tensor, " c"]
    direction: Float[Tensor, " d_in"]
    """Unit norm, in activation space."""
    f1: float
    """The probe's held-out F1."""
    right: Int[Tensor, " t"]
    """The parent's held-out tokens the probe gets right (logit > 0)."""


def parent_probes(x_ND: Float[Tensor, "n d_in"], masks: dict[str, Bool[Tensor, " n"]], token_ids_N: Int[Tensor, " n"],
                  rows: dict[str, ProbeRows], skipped: dict[str, str], test_N: Bool[Tensor, " n"]
                  ) -> tuple[dict[str, ParentProbe], dict[str, str]]:
    """Every hierarchy parent's probe, and the parents left out with the reason (too few tokens, a weak probe)."""
    probes, left_out = {}, {}
    for concept, children in hierarchy_parents(masks, token_ids_N).items():
        if concept not in rows:
            left_out[concept] = skipped.get(concept, "not probed")
            continue
        r = rows[concept]
        probe = fit_logistic(x_ND[r.train][None], r.train_y[None], torch.ones(1, len(r.train)))
        f1, _ = f1_accuracy(probe.logits(x_ND[r.test][None])[0] > 0, r.test_y)
        if f1 < MIN_PROBE_F1:
            left_out[concept] = f"its probe on the raw activations reaches held-out F1 {f1:.2f} < {MIN_PROBE_F1}"
            continue
        held = torch.nonzero(masks[concept] & test_N).squeeze(1)
        right = held[probe.logits(x_ND[held][None])[0] > 0]
        probes[concept] = ParentProbe(children, probe.direction()[0], f1, right)
    return probes, left_out


def parent_absorption(x_ND: Float[Tensor, "n d_in"], codes_NF: Float[Tensor, "n d_sae"],
                      directions_FD: Float[Tensor, "d_sae d_in"], offset_D: Float[Tensor, " d_in"],
                      token_ids_N: Int[Tensor, " n"], mask_N: Bool[Tensor, " n"], parent: ParentProbe,
                      rows: ProbeRows, test_N: Bool[Tensor, " n"], token_str: Callable[[int], str] = str) -> dict:
    """One parent's absorption by one dictionary (module doc)."""
    p_D, right = parent.direction, parent.right
    main = main_latents(codes_NF, mask_N, rows, test_N)
    f_TF = codes_NF[right].double()
    dirs = directions_FD.double()
    along_F = dirs @ p_D  # each latent's write along p
    cos_F = along_F / dirs.norm(dim=-1).clamp_min(1e-12)
    proj_T = (x_ND[right].double() - offset_D.double()) @ p_D
    contrib_TF = f_TF * along_F
    top_T = contrib_TF.argmax(-1)
    top_f_T = f_TF.gather(1, top_T[:, None])[:, 0]
    share_T = contrib_TF.gather(1, top_T[:, None])[:, 0] / proj_T.abs().clamp_min(1e-12)
    silent_T = (f_TF[:, main] <= 0).all(-1) if main else torch.ones(len(right), dtype=torch.bool)
    child_T = token_ids_N[right]
    on_parent = torch.nonzero(mask_N).squeeze(1)
    specific_T = _child_share(codes_NF[on_parent] > 0, token_ids_N[on_parent], top_T, child_T) >= CHILD_SPECIFIC_SHARE
    absorbed = silent_T & (proj_T > 0) & (top_f_T > 0) & (cos_F[top_T] >= PROBE_COS) & \
        (share_T >= PROJECTION_SHARE) & specific_T & torch.isin(child_T, parent.children)
    n_right, n_abs = len(right), int(absorbed.sum())
    return {"tokens": int(mask_N.sum()), "children": len(parent.children), "probe_f1": parent.f1,
            "probe_true_positives": n_right, "main_latents": main, "absorbed": n_abs,
            "rate": n_abs / n_right if n_right else None,
            "absorbed_children": dict(Counter(token_str(int(c)) for c in child_T[absorbed]).most_common(10)),
            "absorbing_latents": {str(j): n for j, n in Counter(top_T[absorbed].tolist()).most_common(10)}}


def absorption_report(x_ND: Float[Tensor, "n d_in"], codes_NF: Float[Tensor, "n d_sae"],
                      directions_FD: Float[Tensor, "d_sae d_in"], offset_D: Float[Tensor, " d_in"],
                      token_ids_N: Int[Tensor, " n"], masks: dict[str, Bool[Tensor, " n"]],
                      rows: dict[str, ProbeRows], test_N: Bool[Tensor, " n"], parents: dict[str, ParentProbe],
                      left_out: dict[str, str], token_str: Callable[[int], str] = str) -> dict:
    """eval.json's absorption: per hierarchy parent (`parent_probes`) its rate and what absorbed it, the mean rate
    over parents, the thresholds, and each parent left out with the reason."""
    out = {c: parent_absorption(x_ND, codes_NF, directions_FD, offset_D, token_ids_N, masks[c], probe, rows[c],
                                test_N, token_str) for c, probe in parents.items()}
    rates = [r["rate"] for r in out.values() if r["rate"] is not None]
    return {"definition": "share of a parent concept's held-out tokens (probe true positives) on which its main "
                          "latents are silent while one child-specific latent aligned with the parent's probe carries "
                          "its projection (Chanin et al. 2024; SAEBench full absorption)",
            "thresholds": THRESHOLDS, "mean_rate": sum(rates) / len(rates) if rates else None, "parents": out,
            "skipped": dict(left_out)}
