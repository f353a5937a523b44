"""The explorer's Overview and Features pages under streamlit.testing.v1.AppTest on a tiny workspace: what they show
is checked against the workspace's own files (eval.json, workspace.json, feature pages), tables drive the feature
page, URLs reopen it, the selection survives switching pages, labels are escaped and barred, degenerate features get
one card, and missing or corrupt artifacts name the command that builds them."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from apps.explorer.app import PAGES

pytestmark = pytest.mark.slow  # builds the workspace once (~30-60 s on 2 busy cores)
FEATURES = "pages/features.py"


def eval_report(workspace, name: str) -> dict:
    from apps.workspace.layout import Layout, dictionary_folders

    return json.loads((dictionary_folders(Layout(workspace))[name] / "eval.json").read_text())


def test_overview_shows_the_workspace_and_every_dictionary(explorer, workspace):
    at = explorer.open(workspace)
    assert at.title[0].value == "Overview"
    body = explorer.texts(at)
    assert "toy-gelu-s0" in body and "blocks.2.mlp.hook_post" in body and "corpus toyworld" in body
    cached = json.loads((workspace / "cache" / "manifest.json").read_text())["n_tokens"]
    assert f"{cached:,} cached activations" in body
    dicts = at.dataframe(key="dictionaries").value.set_index("dictionary")
    assert set(dicts.index) == {"sae-relu", "sae-topk", "sae-batchtopk", "snmf"}
    for name in dicts.index:  # the numbers are eval.json's, not recomputed
        rep = eval_report(workspace, name)
        for key, col in (("l0", "L0"), ("r2", "R²"), ("ce_loss_recovered", "CE loss recovered"),
                         ("kl_score", "KL score"), ("dead_fraction", "dead"), ("dense_fraction", "dense")):
            assert dicts.at[name, col] == pytest.approx(rep[key]), (name, col)
    assert dicts.at["sae-topk", "method"] == "sae:topk" and dicts.at["snmf", "method"] == "snmf"
    assert dicts.at["sae-batchtopk", "method"] == "sae:batchtopk"  # not the JumpReLU it runs as
    steps = at.dataframe[1].value
    recorded = json.loads((workspace / "workspace.json").read_text())["steps"]
    assert list(steps["step"]) == list(recorded) and steps["seconds"].notna().all()


def test_a_click_on_a_dictionary_opens_its_features(explorer, workspace):
    at = explorer.open(workspace)
    row = list(at.dataframe(key="dictionaries").value["dictionary"]).index("sae-topk")
    at.session_state["dictionaries"] = {"selection": {"rows": [row], "columns": []}}
    at.run()
    explorer.ok(at)
    assert at.title[0].value == "Features" and at.selectbox(key="dictionary").value == "sae-topk"
    metrics = explorer.metrics(at)  # the dictionary's metrics above the table
    rep = eval_report(workspace, "sae-topk")
    assert metrics["method"] == "sae:topk" and float(metrics["L0"]) == pytest.approx(rep["l0"], rel=1e-2)
    assert float(metrics["R²"]) == pytest.approx(rep["r2"], rel=1e-2, abs=1e-3)


def test_feature_table_search_sort_and_feature_page(explorer, workspace):
    at = explorer.open(workspace, FEATURES)
    assert set(at.selectbox(key="dictionary").options) >= {"sae-relu (128 features)", "snmf (12 features)"}
    at.selectbox(key="dictionary").set_value("snmf").run()
    assert "12 features of snmf" in explorer.texts(at)
    at.selectbox(key="sort").set_value("concept_auroc").run()
    at.text_input(key="search").set_value("category").run()
    table = at.dataframe(key="feature_table").value
    assert len(table) and table["concept"].str.contains("category").all()
    assert (np.diff(table["concept_auroc"].to_numpy()) <= 1e-9).all()  # sorted descending
    assert at.number_input(key="feature").value == int(table["feature"].iloc[0])  # searching opens the first match
    at.selectbox(key="dictionary").set_value("sae-relu").run()
    at.text_input(key="search").set_value("").run()
    at.number_input(key="feature").set_value(5).run()
    body = explorer.texts(at)
    assert "Feature 5" in body and "Fires on" in body
    html = "".join(h.proto.body for h in at.get("html"))
    assert "top 1%" in html and "0-50%" in html and "<span title=" in html  # token-highlighted examples by bin
    charts = explorer.charts(at)  # one chart at a time (lazy tabs): the activation histogram first
    assert len(charts) == 1 and "positive activations" in charts[0]["layout"]["title"]["text"]
    at.session_state["feature_chart"] = "Logits"
    at.run()
    charts = explorer.charts(at)
    assert len(charts) == 1 and "Top positive logits" in json.dumps(charts[0]["layout"])
    links = [p.proto for p in at.get("page_link")]
    neighbours = [p for p in links if p.label.startswith("#")]
    assert len(neighbours) == 8 and all("dictionary=sae-relu" in p.query_string for p in neighbours)


def test_a_table_row_opens_its_feature_and_the_url_reopens_it(explorer, workspace):
    at = explorer.open(workspace, FEATURES)
    at.selectbox(key="dictionary").set_value("sae-topk").run()
    table = at.dataframe(key="feature_table").value
    at.session_state["feature_table"] = {"selection": {"rows": [3], "columns": []}}
    at.run()
    want = int(table["feature"].iloc[3])
    assert at.header[0].value == f"Feature {want}"
    assert at.query_params["dictionary"] == "sae-topk" and at.query_params["feature"] == str(want)
    again = explorer.open(workspace, FEATURES, dictionary="sae-topk", feature=want)  # the URL in a fresh session
    assert again.title[0].value == "Features" and again.header[0].value == f"Feature {want}"


def test_the_feature_survives_other_pages_and_steer_this_feature(explorer, workspace):
    at = explorer.open(workspace, FEATURES, dictionary="sae-batchtopk", feature=17)
    at.switch_page("pages/neurons.py").run()
    at.switch_page(FEATURES).run()
    explorer.ok(at)
    assert at.selectbox(key="dictionary").value == "sae-batchtopk" and at.header[0].value == "Feature 17"
    at.button(key="steer_feature").click().run()
    explorer.ok(at)
    assert at.title[0].value == "Steering"
    assert at.radio(key="kind").value == "feature" and at.selectbox(key="dictionary").value == "sae-batchtopk"
    assert at.number_input(key="feature").value == 17 and "feature 17 of sae-batchtopk" in explorer.texts(at)
    at.switch_page("pages/steering.py")  # AppTest reruns the page it last switched to, not the one the app chose
    at.radio(key="mode").set_value("alpha").run()
    at.slider(key="n_new").set_value(2).run()
    at.button(key="steer").click().run()
    explorer.ok(at)
    assert "feature(dictionary=sae:batchtopk, index=17)" in explorer.texts(at)  # names the architecture


def test_labels_are_escaped_and_need_an_auroc_of_0_9(explorer, workspace):
    from apps.explorer.figures import md_escape
    from interp.pages.builder import CONCEPT_AUROC_BAR, NO_CONCEPT
    from interp.pages.features import load_feature_pages

    pages = load_feature_pages(workspace / "features" / "sae-relu")
    table = pages.table()
    strong = table["concept_auroc"] >= CONCEPT_AUROC_BAR
    assert strong.any() and (~strong).any()
    assert (table["label"][strong] == table["concept"][strong]).all() and (table["label"][~strong] == NO_CONCEPT).all()
    f_weak = int(np.nonzero(~strong)[0][0])
    at = explorer.open(workspace, FEATURES, dictionary="sae-relu", feature=f_weak)
    assert f"{NO_CONCEPT}**: best match" in at.markdown[0].value and "below the bar of 0.9" in at.markdown[0].value
    f_strong = int(np.nonzero(strong)[0][0])
    at = explorer.open(workspace, FEATURES, dictionary="sae-relu", feature=f_strong)
    concept = table["concept"][f_strong]
    assert md_escape(concept) in at.markdown[0].value and ":" not in md_escape(concept).replace("\\:", "")
    # (":name" would be eaten as a markdown directive, "_" start emphasis: both escaped)
    assert f"Concept: {concept}" in explorer.texts(at)


def test_md_escape_keeps_directives_and_markup_literal():
    from apps.explorer.figures import md_escape

    assert md_escape("colour:green") == "colour\\:green"
    assert md_escape("**a** [x](y) $z$ <b>") == "\\*\\*a\\*\\* \\[x\\]\\(y\\) \\$z\\$ \\<b\\>"


def dead_copy(workspace, tmp_path, name: str = "sae-topk", f: int = 4):
    """A copy of the workspace's feature pages in which feature f never fired (as a dead feature is stored)."""
    from interp.pages.features import load_feature_pages, save_feature_pages

    root = tmp_path / "ws"
    shutil.copytree(workspace, root, ignore=shutil.ignore_patterns("cache", "neurons", "universal", "steering"))
    pages = load_feature_pages(root / "features" / name)
    a = pages.arrays
    for k in ("density", "max_act", "dense", "hist_counts", "hist_edges", "bin_edges", "ex_act", "ex_ctx_acts"):
        a[k][f] = 0
    a["dead"][f], a["ex_index"][f], a["ex_ctx_tokens"][f] = 1, -1, -1
    save_feature_pages(pages, root / "features" / name)
    return root


