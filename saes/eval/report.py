"""The dictionary evaluation report (eval.json beside the weights) of SAEs (`evaluate`, `interp eval-sae`) and
SNMF (`evaluate_snmf`), both through one `dictionary_reports`; the SAEs of a sweep are evaluated together
(`evaluate_many`), sharing the model's clean and zero-ablation passes.

On the held-out split of a corpus (by default the one the dictionary records it was trained on; the toy world for
the shipped toy models), BOS positions left out, it reports with the names of docs/methods.md §2: l0, r2 (float64
explained variance), r2_legacy (SAELens <= 6.x style, per batch of documents, token-weighted mean), mse (normalised
by nothing: raw activation space), cosine_similarity, ce_loss_recovered and kl_score (saes.eval.splice.splice_eval:
SAE spliced in vs zero ablation), dead_fraction and dense_fraction (on the eval tokens), log_density_histogram;
ground_truth (labelled toy-world corpora only): for every toy-world concept present in the eval tokens the best
single latent's AUROC and F1, their means over concepts and the concepts no latent captures (AUROC < 0.9);
sparse_probing (k-sparse probes per concept, raw neurons as the baseline) and absorption (Chanin et al. 2024, on
the world's hierarchies) from saes.eval.probe_report, on the same ground-truth tokens ({"absent": reason} without
labels); seed_stability against --compare (best match per latent, and one-to-one: seed_stability_matched). Metrics
come from saes.eval.metrics.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from jaxtyping import Float, Int
from torch import Tensor

from interp import dictionary as dictionaries
from interp.activations.stream import NonFiniteError, hook_width
from interp.atomic import atomic_write_text
from interp.corpus import TokenSource, describe, rows_available
from interp.dictionary import Dictionary
from interp.worlds.taxonomy import Taxonomy
from saes import io
from saes.eval import metrics
from saes.eval.probe_report import NO_LABELS, NO_TOKENS, probe_data, probe_reports
from saes.eval.splice import SpliceEval, splice_evals

if TYPE_CHECKING:
    from transformer_lens import HookedTransformer

REPORT = "eval.json"
BATCH_DOCS = 32


def eval_rows(corpus: TokenSource, n_tokens: int
              ) -> tuple[Int[Tensor, "doc pos"], Int[np.ndarray, "doc pos field"] | None]:
    """The first rows [doc, n_ctx] of a (held-out) corpus holding at least `n_tokens` non-BOS tokens, or all of
    them when it is shorter, and their toy-world labels (None for other corpora)."""
    n_docs = rows_available(corpus, max(1, math.ceil(n_tokens / (corpus.n_ctx - 1))),
                            f"the evaluation ({n_tokens:,} tokens)")
    if n_docs == 0:
        raise ValueError(f"the evaluation corpus {corpus.description.get('source')} "
                         f"({corpus.description.get('split')} split) has no row of {corpus.n_ctx} tokens: give a "
                         f"bigger corpus or a smaller --n-ctx")
    rows = corpus.rows(0, n_docs)
    return rows.tokens.long(), rows.labels.numpy() if rows.labels is not None else None


class _Reconstruction:
    """Reconstruction metrics of one dictionary over the evaluation's activations, fed a batch at a time, and the
    codes of the first `keep_codes` tokens (for the ground-truth concept scores)."""

    def __init__(self, dictionary: Dictionary, keep_codes: int, device):
        self.dictionary, self.keep_codes, self.device = dictionary, keep_codes, device
        self.acc = metrics.ReconstructionAccumulator(dictionary.d_sae, float(getattr(dictionary, "active_share", 0.0)))
        self.codes: list[Tensor] = []
        self.kept = 0

    @torch.no_grad()
    def update(self, x: Float[Tensor, "token d_in"]) -> None:
        x = x.to(self.device)
        f = self.dictionary.encode(x)
        self.acc.update(x, self.dictionary.decode(f), f)
        if self.kept < self.keep_codes:
            self.codes.append(f[: self.keep_codes - self.kept].float().cpu())
            self.kept += len(self.codes[-1])

    def result(self) -> tuple[dict, Float[Tensor, "token d_sae"]]:
        codes = torch.cat(self.codes) if self.codes else torch.empty(0, self.dictionary.d_sae)
        return self.acc.report(), codes


def _feed(recs: list[_Reconstruction], width: int, max_tokens: int | None, kept: list[Tensor], keep: int):
    """The clean pass's callback: the hook's activations [row, pos, ...] of a batch, BOS positions dropped and
    flattened to [token, width] (float32), at most `max_tokens` in all, to every dictionary's metrics; the first
    `keep` go to `kept` (CPU) for the probes."""
    fed = [0]

    def on_clean_act(act: Tensor) -> None:
        x = act[:, 1:].reshape(-1, width).float()
        if max_tokens:
            x = x[: max(0, max_tokens - fed[0])]
        if not len(x):
            return
        if not bool(torch.isfinite(x).all()):
            raise NonFiniteError(f"NaN/Inf activations in tokens {fed[0]}..{fed[0] + len(x) - 1} of the evaluation")
        if fed[0] < keep:
            kept.append(x[: keep - fed[0]].cpu())
        fed[0] += len(x)
        for rec in recs:
            rec.update(x)

    return on_clean_act


def ground_truth(codes: Float[Tensor, "token d_sae"], labels: Int[np.ndarray, "doc pos field"],
                 taxonomy: Taxonomy | None = None) -> dict:
    """Ground-truth concept scores of the codes of the eval documents' tokens (BOS positions dropped), over the
    concepts of the labels' `taxonomy` (their toy world's; default toy1's)."""
    lab = labels[:, 1:].reshape(-1, labels.shape[-1])[: len(codes)]  # [doc, pos, field] -> [token, field], no BOS
    return metrics.ground_truth_report(codes, lab, taxonomy)


