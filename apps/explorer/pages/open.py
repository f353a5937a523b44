"""Open page: a folder of feature pages (`interp feature-pages`: a link opens them on the Features page), or a
dictionary folder (an SAE in SAELens format, any architecture interp.dictionary opens, or an SNMF folder; a shipped
dictionary picked from the list, marked "shipped, converged: N tokens"), inside the workspace or a folder given with
`interp explore --allow`, and a model (by default the one the dictionary records; or a shipped toy name, model folder,
or TransformerLens name); its summary, eval report (with sparse probing and absorption: apps.explorer.eval_view), and
the features that fire on your own text. Paths outside the allowed folders are refused before anything is read; a
dictionary recorded with another model than the one given, or with weights the model no longer has
(interp.provenance's check), is warned about; an error clears the previous results."""

from __future__ import annotations

import streamlit as st

from apps.explorer import access, data, eval_data, state
from apps.explorer import figures as views
from apps.workspace.layout import dictionary_folders
from saes.shipped import ShippedError, shipped

RESULT = "open_result"

st.title("Open")
roots = access.allowed_roots()
st.caption("This explorer reads dictionaries inside " + ", ".join(f"`{r}`" for r in roots)
           + " only (more with `interp explore --allow FOLDER`).")
found = dictionary_folders(data.layout())
default = str(next(iter(found.values()))) if found else ""
try:  # every shipped dictionary (data/dictionaries), of any model
    listed = shipped()
except (ShippedError, OSError):  # a card that does not read: `interp dictionaries list` says which
    listed = []
ships = {str(s.folder.resolve()): f"{s.spec} ({s.label})" for s in listed}
if ships:  # the converged dictionaries shipped with interp, of any model: picking one fills the folder below
    picked = st.selectbox("Shipped dictionaries", ["", *ships], key="shipped_pick",
                          format_func=lambda f: ships.get(f, "(pick one, or give a folder below)"))
    if picked and st.session_state.get("_shipped_applied") != picked:  # a new pick: it fills the folder once
        st.session_state["folder"] = st.session_state["_shipped_applied"] = picked
        default = None  # (the folder's value comes from the pick; a default beside it would be a widget warning)
folder = st.text_input("Dictionary folder (an SAE in SAELens format: cfg.json + sae_weights.safetensors; or an "
                       "SNMF folder: snmf.json), or a folder of feature pages (features.json, written by "
                       "`interp feature-pages`)", default, key="folder").strip()
if not folder:
    st.info(f"Give a dictionary folder. The workspace's SAEs are built by {data.build_hint('saes')}.")
    st.stop()
check = access.check_folder(folder, roots)
if check.message:
    st.error(check.message)
    st.stop()
path = check.path
if (path / "features.json").is_file():  # a folder of feature pages (`interp feature-pages`): show them
    st.page_link("pages/features.py", label=f"Open the feature pages in {path.name}", icon=":material/open_in_new:",
                 query_params={"pages": str(path)})
    st.stop()

from interp.dictionary import info, summarize  # noqa: E402
from interp.provenance import ModelRecord, ProvenanceError, check_model  # noqa: E402
from interp.text_features import text_activations, top_features  # noqa: E402

try:
    described = info(path)
except (FileNotFoundError, ValueError, KeyError) as e:
    st.error(f"`{path}` exists but is not a dictionary folder interp opens ({e}). SAEs trained here are written by "
             f"`interp train-sae`, SNMFs by `interp snmf` (or {data.build_hint('saes')}).")
    st.stop()
ws_model = data.workspace_model()
if state.changed("open_folder", str(path)) or "model_name" not in st.session_state:
    st.session_state["model_name"] = described.model or ws_model  # the model the dictionary records wins
model_name = st.text_input("Model (shipped toy name, model folder, or TransformerLens name; default: the model the "
                           "dictionary records)", key="model_name").strip()
if state.changed("open_inputs", (folder, model_name)):
    st.session_state.pop(RESULT, None)  # results belong to the folder and model they were computed with
refusal = data.model_refusal(model_name)  # before anything of it is read: the same rule as folders
if refusal:
    st.error(refusal)
try:
    with st.spinner(f"loading {path.name} ..."):
        dic = data.dictionary(str(path), data.mtime(path))
        summary = summarize(path, dic)
