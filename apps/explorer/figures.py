"""Pure display helpers of the explorer: escaped markdown, token-highlighted HTML and plotly figures from already
computed arrays.

Nothing here loads or computes anything heavy; every function maps arrays / tables to text, HTML or a go.Figure
(notebooks can import them). Figures are kept light: one trace each, no mode bar (CHART_CONFIG), so a page redraws
fast in the browser.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

CHART_CONFIG = {"displayModeBar": False}
"""plotly config of the explorer's charts (st.plotly_chart(..., config=CHART_CONFIG))."""
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+\-.!|:~$^=&])")


def md_escape(text: str) -> str:
    """`text` shown literally in Streamlit markdown: every markdown, directive (":green" colours text) and LaTeX
    character backslash-escaped."""
    return _MD_SPECIAL.sub(r"\\\1", str(text))


def token_str(vocab: Sequence[str] | None, tid: int) -> str:
    if tid < 0:
        return ""
    return vocab[tid] if vocab is not None and tid < len(vocab) else f"#{tid}"


def highlight(tokens: Sequence[int], acts: Sequence[float], vocab: Sequence[str] | None, scale: float,
              centre: int | None = None) -> str:
    """One line of tokens, each with an orange background proportional to act / scale (title = the value)."""
    spans = []
    for i, (t, a) in enumerate(zip(tokens, acts)):
        if t < 0:
            continue
        alpha = 0.0 if scale <= 0 else max(0.0, min(1.0, float(a) / scale))
        border = "border-bottom:2px solid #1f77b4;" if i == centre else ""
        spans.append(f'<span title="{float(a):.3f}" style="background:rgba(255,140,0,{alpha:.2f});{border}'
                     f'padding:1px 2px;margin:0 1px;border-radius:3px">{html.escape(token_str(vocab, int(t)))}</span>')
    return "".join(spans)


def example_rows(ctx_tokens: np.ndarray, ctx_acts: np.ndarray, acts: np.ndarray, vocab, scale: float,
                 centre: int) -> str:
    """HTML block of examples [K, W] (skipping empty slots marked by act <= 0 and no tokens)."""
    lines = []
    for toks, a, v in zip(ctx_tokens, ctx_acts, acts):
        if (toks < 0).all():
            continue
        lines.append(f'<div style="font-family:monospace;margin:2px 0;white-space:nowrap;overflow-x:auto">'
                     f'<b>{float(v):.3f}</b>&nbsp; {highlight(toks, a, vocab, scale, centre)}</div>')
    return "".join(lines) or "<i>no examples in this bin</i>"


PRELOAD = ("PlotlyChart", "DataFrame")
"""Streamlit's largest lazily loaded scripts (plotly alone is 4.7 MB): what a fresh browser fetches only once the
first chart or table arrives, after the page's script has run."""


def preload_script() -> str:
    """A script that imports PRELOAD's chunks (the running Streamlit's own hashed files) as soon as the first element
    is drawn, so a fresh browser fetches and compiles them while the server still runs the page (a cold deep link:
    bench/explorer_render.py). Importing a module twice is free: the page's own import gets the same instance."""
    from pathlib import Path

    import streamlit

    js = Path(streamlit.__file__).parent / "static" / "static" / "js"
    files = sorted(p.name for name in PRELOAD for p in js.glob(f"{name}.*.js"))
    imports = "".join(f"import(new URL('static/js/{f}', document.baseURI).href).catch(() => {{}});" for f in files)
    return f"<script>{imports}</script>"


def scroll_to_row(key: str, row: int, row_px: int = 35) -> str:
    """A script (for st.html(..., unsafe_allow_javascript=True)) that scrolls the st.dataframe of widget key `key`
    until data row `row` is visible (st.dataframe has no scroll API; its grid scrolls a .dvn-scroller). It retries
    for a few seconds while the grid is drawn, and leaves the grid alone when the row is already in view."""
    return f"""<script>(() => {{
  const want = {int(row)} * {int(row_px)}, until = performance.now() + 5000;
  function go() {{
    const s = document.querySelector('.st-key-{key} .dvn-scroller');
    if (!s) {{ if (performance.now() < until) requestAnimationFrame(go); return; }}
    const view = s.clientHeight - 2 * {int(row_px)};
    if (want < s.scrollTop || want > s.scrollTop + view) s.scrollTop = Math.max(0, want - view / 2);
  }}
  go();
}})();</script>"""