def _ignore_ids(tokenizer) -> list[int]:
    if tokenizer is None:
        return []
    return sorted({t for t in (tokenizer.pad_token_id, tokenizer.eos_token_id) if t is not None})


def dictionary_reports(dictionaries: Sequence[Dictionary], model: HookedTransformer, hook: str,
                       tokens: Int[Tensor, "doc pos"], labels: Int[np.ndarray, "doc pos field"] | None,
                       ground_truth_tokens: int, max_tokens: int | None = None, device=None,
                       taxonomy: Taxonomy | None = None) -> list[dict]:
    """The eval.json fields of each dictionary (SAE, SNMF) spliced into `model` at `hook`, on token rows `tokens`
    [doc, pos] (BOS first; `max_tokens` caps the non-BOS tokens of the reconstruction metrics) with their toy-world
    labels, when known (in `taxonomy`'s schema: the corpus's world). The dictionaries share one clean pass (whose
    activations at `hook` feed the reconstruction metrics) and one zero-ablation pass per batch
    (saes.eval.splice.splice_evals); `device`: where the activations go (default: each dictionary's own)."""
    keep = ground_truth_tokens if labels is not None else 0
    recs = [_Reconstruction(d, keep, device or d.feature_directions().device) for d in dictionaries]
    kept: list[Tensor] = []
    splices = splice_evals(model, hook, dictionaries, tokens.split(BATCH_DOCS), _ignore_ids(model.tokenizer),
                           _feed(recs, hook_width(model, hook), max_tokens, kept, keep))
    data = probe_data(torch.cat(kept), tokens, labels, taxonomy, _token_str(model)) if kept else None
    reports = []
    for rec, splice in zip(recs, splices):
        summary, codes = rec.result()
        reports.append({**_report(summary, codes, splice, labels, taxonomy),
                        **probe_reports(rec.dictionary, codes, data, NO_LABELS if labels is None else NO_TOKENS)})
    return reports


def _token_str(model: HookedTransformer):
    """A token id as text, for the absorption report's children."""
    tokenizer = model.tokenizer
    return (lambda i: tokenizer.decode([i])) if tokenizer is not None else str


def _report(rec: dict, codes: Tensor, splice: SpliceEval, labels, taxonomy: Taxonomy | None) -> dict:
    report = {k: rec[k] for k in ("l0", "r2", "r2_legacy", "mse", "cosine_similarity")}
    report.update(ce_loss_recovered=splice.ce_loss_recovered, kl_score=splice.kl_score)
    report.update({k: rec[k] for k in ("dead_fraction", "dense_fraction", "log_density_histogram")})
    report["ground_truth"] = ground_truth(codes, labels, taxonomy) if labels is not None and len(codes) else None
    report["n_tokens"] = rec["n_tokens"]
    report["splice"] = {k: getattr(splice, k) for k in ("ce_clean", "ce_sae", "ce_zero", "kl_sae", "kl_zero",
                                                       "n_tokens")}
    return report


def evaluate_many(saes: Sequence[Dictionary], model: HookedTransformer, corpus: TokenSource, hook: str | None = None,
                  n_tokens: int = 32_768, ground_truth_tokens: int = 8192) -> list[dict]:
    """The report of each of `saes` (raw-activation dictionaries reading one hook, e.g. the SAEs of a sweep) spliced
    into `model` at `hook` (default: the hook they read), on the first `n_tokens` tokens of `corpus` (a held-out
    split: interp.corpus.open_corpus(..., split="heldout")); the model's clean and zero-ablation passes are run once
    for all of them. Each report is the one `evaluate` gives the SAE alone."""
    hooks = {hook or sae.hook_in for sae in saes}
    if len(hooks) != 1:
        raise ValueError(f"the dictionaries read different hooks ({', '.join(sorted(hooks))}): evaluate them apart")
    hook = hooks.pop()
    width = hook_width(model, hook)
    for sae in saes:
        if width != sae.d_in:
            raise ValueError(f"d_in mismatch: the SAE has d_in={sae.d_in} but {hook} of this model has d={width}; "
                             f"pass the hook (--hook) and model (--model) the SAE was trained on")
    saes = [sae.eval() if hasattr(sae, "eval") else sae for sae in saes]
    tokens, labels = eval_rows(corpus, n_tokens)
    reports = dictionary_reports(saes, model, hook, tokens, labels, ground_truth_tokens, taxonomy=corpus.taxonomy)
    for report in reports:
        report["seed_stability"] = report["seed_stability_matched"] = None
        report["corpus"] = describe(corpus, tokens.numel())
        report["data"] = {"hook": hook, "n_ctx": tokens.shape[1]}
    return reports


