"""The Open page's Model field follows the rule of its folder field: shipped and fetched model names, the
workspace's model and model folders inside the allowed roots only, with one wording for every refusal, so a visitor
can neither load a model folder elsewhere on the server nor tell an existing path from a missing one."""

from __future__ import annotations

import shutil

import pytest

OPEN = "pages/open.py"


@pytest.fixture
def allowed(tmp_path):
    """An --allow folder holding a tiny SAE of toy-gelu-s0 and a copy of that model's folder; an empty workspace."""
    from interp.models import MODELS_DIR
    from saes import build_sae, sae_config
    from saes import io as sae_io

    root = tmp_path / "allowed"
    sae_io.save(build_sae(sae_config("relu", d_in=512, d_sae=16, hook_name="blocks.0.mlp.hook_post",
                                     model_name="toy-gelu-s0")), root / "sae")
    shutil.copytree(MODELS_DIR / "toy-gelu-s0", root / "my-model")
    (tmp_path / "workspace").mkdir()
    return root


def _open(explorer, tmp_path, allowed):
    at = explorer.open(tmp_path / "workspace", OPEN, allow=[allowed])
    at.text_input(key="folder").set_value(str(allowed / "sae")).run()
    explorer.ok(at)
    assert not at.error and explorer.metrics(at)["d_sae"] == "16"
    return at


def _model(explorer, at, name: str):
    at.text_input(key="model_name").set_value(name).run()
    explorer.ok(at)
    return at


def test_model_folders_outside_the_allowed_roots_are_refused_in_one_wording(explorer, tmp_path, allowed):
    from interp.models import MODELS_DIR

    at = _open(explorer, tmp_path, allowed)
    outside = tmp_path / "outside"
    shutil.copytree(MODELS_DIR / "toy-gelu-s1", outside / "model")  # a real model folder, outside every root
    refusals = {}
    for name in (str(outside / "model"), str(outside / "missing"), str(outside / "model" / "config.json"),
                 "gpt2", "../outside/model", str(allowed / "no-such-model")):
        at = _model(explorer, at, name)
        assert len(at.error) == 1 and "not a model this explorer may load" in at.error[0].value, name
        assert "--allow" in at.error[0].value and not at.warning  # nothing read or said about it
        refusals[name] = at.error[0].value.replace(f"`{name}`", "`NAME`")
        at.button(key="run").click().run()
        explorer.ok(at)
        assert len(at.error) == 1 and not any(m.value.startswith("**feature ") for m in at.markdown)
    assert len(set(refusals.values())) == 1, refusals  # existing, missing, file, hub name: one wording
    body = explorer.texts(at)
    assert "without config.json" not in body and "unknown model" not in body


def test_shipped_names_the_workspace_model_and_allowed_folders_are_accepted(explorer, tmp_path, allowed):
    at = _open(explorer, tmp_path, allowed)
    for name in ("toy-gelu-s1", "toy-gelu-s0", str(allowed / "my-model")):
        at = _model(explorer, at, name)
        assert not at.error, (name, [e.value for e in at.error])
        assert explorer.metrics(at)["d_sae"] == "16"


def test_own_text_with_words_the_model_does_not_know_is_warned_about(explorer, tmp_path, allowed):
    at = _open(explorer, tmp_path, allowed)
    at.text_input(key="text").set_value("Mary saw a xylophone and a quasar").run()
    at.button(key="run").click().run()
    explorer.ok(at)
    warned = [w.value for w in at.warning if "does not know" in w.value]
    assert warned and "xylophone" in warned[0] and "quasar" in warned[0] and "%" in warned[0]
    at.text_input(key="text").set_value("Mary and John went to the park").run()
    at.button(key="run").click().run()
    assert not any("does not know" in w.value for w in at.warning)
