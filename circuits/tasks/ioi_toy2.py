"""IOI on toy2 models, from toy2's own IOI grammar (interp.worlds.toy2.ioi / forms) instead of toy1's templates.

A toy2 model never saw toy1's twelve IOI templates, so its IOI task is drawn from the grammar that wrote its IOI
sentences (`ioi.ioi_prompts`): an intro naming A and B, an optional middle sentence, and a transfer clause whose
subject repeats one of them, cut before the answer ("Yesterday Mary and John walked to the park . John sold a
red ball to" -> Mary). Answer = the IO's token, wrong = the subject's.

Which prompts (split="heldout", the default): one held-out form, "opener+plain" (`DEFAULT_FORMS`; issue 16's
probe, the toy2 shape closest to Wang et al.'s "Then, A and B went to the P. B gave a O to"), with training names:
no training IOI sentence has that form, yet every intro, transfer and name in it was trained, so the circuit found
is the one that generalises, not a memorised form. A training form asked for in the held-out split gets at least
one held-out name instead; split="train" draws training forms and names. `forms` chooses other forms.

Shapes and groups: one form fixes the prompts' skeleton, but its slots still vary (an optional adjective before
the place or the object, an optional middle sentence, an object or a food), so prompts of one form differ in
length and in where S2 falls. A prompt's *shape* is the word class at every position (the name roles, then place,
object, adjective, verb, ... of the lexicon); prompts of one shape have every slot at the same position, so a
(layer, position) patch hits the same slot in every prompt. shapes="one" (the default) keeps each form's most
common shape (no optional words; for the default form "ADV N1 and N2 MOTION to the PLACE . S2 TRANSFER a/an OBJ
END"),
drawing more prompts and dropping the others: one position-aligned `IOITask` per form, like toy1's one template.
shapes="all" keeps every prompt the grammar wrote and groups them by (form, shape) into a `TaskGroups` (like
circuits.tasks.ioi_classic), patched group by group and combined aligned at the end of the prompt
(circuits.patching.run). Several forms always give groups. ABBA and BABA prompts alternate and share groups:
positions are labelled N1 / N2 (first and second name), S2, END, the slots PLACE / OBJ / FOOD / ADJ / NAME (a
distractor), and the words every prompt of the group shares. Each group is an `IOITask` keeping its prompts, so role
analyses (circuits.discovery.head_roles) read each prompt's IO / S1 / S2 / END positions.

Corruptions as in the toy1 task (circuits.tasks.ioi): "abc" puts three fresh names (none of the clean prompt's) in
the N1, N2 and S2 slots; "swap" exchanges IO and S throughout. A middle sentence's distractor name is left as is.

The grammar, forms, names and word classes come from the world's `GrammarIOI` (`World.ioi`, interp.worlds.ioi): the
model's own world's when it has a form grammar, else toy2's (`WORLD`), looked up in the registry; this module
imports no world package.
"""

from __future__ import annotations

import dataclasses
import random
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal, NamedTuple

from interp.worlds import GrammarIOI, IOIPrompt, get_world
from interp.worlds.ioi import ORDERS

from .base import Task
from .groups import TaskGroups, unique_labels
from .ioi import Corruption, IOITask, model_ioi

if TYPE_CHECKING:
    from transformer_lens import HookedTransformer

Split = Literal["heldout", "train"]
Shapes = Literal["one", "all"]
WORLD = "toy2"
"""The world whose grammar `ioi_toy2_pairs` draws when given none (and `ioi_toy2_task` on a model of no such
world)."""
DEFAULT_FORMS = ("opener+plain",)
"""The held-out form of the default task: "{Adv} {A} and {B} {Vm} to the {P} . {S} {Vg} {aX} to"."""
SLOT_LABELS = {"name": "NAME", "place": "PLACE", "object": "OBJ", "food": "FOOD", "adjective": "ADJ",
               "colour": "ADJ", "size": "ADJ", "material": "ADJ"}
"""Word categories labelled by their slot (a distractor name is NAME); other words by themselves."""
CLASS_LABELS = {"verb": "VERB", "adverb": "ADV", "animal": "ANIMAL", "person": "PERSON", "time": "TIME",
                "number": "NUM", "class": "CLASS", "sound": "SOUND", "pronoun": "PRON", "function": "FUNC"}
"""Labels of the other categories where the prompts of a group have different words."""


class IOIPair(NamedTuple):
    """A clean IOI prompt and its corrupted twin: the same words except the name slots."""

    clean: IOIPrompt
    corrupted: IOIPrompt


def _grammar(ioi: GrammarIOI | None) -> GrammarIOI:
    return get_world(WORLD).ioi if ioi is None else ioi


def _category(g: GrammarIOI, word: str) -> str:
    return g.word_labels[word].get("category", word)


