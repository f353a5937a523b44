"""Circuits page: patching heatmaps of the saved IOI results, and the AtP / RelP vs activation-patching comparison
(faithfulness table, bar chart and scatter plots) — everything read from the workspace's patching folder."""

from __future__ import annotations

import streamlit as st

from apps.explorer import data
from apps.explorer import figures as views

st.title("Circuits")
methods = data.patch_methods()
if not methods:
    st.info(f"No patching results in the workspace {data.layout().root} yet. Build them with "
            f"{data.build_hint('patching')} (or `make demo`).")
    st.stop()

c1, c2 = st.columns(2)
method = c1.selectbox("Method", methods, key="method", index=methods.index("activation") if "activation" in methods
                      else 0)
results = data.guarded(f"{method} patching results", "patching", data.patch_results, method)
if results is None:
    st.stop()
component = c2.selectbox("Component", list(results), key="component")
r = results[component]
st.caption(f"{r.method} patching on IOI; scores normalised: 1 = clean, 0 = corrupted "
           f"(clean logit diff {r.baselines.clean:.3f}, corrupted {r.baselines.corrupted:.3f})")
if r.scores.ndim <= 2:
    from circuits.figures import heatmap

    st.plotly_chart(heatmap(r), key="heatmap")
else:
    head = st.slider(f"{r.axes[-1]} index", 0, r.scores.shape[-1] - 1, 0, key="slice")
    from circuits.patching.results import PatchResult

    sl = PatchResult(r.method, r.component, r.axes[:-1], r.scores[..., head], r.baselines, r.normalised, r.labels)
    from circuits.figures import heatmap

    st.plotly_chart(heatmap(sl, f"{r.method}: {r.component}, {r.axes[-1]} {head}"), key="heatmap")
st.dataframe(r.top(10), hide_index=True)

st.subheader("AtP / RelP vs activation patching")
table = data.guarded("faithfulness table", "patching", data.faithfulness_table,
                     data.mtime(data.layout().patching / "faithfulness.json"))
if table is not None:
    st.dataframe(table, hide_index=True, width="stretch")
    st.plotly_chart(views.faithfulness_figure(table), key="faithfulness_fig")
    estimates = {m: data.patch_results(m) for m in ("attribution", "relp") if m in methods}
    if "activation" in methods and len(estimates) == 2:
        from circuits.faithfulness import FaithfulnessRun
        from circuits.figures import scatter

        truth = data.patch_results("activation")
        comps = tuple(c for c in ("resid_pre", "attn_out", "mlp_out", "head_out")
                      if c in truth and all(c in e for e in estimates.values()))
        run = FaithfulnessRun(str(table["model"].iloc[0]), str(table["task"].iloc[0]), [], truth, estimates)
        st.plotly_chart(scatter(run, comps), key="scatter")
