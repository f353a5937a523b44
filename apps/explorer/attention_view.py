"""The Circuits page's circuit knowledge and attention view: the circuit the workspace's model is known to have on
its task (circuits.known, data beside the model), and one chosen head's attention pattern on one chosen prompt of
the task (run on demand under a spinner: the model is loaded only when the view is switched on)."""

from __future__ import annotations

import streamlit as st

from apps.explorer import data
from apps.explorer import figures as views


def known_circuit_note(model: str, task: str) -> list:
    """Say which circuit `model` is known to have on `task` (or that none is recorded); returns those circuits."""
    from circuits.known import known_circuits

    try:
        known = known_circuits(model, task)
    except ValueError as e:
        st.warning(str(e))
        return []
    for c in known:
        st.success(f"**Known circuit of {views.md_escape(model)} on {views.md_escape(c.task)}: {c.name}, "
                   f"{c.label()}.** {views.md_escape(c.summary)} (source: {views.md_escape(c.source)})",
                   icon=":material/account_tree:")
    if not known:
        st.caption(f"No circuit is recorded for {views.md_escape(model)} on {views.md_escape(task)} (a circuits.json "
                   f"beside the model records one: circuits.known).")
    return known


@st.cache_resource(max_entries=2, show_spinner=False)
def _prompts(model_name: str, processing: str):
    """Clean prompts of the model's IOI task (8 of them) as token ids and strings."""
    from circuits.cli import build_task
    from circuits.config import TaskOptions

    mod = data.model(model_name, processing)
    task = build_task(TaskOptions(task="ioi", n_prompts=8), mod).task
    clean = getattr(task, "clean", None)
    if clean is None:  # prompts of several lengths: the first group's
        clean = task.groups[0].clean
    return [(row, mod.to_str_tokens(row), mod.to_string(row[1:])) for row in clean]


def strongest_head(results) -> tuple[int, int]:
    """(layer, head) of the largest |score| of the head_out result, else (0, 0)."""
    r = results.get("head_out")
    if r is None or r.scores.ndim != 2:
        return 0, 0
    flat = int(r.scores.abs().reshape(-1).argmax())
    return divmod(flat, r.scores.shape[-1])


def render(results, method: str) -> None:
    """The attention view: a toggle, then layer / head / prompt pickers and the pattern (plotly heatmap)."""
    st.subheader("Attention patterns")
    if not st.toggle("Show a head's attention pattern on one of the task's prompts (runs the model)",
                     key="show_attention"):
        return
    model_name, processing = data.workspace_model(), data.weight_processing()
    if refusal := data.model_refusal(model_name):
        st.info(refusal)
        return
    from circuits.known import attention_pattern, known_circuits

    with st.spinner(f"loading {model_name} and its IOI prompts ..."):
        try:
            prompts = _prompts(model_name, processing)
        except Exception as e:  # a model without IOI names, a tokenizer-less model: say so
            st.info(f"No IOI prompts for {model_name}: {type(e).__name__}: {e}")
            return
        mod = data.model(model_name, processing)
    known = known_circuits(model_name, data.patch_task(method))
    default = known[0].heads[0] if known else strongest_head(results)
    st.session_state.setdefault("attn_layer", int(default[0]))
    st.session_state.setdefault("attn_head", int(default[1]))
    c1, c2, c3 = st.columns([1, 1, 4])
    layer = int(c1.number_input("Layer", 0, mod.cfg.n_layers - 1, key="attn_layer"))
    head = int(c2.number_input("Head", 0, mod.cfg.n_heads - 1, key="attn_head"))
    k = c3.selectbox("Prompt", range(len(prompts)), key="attn_prompt",
                     format_func=lambda i: prompts[i][2])
    tokens, strs, _ = prompts[k]
    pattern = attention_pattern(mod, tokens, layer, head)
    st.plotly_chart(views.attention_figure(pattern, strs, f"L{layer}H{head} attention on prompt {k}"),
                    key="attention", config=views.CHART_CONFIG)
    st.caption(f"Opened on {'the known circuit head' if known else 'the head of largest |score| in head_out'}; "
               f"each row is where that token's query attends (rows sum to 1).")