def _verb_class(g: GrammarIOI, word: str) -> str:
    return g.word_labels[word].get("verb_class", "verb")


def _prompt_kind(g: GrammarIOI, form: str, split: Split) -> str:
    """ioi's prompt kind for one form: a held-out form takes training names, a training form held-out names."""
    if split == "train":
        return "train"
    return "heldout_form" if g.is_heldout_form(form) else "heldout_name"


def _check(g: GrammarIOI, n: int, corruption: str, forms: Sequence[str], split: str, shapes: str) -> None:
    if shapes not in ("one", "all"):
        raise ValueError(f"shapes must be 'one' (each form's most common shape) or 'all', got {shapes!r}")
    if corruption not in ("abc", "swap"):
        raise ValueError(f"corruption must be 'abc' or 'swap', got {corruption!r}")
    if split not in ("heldout", "train"):
        raise ValueError(f"split must be 'heldout' or 'train', got {split!r}")
    if n < 1 or not forms:
        raise ValueError(f"need n >= 1 prompts and at least one form, got n={n} and forms={tuple(forms)}")
    g.check_forms(tuple(forms), "heldout")
    held = [f for f in forms if g.is_heldout_form(f)]
    if split == "train" and held:
        raise ValueError(f"IOI form(s) {', '.join(held)} are held out of training: use split='heldout', or a "
                         f"training form (interp.worlds.toy2.forms.TRAIN_FORMS, e.g. {g.train_forms[0]})")


def ioi_toy2_pairs(n: int, corruption: Corruption = "abc", forms: Sequence[str] = DEFAULT_FORMS,
                   split: Split = "heldout", shapes: Shapes = "one", seed: int = 0, ioi: GrammarIOI | None = None,
                   ) -> list[IOIPair]:
    """`n` (clean, corrupted) pairs of IOI prompts of `ioi`'s grammar (None: `WORLD`'s), spread evenly over `forms`,
    ABBA and BABA alternating."""
    g = _grammar(ioi)
    _check(g, n, corruption, forms, split, shapes)
    rng = random.Random(seed)
    pairs: list[IOIPair] = []
    for i, form in enumerate(forms):
        k = n // len(forms) + (i < n % len(forms))
        if not k:
            continue
        kind = _prompt_kind(g, form, split)
        pool = list(g.names if kind == "heldout_name" else g.train_names)
        for p in form_prompts(g, form, k, kind, shapes, seed * len(g.forms) + i):
            pairs.append(IOIPair(p, corrupt(p, corruption, pool, rng)))
    return pairs


