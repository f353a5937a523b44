"""What feature pages and neuron pages show alike, rendered once: one unit's (a feature's or a neuron's) examples by
quantile bin (one line each, values on hover, an example's whole passage on demand), what its label rests on
(interp.pages.evidence: a warning beside a label whose top examples lack the concept, examples from the concept's
own tokens), its activation histogram and its logit effects in lazy tabs (only the open one is drawn).

feature_view.py and neuron_view.py cut their unit's rows out of their artifacts into a `Unit` and call these; what
only one of them has (a feature's neighbours and output score, a neuron's statistics and correlates) stays there.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import streamlit as st

from apps.explorer import figures as views

if TYPE_CHECKING:
    from interp.pages.context import FullContext
    from interp.pages.evidence import LabelEvidence


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
    ex_index: np.ndarray | None = None
    """[B, K] each example's token index in what the pages were built on (-1: none), for its whole passage."""
    concept: str | None = None
    """Its best concept, whose own tokens' examples follow (None: no concept)."""
    concept_ex: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
    """(act [K], ctx_tokens [K, W], ctx_acts [K, W]) of its largest activations on the concept's tokens (None: the
    pages were built before these were recorded)."""


def examples_html(u: Unit, scale: float) -> str:
    """Token-highlighted examples per quantile bin, highest bin first (activations coloured relative to `scale`)."""
    html = []
    for b in reversed(range(len(u.bin_names))):
        html.append(f"<p style='margin:8px 0 2px 0'><b>{u.bin_names[b]}</b> of positive activations, "
                    f"[{u.bin_edges[b]:.3g}, {u.bin_edges[b + 1]:.3g}]</p>")
        html.append(views.example_rows(u.ctx_tokens[b], u.ctx_acts[b], u.acts[b], u.vocab, scale, u.centre))
    return "".join(html)


def rests_on(ev: LabelEvidence | None) -> str:
    """The markdown tail of a label line: what its AUROC rests on ("" when nothing is recorded)."""
    return f"; {views.md_escape(ev.text())}" if ev is not None and ev.text() else ""


def label_warning(ev: LabelEvidence | None, labelled: bool, what: str) -> None:
    """Beside a label (`labelled`: the concept passed the AUROC bar) of a `what` ("feature", "neuron") whose top
    examples lack its concept: say so, and where to look instead."""
    if ev is not None and labelled and ev.top_lacks_concept:
        st.warning(f"The top examples lack this concept: only {ev.top_share:.0%} of them carry "
                   f"{views.md_escape(ev.concept)}. The AUROC says the {what} ranks the concept's tokens above "
                   f"others overall, not that it fires most on them; see the examples from the concept's own tokens "
                   f"below.", icon=":material/warning:")


def concept_examples(u: Unit, scale: float, what: str) -> None:
    """The unit's largest activations on its best concept's own tokens (`what`: "feature" / "neuron")."""
    if u.concept is None:
        return
    st.markdown(f"**Examples from the concept's own tokens** ({views.md_escape(u.concept)}: the {what}'s largest "
                f"activations on tokens that carry it)")
    if u.concept_ex is None:
        st.caption("These pages were built before concept examples were recorded: rebuild them (`workspace build "
                   "--force STEP`).")
        return
    act, tokens, acts = u.concept_ex
    st.html(views.example_rows(tokens, acts, act, u.vocab, scale, u.centre))


def pick_example(u: Unit, key: str) -> int | None:
    """A select box of the unit's examples; the token index of the one picked (None: none picked)."""
    if u.ex_index is None:
        return None
    picks = [(b, j) for b in reversed(range(u.ex_index.shape[0])) for j in range(u.ex_index.shape[1])
             if u.ex_index[b, j] >= 0]
    pick = st.selectbox("Full context of an example", [None, *picks], key=key, placeholder="pick an example",
                        format_func=lambda p: "none" if p is None else
                        f"{u.bin_names[p[0]]} #{p[1] + 1} (activation {u.acts[p[0], p[1]]:.3f})")
    return None if pick is None else int(u.ex_index[pick])


def show_passage(ctx: FullContext, vocab, scale: float, what: str) -> None:
    """An example's passage (interp.pages.context), every token's value on hover, the example underlined."""
    st.html('<div style="font-family:monospace;line-height:1.9">'
            + views.highlight(ctx.tokens, ctx.acts, vocab, scale, ctx.centre) + "</div>")
    st.caption(f"{len(ctx.tokens)} tokens of the example's document{' (clipped)' if ctx.clipped else ''}; the "
               f"underlined token is the example; hover a token for the {what}'s activation on it.")


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
