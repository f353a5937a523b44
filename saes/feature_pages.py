"""Precomputed feature pages of a sparse dictionary (SAE or SNMF, through interp.dictionary.Dictionary): pure
functions from (dictionary, cached activations, model) to named arrays, and their validated on-disk form.

Per feature: density (fraction of non-BOS cached tokens on which it fires), dead / dense flags, a histogram of its
positive activations, top-activating examples by quantile bin (bins are quantiles of the feature's positive
activations; the last bin holds the top examples, the others a seeded sample; each example carries its context
tokens and the feature's activation on each), top positive / negative logits (VocabProj: the decoder direction
through W_out, ln_final and W_U), decoder-cosine neighbours, the best-matching toy-world concept (AUROC of the code as
a detector of the concept's tokens) and an output score (interp.steering.scores.output_scores).

On disk: features.safetensors (ARRAYS) + features.json (schema_version, kind, meta, vocab), written atomically and
validated before writing (`validate`: every example lies inside the quantile bin it claims, shapes agree, flags
agree with densities), so the explorer's pages only read and render.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from interp.atomic import atomic_write
from interp.examples import CONTEXT, context_windows
from interp.models import token_strings
from interp.safetensors_io import read_arrays, write_arrays
from interp.worlds.taxonomy import Taxonomy

SCHEMA_VERSION = 1
KIND = "interp-feature-pages"
FILES = ("features.safetensors", "features.json")
QUANTILES = (0.0, 0.5, 0.9, 0.99, 1.0)
"""Edges of the quantile bins over a feature's positive activations: 0-50%, 50-90%, 90-99%, top 1%."""
BIN_NAMES = ("0-50%", "50-90%", "90-99%", "top 1%")
DENSE_THRESHOLD = 0.1
HIST_BINS = 30
CONCEPT_AUROC_BAR = 0.9
"""A feature is labelled with its best-matching concept only when the concept's AUROC reaches this bar."""
NO_CONCEPT = "no clear concept"
ARRAYS = {  # name -> trailing shape (F = features, B = bins, K = examples per bin, W = context window)
    "density": "F", "max_act": "F", "dead": "F", "dense": "F", "hist_counts": "F H", "hist_edges": "F H+1",
    "bin_edges": "F B+1", "ex_index": "F B K", "ex_act": "F B K", "ex_ctx_tokens": "F B K W",
    "ex_ctx_acts": "F B K W", "logit_pos_ids": "F T", "logit_pos_vals": "F T", "logit_neg_ids": "F T",
    "logit_neg_vals": "F T", "neighbour_ids": "F N", "neighbour_cos": "F N", "concept_best": "F",
    "concept_auroc": "F", "output_score": "F",
}


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
        best, au = int(self.arrays["concept_best"][f]), float(self.arrays["concept_auroc"][f])
        return self.meta["concepts"][best] if best >= 0 and au >= CONCEPT_AUROC_BAR else NO_CONCEPT

    def table(self) -> dict[str, np.ndarray]:
        """Columns of the feature table (index, label, density, best concept and its AUROC, output score, dead,
        dense)."""
        a, concepts = self.arrays, self.meta["concepts"]
        return {"feature": np.arange(self.d_sae),
                "label": np.array([self.label(f) for f in range(self.d_sae)], dtype=object),
                "density": a["density"], "max_act": a["max_act"],
                "concept": np.array([concepts[i] if i >= 0 else "" for i in a["concept_best"]], dtype=object),
                "concept_auroc": a["concept_auroc"], "output_score": a["output_score"],
                "dead": a["dead"].astype(bool), "dense": a["dense"].astype(bool)}

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


def encode_all(dictionary, acts: Tensor, chunk: int = 4096) -> Tensor:
    """Codes [n, d_sae] (float32) of activations [n, d_in], in chunks."""
    with torch.no_grad():
        return torch.cat([dictionary.encode(acts[i:i + chunk].float()).float() for i in range(0, len(acts), chunk)])


