"""Circuits page: patching heatmaps of the saved results on the workspace's task (IOI, or its own task file; a 3-D
result is shown one head at a time, on one colour scale across heads, with the top-10 table of the head shown), the
methods explained, and the AtP / RelP vs activation-patching comparison (faithfulness table, bar chart and scatter
plots), all read from the workspace's patching folder; the circuit the model is known to have (circuits.known: data
beside the model) and one head's attention pattern on one of the task's prompts."""

from __future__ import annotations

import streamlit as st

from apps.explorer import attention_view, data, state
from apps.explorer import figures as views
from apps.explorer.attention_view import known_circuit_note
from circuits.patching.methods import METHODS, ground_truth, scattered

st.title("Circuits")
methods = data.patch_methods()
if not methods:
    data.missing("patching results", "patching")
    st.stop()

c1, c2 = st.columns(2)
method = c1.selectbox("Method", methods, key="method", index=methods.index(ground_truth().name)
                      if ground_truth().name in methods else 0)
with st.expander("What the methods are"):
    st.markdown("\n".join(f"- **{m.name}**: {views.md_escape(m.description)}" for m in METHODS.values()
                          if m.name in methods))
results = data.guarded(f"{method} patching results", "patching", data.patch_results, method)
if results is None:
    st.stop()
component = c2.selectbox("Component", list(results), key="component")
r = results[component]
described = METHODS[r.method].description if r.method in METHODS else ""
known_circuit_note(data.workspace_model(), data.patch_task(method))
st.caption(f"{r.method} patching of {data.workspace_model()} on task {views.md_escape(data.patch_task(method))}: "
           f"{views.md_escape(described)} "
           f"Scores normalised: 1 = clean, "
           f"0 = corrupted (clean logit diff {r.baselines.clean:.3f}, corrupted {r.baselines.corrupted:.3f})")
from circuits.figures import heatmap  # noqa: E402
from circuits.patching.results import PatchResult  # noqa: E402

lim = float(r.scores.abs().max()) or 1.0  # one colour scale for every slice of this result
if r.scores.ndim <= 2:
    fig, top = heatmap(r), r.top(10)
else:
    from circuits.known import strongest

    if state.changed("slice_of", (method, component)) or "slice" not in st.session_state:
        st.session_state["slice"] = strongest(r.scores)  # open on the slice holding the strongest score
    head = st.slider(f"{r.axes[-1]} index", 0, r.scores.shape[-1] - 1, key="slice",
                     help="opens on the one holding the largest |score|")
    shown = PatchResult(r.method, r.component, r.axes[:-1], r.scores[..., head], r.baselines, r.normalised,
                        {a: v for a, v in r.labels.items() if a != r.axes[-1]})
    fig = heatmap(shown, f"{r.method}: {r.component}, {r.axes[-1]} {head} (colour scale of all {r.axes[-1]}s)")
    head_label = r.labels.get(r.axes[-1], [str(i) for i in range(r.scores.shape[-1])])[head]
    top = [{r.axes[-1]: head_label, **row} for row in shown.top(10)]
fig.update_traces(zmin=-lim, zmax=lim)
st.plotly_chart(fig, key="heatmap", config=views.CHART_CONFIG)
st.dataframe(top, hide_index=True, key="top10")
st.caption("the 10 entries of largest |score| in the heatmap above")

attention_view.render(results, method)

st.subheader("AtP / RelP vs activation patching")
table = data.guarded("faithfulness table", "patching", data.faithfulness_table,
                     data.mtime(data.layout().patching / "faithfulness.json"))
if table is not None:
    st.dataframe(table, hide_index=True, width="stretch", key="faithfulness")
    st.plotly_chart(views.faithfulness_figure(table), key="faithfulness_fig", config=views.CHART_CONFIG)
    drawn = [m.name for m in scattered()]
    estimates = {m: data.patch_results(m) for m in drawn if m in methods}
    if ground_truth().name in methods and len(estimates) == len(drawn):
        from circuits.faithfulness import FaithfulnessRun
        from circuits.figures import scatter

        truth = data.patch_results(ground_truth().name)
        comps = tuple(c for c in ("resid_pre", "attn_out", "mlp_out", "head_out")
                      if c in truth and all(c in e for e in estimates.values()))
        run = FaithfulnessRun(str(table["model"].iloc[0]), str(table["task"].iloc[0]), [], truth, estimates)
        st.plotly_chart(scatter(run, comps), key="scatter", config=views.CHART_CONFIG)
