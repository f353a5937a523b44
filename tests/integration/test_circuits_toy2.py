"""The circuits tasks on a toy2 model: IOI from toy2's own IOI grammar (circuits.tasks.ioi_toy2), gender and colour
in toy2's sentences, and `interp patch` recording toy2 prompts, not toy1's templates or Wang et al.'s. The model is
tests/conftest.py's tiny random toy2 model (a real HookedTransformer of the toy2 vocabulary)."""

from __future__ import annotations

import json

import pytest
import torch

from apps.cli import main
from circuits.cli import build_task
from circuits.config import PatchConfig
from circuits.discovery import head_roles
from circuits.tasks import IOITask, TaskGroups, as_groups, colour_task, gender_task, ioi_toy2_task
from circuits.tasks.ioi_toy2 import DEFAULT_FORMS, ioi_toy2_pairs
from interp.worlds.toy2.forms import is_heldout_form
from interp.worlds.toy2.ioi import HELDOUT_NAMES, TRAIN_NAMES
from interp.worlds.toy2.lexicon import OBJECT_FACTS, build_lexicon

pytestmark = pytest.mark.usefixtures("one_torch_thread")
LEX = build_lexicon()


@pytest.fixture(scope="module")
def model(toy2_model):
    from interp.models import load_model

    return load_model(str(toy2_model))


def _name_slots(g: IOITask) -> list[int]:
    return [g.pos_labels.index(r) for r in ("N1", "N2", "S2")]


@pytest.mark.parametrize("corruption", ["abc", "swap"])
def test_toy2_ioi_pairs_differ_exactly_in_the_name_slots(model, corruption):
    task = ioi_toy2_task(model, n=8, corruption=corruption)
    assert isinstance(task, IOITask) and task.n_prompts == 8 and task.name == f"ioi-{corruption}"
    assert {"BOS", "N1", "N2", "S2", "END", "PLACE", "OBJ"} <= set(task.pos_labels)
    assert [p.form for p in task.prompts[:4]] == ["ABBA", "BABA", "ABBA", "BABA"]
    assert is_heldout_form(DEFAULT_FORMS[0])
    slots = _name_slots(task)
    differ = (task.clean != task.corrupted).nonzero()[:, 1].unique().tolist()
    assert set(differ) <= set(slots) and (task.clean[:, slots] != task.corrupted[:, slots]).any(0).all()
    for i, p in enumerate(task.prompts):
        assert model.to_str_tokens(task.clean[i])[1:] == list(p.words)  # one token per word, after BOS
        assert model.to_single_token(p.io) == task.answer[i] and model.to_single_token(p.s) == task.wrong[i]
        assert int(task.clean[i, p.positions["s2"] + 1]) == int(task.wrong[i])  # S2 is the wrong answer
        assert {p.io, p.s} <= {LEX.words[t] for t in TRAIN_NAMES}  # held-out form, training names
    if corruption == "swap":  # IO and S exchanged: corrupted N1 / N2 are clean N2 / N1
        assert torch.equal(task.corrupted[:, slots[0]], task.clean[:, slots[1]])
    else:  # three fresh names, none of the clean prompt's
        for c, k in zip(task.clean.tolist(), task.corrupted.tolist()):
            fresh = [k[s] for s in slots]
            assert len(set(fresh)) == 3 and not set(fresh) & set(c)


def test_toy2_ioi_groups_are_position_aligned(model):
    task = ioi_toy2_task(model, n=12, shapes="all", forms=("opener+plain", "and_went+plain"))
    assert isinstance(task, TaskGroups) and task.n_prompts == 12 and len(as_groups(task)) > 1
    for g in as_groups(task):
        assert isinstance(g, IOITask) and g.clean.shape[1] == len(g.prompts[0].words) + 1
        for p in g.prompts:  # every prompt of a group has its roles at the labelled positions
            first, second = sorted((p.positions["io"], p.positions["s1"]))
            assert [first + 1, second + 1, p.positions["s2"] + 1] == _name_slots(g)
            assert g.pos_labels.index("END") == p.positions["end"] + 1 == g.n_pos - 1
    heldout_names = {LEX.words[t] for t in HELDOUT_NAMES}  # a training form in the held-out split
    pairs = ioi_toy2_pairs(6, forms=("and_went+plain",))
    assert all({c.io, c.s} & heldout_names for c, _ in pairs)
    with pytest.raises(ValueError, match="held out of training"):
        ioi_toy2_pairs(4, split="train")


