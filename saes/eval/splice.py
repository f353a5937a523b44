"""Metrics that need the model: CE loss recovered and KL score of a dictionary spliced into a forward pass.

For each token batch we run the model three ways: clean, with the hooked activation replaced by the dictionary's
reconstruction decode(encode(x)) at every position (CE_sae), and with it replaced by zeros (CE_zero)
(docs/methods.md §2; the SAEBench definitions, Karvonen et al. 2025).
CE loss recovered = (CE_zero - CE_sae) / (CE_zero - CE_clean) and KL score = (KL_zero - KL_sae) / KL_zero, where each
CE and KL is a mean over kept tokens (ratio of means, not mean of ratios) and KL is the per-token KL(p_clean ||
p_patched) of the next-token distributions. Position 0 (BOS) and any token in `ignore_token_ids` (pad, EOS) are left
out of the means. The dictionary is anything with encode/decode (interp.dictionary.Dictionary).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from jaxtyping import Bool, Int
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


def _token_ce(logits: Tensor, tokens: Tensor) -> Tensor:
    logp = logits[:, :-1].double().log_softmax(-1)
    return -logp.gather(-1, tokens[:, 1:, None]).squeeze(-1)


def _token_kl(logits_p: Tensor, logits_q: Tensor) -> Tensor:
    logp = logits_p[:, :-1].double().log_softmax(-1)
    logq = logits_q[:, :-1].double().log_softmax(-1)
    return F.kl_div(logq, logp, log_target=True, reduction="none").sum(-1)


@torch.no_grad()
def splice_eval(
    model: HookedTransformer,
    hook_name: str,
    dictionary: Dictionary,
    token_batches: Iterable[Int[Tensor, "batch pos"]],
    ignore_token_ids: Iterable[int] = (),
) -> SpliceEval:
    """CE_clean, CE_sae, CE_zero, CE loss recovered, KL_sae, KL_zero and KL score over all batches (float64 sums)."""
    ignore = tuple(ignore_token_ids)
    sums = torch.zeros(5, dtype=torch.float64)
    n = 0
    for tokens in token_batches:
        tokens = tokens.to(model.cfg.device)
        keep = keep_mask(tokens, ignore)
        clean = model(tokens, return_type="logits")
        sae = model.run_with_hooks(tokens, return_type="logits", fwd_hooks=[(hook_name, _splice_hook(dictionary))])
        zero = model.run_with_hooks(tokens, return_type="logits", fwd_hooks=[(hook_name, _zero_hook)])
        terms = [_token_ce(clean, tokens), _token_ce(sae, tokens), _token_ce(zero, tokens)]
        terms += [_token_kl(clean, sae), _token_kl(clean, zero)]
        sums += torch.stack([t[keep].sum().cpu() for t in terms])
        n += int(keep.sum())
    if n == 0:
        raise ValueError("no kept tokens: pass batches with at least 3 positions")
    ce_clean, ce_sae, ce_zero, kl_sae, kl_zero = (sums / n).tolist()
    return SpliceEval(
        ce_clean=ce_clean,
        ce_sae=ce_sae,
        ce_zero=ce_zero,
        ce_loss_recovered=(ce_zero - ce_sae) / (ce_zero - ce_clean),
        kl_sae=kl_sae,
        kl_zero=kl_zero,
        kl_score=(kl_zero - kl_sae) / kl_zero,
        n_tokens=n,
    )


def ce_loss_recovered(model: HookedTransformer, hook_name: str, dictionary: Dictionary, token_batches) -> float:
    """(CE_zero - CE_sae) / (CE_zero - CE_clean); see splice_eval."""
    return splice_eval(model, hook_name, dictionary, token_batches).ce_loss_recovered


def kl_score(model: HookedTransformer, hook_name: str, dictionary: Dictionary, token_batches) -> float:
    """(KL_zero - KL_sae) / KL_zero; see splice_eval."""
    return splice_eval(model, hook_name, dictionary, token_batches).kl_score
