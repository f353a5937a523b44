"""Output-centric descriptions and scores of steering directions (docs/methods.md §6).

- VocabProj (Gur-Arieh et al. 2025): top / bottom tokens of unembed(ln_final(r)), r the direction's effect on the
  residual stream (the direction itself for residual hooks; through W_out of the layer for blocks.L.mlp.hook_post).
- TokenChange: mean logit change over a batch of prompts when the direction is added with strength α.
- Input / output scores of every feature of a dictionary (Arad et al. 2025), vectorised over features:
  input  = fraction of the top-activating examples whose max token is among the feature's top-20 VocabProj tokens;
  output = (1 - min rank of those tokens / |V|) · max probability of them, after adding α·d̂ at the last position of
  a neutral prompt.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch
from jaxtyping import Float, Int
from torch import Tensor
from transformer_lens import HookedTransformer

from interp.dictionary import Dictionary
from interp.models import check_hooks

from ..activations.stream import hook_activations
from ..models import token_strings
from .apply import steered_logits
from .vectors import SteeringVector

_RESID = re.compile(r"^(hook_embed|hook_pos_embed|blocks\.\d+\.(hook_resid_pre|hook_resid_mid|hook_resid_post|"
                    r"hook_attn_out|hook_mlp_out))$")
_MLP_POST = re.compile(r"^blocks\.(\d+)\.mlp\.hook_post$")


def residual_directions(model: HookedTransformer, hook: str, directions: Float[Tensor, "n d"]
                        ) -> Float[Tensor, "n d_model"]:
    """Each direction's write into the residual stream: identity on residual hooks, @ W_out on mlp.hook_post."""
    check_hooks(model, [hook])
    d = directions.float().to(model.W_U.device)
    if _RESID.match(hook):
        return d
    m = _MLP_POST.match(hook)
    if m:
        return d @ model.W_out[int(m.group(1))].float()
    raise ValueError(f"VocabProj needs a residual-stream hook (hook_resid_pre/mid/post, hook_attn_out, hook_mlp_out) "
                     f"or blocks.L.mlp.hook_post; got {hook}")


@torch.no_grad()
def vocab_logits(model: HookedTransformer, hook: str, directions: Float[Tensor, "n d"]) -> Float[Tensor, "n vocab"]:
    """unembed(ln_final(r)) for every direction (rows), r = residual_directions(...)."""
    r = residual_directions(model, hook, directions)
    return model.unembed(model.ln_final(r[None]))[0].float().cpu()


@dataclass
class TokenList:
    """Token ids, their strings and scores (logits or logit changes), best first."""

    ids: list[int]
    tokens: list[str]
    values: list[float]

    def to_json(self) -> dict:
        return {"ids": self.ids, "tokens": self.tokens, "values": self.values}


def _tokens(model: HookedTransformer, values: Tensor, k: int, largest: bool) -> TokenList:
    v, i = values.topk(min(k, len(values)), largest=largest)
    ids = i.tolist()
    return TokenList(ids, token_strings(model, ids), [float(x) for x in v])


def vocab_proj(model: HookedTransformer, vec: SteeringVector, k: int = 10) -> tuple[TokenList, TokenList]:
    """(top, bottom) tokens of unembed(ln_final(direction)) (through W_out for an MLP-neuron hook)."""
    logits = vocab_logits(model, vec.hook, vec.direction[None])[0]
    return _tokens(model, logits, k, True), _tokens(model, logits, k, False)


@torch.no_grad()
def token_change(model: HookedTransformer, vec: SteeringVector, prompts: Int[Tensor, "batch pos"], alpha: float,
                 k: int = 10) -> tuple[Float[Tensor, " d_vocab"], TokenList, TokenList]:
    """Mean logit change [vocab] over all non-BOS positions of `prompts` [batch, pos] when α·d̂ is added; with the
    (promoted, suppressed) top-k tokens."""
    base = model(prompts).float()
    steered = steered_logits(model, prompts, vec, alpha).float()
    change = (steered - base)[:, 1:].reshape(-1, base.shape[-1]).mean(0).cpu()
    return change, _tokens(model, change, k, True), _tokens(model, change, k, False)


@dataclass
class FeatureScores:
    """Input and output scores of every feature of one dictionary, with what they were computed from."""

    input_score: Float[Tensor, " f"]
    output_score: Float[Tensor, " f"]
    top_tokens: Tensor
    """[f, top_k] the VocabProj top tokens each score uses."""
    n_examples: Tensor
    """[f] top-activating examples that fired (> 0) and were counted for the input score."""
    alpha: float
    prompt: str


