"""The explorer: a Streamlit multipage app over a workspace built by `interp workspace build`.

Started by `interp explore` (apps.explorer.launch: `streamlit run apps/explorer/app.py`, bound to 127.0.0.1 by
default); the workspace folder comes from the INTERP_WORKSPACE environment variable that `interp explore
--workspace` sets, the folders the Open page may read besides it from INTERP_ALLOW (`--allow`). Pages live in
apps/explorer/pages/ and only render: artifacts are read through apps.explorer.data (paths from
apps.workspace.layout), figures come from apps.explorer.figures, the selection each page shows is kept and put in
the URL by apps.explorer.state, and the few live computations are interp's (interp.text_features,
interp.steering.compare, interp.dictionary.summarize), each under a spinner.
"""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

ROOT = Path(__file__).resolve().parent
if str(ROOT.parents[1]) not in sys.path:  # `streamlit run apps/explorer/app.py` from any folder
    sys.path.insert(0, str(ROOT.parents[1]))

from apps.explorer.data import build_hint, layout  # noqa: E402
from apps.explorer.figures import preload_script  # noqa: E402

PAGES = [("pages/home.py", "Overview", ":material/home:"),
         ("pages/features.py", "Features", ":material/bubble_chart:"),
         ("pages/neurons.py", "Neurons", ":material/hub:"),
         ("pages/steering.py", "Steering", ":material/tune:"),
         ("pages/circuits.py", "Circuits", ":material/account_tree:"),
         ("pages/sparsity.py", "Sparsity", ":material/filter_alt:"),
         ("pages/open.py", "Open", ":material/folder_open:")]

st.set_page_config(page_title="interp explorer", layout="wide")
nav = st.navigation([st.Page(str(ROOT / p), title=t, icon=i, default=k == 0) for k, (p, t, i) in enumerate(PAGES)])
ws = layout()
with st.sidebar:
    st.html(preload_script(), unsafe_allow_javascript=True)  # the charts' and tables' code, fetched early
    st.caption(f"workspace: `{ws.root}`")
    if not ws.manifest.is_file():
        st.warning(f"No workspace here yet: build it with {build_hint()}")
nav.run()
