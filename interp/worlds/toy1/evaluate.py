"""toy1's IOI evaluation: prompts over the toy1 templates, the held-out probe forms, and the shipped models' bar.

The toy1 models were judged on held-out (template, IO, S) combinations per name order (`ioi_score`); the held-out
forms are the five shapes issue 16 probed them with (`TOY1_HELDOUT_FORMS`), none of them a toy1 template.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..toy.evaluate import ioi_logit_diffs
from ..toy.text import ORDERS, IOIPrompt
from . import vocab as V
from .ioi import IOI_TEMPLATES, Split, fill_template, fill_text, in_split

if TYPE_CHECKING:
    from transformer_lens import HookedTransformer

    from ..toy.ioi_eval import HeldoutIOI

TOY1_HELDOUT_FORMS: dict[str, str] = {
    "yesterday_walked": "Yesterday {N1} and {N2} walked to the {P} . {S} sold a {O} to",
    "today_cleaned": "Today {N1} and {N2} cleaned the {P} . {S} carried a {O} to",
    "met_later": "{N1} met {N2} at the {P} . Later , {S} gave the {O} to",
    "while_read": "While at the {P} , {N1} and {N2} read a book . {S} passed the {O} to",
    "at_played": "At the {P} , {N1} and {N2} played . {S} showed a {O} to",
}
"""Issue 16's probe forms in toy1 words ({N1} {N2}: the names in order, {S}: the subject repeated)."""


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


def ioi_score(model: HookedTransformer, n_prompts: int = 400, seed: int = 0, split: Split = "heldout") -> IOIScore:
    """IOI accuracy and mean logit difference for ABBA and BABA separately."""
    acc, ld = {}, {}
    for form in ("ABBA", "BABA"):
        d = ioi_logit_diffs(model, ioi_prompts(n_prompts // 2, seed, split, form))
        acc[form], ld[form] = int((d > 0).sum()) / len(d), float(d.mean())
    return IOIScore(acc, ld, n_prompts)


def toy1_form_prompts(form: str, order: str, n: int, seed: int = 0) -> list[IOIPrompt]:
    """`n` prompts of one of `TOY1_HELDOUT_FORMS` in one name order, names and slots drawn from the toy1 lexicon."""
    rng = random.Random(f"{seed}|{form}|{order}")
    names, objects = V.MALE_NAMES + V.FEMALE_NAMES, tuple(V.OBJECT_COLOURS)
    index = list(TOY1_HELDOUT_FORMS).index(form)
    return [fill_text(TOY1_HELDOUT_FORMS[form], index, *rng.sample(names, 2), order, rng.choice(V.PLACES),
                      rng.choice(objects), rng.choice(V.FOODS)) for _ in range(n)]


def form_prompts(n: int, seed: int = 0) -> dict[tuple[str, str], list[IOIPrompt]]:
    """(form, order) -> `n` prompts of that held-out form."""
    return {(f, o): toy1_form_prompts(f, o, n, seed) for f in TOY1_HELDOUT_FORMS for o in ORDERS}


def name_prompts(n: int, seed: int = 0) -> list[IOIPrompt]:
    """toy1 holds out no names: `n` prompts of held-out template/name combinations, name orders alternating."""
    return ioi_prompts(n, seed, "heldout")


def ioi_card(model: HookedTransformer, held: HeldoutIOI, seed: int) -> dict:
    """The card's IOI entries: the bar on held-out template combinations per name order, as the shipped models were
    judged, beside the held-out-form evaluation of `interp toyworld eval` (`held`, a `HeldoutIOI`)."""
    score = ioi_score(model, n_prompts=400, seed=seed)
    return {"ioi_accuracy": score.accuracy, "ioi_logit_diff": score.logit_diff, "ioi_prompts": score.n_prompts,
            "meets_bar": score.passes(), **_summary(held)}


def _summary(held) -> dict:
    return {"ioi_heldout_form_acc": round(held.form_accuracy, 4),
            "ioi_heldout_form_logit_diff": round(held.form_logit_diff, 4),
            "ioi_heldout_name_acc": round(held.name_accuracy, 4)}
