"""toy2's IOI evaluation: held-out forms with training names, training forms with held-out names, and the bar.

The bar is issue 16's: held-out forms >= 90% with logit difference >= 2, held-out names >= 95%.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..toy.text import ORDERS, IOIPrompt
from .forms import HELDOUT_FORMS
from .ioi import ioi_prompts

if TYPE_CHECKING:
    from transformer_lens import HookedTransformer

    from ..toy.ioi_eval import HeldoutIOI


def form_prompts(n: int, seed: int = 0) -> dict[tuple[str, str], list[IOIPrompt]]:
    """(form, order) -> `n` prompts of that held-out form, training names."""
    return {(f, o): ioi_prompts(n, seed, "heldout_form", form=f, order=o) for f in HELDOUT_FORMS for o in ORDERS}


def name_prompts(n: int, seed: int = 0) -> list[IOIPrompt]:
    """`n` prompts of training forms with at least one held-out name, name orders alternating."""
    return ioi_prompts(n, seed, "heldout_name")


def ioi_card(model: HookedTransformer, held: HeldoutIOI, seed: int) -> dict:
    """The card's IOI entries from the held-out-form evaluation of `interp toyworld eval` (`held`, a `HeldoutIOI`)."""
    passes = held.form_accuracy >= 0.9 and held.form_logit_diff >= 2 and held.name_accuracy >= 0.95
    return {"ioi_accuracy": {"heldout_form": held.form_accuracy, "heldout_name": held.name_accuracy},
            "ioi_logit_diff": {"heldout_form": held.form_logit_diff, "heldout_name": held.name_logit_diff},
            "ioi_prompts": sum(f.n for f in held.forms) + held.n_names, "meets_bar": passes,
            "ioi_heldout_form_acc": round(held.form_accuracy, 4),
            "ioi_heldout_form_logit_diff": round(held.form_logit_diff, 4),
            "ioi_heldout_name_acc": round(held.name_accuracy, 4)}
