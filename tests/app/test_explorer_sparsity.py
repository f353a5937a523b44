"""The explorer's Sparsity page under streamlit.testing.v1.AppTest, on a folder holding one real `interp sparsity`
run of toy-relu-s0 (no workspace build needed)."""

from __future__ import annotations

import numpy as np
import pytest

SPARSITY = "pages/sparsity.py"


@pytest.fixture(scope="module")
def sparsity_root(tmp_path_factory):
    import torch

    from apps.cli import main

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("sparsity-ws")
    assert main(["sparsity", "--model", "toy-relu-s0", "--tokens", "1500", "--ppl-tokens", "256", "--batch-size", "8",
                 "--threads", "1", "--out", str(root / "sparsity" / "toy-relu-s0")]) == 0
    return root


def test_sparsity_page_shows_curves_neurons_and_sinks(explorer, sparsity_root):
    from interp.sparsity.artifacts import load_sparsity

    run = load_sparsity(sparsity_root / "sparsity" / "toy-relu-s0")
    at = explorer.open(sparsity_root, SPARSITY)
    assert at.title[0].value == "Sparsity" and at.selectbox(key="sparsity_model").options == ["toy-relu-s0"]
    body = explorer.texts(at)
    assert "toy-relu-s0" in body and "corpus toyworld" in body and "no residual entry exceeded 100x" in body
    metrics = explorer.metrics(at)
    assert metrics["Nonzero activations"] == f"{run.summary['model']['nonzero']:.1%}"
    assert metrics["PPL-1% sparsity"] == f"{run.summary['ppl'][0]['sparsity']:.1%}"
    charts = explorer.charts(at)
    assert [c["layout"]["title"]["text"] for c in charts] == ["Per layer", "Sparsity vs CETT",
                                                              "Attention on position 0 per head"]
    assert np.allclose(charts[1]["data"][0]["y"], run.sparsity[0])
    links = list(at.get("page_link"))
    hottest = np.unravel_index(int(run.hot_rank.argmin()), run.hot_rank.shape)
    labels = [p.proto.label for p in links]
    assert len(labels) == 30 and labels[0].startswith(f"L{hottest[0]} N{hottest[1]} · fires")
    assert all(p.proto.page == "neurons" for p in links)  # the Neurons page (its URL path)
    assert f"layer={hottest[0]}" in links[0].proto.query_string and "model=toy-relu-s0" in links[0].proto.query_string


def test_sparsity_page_without_runs_says_how_to_make_one(explorer, tmp_path):
    at = explorer.open(tmp_path, SPARSITY)
    assert "No sparsity runs" in explorer.texts(at) and "interp sparsity --model" in explorer.texts(at)


def test_the_workspace_builds_sparsity_for_its_neuron_models(explorer, workspace):
    """`workspace build` runs `interp sparsity` on the models of its neuron statistics (the GELU model and its ReLU
    sibling) into sparsity/<model>, and the page offers each."""
    from apps.workspace.config import WorkspaceBuildConfig
    from apps.workspace.family import neuron_models
    from interp.sparsity.artifacts import load_sparsity

    models = neuron_models(WorkspaceBuildConfig.of(model="toy-gelu-s0"))  # the tiny workspace's model
    for m in models:
        assert load_sparsity(workspace / "sparsity" / m).model == m
    at = explorer.open(workspace, SPARSITY)
    assert sorted(at.selectbox(key="sparsity_model").options) == sorted(models) and len(models) == 2


def test_a_neuron_page_shows_its_hot_rank_and_dormancy(explorer, workspace):
    """Issue 27: a neuron's page reads its hot / cold rank and dormancy from the workspace's sparsity run."""
    from interp.sparsity.artifacts import load_sparsity, neuron_sparsity

    run = load_sparsity(workspace / "sparsity" / "toy-relu-s0")
    hottest = np.unravel_index(int(run.hot_rank.argmin()), run.hot_rank.shape)
    layer, neuron = int(hottest[0]), int(hottest[1])
    ns = neuron_sparsity(run, layer, neuron)
    at = explorer.open(workspace, "pages/neurons.py", model="toy-relu-s0", layer=layer, neuron=neuron)
    line = next(c.value for c in at.caption if "hot rank" in c.value).replace("\\", "")  # markdown escapes
    assert f"hot rank 1 of {run.hot_rank.size:,} neurons" in line and ns.hot_rank == 0
    assert f"dormancy score {ns.dormancy:.3f}" in line


def test_the_server_start_warms_every_sparsity_run(workspace, monkeypatch):
    """A cold neuron deep link finds its model's sparsity run loaded (apps.explorer.warm), as every other artifact."""
    from apps.explorer import warm

    monkeypatch.setenv("INTERP_WORKSPACE", str(workspace))
    runs = sorted(p.name for p in (workspace / "sparsity").iterdir() if (p / "sparsity.json").is_file())
    assert runs and {f"sparsity run of {m}" for m in runs} <= {what for what, _ in warm.warm_loaders()}
    assert warm.warm_caches() == []  # everything the pages read loads
