"""A dictionary's sparse probing and absorption (eval.json, issue 26) on its Features page and the Open page, under
streamlit.testing.v1.AppTest on the tiny workspace (its dictionaries are evaluated on the toy world's labels, so
their eval.json holds both); every number shown is checked against eval.json."""

from __future__ import annotations

import json
import shutil

import pytest

pytestmark = pytest.mark.slow
FEATURES, OPEN = "pages/features.py", "pages/open.py"


def report_of(workspace, folder: str = "topk-d128-k8-s0") -> dict:
    return json.loads((workspace / "saes" / folder / "eval.json").read_text())


def test_the_tables_carry_eval_jsons_numbers(workspace):
    from apps.explorer.figures import absorption_table, probing_table

    rep = report_of(workspace)
    sp, ab = rep["sparse_probing"], rep["absorption"]
    table = probing_table(rep).set_index("concept")
    assert len(table) == len(sp["concepts"]) > 0
    for concept, r in sp["concepts"].items():
        for k in sp["ks"]:
            assert table.at[concept, f"F1 k={k}"] == r["sae"][str(k)]["f1"]
            assert table.at[concept, f"neurons F1 k={k}"] == r["neurons"][str(k)]["f1"]
    parents = absorption_table(rep).set_index("parent")
    assert set(parents.index) == set(ab["parents"]) and len(parents) > 0
    for p, r in ab["parents"].items():
        assert parents.at[p, "absorption rate"] == r["rate"] and parents.at[p, "absorbed"] == r["absorbed"]


def test_the_features_page_shows_probing_against_neurons_and_absorption_with_thresholds(explorer, workspace):
    rep = report_of(workspace)
    sp, ab = rep["sparse_probing"], rep["absorption"]
    at = explorer.open(workspace, FEATURES, dictionary="sae-topk")
    assert not [c for c in explorer.charts(at) if "k-sparse probing" in json.dumps(c["layout"])]  # lazy: not drawn
    at.session_state["dictionary_eval"] = "Sparse probing"
    at.run()
    explorer.ok(at)
    fig = next(c for c in explorer.charts(at) if "k-sparse probing" in c["layout"]["title"]["text"])
    ours, neurons = fig["data"]
    assert ours["x"] == sp["ks"] and ours["y"] == [sp["mean_f1"]["sae"][str(k)] for k in sp["ks"]]
    assert "raw neurons" in neurons["name"] and neurons["y"] == [sp["mean_f1"]["neurons"][str(k)] for k in sp["ks"]]
    assert f"{len(sp['skipped'])} concepts were skipped" in explorer.texts(at)
    at.session_state["dictionary_eval"] = "Absorption"
    at.run()
    explorer.ok(at)
    fig = next(c for c in explorer.charts(at) if "absorption per parent" in c["layout"]["title"]["text"])
    assert fig["data"][0]["x"] == list(ab["parents"]) and fig["data"][0]["y"] == [r["rate"] for r in
                                                                                  ab["parents"].values()]
    said = explorer.texts(at)
    assert "`probe_cos` = 0.025" in said and "`projection_share` = 0.4" in said
    assert all(f"`{k}` = {v}" in said for k, v in ab["thresholds"].items())


def test_the_open_page_shows_them_and_says_why_when_absent(explorer, workspace, tmp_path):
    at = explorer.open(workspace, OPEN)
    assert any("k-sparse probing" in c["layout"]["title"]["text"] for c in explorer.charts(at))
    plain = tmp_path / "sae"
    shutil.copytree(workspace / "saes" / "topk-d128-k8-s0", plain)
    rep = report_of(workspace)
    rep["sparse_probing"] = {"absent": "the evaluation corpus carries no toy-world labels"}
    del rep["absorption"]  # an eval.json written before absorption
    (plain / "eval.json").write_text(json.dumps(rep))
    at = explorer.open(workspace, OPEN, allow=[tmp_path])
    at.text_input(key="folder").set_value(str(plain)).run()
    explorer.ok(at)
    assert "No sparse probing: the evaluation corpus carries no toy-world labels" in explorer.texts(at)
    at.session_state["open_eval"] = "Absorption"
    at.run()
    assert "This eval.json predates `absorption`" in explorer.texts(at)
