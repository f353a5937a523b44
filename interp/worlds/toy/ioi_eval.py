"""IOI on surface forms and names a model never saw in an IOI sentence: `interp toyworld eval --model M`.

Accuracy is logit[IO] > logit[S] at the final "to", the logit difference logit[IO] - logit[S] there; both per
held-out form and name order, and over all held-out-form prompts. The last line printed is
``ioi_heldout_form_acc=X ioi_heldout_form_logit_diff=Y ioi_heldout_name_acc=Z`` (scripts read it).

What is held out depends on the model's world, which its vocabulary tells (`interp.worlds.world_name_of_model`); each
world supplies its prompts (`World.form_prompts`, `World.name_prompts`):
- toy1 (the shipped models): the forms are the five shapes issue 16 probed the models with, written in toy1 words
  (`toy1.evaluate.TOY1_HELDOUT_FORMS`, none of them a toy1 template), in both name orders with every toy1 name;
  toy1 holds out no names, so "held-out names" is its held-out (template, IO, S) combinations of the training templates.
- toy2: `toy2.forms.HELDOUT_FORMS` with training names, and training forms with at least one held-out name
  (`toy2.ioi.ioi_prompts`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from .. import get_world, world_name_of_model
from .evaluate import ioi_logit_diffs
from .text import ORDERS

if TYPE_CHECKING:
    from transformer_lens import HookedTransformer


class FormScore(NamedTuple):
    form: str
    order: str
    accuracy: float
    logit_diff: float
    n: int


class HeldoutIOI(NamedTuple):
    """Per-form scores and the summary over held-out forms and held-out names."""

    world: str
    forms: list[FormScore]
    form_accuracy: float
    form_logit_diff: float
    name_accuracy: float
    name_logit_diff: float
    n_names: int

    def last_line(self) -> str:
        return (f"ioi_heldout_form_acc={self.form_accuracy:.4f} ioi_heldout_form_logit_diff={self.form_logit_diff:.4f}"
                f" ioi_heldout_name_acc={self.name_accuracy:.4f}")

    def table(self) -> str:
        """One row per form: accuracy and mean logit difference in each name order."""
        names = list(dict.fromkeys(f.form for f in self.forms))
        by = {(f.form, f.order): f for f in self.forms}
        width = max(len(n) for n in names)
        head = f"{'form':<{width}}  " + "  ".join(f"{o} acc  {o} logit diff" for o in ORDERS)
        rows = [f"{n:<{width}}  " + "  ".join(f"{by[n, o].accuracy:8.1%}  {by[n, o].logit_diff:15.2f}" for o in ORDERS)
                for n in names]
        return "\n".join([head, *rows])


def model_world(model: HookedTransformer) -> str:
    """The name of the toy world of `model`'s vocabulary; a clear error for a model of none."""
    world = world_name_of_model(model)
    if world is None:
        raise ValueError("the held-out IOI evaluation needs a toy-world model (its vocabulary is neither toy1's nor "
                         "toy2's): give a shipped toy model or a folder trained by interp toyworld train")
    return world


def heldout_ioi(model: HookedTransformer, n_prompts: int = 60, seed: int = 0, batch_size: int = 128) -> HeldoutIOI:
    """Score `model` on every held-out form of its world (`n_prompts` per form and order) and on 2 * `n_prompts`
    held-out-name prompts."""
    world = get_world(model_world(model))
    rows = []
    forms = world.form_prompts(n_prompts, seed)
    longest = max(len(p.words) for ps in forms.values() for p in ps) + 1  # BOS
    if longest > model.cfg.n_ctx:
        raise ValueError(f"the held-out IOI prompts of {world.name} are up to {longest} tokens long, more than this "
                         f"model's context of {model.cfg.n_ctx}")
    for (form, order), prompts in forms.items():
        d = ioi_logit_diffs(model, prompts, batch_size)
        rows.append(FormScore(form, order, int((d > 0).sum()) / len(d), float(d.mean()), len(prompts)))
    d = ioi_logit_diffs(model, world.name_prompts(2 * n_prompts, seed), batch_size)
    total = sum(r.n for r in rows)
    names_right = int((d > 0).sum())  # a count, not a float32 mean: 76/80 must read 0.95, not 0.9499999
    return HeldoutIOI(world.name, rows, sum(r.accuracy * r.n for r in rows) / total,
                      sum(r.logit_diff * r.n for r in rows) / total, names_right / len(d), float(d.mean()), len(d))


def main(cfg) -> HeldoutIOI:
    """CLI entry (`interp toyworld eval`): print the per-form table, the held-out-name line, and the summary last."""
    from interp.models import load_model
    from interp.runtime import start_run

    device = start_run(cfg.run.device, cfg.run.threads).device
    model = load_model(cfg.lm.model, device, cfg.lm.weight_processing)
    res = heldout_ioi(model, cfg.n_prompts, cfg.seed, cfg.batch_size)
    names = get_world(res.world).heldout_names
    print(f"{cfg.lm.model} ({res.world}): IOI on {len(res.forms) // len(ORDERS)} held-out forms, "
          f"{res.forms[0].n} prompts per form and name order")
    print(res.table())
    print(f"held-out names ({names}, {res.n_names} prompts): accuracy {res.name_accuracy:.1%}, mean logit "
          f"difference {res.name_logit_diff:.2f}")
    print(res.last_line())
    return res
