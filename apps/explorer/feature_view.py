"""The feature page (rendered by pages/features.py under the feature table): label and text summary, statistics,
"Steer this feature", examples by quantile bin, one chart at a time (activation histogram or logits: lazy tabs, so
a click redraws one plotly chart), decoder-cosine neighbours as links, and "try your own text".

Everything shown is precomputed (interp.pages) except the text box, which runs interp.text_features under a
spinner.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from apps.explorer import data, unit_view
from apps.explorer import figures as views
from apps.explorer.unit_view import Unit
from interp.pages.builder import CONCEPT_AUROC_BAR, NO_CONCEPT
from interp.pages.evidence import label_evidence

FEATURES_PAGE, STEERING_PAGE = "pages/features.py", "pages/steering.py"


def label_line(pages, f: int) -> str:
    """Markdown: the feature's label (its concept only when the AUROC reaches the bar), the best match and what
    its AUROC rests on; a dead feature: that it is dead, nothing computed from its zeros."""
    a, label = pages.arrays, pages.label(f)
    if a["dead"][f]:
        return f"**Dead**: never fired on the {pages.meta['n_tokens']:,} cached tokens: no label, no concept match"
    best = int(a["concept_best"][f])
    if best < 0:
        return f"**{NO_CONCEPT}** (no ground-truth concepts in this corpus)"
    concept, au = views.md_escape(pages.meta["concepts"][best]), float(a["concept_auroc"][f])
    rests = unit_view.rests_on(label_evidence(pages.meta, a, f))
    if label == NO_CONCEPT:
        return (f"**{NO_CONCEPT}**: best match `{pages.meta['concepts'][best]}` has AUROC {au:.3f}, below the bar "
                f"of {CONCEPT_AUROC_BAR}{rests}")
    return f"**Concept: {concept}** (AUROC {au:.3f} ≥ {CONCEPT_AUROC_BAR}{rests})"


def sample_line(pages) -> str:
    """Which tokens the page's numbers come from (and, for an SNMF, what counts as firing)."""
    meta = pages.meta
    text = (f"Density, examples and histogram: all {meta['n_tokens']:,} cached tokens (BOS left out)")
    if meta.get("concept_sample"):
        text += f"; concept AUROCs: a sample of {meta['concept_sample']:,} of them"
    share = float(meta.get("active_above_share_of_max") or 0)
    if share > 0:
        text += (f". An SNMF code is never exactly 0: a feature counts as firing where its code exceeds "
                 f"{share:.0%} of its largest code (density, dead / dense flags)")
    return text + "."


def header(name: str, pages, f: int) -> None:
    """Title, label, summary, statistics and the steering button."""
    a = pages.arrays
    st.header(f"Feature {f}")
    st.markdown(label_line(pages, f))
    unit_view.label_warning(label_evidence(pages.meta, a, f), pages.label(f) != NO_CONCEPT, "feature")
    st.markdown(views.md_escape(pages.summary(f)))
    st.caption(views.md_escape(sample_line(pages)))
    m = st.columns([1, 1, 1, 1, 2])
    m[0].metric("density", f"{a['density'][f]:.2e}")
    m[1].metric("max activation", f"{a['max_act'][f]:.3g}")
    m[2].metric("output score", f"{a['output_score'][f]:.3g}")
    m[3].metric("flags", "dead" if a["dead"][f] else ("dense" if a["dense"][f] else "live"))
    if not data.is_opened(name) and m[4].button("Steer this feature", key="steer_feature", icon=":material/tune:"):
        st.switch_page(STEERING_PAGE, query_params={"dictionary": name, "feature": str(f)})


NO_LOGITS = "This hook has no linear path to the logits: no logit effects."


def unit(pages, f: int) -> Unit:
    """Feature f's rows of its pages, for the shared unit view."""
    a, meta = pages.arrays, pages.meta
    best = int(a["concept_best"][f])
    concept_ex = (a["concept_ex_act"][f], a["concept_ex_ctx_tokens"][f], a["concept_ex_ctx_acts"][f]) \
        if "concept_ex_act" in a else None
    return Unit(f"Feature {f}", meta["bin_names"], a["bin_edges"][f], a["ex_ctx_tokens"][f], a["ex_ctx_acts"][f],
                a["ex_act"][f], a["hist_counts"][f], a["hist_edges"][f],
                {k: a[k][f] for k in ("logit_pos_ids", "logit_pos_vals", "logit_neg_ids", "logit_neg_vals")},
                meta.get("vocab"), meta["context"][0], a["ex_index"][f],
                meta["concepts"][best] if best >= 0 else None, concept_ex)


