"""A dictionary's eval.json beyond its headline metrics, rendered (the Features page's lazy tabs under the
dictionary's metrics, and the Open page): k-sparse probing of the ground-truth concepts against the hook's raw
neurons (`sparse_probing`, saes/eval/probing.py; Gurnee et al. 2023, SAEBench) and feature absorption per parent
concept with the thresholds it was measured at (`absorption`, saes/eval/absorption.py; Chanin et al. 2024).

eval.json holds every number; figures.probing_table / absorption_table flatten it and the figures draw it, so this
module only lays them out and says what is missing."""

from __future__ import annotations

import streamlit as st

from apps.explorer import figures as views

THRESHOLD_TEXT = {
    "probe_cos": "decoder cosine of the absorbing latent with the parent's probe direction, at least",
    "projection_share": "share of the token's probe projection the absorbing latent carries, at least",
    "min_probe_f1": "held-out F1 a parent's probe on the raw activations needs to be evaluated",
    "f1_jump": "a further main latent is kept while it raises the k-sparse probe's F1 by more than",
    "max_main_latents": "main latents per parent, at most",
    "word_level_share": "a child word carries its parent on at least this share of its occurrences",
    "child_specific_share": "share of the absorbing latent's firings on the parent that are on the token's child word, "
                            "at least",
}
"""What each absorption threshold eval.json records means (saes/eval/absorption.py; the first five are
SAEBench's)."""


def _section(report: dict | None, key: str, path: str) -> dict | None:
    """eval.json's `key` section, or None after saying why it is not shown (no eval.json, an older one, or the
    evaluation's reason it is absent, e.g. a corpus without labels)."""
    if report is None:
        st.info(f"No eval.json beside the dictionary: write one with `interp eval-sae --sae {path}`.")
        return None
    section = report.get(key)
    if section is None:
        st.info(f"This eval.json predates `{key}`: rerun `interp eval-sae --sae {path}` (or rebuild the workspace's "
                f"dictionaries) to add it.")
        return None
    if "absent" in section:
        st.info(f"No {key.replace('_', ' ')}: {section['absent']}")
        return None
    return section


def sparse_probing(report: dict | None, name: str, path: str, key: str) -> None:
    """Mean held-out F1 against k (dictionary vs raw neurons), the per-concept table and the concepts skipped."""
    sp = _section(report, "sparse_probing", path)
    if sp is None:
        return
    if not sp["concepts"]:
        st.info(f"No concept had enough tokens to probe ({len(sp['skipped'])} skipped).")
    else:
        st.plotly_chart(views.probing_figure(report, name), key=f"{key}_fig", config=views.CHART_CONFIG)
        st.dataframe(views.probing_table(report), hide_index=True, width="stretch", key=f"{key}_table")
    st.caption(views.md_escape(f"Method: {sp['method']}. A concept needs >= {sp['min_tokens_per_split']} tokens in "
                               f"each split; {len(sp['skipped'])} concepts were skipped for too few."))


def absorption(report: dict | None, path: str, key: str) -> None:
    """Absorption rate per parent concept, the table of what absorbed it, the thresholds and the parents left out."""
    ab = _section(report, "absorption", path)
    if ab is None:
        return
    table = views.absorption_table(report)
    if table.empty:
        st.info(f"No parent concept could be evaluated ({len(ab['skipped'])} left out).")
    else:
        st.plotly_chart(views.absorption_figure(table, ab["mean_rate"]), key=f"{key}_fig",
                        config=views.CHART_CONFIG)
        st.dataframe(table, hide_index=True, width="stretch", key=f"{key}_table")
    st.markdown(f"{views.md_escape(ab['definition'])}. Thresholds:\n"
                + "\n".join(f"- `{k}` = {v}: {views.md_escape(THRESHOLD_TEXT.get(k, ''))}"
                            for k, v in ab["thresholds"].items()))
    if ab["skipped"]:
        st.caption(views.md_escape("Left out: " + "; ".join(f"{p} ({why})" for p, why in ab["skipped"].items())))