def test_head_roles_read_toy2_prompts(model):
    ev = head_roles(model, ioi_toy2_task(model, n=4))
    assert ev.end_to_s2.shape == (2, 2) and float(ev.s2_to_s1.max()) <= 1.0


def test_gender_and_colour_write_toy2_sentences(model):
    g = gender_task(model, n=6)
    male = set(LEX.of(category="name", gender="male"))
    for i in range(6):
        words = model.to_str_tokens(g.clean[i])[1:]
        assert len(words) == 6 and words[2:4] == ["to", "the"] and words[-1] == "."
        assert LEX.labels[words[1]]["verb_class"] == "motion" and LEX.labels[words[4]]["category"] == "place"
        he = words[0] in male
        assert model.to_string(g.answer[i]) == ("He" if he else "She") != model.to_string(g.wrong[i])
        other = model.to_str_tokens(g.corrupted[i])[1]
        assert (other in male) != he and model.to_str_tokens(g.corrupted[i])[2:] == words[1:]
    c = colour_task(model, n=6)
    for i in range(6):
        obj = model.to_str_tokens(c.clean[i])[2]
        assert model.to_string(c.answer[i]) == OBJECT_FACTS[obj][0] != model.to_string(c.wrong[i])


def test_build_task_dispatches_by_world(model, toy1_model):
    toy2 = build_task(PatchConfig.of(model="toy2", task="ioi", n_prompts=4), model)
    assert isinstance(toy2.task, IOITask) and toy2.info["world"] == "toy2"
    assert toy2.info["prompts"].startswith("toy2 IOI grammar") and DEFAULT_FORMS[0] in toy2.info["prompts"]
    toy1 = build_task(PatchConfig.of(model="toy1-gelu-s0", task="ioi", n_prompts=4), toy1_model)
    assert toy1.info == {"name": "ioi", "n_prompts": 4, "seed": 0, "corruption": "abc", "prompts": "toy world"}
    assert toy1.task.pos_labels[:3] == ["BOS", "When", "N1"]  # toy1's first template, unchanged


@pytest.mark.parametrize("task", ["ioi", "gender", "colour"])
def test_patch_cli_on_a_toy2_model_records_toy2_prompts(toy2_model, tmp_path, capsys, task):
    out = tmp_path / task
    rc = main(["patch", "--model", str(toy2_model), "--task", task, "--method", "attribution", "--n-prompts", "4",
               "--components", "resid_pre", "head_out", "--out", str(out)])
    assert rc == 0, capsys.readouterr().err
    summary = json.loads((out / "summary.json").read_text())
    recorded = summary["provenance"]["task"]
    assert recorded["world"] == "toy2" and recorded["name"] == task
    labels = summary["results"]["resid_pre"]["labels"]["pos"]
    if task == "ioi":
        assert summary["task"] == "ioi-abc" and recorded["prompts"].startswith("toy2 IOI grammar")
        assert {"N1", "N2", "S2", "END", "PLACE"} <= set(labels) and "TRANSFER" in labels
    else:
        assert recorded["prompts"] == "toy2 world sentences" and labels[-1] == {"gender": ".", "colour": "is"}[task]


def test_toy_tasks_follow_the_model_world(toy1_model, toy_model):
    from circuits.tasks import TASKS, TOY2_TASKS, toy_tasks

    assert toy_tasks(toy1_model) is TASKS and toy_tasks(toy_model) is TOY2_TASKS  # toy1-* and toy-* models
