"""Ground-truth steering benchmark on the toy world: does steering with a direction attributed to a concept move
probability onto that concept's tokens, at a fixed KL budget, without wrecking fluency?

For each concept (e.g. colour:red, gender:female, category:animal) and each method — the best feature of every
dictionary (best = highest AUROC of its code as a detector of the concept's tokens), the best single MLP neuron,
difference-in-means at each dictionary's hook, and per SAE the best feature among those passing an output-score
filter — the direction's α is calibrated so KL(p_base || p_steered) at the last token of a neutral prompt equals the
budget, then scored by
- delta_mass: mean over neutral prompts of P_steered(concept tokens) - P_base(concept tokens) at the next token,
- gen_concept_frac: fraction of greedily generated tokens (steered at every position) that carry the concept,
- gen_nll: loss of that steered generation under the unsteered model (fluency proxy; lower is more fluent).
Concept tokens are the vocabulary words whose static label carries the concept (the label table per token id).
Concepts, documents and labels are of the model's toy world (`interp.worlds.world_name_of_model`: toy1 or toy2).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import NamedTuple

import numpy as np
import torch
from jaxtyping import Float, Int
from torch import Tensor
from transformer_lens import HookedTransformer

from interp.auroc import auroc, require_both_classes
from interp.dictionary import Dictionary
from interp.worlds import get_world, label_table, require_world

from ..activations.stream import hook_activations
from ..safetensors_io import write_tensors
from .apply import steered_logits
from .calibration import calibrate
from .config import DEFAULT_CONCEPTS
from .scores import feature_scores
from .vectors import SteeringVector, diff_in_means, feature_vector, neuron_vector

SCHEMA_VERSION = 1
NEUTRAL_PROMPTS = ("The", "Then", "Later", "Today", "Yesterday", "When", "After", "Every")


def concept_token_ids(concept: str, world: str) -> Int[Tensor, " ids"]:
    """Token ids of the vocabulary words of toy world `world` whose static label carries `concept`."""
    table = label_table(world)  # the static labels per token id
    ids = np.flatnonzero(get_world(world).taxonomy.concept_mask(table, concept))
    if len(ids) == 0:
        raise ValueError(f"no vocabulary word carries {concept}: steering toward it cannot be scored")
    return torch.as_tensor(ids, dtype=torch.long)


def concept_mass(logits: Float[Tensor, "... d_vocab"], ids: Int[Tensor, " concept"]) -> Float[Tensor, "..."]:
    """Probability mass on token ids `ids` of every distribution in logits [..., vocab]."""
    return logits.float().softmax(-1)[..., ids].sum(-1)


@torch.no_grad()
def greedy_batch(model: HookedTransformer, prompts: Int[Tensor, "batch pos"], n_new: int,
                 vec: SteeringVector | None = None, alpha: float = 0.0) -> Int[Tensor, "batch pos_new"]:
    """Greedy continuation of equal-length prompt rows [batch, pos], steered at every position when vec is given."""
    seq = prompts.clone()
    for _ in range(n_new):
        logits = steered_logits(model, seq, [vec] if vec is not None else [], alpha)[:, -1]
        seq = torch.cat([seq, logits.argmax(-1, keepdim=True).to(seq.device)], dim=1)
    return seq


@torch.no_grad()
def generation_nll(model: HookedTransformer, seq: Int[Tensor, "batch pos"], start: int) -> float:
    """Mean loss of seq[:, start:] under the unsteered model."""
    logp = torch.log_softmax(model(seq).float(), -1)
    tgt = seq[:, start:]
    return float(-logp[:, start - 1:-1].gather(-1, tgt[..., None]).mean())


@dataclass
class Outcome:
    """Steering outcome of one direction for one concept at the KL budget."""

    alpha: float
    kl: float
    reached: bool
    mass_base: float
    mass_steered: float
    delta_mass: float
    gen_concept_frac: float
    gen_concept_frac_base: float
    gen_nll: float
    gen_nll_base: float
    note: str = ""


@torch.no_grad()
def steering_outcome(model: HookedTransformer, vec: SteeringVector, ids: Int[Tensor, " concept"],
                     calib_prompt: Int[Tensor, " pos"], eval_prompts: Int[Tensor, "batch pos"], kl_budget: float,
                     gen_tokens: int = 12, alpha_max: float | None = None,
                     base: tuple[Float[Tensor, "batch d_vocab"], Int[Tensor, "batch pos_new"]] | None = None
                     ) -> Outcome:
    """Calibrate α to `kl_budget` on `calib_prompt`, then score on `eval_prompts` [batch, pos] (see module doc).
    An unreachable budget is scored at α_max and flagged (reached=False), never dropped. `base` may carry the
    unsteered (last-position logits, greedy generation) of the eval prompts, which do not depend on the direction."""
    cal = calibrate(model, vec, calib_prompt, [kl_budget], alpha_max=alpha_max)
    pt = cal.points[0]
    alpha = pt.alpha if pt.alpha is not None else cal.alpha_max
    if base is None:
        base = model(eval_prompts)[:, -1], greedy_batch(model, eval_prompts, gen_tokens)
    steered = steered_logits(model, eval_prompts, vec, alpha)[:, -1]
    mb, ms = float(concept_mass(base[0], ids).mean()), float(concept_mass(steered, ids).mean())
    p = eval_prompts.shape[1]
    g0, g1 = base[1], greedy_batch(model, eval_prompts, gen_tokens, vec, alpha)
    frac = lambda g: float(torch.isin(g[:, p:].cpu(), ids).float().mean())  # noqa: E731
    return Outcome(float(alpha), pt.kl, pt.reached, mb, ms, ms - mb, frac(g1), frac(g0),
                   generation_nll(model, g1, p), generation_nll(model, g0, p), pt.note)


@dataclass
class NamedDictionary:
    """A dictionary in the benchmark: `kind` "sae" or "snmf", `label` e.g. "sae:topk" (one method per label)."""

    label: str
    kind: str
    dictionary: Dictionary
    path: str = ""


@dataclass
class BenchSettings:
    concepts: Sequence[str] = DEFAULT_CONCEPTS
    kl_budget: float = 0.5
    n_docs: int = 64
    """Held-out toy-world documents for AUROCs, difference-in-means and input scores."""
    calib_prompt: str = "The"
    eval_prompts: Sequence[str] = NEUTRAL_PROMPTS
    gen_tokens: int = 12
    output_quantile: float = 0.5
    """Output-score filter: keep SAE features whose output score is at least this quantile of the SAE's scores."""
    seed: int = 0