except Exception as e:  # an unreadable folder is the user's input: say what is wrong, no traceback
    st.error(f"Could not load the dictionary in {path}: {type(e).__name__}: {e}")
    st.stop()

m = st.columns(5)
m[0].metric("architecture", summary.info.arch)
m[1].metric("method", summary.info.label)
m[2].metric("d_in", summary.info.d_in)
m[3].metric("d_sae", summary.info.d_sae)
m[4].metric("recorded model", described.model or "not recorded")
st.caption(f"hook `{summary.info.hook_name}`")
# the workspace's model with the weight processing it was built with; any other as loaded by default; the one the
# dictionary records wins
processing = data.weight_processing() if model_name == ws_model else "default"
if refusal:
    pass  # nothing is said about a model the explorer may not load (not even whether it exists)
elif described.model and described.model != model_name:
    st.warning(f"This dictionary records the model {described.model}, but the model given is {model_name}: its "
               f"features are only meaningful on {described.model}'s activations.")
else:
    try:  # the check every command makes (weights changed since the dictionary was trained, ...)
        processing = check_model(model_name, processing, ModelRecord.read(described, f"the dictionary {path}"))[1]
    except ProvenanceError as e:
        st.warning(str(e))
st.plotly_chart(views.norms_histogram(summary.decoder_norms), key="norms", config=views.CHART_CONFIG)
if summary.eval_report:
    rep = summary.eval_report
    st.dataframe({col: [rep.get(k)] for k, col in eval_data.METRICS.items() if k in rep}, hide_index=True, key="eval")
    from apps.explorer import eval_view

    probing_tab, absorption_tab = st.tabs(["Sparse probing", "Absorption"], key="open_eval", on_change="rerun")
    if probing_tab.open:
        with probing_tab:
            eval_view.sparse_probing(rep, path.name, str(path), "open_probing")
    if absorption_tab.open:
        with absorption_tab:
            eval_view.absorption(rep, str(path), "open_absorption")
else:
    st.info(f"No eval.json beside the weights; write one with `interp eval-sae --sae {path} --model {model_name}`.")
st.caption(f"Browse its features: `interp feature-pages --dictionary {path} --out PAGES_FOLDER`, then open "
           f"PAGES_FOLDER here.")

st.subheader("Features on your own text")
text = st.text_input("Text", "Mary and John went to the park. John gave a ball to", key="text")
if st.button("Run", key="run"):
    st.session_state.pop(RESULT, None)  # an error must not leave the previous results on screen
    if refusal:
        st.stop()  # the refusal above says why
    try:
        with st.spinner(f"running {model_name} and the dictionary on your text ..."):
            mod = data.model(model_name, processing)
            acts = text_activations(mod, dic, text)
    except Exception as e:  # unknown model names, hook or width mismatches: a clear message
        st.error(f"Could not run {model_name} with this dictionary: {type(e).__name__}: {e}")
    else:
        st.session_state[RESULT] = (acts, top_features(acts))
res = st.session_state.get(RESULT)
if res is not None:
    acts, tops = res
    if acts.unknown:  # words the model's tokenizer does not know: the features measured <unk>, say so
        st.warning(acts.unknown)
    if not tops:
        st.info("No feature fires on this text.")
    pages_name = next((n for n, p in found.items() if p.resolve() == path.resolve()), None)
    if pages_name not in data.feature_dictionaries():
        pages_name = None  # no feature pages of this dictionary in the workspace: nothing to link to
    for f, mx in tops:
        st.markdown(f"**feature {f}** (max {mx:.3f}): "
                    + views.highlight(range(len(acts.strs)), acts.codes[:, f], acts.strs, mx), unsafe_allow_html=True)
        if pages_name is not None:
            st.page_link("pages/features.py", label=f"open feature {f} of {pages_name}", icon=":material/open_in_new:",
                         query_params={"dictionary": pages_name, "feature": str(f)})
    if tops and pages_name is None:
        st.caption(f"This dictionary has no feature pages in the workspace: `interp feature-pages --dictionary {path} "
                   f"--out PAGES_FOLDER` builds them, then open PAGES_FOLDER here.")
