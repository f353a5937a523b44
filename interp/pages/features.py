"""Feature pages of any sparse dictionary (interp.dictionary.Dictionary: SAEs of every architecture, SNMF): pure
functions from (dictionary, cached activations, model) to named arrays, and their validated on-disk form.

Per feature: density (fraction of non-BOS cached tokens on which it fires), dead / dense flags, and from the one
page builder (interp.pages.builder) over the feature x token code matrix: examples by quantile bin, the histogram
of its positive activations, top positive / negative logits (VocabProj: the decoder direction through W_out,
ln_final and W_U) and the best-matching ground-truth concept (AUROC of the code as a detector of the concept's
tokens); besides these, decoder-cosine neighbours and an output score (interp.steering.scores.output_scores).

On disk (interp.pages.artifact): features.safetensors (ARRAYS) + features.json (schema_version, kind, meta with
provenance: model, weight processing, corpus, dictionary and hook, settings; vocab), validated before writing
(`validate`: every example lies inside the quantile bin it claims, shapes agree, flags agree with densities), so
the explorer's pages only read and render.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from jaxtyping import Float, Int, Shaped
from torch import Tensor

from interp.examples import CONTEXT
from interp.models import token_strings
from interp.provenance import ModelRecord

from .artifact import PagesFormat, load_pages, save_pages
from .builder import (
    BIN_NAMES,
    DENSE_THRESHOLD,
    QUANTILES,
    bin_violation,
    concept_label,
    concept_match,
    logit_tables,
    unit_examples,
)
from .evidence import CONCEPT_ARRAYS, concept_examples

if TYPE_CHECKING:
    from transformer_lens import HookedTransformer

    from interp.activations.reader import ActivationCache
    from interp.dictionary import Dictionary

SCHEMA_VERSION = 1
KIND = "interp-feature-pages"
FILES = ("features.safetensors", "features.json")
FORMAT = PagesFormat(FILES, KIND, SCHEMA_VERSION, "feature pages")
ARRAYS = {  # name -> trailing shape (F = features, B = bins, K = examples per bin, W = context window)
    "density": "F", "max_act": "F", "dead": "F", "dense": "F", "hist_counts": "F H", "hist_edges": "F H+1",
    "bin_edges": "F B+1", "ex_index": "F B K", "ex_act": "F B K", "ex_ctx_tokens": "F B K W",
    "ex_ctx_acts": "F B K W", "logit_pos_ids": "F T", "logit_pos_vals": "F T", "logit_neg_ids": "F T",
    "logit_neg_vals": "F T", "neighbour_ids": "F N", "neighbour_cos": "F N", "concept_best": "F",
    "concept_auroc": "F", "output_score": "F",
}


@dataclass
class PageSettings:
    """How feature pages are computed (recorded in features.json)."""

    k: int = 5
    """Examples per quantile bin."""
    n_logits: int = 10
    """Top positive and negative logits kept per feature."""
    n_neighbours: int = 8
    """Decoder-cosine neighbours kept per feature."""
    concept_tokens: int = 8192
    """Tokens sampled to score features as concept detectors (AUROC)."""
    seed: int = 0
    """Seed of the bins' example samples and the concept sample."""


