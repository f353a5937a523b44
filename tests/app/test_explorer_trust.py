"""Labels a reader can trust, steering that cannot mislead, circuits named, examples readable (issue 25), under
streamlit.testing.v1.AppTest on the tiny workspace; numbers are checked against the pages' own arrays."""

from __future__ import annotations

import json

import numpy as np
import pytest

from interp.pages.builder import NO_CONCEPT

pytestmark = pytest.mark.slow
FEATURES, NEURONS = "pages/features.py", "pages/neurons.py"
STEERING, CIRCUITS = "pages/steering.py", "pages/circuits.py"


def pages_of(workspace, name: str):
    from interp.pages.features import load_feature_pages

    return load_feature_pages(workspace / "features" / name)


def labelled(pages, lacking: bool) -> int:
    """A labelled feature whose top examples lack (or carry) its concept."""
    share = pages.arrays["concept_top_share"]
    hits = [f for f in range(pages.d_sae) if pages.label(f) != NO_CONCEPT and (share[f] < 0.5) == lacking]
    assert hits, "the tiny workspace has no such feature"
    return hits[0]


def test_label_evidence_matches_the_pages_arrays(workspace):
    from interp.pages.evidence import label_evidence

    pages = pages_of(workspace, "sae-topk")
    a, meta = pages.arrays, pages.meta
    f = labelled(pages, lacking=True)
    ev = label_evidence(meta, a, f)
    best = int(a["concept_best"][f])
    assert ev.positives == meta["concept_positives"][best] and 5 <= ev.positives <= meta["concept_sample"]
    top = a["ex_index"][f, -1]
    assert ev.top_lacks_concept and ev.top_share == pytest.approx(float(a["concept_top_share"][f]))
    assert len(top[top >= 0]) > 0
    shown = a["concept_ex_act"][f]  # examples drawn from the concept's own tokens, largest first
    assert (shown[shown > 0] == np.sort(shown[shown > 0])[::-1]).all() and (shown > 0).any()
    centre = a["concept_ex_ctx_acts"][f][:, meta["context"][0]]
    assert np.allclose(centre[shown > 0], shown[shown > 0], atol=1e-5)


def test_a_label_says_what_it_rests_on_and_warns_when_top_examples_lack_it(explorer, workspace):
    pages = pages_of(workspace, "sae-topk")
    f = labelled(pages, lacking=True)
    best = int(pages.arrays["concept_best"][f])
    concept, n = pages.meta["concepts"][best], pages.meta["concept_positives"][best]
    at = explorer.open(workspace, FEATURES, dictionary="sae-topk", feature=f)
    line = explorer.texts(at)
    share = float(pages.arrays["concept_top_share"][f])
    assert f"AUROC over {pages.meta['concept_sample']:,} sampled tokens, {n:,} of them {concept}" in line
    assert f"{share:.0%} of the top examples carry it" in line
    assert any("The top examples lack this concept" in w.value for w in at.warning)
    assert "Examples from the concept's own tokens" in line
    assert f"examples and histogram: all {pages.meta['n_tokens']:,} cached tokens" in line
    ok = labelled(pages, lacking=False)
    at = explorer.open(workspace, FEATURES, dictionary="sae-topk", feature=ok)
    assert not any("lack this concept" in w.value for w in at.warning)


def test_the_snmf_page_states_its_firing_threshold(explorer, workspace):
    at = explorer.open(workspace, FEATURES, dictionary="snmf", feature=pages_of(workspace, "snmf").first_live())
    assert "exceeds 25% of its largest code" in explorer.texts(at)


def test_a_dead_unit_shows_it_is_dead_and_nothing_from_zeros(explorer, workspace, tmp_path):
    from test_explorer_apptest import dead_copy

    root = dead_copy(workspace, tmp_path)
    at = explorer.open(root, FEATURES, dictionary="sae-topk", feature=4)
    assert at.markdown[0].value.startswith("**Dead**") and "AUROC" not in at.markdown[0].value
    from interp.neurons.artifacts import load_neuron_stats

    stats = load_neuron_stats(workspace / "neurons" / "toy-relu-s0")
    layer, neuron = (int(x) for x in np.argwhere(stats.dead)[0])
    at = explorer.open(workspace, NEURONS, model="toy-relu-s0", layer=layer, neuron=neuron)
    said = "\n".join(m.value for m in at.markdown)  # the label line and summary (captions name the statistics)
    assert "**Dead**" in at.markdown[0].value and "best concept" not in said and "AUROC" not in said
    assert explorer.metrics(at)["top token"] == "none (dead)" and "lift" not in json.dumps(
        [m.proto.delta for m in at.metric])