def activation_histogram(counts: np.ndarray, edges: np.ndarray, title: str) -> go.Figure:
    centres = (edges[:-1] + edges[1:]) / 2
    fig = go.Figure(go.Bar(x=centres, y=counts, width=np.diff(edges), marker_color="#ff8c00"))
    fig.update_layout(title=title, xaxis_title="activation", yaxis_title="tokens", height=280,
                      margin={"t": 40, "b": 30, "l": 40, "r": 10})
    return fig


def logit_figure(pos: tuple[Sequence[str], Sequence[float]], neg: tuple[Sequence[str], Sequence[float]]
                 ) -> go.Figure:
    """Top positive (green) and negative (red) logits side by side in one figure (one chart to draw)."""
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=2, subplot_titles=("Top positive logits", "Top negative logits"),
                        horizontal_spacing=0.25)
    for col, (tokens, values), color in ((1, pos, "#2ca02c"), (2, neg, "#d62728")):
        fig.add_bar(x=list(values)[::-1], y=[repr(t) for t in tokens][::-1], orientation="h", marker_color=color,
                    row=1, col=col, showlegend=False)
    fig.update_layout(height=320, margin={"t": 40, "b": 30, "l": 10, "r": 10})
    return fig


def feature_map(table: pd.DataFrame) -> go.Figure:
    """Every live feature as a point (log10 density vs best-concept AUROC); customdata holds the feature index, so a
    selected point opens that feature."""
    live = table[table["density"] > 0]
    fig = go.Figure(go.Scatter(x=np.log10(live["density"]), y=live["concept_auroc"].fillna(0.5), mode="markers",
                               customdata=live["feature"], marker={"size": 6, "color": "#1f77b4", "opacity": 0.6},
                               text=[f"feature {f}: {c}" for f, c in zip(live["feature"], live["label"])],
                               hoverinfo="text"))
    fig.update_layout(title=f"{len(live)} live features (click one to open it)", xaxis_title="log10 density",
                      yaxis_title="best-concept AUROC", height=320, margin={"t": 40, "b": 30, "l": 40, "r": 10})
    return fig


def pick_rule(method: str, settings: dict) -> str:
    """How the steering benchmark chose the direction of `method` for a concept (interp.steering.benchmark)."""
    n = settings.get("n_docs", "?")
    if method.startswith("diffmeans@"):
        return "difference in means: mean activation on the concept's tokens minus elsewhere (no unit picked)"
    if method.startswith("neuron@"):
        return f"the MLP neuron of layer {method.split('@L')[-1]} with the highest concept AUROC ({n} documents)"
    if method.endswith("+outfilter"):
        q = settings.get("output_quantile", 0.5)
        return (f"the feature with the highest concept AUROC among those whose output score is above the {q:.0%} "
                f"quantile ({n} documents)")
    return f"the feature with the highest concept AUROC ({n} documents)"


def bench_table(bench: dict) -> pd.DataFrame:
    """The steering benchmark's rows, flattened (one row per concept and method), with how each was chosen."""
    rows = [{k: v for k, v in r.items() if k != "outcome"} | r["outcome"] for r in bench["rows"]]
    cols = ["concept", "method", "index", "auroc", "output_score", "alpha", "kl", "reached", "delta_mass",
            "gen_concept_frac", "gen_nll", "gen_nll_base"]
    table = pd.DataFrame(rows)[cols].rename(columns={"auroc": "concept_auroc"})
    table["chosen_by"] = [pick_rule(m, bench.get("settings", {})) for m in table["method"]]
    return table


