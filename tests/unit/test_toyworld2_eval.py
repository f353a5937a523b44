"""`interp toyworld eval`: held-out IOI forms and names, on tiny random models of both worlds and on toy-gelu-s0."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest

from apps.cli import main
from interp.models import load_model
from interp.worlds.toy.ioi_eval import heldout_ioi, model_world
from interp.worlds.toy1.evaluate import TOY1_HELDOUT_FORMS, toy1_form_prompts
from interp.worlds.toy1.vocab import build_lexicon
from interp.worlds.toy2.forms import HELDOUT_FORMS

LAST = re.compile(r"ioi_heldout_form_acc=(\d\.\d+) ioi_heldout_form_logit_diff=(-?\d+\.\d+) "
                  r"ioi_heldout_name_acc=(\d\.\d+)")


@pytest.mark.parametrize("world,forms", [("toy2", HELDOUT_FORMS), ("toy1", tuple(TOY1_HELDOUT_FORMS))])
def test_eval_command_on_a_tiny_random_model_prints_the_summary_last(world, forms, tmp_path, capsys,
                                                                      one_torch_thread):
    from interp.models import save_toy_model
    from tests.unit.test_toyworld2_tokenizer import tiny_model

    save_toy_model(tiny_model(world, tmp_path), tmp_path / "m", world=world)
    assert main(["toyworld", "eval", "--model", str(tmp_path / "m"), "--n-prompts", "2", "--device", "cpu"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert LAST.fullmatch(lines[-1]) and lines[-1].startswith("ioi_heldout_form_acc=")
    assert any(f"({world}): IOI on {len(forms)} held-out forms" in line for line in lines)
    assert all(any(line.startswith(f) for line in lines) for f in forms)


def test_toy1_forms_use_only_toy1_words_and_none_is_a_training_template():
    from interp.worlds.toy1.ioi import IOI_TEMPLATES

    words = set(build_lexicon().words)
    for form in TOY1_HELDOUT_FORMS:
        for order in ("ABBA", "BABA"):
            p = toy1_form_prompts(form, order, 3)[0]
            assert set(p.words) <= words and p.words[p.positions["s2"]] == p.s and p.words[-1] == "to"
    assert not set(TOY1_HELDOUT_FORMS.values()) & set(IOI_TEMPLATES)


def test_a_model_of_no_toy_world_is_a_clear_error():
    with pytest.raises(ValueError, match="needs a toy-world model"):
        model_world(SimpleNamespace(tokenizer=None))


def test_toy1_model_fails_some_heldout_forms(one_torch_thread):
    """Issue 16's finding: the toy1 models score ~100% on held-out names of their templates, ~0% on some forms."""
    res = heldout_ioi(load_model("toy1-gelu-s0"), n_prompts=20)
    acc = {(f.form, f.order): f.accuracy for f in res.forms}
    assert res.world == "toy1" and res.name_accuracy > 0.95
    assert acc["met_later", "ABBA"] < 0.2 and acc["while_read", "ABBA"] < 0.2 and acc["yesterday_walked", "BABA"] > 0.8
    assert res.form_accuracy < 0.8


def test_training_on_toy2_records_the_world_and_its_heldout_ioi(tmp_path, one_torch_thread):
    import json

    from interp.worlds import world_name_of
    from interp.worlds.toy import train as T
    from interp.worlds.toy.config import ToyTrainConfig

    cfg = ToyTrainConfig.of(world="toy2", tokens=4 * 4 * 48, out=str(tmp_path / "m"), n_layers=1, d_model=16,
                            n_heads=2, d_mlp=32, n_ctx=48, batch_size=4, warmup_steps=1, device="cpu")
    card = T.train_toy_model(cfg)
    assert card["world"] == "toy2" and set(card["ioi_accuracy"]) == {"heldout_form", "heldout_name"}
    assert json.loads((tmp_path / "m" / "config.json").read_text())["world"] == "toy2"
    assert world_name_of(T.build_tokenizer(tmp_path / "tok", "toy2")) == "toy2"
    assert 0 <= card["ioi_heldout_form_acc"] <= 1 and card["heldout_loss"] > 0
