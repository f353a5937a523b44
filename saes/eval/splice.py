"""Metrics that need the model: CE loss recovered and KL score of a dictionary spliced into a forward pass.

For each token batch we run the model three ways: clean, with the hooked activation replaced by the dictionary's
reconstruction decode(encode(x)) at every position (CE_sae), and with it replaced by zeros (CE_zero)
(docs/methods.md §2; the SAEBench definitions, Karvonen et al. 2025).
CE loss recovered = (CE_zero - CE_sae) / (CE_zero - CE_clean) and KL score = (KL_zero - KL_sae) / KL_zero, where each
CE and KL is a mean over kept tokens (ratio of means, not mean of ratios) and KL is the per-token KL(p_clean ||
p_patched) of the next-token distributions. Position 0 (BOS) and any token in `ignore_token_ids` (pad, EOS) are left
out of the means. The dictionary is anything with encode/decode (interp.dictionary.Dictionary).

Several dictionaries on the same model, hook and tokens (a sweep, the workspace's SAEs) share the clean and the
zero-ablation pass (`splice_evals`): on a 30-layer model those are most of an evaluation's cost. The patched passes
start at the hook's block from the clean pass's residual stream, since the blocks before it compute the same thing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from jaxtyping import Bool, Float, Int
from torch import Tensor
from transformer_lens import HookedTransformer

from interp.dictionary import Dictionary


@dataclass
class SpliceEval:
    """Sums over kept tokens are divided out; n_tokens is how many were kept."""

    ce_clean: float
    ce_sae: float
    ce_zero: float
    ce_loss_recovered: float
    kl_sae: float
    kl_zero: float
    kl_score: float
    n_tokens: int


def _splice_hook(dictionary: Dictionary) -> Callable:
    """Hook replacing the activation by decode(encode(act)); flattens [.., heads, d_head] (hook_z) when needed."""

    def hook(act: Tensor, hook=None) -> Tensor:
        shape = act.shape
        flat = act if shape[-1] == dictionary.d_in else act.reshape(*shape[:-2], shape[-2] * shape[-1])
        out = dictionary.decode(dictionary.encode(flat))
        return out.to(act.dtype).reshape(shape)

    return hook


def _zero_hook(act: Tensor, hook=None) -> Tensor:
    return torch.zeros_like(act)


def keep_mask(tokens: Int[Tensor, "batch pos"], ignore_token_ids: Iterable[int] = ()
              ) -> Bool[Tensor, "batch pos_minus_1"]:
    """[batch, pos-1] mask of the predictions (position i -> token i+1) that count: not from position 0 (BOS), and
    neither reading nor predicting a token in ignore_token_ids (pad, EOS)."""
    keep = torch.ones_like(tokens[:, :-1], dtype=torch.bool)
    keep[:, 0] = False
    for t in ignore_token_ids:
        keep &= (tokens[:, :-1] != t) & (tokens[:, 1:] != t)
    return keep


def _resume_layer(model: HookedTransformer, hook_name: str) -> int | None:
    """The block a patched pass can start at, from the clean pass's residual stream at its input: the hook's block,
    when the model computes nothing before its blocks that a restart would skip (no shortformer positions, no
    attention mask of left padding); None when the patched passes must run from the embedding."""
    m = re.match(r"blocks\.(\d+)\.", hook_name)
    tokenizer = model.tokenizer
    if m is None or model.cfg.positional_embedding_type == "shortformer" or (
            tokenizer is not None and tokenizer.padding_side == "left"):
        return None
    return int(m.group(1))


class _Clean(NamedTuple):
    """What the patched passes of one batch share: the clean next-token log-probs (float64) and the residual stream
    at the resume block's input (None when the patched passes start at the embedding)."""

    logp: Tensor
    resid: Tensor | None


def _clean_pass(model: HookedTransformer, tokens: Tensor, hook_name: str, start: int | None,
                on_clean_act: Callable[[Tensor], None] | None) -> _Clean:
    """One clean forward pass: its log-probs, the resume block's input and (to `on_clean_act`) the hook's
    activation."""
    saved: dict[str, Tensor] = {}
    hooks = [] if start is None else [(f"blocks.{start}.hook_resid_pre", lambda a, hook: saved.__setitem__("r", a))]
    if on_clean_act is not None:
        hooks.append((hook_name, lambda a, hook: on_clean_act(a)))
    logits = model.run_with_hooks(tokens, return_type="logits", fwd_hooks=hooks)
    return _Clean(logits[:, :-1].double().log_softmax(-1), saved.get("r"))


