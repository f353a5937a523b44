"""The `Task` every patching method consumes: clean and corrupted tokens, answer and wrong tokens, and a metric.

A task is data, not code: any pair of equal-length prompt sets with a right and a wrong next token per prompt is a
task, so users add their own with `Task.from_text` (or by filling the dataclass from tokens they built). The
default metric is the logit difference logit[answer] - logit[wrong] at the last position (docs/methods.md §4);
`normalised` rescales it so the clean run scores 1 and the corrupted run 0, the unit every patching score uses.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import torch
from jaxtyping import Float, Int
from torch import Tensor

from interp.text_check import count_unknown, unknown_token_id, warn_unknown

if TYPE_CHECKING:
    from transformer_lens import HookedTransformer

PerPromptMetric = Callable[[Float[Tensor, "batch pos d_vocab"], Int[Tensor, " batch"], Int[Tensor, " batch"]],
                           Float[Tensor, " batch"]]


def logit_diff(logits: Float[Tensor, "batch pos d_vocab"], answer: Int[Tensor, " batch"],
               wrong: Int[Tensor, " batch"]) -> Float[Tensor, " batch"]:
    """logit[answer] - logit[wrong] at the last position of each prompt."""
    last = logits[:, -1]  # [batch, d_vocab]
    return last.gather(1, answer[:, None])[:, 0] - last.gather(1, wrong[:, None])[:, 0]


MIN_GAP = 0.05
"""Below this clean - corrupted gap (in metric units, a logit difference) normalised scores are warned about."""


@dataclass
class Baselines:
    """Mean metric of the clean and of the corrupted run: the 1 and the 0 of the normalised metric."""

    clean: float
    corrupted: float

    @property
    def gap(self) -> float:
        """clean - corrupted, the unit every normalised score is divided by (the one place it is computed): a zero
        or non-finite gap is an error (the scores would be NaN), one under MIN_GAP a warning with the numbers
        (the scores blow up far outside 0..1)."""
        gap = self.clean - self.corrupted
        numbers = f"clean {self.clean:.4g}, corrupted {self.corrupted:.4g}"
        if gap == 0 or not math.isfinite(gap):
            raise ValueError(f"the clean and corrupted prompts give the same metric ({numbers}): normalised scores "
                             f"(patched - corrupted) / (clean - corrupted) would be NaN; give corrupted prompts that "
                             f"change the answer (e.g. swap the word the answer depends on)")
        if abs(gap) < MIN_GAP:
            warnings.warn(f"the clean and corrupted metrics differ by only {gap:.3g} ({numbers}): normalised scores "
                          f"are divided by it and can lie far outside 0..1; give corrupted prompts that change the "
                          f"answer more", stacklevel=2)
        return gap


@dataclass
class Task:
    """Clean / corrupted prompt pairs with the token each should (answer) and should not (wrong) predict next."""

    name: str
    clean: Int[Tensor, "batch pos"]
    """Clean prompts (BOS included); the model should predict `answer` after the last token."""
    corrupted: Int[Tensor, "batch pos"]
    """Corrupted prompts, aligned position by position with `clean`."""
    answer: Int[Tensor, " batch"]
    """Token id of the right answer of each clean prompt."""
    wrong: Int[Tensor, " batch"]
    """Token id of the competing wrong answer."""
    pos_labels: list[str] = field(default_factory=list)
    """A name per position for plots (e.g. IO, S1, S2, END); defaults to pos0, pos1, ..."""
    per_prompt: PerPromptMetric = logit_diff
    """Metric of each prompt from logits; the task metric is its mean over prompts."""
    last_position_only: bool = True
    """The metric reads only the last position's logits (lets patching skip the other positions' unembedding)."""
    attention_mask: Int[Tensor, "batch pos"] | None = None
    """1 on real tokens, 0 on left padding: prompts of several lengths batched together, aligned at the end
    (circuits.tasks.groups.padded). None: every prompt fills every position."""

    def __post_init__(self):
        if self.clean.shape[-1] != self.corrupted.shape[-1]:
            raise ValueError(f"clean prompts have {self.clean.shape[-1]} tokens but corrupted prompts have "
                             f"{self.corrupted.shape[-1]}: patching needs them aligned position by position")
        if self.clean.shape != self.corrupted.shape:
            raise ValueError(f"clean {tuple(self.clean.shape)} and corrupted {tuple(self.corrupted.shape)} "
                             "prompt sets differ in size")
        n = self.clean.shape[0]
        if self.answer.shape != (n,) or self.wrong.shape != (n,):
            raise ValueError(f"answer and wrong need one token per prompt ({n}), got {tuple(self.answer.shape)} "
                             f"and {tuple(self.wrong.shape)}")
        if not self.pos_labels:
            self.pos_labels = [f"pos{i}" for i in range(self.n_pos)]
        if len(self.pos_labels) != self.n_pos:
            raise ValueError(f"{len(self.pos_labels)} position labels for {self.n_pos} positions")
        if self.attention_mask is not None and self.attention_mask.shape != self.clean.shape:
            raise ValueError(f"attention mask {tuple(self.attention_mask.shape)} does not match the prompts "
                             f"{tuple(self.clean.shape)}")

    @property
    def n_prompts(self) -> int:
        return self.clean.shape[0]

    @property
    def n_pos(self) -> int:
        return self.clean.shape[1]

    def metric(self, logits: Float[Tensor, "batch pos d_vocab"]) -> Float[Tensor, ""]:
        """Mean metric over prompts (the patching metric TransformerLens's routines take)."""
        return self.per_prompt(logits, self.answer.to(logits.device), self.wrong.to(logits.device)).mean()

    def metric_copies(self, logits: Float[Tensor, "copies_batch pos d_vocab"]) -> Float[Tensor, " copies"]:
        """Mean metric of each of k stacked copies of the prompt set (batch dim = k * n_prompts, copy-major)."""
        k = logits.shape[0] // self.n_prompts
        ans = self.answer.to(logits.device).repeat(k)  # [k * batch]
        wrong = self.wrong.to(logits.device).repeat(k)
        return self.per_prompt(logits, ans, wrong).view(k, self.n_prompts).mean(1)  # [k]

    def mask(self, copies: int = 1) -> dict[str, Int[Tensor, "copies_batch pos"]]:
        """Keyword arguments a forward pass over `copies` stacked copies of the prompts needs: the padding mask of
        a padded task (TransformerLens then masks the padding and offsets rotary / learned positions), else none."""
        if self.attention_mask is None:
            return {}
        return {"attention_mask": self.attention_mask.repeat(copies, 1)}  # [copies * batch, pos]

    def subset(self, rows: slice) -> Task:
        """The same task on prompts `rows` only (patching runs that do not fit in memory go chunk by chunk)."""
        mask = None if self.attention_mask is None else self.attention_mask[rows]
        return dataclasses.replace(self, clean=self.clean[rows], corrupted=self.corrupted[rows],
                                   answer=self.answer[rows], wrong=self.wrong[rows], attention_mask=mask)

    @torch.no_grad()
    def baselines(self, model: HookedTransformer) -> Baselines:
        """Metric of the clean and of the corrupted run of `model`."""
        return Baselines(float(self.metric(model(self.clean, **self.mask()))),
                         float(self.metric(model(self.corrupted, **self.mask()))))

    @classmethod
    def from_text(cls, model: HookedTransformer, name: str, clean: Sequence[str], corrupted: Sequence[str],
                  answers: Sequence[str], wrongs: Sequence[str], pos_labels: Sequence[str] = ()) -> Task:
        """Build a task from strings; every answer must be a single token of the model's vocabulary.

        All clean and corrupted prompts must have one token length. Prompts of several lengths:
        `circuits.tasks.groups.grouped_task` (or a task file, `interp patch --task FILE`) groups them by length.
        """
        if not len(clean) == len(corrupted) == len(answers) == len(wrongs):
            raise ValueError(f"{len(clean)} clean, {len(corrupted)} corrupted prompts, {len(answers)} answers and "
                             f"{len(wrongs)} wrong answers: give one of each per prompt")
        clean_t, corrupt_t = _tokens(model, clean, "clean"), _tokens(model, corrupted, "corrupted")
        warn_unknown_prompts(model, name, [*clean_t.tolist(), *corrupt_t.tolist()])
        ans = torch.tensor([single_token(model, a) for a in answers])
        wrong = torch.tensor([single_token(model, w) for w in wrongs])
        return cls(name, clean_t, corrupt_t, ans, wrong, list(pos_labels))


def _tokens(model, texts: Sequence[str], what: str) -> Int[Tensor, "batch pos"]:
    lengths = sorted({model.to_tokens(t).shape[-1] for t in texts})
    if len(lengths) > 1:
        raise ValueError(f"{what} prompts have different token lengths {lengths}: a Task needs one length; group "
                         f"them with circuits.tasks.groups.grouped_task (interp patch --task FILE does)")
    return model.to_tokens(list(texts)).cpu()


def warn_unknown_prompts(model: HookedTransformer, name: str, rows: Sequence[Sequence[int]]) -> None:
    """Warn (interp.text_check) when task `name`'s prompts are more than a small share tokens the model does not
    know: patching would measure the unknown token, not the words."""
    warn_unknown(count_unknown(model.tokenizer, rows), f"the prompts of task {name}", model.tokenizer,
                 "reword them with words of this model's vocabulary")


def single_token(model: HookedTransformer, word: str) -> int:
    """The token id of `word`, or a clear error when it is not exactly one known token."""
    ids = model.to_tokens(word, prepend_bos=False)[0].tolist()
    unk = unknown_token_id(model.tokenizer)
    if len(ids) != 1 or ids[0] == unk:
        raise ValueError(f"answer {word!r} is not a single token of this model's vocabulary "
                         f"(it tokenises to {len(ids)} token(s): {model.to_str_tokens(word, prepend_bos=False)})")
    return ids[0]