def quantile_examples(col: Tensor, k: int, gen: torch.Generator) -> tuple[Tensor, Tensor]:
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
        cand = pos[inside]
        if last:
            pick = cand[col[cand].argsort(descending=True)[:k]]
        else:
            pick = cand[torch.randperm(len(cand), generator=gen)[:k]]
            pick = pick[col[pick].argsort(descending=True)]
        out[b, :len(pick)] = pick
    return edges, out


def concept_match(codes: Tensor, labels: np.ndarray, n_max: int, gen: torch.Generator,
                  taxonomy: Taxonomy | None = None) -> tuple[list[str], Tensor]:
    """Concepts of `taxonomy` (the labels' toy world; default toy1) present in a sample of tokens and the AUROC
    matrix [concept, feature] of codes as detectors."""
    from interp.auroc import auroc
    from interp.worlds import LEGACY_WORLD, get_world

    tax = taxonomy if taxonomy is not None else get_world(LEGACY_WORLD).taxonomy
    sel = torch.randperm(len(codes), generator=gen)[:n_max]
    lab = labels[sel.numpy()]
    names, masks = [], []
    for c in tax.all_concepts():
        m = tax.concept_mask(lab, c)
        if 5 <= m.sum() <= len(m) - 5:
            names.append(c)
            masks.append(torch.from_numpy(m))
    if not names:
        return [], torch.zeros(0, codes.shape[1])
    return names, auroc(codes[sel], torch.stack(masks)).float()


def logit_tables(model, hook: str, directions: Tensor, t: int) -> dict[str, np.ndarray]:
    """Top-t positive and negative VocabProj logits of every direction (zeros when the hook has no linear path)."""
    from interp.steering.scores import vocab_logits

    try:
        logits = vocab_logits(model, hook, directions)
    except ValueError:
        logits = torch.zeros(len(directions), model.cfg.d_vocab)
    top, bot = logits.topk(t, dim=-1), logits.topk(t, dim=-1, largest=False)
    return {"logit_pos_ids": top.indices.int().numpy(), "logit_pos_vals": top.values.numpy(),
            "logit_neg_ids": bot.indices.int().numpy(), "logit_neg_vals": bot.values.numpy()}


