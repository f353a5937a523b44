"""What feature pages and neuron pages show alike, rendered once: one unit's (a feature's or a neuron's) examples by
quantile bin, its activation histogram and its logit effects in lazy tabs (only the open one is drawn).

feature_view.py and neuron_view.py cut their unit's rows out of their artifacts into a `Unit` and call these; what
only one of them has (a feature's neighbours and output score, a neuron's statistics and correlates) stays there.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import streamlit as st

from apps.explorer import figures as views


class Unit(NamedTuple):
    """One unit's precomputed page rows (interp.pages.builder's arrays at one unit)."""

    title: str
    """How charts name the unit ("Feature 3", "L1 N7")."""
    bin_names: Sequence[str]
    bin_edges: np.ndarray
    """[B+1] quantile edges of its positive activations."""
    ctx_tokens: np.ndarray
    """[B, K, W] context tokens of each bin's examples (-1: none)."""
    ctx_acts: np.ndarray
    """[B, K, W] the unit's activation on each context token."""
    acts: np.ndarray
    """[B, K] each example's activation."""
    hist_counts: np.ndarray
    hist_edges: np.ndarray
    logits: dict[str, np.ndarray]
    """logit_pos_ids / _vals, logit_neg_ids / _vals at this unit [T]."""
    vocab: Sequence[str] | None
    centre: int
    """Index of the example's own token in its context window."""


def examples_html(u: Unit, scale: float) -> str:
    """Token-highlighted examples per quantile bin, highest bin first (activations coloured relative to `scale`)."""
    html = []
    for b in reversed(range(len(u.bin_names))):
        html.append(f"<p style='margin:8px 0 2px 0'><b>{u.bin_names[b]}</b> of positive activations, "
                    f"[{u.bin_edges[b]:.3g}, {u.bin_edges[b + 1]:.3g}]</p>")
        html.append(views.example_rows(u.ctx_tokens[b], u.ctx_acts[b], u.acts[b], u.vocab, scale, u.centre))
    return "".join(html)


def logit_chart(u: Unit, key: str, empty: str) -> None:
    """Top positive and negative logits of the unit's direction (one figure), or `empty` when none were recorded."""
    if np.abs(u.logits["logit_pos_vals"]).max(initial=0) == 0:
        st.info(empty)
        return
    side = {s: ([views.token_str(u.vocab, int(i)) for i in u.logits[f"logit_{s}_ids"]], u.logits[f"logit_{s}_vals"])
            for s in ("pos", "neg")}
    st.plotly_chart(views.logit_figure(side["pos"], side["neg"]), key=key, config=views.CHART_CONFIG)


def charts(u: Unit, keys: tuple[str, str, str], empty_logits: str) -> None:
    """The activation histogram or the logits (lazy tabs: only the open one is computed and drawn); `keys`: the
    tabs', the histogram's and the logit chart's widget keys."""
    tabs_key, hist_key, logits_key = keys
    hist, logits = st.tabs(["Activations", "Logits"], key=tabs_key, on_change="rerun")
    if hist.open:
        with hist:
            lo, hi, n = float(u.bin_edges[0]), float(u.bin_edges[-1]), int(u.hist_counts.sum())
            if hi <= lo:
                st.info(f"All {n:,} positive activations equal {hi:.4g}: no histogram.")
            else:
                st.plotly_chart(views.activation_histogram(u.hist_counts, u.hist_edges,
                                                           f"{u.title}: positive activations ({n:,} tokens)"),
                                key=hist_key, config=views.CHART_CONFIG)
    if logits.open:
        with logits:
            logit_chart(u, logits_key, empty_logits)
