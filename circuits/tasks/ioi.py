"""IOI clean / corrupted prompt sets from the toy world (held-out name and template combinations).

One template per task keeps every prompt the same length, so a (layer, position) patch means the same word in every
prompt. Corruptions (docs/methods.md §4):
- "swap": IO and S exchanged throughout, so the corrupted run prefers the clean S (logit difference about -LD);
- "abc":  the three name slots (first two names and the repeated subject) get three distinct new names, so the
  corrupted run has no reason to prefer either clean name (logit difference about 0).
Forms: "ABBA" (IO first), "BABA" (S first) or "both" (alternating, positions labelled N1 / N2 then).

The templates, names and split come from the world's `TemplateIOI` (`World.ioi`, interp.worlds.ioi): the model's
own world's when it has templates, else toy1's (`WORLD`, the world these templates were written for), looked up in
the registry; this module imports no world package.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, TypeVar

from interp.worlds import GrammarIOI, IOIPrompt, TemplateIOI, get_world, world_of_model

from .base import Task

if TYPE_CHECKING:
    from transformer_lens import HookedTransformer

Corruption = Literal["abc", "swap"]
FormChoice = Literal["ABBA", "BABA", "both"]
Split = Literal["train", "heldout", "any"]
WORLD = "toy1"
"""The world whose templates `ioi_prompt_pairs` draws when given none (and `ioi_task` on a model of no such world)."""
Grammar = TypeVar("Grammar", TemplateIOI, GrammarIOI)


def model_ioi(model: HookedTransformer, kind: type[Grammar], world: str) -> Grammar:
    """The IOI pieces of `model`'s world when they are of `kind`, else those of the registered world `world` (the
    IOI tasks always drew their world's prompts on any model; a model of another tokenizer refuses them later)."""
    own = world_of_model(model)
    return own.ioi if own is not None and isinstance(own.ioi, kind) else get_world(world).ioi


@dataclass
class IOITask(Task):
    """A `Task` that keeps its IOI prompts (for role analyses that need each prompt's IO / S1 / S2 positions)."""

    prompts: tuple[IOIPrompt, ...] = ()
    corruption: str = "abc"

    def subset(self, rows: slice) -> IOITask:
        return dataclasses.replace(super().subset(rows), prompts=self.prompts[rows])

    @classmethod
    def of(cls, task: Task, prompts: Sequence[IOIPrompt], corruption: str) -> IOITask:
        """`task` (built from `prompts`' texts, in order) keeping its prompts."""
        return cls(task.name, task.clean, task.corrupted, task.answer, task.wrong, task.pos_labels,
                   prompts=tuple(prompts), corruption=corruption)


def ioi_prompt_pairs(n: int, corruption: Corruption = "abc", form: FormChoice = "both", template: int = 0,
                     split: Split = "heldout", seed: int = 0, ioi: TemplateIOI | None = None,
                     ) -> list[tuple[IOIPrompt, IOIPrompt]]:
    """`n` (clean, corrupted) IOI prompt pairs of one template of `ioi` (None: `WORLD`'s); names drawn from the
    held-out combinations."""
    g = get_world(WORLD).ioi if ioi is None else ioi
    if not 0 <= template < len(g.templates):
        raise ValueError(f"template {template} out of range 0..{len(g.templates) - 1}")
    rng = random.Random(seed)
    names = g.names
    pairs: list[tuple[IOIPrompt, IOIPrompt]] = []
    tries = 0
    while len(pairs) < n:
        tries += 1
        if tries > 1000 * n:
            raise ValueError(f"could not draw {n} {split} prompts for template {template}")
        io, s = rng.sample(names, 2)
        if not g.in_split(template, io, s, split):
            continue
        f = form if form != "both" else ("ABBA" if len(pairs) % 2 == 0 else "BABA")
        fill = dict(place=rng.choice(g.places), obj=rng.choice(g.objects), food=rng.choice(g.foods))
        clean = g.fill(template, io, s, f, **fill)
        if corruption == "swap":
            corrupt = g.fill(template, s, io, f, **fill)
        else:
            x, y, z = rng.sample([m for m in names if m not in (io, s)], 3)
            corrupt = _abc(g.fill(template, x, y, f, **fill), z)
        pairs.append((clean, corrupt))
    return pairs


def _abc(prompt: IOIPrompt, third: str) -> IOIPrompt:
    """`prompt` with its repeated subject S2 replaced by a third name (A B C instead of A B B)."""
    words = list(prompt.words)
    words[prompt.positions["s2"]] = third
    return dataclasses.replace(prompt, words=tuple(words))


def ioi_task(model: HookedTransformer, n: int = 32, corruption: Corruption = "abc", form: FormChoice = "both",
             template: int = 0, split: Split = "heldout", seed: int = 0) -> IOITask:
    """The IOI task of the templates of `model`'s world (`model_ioi`): answer = clean IO name, wrong = clean S name,
    metric = logit difference."""
    if corruption not in ("abc", "swap"):
        raise ValueError(f"corruption must be 'abc' or 'swap', got {corruption!r}")
    ioi = model_ioi(model, TemplateIOI, WORLD)
    pairs = ioi_prompt_pairs(n, corruption, form, template, split, seed, ioi)
    base = Task.from_text(model, f"ioi-{corruption}", [c.text for c, _ in pairs], [k.text for _, k in pairs],
                          [c.io for c, _ in pairs], [c.s for c, _ in pairs], _labels(pairs[0][0], form, ioi))
    return IOITask.of(base, [c for c, _ in pairs], corruption)


def _labels(prompt: IOIPrompt, form: FormChoice, ioi: TemplateIOI) -> list[str]:
    """Position labels: BOS, the template's words, with IO / S1 / S2 / END (N1 / N2 when forms are mixed)."""
    slots = {"{P}": "PLACE", "{O}": "OBJ", "{F}": "FOOD"}
    words = ["BOS", *(slots.get(w, w) for w in ioi.templates[prompt.template].split())]
    p = prompt.positions
    first, second = sorted([p["io"], p["s1"]])
    if form == "both":
        words[first + 1], words[second + 1] = "N1", "N2"
    else:
        words[p["io"] + 1], words[p["s1"] + 1] = "IO", "S1"
    words[p["s2"] + 1], words[p["end"] + 1] = "S2", "END"
    return [f"{w}_{i}" if words.count(w) > 1 else w for i, w in enumerate(words)]
