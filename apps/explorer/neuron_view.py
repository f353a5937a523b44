"""The neuron page (rendered by pages/neurons.py under the neuron table) and the universal-neuron view: what a
feature page shows, for one MLP neuron (label and summary, statistics, examples by quantile bin, the activation
histogram or its logit effects in lazy tabs), "Steer this neuron", and its best correlates in the other seeds'
models as links."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
import streamlit as st

from apps.explorer import data, sparsity_data, state, unit_view
from apps.explorer import figures as views
from apps.explorer.unit_view import Unit
from interp.neurons.pages import neuron_summary
from interp.pages.builder import BIN_NAMES, CONCEPT_AUROC_BAR
from interp.sparsity.artifacts import NeuronSparsity, neuron_sparsity

if TYPE_CHECKING:
    from interp.pages.evidence import LabelEvidence

NEURONS_PAGE, STEERING_PAGE = "pages/neurons.py", "pages/steering.py"
STAT_NAMES = ["mean", "var", "skew", "kurtosis", "zero_frac", "w_in_norm", "w_out_norm", "cos_in_out", "vocab_kurtosis"]


def evidence(pages, row: pd.Series) -> LabelEvidence | None:
    """What the neuron's label rests on (interp.pages.evidence, recorded in its pages), when the pages were built
    on the statistics the table shows (the same best concept); None otherwise."""
    if pages is None or "concept_best" not in pages[0]:
        return None
    from interp.pages.evidence import label_evidence

    ev = label_evidence(pages[1], pages[0], (int(row["layer"]), int(row["neuron"])))
    return ev if ev is not None and ev.concept == row["concept"] else None


def header(model: str, row: pd.Series, has_universal: bool, dead: bool, ev: LabelEvidence | None) -> None:
    """Title, label and statistics of the neuron in table row `row`, what its label rests on (`ev`) and the steering
    button; a dead neuron shows that it is dead and nothing computed from its zeros (no top token, no concept
    match)."""
    layer, neuron = int(row["layer"]), int(row["neuron"])
    st.header(f"L{layer} N{neuron}: {row['family']}")
    if dead:
        st.markdown("**Dead**: never fired on the statistics' tokens, so no top token, no label, no concept match")
    else:
        concept = views.md_escape(row["concept"]) if row["concept"] else "(none)"
        st.markdown(f"**{views.md_escape(row['label'])}** (best concept {concept}, AUROC {row['concept_auroc']:.3f}"
                    f"{unit_view.rests_on(ev)})")
        unit_view.label_warning(ev, row["concept_auroc"] >= CONCEPT_AUROC_BAR, "neuron")
    m = st.columns([1, 1, 1, 1, 2])
    m[0].metric("firing frequency", f"{row['fire_freq']:.3f}")
    if dead:
        m[1].metric("top token", "none (dead)")
    else:
        m[1].metric("top token", repr(row["top_token"]), f"lift {row['token_lift']:.2f}", delta_color="off")
    m[2].metric("positional MI (bits)", "n/a" if dead else f"{row['pos_mi']:.3f}")
    m[3].metric("excess correlation", f"{row['excess_corr']:.3f}" if has_universal else "n/a")
    if m[4].button("Steer this neuron", key="steer_neuron", icon=":material/tune:"):
        st.switch_page(STEERING_PAGE, query_params={"model": model, "layer": str(layer), "neuron": str(neuron)})


def sample_line(stats, meta: dict | None) -> str:
    """Which tokens the page's numbers come from: the statistics' tokens and the (smaller) sample its examples and
    histogram were drawn from."""
    text = f"Statistics (firing, top token, concept AUROC, families): {stats.n_tokens:,} tokens"
    if meta is not None:
        text += f"; examples and activation histogram: a sample of {int(meta['n_tokens']):,} tokens"
        corpus = meta.get("corpus") or {}
        if corpus.get("n_docs"):
            text += f" ({corpus['n_docs']} documents of the {corpus.get('split', '?')} split)"
    return text + "."


def sparsity_line(ns: NeuronSparsity, run) -> str:
    """The neuron's hot / cold rank (PowerInfer) and dormancy (ReDo) from the workspace's sparsity run."""
    n = run.arrays["hot_rank"].size
    dormant = [t for t, is_dormant in ns.dormant.items() if is_dormant]
    state = f"dormant at tau {', '.join(dormant)}" if dormant else "not dormant at any recorded tau"
    return (f"Sparsity run ({run.corpus.get('tokens', 0):,} tokens): hot rank {ns.hot_rank + 1:,} of {n:,} neurons "
            f"(1: fires most often; this one fires on {ns.active_freq:.1%} of tokens at the activity CETT); "
            f"exactly zero on {ns.zero_frac:.1%}; ReDo dormancy score {ns.dormancy:.3f} ({state})")


NO_LOGITS = "No logit effects recorded for this neuron."


def unit(arr: dict, meta: dict, layer: int, neuron: int) -> Unit:
    """The neuron's rows of its pages, for the shared unit view (its concept examples when its pages have them)."""
    at = (layer, neuron)
    best = int(arr["concept_best"][at]) if "concept_best" in arr else -1
    return Unit(f"L{layer} N{neuron}", meta.get("bin_names", BIN_NAMES), arr["bin_edges"][at],
                arr["ex_ctx_tokens"][at], arr["ex_ctx_acts"][at], arr["ex_act"][at], arr["hist_counts"][at],
                arr["hist_edges"][at],
                {k: arr[k][at] for k in ("logit_pos_ids", "logit_pos_vals", "logit_neg_ids", "logit_neg_vals")},
                meta["vocab"], meta["context"][0], arr["ex_index"][at] if "row_tokens" in arr else None,
                meta["concepts"][best] if best >= 0 else None,
                (arr["concept_ex_act"][at], arr["concept_ex_ctx_tokens"][at], arr["concept_ex_ctx_acts"][at])
                if best >= 0 else None)


