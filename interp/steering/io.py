"""Steering artifacts on disk (dictionary folders are opened through interp.dictionary.load, never read here).

A steering artifact is a folder with `steering.safetensors` (one unit direction per vector, keyed "v0", "v1", ...)
and `steering.json` (schema_version, kind "steering", the config, and per vector its hook, source, calibration and
anything else the command computed), each written atomically. The explorer reads these.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from interp.json_files import read_json

from ..atomic import atomic_write
from ..safetensors_io import read_tensors, write_tensors
from .scores import FeatureScores
from .vectors import SteeringVector

SCHEMA_VERSION = 1


def save_steering(folder: str | Path, vectors: list[SteeringVector], records: list[dict[str, Any]],
                  config: dict[str, Any]) -> Path:
    """Write a steering artifact (see module doc); `records[i]` is vector i's extra JSON (calibration, tokens...)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {f"v{i}": v.direction.contiguous().float() for i, v in enumerate(vectors)}
    meta = {"schema_version": SCHEMA_VERSION, "kind": "steering", "config": config,
            "vectors": [{"key": f"v{i}", "hook": v.hook, "source": v.source, **r}
                        for i, (v, r) in enumerate(zip(vectors, records))]}
    atomic_write(folder / "steering.safetensors", lambda p: write_tensors(p, tensors))
    atomic_write(folder / "steering.json", lambda p: p.write_text(json.dumps(meta, indent=1)))
    return folder


def load_steering(folder: str | Path) -> tuple[list[SteeringVector], dict]:
    """The vectors and the JSON of a steering artifact (schema version checked)."""
    folder = Path(folder)
    meta = read_json(folder / "steering.json")
    if meta.get("schema_version") != SCHEMA_VERSION or meta.get("kind") != "steering":
        raise ValueError(f"{folder}: not a steering artifact of schema version {SCHEMA_VERSION}")
    t = read_tensors(folder / "steering.safetensors", "steering vectors")
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
    atomic_write(folder / "feature_scores.safetensors", lambda p: write_tensors(p, tensors))
    atomic_write(folder / "feature_scores.json", lambda p: p.write_text(json.dumps(meta, indent=1)))
    return folder


def load_feature_scores(folder: str | Path) -> tuple[FeatureScores, dict]:
    """The scores and JSON written by `save_feature_scores` (schema version checked)."""
    folder = Path(folder)
    meta = read_json(folder / "feature_scores.json")
    if meta.get("schema_version") != SCHEMA_VERSION or meta.get("kind") != "feature-scores":
        raise ValueError(f"{folder}: not a feature-scores artifact of schema version {SCHEMA_VERSION}")
    t = read_tensors(folder / "feature_scores.safetensors", "feature scores")
    return FeatureScores(t["input_score"], t["output_score"], t["top_tokens"], t["n_examples"], meta["alpha"],
                         meta["prompt"]), meta


