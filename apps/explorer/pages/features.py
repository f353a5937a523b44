"""Features page: pick model / hook / dictionary (SAE architectures, SNMF, and the shipped converged dictionaries the
workspace links, marked "shipped, converged: N tokens"), the dictionary's metrics (eval.json),
a searchable and sortable feature table (or a map of the features) that drives the feature page below it: clicking
a row or a point, or searching / filtering, opens that feature. The URL (?dictionary=NAME&feature=N) reopens it;
?pages=FOLDER opens a folder of pages outside the workspace's features/ (`interp feature-pages`), when it lies inside
the workspace or an `interp explore --allow` folder."""

from __future__ import annotations

import streamlit as st

from apps.explorer import data, eval_data, feature_view, state
from apps.explorer import figures as views
from apps.workspace.layout import shipped_labels
from interp.corpus import summary as corpus_summary

SORTS = ["density", "concept_auroc", "output_score", "max_act", "feature"]
COLUMNS = ["feature", "label", "density", "concept", "concept_auroc", "output_score", "max_act", "dead", "dense"]

st.title("Features")
opened = data.open_pages(st.query_params["pages"]) if "pages" in st.query_params else None
names = data.feature_dictionaries()
if not names:
    data.missing("feature pages", "features")
    st.stop()
metas = {}
for n in names:
    p = data.guarded(f"feature pages of {n}", "features", data.feature_pages, n)
    if p is not None:
        metas[n] = p.meta
if not metas:
    st.stop()

from_url = state.arrive("features", {"dictionary": state.choice(list(metas)), "feature": int})
if opened in metas and state.changed("opened_pages", opened) | ("dictionary" not in st.query_params):
    st.session_state["dictionary"], from_url = opened, True  # ?pages=FOLDER opens that folder's pages
chosen = st.session_state.get("dictionary")
if chosen in metas and (from_url or "model" not in st.session_state):
    st.session_state["model"], st.session_state["hook"] = metas[chosen]["model"], metas[chosen]["hook"]
c1, c2, c3 = st.columns(3)
models = sorted({m["model"] for m in metas.values()})
state.keep_valid("model", models)
model = c1.selectbox("Model", models, key="model")
hooks = sorted({m["hook"] for m in metas.values() if m["model"] == model})
state.keep_valid("hook", hooks)
hook = c2.selectbox("Hook", hooks, key="hook")
choices = [n for n, m in metas.items() if m["model"] == model and m["hook"] == hook]
state.keep_valid("dictionary", choices)
shipped = shipped_labels(data.layout())  # the converged dictionaries shipped for the model, marked
name = c3.selectbox("Dictionary", choices, key="dictionary",
                    format_func=lambda n: f"{n} ({metas[n]['d_sae']} features" + (f"; {shipped[n]})" if n in shipped
                                                                                    else ")"))
pages = data.feature_pages(name)
meta, a = pages.meta, pages.arrays
table = data.feature_table(name, data.feature_mtime(name))
if st.session_state.get("_feature_of") != name:  # another dictionary: its feature numbers mean other features
    named = from_url and name in (st.query_params.get("dictionary"), opened) and "feature" in st.query_params
    if not named:  # open its first live feature in the table's order (below), unless the URL names one
        st.session_state.pop("feature", None)
    st.session_state["_feature_of"] = name

metrics_tab, probing_tab, absorption_tab = st.tabs(["Metrics", "Sparse probing", "Absorption"], key="dictionary_eval",
                                                  on_change="rerun")  # lazy: only the open tab is drawn
if metrics_tab.open:
    with metrics_tab:
        metrics = eval_data.dictionary_metrics().set_index("dictionary")
        if name in metrics.index:
            row = metrics.loc[name]
            cols = st.columns(len(eval_data.METRICS) + 1)
            cols[0].metric("method", str(row["method"]))
            for col, label in zip(cols[1:], eval_data.METRICS.values()):
                col.metric(label, "n/a" if row[label] is None or row[label] != row[label] else
                           f"{float(row[label]):.3g}")
if probing_tab.open or absorption_tab.open:
    from apps.explorer import eval_view

    folder = eval_data.dictionary_folder(name, meta)
    report, where = (None, meta.get("path")) if folder is None else (eval_data.eval_report(folder), str(folder))
    if probing_tab.open:
        with probing_tab:
            eval_view.sparse_probing(report, name, where, "probing")
    if absorption_tab.open:
        with absorption_tab:
            eval_view.absorption(report, where, "absorption")
st.caption(f"{meta['d_sae']} features of {meta['dictionary_kind']} `{meta['path']}` at {meta.get('hook', '?')} of "
           f"{meta.get('model') or 'an unrecorded model'} ({corpus_summary(meta.get('corpus') or {})}) over "
           f"{meta['n_tokens']:,} cached tokens; {int(a['dead'].sum())} dead, {int(a['dense'].sum())} dense (fire on > "
           f"{meta['dense_threshold']:.0%} of tokens); metrics from the dictionary's eval.json")

f1, f2, f3, f4 = st.columns([3, 2, 1, 1])
query = f1.text_input("Search: concept (e.g. colour) or feature index", key="search").strip()
sort = f2.selectbox("Sort by", SORTS, key="sort")
desc = f3.checkbox("Descending", value=True, key="desc")
hide_dead = f4.checkbox("Hide dead", value=False, key="hide_dead")
shown = table
if query:
    hit = shown["concept"].str.contains(query, case=False, regex=False) | \
        shown["label"].str.contains(query, case=False, regex=False)
    if query.isdigit():
        hit |= shown["feature"] == int(query)
    shown = shown[hit]
if hide_dead:
    shown = shown[~shown["dead"]]
shown = shown.sort_values(sort, ascending=not desc, na_position="last")[COLUMNS]

before = st.session_state.get("_feature_search", "")
st.session_state["_feature_search"] = query
if state.changed("feature_filters", (query, sort, desc, hide_dead)):
    hit = state.after_filters(before, query, int(st.session_state.get("feature", -1)), list(shown["feature"]))
    if hit is not None:
        st.session_state["feature"] = hit  # a new search opens its first match; clearing it keeps the feature
table_tab, map_tab = st.tabs(["Feature table", "Feature map"], key="table_view", on_change="rerun")
if table_tab.open:
    with table_tab:
        event = st.dataframe(shown, height=260, hide_index=True, width="stretch", key="feature_table",
                             on_select="rerun", selection_mode="single-row")
        row = state.picked("feature_table", event.selection.rows)
        if row is not None and row < len(shown):
            st.session_state["feature"] = int(shown["feature"].iloc[row])
        st.caption(f"{len(shown):,} of {len(table):,} features; click a row to open it")
if map_tab.open:
    with map_tab:
        event = st.plotly_chart(views.feature_map(shown), key="feature_map", on_select="rerun",
                                selection_mode="points", config=views.CHART_CONFIG)
        hit = state.picked("feature_map", [p["customdata"] for p in event.selection.points if "customdata" in p])
        if hit is not None:
            st.session_state["feature"] = hit

live = shown.loc[~shown["dead"], "feature"]
st.session_state.setdefault("feature", int(live.iloc[0]) if len(live) else pages.first_live())
st.session_state["feature"] = min(max(int(st.session_state["feature"]), 0), meta["d_sae"] - 1)
f = int(st.number_input("Feature", 0, meta["d_sae"] - 1, key="feature"))
state.publish("features", dictionary=name, feature=f, **({"pages": name} if data.is_opened(name) else {}))
feature_view.render(name, pages, table, f)