def evaluate(sae: Dictionary, model: HookedTransformer, corpus: TokenSource, hook: str | None = None,
             n_tokens: int = 32_768, ground_truth_tokens: int = 8192, compare: Dictionary | None = None) -> dict:
    """The full report for `sae` (a raw-activation dictionary, e.g. from interp.dictionary.load) spliced into
    `model` at `hook` (default: the hook it reads), on the first `n_tokens` tokens of `corpus` (a held-out split:
    interp.corpus.open_corpus(..., split="heldout")); with `compare`, its seed stability against that one."""
    report = evaluate_many([sae], model, corpus, hook, n_tokens, ground_truth_tokens)[0]
    if compare is not None:
        a, b = sae.feature_directions().detach().cpu(), compare.feature_directions().detach().cpu()
        report["seed_stability"] = metrics.seed_stability(a, b)
        if max(len(a), len(b)) <= metrics.MATCH_MAX_LATENTS:
            report["seed_stability_matched"] = asdict(metrics.matched_seed_stability(a, b))
    return report


def evaluate_snmf(snmf, model: HookedTransformer, corpus: TokenSource, n_tokens: int = 8192) -> dict:
    """The SAE-style report of an SNMF spliced into `model` at its hook, over the first `n_tokens` non-BOS tokens
    of `corpus` (codes by NNLS on F; every code scored)."""
    tokens, labels = eval_rows(corpus, n_tokens)
    report = dictionary_reports([snmf], model, snmf.hook_name, tokens, labels, n_tokens, max_tokens=n_tokens,
                                device="cpu", taxonomy=corpus.taxonomy)[0]
    report["corpus"] = describe(corpus, tokens.numel())
    report["data"] = {"hook": snmf.hook_name, "n_ctx": tokens.shape[1]}
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
    target.parent.mkdir(parents=True, exist_ok=True)  # --out was checked before the evaluation; its folder is ours
    atomic_write_text(target, json.dumps(_clean(report), indent=1))
    return target


def main(cfg) -> dict:
    """CLI entry (`interp eval-sae`): open the SAE (and --compare) through interp.dictionary, evaluate on the
    held-out split of its corpus (or --corpus), write eval.json, print the headline naming model and corpus."""
    from interp.corpus import summary
    from interp.models import load_model
    from interp.provenance import check_hook, check_model, dictionary_record, heldout_corpus, model_record
    from interp.runtime import start_run

    device = start_run(cfg.run.device, cfg.run.threads).device
    about = dictionaries.info(cfg.sae)
    meta = about.recorded
    used = [dictionary_record(f, what) for f, what in ((cfg.sae, "SAE"), (cfg.compare, "--compare dictionary")) if f]
    model_name, processing = check_model(cfg.lm.model, cfg.lm.weight_processing, *used)
    out = check_report_path(cfg.sae, cfg.output.out)
    cfg.output.claim(out)  # an explicit --out is never replaced without --overwrite (the default eval.json is ours)
    sae = dictionaries.load(cfg.sae, device=device)
    compare = dictionaries.load(cfg.compare, device=device) if cfg.compare else None
    model = load_model(model_name, device, processing)
    if cfg.hook and hook_width(model, cfg.hook) == sae.d_in:  # of another width, evaluate names the d_in mismatch
        check_hook(cfg.hook, about.hook_name, f"the SAE {cfg.sae}")
    corpus = heldout_corpus(model, model_name, meta.get("corpus"), cfg.data.corpus, cfg.data.n_ctx, cfg.seed,
                            cfg.data.text_column)
    report = evaluate(sae, model, corpus, cfg.hook or None, cfg.tokens, cfg.ground_truth_tokens, compare)
    report.update(model_record(model_name, processing))
    if compare is not None:
        report["compare"] = str(cfg.compare)
    path = write_report(cfg.sae, report, out)
    head = " ".join(f"{k}={report[k]:.4g}" for k in ("l0", "r2", "r2_legacy", "ce_loss_recovered", "kl_score",
                                                      "dead_fraction") if report[k] is not None)
    print(f"wrote {path}: {head} ({model_name}, {processing} weight processing, {summary(report['corpus'])})")
    return report


def check_report_path(sae_folder: str | Path, out: str | Path | None) -> Path | None:
    """Refuse a report path that would replace one of the SAE's own files."""
    if not out:
        return None
    target = Path(out).resolve()
    own = {(Path(sae_folder) / n).resolve() for n in (io.CFG_FILENAME, io.WEIGHTS_FILENAME)}
    if target in own:
        raise FileExistsError(f"--out {out} is the SAE's own {target.name}: the report would replace it; write the "
                              f"report elsewhere (default: eval.json in the SAE folder)")
    return target
