"""Sparsity page: what `interp sparsity` measured (interp/sparsity/), per model run found in the workspace's
sparsity/ folder (<workspace>/sparsity/<model>/sparsity.json): per-layer curves (exact zeros, sparsity vs CETT, PPL-p%
sparsity), the hottest / coldest and dormant neurons linked to their neuron pages, massive activations and each
head's attention on the sink positions. Rendering only: every number is read from the artifact."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from apps.explorer import data, sparsity_data
from apps.explorer import figures as views
from interp.corpus import summary as corpus_summary

NEURONS_PAGE = "pages/neurons.py"
SHOWN = 10


def curves(run) -> go.Figure:
    """Per layer: nonzero share, sparsity at the activity CETT, PPL-p% sparsities (model-wide, as lines)."""
    layers = [x["layer"] for x in run.summary["layers"]]
    fig = go.Figure()
    for key, name in (("nonzero", "nonzero (Lazy Neuron)"), ("activity_sparsity", "sparsity at activity CETT"),
                      ("top10_share", "firings in top-10% neurons")):
        fig.add_scatter(x=layers, y=[x[key] for x in run.summary["layers"]], mode="lines+markers", name=name)
    for r in run.summary.get("ppl", []):
        if r.get("sparsity") is not None:
            fig.add_hline(y=r["sparsity"], line_dash="dot", annotation_text=f"PPL-{r['p']:g}% sparsity")
    fig.update_layout(title="Per layer", xaxis_title="layer", yaxis_title="share", yaxis_range=[0, 1.02])
    return fig


def cett_curve(run) -> go.Figure:
    """Sparsity vs CETT of every layer (ReLU² Wins' curve)."""
    fig = go.Figure()
    for layer in range(run.cett.shape[0]):
        fig.add_scatter(x=run.cett[layer].tolist(), y=run.sparsity[layer].tolist(), mode="lines+markers",
                        name=f"layer {layer}")
    fig.update_layout(title="Sparsity vs CETT", xaxis_title="CETT (dropped output norm / output norm)",
                      yaxis_title="inactive share")
    return fig


def neuron_links(model: str, run, order, title: str, value) -> None:
    """Links to the neuron pages of the first SHOWN neurons of `order` (flat indices), with a value each."""
    st.markdown(f"**{title}**")
    d = run.hot_rank.shape[1]
    cols = st.columns(5)
    for i, flat in enumerate(order[:SHOWN]):
        layer, neuron = divmod(int(flat), d)
        cols[i % 5].page_link(NEURONS_PAGE, label=f"L{layer} N{neuron} · {value(layer, neuron)}",
                              query_params={"model": model, "layer": str(layer), "neuron": str(neuron)})


st.title("Sparsity")
found = sparsity_data.runs()
if not found:
    st.info(f"No sparsity runs in {data.layout().root / 'sparsity'} yet. Make one with `interp sparsity --model M "
            f"--out {data.layout().root / 'sparsity' / 'M'}`, or build the workspace's sparsity step: "
            f"{data.build_hint('sparsity')}.")
    st.stop()
model = st.selectbox("Model", list(found), key="sparsity_model")
run = data.guarded(f"sparsity run of {model}", "", sparsity_data.run_at, found[model])
if run is None:
    st.stop()
s = run.summary
st.caption(f"{run.model} ({run.weight_processing} weight processing, {run.act_fn}{' gated' if run.gated else ''} "
           f"MLP) on {corpus_summary(run.corpus)}")
m = s["model"]
c = st.columns(4)
c[0].metric("Nonzero activations", f"{m['nonzero']:.1%}")
for col, r in zip(c[1:3], s.get("ppl", [])):
    col.metric(f"PPL-{r['p']:g}% sparsity", "not reached" if r["sparsity"] is None else f"{r['sparsity']:.1%}")
c[3].metric("Top-10% neurons' firing share", f"{m['top10_share']:.1%}")
st.plotly_chart(curves(run), key="sparsity_layers", config=views.CHART_CONFIG)
st.plotly_chart(cett_curve(run), key="sparsity_cett", config=views.CHART_CONFIG)

st.subheader("Hot, cold and dormant neurons")
fit = m["power_law"]
st.caption(f"power-law fit of firing frequency vs rank: alpha {fit['alpha']:.2f}, R² {fit['r2']:.2f} over "
           f"{fit['n']:,} firing neurons; top-20% share {m['top20_share']:.1%}")
flat_rank = run.hot_rank.reshape(-1)
by_rank = flat_rank.argsort()
neuron_links(model, run, by_rank, "Hottest", lambda lay, n: f"fires {run.active_freq[lay, n]:.1%}")
neuron_links(model, run, by_rank[::-1], "Coldest", lambda lay, n: f"fires {run.active_freq[lay, n]:.1%}")
neuron_links(model, run, run.dormancy.reshape(-1).argsort(), "Most dormant (ReDo score)",
             lambda lay, n: f"s = {run.dormancy[lay, n]:.3f}")

st.subheader("Massive activations and attention sinks")
ratios = s["massive"]["ratios"]
st.caption(f"residual entries above {' / '.join(f'{r:g}x' for r in ratios)} their token's median magnitude: "
           f"{m['massive_entries']:,} above {ratios[0]:g}x; the largest ratio {m['max_ratio']:.0f}x")
if s["massive"]["entries"]:
    st.dataframe(pd.DataFrame(s["massive"]["entries"]), hide_index=True, key="massive_entries")
abl = s.get("ablation", {})
if "loss_set_to_mean" in abl:
    st.markdown(f"Held-out loss {abl['loss_full']:.3f}; massive entries set to their mean "
                f"{abl['loss_set_to_mean']:.3f}, set to zero {abl['loss_set_to_zero']:.3f}")
elif abl.get("note"):
    st.markdown(f"Ablation: {abl['note']}")
sinks = go.Figure(go.Heatmap(z=run.bos_attention.tolist(), colorscale="Blues", zmin=0, zmax=1,
                             colorbar={"title": "share"}))
sinks.update_layout(title="Attention on position 0 per head", xaxis_title="head", yaxis_title="layer")
st.plotly_chart(sinks, key="sparsity_sinks", config=views.CHART_CONFIG)