def _patched_logp(model: HookedTransformer, tokens: Tensor, hook_name: str, hook: Callable, clean: _Clean,
                  start: int | None) -> Tensor:
    """Next-token log-probs (float64) of a pass with `hook` at `hook_name`; from the clean residual at the resume
    block when there is one (the blocks before it compute what the clean pass computed)."""
    if start is None:
        logits = model.run_with_hooks(tokens, return_type="logits", fwd_hooks=[(hook_name, hook)])
    else:
        logits = model.run_with_hooks(clean.resid, start_at_layer=start, return_type="logits",
                                      fwd_hooks=[(hook_name, hook)])
    return logits[:, :-1].double().log_softmax(-1)


def _ce_kl(logp: Tensor, clean_logp: Tensor, tokens: Tensor, keep: Tensor) -> Tensor:
    """Sums over kept tokens of the CE of `logp` and of KL(p_clean || p), float64 on the CPU."""
    ce = -logp.gather(-1, tokens[:, 1:, None]).squeeze(-1)
    kl = F.kl_div(logp, clean_logp, log_target=True, reduction="none").sum(-1)
    return torch.stack([ce[keep].sum(), kl[keep].sum()]).cpu()


@torch.no_grad()
def splice_evals(
    model: HookedTransformer,
    hook_name: str,
    dictionaries: Sequence[Dictionary],
    token_batches: Iterable[Int[Tensor, "batch pos"]],
    ignore_token_ids: Iterable[int] = (),
    on_clean_act: Callable[[Float[Tensor, "batch pos ..."]], None] | None = None,
) -> list[SpliceEval]:
    """CE_clean, CE_sae, CE_zero, CE loss recovered, KL_sae, KL_zero and KL score of each dictionary, over all
    batches (float64 sums). The dictionaries share the model, hook and tokens, so per batch there is one clean pass
    (which hands the hook's activation to `on_clean_act`, e.g. for reconstruction metrics), one zero-ablation pass
    and one spliced pass per dictionary; the patched passes start at the hook's block from the clean residual stream
    there. Each dictionary's numbers are those of evaluating it alone."""
    ignore, start = tuple(ignore_token_ids), _resume_layer(model, hook_name)
    clean_zero = torch.zeros(3, dtype=torch.float64)  # sums of CE_clean, CE_zero, KL_zero
    sae_sums = torch.zeros(len(dictionaries), 2, dtype=torch.float64)  # per dictionary: CE_sae, KL_sae
    n = 0
    for tokens in token_batches:
        tokens = tokens.to(model.cfg.device)
        keep = keep_mask(tokens, ignore)
        clean = _clean_pass(model, tokens, hook_name, start, on_clean_act)
        ce_clean = -clean.logp.gather(-1, tokens[:, 1:, None]).squeeze(-1)[keep].sum().cpu()
        zero = _ce_kl(_patched_logp(model, tokens, hook_name, _zero_hook, clean, start), clean.logp, tokens, keep)
        clean_zero += torch.stack([ce_clean, *zero])
        for i, dictionary in enumerate(dictionaries):
            logp = _patched_logp(model, tokens, hook_name, _splice_hook(dictionary), clean, start)
            sae_sums[i] += _ce_kl(logp, clean.logp, tokens, keep)
        n += int(keep.sum())
    if n == 0:
        raise ValueError("no kept tokens: pass batches with at least 3 positions")
    ce_clean, ce_zero, kl_zero = (clean_zero / n).tolist()
    return [SpliceEval(ce_clean=ce_clean, ce_sae=ce_sae, ce_zero=ce_zero,
                       ce_loss_recovered=(ce_zero - ce_sae) / (ce_zero - ce_clean), kl_sae=kl_sae, kl_zero=kl_zero,
                       kl_score=(kl_zero - kl_sae) / kl_zero, n_tokens=n)
            for ce_sae, kl_sae in (sae_sums / n).tolist()]


def splice_eval(
    model: HookedTransformer,
    hook_name: str,
    dictionary: Dictionary,
    token_batches: Iterable[Int[Tensor, "batch pos"]],
    ignore_token_ids: Iterable[int] = (),
) -> SpliceEval:
    """`splice_evals` of one dictionary."""
    return splice_evals(model, hook_name, [dictionary], token_batches, ignore_token_ids)[0]


def ce_loss_recovered(model: HookedTransformer, hook_name: str, dictionary: Dictionary, token_batches) -> float:
    """(CE_zero - CE_sae) / (CE_zero - CE_clean); see splice_eval."""
    return splice_eval(model, hook_name, dictionary, token_batches).ce_loss_recovered


def kl_score(model: HookedTransformer, hook_name: str, dictionary: Dictionary, token_batches) -> float:
    """(KL_zero - KL_sae) / KL_zero; see splice_eval."""
    return splice_eval(model, hook_name, dictionary, token_batches).kl_score
