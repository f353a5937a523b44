"""Tables and a plotly figure from `interp universal` / `interp neurons` outputs (used to write docs/neurons.md).

`python -m interp.neurons.report UNIVERSAL_DIR [NEURON_STATS_DIR ...] --fig docs/figures/neurons_universal`
prints markdown tables and writes the figure as HTML (plotly.js from its CDN) and JSON.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from .artifacts import load_neuron_stats
from .universal import load_universal


def universal_table(folder: Path) -> str:
    res, meta = load_universal(folder)
    n_layers = res.universal.shape[1]
    head = "| model | " + " | ".join(f"layer {i}" for i in range(n_layers)) + " | all | mean max corr | mean baseline |"
    rows = [head, "|" + "---|" * (n_layers + 4)]
    for k, name in enumerate(res.models):
        fr = res.fraction_per_layer()[k]
        rows.append(f"| {name} | " + " | ".join(f"{x:.2%}" for x in fr) + f" | {res.universal[k].mean():.2%} | "
                    f"{res.max_corr[k].mean():.3f} | {res.baseline[k].mean():.3f} |")
    fr = res.universal.mean(axis=(0, 2))
    rows.append("| **mean** | " + " | ".join(f"**{x:.2%}**" for x in fr) + f" | **{res.universal.mean():.2%}** | "
                f"{res.max_corr.mean():.3f} | {res.baseline.mean():.3f} |")
    return "\n".join(rows)


def family_table(folder: Path) -> str:
    res, meta = load_universal(folder)
    fams = meta["families"]
    tot = {f: 0 for f in fams}
    all_tot = {f: 0 for f in fams}
    for k, name in enumerate(res.models):
        st = load_neuron_stats(folder / Path(name).name)
        for i, f in enumerate(fams):
            tot[f] += int(((st.family == i) & res.universal[k]).sum())
            all_tot[f] += int((st.family == i).sum())
    n_u, n_all = max(sum(tot.values()), 1), max(sum(all_tot.values()), 1)
    rows = ["| family | universal neurons | share of universal | share of all neurons |", "|---|---|---|---|"]
    rows += [f"| {f} | {tot[f]} | {tot[f] / n_u:.1%} | {all_tot[f] / n_all:.1%} |" for f in fams]
    return "\n".join(rows)


def sparsity_table(folders: list[Path]) -> str:
    rows = ["| model | act | layer | dead | firing freq | exact zero | near zero (abs < 1e-3) |",
            "|---|---|---|---|---|---|---|"]
    for f in folders:
        st = load_neuron_stats(f)
        for s in st.summary["layers"]:
            rows.append(f"| {st.model} | {st.act_fn} | {s['layer']} | {s['dead_frac']:.2%} | {s['fire_freq']:.1%} | "
                        f"{s['zero_frac']:.1%} | {s['near_zero_frac']:.1%} |")
    return "\n".join(rows)


def universal_figure(folder: Path, out: Path) -> None:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    res, _ = load_universal(folder)
    fig = make_subplots(rows=1, cols=2, subplot_titles=("fraction universal per layer",
                                                        "excess correlation (all models, all layers)"))
    layers = [f"layer {i}" for i in range(res.universal.shape[1])]
    for k, name in enumerate(res.models):
        fig.add_trace(go.Bar(name=name, x=layers, y=res.fraction_per_layer()[k]), row=1, col=1)
    for layer in range(res.excess.shape[1]):
        fig.add_trace(go.Histogram(x=res.excess[:, layer].ravel(), name=f"excess, layer {layer}", opacity=0.6,
                                   nbinsx=60), row=1, col=2)
    fig.add_vline(x=res.threshold, line_dash="dash", row=1, col=2)
    fig.update_layout(barmode="group", title=f"Universal neurons of {', '.join(res.models)} "
                      f"({res.n_tokens:,} tokens, threshold {res.threshold})", yaxis_tickformat=".1%")
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.write_html(str(out.with_suffix(".html")), include_plotlyjs="directory")
    out.with_suffix(".json").write_text(fig.to_json())


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("universal")
    p.add_argument("stats", nargs="*", help="extra neuron-statistics folders for the sparsity table")
    p.add_argument("--fig", default="docs/figures/neurons_universal")
    a = p.parse_args(argv)
    u = Path(a.universal)
    res, _ = load_universal(u)
    print(universal_table(u), "\n")
    print(family_table(u), "\n")
    print(sparsity_table([u / Path(m).name for m in res.models] + [Path(s) for s in a.stats]))
    universal_figure(u, Path(a.fig))
    print("\nexcess percentiles 50/90/99/max:", np.percentile(res.excess, [50, 90, 99, 100]).round(3).tolist())


if __name__ == "__main__":
    main()