def full_context(model: str, pages, u: Unit, layer: int, neuron: int, scale: float) -> None:
    """On demand, one example's whole passage (its row of the pages, up to 96 tokens) with the neuron's activation
    on every token (hover a token for its value), from one forward pass of the model over that row."""
    arr, meta = pages
    if u.ex_index is None:
        st.caption("Full contexts: these neuron pages were built before their rows were kept; rebuild them "
                   "(`workspace build --force neurons`).")
        return
    index = unit_view.pick_example(u, f"neuron_context_{model}_{layer}_{neuron}")
    if index is None:
        return
    if refusal := data.model_refusal(meta["model"]):
        st.info(f"The model these pages were built from cannot be loaded here: {refusal}")
        return
    from interp.pages.context import neuron_context

    with st.spinner(f"running {meta['model']} over the example's row ..."):
        mod = data.guarded("model", "neurons", data.model, meta["model"],
                           meta.get("weight_processing") or data.weight_processing())
        if mod is None:
            return
        ctx = neuron_context(mod, arr["row_tokens"], index, layer, neuron)
    unit_view.show_passage(ctx, meta.get("vocab"), scale, "neuron")


def examples(model: str, pages, layer: int, neuron: int) -> None:
    """Examples per quantile bin of the neuron's positive activations, highest first (one line each, values on
    hover, a whole passage on demand), then its largest activations on its best concept's own tokens."""
    st.subheader("Top activating examples by quantile")
    u = unit(*pages, layer, neuron)
    scale = float(u.bin_edges[-1])
    st.html(unit_view.examples_html(u, scale))
    full_context(model, pages, u, layer, neuron, scale)
    unit_view.concept_examples(u, scale, "neuron")


def charts(arr: dict, meta: dict, layer: int, neuron: int) -> None:
    """Activation histogram or logit effects (lazy tabs: only the open one is drawn)."""
    unit_view.charts(unit(arr, meta, layer, neuron), ("neuron_chart", "neuron_hist", "neuron_logits"), NO_LOGITS)


def logit_chart(arr: dict, meta: dict, layer: int, neuron: int) -> None:
    """Top positive and negative logits of the neuron's output weights."""
    unit_view.logit_chart(unit(arr, meta, layer, neuron), "neuron_logits", NO_LOGITS)