def form_prompts(g: GrammarIOI, form: str, n: int, kind: str, shapes: Shapes, seed: int) -> list[IOIPrompt]:
    """`n` prompts of one form of grammar `g` (ioi kind `kind`), ABBA and BABA alternating; shapes="one" keeps the
    form's most common shape only (drawing more prompts than `n` and dropping the others)."""
    if shapes == "all":
        return g.prompts(n, seed=seed, kind=kind, form=form)
    need = {"ABBA": (n + 1) // 2, "BABA": n // 2}
    for factor in (8, 64):
        drawn = {o: g.prompts(factor * need[o], seed=2 * seed + j, kind=kind, form=form, order=o)
                 for j, o in enumerate(ORDERS)}
        common = Counter(shape(g, p) for ps in drawn.values() for p in ps).most_common(1)[0][0]
        kept = {o: [p for p in ps if shape(g, p) == common][:need[o]] for o, ps in drawn.items()}
        if all(len(kept[o]) == need[o] for o in ORDERS):
            return [kept[ORDERS[i % 2]][i // 2] for i in range(n)]
    raise ValueError(f"IOI form {form} gave fewer than {n} prompts of its most common shape: use shapes='all' "
                     f"(prompts of every shape, in groups) or ask for fewer prompts")


def corrupt(p: IOIPrompt, corruption: Corruption, pool: Sequence[str], rng: random.Random) -> IOIPrompt:
    """`p` corrupted: IO and S exchanged (swap), or three fresh names from `pool` in N1, N2 and S2 (abc)."""
    words, pos = list(p.words), p.positions
    if corruption == "swap":
        io, s = p.s, p.io
        words[pos["io"]], words[pos["s1"]], words[pos["s2"]] = io, s, s
    else:
        io, s, third = rng.sample([m for m in pool if m not in p.words], 3)
        words[pos["io"]], words[pos["s1"]], words[pos["s2"]] = io, s, third
    return dataclasses.replace(p, words=tuple(words), io=io, s=s, positions=dict(pos))


def _roles(p: IOIPrompt) -> dict[int, str]:
    """Word position -> N1 / N2 (first / second name mentioned), S2 and END."""
    first, second = sorted((p.positions["io"], p.positions["s1"]))
    return {first: "N1", second: "N2", p.positions["s2"]: "S2", p.positions["end"]: "END"}


def shape(g: GrammarIOI, p: IOIPrompt) -> tuple[str, ...]:
    """The word class at every position: name roles, word categories (modifiers of any kind as one), punctuation
    as itself. Prompts of one shape have their slots at the same positions."""
    roles = _roles(p)
    out = []
    for i, w in enumerate(p.words):
        cat = _category(g, w)
        out.append(roles.get(i) or (w if cat == "punct" else SLOT_LABELS.get(cat, cat)))
    return tuple(out)


def shape_labels(g: GrammarIOI, prompts: Sequence[IOIPrompt]) -> list[str]:
    """Position labels of prompts of one shape: BOS, the roles, the slots (PLACE, OBJ, ...), a word every prompt
    has, else its class (MOTION / TRANSFER for verbs, ADV, ...) or its few alternatives ("a/an")."""
    roles = _roles(prompts[0])
    labels = ["BOS"]
    for i, w in enumerate(prompts[0].words):
        seen = sorted({p.words[i] for p in prompts})
        cat = _category(g, w)
        if i in roles or cat in SLOT_LABELS:
            labels.append(roles.get(i) or SLOT_LABELS[cat])
        elif len(seen) == 1:
            labels.append(w)
        elif cat == "verb" and len(kinds := {_verb_class(g, v) for v in seen}) == 1:
            labels.append(kinds.pop().upper())  # MOTION, TRANSFER, ACTIVITY, ...
        else:
            labels.append("/".join(seen) if cat == "function" and len(seen) <= 3 else CLASS_LABELS.get(cat, "WORD"))
    return unique_labels(labels)


def _group_task(model, g: GrammarIOI, name: str, pairs: Sequence[IOIPair], corruption: str) -> IOITask:
    clean = [c for c, _ in pairs]
    base = Task.from_text(model, name, [c.text for c in clean], [k.text for _, k in pairs], [c.io for c in clean],
                          [c.s for c in clean], shape_labels(g, clean))
    if base.n_pos != len(clean[0].words) + 1:
        raise ValueError(f"the toy2 IOI prompt {clean[0].text!r} is {base.n_pos} tokens for this model, not one "
                         f"per word after BOS: the toy2 IOI task needs a toy2 model (its word-level tokenizer)")
    return IOITask.of(base, clean, corruption)


def ioi_toy2_task(model: HookedTransformer, n: int = 32, corruption: Corruption = "abc",
                  forms: Sequence[str] = DEFAULT_FORMS, split: Split = "heldout", shapes: Shapes = "one",
                  seed: int = 0) -> IOITask | TaskGroups:
    """The IOI task of a toy2 model (the grammar of `model`'s world, `model_ioi`): one `IOITask` per (form, shape) of
    the drawn prompts, a `TaskGroups` when there are several; answer = the clean IO's token, wrong = the clean S's,
    metric = logit difference."""
    g = model_ioi(model, GrammarIOI, WORLD)
    pairs = ioi_toy2_pairs(n, corruption, forms, split, shapes, seed, g)
    by_shape: dict[tuple, list[IOIPair]] = {}
    for pair in pairs:
        by_shape.setdefault((pair.clean.template, shape(g, pair.clean)), []).append(pair)
    keys = sorted(by_shape, key=lambda k: (len(k[1]), k[0]))  # shortest first, then form; stable within
    name = f"ioi-{corruption}"
    if len(keys) == 1:
        return _group_task(model, g, name, by_shape[keys[0]], corruption)
    tasks, seen = [], {}
    for form, sh in keys:
        stem = f"{name}/{g.forms[form]}/{len(sh) + 1}tok"
        seen[stem] = seen.get(stem, 0) + 1
        tasks.append(_group_task(model, g, stem if seen[stem] == 1 else f"{stem}-{seen[stem]}", by_shape[form, sh],
                                 corruption))
    return TaskGroups(name, tasks)


def describe(forms: Sequence[str] = DEFAULT_FORMS, split: Split = "heldout", shapes: Shapes = "one",
             ioi: GrammarIOI | None = None) -> str:
    """What summary.json records about the prompts of `ioi`'s grammar (None: `WORLD`'s): the grammar, the forms,
    which names and which shapes."""
    g = _grammar(ioi)
    kinds = {f: _prompt_kind(g, f, split) for f in forms}
    names = {"train": "training forms and names", "heldout_form": "held-out form, training names",
             "heldout_name": "training form, a held-out name"}
    which = "each form's most common shape" if shapes == "one" else "every shape, grouped"
    return f"toy2 IOI grammar, {which}: " + "; ".join(f"{f} ({names[k]})" for f, k in kinds.items())
