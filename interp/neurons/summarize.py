"""From accumulated sums and a model's weights to the per-neuron arrays of `NeuronStats`, and neuron families.

The families follow Gurnee et al. 2024 (Universal Neurons in GPT2 Language Models): token, bigram and positional
neurons from activation statistics, prediction and suppression neurons from the moments of W_out's composition with
the unembedding over the vocabulary (high kurtosis, positive / negative skew); dead neurons (never firing) as Voita
et al. 2023 (Neurons in Large Language Models: Dead, N-gram, Positional) count them. Only top-k tokens and bigrams
per neuron are kept: nothing of size vocabulary x neurons reaches an artifact.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
from jaxtyping import Float, Int, Shaped
from torch import Tensor

from .moments import moments_along
from .stats import NeuronAccumulator

if TYPE_CHECKING:
    from transformer_lens import HookedTransformer

FAMILIES = ("dead", "bigram", "token", "positional", "concept", "prediction", "suppression", "other")
"""Neuron families, in the priority order a neuron is assigned by (first that applies)."""


@dataclass
class FamilyRules:
    """Thresholds that put a neuron in a family (stored with every artifact)."""

    top_n: int = 3
    """Token / bigram detectors: the top_n tokens (bigrams) together carry >= share of the positive activation."""
    token_share: float = 0.5
    bigram_share: float = 0.5
    token_lift: float = 2.0
    """Token detector also needs mean activation on its top token >= this times its mean over all tokens (else
    a frequent token carries a large share of any neuron's activation)."""
    bigram_lift: float = 1.5
    """Bigram detector also needs its top bigram's mean activation >= this times its current token's mean
    activation (else the bigram only repeats a token detector)."""
    positional_mi: float = 0.3
    """Positional: mutual information(firing; position bin) / entropy(firing) >= this."""
    concept_auroc: float = 0.9
    """Concept detector: best ground-truth concept AUROC >= this."""
    vocab_kurtosis: float = 10.0
    """Prediction (skew > 0) / suppression (skew < 0) neurons: kurtosis of cos(W_out[n], W_U) over vocab >= this."""


def _entropy_bits(p: Tensor) -> Tensor:
    return -(torch.where(p > 0, p * torch.log2(p.clamp_min(1e-300)), torch.zeros_like(p)))


def positional_mi(fires_by_bin: Float[Tensor, "*batch bins d"], tokens_by_bin: Float[Tensor, " bins"]
                  ) -> tuple[Float[Tensor, "*batch d"], Float[Tensor, "*batch d"]]:
    """Mutual information in bits between firing and position bin, and it over the firing entropy (0 if none).

    fires_by_bin [..., bins, d] firing counts, tokens_by_bin [bins] token counts.
    """
    n = tokens_by_bin.sum()
    pb = (tokens_by_bin / n)[:, None]
    pf = fires_by_bin.sum(-2, keepdim=True) / n  # [..., 1, d]
    joint_f, joint_n = fires_by_bin / n, (tokens_by_bin[:, None] - fires_by_bin) / n
    def term(pj: Tensor, pm: Tensor) -> Tensor:
        ratio = pj / (pb * pm).clamp_min(1e-300)
        return torch.where(pj > 0, pj * torch.log2(ratio.clamp_min(1e-300)), torch.zeros_like(pj)).sum(-2)
    mi = (term(joint_f, pf) + term(joint_n, 1 - pf)).clamp_min(0)
    h = _entropy_bits(pf.squeeze(-2)) + _entropy_bits(1 - pf.squeeze(-2))
    return mi, torch.where(h > 1e-12, mi / h.clamp_min(1e-12), torch.zeros_like(mi))


def top_shares(sums: Float[Tensor, "layer rows d_mlp"], total: Float[Tensor, "layer d_mlp"], k: int, chunk: int = 512
               ) -> tuple[Int[Tensor, "layer d_mlp k"], Float[Tensor, "layer d_mlp k"]]:
    """Top-k rows of sums [L, rows, d] per neuron: indices [L, d, k] and their shares of `total` [L, d] (one layer
    and `chunk` neurons at a time, so only that much of the sums is ever copied)."""
    k = min(k, sums.shape[1])
    idx = torch.zeros(sums.shape[0], sums.shape[2], k, dtype=torch.long)
    share = torch.zeros(sums.shape[0], sums.shape[2], k, dtype=torch.float64)
    for layer in range(sums.shape[0]):
        for c in range(0, sums.shape[2], chunk):
            val, i = sums[layer, :, c:c + chunk].double().topk(k, dim=0)  # [k, chunk]
            t = total[layer, c:c + chunk][None, :]
            idx[layer, c:c + chunk] = i.T
            share[layer, c:c + chunk] = torch.where(t > 0, val / t.clamp_min(1e-300), torch.zeros_like(val)).T
    return idx, share


def token_lift(acc: NeuronAccumulator, top: Int[Tensor, "layer d_mlp"]) -> Float[Tensor, "layer d_mlp"]:
    """[L, d] mean positive activation on each neuron's top token (a token slot) over its mean positive activation
    overall."""
    layer, neuron = torch.arange(acc.n_layers)[:, None], torch.arange(acc.d_mlp)[None, :]
    tok_mean = acc.token_sum[layer, top, neuron] / acc.token_count[acc.tokens.ids[top]].clamp_min(1)
    overall = acc.pos_total / max(acc.n_tokens, 1)
    return torch.where(overall > 0, tok_mean / overall.clamp_min(1e-300), torch.zeros_like(overall))


def bigram_lift(acc: NeuronAccumulator, top: Int[Tensor, "layer d_mlp"], cur_of_slot: Int[Tensor, " slot"]
                ) -> Float[Tensor, "layer d_mlp"]:
    """[L, d] mean activation on each neuron's top bigram over the mean on that bigram's current token (0 when
    that token has no token slot: its mean is unknown)."""
    layer = torch.arange(acc.n_layers)[:, None]
    neuron = torch.arange(acc.d_mlp)[None, :]
    big_mean = acc.bigram_sum[layer, top, neuron].double() / acc.bigram_count[top].clamp_min(1)
    cur = cur_of_slot[top]
    slot = acc.tokens.slot_of[cur]
    tok_mean = acc.token_sum[layer, slot.clamp_min(0), neuron] / acc.token_count[cur].clamp_min(1)
    tok_mean = torch.where(slot >= 0, tok_mean, torch.zeros_like(tok_mean))
    return torch.where(tok_mean > 0, big_mean / tok_mean.clamp_min(1e-300), torch.zeros_like(big_mean))


VocabMoments = tuple[Float[Tensor, " d_mlp"], Float[Tensor, " d_mlp"], Float[Tensor, " d_mlp"], Float[Tensor, " d_mlp"]]


def vocab_moments(w_out: Float[Tensor, "d_mlp d_model"], u_dir: Float[Tensor, "d_model d_vocab"], chunk: int = 256
                  ) -> VocabMoments:
    """Moments over the vocabulary of cos(W_out[n], W_U[:, v]) for every neuron of one layer (w_out [d_mlp,
    d_model] float64, u_dir [d_model, vocab] unit columns), `chunk` neurons at a time: memory chunk x vocab."""
    out_dir = w_out / w_out.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    parts = [moments_along(out_dir[i:i + chunk] @ u_dir, dim=-1) for i in range(0, out_dir.shape[0], chunk)]
    return tuple(torch.cat([getattr(m, k) for m in parts]) for k in ("mean", "var", "skew", "kurtosis"))


def weight_stats(model: HookedTransformer, n_vocab: int | None = None, chunk: int = 256
                 ) -> dict[str, Shaped[np.ndarray, "*shape"]]:
    """||W_in||, ||W_out||, input bias, cos(W_in[:,n], W_out[n]) and moments of cos(W_out[n], W_U[:, v]) over the
    first n_vocab tokens v (prediction / suppression neurons, Gurnee et al. 2024), float64, one layer and `chunk`
    neurons at a time (GPT-2's 12 x 3072 x 50k cosines at once would be 15 GB)."""
    keys = ("w_in_norm", "w_out_norm", "b_in", "cos_in_out", "vocab_mean", "vocab_var", "vocab_skew",
            "vocab_kurtosis")
    rows: dict[str, list[np.ndarray]] = {k: [] for k in keys}
    with torch.no_grad():
        u_dir = model.W_U.detach()[:, :n_vocab or model.cfg.d_vocab].to(torch.float64, copy=True)  # normalised below
        u_dir /= u_dir.norm(dim=0, keepdim=True).clamp_min(1e-12)
        for layer in range(model.cfg.n_layers):
            w_in = model.blocks[layer].mlp.W_in.detach().double()     # [d_model, d_mlp]
            w_out = model.blocks[layer].mlp.W_out.detach().double()   # [d_mlp, d_model]
            cos_io = torch.nn.functional.cosine_similarity(w_in.T, w_out, dim=-1)
            mom = vocab_moments(w_out, u_dir, chunk)
            values = (w_in.norm(dim=0), w_out.norm(dim=-1), model.blocks[layer].mlp.b_in.detach(), cos_io, *mom)
            for k, v in zip(keys, values):
                rows[k].append(v.float().cpu().numpy())
    return {k: np.stack(v) for k, v in rows.items()}


def summarize(acc: NeuronAccumulator, top_k: int = 8, rules: FamilyRules | None = None,
              concepts: list[str] | None = None
              ) -> tuple[dict[str, Shaped[np.ndarray, "*shape"]], list[str], Int[np.ndarray, "slot 2"]]:
    """Per-neuron arrays from the sums (no weights): returns arrays, scored concept names, bigram pairs."""
    n = max(acc.n_tokens, 1)
    mom = [p.moments() for p in acc.power]
    stack = lambda name: torch.stack([getattr(m, name) for m in mom]).float().numpy()  # noqa: E731
    mi, mi_norm = positional_mi(acc.fires_by_bin, acc.tokens_by_bin)
    tok_slot, tok_share = top_shares(acc.token_sum, acc.pos_total, top_k)
    n_slots = len(acc.slots.keys)
    big_idx, big_share = top_shares(acc.bigram_sum[:, :max(n_slots, 1)], acc.pos_total, top_k)
    pairs = acc.slots.pairs() if n_slots else np.zeros((1, 2), dtype=np.int64)
    lift = bigram_lift(acc, big_idx[..., 0], torch.from_numpy(pairs[:, 1]))
    names, auroc = acc.concept_aurocs(concepts)
    positives = [int(m.sum()) for m in acc.concept_masks(concepts)[1]]  # what each AUROC rests on (label evidence)
    if names:
        best_auroc, best = auroc.max(dim=1)
    else:
        best_auroc, best = torch.full((acc.n_layers, acc.d_mlp), 0.5), torch.full((acc.n_layers, acc.d_mlp), -1)
    arrays = dict(
        fire_freq=(acc.fires / n).float().numpy(), dead=(acc.fires == 0).numpy(),
        mean=stack("mean"), var=stack("var"), skew=stack("skew"), kurtosis=stack("kurtosis"),
        zero_frac=(acc.zeros / n).float().numpy(), near_zero_frac=(acc.near / n).float().numpy(),
        pos_mi=mi.float().numpy(), pos_mi_norm=mi_norm.float().numpy(),
        top_tokens=acc.tokens.ids[tok_slot].int().numpy(), top_token_share=tok_share.float().numpy(),
        top_token_lift=token_lift(acc, tok_slot[..., 0]).float().numpy(),
        untracked_token_share=_share(acc.untracked_tokens, acc.pos_total),
        tracked_tokens=acc.tokens.ids.int().numpy(), token_count=acc.token_count.float().numpy(),
        top_bigrams=big_idx.int().numpy(), top_bigram_share=big_share.float().numpy(),
        top_bigram_lift=lift.float().numpy(), bigram_count=acc.bigram_count[:max(n_slots, 1)].float().numpy(),
        untracked_bigram_share=_share(acc.untracked, acc.pos_total),
        concept_auroc=auroc.float().numpy(), best_concept=best.int().numpy(), best_auroc=best_auroc.float().numpy(),
        concept_positives=np.asarray(positives if names else [], dtype=np.int64))
    return arrays, names, pairs


def _share(part: Tensor, total: Tensor) -> np.ndarray:
    return torch.where(total > 0, part / total.clamp_min(1e-300), torch.zeros_like(part)).float().numpy()


def classify(a: dict[str, Shaped[np.ndarray, "*shape"]], rules: FamilyRules) -> dict[str, Shaped[np.ndarray, "*shape"]]:
    """Flags per family and the family index (into FAMILIES) of every neuron, first applicable family wins."""
    k = rules.top_n
    flags = {
        "dead": a["dead"].astype(bool),
        "token": (a["top_token_share"][..., :k].sum(-1) >= rules.token_share)
        & (a["top_token_lift"] >= rules.token_lift),
        "bigram": (a["top_bigram_share"][..., :k].sum(-1) >= rules.bigram_share)
        & (a["top_bigram_lift"] >= rules.bigram_lift),
        "positional": a["pos_mi_norm"] >= rules.positional_mi,
        "concept": a["best_auroc"] >= rules.concept_auroc,
        "prediction": (a["vocab_kurtosis"] >= rules.vocab_kurtosis) & (a["vocab_skew"] > 0),
        "suppression": (a["vocab_kurtosis"] >= rules.vocab_kurtosis) & (a["vocab_skew"] < 0),
    }
    family = np.full(a["dead"].shape, FAMILIES.index("other"), dtype=np.int32)
    for i in reversed(range(len(FAMILIES) - 1)):  # lowest index = highest priority, so it is written last
        family[flags[FAMILIES[i]]] = i
    return {"family": family, "prediction": flags["prediction"], "suppression": flags["suppression"]}


def rules_dict(rules: FamilyRules) -> dict:
    return asdict(rules)


def why_none(family: str, act_fn: str, rules: dict) -> str:
    """Why a model may have no neuron of `family` (what the family requires, by the rules stored with the
    statistics, and for dead neurons what the activation function allows): the text an empty filter shows."""
    r = {**asdict(FamilyRules()), **rules}
    gated = act_fn not in ("relu",)
    why = {
        "dead": ("a neuron is dead when it never fires: its pre-activation never exceeds the firing threshold on any "
                 "token" + (f". {act_fn.upper()} neurons are never exactly zero and their pre-activation crosses 0 "
                            f"on some token almost always, so {act_fn.upper()} models rarely have dead neurons"
                            if gated else " (a ReLU neuron whose output is 0 on every token)")),
        "token": (f"a token detector's top {r['top_n']} tokens carry >= {r['token_share']:.0%} of its positive "
                  f"activation and its top token lifts its mean >= {r['token_lift']}x"),
        "bigram": (f"a bigram detector's top {r['top_n']} bigrams carry >= {r['bigram_share']:.0%} of its positive "
                   f"activation with a lift >= {r['bigram_lift']}x over its current token"),
        "positional": (f"a positional neuron's firing carries >= {r['positional_mi']:.0%} of its entropy as mutual "
                       f"information with the token's position"),
        "concept": f"a concept neuron detects a ground-truth concept with AUROC >= {r['concept_auroc']}",
        "prediction": (f"a prediction neuron's output weights single out a few tokens: kurtosis of cos(W_out, W_U) "
                       f">= {r['vocab_kurtosis']} with positive skew"),
        "suppression": (f"a suppression neuron's output weights single out a few tokens: kurtosis of cos(W_out, "
                        f"W_U) >= {r['vocab_kurtosis']} with negative skew"),
        "other": "other holds the neurons no family above claims",
    }
    return why.get(family, f"no rule recorded for {family}")