@torch.no_grad()
def input_scores(model: HookedTransformer, dictionary: Dictionary, tokens: Int[Tensor, "doc pos"],
                 top_tokens: Int[Tensor, "d_sae top_k"], n_top: int = 20, batch_size: int = 16
                 ) -> tuple[Float[Tensor, " d_sae"], Int[Tensor, " d_sae"]]:
    """Per feature: fraction of its top `n_top` examples (documents, by max code) whose max token is in
    `top_tokens[f]`; and how many firing examples were counted. BOS (position 0) is left out."""
    maxes, argtok = [], []
    for i in range(0, tokens.shape[0], batch_size):
        rows = tokens[i:i + batch_size]
        acts = hook_activations(model, dictionary.hook_name, rows, batch_size)[:, 1:]
        codes = dictionary.encode(acts.to(torch.float32)).float().cpu()  # [b, pos, f]
        mx, arg = codes.max(dim=1)  # [b, f]
        maxes.append(mx)
        argtok.append(rows[:, 1:].cpu().gather(1, arg))
    mx_NF, tok_NF = torch.cat(maxes), torch.cat(argtok)
    n = min(n_top, mx_NF.shape[0])
    top_v, top_i = mx_NF.topk(n, dim=0)  # [n, f]
    tok = tok_NF.gather(0, top_i)  # [n, f]
    fired = top_v > 0
    hit = (tok.T[:, :, None] == top_tokens[:, None, :]).any(-1).T  # [n, f]
    count = fired.sum(0)
    return (hit & fired).sum(0).float() / count.clamp_min(1), count


@torch.no_grad()
def output_scores(model: HookedTransformer, hook: str, directions: Float[Tensor, "n d"],
                  top_tokens: Int[Tensor, "n top_k"], prompt: Int[Tensor, " pos"], alpha: float, chunk: int = 128
                  ) -> Float[Tensor, " n"]:
    """Per direction (unit rows): (1 - min rank of its top tokens / |V|) · max prob of them, after adding α·d̂ at
    the last position of `prompt` [pos] (all directions batched, `chunk` at a time)."""
    units = directions.float() / directions.float().norm(dim=-1, keepdim=True).clamp_min(1e-12)
    vocab = model.cfg.d_vocab
    out = []
    last = slice(prompt.shape[0] - 1, None)
    for i in range(0, len(units), chunk):
        d = units[i:i + chunk]
        hook_fn = _rowwise_add(d * alpha, last)
        with model.hooks(fwd_hooks=[(hook, hook_fn)]):
            logits = model(prompt[None].expand(len(d), -1))[:, -1].float().cpu()
        probs = logits.softmax(-1)
        tt = top_tokens[i:i + chunk]
        ranks = (logits[:, None, :] > logits.gather(1, tt)[:, :, None]).sum(-1)  # [c, k] 0-based rank
        out.append((1 - ranks.min(-1).values.float() / vocab) * probs.gather(1, tt).max(-1).values)
    return torch.cat(out)


def _rowwise_add(add_BD: Tensor, where: slice):
    def hook(act: Tensor, hook=None):  # noqa: ARG001
        out = act.clone()
        out[:, where] = out[:, where] + add_BD.to(act.device, act.dtype)[:, None]
        return out
    return hook


def default_alpha(model: HookedTransformer, hook: str, prompt: Int[Tensor, " pos"]) -> float:
    """The output score's default strength: twice the mean activation norm at `hook` on the prompt's non-BOS
    positions (all positions for a one-token prompt)."""
    acts = hook_activations(model, hook, prompt[None])[0]
    return 2.0 * float(acts[1:].norm(dim=-1).mean() if len(acts) > 1 else acts.norm(dim=-1).mean())


def feature_scores(model: HookedTransformer, dictionary: Dictionary, tokens: Int[Tensor, "doc pos"],
                   prompt: Int[Tensor, " pos"], alpha: float | None = None, top_k: int = 20,
                   n_top: int = 20) -> FeatureScores:
    """Input and output scores of every feature of `dictionary` (see module doc). α defaults to twice the mean
    activation norm at the dictionary's hook on the prompt's non-BOS positions."""
    dirs = dictionary.feature_directions().detach().float().cpu()
    if alpha is None:
        alpha = default_alpha(model, dictionary.hook_name, prompt)
    top = vocab_logits(model, dictionary.hook_name, dirs).topk(top_k, dim=-1).indices
    inp, count = input_scores(model, dictionary, tokens, top, n_top)
    outp = output_scores(model, dictionary.hook_name, dirs, top, prompt, alpha)
    text = model.to_string(prompt) if model.tokenizer is not None else ""
    return FeatureScores(inp, outp, top, count, float(alpha), text)
