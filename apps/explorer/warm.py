"""The explorer's server process: Streamlit's own `streamlit run` (streamlit.web.cli) with one thread beside it that,
as soon as Streamlit's runtime exists, imports what pages import and fills the explorer's caches (apps.explorer.data)
with the workspace's artifacts, so the first visitor's deep link does not pay for them (bench/explorer_render.py's
deep_link_cold_s). Started by `interp explore` (apps.explorer.launch.streamlit_command):

    python -m apps.explorer.warm run apps/explorer/app.py --server.port ...

It prints `explorer: caches warm in X s` (or what failed to load, without stopping the server) when done.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

WARM_LINE = "explorer: caches warm"
"""How the server's log says the warm-up finished (the bench waits for it)."""


def _quiet() -> None:
    """Streamlit warns once per cached call made outside a script run ("missing ScriptRunContext"): expected here."""
    for name in ("streamlit.runtime.scriptrunner_utils.script_run_context", "streamlit.runtime.caching.cache_data_api",
                 "streamlit"):
        logging.getLogger(name).setLevel(logging.ERROR)


def warm_loaders() -> list[tuple[str, Callable[[], Any]]]:
    """Every cached load the pages make of the workspace's artifacts, as (what, load) without a session: what
    apps.explorer.warm runs when the server starts, so that the first visitor's page finds them cached."""
    from apps.explorer import data, eval_data

    ws = data.layout()
    out: list[tuple[str, Callable[[], Any]]] = [("workspace.json", data.manifest),
                                               ("cache manifest", data.cache_manifest),
                                               ("dictionary metrics", eval_data.dictionary_metrics)]
    root = ws.features
    for p in sorted(root.iterdir()) if root.is_dir() else []:
        if (p / "features.json").is_file():
            stamp = data.mtime(p / "features.safetensors")
            out += [(f"feature pages {p.name}", lambda p=p, t=stamp: data.feature_table_at(str(p), t))]
    for model, folder in data.neuron_folders().items():
        stamp = data.mtime(folder / "stats.json")
        out += [(f"neurons of {model}", lambda m=model, t=stamp: data.neuron_table(m, t)),
                (f"neuron pages of {model}", lambda f=folder: data.neuron_pages(f))]
    if (ws.universal / "universal.json").is_file():
        out.append(("universal neurons", data.universal))
        out += [(f"correlates of {p.name}", lambda p=p: data.neuron_pages(p)) for p in sorted(ws.universal.iterdir())
                if (p / "examples.json").is_file()]
    from apps.explorer import sparsity_data  # neuron pages show their model's sparsity run (hot rank, dormancy)

    out += [(f"sparsity run of {m}", lambda f=f: sparsity_data.run_at(f)) for m, f in sparsity_data.runs().items()]
    if (ws.steering / "bench.json").is_file():
        out.append(("steering benchmark", data.bench))
    out += [(f"{m} patching results", lambda m=m: data.patch_results(m)) for m in data.patch_methods()]
    if (ws.patching / "faithfulness.json").is_file():
        stamp = data.mtime(ws.patching / "faithfulness.json")
        out.append(("faithfulness table", lambda: data.faithfulness_table(stamp)))
    return out


def warm_caches() -> list[str]:
    """Import what the pages import and load every artifact the pages read through their cached loaders; returns
    what could not be loaded (a page says so itself when it is opened)."""
    import pandas as pd
    import plotly.graph_objects as go
    import plotly.io as pio

    from apps.explorer import data, feature_view, neuron_view, unit_view  # noqa: F401  (imports are the warm-up)
    from apps.explorer import figures as views

    pio.to_json(views.activation_histogram(*_tiny_histogram(), "warm"))  # plotly's validators load on first use
    pio.to_json(go.Figure(go.Bar(x=[0], y=[0])))
    failed, tables = [], []
    for what, load in warm_loaders():
        try:
            got = load()
        except Exception as e:  # missing or broken artifacts: the page that shows them says so
            failed.append(f"{what} ({type(e).__name__})")
        else:
            tables += [got] if isinstance(got, pd.DataFrame) else []
    _draw(tables[:1])
    return failed


def _draw(tables: list) -> None:
    """Streamlit's own element code (Arrow serialisation of tables, plotly JSON, markdown and HTML) outside any
    session: elements drawn without a script run go nowhere, but the modules they import stay loaded."""
    import streamlit as st

    from apps.explorer import figures as views

    for df in tables:
        st.dataframe(df, hide_index=True)
    st.plotly_chart(views.activation_histogram(*_tiny_histogram(), "warm"), config=views.CHART_CONFIG)
    st.markdown("**warm** `up`")
    st.html("<b>warm</b>")
    st.metric("warm", "1")


def _tiny_histogram():
    import numpy as np

    return np.ones(3), np.arange(4.0)


def _warm_when_ready() -> None:
    from streamlit.runtime import Runtime

    while not Runtime.exists():
        time.sleep(0.05)
    _quiet()  # (streamlit sets its loggers' levels as it starts)
    t0 = time.perf_counter()
    failed = warm_caches()
    note = f" (not loaded: {', '.join(failed)})" if failed else ""
    print(f"{WARM_LINE} in {time.perf_counter() - t0:.1f} s{note}", flush=True)


def main() -> int:
    _quiet()
    threading.Thread(target=_warm_when_ready, name="explorer-warm", daemon=True).start()
    from streamlit.web.cli import main as streamlit_main

    sys.argv = ["streamlit", *sys.argv[1:]]
    return streamlit_main()


if __name__ == "__main__":
    sys.exit(main())
