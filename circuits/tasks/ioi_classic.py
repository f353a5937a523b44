"""IOI on any model with a tokenizer: the classic prompts of Wang et al. 2022 ("Interpretability in the Wild"),
names drawn from the model's own vocabulary.

The 15 templates and the place and object words are those of the paper's dataset (e.g. "When Mary and John went to
the store, John gave a drink to" -> " Mary"); the 99 first names of its code plus a few more common English names
(both genders) are filtered to those that are one token with a leading space in the model's tokenizer (checked in
context, after "and"), so GPT-2 gets the standard set and another tokenizer gets its own. Only the names must be
single tokens: places and objects are those that are single tokens too, or, when none is, the first of them as
text (several tokens). Prompts are grouped by (template, token length). Forms alternate ABBA (IO first) and
BABA (S first); positions are labelled N1, N2 (the first two names), S2, PLACE, OBJ and END. Corruptions as in the
toy IOI: "abc" puts three fresh names in the three name slots, "swap" exchanges IO and S.
"""

from __future__ import annotations

import dataclasses
import random
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from interp.text_check import unknown_token_id

from .base import Task, warn_unknown_prompts
from .groups import TaskGroups, unique_labels

if TYPE_CHECKING:
    from transformer_lens import HookedTransformer

_BABA = (
    "Then, [B] and [A] went to the [PLACE]. [B] gave a [OBJECT] to",
    "Then, [B] and [A] had a lot of fun at the [PLACE]. [B] gave a [OBJECT] to",
    "Then, [B] and [A] were working at the [PLACE]. [B] decided to give a [OBJECT] to",
    "Then, [B] and [A] were thinking about going to the [PLACE]. [B] wanted to give a [OBJECT] to",
    "Then, [B] and [A] had a long argument, and afterwards [B] said to",
    "After [B] and [A] went to the [PLACE], [B] gave a [OBJECT] to",
    "When [B] and [A] got a [OBJECT] at the [PLACE], [B] decided to give it to",
    "When [B] and [A] got a [OBJECT] at the [PLACE], [B] decided to give the [OBJECT] to",
    "While [B] and [A] were working at the [PLACE], [B] gave a [OBJECT] to",
    "While [B] and [A] were commuting to the [PLACE], [B] gave a [OBJECT] to",
    "After the lunch, [B] and [A] went to the [PLACE]. [B] gave a [OBJECT] to",
    "Afterwards, [B] and [A] went to the [PLACE]. [B] gave a [OBJECT] to",
    "Then, [B] and [A] had a long argument. Afterwards [B] said to",
    "The [PLACE] [B] and [A] went to had a [OBJECT]. [B] gave it to",
    "Friends [B] and [A] found a [OBJECT] at the [PLACE]. [B] gave it to",
)
TEMPLATES = tuple(t.replace("[B]", "{N1}", 1).replace("[A]", "{N2}", 1).replace("[B]", "{S2}")
                  .replace("[PLACE]", "{PLACE}").replace("[OBJECT]", "{OBJECT}") for t in _BABA)
"""Wang et al.'s templates (their appendix), slots N1 and N2 (the first two names), S2 (the repeated subject)."""

NAMES = (
    "Michael Christopher Jessica Matthew Ashley Jennifer Joshua Amanda Daniel David James Robert John Joseph Andrew "
    "Ryan Brandon Jason Justin Sarah William Jonathan Stephanie Brian Nicole Nicholas Anthony Heather Eric Elizabeth "
    "Adam Megan Melissa Kevin Steven Thomas Timothy Christina Kyle Rachel Laura Lauren Amber Brittany Danielle "
    "Richard Kimberly Jeffrey Amy Crystal Michelle Tiffany Jeremy Benjamin Mark Emily Aaron Charles Rebecca Jacob "
    "Stephen Patrick Sean Erin Jamie Kelly Samantha Nathan Sara Dustin Paul Angela Tyler Scott Katherine Andrea "
    "Gregory Erica Mary Travis Lisa Kenneth Bryan Lindsey Kristen Jose Alexander Jesse Katie Lindsay Shannon Vanessa "
    "Courtney Christine Alicia Cody Allison Bradley Samuel Alice Bob Tom Emma Lucy Peter Anna George").split()
"""Common English first names of both genders: the 99 of the paper's code and a few more."""
PLACES = ("store", "garden", "restaurant", "school", "hospital", "office", "house", "station")
OBJECTS = ("ring", "kiss", "bone", "basketball", "computer", "necklace", "drink", "snack")
MIN_NAMES = {"abc": 5, "swap": 2}
"""Single-token names a corruption needs: IO, S and (abc) three fresh names."""
SLOT_LABELS = {"N1": "N1", "N2": "N2", "S2": "S2", "PLACE": "PLACE", "OBJECT": "OBJ"}


class TooFewNames(ValueError):
    """The model's vocabulary has too few single-token first names for IOI prompts."""


def word_token(model: HookedTransformer, word: str, before: str) -> int | None:
    """The one token `word` adds after `before` and a space, or None when it adds several (or the unknown token)."""
    base = model.to_tokens(before, prepend_bos=False)[0].tolist()
    ids = model.to_tokens(f"{before} {word}", prepend_bos=False)[0].tolist()
    if len(ids) != len(base) + 1 or ids[:-1] != base or ids[-1] == unknown_token_id(model.tokenizer):
        return None
    return ids[-1]


def single_token_names(model: HookedTransformer, names: tuple[str, ...] = NAMES) -> dict[str, int]:
    """name -> its token, for the names that are one token after a space in the model's tokenizer."""
    found = {n: word_token(model, n, "and") for n in names}
    return {n: t for n, t in found.items() if t is not None}