def bench_summary(bench: dict) -> pd.DataFrame:
    """Mean Δ mass per direction method over the concepts (the benchmark's summary), as a two-column table."""
    means = bench["summary"]["mean_delta_mass"]
    return pd.DataFrame({"direction": list(means), "mean Δ mass over concepts": list(means.values())})


PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf", "#393b79", "#e7ba52", "#843c39", "#3182bd", "#31a354", "#756bb1")
"""Distinct colours for up to 16 traces (plotly's default cycle repeats after 10)."""


def bench_figure(table: pd.DataFrame, kl: float) -> go.Figure:
    fig = go.Figure()
    for i, (method, g) in enumerate(table.groupby("method", sort=False)):
        fig.add_bar(name=method, x=g["concept"], y=g["delta_mass"], marker_color=PALETTE[i % len(PALETTE)])
    n = table["method"].nunique()
    fig.update_layout(barmode="group", title=f"Δ P(concept tokens) at KL = {kl}", height=380 + 22 * (n // 3),
                      yaxis_title="Δ probability mass", legend={"orientation": "h", "y": -0.15, "yanchor": "top",
                                                                "x": 0, "title": {"text": "direction"}},
                      margin={"t": 40, "b": 40 + 22 * (n // 3 + 1), "l": 50, "r": 10})
    return fig


def faithfulness_figure(table: pd.DataFrame) -> go.Figure:
    fig = go.Figure()
    for method, g in table.groupby("method", sort=False):
        fig.add_bar(name=method, x=g["component"], y=g["pearson"])
    fig.update_layout(barmode="group", title="Pearson r with activation patching", yaxis_title="r", height=340)
    return fig


def attention_figure(pattern: np.ndarray, tokens: Sequence[str], title: str) -> go.Figure:
    """One head's attention on one prompt: rows attend (destination), columns are attended (source)."""
    labels = [f"{i} {t}" for i, t in enumerate(tokens)]
    fig = go.Figure(go.Heatmap(z=np.asarray(pattern).round(4).tolist(), x=labels, y=labels, colorscale="Blues",
                               zmin=0, zmax=1, hovertemplate="from %{y} to %{x}: %{z:.3f}<extra></extra>"))
    fig.update_layout(title=title, height=460, xaxis_title="attended (source) token",
                      yaxis={"title": "attending (destination) token", "autorange": "reversed"},
                      margin={"t": 40, "b": 30, "l": 10, "r": 10})
    return fig


def universal_figure(fractions: dict[str, list[float]]) -> go.Figure:
    fig = go.Figure()
    for model, fr in fractions.items():
        fig.add_scatter(x=[f"L{i}" for i in range(len(fr))], y=fr, mode="lines+markers", name=model)
    fig.update_layout(title="Fraction of universal neurons per layer", yaxis_title="fraction", height=300)
    return fig


def token_change_figure(promoted: dict, suppressed: dict) -> go.Figure:
    toks = list(promoted["tokens"]) + list(suppressed["tokens"])
    vals = list(promoted["values"]) + list(suppressed["values"])
    colors = ["#2ca02c"] * len(promoted["tokens"]) + ["#d62728"] * len(suppressed["tokens"])
    fig = go.Figure(go.Bar(x=toks, y=vals, marker_color=colors))
    fig.update_layout(title="Mean logit change: promoted (green) and suppressed (red)", height=300)
    return fig


def norms_histogram(norms: np.ndarray, title: str = "Decoder row norms") -> go.Figure:
    """Histogram of decoder row norms; when they are all (nearly) equal (spread below 1e-4 of their mean, e.g. an
    SAE that normalises its decoder) one bar at their mean, titled with the mean and the spread, instead of 40 bins
    over a range of 1e-7 whose ticks read 0.54190856 ... 0.54190874."""
    norms = np.asarray(norms, dtype=np.float64)
    mean, spread = float(norms.mean()), float(norms.max() - norms.min())
    if spread <= 1e-4 * max(abs(mean), 1e-12):
        fig = go.Figure(go.Bar(x=[mean], y=[len(norms)], width=[max(abs(mean), 1e-12) * 0.02]))
        fig.update_layout(title=f"{title}: all {len(norms):,} equal {mean:.4g} (max - min = {spread:.2g})",
                          xaxis={"title": "norm", "range": [mean * 0.9, mean * 1.1], "tickformat": ".3g"})
    else:
        fig = go.Figure(go.Histogram(x=norms, nbinsx=40))
        fig.update_layout(title=title, xaxis={"title": "norm", "tickformat": ".3g"})
    fig.update_layout(height=260, yaxis_title="features")
    return fig


def probing_table(report: dict) -> pd.DataFrame:
    """eval.json's sparse_probing (saes/eval/probe_report.py) as one row per concept: held-out F1 of the k-sparse
    probe on the dictionary's latents and on the hook's raw neurons for each k, and the concept's token counts."""
    sp = report["sparse_probing"]
    rows = []
    for concept, r in sp["concepts"].items():
        row = {"concept": concept, "train tokens": r["train_tokens"], "held-out tokens": r["held_out_tokens"]}
        for k in sp["ks"]:
            row[f"F1 k={k}"], row[f"neurons F1 k={k}"] = r["sae"][str(k)]["f1"], r["neurons"][str(k)]["f1"]
        rows.append(row)
    return pd.DataFrame(rows)


def probing_figure(report: dict, name: str) -> go.Figure:
    """Mean held-out F1 over the probed concepts against k: the dictionary's latents and the raw neurons."""
    sp = report["sparse_probing"]
    ks = [str(k) for k in sp["ks"]]
    fig = go.Figure()
    for who, label, colour in (("sae", name, "#ff7f0e"), ("neurons", "raw neurons (baseline)", "#7f7f7f")):
        fig.add_scatter(x=sp["ks"], y=[sp["mean_f1"][who][k] for k in ks], mode="lines+markers", name=label,
                        line={"color": colour})
    fig.update_layout(title=f"k-sparse probing: mean held-out F1 over {len(sp['concepts'])} concepts",
                      xaxis={"title": "k (latents or neurons in the probe)", "type": "log", "tickvals": sp["ks"]},
                      yaxis={"title": "F1", "range": [0, 1]}, height=320, legend={"orientation": "h", "y": -0.25},
                      margin={"t": 40, "b": 30, "l": 50, "r": 10})
    return fig


def absorption_table(report: dict) -> pd.DataFrame:
    """eval.json's absorption (saes/eval/absorption.py) as one row per parent concept: its rate, the probe's
    held-out F1 and true positives the rate is over, how many were absorbed, and by which children."""
    rows = [{"parent": p, "absorption rate": r["rate"], "absorbed": r["absorbed"],
             "probe true positives": r["probe_true_positives"], "probe F1": r["probe_f1"],
             "children": r["children"], "main latents": len(r["main_latents"]),
             "absorbed children": ", ".join(f"{c} ({n})" for c, n in r["absorbed_children"].items())}
            for p, r in report["absorption"]["parents"].items()]
    return pd.DataFrame(rows)


def absorption_figure(table: pd.DataFrame, mean_rate: float | None) -> go.Figure:
    """Absorption rate per parent concept (hover: absorbed / probe true positives)."""
    rates = [None if pd.isna(v) else float(v) for v in table["absorption rate"]]  # None: no probe true positive
    fig = go.Figure(go.Bar(x=list(table["parent"]), y=rates, marker_color="#d62728",
                           customdata=[[int(a), int(n)] for a, n in zip(table["absorbed"],
                                                                        table["probe true positives"])],
                           hovertemplate="%{x}: %{y:.3f} (%{customdata[0]} of %{customdata[1]})<extra></extra>"))
    mean = "n/a" if mean_rate is None else f"{mean_rate:.3f}"
    fig.update_layout(title=f"Feature absorption per parent concept (mean {mean})", yaxis_title="absorption rate",
                      height=340, margin={"t": 40, "b": 30, "l": 50, "r": 10})
    return fig