def test_a_dead_feature_gets_one_card(explorer, workspace, tmp_path):
    root = dead_copy(workspace, tmp_path)
    at = explorer.open(root, FEATURES, dictionary="sae-topk", feature=4)
    cards = [i.value for i in at.info]
    assert any("Feature 4 never fired on" in c for c in cards), cards
    assert not at.get("html") and all("positive activations" not in json.dumps(c) for c in explorer.charts(at))
    assert "Never fired on the" in explorer.texts(at)  # the summary says so too


def test_try_your_own_text_from_another_folder(explorer, workspace, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # paths in the workspace are relative to it, not to where the explorer started
    at = explorer.open(workspace, FEATURES, dictionary="sae-relu", feature=5)
    at.text_input(key="try_text").set_value("Mary and John went to the park").run()
    explorer.ok(at)
    assert not at.error and "max activation of feature 5" in explorer.texts(at)


@pytest.mark.parametrize("page", [p for p, _, _ in PAGES])
def test_missing_workspace_names_the_build_command(explorer, tmp_path, page):
    at = explorer.open(tmp_path, page)
    shown = "\n".join([i.value for i in at.info] + [w.value for w in at.warning] + [e.value for e in at.error])
    assert "interp workspace build" in shown
    assert at.title


def test_corrupt_feature_pages_show_an_error_not_a_traceback(explorer, workspace, tmp_path):
    root = tmp_path / "ws"
    shutil.copytree(workspace / "features", root / "features")
    (root / "features" / "sae-relu" / "features.safetensors").write_bytes(b"not safetensors")
    at = explorer.open(root, FEATURES)
    errs = [e.value for e in at.error]
    assert any("sae-relu" in e and "--force features" in e for e in errs), errs
    assert at.title[0].value == "Features"


def test_feature_pages_reject_an_example_outside_its_bin(workspace):
    from interp.pages.features import load_feature_pages, validate

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
                               ioi_prompts=3, examples_per_bin=3, archs=["relu", "topk", "batchtopk"],
                               sparsity_tokens=1024)  # conftest.TINY
    res = build(cfg, log=lambda *_: None)
    assert set(res.status.values()) == {"up to date"} and res.total_seconds < 20
