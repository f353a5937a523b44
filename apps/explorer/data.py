"""Data access of the explorer's pages: the workspace folder, cached loaders (models and dictionaries under
st.cache_resource, artifacts and tables under st.cache_data / cache_resource for large read-only arrays), and the
one way pages report a missing or corrupt artifact: a message naming the command that builds it, never a traceback.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import streamlit as st

from apps.workspace.config import BUILD_COMMAND
from apps.workspace.layout import Layout

ENV = "INTERP_WORKSPACE"
T = TypeVar("T")


def layout() -> Layout:
    """The workspace the explorer was started on (`interp explore --workspace`, env INTERP_WORKSPACE)."""
    return Layout(Path(os.environ.get(ENV, "workspace")).resolve())


def build_hint(step: str = "") -> str:
    root = layout().root
    steps = f" --steps {step}" if step else ""
    return f"`{BUILD_COMMAND} --out {root}{steps}`"


def guarded(what: str, step: str, load: Callable[..., T], *args: Any) -> T | None:
    """load(*args), or None after a clear st.info (missing) / st.error (corrupt) naming the build command."""
    try:
        return load(*args)
    except FileNotFoundError:
        st.info(f"No {what} in the workspace {layout().root} yet. Build it with {build_hint(step)} "
                f"(or `make demo` for everything).")
    except Exception as e:  # corrupt or unreadable artifacts: say so and how to rebuild, never a traceback
        st.error(f"The {what} in {layout().root} could not be read ({type(e).__name__}: {e}). Rebuild it with "
                 f"{build_hint(step)} --force {step}")
    return None


def in_workspace(path: str | Path) -> Path:
    """An artifact path as recorded inside the workspace (relative to its root; older ones absolute)."""
    path = Path(path)
    return path if path.is_absolute() else layout().root / path


def _mtime(path: Path) -> float:
    return path.stat().st_mtime if path.exists() else 0.0


# --- features -----------------------------------------------------------------------------------------------------

def feature_dictionaries() -> list[str]:
    root = layout().features
    return sorted(p.name for p in root.iterdir() if (p / "features.json").is_file()) if root.is_dir() else []


@st.cache_resource(max_entries=8, show_spinner=False)
def _feature_pages(path: str, mtime: float):
    from saes.feature_pages import load_feature_pages

    return load_feature_pages(path, check=False)


def feature_pages(name: str):
    path = layout().features / name
    if not (path / "features.json").is_file():
        raise FileNotFoundError(path)
    return _feature_pages(str(path), _mtime(path / "features.safetensors"))


@st.cache_data(max_entries=8, show_spinner=False)
def feature_table(name: str, mtime: float) -> pd.DataFrame:
    del mtime  # part of the cache key only
    return pd.DataFrame(feature_pages(name).table())


# --- neurons ------------------------------------------------------------------------------------------------------

def neuron_models() -> list[str]:
    root = layout().neurons
    return sorted(p.name for p in root.iterdir() if (p / "stats.json").is_file()) if root.is_dir() else []


@st.cache_resource(max_entries=8, show_spinner=False)
def _neuron_stats(path: str, mtime: float):
    from interp.neurons.artifacts import load_neuron_stats

    return load_neuron_stats(path)


def neuron_stats(model: str):
    path = layout().neurons / model
    return _neuron_stats(str(path), _mtime(path / "stats.json"))


@st.cache_resource(max_entries=16, show_spinner=False)
def _neuron_pages(path: str, mtime: float):
    from interp.neurons.pages import load_neuron_pages

    return load_neuron_pages(path)


def neuron_pages(folder: Path):
    return _neuron_pages(str(folder), _mtime(folder / "examples.json"))


@st.cache_resource(max_entries=2, show_spinner=False)
def _universal(path: str, mtime: float):
    from interp.neurons.universal import load_universal

    return load_universal(path)


def universal():
    path = layout().universal
    return _universal(str(path), _mtime(path / "universal.json"))


@st.cache_data(max_entries=16, show_spinner=False)
def neuron_table(model: str, mtime: float) -> pd.DataFrame:
    """One row per (layer, neuron): family, firing, top token (and the share of activation on tokens without a slot),
    positional MI, concept, universality."""
    del mtime
    s = neuron_stats(model)
    L, d = s.n_layers, s.d_mlp
    vocab = s.vocab or [str(i) for i in range(int(s.top_tokens.max()) + 1)]
    concepts = np.array([*s.concepts, ""], dtype=object)
    df = pd.DataFrame({
        "layer": np.repeat(np.arange(L), d), "neuron": np.tile(np.arange(d), L),
        "family": np.array(s.families, dtype=object)[s.family.reshape(-1)], "fire_freq": s.fire_freq.reshape(-1),
        "dead": s.dead.reshape(-1).astype(bool), "top_token": [vocab[t] for t in s.top_tokens[..., 0].reshape(-1)],
        "token_lift": s.top_token_lift.reshape(-1), "untracked_tokens": s.untracked_token_share.reshape(-1),
        "pos_mi": s.pos_mi.reshape(-1),
        "concept": concepts[s.best_concept.reshape(-1)], "concept_auroc": s.best_auroc.reshape(-1)})
    try:
        res, _ = universal()
        if model in res.models:
            k = res.models.index(model)
            df["excess_corr"] = res.excess[k].reshape(-1)
            df["universal"] = res.universal[k].reshape(-1).astype(bool)
    except (FileNotFoundError, ValueError, KeyError):
        pass
    return df


# --- steering, circuits -----------------------------------------------------------------------------------------

@st.cache_data(max_entries=2, show_spinner=False)
def _bench(path: str, mtime: float) -> dict:
    data = json.loads(Path(path).read_text())
    if data.get("kind") != "steering-benchmark":
        raise ValueError(f"{path} is not a steering benchmark")
    return data


def bench() -> dict:
    path = layout().steering / "bench.json"
    if not path.is_file():
        raise FileNotFoundError(path)
    return _bench(str(path), _mtime(path))


@st.cache_resource(max_entries=8, show_spinner=False)
def _patch_results(path: str, mtime: float):
    from circuits.patching.results import load_results

    return load_results(path)


def patch_methods() -> list[str]:
    root = layout().patching
    return sorted(p.name for p in root.iterdir() if (p / "summary.json").is_file()) if root.is_dir() else []


def patch_results(method: str):
    path = layout().patching / method
    if not (path / "summary.json").is_file():
        raise FileNotFoundError(path)
    return _patch_results(str(path), _mtime(path / "scores.safetensors"))


@st.cache_data(max_entries=2, show_spinner=False)
def faithfulness_table(mtime: float) -> pd.DataFrame:
    del mtime
    path = layout().patching / "faithfulness.json"
    if not path.is_file():
        raise FileNotFoundError(path)
    return pd.DataFrame(json.loads(path.read_text()))


# --- models and dictionaries ------------------------------------------------------------------------------------

@st.cache_resource(max_entries=6, show_spinner="loading the model ...")
def model(name: str):
    import torch

    from interp.models import load_model

    torch.set_grad_enabled(False)
    return load_model(name, "cpu")


@st.cache_resource(max_entries=8, show_spinner="loading the dictionary ...")
def dictionary(path: str, mtime: float):
    from interp.dictionary import load

    return load(path)


def mtime(path: Path) -> float:
    return _mtime(path)