def _fillers(model, words: tuple[str, ...], before: str) -> list[str]:
    """The words that are single tokens after `before`; when none is, the first word as text (several tokens, the
    same in every prompt, so a template keeps one length)."""
    return [w for w in words if word_token(model, w, before) is not None] or [words[0]]


def classic_ioi_task(model: HookedTransformer, n: int = 32, corruption: str = "abc",
                     seed: int = 0) -> Task | TaskGroups:
    """`n` IOI prompt pairs over the classic templates, one group per (template, token length); answer = the IO
    name's token, wrong = the S name's token."""
    if corruption not in MIN_NAMES:
        raise ValueError(f"corruption must be 'abc' or 'swap', got {corruption!r}")
    names = single_token_names(model)
    if len(names) < MIN_NAMES[corruption]:
        raise TooFewNames(f"IOI needs at least {MIN_NAMES[corruption]} first names that are single tokens of this "
                         f"model; only {len(names)} of the {len(NAMES)} default English names are "
                         f"({', '.join(names) or 'none'}): give your own prompts with --task FILE (.jsonl / .csv)")
    rng = random.Random(seed)
    places, objects = _fillers(model, PLACES, "the"), _fillers(model, OBJECTS, "a")
    groups: dict[tuple[int, int], list] = {}
    pool = sorted(names)
    for i in range(n):
        t = i % len(TEMPLATES)
        io, s = rng.sample(pool, 2)
        fill = {"PLACE": rng.choice(places), "OBJECT": rng.choice(objects)}
        first, second = (io, s) if i % 2 == 0 else (s, io)  # ABBA, BABA
        clean = {**fill, "N1": first, "N2": second, "S2": s}
        if corruption == "swap":
            corrupt = {**fill, "N1": second, "N2": first, "S2": io}
        else:
            x, y, z = rng.sample([m for m in pool if m not in (io, s)], 3)
            corrupt = {**fill, "N1": x, "N2": y, "S2": z}
        c_ids = model.to_tokens(TEMPLATES[t].format(**clean))[0].cpu()
        k_ids = model.to_tokens(TEMPLATES[t].format(**corrupt))[0].cpu()
        if c_ids.shape != k_ids.shape:  # a tokenizer merging a name with its neighbour: skip that draw
            continue
        groups.setdefault((t, c_ids.numel()), []).append((clean, c_ids, k_ids, names[io], names[s]))
    if not groups:
        raise ValueError("no IOI prompt pair kept one token length under corruption for this tokenizer: give your "
                         "own prompts with --task FILE")
    warn_unknown_prompts(model, f"ioi-{corruption}", [ids.tolist() for rows in groups.values()
                                                      for _, c_ids, k_ids, _, _ in rows for ids in (c_ids, k_ids)])
    tasks = [_group_task(model, f"ioi-{corruption}/t{t}-{length}tok", TEMPLATES[t], rows)
             for (t, length), rows in sorted(groups.items())]
    return tasks[0] if len(tasks) == 1 else TaskGroups(f"ioi-{corruption}", tasks)


@dataclass
class RoleTask(Task):
    """A Task of IOI prompts that knows the token position of each role in each prompt: io (the first mention of
    the indirect object), s1 and s2 (the subject's two mentions) and end (the last token), BOS counted. Role
    analyses (circuits.discovery.head_evidence) read them."""

    roles: dict[str, Tensor] = field(default_factory=dict)
    """role -> [batch] token positions."""

    def subset(self, rows: slice) -> RoleTask:
        return dataclasses.replace(super().subset(rows), roles={k: v[rows] for k, v in self.roles.items()})


def _group_task(model, name: str, template: str, rows: list) -> RoleTask:
    clean = torch.stack([r[1] for r in rows])  # [group, pos]
    n_pos = clean.shape[1]
    roles: dict[str, list[int]] = {"io": [], "s1": [], "s2": [], "end": []}
    for fill, *_ in rows:
        at = {label: i for i, label in enumerate(slot_labels(model, template, fill, n_pos))}
        io_first = fill["N1"] != fill["S2"]  # ABBA: the first name is the indirect object
        roles["io"].append(at["N1"] if io_first else at["N2"])
        roles["s1"].append(at["N2"] if io_first else at["N1"])
        roles["s2"].append(at["S2"])
        roles["end"].append(n_pos - 1)
    return RoleTask(name, clean, torch.stack([r[2] for r in rows]), torch.tensor([r[3] for r in rows]),
                    torch.tensor([r[4] for r in rows]), slot_labels(model, template, rows[0][0], n_pos),
                    roles={k: torch.tensor(v) for k, v in roles.items()})


def _n_tokens(model, text: str) -> int:
    return model.to_tokens(text, prepend_bos=False).shape[-1] if text else 0


def slot_labels(model: HookedTransformer, template: str, fill: dict[str, str], n_pos: int) -> list[str]:
    """Position labels of a prompt: BOS, its tokens, the slots by name (N1, N2, S2, PLACE, OBJ; a slot of several
    tokens as PLACE, PLACE+1, ...) and END for the last position."""
    text = template.format(**fill)
    words = [w.strip() or w for w in model.to_str_tokens(text, prepend_bos=False)]
    offset = n_pos - len(words)  # BOS, when the model prepends one
    labels = ["BOS"] * offset + words
    for m in re.finditer(r"\{(\w+)\}", template):
        start = offset + _n_tokens(model, template[:m.start()].format(**fill).rstrip(" "))
        end = offset + _n_tokens(model, template[:m.end()].format(**fill))
        for j in range(start, min(end, n_pos)):
            labels[j] = SLOT_LABELS[m.group(1)] + (f"+{j - start}" if j > start else "")
    labels[-1] = "END"
    return unique_labels(labels)
