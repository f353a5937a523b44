"""Resumable training checkpoints: weights, Adam state and dead-latent counters of every SAE of a run.

Layout (inside the run's --out folder)::

    checkpoint/latest.json               {"dir": "step-00001000"} (replaced atomically: the commit point)
    checkpoint/step-00001000/state.json  step, config identity, act scales, Adam step counts, sha256 of each file
    checkpoint/step-00001000/sae-{i}.safetensors   params, Adam moments, tokens-since-fired of SAE i

Tensors go to safetensors, scalars to JSON; nothing is pickled. A new checkpoint is written into its own folder and
becomes current only when latest.json points at it, so a run killed while checkpointing resumes from the previous
one. A checkpoint whose files are missing, unreadable or fail their checksum is reported as corrupt, never used.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import Tensor

from interp.atomic import atomic_write_text, fsync_path

CKPT_DIR = "checkpoint"
LATEST = "latest.json"


class CheckpointError(ValueError):
    """A checkpoint that cannot be used (corrupt, or from another run)."""


@dataclass
class SAEState:
    """Everything of one SAE that a resume needs."""

    tensors: dict[str, Tensor]
    """param.NAME, buffer.NAME, adam.NAME.exp_avg / exp_avg_sq, dead.tokens_since_fired."""
    adam_steps: dict[str, float]
    act_scale: float


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def _atomic_json(path: Path, data: dict) -> None:
    atomic_write_text(path, json.dumps(data, indent=1), durable=True)


def sae_state(sae, opt: torch.optim.Optimizer, tokens_since_fired: Tensor) -> SAEState:
    """Capture one SAE's weights, buffers, Adam moments and dead counters (copies on CPU)."""
    t = {f"param.{n}": p.detach().cpu().clone() for n, p in sae.named_parameters()}
    t.update({f"buffer.{n}": b.detach().cpu().clone() for n, b in sae.named_buffers()})
    steps = {}
    for n, p in sae.named_parameters():
        st = opt.state.get(p)
        if st:
            t[f"adam.{n}.exp_avg"] = st["exp_avg"].detach().cpu().clone()
            t[f"adam.{n}.exp_avg_sq"] = st["exp_avg_sq"].detach().cpu().clone()
            steps[n] = float(st["step"])
    t["dead.tokens_since_fired"] = tokens_since_fired.detach().cpu().clone()
    return SAEState(t, steps, sae.cfg.act_scale)


@torch.no_grad()
def restore_sae_state(state: SAEState, sae, opt: torch.optim.Optimizer) -> Tensor:
    """Load a captured state into `sae` and `opt`; returns tokens_since_fired (on the SAE's device)."""
    dev = sae.W_dec.device
    sae.cfg.act_scale = state.act_scale
    for n, p in sae.named_parameters():
        p.copy_(state.tensors[f"param.{n}"])
    for n, b in sae.named_buffers():
        b.copy_(state.tensors[f"buffer.{n}"])
    for n, p in sae.named_parameters():
        if n in state.adam_steps:
            opt.state[p] = {"step": torch.tensor(state.adam_steps[n], dtype=torch.float32),
                            "exp_avg": state.tensors[f"adam.{n}.exp_avg"].to(dev),
                            "exp_avg_sq": state.tensors[f"adam.{n}.exp_avg_sq"].to(dev)}
    return state.tensors["dead.tokens_since_fired"].to(dev)


def save_checkpoint(out: Path, step: int, meta: dict, states: list[SAEState]) -> Path:
    """Write checkpoint `step` and make it current; older checkpoints are removed afterwards."""
    root = out / CKPT_DIR
    name = f"step-{step:08d}"
    folder = root / name
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    files, scalars = {}, []
    for i, st in enumerate(states):
        path = folder / f"sae-{i}.safetensors"
        save_file({k: v.contiguous() for k, v in st.tensors.items()}, str(path))
        fsync_path(path)
        files[path.name] = _sha256(path)
        scalars.append({"adam_steps": st.adam_steps, "act_scale": st.act_scale})
    _atomic_json(folder / "state.json", {**meta, "step": step, "saes": scalars, "files": files})
    _atomic_json(root / LATEST, {"dir": name, "step": step})
    for old in root.glob("step-*"):
        if old.name != name:
            shutil.rmtree(old, ignore_errors=True)
    return folder


def has_checkpoint(out: Path) -> bool:
    return (out / CKPT_DIR / LATEST).exists()


def _read_json(path: Path, what: str) -> dict:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise CheckpointError(f"corrupt checkpoint: {path} ({what}) is missing") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"corrupt checkpoint: {path} ({what}) is not valid JSON ({e})") from None


def load_checkpoint(out: Path) -> tuple[dict, list[SAEState]]:
    """(state.json contents, per-SAE states) of the current checkpoint; CheckpointError if anything is off."""
    root = out / CKPT_DIR
    fix = f"delete {root} to start the run afresh, or use another --out"
    try:
        latest = _read_json(root / LATEST, "pointer to the current checkpoint")
        folder = root / str(latest.get("dir"))
        meta = _read_json(folder / "state.json", "checkpoint state")
        states = []
        for i, sc in enumerate(meta["saes"]):
            path = folder / f"sae-{i}.safetensors"
            if not path.is_file() or _sha256(path) != meta["files"].get(path.name):
                raise CheckpointError(f"corrupt checkpoint: {path} is missing or fails its sha256 check")
            try:
                with safe_open(str(path), framework="pt") as f:
                    tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
            except Exception as e:
                raise CheckpointError(f"corrupt checkpoint: {path} is unreadable ({e})") from None
            states.append(SAEState(tensors, sc["adam_steps"], sc["act_scale"]))
    except CheckpointError as e:
        raise CheckpointError(f"{e}; {fix}") from None
    except (KeyError, TypeError, AttributeError) as e:
        raise CheckpointError(f"corrupt checkpoint in {root}: state.json lacks {e}; {fix}") from None
    return meta, states


def remove_checkpoints(out: Path) -> None:
    shutil.rmtree(out / CKPT_DIR, ignore_errors=True)
