"""Resumable neuron statistics: the streaming sums of `interp neurons` / `interp universal`, saved as they go.

Every `checkpoint_every` documents the accumulators' state (float64 sums, the bigram slots, the AUROC sample; for
`universal` also the correlation sums) goes to `<out>/.checkpoint/` as one safetensors file plus a JSON index, each
written to a temporary name, fsync'ed and renamed. A run started again with the same options loads it and streams
the corpus from the next document; the corpus is a pure function of its seed and the document index, and the sums
are restored exactly, so the run ends with the same statistics as an uninterrupted one. Different options refuse
the checkpoint (naming the options that differ) instead of mixing two runs. The checkpoint is removed once the
statistics are written.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict
from pathlib import Path

from safetensors.torch import load_file, save_file
from torch import Tensor

from ..atomic import atomic_write

CKPT_DIR = ".checkpoint"
STATE, INDEX = "state.safetensors", "index.json"
NOT_IDENTITY = ("out", "device", "threads", "checkpoint_every")
"""Options that do not change the statistics (a checkpoint resumes under other values of these)."""


def identity(cfg) -> dict:
    return {k: v for k, v in asdict(cfg).items() if k not in NOT_IDENTITY}


def save_checkpoint(out: Path, cfg, docs_done: int, tensors: dict[str, Tensor], meta: dict) -> None:
    """State after the first `docs_done` documents: tensors by name, and JSON-ready `meta`."""
    folder = out / CKPT_DIR
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write(folder / STATE, lambda p: save_file({k: t.contiguous() for k, t in tensors.items()}, str(p)),
                 durable=True)
    index = {"identity": identity(cfg), "docs_done": docs_done, "meta": meta}
    atomic_write(folder / INDEX, lambda p: p.write_text(json.dumps(index)), durable=True)


def load_checkpoint(out: Path, cfg) -> tuple[int, dict[str, Tensor], dict] | None:
    """(docs_done, tensors, meta) of the checkpoint in `out`, or None; raises if it belongs to other options."""
    folder = out / CKPT_DIR
    if not (folder / INDEX).is_file():
        return None
    index = json.loads((folder / INDEX).read_text())
    mine = json.loads(json.dumps(identity(cfg)))
    diff = sorted(k for k in set(mine) | set(index["identity"]) if mine.get(k) != index["identity"].get(k))
    if diff:
        raise ValueError(f"{out} holds an unfinished run with other options ({', '.join(diff)} differ); repeat the "
                         f"original command to resume it, or use another --out")
    return index["docs_done"], load_file(str(folder / STATE)), index["meta"]


def clear_checkpoint(out: Path) -> None:
    shutil.rmtree(out / CKPT_DIR, ignore_errors=True)


def prefixed(prefix: str, tensors: dict[str, Tensor]) -> dict[str, Tensor]:
    return {f"{prefix}.{k}": t for k, t in tensors.items()}


def unprefixed(prefix: str, tensors: dict[str, Tensor]) -> dict[str, Tensor]:
    return {k[len(prefix) + 1:]: t for k, t in tensors.items() if k.startswith(prefix + ".")}