@dataclass
class FeaturePages:
    """Feature pages of one dictionary: `meta` (JSON) and `arrays` (numpy, see ARRAYS)."""

    meta: dict[str, Any]
    arrays: dict[str, np.ndarray] = field(repr=False)

    @property
    def d_sae(self) -> int:
        return int(self.arrays["density"].shape[0])

    def label(self, f: int) -> str:
        """The feature's concept when its AUROC reaches CONCEPT_AUROC_BAR, else NO_CONCEPT."""
        return concept_label(self.meta["concepts"], int(self.arrays["concept_best"][f]),
                             float(self.arrays["concept_auroc"][f]))

    def table(self) -> dict[str, Shaped[np.ndarray, "*shape"]]:
        """Columns of the feature table (index, label, density, best concept and its AUROC, output score, dead,
        dense)."""
        a, concepts = self.arrays, self.meta["concepts"]
        return {"feature": np.arange(self.d_sae),
                "label": np.array([self.label(f) for f in range(self.d_sae)], dtype=object),
                "density": a["density"], "max_act": a["max_act"],
                "concept": np.array([concepts[i] if i >= 0 else "" for i in a["concept_best"]], dtype=object),
                "concept_auroc": a["concept_auroc"], "output_score": a["output_score"],
                "dead": a["dead"].astype(bool), "dense": a["dense"].astype(bool)}

    def first_live(self) -> int:
        """The lowest-numbered feature that fired (0 when none did): what a dictionary opens on."""
        live = np.nonzero(~self.arrays["dead"].astype(bool))[0]
        return int(live[0]) if len(live) else 0

    def top_tokens(self, f: int, n: int = 3) -> list[tuple[str, int]]:
        """The tokens the feature fires on most often among its two highest bins' examples, with their counts."""
        ids = self.arrays["ex_ctx_tokens"][f, -2:, :, CONTEXT[0]].reshape(-1)
        ids, counts = np.unique(ids[ids >= 0], return_counts=True)
        order = np.argsort(-counts, kind="stable")[:n]
        return [(self.token(int(ids[i])), int(counts[i])) for i in order]

    def token(self, tid: int) -> str:
        vocab = self.meta.get("vocab")
        return vocab[tid] if vocab is not None and 0 <= tid < len(vocab) else f"#{tid}"

    def summary(self, f: int, n: int = 3) -> str:
        """One sentence on feature f: the tokens it fires on (top examples) and the logits it promotes and
        suppresses (VocabProj), or that it never fired."""
        a = self.arrays
        if a["dead"][f]:
            return f"Never fired on the {self.meta['n_tokens']:,} cached tokens."
        quote = lambda ts: ", ".join(repr(t) for t in ts)  # noqa: E731  repr shows leading spaces
        fires = quote(t for t, _ in self.top_tokens(f, n))
        text = f"Fires on {fires} (its top examples' tokens)" if fires else "Fires on no stored example"
        if np.abs(a["logit_pos_vals"][f]).max(initial=0) > 0:
            up = quote(self.token(int(i)) for i in a["logit_pos_ids"][f][:n])
            down = quote(self.token(int(i)) for i in a["logit_neg_ids"][f][:n])
            text += f"; promotes {up}; suppresses {down}"
        return text + "."


def hooks(dictionary: Dictionary) -> tuple[str, str]:
    """(the hook a dictionary reads, the hook its directions write to): equal for an SAE; a transcoder's differ.
    Dictionaries without hook_in / hook_out (before they had them) read and write hook_name."""
    hook_in = getattr(dictionary, "hook_in", None) or dictionary.hook_name
    return hook_in, getattr(dictionary, "hook_out", None) or hook_in


def encode_all(dictionary: Dictionary, acts: Float[Tensor, "n d_in"], chunk: int = 4096) -> Float[Tensor, "n d_sae"]:
    """Codes [n, d_sae] (float32) of activations [n, d_in], in chunks."""
    with torch.no_grad():
        return torch.cat([dictionary.encode(acts[i:i + chunk].float()).float() for i in range(0, len(acts), chunk)])


def neighbours(directions: Float[Tensor, "d_sae d"], n: int
               ) -> tuple[Int[np.ndarray, "d_sae n"], Float[np.ndarray, "d_sae n"]]:
    """The n features of largest decoder cosine with each feature (itself left out)."""
    u = directions.float() / directions.float().norm(dim=-1, keepdim=True).clamp_min(1e-12)
    cos = u @ u.T
    cos.fill_diagonal_(-2.0)
    v, i = cos.topk(min(n, len(u) - 1), dim=-1)
    return i.int().numpy(), v.numpy()


def output_score(model: HookedTransformer, dictionary: Dictionary, directions: Float[Tensor, "d_sae d"]
                 ) -> Float[np.ndarray, " d_sae"]:
    """interp.steering.scores.output_scores at twice the mean activation norm on the prompt "The"."""
    from interp.steering.scores import default_alpha, output_scores, vocab_logits

    prompt = model.to_tokens("The")[0]
    hook = hooks(dictionary)[1]
    alpha = default_alpha(model, hook, prompt)
    try:
        top = vocab_logits(model, hook, directions).topk(10, dim=-1).indices
    except ValueError:
        return np.zeros(len(directions), dtype=np.float32)
    return output_scores(model, hook, directions, top, prompt, alpha).numpy()


def _firing(codes: Tensor, valid: Tensor, share: float) -> dict[str, np.ndarray]:
    """Density, max activation, dead and dense flags over valid tokens. An SNMF code counts as firing above a share
    of the feature's largest code (its codes are rarely exactly 0); an SAE's above 0."""
    max_F = codes[valid].max(0).values
    fires = (codes[valid] > share * max_F).float().mean(0)
    return {"density": fires.numpy(), "max_act": max_F.numpy(), "dead": (fires == 0).numpy().astype(np.uint8),
            "dense": (fires > DENSE_THRESHOLD).numpy().astype(np.uint8)}