def full_context(name: str, pages, u: Unit, f: int, scale: float) -> None:
    """On demand, one example's whole passage (its document, up to 96 tokens) with the feature's activation on every
    token (hover a token for its value), recomputed from the workspace's cached activations."""
    index = unit_view.pick_example(u, f"full_context_{name}_{f}")
    if index is None:
        return
    if data.is_opened(name):
        st.info("Full contexts need the workspace's activation cache: these pages come from another folder.")
        return
    from apps.explorer.access import check_folder
    from interp.pages.context import full_context as passage

    cache = data.guarded("activation cache", "cache", data.activation_cache)
    check = check_folder(pages.meta["path"])
    if cache is None or check.message:
        st.info("The dictionary or the cache these pages were built from cannot be opened here.")
        return
    with st.spinner("reading the passage ..."):
        dic = data.dictionary(str(check.path), data.mtime(check.path))
        ctx = passage(cache, dic, pages.meta["hook"], index, f)
    unit_view.show_passage(ctx, pages.meta.get("vocab"), scale, "feature")


def examples(name: str, pages, f: int) -> None:
    """Token-highlighted examples per quantile bin, highest bin first, then its largest activations on its best
    concept's own tokens."""
    st.subheader("Top activating examples by quantile")
    scale, u = float(pages.arrays["max_act"][f]), unit(pages, f)
    st.html(unit_view.examples_html(u, scale))
    full_context(name, pages, u, f, scale)
    unit_view.concept_examples(u, scale, "feature")


def logit_chart(pages, f: int) -> None:
    """Top positive and negative logits of the feature's direction (one figure)."""
    unit_view.logit_chart(unit(pages, f), "logits", NO_LOGITS)


def charts(pages, f: int) -> None:
    """The activation histogram or the logits: lazy tabs, only the open one is computed and drawn."""
    unit_view.charts(unit(pages, f), ("feature_chart", "act_hist", "logits"), NO_LOGITS)


def neighbours(name: str, pages, table: pd.DataFrame, f: int) -> None:
    """Decoder-cosine neighbours, each a link to its own feature page."""
    a = pages.arrays
    st.subheader("Decoder-cosine neighbours")
    cols = st.columns(4)
    rows = table.set_index("feature")
    for i, (n, c) in enumerate(zip(a["neighbour_ids"][f], a["neighbour_cos"][f])):
        label = rows.at[int(n), "label"]
        cols[i % 4].page_link(FEATURES_PAGE, label=f"#{int(n)} · cos {float(c):.2f} · {label}",
                              query_params={"dictionary": name, "feature": str(int(n)),
                                            **({"pages": name} if data.is_opened(name) else {})})


def try_text(pages, f: int) -> None:
    """The feature's activations on the user's own text (runs the model, under a spinner)."""
    meta = pages.meta
    st.subheader("Try your own text")
    text = st.text_input("Text", key="try_text", placeholder="Mary and John went to the park. John gave a ball to")
    if not text:
        return
    from apps.explorer.access import check_folder
    from interp.text_features import text_activations

    check = check_folder(meta["path"])  # pages opened from an --allow folder may record a dictionary elsewhere
    if check.message:
        st.info(f"The dictionary these pages were built from cannot be opened here: {check.message}")
        return
    from interp.provenance import ModelRecord, ProvenanceError, check_model

    if refusal := data.model_refusal(meta["model"]):  # pages may record any model: the same rule as the Open page
        st.info(f"The model these pages were built from cannot be loaded here: {refusal}")
        return
    path, processing = check.path, meta.get("weight_processing") or data.weight_processing()
    try:  # the check every command makes: the model must still have the weights the pages were built on
        check_model(meta["model"], processing, ModelRecord.read(meta, "these feature pages"))
    except ProvenanceError as e:
        st.error(str(e))
        return
    with st.spinner(f"running {meta['model']} and the dictionary on your text ..."):
        dic = data.guarded("dictionary", "saes", data.dictionary, str(path), data.mtime(path))
        mod = data.guarded("model", "cache", data.model, meta["model"], processing)
        if dic is None or mod is None:
            return
        try:
            res = text_activations(mod, dic, text)
        except ValueError as e:  # too long for the model's context
            st.error(str(e))
            return
    if res.unknown:
        st.warning(res.unknown)
    col = res.codes[:, f]
    scale = max(float(pages.arrays["max_act"][f]), float(np.max(col)))
    st.markdown(views.highlight(range(len(res.strs)), col, res.strs, scale), unsafe_allow_html=True)
    st.caption(f"max activation of feature {f} on this text: {float(col[1:].max(initial=0)):.3f}")


def render(name: str, pages, table: pd.DataFrame, f: int) -> None:
    """The whole feature page of feature f of dictionary `name` (a dead feature: one card, then its logits)."""
    header(name, pages, f)
    if pages.arrays["dead"][f]:
        st.info(f"Feature {f} never fired on {pages.meta['n_tokens']:,} tokens (the cached tokens): no examples, "
                f"no activation histogram.")
        logit_chart(pages, f)
    else:
        left, right = st.columns([3, 2])
        with left:
            examples(name, pages, f)
        with right:
            charts(pages, f)
    neighbours(name, pages, table, f)
    try_text(pages, f)