def test_a_neuron_page_states_both_samples(explorer, workspace):
    from interp.neurons.artifacts import load_neuron_stats

    stats = load_neuron_stats(workspace / "neurons" / "toy-gelu-s0")
    meta = json.loads((workspace / "neurons" / "toy-gelu-s0" / "examples.json").read_text())
    at = explorer.open(workspace, NEURONS, model="toy-gelu-s0", layer=1, neuron=7)
    body = explorer.texts(at)
    assert f"Statistics (firing, top token, concept AUROC, families): {stats.n_tokens:,} tokens" in body
    assert f"examples and activation histogram: a sample of {meta['n_tokens']:,} tokens" in body


def test_an_empty_filter_says_why(explorer, workspace):
    at = explorer.open(workspace, NEURONS, model="toy-gelu-s0")
    at.multiselect(key="families").set_value(["dead"]).run()
    explorer.ok(at)
    said = " ".join(i.value for i in at.info).replace("\\", "")
    assert "No neuron of toy-gelu-s0 matches these filters (0 of 2,048)" in said
    assert "GELU neurons are never exactly zero" in said
    assert not at.get("arrow_data_frame") and not at.header  # no empty grid, no unrelated neuron page


def test_steering_inputs_are_separate_and_negative_alpha_suppresses(explorer, workspace):
    at = explorer.open(workspace, STEERING, model="toy-gelu-s0", layer=2, neuron=5)
    at.radio(key="mode").set_value("alpha").run()
    at.number_input(key="alpha").set_value(-20.0).run()
    assert at.number_input(key="kl_target").value == 0.5 and at.number_input(key="kl_target").disabled
    at.slider(key="n_new").set_value(3).run()
    at.button(key="steer").click().run()
    explorer.ok(at)
    assert "α = -20" in explorer.texts(at)
    at.radio(key="mode").set_value("KL target").run()
    assert at.number_input(key="alpha").value == -20.0 and at.number_input(key="alpha").disabled


def test_an_unreachable_kl_target_says_what_was_reached_and_no_special_token_is_charted(explorer, workspace):
    from interp.models import load_model

    specials = set(load_model("toy-gelu-s0").tokenizer.all_special_tokens)
    at = explorer.open(workspace, STEERING, model="toy-gelu-s0", layer=2, neuron=5)
    at.number_input(key="kl_target").set_value(500.0).run()
    at.slider(key="n_new").set_value(3).run()
    at.button(key="steer").click().run()
    explorer.ok(at)
    note = " ".join(w.value for w in at.warning)
    assert "KL target 500 not reached: the closest was KL" in note and "the generation below uses that α" in note
    assert "α = 0," not in explorer.texts(at)  # never the base text passed off as steered
    chart = next(c for c in explorer.charts(at) if "Mean logit change" in json.dumps(c["layout"]))
    assert chart["data"][0]["x"] and not set(chart["data"][0]["x"]) & specials


def test_circuits_name_the_known_circuit_and_show_a_heads_attention(explorer, workspace):
    from circuits.known import known_circuits, strongest
    from circuits.patching.results import load_results

    (known,) = known_circuits("toy-gelu-s0", "ioi-abc")
    assert known.heads == [(3, 3)] and known.name == "name mover"
    at = explorer.open(workspace, CIRCUITS)
    assert any("name mover, L3H3" in s.value for s in at.success)
    at.selectbox(key="component").set_value("head_out_by_pos").run()
    r = load_results(workspace / "patching" / at.selectbox(key="method").value)["head_out_by_pos"]
    assert at.slider(key="slice").value == strongest(r.scores)
    best = float(r.scores[..., strongest(r.scores)].abs().max())
    assert best == pytest.approx(float(r.scores.abs().max()))
    at.toggle(key="show_attention").set_value(True).run()
    explorer.ok(at)
    fig = next(c for c in explorer.charts(at) if "attention on prompt" in c["layout"]["title"]["text"])
    assert fig["layout"]["title"]["text"].startswith("L3H3")  # opened on the known circuit's head
    z = np.array(fig["data"][0]["z"])
    assert z.shape[0] == z.shape[1] and np.allclose(z.sum(1), 1, atol=1e-4)
    at.number_input(key="attn_head").set_value(1).run()
    assert any(c["layout"]["title"]["text"].startswith("L3H1") for c in explorer.charts(at))


def test_an_examples_full_context_on_demand(explorer, workspace):
    pages = pages_of(workspace, "sae-relu")
    at = explorer.open(workspace, FEATURES, dictionary="sae-relu", feature=5)
    html = "".join(h.proto.body for h in at.get("html"))
    assert "white-space:nowrap" in html and "<span title=" in html  # one line per example, values on hover
    at.selectbox(key="full_context_sae-relu_5").select_index(1).run()  # the top example
    explorer.ok(at)
    passage = at.get("html")[1].proto.body
    top = float(pages.arrays["ex_act"][5, -1, 0])
    assert f'title="{top:.3f}"' in passage and "border-bottom" in passage  # the example, underlined, its value
    assert passage.count("<span") > pages.arrays["ex_ctx_tokens"].shape[-1]  # more than the stored window
    assert any("tokens of the example's document" in c.value for c in at.caption)


