"""Data access of the explorer's pages: the workspace folder and its manifest (workspace.json: each step's status,
time and, for skipped steps, the reason), cached loaders (models and dictionaries under st.cache_resource, artifacts
and tables under st.cache_data / cache_resource for large read-only arrays), and the one way pages report a missing
or corrupt artifact: a message naming the command that builds it (or why the build skipped it), never a traceback.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import streamlit as st

from apps.explorer.access import ModelRefused, check_model_name
from apps.workspace.config import BUILD_COMMAND
from apps.workspace.layout import Layout, dictionary_folders
from interp.json_files import read_json

ENV = "INTERP_WORKSPACE"
T = TypeVar("T")
METRICS = {"l0": "L0", "r2": "R²", "ce_loss_recovered": "CE loss recovered", "kl_score": "KL score",
           "dead_fraction": "dead", "dense_fraction": "dense"}
"""eval.json's metrics (docs/methods.md §2) and their column names in the explorer's tables."""


def layout() -> Layout:
    """The workspace the explorer was started on (`interp explore --workspace`, env INTERP_WORKSPACE)."""
    return Layout(Path(os.environ.get(ENV, "workspace")).resolve())


def build_hint(step: str = "") -> str:
    root = layout().root
    steps = f" --steps {step}" if step else ""
    return f"`{BUILD_COMMAND} --out {root}{steps}`"


@st.cache_data(max_entries=4, show_spinner=False)
def _manifest(path: str, mtime: float) -> dict:
    try:
        return read_json(Path(path))
    except (OSError, ValueError):
        return {}


def manifest() -> dict:
    """workspace.json ({} when there is none or it is unreadable)."""
    path = layout().manifest
    return _manifest(str(path), _mtime(path))


def skip_reason(step: str) -> str | None:
    """Why the build skipped `step` (workspace.json), or None when it was not skipped."""
    rec = manifest().get("steps", {}).get(step, {})
    return (rec.get("reason") or "(no reason recorded)") if rec.get("status") == "skipped" else None


def missing(what: str, step: str) -> None:
    """Say that `what` is not in the workspace: skipped by the build (with its reason), or how to build it."""
    reason = skip_reason(step) if step else None
    if reason is not None:
        st.info(f"No {what}: the workspace build skipped the {step} step: {reason}")
    else:
        st.info(f"No {what} in the workspace {layout().root} yet. Build it with {build_hint(step)} "
                f"(or `make demo` for everything).")


def guarded(what: str, step: str, load: Callable[..., T], *args: Any) -> T | None:
    """load(*args), or None after a clear st.info (missing or skipped) / st.error (corrupt) naming the build
    command."""
    try:
        return load(*args)
    except FileNotFoundError:
        missing(what, step)
    except Exception as e:  # corrupt or unreadable artifacts: say so and how to rebuild, never a traceback
        if isinstance(e, ModelRefused):  # not broken, not allowed: the refusal says why, no rebuild
            st.error(str(e))
            return None
        st.error(f"The {what} in {layout().root} could not be read ({type(e).__name__}: {e}). Rebuild it with "
                 f"{build_hint(step)} --force {step}")
    return None


def _mtime(path: Path) -> float:
    return path.stat().st_mtime if path.exists() else 0.0


# --- overview -----------------------------------------------------------------------------------------------------

def steps_table() -> pd.DataFrame:
    """One row per build step: status, seconds, when it was built, why it was skipped."""
    rows = [{"step": k, "status": r.get("status", "?"), "seconds": r.get("seconds"), "built_at": r.get("built_at", ""),
             "reason": r.get("reason", "")} for k, r in manifest().get("steps", {}).items()]
    return pd.DataFrame(rows, columns=["step", "status", "seconds", "built_at", "reason"])


def cache_manifest() -> dict:
    """The activation cache's manifest.json ({} when there is none)."""
    path = layout().cache / "manifest.json"
    return _manifest(str(path), _mtime(path))


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
    stamp = tuple((n, _mtime(p / "eval.json"), _mtime(p)) for n, p in folders.items())
    return _dictionary_metrics(str(layout().root), stamp)


