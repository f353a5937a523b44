"""Reading the workspace's sparsity runs (`interp sparsity`, the workspace's sparsity step) for the Sparsity page and
the neuron pages: which models have a run, and each run loaded once per file version."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from apps.explorer import data
from interp.sparsity.artifacts import SPARSITY_JSON, load_sparsity


@st.cache_resource(max_entries=4, show_spinner=False)
def _run(path: str, mtime: float):
    return load_sparsity(path)


def runs() -> dict[str, Path]:
    """Model name (its folder) -> sparsity folder, for every finished run under <workspace>/sparsity."""
    root = data.layout().root / "sparsity"
    return {p.parent.name: p.parent for p in sorted(root.glob(f"*/{SPARSITY_JSON}"))} if root.is_dir() else {}


def run_at(folder: Path):
    """The sparsity run in `folder` (cached until its sparsity.json changes)."""
    return _run(str(folder), data.mtime(folder / SPARSITY_JSON))


def run_of(model: str):
    """The workspace's sparsity run of `model`, or None when it has none (or it is unreadable)."""
    folder = runs().get(Path(model).name)
    if folder is None:
        return None
    try:
        return run_at(folder)
    except (OSError, ValueError):
        return None
