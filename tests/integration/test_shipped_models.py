"""The bar every shipped toy model must meet, measured on prompts of another seed than its card's, and its card.

toy1 models (the first ones): >= 95% IOI accuracy and a mean logit difference >= 2 in each name order on held-out
(template, IO, S) combinations. toy2 models (issue 16): on IOI forms never seen in training >= 90% with a mean logit
difference >= 2, and >= 95% on names never seen in a training IOI sentence (`interp toyworld eval`).
"""

from __future__ import annotations

import json

import pytest

from interp.models import MODELS_DIR, load_model, shipped_models
from interp.worlds.toy.evaluate import heldout_loss
from interp.worlds.toy.ioi_eval import heldout_ioi, model_world
from interp.worlds.toy1.evaluate import ioi_score


def _tokens_seen(card: dict) -> int:
    """Training tokens of a model and of the shipped model it was initialised from (ProSparse continues a GELU model),
    so a fine-tuned model's card counts everything its weights were trained on."""
    base = card.get("init_from")
    if not base:
        return card["training_tokens"]
    return card["training_tokens"] + _tokens_seen(json.loads((MODELS_DIR / base / "card.json").read_text()))


@pytest.mark.parametrize("name", shipped_models())
def test_shipped_model_meets_the_ioi_bar_on_heldout_prompts(name):
    model = load_model(name)
    card = json.loads((MODELS_DIR / name / "card.json").read_text())
    world = model_world(model)
    assert card.get("world", "toy1") == world
    if world == "toy1":
        score = ioi_score(model, n_prompts=300, seed=123, split="heldout")
        for form in ("ABBA", "BABA"):
            assert score.accuracy[form] >= 0.95, (name, form, score)
            assert score.logit_diff[form] >= 2.0, (name, form, score)
    else:
        held = heldout_ioi(model, n_prompts=30, seed=123)
        assert held.form_accuracy >= 0.9 and held.form_logit_diff >= 2, (name, held.last_line())
        assert held.name_accuracy >= 0.95, (name, held.last_line())
    assert card["meets_bar"] and _tokens_seen(card) > 5_000_000 and card["wall_time_s"] > 0
    loss = heldout_loss(model, n_docs=64, seed=card["seed"], world=world)
    assert abs(card["heldout_loss"] - loss) < 0.1


def test_models_of_different_seeds_differ():
    a, b = load_model("toy-gelu-s0"), load_model("toy-gelu-s1")
    assert not (a.W_in[0] - b.W_in[0]).abs().max() < 1e-3