# --- features -----------------------------------------------------------------------------------------------------

OPENED = "_opened_pages"
"""Session key: the folders of feature pages opened from outside workspace/features/ (a `pages=` URL, the Open
page), key (the folder's resolved path) -> folder."""


def open_pages(text: str) -> str | None:
    """Open a folder of feature pages (e.g. written by `interp feature-pages`) for this session: it must lie inside
    the workspace or an --allow folder (apps.explorer.access) and hold features.json. Returns its key for
    feature_pages(), or None after an st.error saying why not."""
    from apps.explorer.access import check_folder

    check = check_folder(text)
    if check.message:
        st.error(check.message)
        return None
    if not (check.path / "features.json").is_file():
        st.error(f"`{check.path}` holds no feature pages (features.json). Build them with `interp feature-pages "
                 f"--dictionary DIR --out {check.path}`.")
        return None
    st.session_state.setdefault(OPENED, {})[str(check.path)] = check.path
    return str(check.path)


def feature_folders() -> dict[str, Path]:
    """Every folder of feature pages this session shows: the workspace's (by name) and the opened ones (by path)."""
    root = layout().features
    found = {p.name: p for p in sorted(root.iterdir()) if (p / "features.json").is_file()} if root.is_dir() else {}
    return {**found, **st.session_state.get(OPENED, {})}


def feature_dictionaries() -> list[str]:
    return list(feature_folders())


def is_opened(name: str) -> bool:
    """Whether `name` is a pages folder opened from outside the workspace's features/ (its key is its path)."""
    return name in st.session_state.get(OPENED, {})


@st.cache_resource(max_entries=8, show_spinner=False)
def _feature_pages(path: str, mtime: float):
    from interp.pages.features import load_feature_pages

    return load_feature_pages(path, check=False)


def feature_pages(name: str):
    path = feature_folders().get(name, layout().features / name)
    if not (path / "features.json").is_file():
        raise FileNotFoundError(path)
    return _feature_pages(str(path), _mtime(path / "features.safetensors"))


def feature_mtime(name: str) -> float:
    """Modification time of the pages' arrays (part of cache keys)."""
    return _mtime(feature_folders().get(name, layout().features / name) / "features.safetensors")


@st.cache_data(max_entries=8, show_spinner=False)
def feature_table_at(path: str, mtime: float) -> pd.DataFrame:
    return pd.DataFrame(_feature_pages(path, mtime).table())


def feature_table(name: str, mtime: float) -> pd.DataFrame:
    """The feature table of pages `name` (FeaturePages.table), cached per folder and modification time."""
    feature_pages(name)  # FileNotFoundError when they are not there
    return feature_table_at(str(feature_folders().get(name, layout().features / name)), mtime)


# --- neurons ------------------------------------------------------------------------------------------------------

def neuron_folders() -> dict[str, Path]:
    """Every model with neuron statistics and pages: the neurons step's, then the universal-neuron seeds' (their
    statistics and pages sit in universal/MODEL/), so that a correlate in another seed opens its page."""
    found: dict[str, Path] = {}
    for root in (layout().neurons, layout().universal):
        for p in sorted(root.iterdir()) if root.is_dir() else []:
            if (p / "stats.json").is_file():
                found.setdefault(p.name, p)
    return found


def neuron_models() -> list[str]:
    return list(neuron_folders())


def neuron_folder(model: str) -> Path:
    """The folder of `model`'s neuron statistics and pages (neurons/MODEL, else universal/MODEL)."""
    return neuron_folders().get(model, layout().neurons / model)


@st.cache_resource(max_entries=8, show_spinner=False)
def _neuron_stats(path: str, mtime: float):
    from interp.neurons.artifacts import load_neuron_stats

    return load_neuron_stats(path)


