"""Circuits a model is known to have, as data beside the model: `circuits.json` in a model's folder (the shipped
toy models' are in data/models/NAME/; any model folder may carry one), each entry naming the task, the heads, what
they do and where it was found (docs/circuits.md: on toy-gelu-s0, IOI's name mover L3H3, found by patching exactly
the circuit's set and read from attention and direct logit attribution, Wang et al. 2022's roles).

The explorer's Circuits page names them beside the patching results and opens the attention view on their head;
`attention_pattern` gives one head's attention on one prompt (what those roles are read from).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import torch
from jaxtyping import Float, Int
from torch import Tensor

if TYPE_CHECKING:
    from transformer_lens import HookedTransformer

FILE, KIND = "circuits.json", "interp-known-circuits"


class KnownCircuit(NamedTuple):
    """One circuit a model is known to have on a task."""

    task: str
    """The task's name as the patching commands know it (ioi, gender, colour)."""
    name: str
    heads: list[tuple[int, int]]
    """(layer, head) of its attention heads, the most important first."""
    summary: str
    source: str
    """Where it was found (a document and the script that made its numbers)."""

    def label(self) -> str:
        return ", ".join(f"L{la}H{h}" for la, h in self.heads)


def known_circuits(model_name: str, task: str | None = None) -> list[KnownCircuit]:
    """The circuits recorded for `model_name` (a shipped name or a model folder), optionally only those of `task`
    ("ioi-abc" matches "ioi"); [] when none are recorded."""
    from interp.json_files import read_json
    from interp.models import model_folder

    try:
        folder = model_folder(model_name)
    except (ValueError, OSError):  # a fetchable model not fetched yet, an unreadable path: nothing recorded here
        return []
    path = folder / FILE if folder is not None else None
    if path is None or not path.is_file():
        return []
    data = read_json(path)
    if data.get("kind") != KIND:
        raise ValueError(f"{path}: not {KIND}")
    found = [KnownCircuit(c["task"], c["name"], [tuple(h) for h in c["heads"]], c["summary"], c["source"])
             for c in data.get("circuits", [])]
    return [c for c in found if task is None or task == c.task or task.startswith(c.task + "-")]


@torch.no_grad()
def attention_pattern(model: HookedTransformer, tokens: Int[Tensor, " pos"], layer: int, head: int
                      ) -> Float[np.ndarray, "dst src"]:
    """Attention of head `head` of layer `layer` on one prompt [pos]: row = the attending (destination) position,
    column = the attended (source) position; rows sum to 1."""
    name = f"blocks.{layer}.attn.hook_pattern"
    _, cache = model.run_with_cache(tokens[None].to(model.cfg.device), names_filter=name)
    return cache[name][0, head].float().cpu().numpy()


def strongest(scores: Float[Tensor, "... slice"]) -> int:
    """The index along the last axis holding the largest |score|: the slice a by-position view opens on."""
    flat = scores.abs().reshape(-1, scores.shape[-1])
    return int(flat.max(0).values.argmax())
