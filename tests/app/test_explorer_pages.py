"""The explorer's Neurons, Steering, Circuits and Open pages under streamlit.testing.v1.AppTest on a tiny workspace,
and what `interp explore` does about exposure (loopback, --allow, the hidden toolbar)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from interp.models import model_fingerprint

pytestmark = pytest.mark.slow  # builds the workspace once (~30-60 s on 2 busy cores)
NEURONS, CIRCUITS, OPEN = "pages/neurons.py", "pages/circuits.py", "pages/open.py"


def test_neuron_filters_drive_the_neuron_page(explorer, workspace):
    at = explorer.open(workspace, NEURONS)
    assert at.title[0].value == "Neurons"
    assert at.selectbox(key="model").options == ["toy-gelu-s0", "toy-relu-s0", "toy-gelu-s1"]  # + the other seed
    at.selectbox(key="model").set_value("toy-relu-s0").run()
    at.multiselect(key="families").set_value(["dead"]).run()
    table = at.dataframe(key="neuron_table").value
    assert len(table) and table["family"].eq("dead").all()
    first = (int(table["layer"].iloc[0]), int(table["neuron"].iloc[0]))  # filtering opened the first match
    assert (at.number_input(key="layer").value, at.number_input(key="neuron").value) == first
    assert any(f"L{first[0]} N{first[1]} never fired on" in i.value for i in at.info)
    assert not any("positive activations" in json.dumps(c["layout"]) for c in explorer.charts(at))
    assert "Top activating examples" not in explorer.texts(at)  # one card: no empty bins, no empty histogram
    at.selectbox(key="model").set_value("toy-gelu-s0").run()
    at.multiselect(key="families").set_value([]).run()
    at.checkbox(key="only_universal").check().run()
    assert at.dataframe(key="neuron_table").value["universal"].all()


def test_a_neuron_page_has_what_a_feature_page_has(explorer, workspace):
    at = explorer.open(workspace, NEURONS, model="toy-gelu-s0", layer=1, neuron=7)
    body = explorer.texts(at)
    assert "L1 N7" in body and "Top activating examples by quantile" in body and "Fires most on" in body
    html = "".join(m.value for m in at.markdown) + "".join(h.proto.body for h in at.get("html"))  # st.html examples
    assert "top 1%" in html and "0-50%" in html and "<span title=" in html
    charts = explorer.charts(at)
    assert len(charts) == 1 and "L1 N7: positive activations" in charts[0]["layout"]["title"]["text"]
    at.session_state["neuron_chart"] = "Logits"
    at.run()
    assert "Top negative logits" in json.dumps(explorer.charts(at)[0]["layout"])
    links = [p.proto for p in at.get("page_link")]  # its best correlate in the other seed: a link to its page
    assert any(p.label.startswith("toy-gelu-s1 L1 N") and "model=toy-gelu-s1" in p.query_string for p in links)
    at.session_state["neuron_table"] = {"selection": {"rows": [5], "columns": []}}  # a click on a table row
    at.run()
    row = at.dataframe(key="neuron_table").value.iloc[5]
    assert at.header[0].value.startswith(f"L{row['layer']} N{row['neuron']}:")
    assert at.query_params["neuron"] == str(row["neuron"])


def test_universal_view_counts_and_lists_the_nearest_candidates(explorer, workspace):
    from interp.neurons.universal import load_universal

    res, _ = load_universal(workspace / "universal")
    k = res.models.index("toy-gelu-s0")
    at = explorer.open(workspace, NEURONS, model="toy-gelu-s0", layer=0, neuron=0)
    at.session_state["neuron_view"] = "Universal neurons"
    at.run()
    n, largest = int(res.universal[k].sum()), float(res.excess[k].max())
    said = explorer.texts(at).replace("**", "")
    assert f"{n} neurons above {res.threshold:g} (largest excess {largest:.2f})" in said
    top = at.dataframe(key="universal_table").value
    assert len(top) == 10 and top["excess_corr"].iloc[0] == pytest.approx(largest, abs=1e-6)
    at.session_state["universal_table"] = {"selection": {"rows": [0], "columns": []}}
    at.run()
    assert at.header[0].value.startswith(f"L{top['layer'].iloc[0]} N{top['neuron'].iloc[0]}:")
    at.selectbox(key="model").set_value("toy-relu-s0").run()
    body = explorer.texts(at)
    assert "toy-relu-s0 is not among the universal-neuron seeds (toy-gelu-s0, toy-gelu-s1)" in body
    assert "Build it" not in body


def test_steering_a_neuron(explorer, workspace):
    at = explorer.open(workspace, "pages/steering.py")
    assert at.title[0].value == "Steering"
    bench = at.dataframe[0].value
    assert {"concept", "method", "delta_mass"} <= set(bench.columns) and (bench["concept"] == "colour:red").all()
    at.radio(key="kind").set_value("neuron").run()
    assert at.number_input(key="neuron").max == 511 and at.number_input(key="layer").max == 3  # from the model
    at.radio(key="mode").set_value("alpha").run()
    at.number_input(key="alpha").set_value(20.0).run()
    at.slider(key="n_new").set_value(4).run()
    at.button(key="steer").click().run()
    explorer.ok(at)
    assert len(at.code) == 2 and "α = 20" in explorer.texts(at)


def test_circuits_top10_matches_the_head_shown_on_one_colour_scale(explorer, workspace):
    from circuits.patching.results import load_results

    at = explorer.open(workspace, CIRCUITS)
    assert {"activation", "attribution", "relp"} <= set(at.selectbox(key="method").options)
    assert "Relevance patching (RelP)" in explorer.texts(at)  # the methods explained
    at.selectbox(key="method").set_value("attribution").run()
    at.selectbox(key="component").set_value("head_out_by_pos").run()
    r = load_results(workspace / "patching" / "attribution")["head_out_by_pos"]
    at.slider(key="slice").set_value(2).run()
    explorer.ok(at)
    top = at.dataframe[0].value
    scores = r.scores[..., 2]
    assert len(top) == 10 and (top[r.axes[-1]].astype(str) == str(r.labels.get(r.axes[-1], range(99))[2])).all()
    assert top["score"].abs().max() == pytest.approx(float(scores.abs().max()), rel=1e-5)
    heat = explorer.charts(at)[0]["data"][0]
    lim = float(r.scores.abs().max())
    assert heat["zmin"] == pytest.approx(-lim, rel=1e-5) and heat["zmax"] == pytest.approx(lim, rel=1e-5)
    assert len(explorer.charts(at)) == 3  # heatmap, faithfulness bars, scatter
    from apps.explorer.figures import md_escape

    task = json.loads((workspace / "patching" / "attribution" / "summary.json").read_text())["task"]
    assert any(f"on task {md_escape(task)}" in c.value for c in at.caption)  # the results' task, not "IOI" always


@pytest.fixture(scope="module")
def batchtopk(workspace, tmp_path_factory):
    """A BatchTopK SAE trained (a few steps) on the workspace's cache, in a folder outside the workspace."""
    from apps.cli import main

    out = tmp_path_factory.mktemp("allowed") / "sae-batchtopk"
    assert main(["train-sae", "--arch", "batchtopk", "--cache", str(workspace / "cache"), "--hook",
                 "blocks.2.mlp.hook_post", "--d-sae", "64", "--k", "8", "--tokens", "2048", "--batch-size", "512",
                 "--threads", "1", "--out", str(out)]) == 0
    return out


