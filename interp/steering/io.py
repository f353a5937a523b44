"""Steering artifacts on disk, and feature directions read from dictionary folders without importing `saes`.

A steering artifact is a folder with `steering.safetensors` (one unit direction per vector, keyed "v0", "v1", ...)
and `steering.json` (schema_version, kind "steering", the config, and per vector its hook, source, calibration and
anything else the command computed), each written atomically. The explorer reads these.

`load_directions(folder)` reads only feature directions (which is all steering needs) from an SAE folder in SAELens
format (cfg.json + sae_weights.safetensors: decoder rows W_dec) or an SNMF folder (snmf.json + snmf.safetensors:
columns of F), and returns an object satisfying the parts of `interp.dictionary.Dictionary` steering uses.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import Tensor

from ..atomic import atomic_write
from .scores import FeatureScores
from .vectors import SteeringVector

SCHEMA_VERSION = 1


@dataclass
class FolderDirections:
    """Feature directions of a saved dictionary: hook_name, d_in, d_sae, feature_directions()."""

    hook_name: str
    directions: Tensor
    kind: str
    path: str

    @property
    def d_in(self) -> int:
        return self.directions.shape[1]

    @property
    def d_sae(self) -> int:
        return self.directions.shape[0]

    def feature_directions(self) -> Tensor:
        return self.directions


def load_directions(folder: str | Path) -> FolderDirections:
    """Decoder rows of a SAELens-format SAE folder, or F's columns of an SNMF folder."""
    folder = Path(folder)
    if (folder / "cfg.json").is_file():
        cfg = json.loads((folder / "cfg.json").read_text())
        hook = cfg.get("metadata", {}).get("hook_name") or cfg.get("hook_name")
        if not hook:
            raise ValueError(f"{folder / 'cfg.json'} names no hook_name")
        with safe_open(str(folder / "sae_weights.safetensors"), "pt") as f:
            w_dec = f.get_tensor("W_dec").float()
        return FolderDirections(hook, w_dec, "sae", str(folder))
    if (folder / "snmf.json").is_file():
        meta = json.loads((folder / "snmf.json").read_text())
        with safe_open(str(folder / "snmf.safetensors"), "pt") as f:
            F = f.get_tensor("F").float()
        return FolderDirections(meta["hook_name"], F.T.contiguous(), "snmf", str(folder))
    raise FileNotFoundError(f"{folder} is neither an SAE folder (cfg.json + sae_weights.safetensors) nor an SNMF "
                            f"folder (snmf.json + snmf.safetensors)")


def save_steering(folder: str | Path, vectors: list[SteeringVector], records: list[dict[str, Any]],
                  config: dict[str, Any]) -> Path:
    """Write a steering artifact (see module doc); `records[i]` is vector i's extra JSON (calibration, tokens...)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {f"v{i}": v.direction.contiguous().float() for i, v in enumerate(vectors)}
    meta = {"schema_version": SCHEMA_VERSION, "kind": "steering", "config": config,
            "vectors": [{"key": f"v{i}", "hook": v.hook, "source": v.source, **r}
                        for i, (v, r) in enumerate(zip(vectors, records))]}
    atomic_write(folder / "steering.safetensors", lambda p: save_file(tensors, str(p)))
    atomic_write(folder / "steering.json", lambda p: p.write_text(json.dumps(meta, indent=1)))
    return folder


def load_steering(folder: str | Path) -> tuple[list[SteeringVector], dict]:
    """The vectors and the JSON of a steering artifact (schema version checked)."""
    folder = Path(folder)
    meta = json.loads((folder / "steering.json").read_text())
    if meta.get("schema_version") != SCHEMA_VERSION or meta.get("kind") != "steering":
        raise ValueError(f"{folder}: not a steering artifact of schema version {SCHEMA_VERSION}")
    t = load_file(str(folder / "steering.safetensors"))
    return [SteeringVector(v["hook"], t[v["key"]], v["source"]) for v in meta["vectors"]], meta


def save_feature_scores(folder: str | Path, scores: FeatureScores, config: dict[str, Any]) -> Path:
    """feature_scores.safetensors (input_score, output_score, top_tokens, n_examples per feature) and
    feature_scores.json (schema_version, kind "feature-scores", alpha, prompt, config)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    names = ("input_score", "output_score", "top_tokens", "n_examples")
    tensors = {n: getattr(scores, n).contiguous().cpu() for n in names}
    meta = {"schema_version": SCHEMA_VERSION, "kind": "feature-scores", "alpha": scores.alpha,
            "prompt": scores.prompt, "n_features": int(scores.input_score.shape[0]), "config": config}
    atomic_write(folder / "feature_scores.safetensors", lambda p: save_file(tensors, str(p)))
    atomic_write(folder / "feature_scores.json", lambda p: p.write_text(json.dumps(meta, indent=1)))
    return folder


def load_feature_scores(folder: str | Path) -> tuple[FeatureScores, dict]:
    """The scores and JSON written by `save_feature_scores` (schema version checked)."""
    folder = Path(folder)
    meta = json.loads((folder / "feature_scores.json").read_text())
    if meta.get("schema_version") != SCHEMA_VERSION or meta.get("kind") != "feature-scores":
        raise ValueError(f"{folder}: not a feature-scores artifact of schema version {SCHEMA_VERSION}")
    t = load_file(str(folder / "feature_scores.safetensors"))
    return FeatureScores(t["input_score"], t["output_score"], t["top_tokens"], t["n_examples"], meta["alpha"],
                         meta["prompt"]), meta


