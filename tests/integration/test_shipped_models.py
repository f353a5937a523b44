"""The bar every shipped toy model must meet, measured on held-out IOI prompts, and its model card."""

from __future__ import annotations

import json

import pytest

from interp.models import MODELS_DIR, load_model
from interp.toyworld.evaluate import heldout_loss, ioi_score

SHIPPED = ["toy-gelu-s0", "toy-gelu-s1", "toy-gelu-s2", "toy-gelu-s3", "toy-relu-s0"]


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_model_meets_the_ioi_bar_on_heldout_prompts(name):
    model = load_model(name)
    score = ioi_score(model, n_prompts=300, seed=123, split="heldout")  # another prompt seed than the card's
    for form in ("ABBA", "BABA"):
        assert score.accuracy[form] >= 0.95, (name, form, score)
        assert score.logit_diff[form] >= 2.0, (name, form, score)
    card = json.loads((MODELS_DIR / name / "card.json").read_text())
    assert card["meets_bar"] and card["training_tokens"] > 5_000_000 and card["wall_time_s"] > 0
    assert abs(card["heldout_loss"] - heldout_loss(model, n_docs=64, seed=card["seed"])) < 0.1


def test_models_of_different_seeds_differ():
    a, b = load_model("toy-gelu-s0"), load_model("toy-gelu-s1")
    assert not (a.W_in[0] - b.W_in[0]).abs().max() < 1e-3
