"""Steering page: pick a dictionary feature or a neuron (or arrive from a feature / neuron page's "Steer this"
button: ?dictionary=NAME&feature=N or ?model=NAME&layer=L&neuron=N), α or a KL target and a prompt; base and
steered generations side by side with the promoted / suppressed tokens; and the saved steering benchmark table."""

from __future__ import annotations

import streamlit as st

from apps.explorer import data, state
from apps.explorer import figures as views
from apps.workspace.layout import dictionary_folders


def bench_target(row, bench: dict) -> tuple[str, dict] | None:
    """(page, query parameters) of a benchmark row's feature or neuron page; None for difference-in-means."""
    method, index = str(row["method"]), int(row["index"])
    if method.startswith("neuron@L"):
        layer = method.split("@L")[-1]
        return "pages/neurons.py", {"model": bench["settings"]["config"].get("model", ""), "layer": layer,
                                    "neuron": str(index)}
    label = method.removesuffix("+outfilter")
    path = next((d["path"] for d in bench.get("dictionaries", []) if d["label"] == label), None)
    name = next((n for n, p in dictionary_folders(data.layout()).items() if path and str(p) == str(path)), None)
    if index < 0 or name is None or name not in data.feature_dictionaries():
        return None
    return "pages/features.py", {"dictionary": name, "feature": str(index)}


st.title("Steering")
ws = data.layout()
dicts = dictionary_folders(ws)
ws_model = data.manifest().get("config", {}).get("model")
models = list(dict.fromkeys([*data.neuron_models(), *([ws_model] if ws_model else [])])) or ["toy-gelu-s0"]

url = state.arrive("steering", {"kind": state.choice(["feature", "neuron"]), "dictionary": state.choice(list(dicts)),
                                "feature": int, "model": state.choice(models), "layer": int, "neuron": int})
if url and "kind" not in st.query_params:  # from a feature or neuron page's "Steer this" button
    st.session_state["kind"] = "feature" if "dictionary" in st.query_params else "neuron"
st.subheader("Steer a model")
c1, c2, c3 = st.columns(3)
kind = c1.radio("Direction", ["feature", "neuron"], horizontal=True, key="kind",
                disabled=not dicts, index=0 if dicts else 1)
if kind == "feature" and dicts:
    state.keep_valid("dictionary", list(dicts))
    name = c2.selectbox("Dictionary", list(dicts), key="dictionary")
    pages = data.guarded(f"feature pages of {name}", "features", data.feature_pages, name)
    d_sae = pages.d_sae if pages is not None else 1
    st.session_state["feature"] = min(max(int(st.session_state.get("feature", 0)), 0), d_sae - 1)
    feature = int(c3.number_input("Feature", 0, d_sae - 1, key="feature"))
    model_name = pages.meta["model"] if pages is not None else models[0]
    if pages is not None:
        st.caption(f"feature {feature} of {name}: {views.md_escape(pages.label(feature))}. "
                   f"{views.md_escape(pages.summary(feature))}")
    state.publish("steering", kind=kind, dictionary=name, feature=feature)
else:
    state.keep_valid("model", models)
    model_name = c2.selectbox("Model", models, key="model")
    stats = data.neuron_stats(model_name) if model_name in data.neuron_models() else None
    n_layers, d_mlp = (stats.n_layers, stats.d_mlp) if stats is not None else (64, 1 << 16)
    ln = c3.columns(2)
    st.session_state["layer"] = min(max(int(st.session_state.get("layer", 0)), 0), n_layers - 1)
    st.session_state["neuron"] = min(max(int(st.session_state.get("neuron", 0)), 0), d_mlp - 1)
    layer = int(ln[0].number_input("Layer", 0, n_layers - 1, key="layer"))
    neuron = int(ln[1].number_input("Neuron", 0, d_mlp - 1, key="neuron"))
    state.publish("steering", kind=kind, model=model_name, layer=layer, neuron=neuron)
s1, s2, s3, s4 = st.columns([1, 1, 1, 3])
mode = s1.radio("Strength", ["KL target", "alpha"], key="mode",
                help="α: the multiple of the unit direction added at the hook (negative: suppress it); KL target: "
                     "the α found by bisection at which KL(base || steered) at the prompt's last token hits it")
