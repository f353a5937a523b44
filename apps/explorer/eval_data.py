"""Reading dictionaries' eval.json (saes/eval/report.py) for the explorer: the headline metrics of every workspace
dictionary as one table (Overview, Features) and one dictionary's whole report (its sparse probing and absorption:
apps.explorer.eval_view), each cached per file version."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from apps.explorer.data import layout, mtime
from apps.workspace.layout import Layout, dictionary_folders
from interp.json_files import read_json

METRICS = {"l0": "L0", "r2": "R²", "ce_loss_recovered": "CE loss recovered", "kl_score": "KL score",
           "dead_fraction": "dead", "dense_fraction": "dense"}
"""eval.json's metrics (docs/methods.md §2) and their column names in the explorer's tables."""


@st.cache_data(max_entries=4, show_spinner=False)
def _dictionary_metrics(root: str, stamp: tuple) -> pd.DataFrame:
    del stamp  # part of the cache key only
    from interp.dictionary import info

    rows = []
    for name, folder in dictionary_folders(Layout(Path(root))).items():
        report = read_json(folder / "eval.json") if (folder / "eval.json").is_file() else {}
        try:
            d = info(folder)
            kind, width = d.label, d.d_sae
        except (OSError, ValueError, KeyError):
            kind, width = "?", None
        rows.append({"dictionary": name, "method": kind, "features": width,
                     **{col: report.get(key) for key, col in METRICS.items()}})
    return pd.DataFrame(rows, columns=["dictionary", "method", "features", *METRICS.values()])


def dictionary_metrics() -> pd.DataFrame:
    """One row per dictionary of the workspace: its method (interp.dictionary label), features and eval.json's L0,
    R², CE loss recovered, KL score, dead and dense fractions (empty cells where eval.json lacks them)."""
    folders = dictionary_folders(layout())
    stamp = tuple((n, mtime(p / "eval.json"), mtime(p)) for n, p in folders.items())
    return _dictionary_metrics(str(layout().root), stamp)


@st.cache_data(max_entries=8, show_spinner=False)
def _eval_report(path: str, mtime: float) -> dict | None:
    try:
        return read_json(Path(path))
    except (OSError, ValueError):
        return None


def eval_report(folder: Path) -> dict | None:
    """A dictionary folder's eval.json (None when there is none or it is unreadable), cached per modification."""
    path = folder / "eval.json"
    return _eval_report(str(path), mtime(path)) if path.is_file() else None


def dictionary_folder(name: str, meta: dict) -> Path | None:
    """The dictionary folder of feature pages `name`: the workspace's dictionary of that name, else the folder its
    pages record when the explorer may read it (apps.explorer.access); None otherwise."""
    folder = dictionary_folders(layout()).get(name)
    if folder is not None:
        return folder
    from apps.explorer.access import check_folder

    check = check_folder(meta.get("path") or "")
    return None if check.message else check.path
