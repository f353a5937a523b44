"""Held-out checks of a toy model: IOI accuracy and logit difference per form, and held-out next-token loss.

These are the bar the shipped models must meet (IOI accuracy >= 95% and mean logit difference >= 2 on both ABBA
and BABA held-out prompts) and the numbers reported in each model card.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import torch

from . import vocab as V
from .corpus import CorpusConfig, generate_docs
from .ioi import IOI_TEMPLATES, IOIPrompt, Split, fill_template, in_split


def ioi_prompts(n: int, seed: int = 0, split: Split = "heldout", form: str | None = None) -> list[IOIPrompt]:
    """`n` IOI prompts (ending at "to") from the given split; `form` None alternates ABBA and BABA."""
    rng = random.Random(seed)
    names = V.MALE_NAMES + V.FEMALE_NAMES
    out: list[IOIPrompt] = []
    while len(out) < n:
        t = rng.randrange(len(IOI_TEMPLATES))
        io, s = rng.sample(names, 2)
        if not in_split(t, io, s, split):
            continue
        f = form or ("ABBA" if len(out) % 2 == 0 else "BABA")
        out.append(fill_template(t, io, s, f, rng.choice(V.PLACES), rng.choice(tuple(V.OBJECT_COLOURS)),
                                 rng.choice(V.FOODS)))
    return out


@dataclass
class IOIScore:
    """IOI accuracy (logit[IO] > logit[S] at the final "to") and mean logit difference, per form."""

    accuracy: dict[str, float]
    logit_diff: dict[str, float]
    n_prompts: int

    def passes(self, min_accuracy: float = 0.95, min_logit_diff: float = 2.0) -> bool:
        return all(a >= min_accuracy for a in self.accuracy.values()) and all(
            d >= min_logit_diff for d in self.logit_diff.values())


@torch.no_grad()
def ioi_logit_diffs(model, prompts: list[IOIPrompt], batch_size: int = 128) -> torch.Tensor:
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


def ioi_score(model, n_prompts: int = 400, seed: int = 0, split: Split = "heldout") -> IOIScore:
    """IOI accuracy and mean logit difference for ABBA and BABA separately."""
    acc, ld = {}, {}
    for form in ("ABBA", "BABA"):
        d = ioi_logit_diffs(model, ioi_prompts(n_prompts // 2, seed, split, form))
        acc[form], ld[form] = int((d > 0).sum()) / len(d), float(d.mean())
    return IOIScore(acc, ld, n_prompts)


@torch.no_grad()
def heldout_loss(model, n_docs: int = 128, seed: int = 0, batch_size: int = 32, world: str = "toy1") -> float:
    """Mean next-token cross-entropy on held-out documents of toy world `world`."""
    corpus = generate_docs(CorpusConfig(seed=seed, split="heldout", n_ctx=model.cfg.n_ctx, world=world), n_docs)
    device = next(model.parameters()).device
    losses = [float(model(torch.as_tensor(corpus.tokens[i:i + batch_size], device=device).long(),
                          return_type="loss")) for i in range(0, n_docs, batch_size)]
    return sum(losses) / len(losses)
