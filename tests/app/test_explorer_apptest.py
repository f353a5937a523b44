"""Every explorer page under streamlit.testing.v1.AppTest on a tiny workspace: widgets are set, the rendered content
is checked, and no page raises; missing and corrupt artifacts show the command that builds them."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from apps.explorer.app import PAGES

pytestmark = pytest.mark.slow  # builds the workspace once (~30-60 s on 2 busy cores)
APP = str(Path(__file__).resolve().parents[2] / "apps" / "explorer" / "app.py")


def app(monkeypatch, root, page: str | None = None) -> AppTest:
    monkeypatch.setenv("INTERP_WORKSPACE", str(root))
    at = AppTest.from_file(APP, default_timeout=180)
    at.run()
    if page:
        at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption] + [i.value for i in at.info]
    parts += [e.value for e in at.error] + [h.value for h in at.header] + [s.value for s in at.subheader]
    return "\n".join(parts)


def charts(at: AppTest) -> int:
    return len(at.get("plotly_chart"))


def test_features_page(monkeypatch, workspace):
    at = app(monkeypatch, workspace)
    assert at.title[0].value == "Features"
    assert set(at.selectbox(key="dictionary").options) >= {"sae-relu (128 features)", "snmf (12 features)"}
    at.selectbox(key="dictionary").set_value("snmf").run()
    assert "12 features of snmf" in texts(at)
    at.selectbox(key="sort").set_value("concept_auroc").run()
    at.text_input(key="search").set_value("category").run()
    table = at.dataframe[0].value
    assert len(table) and table["concept"].str.contains("category").all()
    assert (np.diff(table["concept_auroc"].to_numpy()) <= 1e-9).all()  # sorted descending
    at.selectbox(key="dictionary").set_value("sae-relu").run()
    at.text_input(key="search").set_value("").run()
    at.number_input(key="feature").set_value(5).run()
    body = texts(at)
    assert "Feature 5" in body and "top 1%" in body and "0-50%" in body and "<span title=" in body
    assert charts(at) >= 4  # density, activation histogram, +/- logits
    assert at.dataframe[1].value.shape[0] == 8  # decoder-cosine neighbours
    at.text_input(key="try_text").set_value("Mary and John went to the park").run()
    assert not at.exception and "max activation of feature 5" in texts(at)


def test_neurons_page(monkeypatch, workspace):
    at = app(monkeypatch, workspace, "pages/neurons.py")
    assert at.title[0].value == "Neurons"
    assert at.selectbox(key="model").options == ["toy-gelu-s0", "toy-relu-s0"]
    at.selectbox(key="model").set_value("toy-relu-s0").run()
    at.multiselect(key="families").set_value(["dead"]).run()
    table = at.dataframe[0].value
    assert table["family"].eq("dead").all()
    at.selectbox(key="model").set_value("toy-gelu-s0").run()
    at.multiselect(key="families").set_value([]).run()
    at.checkbox(key="only_universal").check().run()
    assert at.dataframe[0].value["universal"].all()
    at.checkbox(key="only_universal").uncheck().run()
    at.number_input(key="layer").set_value(1).run()
    at.number_input(key="neuron").set_value(7).run()
    body = texts(at)
    assert "L1 N7" in body and "Top activating examples" in body and "<span title=" in body
    corr = at.dataframe[-1].value
    assert list(corr["model"]) == ["toy-gelu-s1"] and corr["neuron"].str.startswith("L1 N").all()
    assert not at.exception


def test_steering_page(monkeypatch, workspace):
    at = app(monkeypatch, workspace, "pages/steering.py")
    assert at.title[0].value == "Steering"
    bench = at.dataframe[0].value
    assert {"concept", "method", "delta_mass"} <= set(bench.columns) and (bench["concept"] == "colour:red").all()
    at.radio(key="kind").set_value("neuron").run()
    at.radio(key="mode").set_value("alpha").run()
    at.number_input(key="value").set_value(20.0).run()
    at.slider(key="n_new").set_value(4).run()
    at.button(key="steer").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert len(at.code) == 2 and "α = 20" in texts(at)
    at.radio(key="kind").set_value("feature").run()
    at.radio(key="mode").set_value("KL target").run()
    at.button(key="steer").click().run()
    assert not at.exception and "KL" in texts(at) and charts(at) >= 2


def test_circuits_page(monkeypatch, workspace):
    at = app(monkeypatch, workspace, "pages/circuits.py")
    assert at.title[0].value == "Circuits"
    assert {"activation", "attribution", "relp"} <= set(at.selectbox(key="method").options)
    at.selectbox(key="method").set_value("attribution").run()
    at.selectbox(key="component").set_value("head_out").run()
    assert "attribution patching on IOI" in texts(at)
    faith = at.dataframe[1].value
    assert {"component", "method", "pearson"} <= set(faith.columns)
    assert charts(at) == 3  # heatmap, faithfulness bars, scatter
    at.selectbox(key="component").set_value("head_out_by_pos").run()
    assert not at.exception and len(at.slider) == 1


def test_open_page(monkeypatch, workspace, tmp_path):
    at = app(monkeypatch, workspace, "pages/open.py")
    assert at.title[0].value == "Open"
    assert [m.value for m in at.metric][0] in ("relu", "topk")
    at.button(key="run").click().run()
    assert not at.exception and "feature " in texts(at)
    at.text_input(key="folder").set_value(str(tmp_path)).run()
    assert at.error and "no cfg.json" in at.error[0].value
    at.text_input(key="folder").set_value(str(next(workspace.glob("saes/*/cfg.json")).parent)).run()
    at.text_input(key="model_name").set_value("no-such-model").run()
    at.button(key="run").click().run()
    assert not at.exception and at.error and "no-such-model" in at.error[0].value


@pytest.mark.parametrize("page", [p for p, _, _ in PAGES])
def test_missing_workspace_names_the_build_command(monkeypatch, tmp_path, page):
    at = app(monkeypatch, tmp_path, page)
    shown = "\n".join([i.value for i in at.info] + [w.value for w in at.warning] + [e.value for e in at.error])
    assert "interp workspace build" in shown
    assert at.title


def test_corrupt_feature_pages_show_an_error_not_a_traceback(monkeypatch, workspace, tmp_path):
    root = tmp_path / "ws"
    shutil.copytree(workspace / "features", root / "features")
    (root / "features" / "sae-relu" / "features.safetensors").write_bytes(b"not safetensors")
    at = app(monkeypatch, root)
    errs = [e.value for e in at.error]
    assert any("sae-relu" in e and "--force features" in e for e in errs), errs
    assert at.title[0].value == "Features"


def test_feature_pages_reject_an_example_outside_its_bin(workspace):
    from saes.feature_pages import load_feature_pages, validate

    pages = load_feature_pages(workspace / "features" / "sae-relu")
    live = int(np.nonzero(pages.arrays["ex_index"][:, 0, 0] >= 0)[0][0])
    pages.arrays["ex_act"][live, 0, 0] = pages.arrays["bin_edges"][live, -1] + 1.0  # claims the lowest bin
    with pytest.raises(ValueError, match="outside its quantile bin"):
        validate(pages)


def test_second_build_skips_every_step(workspace):
    from apps.workspace.build import build
    from apps.workspace.config import WorkspaceBuildConfig

    cfg = WorkspaceBuildConfig.of(out=str(workspace), cache_tokens=4096, sae_tokens=4096, sae_batch_size=512, d_sae=128,
                               k=8, snmf_k=12, snmf_tokens=2048, neuron_tokens=1024, universal_tokens=1024,
                               universal_models=["toy-gelu-s0", "toy-gelu-s1"], steer_concepts=["colour:red"],
                               ioi_prompts=3, examples_per_bin=3, archs=["relu", "topk"])
    res = build(cfg, log=lambda *_: None)
    assert set(res.status.values()) == {"up to date"} and res.total_seconds < 20