def test_open_limits_paths_and_names_what_it_opens(explorer, workspace, batchtopk):
    at = explorer.open(workspace, OPEN)
    assert at.title[0].value == "Open" and explorer.metrics(at)["recorded model"] == "toy-gelu-s0"
    at.text_input(key="folder").set_value(str(batchtopk)).run()  # outside the workspace, no --allow
    assert at.error and "outside the folders this explorer may read" in at.error[0].value
    assert "--allow" in at.error[0].value and not at.metric
    at = explorer.open(workspace, OPEN, allow=[batchtopk.parent])
    at.text_input(key="folder").set_value(str(batchtopk)).run()
    m = explorer.metrics(at)
    assert m["architecture"] == "batchtopk" and m["method"] == "sae:batchtopk" and not at.error
    at.text_input(key="folder").set_value(str(batchtopk.parent / "missing")).run()
    assert "no such folder" in at.error[0].value  # inside an allowed folder: told apart
    at.text_input(key="folder").set_value(str(workspace / "snmf")).run()
    assert explorer.metrics(at)["method"] == "snmf" and explorer.metrics(at)["d_sae"] == "12"


def test_open_takes_the_model_the_dictionary_records(explorer, workspace, tmp_path):
    import shutil

    other = tmp_path / "sae-s1"
    shutil.copytree(workspace / "saes" / "topk-d128-k8-s0", other)
    cfg = json.loads((other / "cfg.json").read_text())
    cfg["metadata"]["model_name"] = "toy-gelu-s1"
    cfg["metadata"]["model_fingerprint"] = model_fingerprint("toy-gelu-s1")  # a dictionary of s1 records s1's weights
    (other / "cfg.json").write_text(json.dumps(cfg))
    at = explorer.open(workspace, OPEN, allow=[tmp_path])
    assert at.text_input(key="model_name").value == "toy-gelu-s0"  # the workspace's first dictionary records s0
    at.text_input(key="folder").set_value(str(other)).run()
    assert at.text_input(key="model_name").value == "toy-gelu-s1" and not at.warning
    assert explorer.metrics(at)["recorded model"] == "toy-gelu-s1"