alpha_in = s2.number_input("α (negative suppresses)", value=8.0, step=1.0, key="alpha", disabled=mode != "alpha")
kl_in = s3.number_input("KL target (nats)", value=0.5, min_value=0.001, step=0.1, key="kl_target",
                        disabled=mode != "KL target")
prompt = s4.text_input("Prompt", "The", key="prompt")
n_new = st.slider("Tokens to generate", 1, 30, 12, key="n_new")

if st.button("Steer", key="steer", type="primary"):
    from interp.dictionary import info
    from interp.provenance import check_model, dictionary_record
    from interp.steering.compare import steer_compare, steering_vector
    from interp.steering.vectors import feature_vector

    st.session_state.pop("steer_result", None)  # an error must not leave the previous result on screen
    with st.spinner(f"steering {model_name} ..."):
        mod = data.guarded("model", "cache", data.model, model_name, data.weight_processing())
        try:
            if mod is not None:
                if kind == "feature" and dicts:  # the check every command makes (a ValueError: shown below)
                    check_model(model_name, data.weight_processing(), dictionary_record(str(dicts[name])))
                    dic = data.dictionary(str(dicts[name]), data.mtime(dicts[name]))
                    vec = feature_vector(dic, feature, mod, name=info(dicts[name]).label)
                else:
                    vec = steering_vector(mod, "neuron", layer=layer, neuron=neuron)
                st.session_state["steer_result"] = steer_compare(
                    mod, vec, prompt or "The", alpha=alpha_in if mode == "alpha" else None,
                    kl_target=kl_in if mode == "KL target" else None, max_new_tokens=n_new)
        except (ValueError, KeyError, IndexError) as e:
            st.error(f"Could not steer: {e}")
res = st.session_state.get("steer_result")
if res is not None:
    kl = f", KL {res.kl:.3g}" if res.kl is not None else ""
    st.caption(f"{views.md_escape(res.label)} with α = {res.alpha:.4g}{kl}; prompt {views.md_escape(repr(res.prompt))}")
    if res.note:
        st.warning(res.note)
    b, s = st.columns(2)
    b.markdown("**Base**")
    b.code(res.base_text or "(empty)", language=None)
    s.markdown("**Steered**")
    s.code(res.steered_text or "(empty)", language=None)
    st.plotly_chart(views.token_change_figure(res.promoted, res.suppressed), key="token_change",
                    config=views.CHART_CONFIG)

st.subheader("Steering benchmark")
bench = data.guarded("steering benchmark", "steering", data.bench)
if bench is not None:
    table = views.bench_table(bench)
    concepts = ", ".join(f"`{c}`" for c in bench["settings"]["concepts"])  # backticks: `:red` is markdown colour
    st.caption(f"{len(table)} directions on {concepts} at KL budget {bench['settings']['kl_budget']}: Δ mass = "
               f"P_steered - P_base of the concept's tokens at the next token, averaged over neutral prompts. Each "
               f"row says how its direction was chosen (`chosen_by`) and its concept AUROC on the benchmark's "
               f"documents; a feature's page may carry another label (its best concept over the whole cache). "
               f"Click a row to open its feature or neuron page.")
    st.info("A negative Δ mass means that at this KL budget the direction moved probability away from the "
            "concept's tokens: detecting a concept (high AUROC on its tokens) does not make a direction promote it "
            "as the next token; the KL budget was spent on other tokens.", icon=":material/info:")
    event = st.dataframe(table, hide_index=True, width="stretch", key="bench_table", on_select="rerun",
                         selection_mode="single-row")
    row = state.picked("bench_table", event.selection.rows)
    target = bench_target(table.iloc[row], bench) if row is not None and row < len(table) else None
    if target is not None:
        st.switch_page(target[0], query_params=target[1])
    elif row is not None:
        st.info("A difference-in-means direction is no unit of a dictionary or model: it has no page.")
    st.plotly_chart(views.bench_figure(table, bench["settings"]["kl_budget"]), key="bench_fig",
                    config=views.CHART_CONFIG)
    st.dataframe(views.bench_summary(bench), hide_index=True, key="bench_summary")
