"""Features page: pick model / hook / dictionary (SAE architectures and SNMF), a searchable and sortable feature
table, and a feature page (examples by quantile, activation histogram, logits, neighbours, try your own text)."""

from __future__ import annotations

import numpy as np
import streamlit as st

from apps.explorer import data
from apps.explorer import figures as views

SORTS = ["density", "concept_auroc", "output_score", "max_act", "feature"]

st.title("Features")
names = data.feature_dictionaries()
if not names:
    st.info(f"No feature pages in the workspace {data.layout().root} yet. Build them with "
            f"{data.build_hint()} (or `make demo`).")
    st.stop()

metas = {}
for n in names:
    p = data.guarded(f"feature pages of {n}", "features", data.feature_pages, n)
    if p is not None:
        metas[n] = p.meta
if not metas:
    st.stop()
c1, c2, c3 = st.columns(3)
model = c1.selectbox("Model", sorted({m["model"] for m in metas.values()}), key="model")
hook = c2.selectbox("Hook", sorted({m["hook"] for m in metas.values() if m["model"] == model}), key="hook")
choices = [n for n, m in metas.items() if m["model"] == model and m["hook"] == hook]
name = c3.selectbox("Dictionary", choices, key="dictionary",
                    format_func=lambda n: f"{n} ({metas[n]['d_sae']} features)")
pages = data.feature_pages(name)
meta, a = pages.meta, pages.arrays
table = data.feature_table(name, data.mtime(data.layout().features / name / "features.safetensors"))
vocab = meta.get("vocab")

st.caption(f"{meta['d_sae']} features of {meta['dictionary_kind']} `{meta['path']}` over {meta['n_tokens']:,} "
           f"cached tokens; {int(a['dead'].sum())} dead, {int(a['dense'].sum())} dense (> {meta['dense_threshold']})")
with st.expander("Feature table", expanded=True):
    f1, f2, f3, f4 = st.columns([3, 2, 1, 1])
    query = f1.text_input("Search: concept (e.g. colour) or feature index", key="search").strip()
    sort = f2.selectbox("Sort by", SORTS, key="sort")
    desc = f3.checkbox("Descending", value=True, key="desc")
    hide_dead = f4.checkbox("Hide dead", value=False, key="hide_dead")
    shown = table
    if query:
        hit = shown["concept"].str.contains(query, case=False, regex=False)
        if query.isdigit():
            hit |= shown["feature"] == int(query)
        shown = shown[hit]
    if hide_dead:
        shown = shown[~shown["dead"]]
    shown = shown.sort_values(sort, ascending=not desc, na_position="last")
    st.dataframe(shown, height=260, hide_index=True, width="stretch")
    st.plotly_chart(views.density_histogram(a["density"]), key="density_hist")

default = int(shown["feature"].iloc[0]) if len(shown) else 0
f = int(st.number_input("Feature", 0, meta["d_sae"] - 1, value=default, key="feature"))
st.header(f"Feature {f}")
concept = meta["concepts"][a["concept_best"][f]] if a["concept_best"][f] >= 0 else "(none)"
m = st.columns(5)
m[0].metric("density", f"{a['density'][f]:.2e}")
m[1].metric("max activation", f"{a['max_act'][f]:.3g}")
m[2].metric("best concept", concept, f"AUROC {a['concept_auroc'][f]:.3f}", delta_color="off")
m[3].metric("output score", f"{a['output_score'][f]:.3g}")
m[4].metric("flags", "dead" if a["dead"][f] else ("dense" if a["dense"][f] else "live"))

left, right = st.columns([3, 2])
with left:
    st.subheader("Top activating examples by quantile")
    centre, scale = meta["context"][0], float(a["max_act"][f])
    for b in reversed(range(len(meta["bin_names"]))):
        lo, hi = a["bin_edges"][f, b], a["bin_edges"][f, b + 1]
        st.markdown(f"**{meta['bin_names'][b]}** of positive activations, [{lo:.3g}, {hi:.3g}]")
        st.markdown(views.example_rows(a["ex_ctx_tokens"][f, b], a["ex_ctx_acts"][f, b], a["ex_act"][f, b], vocab,
                                       scale, centre), unsafe_allow_html=True)
with right:
    st.plotly_chart(views.activation_histogram(a["hist_counts"][f], a["hist_edges"][f], "Positive activations"),
                    key="act_hist")
    tok = lambda ids: [views.token_str(vocab, int(i)) for i in ids]  # noqa: E731
    st.plotly_chart(views.logit_bars(tok(a["logit_pos_ids"][f]), a["logit_pos_vals"][f], "Top positive logits",
                                     "#2ca02c"), key="logits_pos")
    st.plotly_chart(views.logit_bars(tok(a["logit_neg_ids"][f]), a["logit_neg_vals"][f], "Top negative logits",
                                     "#d62728"), key="logits_neg")
st.subheader("Decoder-cosine neighbours")
st.dataframe(views.neighbours_table(a["neighbour_ids"][f], a["neighbour_cos"][f], table), hide_index=True)

st.subheader("Try your own text")
text = st.text_input("Text", key="try_text", placeholder="Mary and John went to the park. John gave a ball to")
if text:
    from interp.text_features import text_activations

    dic = data.guarded("dictionary", "saes", data.dictionary, str(data.in_workspace(meta["path"])),
                       data.mtime(data.layout().root))
    mod = data.guarded("model", "cache", data.model, meta["model"])
    if dic is not None and mod is not None:
        res = text_activations(mod, dic, text)
        col = res.codes[:, f]
        st.markdown(views.highlight(range(len(res.strs)), col, res.strs, max(scale, float(np.max(col)))),
                    unsafe_allow_html=True)
        st.caption(f"max activation of feature {f} on this text: {float(col[1:].max(initial=0)):.3f}")
