"""Open page: any SAE folder in SAELens format (cfg.json + sae_weights.safetensors) and any model the loader takes
(shipped toy name, model folder, local Hugging Face folder or TransformerLens name); summary, eval report, and the
features that fire on your own text."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from apps.explorer import data
from apps.explorer import figures as views
from apps.workspace.layout import sae_folders

st.title("Open")
found = sae_folders(data.layout())
default = str(next(iter(found.values()))) if found else ""
folder = st.text_input("SAE folder (SAELens format: cfg.json + sae_weights.safetensors)", default, key="folder")
model_name = st.text_input("Model (shipped toy name, model folder, or TransformerLens name)", "toy-gelu-s0",
                           key="model_name")
if not folder:
    st.info(f"Give an SAE folder. The workspace's SAEs are built by {data.build_hint('saes')}.")
    st.stop()
path = Path(folder).expanduser()
if not (path / "cfg.json").is_file():
    st.error(f"{path} is not an SAE folder in SAELens format: it has no cfg.json. SAEs trained here are written by "
             f"`interp train-sae` (or {data.build_hint('saes')}).")
    st.stop()
try:
    sae = data.dictionary(str(path), data.mtime(path / "sae_weights.safetensors"))
except Exception as e:  # an unreadable folder is the user's input: say what is wrong, no traceback
    st.error(f"Could not load the SAE in {path}: {type(e).__name__}: {e}")
    st.stop()

from interp.dictionary import summarize  # noqa: E402
from interp.text_features import text_activations, top_features  # noqa: E402

summary = summarize(path, sae)
m = st.columns(4)
m[0].metric("architecture", summary.info.arch)
m[1].metric("hook", summary.info.hook_name)
m[2].metric("d_in", summary.info.d_in)
m[3].metric("d_sae", summary.info.d_sae)
st.plotly_chart(views.norms_histogram(summary.decoder_norms), key="norms")
if summary.eval_report:
    rep = summary.eval_report
    st.dataframe({k: [rep.get(k)] for k in ("l0", "r2", "ce_loss_recovered", "kl_score", "dead_fraction",
                                            "dense_fraction") if k in rep}, hide_index=True)
else:
    st.info(f"No eval.json beside the weights; write one with `interp eval-sae --sae {path} --model {model_name}`.")

st.subheader("Features on your own text")
text = st.text_input("Text", "Mary and John went to the park. John gave a ball to", key="text")
if st.button("Run", key="run"):
    try:
        mod = data.model(model_name)
        acts = text_activations(mod, sae, text)
    except Exception as e:  # unknown model names, hook or width mismatches: a clear message
        st.error(f"Could not run {model_name} with this SAE: {type(e).__name__}: {e}")
    else:
        st.session_state["open_result"] = (acts, top_features(acts))
res = st.session_state.get("open_result")
if res is not None:
    acts, tops = res
    if not tops:
        st.info("No feature fires on this text.")
    for f, mx in tops:
        st.markdown(f"**feature {f}** (max {mx:.3f}): "
                    + views.highlight(range(len(acts.strs)), acts.codes[:, f], acts.strs, mx), unsafe_allow_html=True)