def test_norms_histogram_is_readable_when_all_norms_are_equal():
    from apps.explorer.figures import norms_histogram

    fig = norms_histogram(np.full(1024, 0.5419086) + np.linspace(0, 2e-7, 1024))
    assert "all 1,024 equal 0.5419" in fig.layout.title.text and fig.layout.xaxis.range[0] < 0.54
    assert fig.data[0].type == "bar" and fig.data[0].y[0] == 1024
    assert norms_histogram(np.linspace(0.5, 1.5, 100)).data[0].type == "histogram"


def labelled_neuron(workspace, model: str, lacking: bool) -> tuple[int, int]:
    """A neuron labelled with its concept (AUROC at the bar) whose top examples lack (or carry) it."""
    from interp.neurons.pages import load_neuron_pages
    from interp.pages.builder import CONCEPT_AUROC_BAR

    a, _ = load_neuron_pages(workspace / "neurons" / model)
    share = a["concept_top_share"]
    hits = np.argwhere((a["concept_auroc"] >= CONCEPT_AUROC_BAR) & ((share < 0.5) == lacking))
    assert len(hits), "the tiny workspace has no such neuron"
    return int(hits[0][0]), int(hits[0][1])


def test_neuron_label_evidence_matches_the_statistics_and_the_rows_labels(workspace):
    from interp.neurons.artifacts import load_neuron_stats
    from interp.neurons.pages import load_neuron_pages
    from interp.pages.evidence import label_evidence
    from interp.worlds import get_world

    folder = workspace / "neurons" / "toy-gelu-s0"
    stats, (a, meta) = load_neuron_stats(folder), load_neuron_pages(folder)
    at = labelled_neuron(workspace, "toy-gelu-s0", lacking=True)
    ev = label_evidence(meta, a, at)
    best = int(stats.best_concept[at])
    assert ev.concept == stats.concepts[best] and ev.auroc == pytest.approx(float(stats.best_auroc[at]))
    assert ev.positives == int(stats.concept_positives[best]) and 10 <= ev.positives <= ev.sample
    assert ev.sample == stats.concept_sample == meta["concept_sample"]
    world = get_world(meta["corpus"]["world"])  # the top bin's tokens' own labels say whether they carry it
    rows = a["row_tokens"]
    labels = world.docs(rows.shape[0], meta["corpus"]["seed"], "heldout", rows.shape[1]).labels
    carry = world.taxonomy.concept_mask(labels.reshape(rows.size, -1), ev.concept)
    top = a["ex_index"][at][-1]
    assert ev.top_lacks_concept and ev.top_share == pytest.approx(carry[top[top >= 0]].mean())
    shown = a["concept_ex_act"][at]  # the neuron's largest activations on the concept's own tokens
    assert (shown > 0).any() and (np.diff(shown[shown > 0]) <= 0).all()
    assert np.allclose(a["concept_ex_ctx_acts"][at][:, meta["context"][0]][shown > 0], shown[shown > 0], atol=1e-5)


def test_a_neuron_label_says_what_it_rests_on_with_passages_on_demand(explorer, workspace):
    from interp.neurons.pages import load_neuron_pages

    a, meta = load_neuron_pages(workspace / "neurons" / "toy-gelu-s0")
    layer, neuron = labelled_neuron(workspace, "toy-gelu-s0", lacking=True)
    at = explorer.open(workspace, NEURONS, model="toy-gelu-s0", layer=layer, neuron=neuron)
    said, best = explorer.texts(at), int(a["concept_best"][layer, neuron])
    concept, n = meta["concepts"][best], meta["concept_positives"][best]
    assert f"AUROC over {meta['concept_sample']:,} sampled tokens, {n:,} of them {concept}" in said
    assert f"{float(a['concept_top_share'][layer, neuron]):.0%} of the top examples carry it" in said
    assert any("The top examples lack this concept" in w.value and "neuron" in w.value for w in at.warning)
    assert "Examples from the concept's own tokens" in said
    html = "".join(h.proto.body for h in at.get("html"))
    assert "white-space:nowrap" in html and "<span title=" in html  # one line per example, values on hover
    at.selectbox(key=f"neuron_context_toy-gelu-s0_{layer}_{neuron}").select_index(1).run()  # the top example
    explorer.ok(at)
    passage = next(h.proto.body for h in at.get("html") if "line-height:1.9" in h.proto.body)
    top = float(a["ex_act"][layer, neuron, -1, 0])
    assert f'title="{top:.3f}"' in passage and "border-bottom" in passage  # the example, underlined, its value
    assert passage.count("<span") > a["ex_ctx_tokens"].shape[-1]  # more than the stored window
    layer, neuron = labelled_neuron(workspace, "toy-gelu-s0", lacking=False)
    at = explorer.open(workspace, NEURONS, model="toy-gelu-s0", layer=layer, neuron=neuron)
    assert not any("lack this concept" in w.value for w in at.warning)
