"""Plotly figures of patching results (display only: every input is an already computed result)."""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .faithfulness import FaithfulnessRun
from .patching.methods import scattered
from .patching.results import PatchResult


def heatmap(result: PatchResult, title: str = "") -> go.Figure:
    """A 2-D (or 1-D) score tensor as a red-blue heatmap centred at 0, axes labelled from the result."""
    scores = result.scores if result.scores.ndim == 2 else result.scores[None]
    y_axis = result.axes[0] if result.scores.ndim == 2 else ""
    x_axis = result.axes[-1]
    lim = float(scores.abs().max()) or 1.0
    fig = go.Figure(go.Heatmap(z=scores.tolist(), x=result.labels.get(x_axis), y=result.labels.get(y_axis),
                               colorscale="RdBu", zmid=0, zmin=-lim, zmax=lim, colorbar={"title": "score"}))
    fig.update_layout(title=title or f"{result.method} patching: {result.component}", xaxis_title=x_axis,
                      yaxis_title=y_axis, yaxis_autorange="reversed", width=700, height=320)
    return fig


def scatter(run: FaithfulnessRun, components: tuple[str, ...] = ("resid_pre", "attn_out", "mlp_out", "head_out"),
            ) -> go.Figure:
    """Estimated vs activation-patching scores, one panel per component type: every estimator of the registry with
    a colour (AtP, RelP; circuits.patching.methods) that `run` holds."""
    fig = make_subplots(rows=1, cols=len(components), subplot_titles=components)
    for i, comp in enumerate(components, start=1):
        truth = run.activation[comp].scores.flatten().tolist()
        for method, color in ((m.name, m.colour) for m in scattered() if m.name in run.estimates):
            est = run.estimates[method][comp].scores.flatten().tolist()
            fig.add_trace(go.Scatter(x=truth, y=est, mode="markers", name=method, legendgroup=method,
                                     showlegend=i == 1, marker={"color": color, "size": 5}), row=1, col=i)
        lo, hi = min(truth), max(truth)
        fig.add_trace(go.Scatter(x=[lo, hi], y=[lo, hi], mode="lines", line={"dash": "dot", "color": "grey"},
                                 showlegend=False), row=1, col=i)
    fig.update_layout(title=f"{run.model}: estimate vs activation patching ({run.task})", width=1100, height=330)
    fig.update_xaxes(title_text="activation patching")
    fig.update_yaxes(title_text="estimate", col=1)
    return fig
