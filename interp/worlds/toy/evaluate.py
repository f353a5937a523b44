"""Held-out checks of a toy model: IOI accuracy and logit difference per form, and held-out next-token loss.

These are the bar the shipped models must meet (IOI accuracy >= 95% and mean logit difference >= 2 on both ABBA
and BABA held-out prompts) and the numbers reported in each model card.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import torch
from jaxtyping import Float

from .corpus import CorpusConfig, generate_docs
from .text import IOIPrompt

if TYPE_CHECKING:
    from transformer_lens import HookedTransformer


@torch.no_grad()
def ioi_logit_diffs(model: HookedTransformer, prompts: list[IOIPrompt], batch_size: int = 128
                    ) -> Float[torch.Tensor, " prompt"]:
    """logit[IO] - logit[S] at each prompt's last token, shape [n_prompts]."""
    diffs = []
    for i in range(0, len(prompts), batch_size):
        chunk = prompts[i:i + batch_size]
        tokens = model.to_tokens([p.text for p in chunk], padding_side="right")  # [batch, pos]
        logits = model(tokens)  # [batch, pos, vocab]
        last = torch.tensor([len(p.words) for p in chunk], device=logits.device)  # BOS shifts positions by one
        final = logits[torch.arange(len(chunk)), last]  # [batch, vocab]
        io = model.to_tokens([p.io for p in chunk], prepend_bos=False)[:, 0].to(final.device)
        s = model.to_tokens([p.s for p in chunk], prepend_bos=False)[:, 0].to(final.device)
        diffs.append(final.gather(1, io[:, None])[:, 0] - final.gather(1, s[:, None])[:, 0])
    return torch.cat(diffs).cpu()


class HeldoutSparsity(NamedTuple):
    """Held-out next-token loss and the share of MLP activations (blocks.L.mlp.hook_post) that are exactly 0."""

    loss: float
    zero_frac: list[float]
    """Per layer."""


def _heldout_batches(model: HookedTransformer, world: str, n_docs: int, seed: int, batch_size: int):
    corpus = generate_docs(CorpusConfig(seed=seed, split="heldout", n_ctx=model.cfg.n_ctx, world=world), n_docs)
    device = next(model.parameters()).device
    for i in range(0, n_docs, batch_size):
        yield torch.as_tensor(corpus.tokens[i:i + batch_size], device=device).long()  # [batch, n_ctx]


@torch.no_grad()
def heldout_loss(model: HookedTransformer, world: str, n_docs: int = 128, seed: int = 0, batch_size: int = 32) -> float:
    """Mean next-token cross-entropy on held-out documents of toy world `world`."""
    losses = [float(model(tokens, return_type="loss"))
              for tokens in _heldout_batches(model, world, n_docs, seed, batch_size)]
    return sum(losses) / len(losses)


@torch.no_grad()
def heldout_sparsity(model: HookedTransformer, world: str, n_docs: int = 128, seed: int = 0,
                     batch_size: int = 32) -> HeldoutSparsity:
    """`heldout_loss` and, on the same documents, the exact-zero share of each layer's MLP activations (Lazy Neuron's
    sparsity: 1 - the share of nonzero entries after the activation)."""
    names = [f"blocks.{layer}.mlp.hook_post" for layer in range(model.cfg.n_layers)]
    zeros, losses, count = torch.zeros(len(names)), [], 0
    for tokens in _heldout_batches(model, world, n_docs, seed, batch_size):
        loss, cache = model.run_with_cache(tokens, return_type="loss", names_filter=names)
        losses.append(float(loss))
        zeros += torch.stack([(cache[n] == 0).sum().float().cpu() for n in names])
        count += cache[names[0]].numel()
    return HeldoutSparsity(sum(losses) / len(losses), (zeros / count).tolist())
