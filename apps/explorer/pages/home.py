"""Overview page (the explorer's first page): what the workspace holds (model, hook, corpus, tokens), how it was
built (each step's status, time, and why a step was skipped), and one row per dictionary with its metrics from
eval.json (L0, R², CE loss recovered, KL, dead and dense fractions); clicking a dictionary opens its features."""

from __future__ import annotations

import streamlit as st

from apps.explorer import data, eval_data, state
from apps.explorer.figures import md_escape

st.title("Overview")
ws = data.layout()
man = data.manifest()
if not man:
    st.info(f"No workspace in {ws.root} yet. Build it with {data.build_hint()} (or `make demo` for everything).")
    st.stop()

cfg, cache = man.get("config", {}), data.cache_manifest()
from interp.corpus import summary as corpus_summary  # noqa: E402

corpus = {**cache.get("corpus", {}), "tokens": cache.get("n_tokens")} if cache else {}
facts = {
    "Model": f"{cfg.get('model', '?')} ({cfg.get('weight_processing', 'default')} weight processing)",
    "Hook": f"blocks.{cfg['layer']}.mlp.hook_post" if "layer" in cfg else "?",
    "Corpus": corpus_summary(corpus) if corpus else (cfg.get("corpus") or "toyworld") + " (no activation cache yet)",
    "Tokens": f"{cache['n_tokens']:,} cached activations" if cache.get("n_tokens") else "no activation cache yet",
    "Workspace": str(ws.root)}
st.markdown("\n".join(f"- **{k}**: {md_escape(v)}" for k, v in facts.items()))

st.subheader("Dictionaries")
metrics = eval_data.dictionary_metrics()
if metrics.empty:
    data.missing("dictionaries", "saes")
else:
    event = st.dataframe(metrics, hide_index=True, width="stretch", key="dictionaries", on_select="rerun",
                         selection_mode="single-row",
                         column_config={c: st.column_config.NumberColumn(format="%.3f")
                                        for c in eval_data.METRICS.values()})
    st.caption("L0: active features per token; R²: variance explained; CE loss recovered and KL score: how much of "
               "the model's loss / distribution the reconstruction keeps (1 = all); dead / dense: fractions of "
               "features that never fire / fire on more than 10% of tokens. Click a row to open its features.")
    row = state.picked("dictionaries", event.selection.rows)
    if row is not None and row < len(metrics) and metrics["dictionary"].iloc[row] in data.feature_dictionaries():
        st.switch_page("pages/features.py", query_params={"dictionary": str(metrics["dictionary"].iloc[row])})

st.subheader("Build steps")
steps = data.steps_table()
if steps.empty:
    st.info("workspace.json records no steps.")
else:
    total = man.get("last_run", {}).get("total_seconds")
    st.dataframe(steps, hide_index=True, width="stretch", key="steps",
                 column_config={"seconds": st.column_config.NumberColumn(format="%.1f s")})
    for _, r in steps[steps["status"] == "skipped"].iterrows():
        st.info(f"{r['step']}: skipped: {r['reason']}")
    if total is not None:
        st.caption(f"last `interp workspace build` run: {total:.1f} s (steps already up to date keep the time of the "
                   f"run that built them)")

st.subheader("Pages")
links = st.columns(5)
for col, (page, label) in zip(links, [("pages/features.py", "Features"), ("pages/neurons.py", "Neurons"),
                                      ("pages/steering.py", "Steering"), ("pages/circuits.py", "Circuits"),
                                      ("pages/open.py", "Open")]):
    col.page_link(page, label=label)
