"""Every view a link (issue 25), under streamlit.testing.v1.AppTest on the tiny workspace: each navigation puts the
view in the URL, a dictionary switch opens that dictionary's first live feature (or the one the URL names),
clearing a search keeps the feature, a neuron deep link marks its row and scrolls to it, and the steering
benchmark's rows and the Open page's features lead to their pages."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.slow
FEATURES, NEURONS, STEERING = "pages/features.py", "pages/neurons.py", "pages/steering.py"


def pages_of(workspace, name: str):
    from interp.pages.features import load_feature_pages

    return load_feature_pages(workspace / "features" / name)


def test_after_filters_keeps_the_feature_unless_a_new_search_or_a_filter_hides_it():
    from apps.explorer.state import after_filters

    assert after_filters("", "colour", 7, [3, 7, 9]) == 3  # a new search opens its first match
    assert after_filters("colour", "", 3, [0, 1, 2]) is None  # clearing it keeps the feature shown
    assert after_filters("colour", "colour", 7, [3, 7]) is None  # a sort changed: keep
    assert after_filters("", "", 5, [1, 2]) == 1  # a filter (hide dead) hid the feature shown
    assert after_filters("", "x", 5, []) is None  # nothing matches: keep


def test_every_feature_navigation_is_in_the_url(explorer, workspace):
    at = explorer.open(workspace, FEATURES, dictionary="sae-relu", feature=5)
    at.number_input(key="feature").set_value(9).run()
    assert at.header[0].value == "Feature 9"
    assert at.query_params["feature"] == "9" and at.query_params["dictionary"] == "sae-relu"
    # a neighbour link is a rerun with the neighbour in the query string: the page follows and re-sends the URL
    n = int(pages_of(workspace, "sae-relu").arrays["neighbour_ids"][9][0])
    at.query_params["feature"] = str(n)
    at.run()
    assert at.header[0].value == f"Feature {n}" and at.query_params["feature"] == str(n)
    # Back: the browser's address goes back to the earlier feature and the page follows it
    at.query_params["feature"] = "9"
    at.run()
    assert at.header[0].value == "Feature 9" and at.number_input(key="feature").value == 9


def first_live_row(at) -> int:
    """The first live feature of the feature table as shown (sorted by density, descending, by default)."""
    table = at.dataframe(key="feature_table").value
    assert len(table) and (table["dead"] | (table["density"] > 0)).all()
    return int(table.loc[~table["dead"], "feature"].iloc[0])


def test_switching_dictionary_opens_its_first_live_feature(explorer, workspace):
    at = explorer.open(workspace, FEATURES, dictionary="sae-relu", feature=100)
    assert at.header[0].value == "Feature 100"
    at.selectbox(key="dictionary").set_value("sae-topk").run()
    first = first_live_row(at)
    assert first != 100 and not pages_of(workspace, "sae-topk").arrays["dead"][first]
    assert at.header[0].value == f"Feature {first}" and at.query_params["feature"] == str(first)
    at.selectbox(key="dictionary").set_value("snmf").run()
    assert at.header[0].value == f"Feature {first_live_row(at)}"
    # the URL naming a dictionary and a feature keeps the feature; naming only the dictionary opens its first live
    at = explorer.open(workspace, FEATURES, dictionary="sae-topk", feature=77)
    assert at.header[0].value == "Feature 77"
    at = explorer.open(workspace, FEATURES, dictionary="sae-topk")
    assert at.header[0].value == f"Feature {first}"
    pages = pages_of(workspace, "sae-relu")  # without a table order: the lowest-numbered live feature
    assert pages.first_live() == int(np.nonzero(~pages.arrays["dead"].astype(bool))[0][0])


def test_clearing_the_search_keeps_the_feature(explorer, workspace):
    at = explorer.open(workspace, FEATURES, dictionary="sae-relu", feature=5)
    at.text_input(key="search").set_value("category").run()
    table = at.dataframe(key="feature_table").value
    assert len(table) >= 2
    pick = int(table["feature"].iloc[1])  # not the first match
    at.number_input(key="feature").set_value(pick).run()
    at.text_input(key="search").set_value("").run()
    assert at.header[0].value == f"Feature {pick}" and at.query_params["feature"] == str(pick)
    assert len(at.dataframe(key="feature_table").value) == 128


def test_a_neuron_deep_link_marks_its_row_and_scrolls_to_it(explorer, workspace):
    at = explorer.open(workspace, NEURONS, model="toy-gelu-s0", layer=3, neuron=300)
    table = at.dataframe(key="neuron_table").value
    marked = table[table["open"] == "▶"]
    assert len(marked) == 1 and (int(marked["layer"].iloc[0]), int(marked["neuron"].iloc[0])) == (3, 300)
    row = int(np.nonzero(table["open"].to_numpy() == "▶")[0][0])
    assert row == 3 * 512 + 300
    scripts = [h.proto.body for h in at.get("html") if "dvn-scroller" in h.proto.body]
    assert len(scripts) == 1 and f"const want = {row} * 35" in scripts[0] and "st-key-neuron_table" in scripts[0]
    at.session_state["neuron_table"] = {"selection": {"rows": [4], "columns": []}}  # a click moves the mark
    at.run()
    table = at.dataframe(key="neuron_table").value
    assert table["open"].iloc[4] == "▶" and (table["open"] == "▶").sum() == 1
    assert at.header[0].value.startswith(f"L{table['layer'].iloc[4]} N{table['neuron'].iloc[4]}:")


def test_a_correlate_opens_the_other_seeds_neuron_page(explorer, workspace):
    at = explorer.open(workspace, NEURONS, model="toy-gelu-s1", layer=2, neuron=11)
    explorer.ok(at)
    assert at.header[0].value.startswith("L2 N11:") and at.selectbox(key="model").value == "toy-gelu-s1"
    assert "Top activating examples by quantile" in explorer.texts(at)


def test_benchmark_rows_say_how_they_were_picked_and_open_their_pages(explorer, workspace):
    at = explorer.open(workspace, STEERING)
    bench = at.dataframe(key="bench_table").value
    assert {"chosen_by", "concept_auroc"} <= set(bench.columns)
    assert bench["chosen_by"].str.contains("highest concept AUROC|difference in means").all()
    sae = bench[bench["method"] == "sae:topk"]
    assert sae["concept_auroc"].between(0, 1).all()
    summary = at.dataframe[1].value  # (a table without selection has no widget key)
    assert list(summary.columns) == ["direction", "mean Δ mass over concepts"] and len(summary) >= 4
    assert any("negative Δ mass" in i.value for i in at.info)
    fig = explorer.charts(at)[0]
    colours = [t["marker"]["color"] for t in fig["data"]]
    assert len(set(colours)) == len(colours) == bench["method"].nunique()  # one colour per direction
    assert fig["layout"]["legend"]["orientation"] == "h"  # below the chart: not clipped at its right edge
    row = int(sae.index[0])
    at.session_state["bench_table"] = {"selection": {"rows": [row], "columns": []}}
    at.run()
    explorer.ok(at)
    assert at.title[0].value == "Features" and at.selectbox(key="dictionary").value == "sae-topk"
    assert at.header[0].value == f"Feature {int(sae['index'].iloc[0])}"


def test_open_page_features_link_to_their_pages(explorer, workspace):
    at = explorer.open(workspace, "pages/open.py")
    at.text_input(key="folder").set_value(str(workspace / "saes" / "topk-d128-k8-s0")).run()
    at.button(key="run").click().run()
    explorer.ok(at)
    links = [p.proto for p in at.get("page_link") if p.proto.label.startswith("open feature ")]
    shown = [m.value for m in at.markdown if m.value.startswith("**feature ")]
    assert links and len(links) == len(shown)
    assert all("dictionary=sae-topk" in p.query_string and "feature=" in p.query_string for p in links)