def test_open_warns_on_a_dictionary_whose_weights_the_model_no_longer_has(explorer, workspace, tmp_path):
    """The check every command makes: a record edited to name another model (or weights changed since training)."""
    import shutil

    other = tmp_path / "sae-edited"
    shutil.copytree(workspace / "saes" / "topk-d128-k8-s0", other)
    cfg = json.loads((other / "cfg.json").read_text())
    cfg["metadata"]["model_name"] = "toy-gelu-s1"  # s0's fingerprint stays
    (other / "cfg.json").write_text(json.dumps(cfg))
    at = explorer.open(workspace, OPEN, allow=[tmp_path])
    at.text_input(key="folder").set_value(str(other)).run()
    assert at.text_input(key="model_name").value == "toy-gelu-s1"
    assert at.warning and "other weights than toy-gelu-s1" in at.warning[0].value
    assert model_fingerprint("toy-gelu-s1") in at.warning[0].value


def test_open_warns_on_another_model_and_an_error_clears_the_results(explorer, workspace):
    at = explorer.open(workspace, OPEN)
    at.button(key="run").click().run()
    explorer.ok(at)
    assert any(m.value.startswith("**feature ") for m in at.markdown)
    at.text_input(key="model_name").set_value("toy-gelu-s1").run()
    assert at.warning and "records the model toy-gelu-s0, but the model given is toy-gelu-s1" in at.warning[0].value
    assert not any(m.value.startswith("**feature ") for m in at.markdown)  # results belong to the old inputs
    at.button(key="run").click().run()
    assert any(m.value.startswith("**feature ") for m in at.markdown)
    at.text_input(key="model_name").set_value("no-such-model").run()
    at.button(key="run").click().run()
    explorer.ok(at)
    assert at.error and "no-such-model" in at.error[0].value
    assert not any(m.value.startswith("**feature ") for m in at.markdown)


def test_explore_warns_off_loopback_hides_the_toolbar_and_passes_allow(tmp_path):
    from apps.explorer.launch import ALLOW_ENV, environment, exposure_warnings, streamlit_command
    from apps.workspace.config import ExploreConfig

    for address in ("127.0.0.1", "localhost", "::1", "127.0.0.2"):
        assert exposure_warnings(ExploreConfig(address=address)) == []
    (warning,) = exposure_warnings(ExploreConfig(address="0.0.0.0"))
    assert "no authentication" in warning and "0.0.0.0" in warning
    cfg = ExploreConfig(workspace=str(tmp_path), allow=[str(tmp_path / "a"), str(tmp_path)])
    assert exposure_warnings(cfg) == [f"warning: --allow {tmp_path / 'a'}: no such folder"]
    assert environment(cfg)[ALLOW_ENV].split(":") == [str(tmp_path / "a"), str(tmp_path)]
    cmd = streamlit_command(cfg)
    assert cmd[cmd.index("--client.toolbarMode") + 1] == "minimal"  # no Deploy button
    assert cmd[cmd.index("--server.address") + 1] == "127.0.0.1"