def neighbours(directions: Tensor, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The n features of largest decoder cosine with each feature (itself left out)."""
    u = directions.float() / directions.float().norm(dim=-1, keepdim=True).clamp_min(1e-12)
    cos = u @ u.T
    cos.fill_diagonal_(-2.0)
    v, i = cos.topk(min(n, len(u) - 1), dim=-1)
    return i.int().numpy(), v.numpy()


def output_score(model, dictionary, directions: Tensor) -> np.ndarray:
    """interp.steering.scores.output_scores at twice the mean activation norm on the prompt "The"."""
    from interp.activations.stream import hook_activations
    from interp.steering.scores import output_scores, vocab_logits

    prompt = model.to_tokens("The")[0]
    acts = hook_activations(model, dictionary.hook_name, prompt[None])[0]
    alpha = 2.0 * float(acts[1:].norm(dim=-1).mean() if len(acts) > 1 else acts.norm(dim=-1).mean())
    try:
        top = vocab_logits(model, dictionary.hook_name, directions).topk(10, dim=-1).indices
    except ValueError:
        return np.zeros(len(directions), dtype=np.float32)
    return output_scores(model, dictionary.hook_name, directions, top, prompt, alpha).numpy()


def _examples(codes_FN: Tensor, tokens: Tensor, doc_ids: Tensor, valid: Tensor, k: int, seed: int
              ) -> dict[str, np.ndarray]:
    gen = torch.Generator().manual_seed(seed)
    F, n_bins = codes_FN.shape[0], len(QUANTILES) - 1
    W = CONTEXT[0] + 1 + CONTEXT[1]
    a = {"bin_edges": np.zeros((F, n_bins + 1), np.float32), "ex_index": np.full((F, n_bins, k), -1, np.int64),
         "ex_act": np.zeros((F, n_bins, k), np.float32), "ex_ctx_tokens": np.full((F, n_bins, k, W), -1, np.int32),
         "ex_ctx_acts": np.zeros((F, n_bins, k, W), np.float32), "hist_counts": np.zeros((F, HIST_BINS), np.int32),
         "hist_edges": np.zeros((F, HIST_BINS + 1), np.float32)}
    for f in range(F):
        col = torch.where(valid, codes_FN[f], torch.zeros(()))
        edges, idx = quantile_examples(col, k, gen)
        a["bin_edges"][f] = edges.numpy()
        flat = idx.reshape(-1)
        ctx = context_windows(tokens, doc_ids, flat, *CONTEXT)
        ok = ctx >= 0
        a["ex_index"][f] = idx.numpy()
        a["ex_act"][f] = torch.where(flat >= 0, col[flat.clamp_min(0)], torch.zeros(())).reshape(idx.shape).numpy()
        a["ex_ctx_tokens"][f] = torch.where(ok, tokens[ctx.clamp_min(0)], -1).reshape(n_bins, k, W).numpy()
        a["ex_ctx_acts"][f] = torch.where(ok, col[ctx.clamp_min(0)], 0.0).reshape(n_bins, k, W).numpy()
        vals = col[col > 0]
        if len(vals):
            c, e = np.histogram(vals.numpy(), bins=HIST_BINS)
            a["hist_counts"][f], a["hist_edges"][f] = c, e
    return a


def compute_feature_pages(dictionary, cache, model, name: str, kind: str, path: str = "", k: int = 5,
                          n_logits: int = 10, n_neighbours: int = 8, concept_tokens: int = 8192,
                          seed: int = 0) -> FeaturePages:
    """Feature pages of `dictionary` over every cached token of its hook (BOS positions left out)."""
    hook = dictionary.hook_name
    tokens, doc_ids = cache.tokens().long(), cache.doc_ids().long()
    valid = cache.positions() != 0
    codes = encode_all(dictionary, cache.get(hook, torch.arange(cache.n_tokens)))
    codes_FN = codes.T.contiguous()
    arrays = _examples(codes_FN, tokens, doc_ids, valid, k, seed)
    share = float(getattr(dictionary, "active_share", 0.0))  # SNMF: a share of the feature's largest code
    active_F = share * codes[valid].max(0).values
    fires = (codes[valid] > active_F).float().mean(0)
    arrays["density"] = fires.numpy()
    arrays["max_act"] = codes[valid].max(0).values.numpy()
    arrays["dead"] = (fires == 0).numpy().astype(np.uint8)
    arrays["dense"] = (fires > DENSE_THRESHOLD).numpy().astype(np.uint8)
    directions = dictionary.feature_directions().detach().float().cpu()
    arrays.update(logit_tables(model, hook, directions, n_logits))
    arrays["neighbour_ids"], arrays["neighbour_cos"] = neighbours(directions, n_neighbours)
    concepts: list[str] = []
    arrays["concept_best"] = np.full(codes.shape[1], -1, np.int32)
    arrays["concept_auroc"] = np.full(codes.shape[1], np.nan, np.float32)
    if cache.manifest.label_schema is not None:
        concepts, au = concept_match(codes[valid], cache.labels()[valid].numpy(), concept_tokens,
                                     torch.Generator().manual_seed(seed), cache.taxonomy)
        if concepts:
            best = au.max(0)
            arrays["concept_best"], arrays["concept_auroc"] = best.indices.int().numpy(), best.values.numpy()
    arrays["output_score"] = output_score(model, dictionary, directions).astype(np.float32)
    vocab = token_strings(model, range(model.cfg.d_vocab)) if model.tokenizer is not None else None
    meta = {"name": name, "dictionary_kind": kind, "path": path, "hook": hook, "model": cache.manifest.model,
            "d_sae": int(codes.shape[1]), "n_tokens": int(valid.sum()), "quantiles": list(QUANTILES),
            "bin_names": list(BIN_NAMES), "context": list(CONTEXT), "dense_threshold": DENSE_THRESHOLD,
            "active_above_share_of_max": share, "concepts": concepts}
    pages = FeaturePages(meta, arrays)
    pages.meta["vocab"] = vocab
    return pages


def validate(pages: FeaturePages) -> None:
    """Raise ValueError unless the pages are consistent (see module doc)."""
    a, F = pages.arrays, pages.d_sae
    missing = set(ARRAYS) - set(a)
    if missing:
        raise ValueError(f"feature pages lack arrays {sorted(missing)}")
    bad = [n for n in ARRAYS if a[n].shape[0] != F]
    if bad:
        raise ValueError(f"arrays {bad} do not have one row per feature ({F})")
    edges, act, idx = a["bin_edges"], a["ex_act"], a["ex_index"]
    lo, hi = edges[:, :-1, None], edges[:, 1:, None]
    tol = 1e-5 * np.maximum(1.0, np.abs(edges).max(axis=1))[:, None, None]
    outside = (idx >= 0) & ((act < lo - tol) | (act > hi + tol))
    if outside.any():
        f, b, j = (int(x[0]) for x in np.nonzero(outside))
        raise ValueError(f"feature {f}: example {j} (activation {act[f, b, j]:.4g}) is outside its quantile bin "
                         f"{b} [{edges[f, b]:.4g}, {edges[f, b + 1]:.4g}]")
    centre = a["ex_ctx_acts"][..., CONTEXT[0]]
    if not np.allclose(np.where(idx >= 0, centre, 0), np.where(idx >= 0, act, 0), atol=1e-5):
        raise ValueError("an example's activation differs from its context's centre activation")
    if (a["dead"].astype(bool) != (a["density"] == 0)).any():
        raise ValueError("dead flags disagree with densities")
    if a["hist_counts"].sum(1).max(initial=0) > pages.meta["n_tokens"]:
        raise ValueError("a histogram counts more activations than there are tokens")


def save_feature_pages(pages: FeaturePages, folder: str | Path) -> Path:
    """Validate, then write features.safetensors and features.json (JSON last: its presence means complete)."""
    validate(pages)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {k: np.ascontiguousarray(v) for k, v in pages.arrays.items()}
    atomic_write(folder / FILES[0], lambda p: write_arrays(p, arrays))
    meta = {**pages.meta, "schema_version": SCHEMA_VERSION, "kind": KIND, "arrays": sorted(arrays)}
    atomic_write(folder / FILES[1], lambda p: p.write_text(json.dumps(meta)))
    return folder


def load_feature_pages(folder: str | Path, check: bool = True) -> FeaturePages:
    """Read (and by default validate) feature pages; FileNotFoundError / ValueError say what is wrong."""
    folder = Path(folder)
    if not (folder / FILES[1]).is_file() or not (folder / FILES[0]).is_file():
        raise FileNotFoundError(f"{folder} holds no feature pages ({' + '.join(FILES)})")
    try:
        meta = json.loads((folder / FILES[1]).read_text())
        arrays = read_arrays(folder / FILES[0], "feature pages")
    except Exception as e:  # truncated or garbled files
        raise ValueError(f"{folder}: unreadable feature pages ({type(e).__name__}: {e})") from e
    if meta.get("kind") != KIND or meta.get("schema_version") != SCHEMA_VERSION:
        raise ValueError(f"{folder / FILES[1]}: not {KIND} schema {SCHEMA_VERSION}")
    meta.pop("arrays", None)
    pages = FeaturePages({k: v for k, v in meta.items() if k not in ("schema_version", "kind")}, arrays)
    if check:
        validate(pages)
    return pages