def neuron_stats(model: str):
    path = neuron_folder(model)
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
    positional MI, label (the best concept when its AUROC reaches interp.pages.builder.CONCEPT_AUROC_BAR), concept,
    universality."""
    from interp.pages.builder import CONCEPT_AUROC_BAR, NO_CONCEPT

    del mtime
    s = neuron_stats(model)
    L, d = s.n_layers, s.d_mlp
    vocab = s.vocab or [str(i) for i in range(int(s.top_tokens.max()) + 1)]
    concepts = np.array([*s.concepts, ""], dtype=object)
    df = pd.DataFrame({
        "layer": np.repeat(np.arange(L), d), "neuron": np.tile(np.arange(d), L),
        "family": np.array(s.families, dtype=object)[s.family.reshape(-1)], "fire_freq": s.fire_freq.reshape(-1),
        "dead": s.dead.reshape(-1).astype(bool),
        "top_token": [vocab[t] if 0 <= t < len(vocab) else "" for t in s.top_tokens[..., 0].reshape(-1)],
        "token_lift": s.top_token_lift.reshape(-1), "untracked_tokens": s.untracked_token_share.reshape(-1),
        "pos_mi": s.pos_mi.reshape(-1),
        "label": np.where(s.best_auroc.reshape(-1) >= CONCEPT_AUROC_BAR, concepts[s.best_concept.reshape(-1)],
                          NO_CONCEPT),
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
    data = read_json(Path(path))
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


def patch_task(method: str) -> str:
    """The task the saved `method` results were computed on, as they record it (ioi-abc, a task file's name, ...)."""
    return str(read_json(layout().patching / method / "summary.json").get("task", "?"))


@st.cache_data(max_entries=2, show_spinner=False)
def faithfulness_table(mtime: float) -> pd.DataFrame:
    del mtime
    path = layout().patching / "faithfulness.json"
    if not path.is_file():
        raise FileNotFoundError(path)
    return pd.DataFrame(read_json(path))


# --- models and dictionaries ------------------------------------------------------------------------------------

def weight_processing() -> str:
    """The weight processing the workspace was built with (workspace.json; "default" when it records none)."""
    return manifest().get("config", {}).get("weight_processing") or "default"


def workspace_model() -> str:
    """The model the workspace was built on (workspace.json; toy-gelu-s0 when it records none)."""
    return manifest().get("config", {}).get("model") or "toy-gelu-s0"


def model_refusal(name: str) -> str:
    """"" when the explorer may load model `name`, else the one refusal (apps.explorer.access.check_model_name)."""
    return check_model_name(name, workspace_model())


@st.cache_resource(max_entries=6, show_spinner="loading the model ...")
def model(name: str, weight_processing: str):
    """The model `name` loaded on the CPU with `weight_processing` (the one its activations were recorded with:
    the workspace's, or the one feature pages record), so text run here matches the precomputed pages. A model
    outside what the explorer may load (`model_refusal`) is a ValueError, before anything is read."""
    if refusal := model_refusal(name):
        raise ModelRefused(refusal)
    import torch

    from interp.models import load_model

    torch.set_grad_enabled(False)
    return load_model(name, "cpu", weight_processing)


@st.cache_resource(max_entries=8, show_spinner="loading the dictionary ...")
def dictionary(path: str, mtime: float):
    from interp.dictionary import load

    return load(path)


def mtime(path: Path) -> float:
    return _mtime(path)


@st.cache_resource(max_entries=1, show_spinner="opening the activation cache ...")
def _activation_cache(path: str, mtime: float):
    from interp.activations.reader import ActivationCache

    return ActivationCache.open(path)


def activation_cache():
    """The workspace's activation cache (FileNotFoundError when it has none)."""
    path = layout().cache
    if not (path / "manifest.json").is_file():
        raise FileNotFoundError(path)
    return _activation_cache(str(path), _mtime(path / "manifest.json"))