def compute_feature_pages(dictionary: Dictionary, cache: ActivationCache, model: HookedTransformer, name: str,
                          kind: str, path: str = "", settings: PageSettings | None = None) -> FeaturePages:
    """Feature pages of `dictionary` over every cached token of its hook (BOS positions left out), recording where
    they come from: the cache's model, weight processing and corpus, the dictionary's folder and hook, the
    settings."""
    s = settings or PageSettings()
    hook, hook_out = hooks(dictionary)
    tokens, doc_ids = cache.tokens().long(), cache.doc_ids().long()
    valid = cache.positions() != 0
    codes = encode_all(dictionary, cache.get(hook, torch.arange(cache.n_tokens)))
    arrays = unit_examples(codes.T.contiguous(), tokens, doc_ids, valid, s.k, s.seed)
    share = float(getattr(dictionary, "active_share", 0.0))
    arrays.update(_firing(codes, valid, share))
    directions = dictionary.feature_directions().detach().float().cpu()
    arrays.update(logit_tables(model, hook_out, directions, s.n_logits))
    arrays["neighbour_ids"], arrays["neighbour_cos"] = neighbours(directions, s.n_neighbours)
    concepts: list[str] = []
    arrays["concept_best"] = np.full(codes.shape[1], -1, np.int32)
    arrays["concept_auroc"] = np.full(codes.shape[1], np.nan, np.float32)
    evidence: dict[str, Any] = {}
    if cache.manifest.label_schema is not None:
        labels = cache.labels().numpy()
        match = concept_match(codes[valid], labels[valid.numpy()], s.concept_tokens,
                              torch.Generator().manual_seed(s.seed), cache.taxonomy)
        concepts = match.concepts
        evidence = {"concept_positives": match.positives, "concept_sample": match.sample}
        if concepts:
            best = match.auroc.max(0)
            arrays["concept_best"], arrays["concept_auroc"] = best.indices.int().numpy(), best.values.numpy()
            arrays["concept_best"][arrays["dead"].astype(bool)] = -1  # a unit that never fired matches nothing
            arrays["concept_auroc"][arrays["dead"].astype(bool)] = np.nan
            arrays.update(concept_examples(codes, tokens, doc_ids, valid,
                                           lambda c: cache.taxonomy.concept_mask(labels, c), concepts,
                                           arrays["concept_best"], arrays["ex_index"][:, -1], s.k))
    arrays["output_score"] = output_score(model, dictionary, directions).astype(np.float32)
    vocab = token_strings(model, range(model.cfg.d_vocab)) if model.tokenizer is not None else None
    meta = {"name": name, "dictionary_kind": kind, "path": path, "hook": hook, "hook_out": hook_out,
            **ModelRecord.read(cache.manifest, "").to_json(), "corpus": cache.manifest.corpus,
            "settings": dict(vars(s)),
            "d_sae": int(codes.shape[1]), "n_tokens": int(valid.sum()), "quantiles": list(QUANTILES),
            "bin_names": list(BIN_NAMES), "context": list(CONTEXT), "dense_threshold": DENSE_THRESHOLD,
            "active_above_share_of_max": share, "concepts": concepts, **evidence}
    pages = FeaturePages(meta, arrays)
    pages.meta["vocab"] = vocab
    return pages


def validate(pages: FeaturePages) -> None:
    """Raise ValueError unless the pages are consistent (see module doc)."""
    a, F = pages.arrays, pages.d_sae
    missing = set(ARRAYS) - set(a)  # CONCEPT_ARRAYS are optional: pages built before them lack them
    if missing:
        raise ValueError(f"feature pages lack arrays {sorted(missing)}")
    bad = [n for n in [*ARRAYS, *CONCEPT_ARRAYS] if n in a and a[n].shape[0] != F]
    if bad:
        raise ValueError(f"arrays {bad} do not have one row per feature ({F})")
    problem = bin_violation(a["bin_edges"], a["ex_act"], a["ex_ctx_acts"], a["ex_index"] >= 0,
                            lambda at: f"feature {at[0]}")
    if problem:
        raise ValueError(problem)
    if (a["dead"].astype(bool) != (a["density"] == 0)).any():
        raise ValueError("dead flags disagree with densities")
    if a["hist_counts"].sum(1).max(initial=0) > pages.meta["n_tokens"]:
        raise ValueError("a histogram counts more activations than there are tokens")


def save_feature_pages(pages: FeaturePages, folder: str | Path) -> Path:
    """Validate, then write features.safetensors and features.json (JSON last: its presence means complete)."""
    validate(pages)
    return save_pages(FORMAT, folder, pages.meta, pages.arrays)


def load_feature_pages(folder: str | Path, check: bool = True) -> FeaturePages:
    """Read (and by default validate) feature pages; FileNotFoundError / ValueError say what is wrong."""
    pages = FeaturePages(*load_pages(FORMAT, folder))
    if check:
        validate(pages)
    return pages