@dataclass
class BenchRow:
    concept: str
    method: str
    hook: str
    index: int
    """Feature / neuron index (-1 for difference-in-means)."""
    auroc: float | None
    """AUROC of the feature / neuron as a detector of the concept's tokens (None for difference-in-means)."""
    output_score: float | None
    outcome: Outcome


@dataclass
class BenchResult:
    settings: dict
    rows: list[BenchRow]
    directions: dict[str, Tensor] = field(default_factory=dict)
    """"concept|method" -> unit direction (saved as safetensors)."""
    dictionaries: list[dict] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"schema_version": SCHEMA_VERSION, "kind": "steering-benchmark", "settings": self.settings,
                "dictionaries": self.dictionaries, "rows": [asdict(r) for r in self.rows],
                "summary": summarize(self.rows)}


def _prompt_tokens(model: HookedTransformer, texts: Sequence[str]) -> Tensor:
    toks = [model.to_tokens(t)[0] for t in texts]
    if len({len(t) for t in toks}) != 1:
        raise ValueError(f"benchmark prompts must have equal token lengths: {list(texts)}")
    return torch.stack(toks)


class Candidate(NamedTuple):
    """One direction to score for one concept."""

    concept: str
    method: str
    vector: SteeringVector
    index: int
    """Feature or neuron index (-1 for difference-in-means)."""
    auroc: float | None
    output_score: float | None


def _dictionary_candidates(model: HookedTransformer, nd: NamedDictionary, tokens: Tensor, masks_CN: Tensor,
                           settings: BenchSettings, calib: Tensor) -> list[Candidate]:
    """Per concept the best-AUROC feature; for an SAE also the best among features passing the output filter."""
    acts = hook_activations(model, nd.dictionary.hook_name, tokens)[:, 1:]
    au_CF = auroc(nd.dictionary.encode(acts.reshape(-1, acts.shape[-1])).float(), masks_CN)
    out = feature_scores(model, nd.dictionary, tokens, calib).output_score if nd.kind == "sae" else None
    found: list[Candidate] = []
    for c, concept in enumerate(settings.concepts):
        picks = [(nd.label, au_CF[c])]
        if out is not None:
            keep = out >= torch.quantile(out, settings.output_quantile)
            picks.append((nd.label + "+outfilter", torch.where(keep, au_CF[c], torch.full_like(au_CF[c], -1.0))))
        for method, score in picks:
            i = int(score.argmax())
            found.append(Candidate(concept, method, feature_vector(nd.dictionary, i, model, nd.label), i,
                                   float(au_CF[c, i]), None if out is None else float(out[i])))
    return found


def _baseline_candidates(model: HookedTransformer, hooks: list[str], corpus, tokens: Tensor, masks_CN: Tensor,
                         concepts: Sequence[str]) -> list[Candidate]:
    """Best-AUROC neuron of every mlp.hook_post layer among `hooks`, and difference-in-means at every hook."""
    found: list[Candidate] = []
    for layer in sorted({int(h.split(".")[1]) for h in hooks if h.endswith("mlp.hook_post")}):
        acts = hook_activations(model, f"blocks.{layer}.mlp.hook_post", tokens)[:, 1:]
        au_CF = auroc(acts.reshape(-1, acts.shape[-1]), masks_CN)
        for c, concept in enumerate(concepts):
            i = int(au_CF[c].argmax())
            found.append(Candidate(concept, f"neuron@L{layer}", neuron_vector(model, layer, i), i,
                                   float(au_CF[c, i]), None))
    for hook in hooks:
        for concept in concepts:
            vec = diff_in_means(model, hook, tokens, corpus.concept_mask(concept), concept=concept)
            found.append(Candidate(concept, f"diffmeans@{hook}", vec, -1, None, None))
    return found