def test_check_folder_refuses_paths_that_leave_the_allowed_roots(tmp_path):
    from apps.explorer.access import check_folder

    ws, other = tmp_path / "ws", tmp_path / "other"
    (ws / "saes").mkdir(parents=True)
    other.mkdir()
    (ws / "escape").symlink_to(other)
    assert check_folder("saes", [ws]).message == "" and check_folder("saes", [ws]).path == ws / "saes"
    for text in (str(other), "../other", "escape", "/etc"):
        got = check_folder(text, [ws])
        assert not got.allowed and not got.exists and "outside the folders" in got.message
    assert check_folder(str(other), [ws, other]).allowed
    assert "no such folder" in check_folder("nope", [ws]).message
    assert np.all([check_folder(str(ws), [ws]).exists])


def test_no_page_has_a_stray_string_that_streamlit_would_draw():
    """Streamlit "magic" writes every bare expression of a page script to the page: only the module docstring may be
    a bare string (an attribute docstring under a constant showed up above the Circuits title)."""
    import ast
    from pathlib import Path

    from apps.explorer.app import PAGES, ROOT

    for script in [ROOT / "app.py", *(ROOT / p for p, _, _ in PAGES)]:
        body = ast.parse(Path(script).read_text()).body
        stray = [n.lineno for n in body[1:] if isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)]
        assert not stray, f"{script.name}: bare strings at lines {stray}"


def pages_copy(workspace, root, name: str = "sae-relu"):
    """The workspace's feature pages of `name` copied to `root` (as `interp feature-pages --out root` writes them),
    recording the dictionary's absolute path."""
    import shutil

    shutil.copytree(workspace / "features" / name, root)
    meta = json.loads((root / "features.json").read_text())
    meta["path"] = str((workspace / meta["path"]).resolve())
    (root / "features.json").write_text(json.dumps(meta))
    return root


def test_the_features_page_opens_an_allowed_folder_of_pages(explorer, workspace, tmp_path):
    folder = pages_copy(workspace, tmp_path / "elsewhere" / "my-pages")
    at = explorer.open(workspace, "pages/features.py", pages=folder)  # not allowed: refused, the workspace shown
    assert any("outside the folders this explorer may read" in e.value for e in at.error)
    assert at.selectbox(key="dictionary").value != str(folder.resolve())
    at = explorer.open(workspace, "pages/features.py", allow=[tmp_path / "elsewhere"], pages=folder, feature=3)
    assert not at.error and at.selectbox(key="dictionary").value == str(folder.resolve())
    assert "Feature 3" in explorer.texts(at) and at.query_params["pages"] == str(folder.resolve())
    at.text_input(key="try_text").set_value("Mary and John went to the park").run()
    explorer.ok(at)
    assert "max activation of feature 3" in explorer.texts(at)


def test_the_open_page_links_a_folder_of_pages(explorer, workspace, tmp_path):
    folder = pages_copy(workspace, tmp_path / "my-pages")
    at = explorer.open(workspace, OPEN, allow=[tmp_path])
    at.text_input(key="folder").set_value(str(folder)).run()
    explorer.ok(at)
    from urllib.parse import parse_qs

    links = [e.proto for e in at.get("page_link")]
    assert len(links) == 1 and not at.error and not at.metric  # pages, not a dictionary: a link, no summary
    assert links[0].page == "features" and parse_qs(links[0].query_string)["pages"] == [str(folder.resolve())]


def test_try_your_own_text_loads_the_model_with_the_recorded_weight_processing(explorer, workspace, tmp_path,
                                                                               monkeypatch):
    """A workspace built with --weight-processing none: "try your own text" runs the model loaded the same way."""
    import shutil

    import interp.models
    from apps.explorer import data

    root = tmp_path / "ws"
    shutil.copytree(workspace, root, ignore=shutil.ignore_patterns("cache", "neurons", "universal", "steering"))
    for path, edit in ((root / "workspace.json", lambda m: m["config"]),
                       (root / "features" / "sae-relu" / "features.json", lambda m: m)):
        meta = json.loads(path.read_text())
        edit(meta)["weight_processing"] = "none"
        path.write_text(json.dumps(meta))
    calls, load = [], interp.models.load_model
    monkeypatch.setattr(interp.models, "load_model", lambda *a, **k: calls.append(a) or load(*a, **k))
    data.model.clear()
    at = explorer.open(root, "pages/features.py", dictionary="sae-relu", feature=5)
    at.text_input(key="try_text").set_value("Mary and John went to the park").run()
    explorer.ok(at)
    assert "max activation of feature 5" in explorer.texts(at)
    assert calls and all(c[2:] == ("none",) for c in calls), calls
