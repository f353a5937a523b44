"""What a unit's concept label rests on, so that a reader can judge it: a label passes on AUROC alone
(interp.pages.builder.CONCEPT_AUROC_BAR), and an AUROC of 0.99 over a handful of concept tokens, or over concept
tokens that are not where the unit fires most, says little about the unit's top examples.

Per unit (computed once when pages are built; the explorer only reads them):
- how many concept-positive tokens the AUROC rests on (positives of each concept in the AUROC's token sample:
  `positives`; the AUROC of a detector is P(act on a positive > act on a negative), Hanley & McNeil 1982, so its
  error shrinks like 1/sqrt(positives));
- the share of the unit's top-bin examples (interp.pages.builder.QUANTILES' last bin) whose token carries its best
  concept (`top_share`): a label whose top examples lack the concept is flagged beside the label;
- the unit's largest activations among the concept's own tokens, with their contexts (`concept_examples`), so the
  page shows what the concept looks like to the unit even when the top examples do not carry it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import torch
from jaxtyping import Bool, Float, Int, Shaped
from torch import Tensor

from interp.examples import CONTEXT, context_windows

CONCEPT_ARRAYS = {"concept_top_share": "F", "concept_ex_act": "F K", "concept_ex_ctx_tokens": "F K W",
                  "concept_ex_ctx_acts": "F K W"}
"""Arrays of `concept_examples` (feature pages store them per feature, neuron pages per layer and neuron; older pages
lack them and the page says so)."""
TOP_SHARE_WARN = 0.5
"""Below this share of top examples carrying the labelled concept, the page warns beside the label."""


def positives(labels: Int[np.ndarray, "n field"], sample: Int[np.ndarray, " m"], taxonomy, concepts: list[str]
              ) -> list[int]:
    """Concept-positive tokens of each concept among the AUROC's token sample (global indices `sample`)."""
    lab = labels[sample]
    return [int(taxonomy.concept_mask(lab, c).sum()) for c in concepts]


def concept_examples(codes: Float[Tensor, "n unit"], tokens: Int[Tensor, " n"], doc_ids: Int[Tensor, " n"],
                     valid: Bool[Tensor, " n"], mask_of: Callable[[str], Bool[np.ndarray, " n"]], concepts: list[str],
                     best: Int[np.ndarray, " unit"], top_index: Int[np.ndarray, "unit k_top"], k: int
                     ) -> dict[str, Shaped[np.ndarray, "*shape"]]:
    """CONCEPT_ARRAYS for every unit with a best concept (`best` >= 0): the share of its top examples (global token
    indices `top_index`, -1 = none) that carry the concept (NaN without examples), and its k largest activations
    over the concept's own tokens with their context windows (-1 / 0 where fewer fire). `mask_of(concept)` marks
    the concept's tokens (a toy-world label concept: `taxonomy.concept_mask(labels, c)`; a concept given as token
    ids: those ids)."""
    U, W = codes.shape[1], CONTEXT[0] + 1 + CONTEXT[1]
    out = {"concept_top_share": np.full(U, np.nan, np.float32), "concept_ex_act": np.zeros((U, k), np.float32),
           "concept_ex_ctx_tokens": np.full((U, k, W), -1, np.int32),
           "concept_ex_ctx_acts": np.zeros((U, k, W), np.float32)}
    for c in np.unique(best[best >= 0]):
        units = np.nonzero(best == c)[0]
        mask = torch.from_numpy(np.asarray(mask_of(concepts[int(c)]), dtype=bool)) & valid
        shown = top_index[units]
        carry = np.where(shown >= 0, mask.numpy()[np.clip(shown, 0, None)], False)
        n_shown = (shown >= 0).sum(1)
        out["concept_top_share"][units] = np.where(n_shown > 0, carry.sum(1) / np.maximum(n_shown, 1), np.nan)
        where = torch.nonzero(mask).squeeze(1)
        if len(where) == 0:
            continue
        sub = codes[where[:, None], torch.from_numpy(units)[None]]  # [positives, units], without all units' rows
        top = sub.topk(min(k, len(where)), dim=0)
        for j, u in enumerate(units):
            fired = top.values[:, j] > 0
            idx = where[top.indices[fired, j]]
            if len(idx) == 0:
                continue
            ctx = context_windows(tokens, doc_ids, idx, *CONTEXT)
            ok = ctx >= 0
            out["concept_ex_act"][u, :len(idx)] = top.values[fired, j].numpy()
            out["concept_ex_ctx_tokens"][u, :len(idx)] = torch.where(ok, tokens[ctx.clamp_min(0)], -1).numpy()
            out["concept_ex_ctx_acts"][u, :len(idx)] = torch.where(ok, codes[ctx.clamp_min(0), u], 0.0).numpy()
    return out


class LabelEvidence(NamedTuple):
    """What one unit's label rests on, for the line beside it."""

    concept: str
    auroc: float
    positives: int | None
    """Concept-positive tokens in the AUROC's sample (None: pages built before this was recorded)."""
    sample: int | None
    top_share: float | None
    """Share of the top examples carrying the concept (None: not recorded; NaN: no top examples)."""

    @property
    def top_lacks_concept(self) -> bool:
        return self.top_share is not None and not np.isnan(self.top_share) and self.top_share < TOP_SHARE_WARN

    def text(self) -> str:
        """One plain-text line: how many positives the AUROC rests on and how many top examples carry it."""
        parts = []
        if self.positives is not None:
            parts.append(f"AUROC over {self.sample:,} sampled tokens, {self.positives:,} of them {self.concept}")
        if self.top_share is not None and not np.isnan(self.top_share):
            parts.append(f"{self.top_share:.0%} of the top examples carry it")
        return "; ".join(parts)


def label_evidence(meta: dict, arrays: dict[str, Shaped[np.ndarray, "*shape"]], at) -> LabelEvidence | None:
    """The evidence of the unit at index `at` of pages (meta, arrays), or None when it has no best concept."""
    best = int(arrays["concept_best"][at])
    if best < 0:
        return None
    counts = meta.get("concept_positives")
    share = arrays.get("concept_top_share")
    return LabelEvidence(meta["concepts"][best], float(arrays["concept_auroc"][at]),
                         None if counts is None else int(counts[best]), meta.get("concept_sample"),
                         None if share is None else float(share[at]))
