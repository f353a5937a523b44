"""Prompt pairs of several token lengths as one task: one `Task` per length, patched alone and then combined.

Patching swaps an activation at (layer, position) between the clean and the corrupted prompt of a pair, so the two
prompts of a pair must have one token length, and one batched run needs one length for all its prompts.
`grouped_task` tokenises every pair, refuses a pair whose two prompts differ in length (naming the pair and the
fix), and groups the pairs by length. circuits.patching.run patches each group alone and combines the groups into
one result over all prompts (position axes aligned at the end of the prompt; see its module docstring).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import torch
from jaxtyping import Int
from torch import Tensor

from interp.text_check import unknown_token_id

from .base import Baselines, Task, warn_unknown_prompts

if TYPE_CHECKING:
    from transformer_lens import HookedTransformer


class PromptPair(NamedTuple):
    """One row of a task: clean and corrupted prompt, the next token the clean prompt should get and a wrong one."""

    clean: str
    corrupted: str
    answer: str
    wrong: str


@dataclass
class TaskGroups:
    """A task whose prompt pairs come in several token lengths: one Task per length (shortest first)."""

    name: str
    groups: list[Task]

    @property
    def n_prompts(self) -> int:
        return sum(g.n_prompts for g in self.groups)

    @torch.no_grad()
    def baselines(self, model: HookedTransformer) -> Baselines:
        """Mean metric over all prompts of the clean and of the corrupted run."""
        parts = [(g.n_prompts, g.baselines(model)) for g in self.groups]
        return Baselines(sum(n * b.clean for n, b in parts) / self.n_prompts,
                         sum(n * b.corrupted for n, b in parts) / self.n_prompts)


def as_groups(task: Task | TaskGroups) -> list[Task]:
    """The groups of one length a task consists of (a plain Task is one group)."""
    return list(task.groups) if isinstance(task, TaskGroups) else [task]


def unique_labels(words: Sequence[str]) -> list[str]:
    """`words` with every repeated word suffixed by its index (plots need distinct labels)."""
    return [f"{w}_{i}" if words.count(w) > 1 else w for i, w in enumerate(words)]


def position_labels(model: HookedTransformer, clean: Int[Tensor, "batch pos"]) -> list[str]:
    """A label per position: BOS, the token where every prompt has the same one, pos{i} where they differ; END
    for the last position (the one the metric reads)."""
    same = (clean == clean[0]).all(0).tolist()
    words = model.to_str_tokens(clean[0])
    bos = getattr(model.tokenizer, "bos_token_id", None)
    labels = ["BOS" if i == 0 and int(clean[0, 0]) == bos else (w.strip() or repr(w)) if s else f"pos{i}"
              for i, (w, s) in enumerate(zip(words, same))]
    labels[-1] = "END"
    return unique_labels(labels)


def token_ids(model: HookedTransformer, words: Sequence[str], column: str, where: Callable[[int], str]
              ) -> Int[Tensor, " batch"]:
    """The single token of each word; an error naming the row (`where(i)`) and the fix otherwise."""
    known: dict[str, int] = {}
    unk = unknown_token_id(model.tokenizer)
    for i, word in enumerate(words):
        if word in known:
            continue
        ids = model.to_tokens(word, prepend_bos=False)[0].tolist()
        if len(ids) != 1:
            pieces = model.to_str_tokens(word, prepend_bos=False)
            raise ValueError(f"{where(i)}: {column} {word!r} is {len(ids)} tokens for this model {pieces}, not one: "
                             f"patching scores the logit of one next token, so give a single-token {column}"
                             + (f" (e.g. {pieces[0]!r})" if pieces else ""))
        if ids[0] == unk and word != getattr(model.tokenizer, "unk_token", None):
            raise ValueError(f"{where(i)}: {column} {word!r} is not in this model's vocabulary (it becomes the "
                             f"unknown token): give a word the tokenizer knows")
        known[word] = ids[0]
    return torch.tensor([known[w] for w in words])


def grouped_task(model: HookedTransformer, name: str, pairs: Sequence[PromptPair],
                 where: Callable[[int], str] = lambda i: f"pair {i + 1}") -> Task | TaskGroups:
    """A Task when every prompt has one token length, else TaskGroups with one Task per length.

    Every answer and wrong answer must be a single token, and the two prompts of a pair must have one length;
    otherwise the error names the pair (`where(i)`, e.g. the file and line) and says what to change.
    """
    if not pairs:
        raise ValueError(f"{name}: no prompt pairs")
    answers = token_ids(model, [p.answer for p in pairs], "answer", where)
    wrongs = token_ids(model, [p.wrong for p in pairs], "wrong", where)
    by_len: dict[int, list[tuple[int, Tensor, Tensor]]] = {}
    for i, p in enumerate(pairs):
        clean, corrupt = model.to_tokens(p.clean)[0].cpu(), model.to_tokens(p.corrupted)[0].cpu()
        if clean.numel() == 0:
            raise ValueError(f"{where(i)}: the clean prompt is empty for this model: give the text before the answer")
        if clean.shape != corrupt.shape:
            raise ValueError(f"{where(i)}: the clean prompt is {clean.numel()} tokens but the corrupted one is "
                             f"{corrupt.numel()}: patching swaps activations position by position, so reword the "
                             f"corrupted prompt to {clean.numel()} tokens (e.g. swap a word for one of the same "
                             f"token count)")
        by_len.setdefault(clean.numel(), []).append((i, clean, corrupt))
    warn_unknown_prompts(model, name, [t.tolist() for rows in by_len.values() for _, *pair in rows for t in pair])
    tasks = []
    for length in sorted(by_len):
        rows = by_len[length]
        idx = torch.tensor([i for i, _, _ in rows])
        clean = torch.stack([c for _, c, _ in rows])  # [group, length]
        tasks.append(Task(name if len(by_len) == 1 else f"{name}/{length}tok", clean,
                          torch.stack([k for _, _, k in rows]), answers[idx], wrongs[idx],
                          position_labels(model, clean)))
    return tasks[0] if len(tasks) == 1 else TaskGroups(name, tasks)


def merged_labels(lists: Sequence[list[str]], n: int) -> list[str]:
    """End-aligned position labels: the label every list agrees on k positions from the end, else END-k."""
    if all(ls == lists[0] for ls in lists) and len(lists[0]) == n:
        return list(lists[0])
    out = []
    for k in range(n):
        seen = {ls[len(ls) - 1 - k] for ls in lists if len(ls) > k}
        out.append(seen.pop() if len(seen) == 1 else "END" if k == 0 else f"END-{k}")
    return unique_labels(out[::-1])


def padded(task: TaskGroups, pad_id: int = 0) -> Task:
    """All groups of `task` as one Task: prompts left-padded to the longest, aligned at the end, with an
    attention mask (1 = token, 0 = padding).

    One batched pass then serves prompts of every length. TransformerLens masks the padding in attention and
    numbers rotary / learned positions from each prompt's first token, so every prompt computes what it computes
    alone. A patch at a padding position changes nothing (nothing attends to it), which is exactly how
    circuits.patching.run combines separate groups (change 0 where a group has no token): a padded run equals the
    group-by-group run up to float rounding, in fewer, larger passes.
    """
    groups = task.groups
    n_pos = max(g.n_pos for g in groups)

    def pad(x: Tensor, value: int) -> Tensor:
        return torch.nn.functional.pad(x, (n_pos - x.shape[1], 0), value=value)  # [group, n_pos], padding first

    cat = torch.cat
    mask = cat([pad(torch.ones_like(g.clean), 0) for g in groups])  # [batch, n_pos]
    labels = merged_labels([g.pos_labels for g in groups], n_pos)
    first = groups[0]
    return Task(task.name, cat([pad(g.clean, pad_id) for g in groups]), cat([pad(g.corrupted, pad_id) for g in groups]),
                cat([g.answer for g in groups]), cat([g.wrong for g in groups]), labels, first.per_prompt,
                first.last_position_only, mask)