@torch.no_grad()
def run_benchmark(model: HookedTransformer, dictionaries: Sequence[NamedDictionary], settings: BenchSettings,
                  log=print) -> BenchResult:
    """Every method for every concept (see module doc); AUROCs on `settings.n_docs` held-out documents."""
    world = require_world(model, "the steering benchmark",
                          "measure steering on this model with `interp steer` and its own prompts").name
    corpus = get_world(world).docs(settings.n_docs, settings.seed, "heldout", model.cfg.n_ctx)
    tokens = torch.as_tensor(corpus.tokens, dtype=torch.long)
    masks_CN = torch.stack([torch.as_tensor(corpus.concept_mask(c)[:, 1:].reshape(-1)) for c in settings.concepts])
    require_both_classes(masks_CN, "every concept, among the benchmark's tokens,")
    calib = model.to_tokens(settings.calib_prompt)[0]
    evals = _prompt_tokens(model, settings.eval_prompts)
    ids = {c: concept_token_ids(c, world) for c in settings.concepts}
    hooks = sorted({d.dictionary.hook_name for d in dictionaries})
    candidates = [x for nd in dictionaries
                  for x in _dictionary_candidates(model, nd, tokens, masks_CN, settings, calib)]
    candidates += _baseline_candidates(model, hooks, corpus, tokens, masks_CN, settings.concepts)
    base = model(evals)[:, -1], greedy_batch(model, evals, settings.gen_tokens)
    rows: list[BenchRow] = []
    dirs: dict[str, Tensor] = {}
    for cand in candidates:
        concept, method, vec, index = cand.concept, cand.method, cand.vector, cand.index
        o = steering_outcome(model, vec, ids[concept], calib, evals, settings.kl_budget, settings.gen_tokens,
                             base=base)
        rows.append(BenchRow(concept, method, vec.hook, index, cand.auroc, cand.output_score, o))
        dirs[f"{concept}|{method}"] = vec.direction
        log(f"{concept:16s} {method:34s} #{index:<5d} auroc={cand.auroc or float('nan'):.3f} alpha={o.alpha:8.3f} "
            f"dmass={o.delta_mass:+.4f} gen={o.gen_concept_frac:.2f} nll={o.gen_nll:.2f}")
    sets = {**asdict(settings), "concepts": list(settings.concepts), "eval_prompts": list(settings.eval_prompts)}
    meta = [{"label": d.label, "kind": d.kind, "path": d.path, "hook": d.dictionary.hook_name,
             "d_sae": d.dictionary.d_sae} for d in dictionaries]
    return BenchResult(sets, rows, dirs, meta)


def _ratio(a: float, b: float) -> float | None:
    return a / b if b > 0 else None


def summarize(rows: Sequence[BenchRow]) -> dict:
    """Mean delta_mass per method, and the papers' claims as per-concept comparisons."""
    by: dict[str, dict[str, float]] = {}
    for r in rows:
        by.setdefault(r.method, {})[r.concept] = r.outcome.delta_mass
    means = {m: float(np.mean(list(v.values()))) for m, v in by.items()}
    snmf = [m for m in by if m.startswith("snmf")]
    saes = [m for m in by if m.startswith("sae") and not m.endswith("+outfilter")]
    dim = [m for m in by if m.startswith("diffmeans")]

    def wins(a: str, b: str) -> dict:
        common = sorted(set(by[a]) & set(by[b]))
        mean = lambda m: float(np.mean([by[m][c] for c in common]))  # noqa: E731
        return {"a": a, "b": b, "a_wins": sum(by[a][c] > by[b][c] for c in common), "n": len(common),
                "mean_a": mean(a), "mean_b": mean(b)}

    claims = {"snmf_vs_sae": [wins(s, a) for s in snmf for a in saes],
              "snmf_vs_diffmeans": [wins(s, d) for s in snmf for d in dim],
              "outfilter_vs_unfiltered": [{**wins(a + "+outfilter", a),
                                           "ratio_of_means": _ratio(means[a + "+outfilter"], means[a])}
                                          for a in saes if a + "+outfilter" in by]}
    return {"mean_delta_mass": means, "claims": claims}


def save_result(result: BenchResult, folder) -> None:
    """bench.json (schema_version, settings, rows, summary) + bench.safetensors (directions), atomically."""
    import json
    from pathlib import Path

    from ..atomic import atomic_write, atomic_write_text

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.contiguous().float() for k, v in result.directions.items()}
    atomic_write(folder / "bench.safetensors", lambda p: write_tensors(p, tensors))
    atomic_write_text(folder / "bench.json", json.dumps(result.to_json(), indent=1))
