"""Neurons page: dead / token-detector / positional / concept / universal neurons with filters; the filtered table
(or the universal-neuron view) drives the neuron page below it: clicking a row, or changing the filters, opens that
neuron. The URL (?model=NAME&layer=L&neuron=N) reopens it."""

from __future__ import annotations

import numpy as np
import streamlit as st

from apps.explorer import data, neuron_view, state
from apps.explorer import figures as views
from interp.corpus import summary as corpus_summary

st.title("Neurons")
models = data.neuron_models()
if not models:
    data.missing("neuron statistics", "neurons")
    st.stop()

state.arrive("neurons", {"model": state.choice(models), "layer": int, "neuron": int})
state.keep_valid("model", models)
model = st.selectbox("Model", models, key="model")
stats = data.guarded(f"neuron statistics of {model}", "neurons", data.neuron_stats, model)
if stats is None:
    st.stop()
table = data.neuron_table(model, data.mtime(data.neuron_folder(model) / "stats.json"))
has_universal = "universal" in table.columns

c1, c2, c3, c4 = st.columns([2, 3, 2, 2])
layers = c1.multiselect("Layers", list(range(stats.n_layers)), default=list(range(stats.n_layers)), key="layers")
families = c2.multiselect("Families", stats.families, default=[], key="families",
                          help="dead, token / bigram detectors, positional, concept, prediction, suppression")
only_universal = c3.checkbox("Universal only", value=False, key="only_universal", disabled=not has_universal)
min_fire = c4.number_input("Min firing frequency", 0.0, 1.0, 0.0, step=0.01, key="min_fire")
shown = table[table["layer"].isin(layers) & (table["fire_freq"] >= min_fire)]
if families:
    shown = shown[shown["family"].isin(families)]
if only_universal and has_universal:
    shown = shown[shown["universal"]]
filters = (tuple(layers), tuple(families), only_universal, min_fire)
if not len(shown):  # say why instead of an empty grid beside an unrelated neuron
    from interp.neurons.summarize import why_none

    reasons = [f"- **{f}**: {views.md_escape(why_none(f, stats.act_fn, stats.rules))}" for f in families
               if not (table["family"] == f).any()]
    st.info(f"No neuron of {stats.model} matches these filters (0 of {len(table):,}). "
            + ("Families with no neuron in any layer, and what they require (a neuron goes to the first family "
               "whose rule it meets, in the order " + ", ".join(stats.families) + "):\n" + "\n".join(reasons)
               if reasons else "Widen the layers, families or the minimum firing frequency."))
    st.stop()
if state.changed("neuron_filters", filters) and len(shown):
    st.session_state["layer"], st.session_state["neuron"] = int(shown["layer"].iloc[0]), int(shown["neuron"].iloc[0])
# a click on a table row, read before the table is drawn again so that its marker moves with the click
row = state.picked("neuron_table", st.session_state.get("neuron_table", {}).get("selection", {}).get("rows", []))
if row is not None and row < len(shown):
    st.session_state["layer"], st.session_state["neuron"] = (int(shown["layer"].iloc[row]),
                                                             int(shown["neuron"].iloc[row]))
at = (int(st.session_state.get("layer", -1)), int(st.session_state.get("neuron", -1)))
shown = shown.assign(open=np.where((shown["layer"] == at[0]) & (shown["neuron"] == at[1]), "▶", ""))
shown = shown[["open", *[c for c in shown.columns if c != "open"]]]

st.caption(f"{len(shown):,} of {len(table):,} neurons shown; {stats.model} ({stats.weight_processing} weight "
           f"processing, act {stats.act_fn}) on {corpus_summary(stats.corpus)}")
tab_table, tab_universal, tab_families = st.tabs(["Neuron table", "Universal neurons", "Families per layer"],
                                                 key="neuron_view", on_change="rerun")
if tab_table.open:
    with tab_table:
        st.dataframe(shown, height=280, hide_index=True, width="stretch", key="neuron_table", on_select="rerun",
                     selection_mode="single-row")
        st.caption("click a row to open the neuron (▶: the neuron shown below)")
        here = np.nonzero(shown["open"].to_numpy() == "▶")[0]
        if len(here):  # a deep link or a link from another page: bring its row into view
            st.html(views.scroll_to_row("neuron_table", int(here[0])), unsafe_allow_javascript=True)
if tab_universal.open:
    with tab_universal:
        hit = neuron_view.universal_view(model, table)
        if hit is not None:
            st.session_state["layer"], st.session_state["neuron"] = hit
if tab_families.open:
    with tab_families:
        st.dataframe(table.groupby(["layer", "family"]).size().unstack(fill_value=0), key="families_table")

first = shown.iloc[0] if len(shown) else table.iloc[0]
for key, hi, default in (("layer", stats.n_layers - 1, first["layer"]), ("neuron", stats.d_mlp - 1, first["neuron"])):
    st.session_state[key] = min(max(int(st.session_state.get(key, default)), 0), hi)
n1, n2 = st.columns(2)
layer = int(n1.number_input("Layer", 0, stats.n_layers - 1, key="layer"))
neuron = int(n2.number_input("Neuron", 0, stats.d_mlp - 1, key="neuron"))
state.publish("neurons", model=model, layer=layer, neuron=neuron)
neuron_view.render(model, stats, table.iloc[layer * stats.d_mlp + neuron], has_universal)
