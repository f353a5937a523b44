"""Neurons page: dead / token-detector / positional / universal neurons with filters, and a neuron page with its
statistics, top examples and best correlates in the other seeds' models."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from apps.explorer import data
from apps.explorer import figures as views
from interp.corpus import summary as corpus_summary

st.title("Neurons")
models = data.neuron_models()
if not models:
    st.info(f"No neuron statistics in the workspace {data.layout().root} yet. Build them with "
            f"{data.build_hint('neurons')} (or `make demo`).")
    st.stop()

model = st.selectbox("Model", models, key="model")
stats = data.guarded(f"neuron statistics of {model}", "neurons", data.neuron_stats, model)
if stats is None:
    st.stop()
table = data.neuron_table(model, data.mtime(data.layout().neurons / model / "stats.json"))
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
counts = table.groupby(["layer", "family"]).size().unstack(fill_value=0)
st.caption(f"{len(shown):,} of {len(table):,} neurons shown; {stats.model} ({stats.weight_processing} weight "
           f"processing, act {stats.act_fn}) on {corpus_summary(stats.corpus)}")
st.dataframe(shown, height=280, hide_index=True, width="stretch")
with st.expander("Families per layer"):
    st.dataframe(counts)
if has_universal:
    res = data.guarded("universal-neuron results", "universal", data.universal)
    if res is not None:
        st.plotly_chart(views.universal_figure(res[1]["fraction_universal"]), key="universal_fig")
else:
    st.info(f"No universal-neuron results for {model}. Build them with {data.build_hint('universal')}.")

st.header("Neuron")
n1, n2 = st.columns(2)
first = shown.iloc[0] if len(shown) else table.iloc[0]
layer = int(n1.number_input("Layer", 0, stats.n_layers - 1, int(first["layer"]), key="layer"))
neuron = int(n2.number_input("Neuron", 0, stats.d_mlp - 1, int(first["neuron"]), key="neuron"))
row = table[(table["layer"] == layer) & (table["neuron"] == neuron)].iloc[0]
st.subheader(f"L{layer} N{neuron}: {row['family']}")
m = st.columns(5)
m[0].metric("firing frequency", f"{row['fire_freq']:.3f}")
m[1].metric("top token", row["top_token"], f"lift {row['token_lift']:.2f}", delta_color="off")
m[2].metric("positional MI (bits)", f"{row['pos_mi']:.3f}")
m[3].metric("best concept", row["concept"] or "(none)", f"AUROC {row['concept_auroc']:.3f}", delta_color="off")
m[4].metric("excess correlation", f"{row['excess_corr']:.3f}" if has_universal else "n/a")
stat_names = ["mean", "var", "skew", "kurtosis", "zero_frac", "w_in_norm", "w_out_norm", "cos_in_out", "vocab_kurtosis"]
st.dataframe(pd.DataFrame({k: [float(stats.arrays[k][layer, neuron])] for k in stat_names}), hide_index=True)

pages = data.guarded(f"neuron examples of {model}", "neurons", data.neuron_pages, data.layout().neurons / model)
if pages is not None:
    arr, meta = pages
    st.subheader("Top activating examples")
    st.markdown(views.example_rows(arr["ex_ctx_tokens"][layer, neuron], arr["ex_ctx_acts"][layer, neuron],
                                   arr["ex_act"][layer, neuron], meta["vocab"], float(arr["ex_act"][layer, neuron, 0]),
                                   meta["context"][0]), unsafe_allow_html=True)

st.subheader("Best correlates in the other seeds")
folder = data.layout().universal / model
if (folder / "examples.json").is_file():
    upages = data.guarded("universal-neuron correlates", "universal", data.neuron_pages, folder)
    if upages is not None:
        arr, meta = upages
        st.dataframe(pd.DataFrame({"model": meta["others"],
                                   "neuron": [f"L{layer} N{int(i)}" for i in arr["corr_ids"][:, layer, neuron]],
                                   "correlation": arr["corr_vals"][:, layer, neuron]}), hide_index=True)
else:
    st.info(f"No cross-seed correlates for {model} (only the universal-neuron seeds have them). "
            f"Build them with {data.build_hint('universal')}.")