def correlates(model: str, layer: int, neuron: int) -> None:
    """The neuron's best-correlated neuron in each other seed's model, as links where that model has a page."""
    st.subheader("Best correlates in the other seeds")
    folder = data.layout().universal / model
    if not (folder / "examples.json").is_file():
        reason = data.skip_reason("universal")
        st.info(f"No cross-seed correlates: the workspace build skipped universal neurons: {reason}" if reason else
                f"No cross-seed correlates for {model}: it is not among the universal-neuron seeds.")
        return
    pages = data.guarded("universal-neuron correlates", "universal", data.neuron_pages, folder)
    if pages is None:
        return
    arr, meta = pages
    known = set(data.neuron_models())
    for other, i, r in zip(meta["others"], arr["corr_ids"][:, layer, neuron], arr["corr_vals"][:, layer, neuron]):
        text = f"{other} L{layer} N{int(i)}: correlation {float(r):.3f}"
        if other in known:  # every seed's statistics and pages are in the workspace (universal/SEED)
            st.page_link(NEURONS_PAGE, label=text, query_params={"model": other, "layer": str(layer),
                                                                 "neuron": str(int(i))})
        else:
            st.markdown(f"- {views.md_escape(text)} (no page: its statistics are not in this workspace)")


def render(model: str, stats, row: pd.Series, has_universal: bool) -> None:
    """The neuron page of table row `row` (a dead neuron: one card instead of empty bins and plots)."""
    layer, neuron = int(row["layer"]), int(row["neuron"])
    pages = data.guarded(f"neuron examples of {model}", "neurons", data.neuron_pages, data.neuron_folder(model))
    header(model, row, has_universal, bool(stats.dead[layer, neuron]), evidence(pages, row))
    if pages is not None:
        arr, meta = pages
        st.markdown(views.md_escape(neuron_summary(arr, meta, layer, neuron)))
    st.caption(views.md_escape(sample_line(stats, pages[1] if pages is not None else None)))
    run = sparsity_data.run_of(model)
    if run is not None:
        st.caption(views.md_escape(sparsity_line(neuron_sparsity(run, layer, neuron), run)))
    if stats.dead[layer, neuron]:
        st.info(f"L{layer} N{neuron} never fired on {stats.n_tokens:,} tokens: no examples, no activation histogram.")
        if pages is not None:
            logit_chart(*pages, layer, neuron)
    elif pages is not None:
        left, right = st.columns([3, 2])
        with left:
            examples(model, pages, layer, neuron)
        with right:
            charts(*pages, layer, neuron)
    st.dataframe(pd.DataFrame({k: [float(stats.arrays[k][layer, neuron])] for k in STAT_NAMES}), hide_index=True)
    correlates(model, layer, neuron)


def universal_view(model: str, table: pd.DataFrame) -> tuple[int, int] | None:
    """How many of the model's neurons are universal (excess correlation above the threshold), the nearest
    candidates when none is, and the fraction per layer; returns (layer, neuron) of a candidate the user clicked."""
    reason = data.skip_reason("universal")
    if reason is not None:
        st.info(f"Universal neurons: skipped: {reason}")
        return None
    got = data.guarded("universal-neuron results", "universal", data.universal)
    if got is None:
        return None
    res, meta = got
    if model not in res.models:
        st.info(f"{model} is not among the universal-neuron seeds ({', '.join(res.models)}): universality compares "
                f"the neurons of differently seeded models of one architecture.")
        return None
    k = res.models.index(model)
    n, largest = int(res.universal[k].sum()), float(res.excess[k].max())
    st.markdown(f"**{n} neurons above {res.threshold:g}** (largest excess {largest:.2f}) of {res.excess[k].size:,}, "
                f"over {len(res.models)} seeds and {res.n_tokens:,} tokens")
    cols = ["layer", "neuron", "excess_corr", "family", "label", "fire_freq"]
    top = table.nlargest(10, "excess_corr")[cols].reset_index(drop=True)
    st.caption("nearest candidates (largest excess correlation); click one to open it" if n == 0 else
               "most universal neurons; click one to open it")
    event = st.dataframe(top, hide_index=True, width="stretch", key="universal_table", on_select="rerun",
                         selection_mode="single-row")
    st.plotly_chart(views.universal_figure(meta["fraction_universal"]), key="universal_fig",
                    config=views.CHART_CONFIG)
    row = state.picked("universal_table", event.selection.rows)
    return None if row is None else (int(top["layer"].iloc[row]), int(top["neuron"].iloc[row]))
