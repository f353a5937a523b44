"""eval.json's `sparse_probing` and `absorption` (saes/eval/probing.py, saes/eval/absorption.py) of the dictionaries
evaluated together on one labelled corpus.

What the dictionaries share is prepared once (`ProbeData`): the hook's raw activations of the ground-truth tokens,
their token ids and concept masks, the held-out split, each concept's balanced rows (or why it is skipped) and the
raw neurons' k-sparse probes (the baseline every dictionary is compared with). On a corpus without toy-world labels
both keys hold {"absent": reason}.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import torch
from jaxtyping import Bool, Float, Int
from torch import Tensor

from interp.dictionary import Dictionary
from interp.worlds.taxonomy import Taxonomy
from saes.eval import metrics
from saes.eval.absorption import ParentProbe, absorption_report, parent_probes
from saes.eval.probing import (
    HELD_OUT_EVERY,
    L2,
    MIN_POSITIVES,
    PROBE_KS,
    ProbeRows,
    concept_rows,
    held_out_tokens,
    sparse_probing,
)

NO_LABELS = ("the evaluation corpus carries no toy-world labels: evaluate on --corpus toyworld (on any model: the "
             "world's text with each word's labels on its tokens)")


class ProbeData(NamedTuple):
    """What every dictionary's probes on one set of labelled tokens share."""

    x: Float[Tensor, "n d_in"]
    token_ids: Int[Tensor, " n"]
    masks: dict[str, Bool[Tensor, " n"]]
    test: Bool[Tensor, " n"]
    rows: dict[str, ProbeRows]
    skipped: dict[str, str]
    neurons: dict[str, dict]
    """The raw neurons' k-sparse probes per concept (the baseline)."""
    parents: dict[str, ParentProbe]
    """The hierarchy parents' probes on the raw activations (absorption)."""
    parents_left_out: dict[str, str]
    token_str: Callable[[int], str]


def probe_data(x_ND: Float[Tensor, "n d_in"], tokens: Int[Tensor, "doc pos"], labels: Int[np.ndarray, "doc pos field"],
               taxonomy: Taxonomy | None, token_str: Callable[[int], str] = str) -> ProbeData:
    """The shared part, from the first n non-BOS tokens of `tokens` (document order) with activations x_ND."""
    n = len(x_ND)
    token_ids = tokens[:, 1:].reshape(-1)[:n].long()
    lab = labels[:, 1:].reshape(-1, labels.shape[-1])[:n]
    masks, _ = metrics.concept_masks(lab, taxonomy)
    test = held_out_tokens(n, tokens.shape[1] - 1)
    rows, skipped = concept_rows(masks, test)
    x = x_ND.float().cpu()
    parents, left_out = parent_probes(x, masks, token_ids, rows, skipped, test)
    return ProbeData(x, token_ids, masks, test, rows, skipped, sparse_probing(x, masks, rows, test), parents,
                     left_out, token_str)


def _means(per: dict[str, dict]) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for k in PROBE_KS:
        vals = [v[str(k)]["f1"] for v in per.values()]
        out[str(k)] = sum(vals) / len(vals) if vals else None
    return out


def sparse_probing_report(codes_NF: Float[Tensor, "n d_sae"], data: ProbeData) -> dict:
    """eval.json's sparse_probing: per concept the dictionary's and the raw neurons' held-out F1 / accuracy for each
    k, the latents chosen, the means over concepts and the concepts skipped with their counts."""
    latents = sparse_probing(codes_NF.float().cpu(), data.masks, data.rows, data.test)
    concepts = {c: {"train_tokens": int(r.train_y.sum()), "held_out_tokens": int(r.test_y.sum()),
                    "latents": latents[c].pop("units"), "sae": latents[c],
                    "neurons": {k: v for k, v in data.neurons[c].items() if k != "units"},
                    "neuron_units": data.neurons[c]["units"]}
                for c, r in data.rows.items()}
    return {"ks": list(PROBE_KS), "method": f"top-k units by |mean difference| on the training split, L2-regularised "
                                            f"(λ={L2:g}) logistic probe on them, F1 of logit > 0 on held-out tokens "
                                            f"(every {HELD_OUT_EVERY}rd document); both splits balanced",
            "min_tokens_per_split": MIN_POSITIVES,
            "mean_f1": {"sae": _means({c: v["sae"] for c, v in concepts.items()}),
                        "neurons": _means({c: v["neurons"] for c, v in concepts.items()})},
            "concepts": concepts, "skipped": dict(data.skipped)}


NO_TOKENS = "no ground-truth tokens were kept (--ground-truth-tokens 0)"


def probe_reports(dictionary: Dictionary, codes_NF: Float[Tensor, "n d_sae"], data: ProbeData | None,
                  absent: str = NO_LABELS) -> dict[str, dict]:
    """The sparse_probing and absorption keys of one dictionary's report ({"absent": reason} without `data`)."""
    if data is None or not len(codes_NF):
        return {"sparse_probing": {"absent": absent}, "absorption": {"absent": absent}}
    codes = codes_NF[: len(data.x)].float().cpu()
    with torch.no_grad():
        directions = dictionary.feature_directions().detach().float().cpu()
        zero = torch.zeros(1, dictionary.d_sae, device=dictionary.feature_directions().device)
        offset = dictionary.decode(zero.to(dictionary.feature_directions().dtype))[0].detach().float().cpu()
    return {"sparse_probing": sparse_probing_report(codes, data),
            "absorption": absorption_report(data.x, codes, directions, offset, data.token_ids, data.masks, data.rows,
                                            data.test, data.parents, data.parents_left_out, data.token_str)}
