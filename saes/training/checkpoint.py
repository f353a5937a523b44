"""What an SAE training run saves to resume: each SAE's weights, Adam moments and dead-latent counters.

Stored through interp.checkpoint (the one checkpoint mechanism: `<out>/checkpoint/step-N/`, one tensor group
`sae-{i}` per SAE of the sweep, the scalars in its JSON meta, sha256 per file, identity = the config's options that
decide what the run computes). This module only says what an SAE's state is and how to put it back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from jaxtyping import Int
from torch import Tensor

from interp.checkpoint import (
    CKPT_DIR,
    LATEST,
    Checkpointer,
    CheckpointError,
    Loaded,
    optimizer_state,
    restore_optimizer,
)

__all__ = ["CKPT_DIR", "LATEST", "CheckpointError", "Checkpointer", "SAEState", "sae_state", "restore_sae_state",
           "save_states", "load_states"]


@dataclass
class SAEState:
    """Everything of one SAE that a resume needs."""

    tensors: dict[str, Tensor]
    """param.NAME, buffer.NAME, adam.NAME.exp_avg / exp_avg_sq, dead.tokens_since_fired."""
    adam_steps: dict[str, float]
    act_scale: float


def sae_state(sae, opt: torch.optim.Optimizer, tokens_since_fired: Int[Tensor, " d_sae"]) -> SAEState:
    """Capture one SAE's weights, buffers, Adam moments and dead counters (copies on CPU)."""
    t = {f"param.{n}": p.detach().cpu().clone() for n, p in sae.named_parameters()}
    t.update({f"buffer.{n}": b.detach().cpu().clone() for n, b in sae.named_buffers()})
    adam, steps = optimizer_state(sae.named_parameters(), opt)
    t.update({f"adam.{k}": v for k, v in adam.items()})
    t["dead.tokens_since_fired"] = tokens_since_fired.detach().cpu().clone()
    return SAEState(t, steps, sae.cfg.act_scale)


@torch.no_grad()
def restore_sae_state(state: SAEState, sae, opt: torch.optim.Optimizer) -> Int[Tensor, " d_sae"]:
    """Load a captured state into `sae` and `opt`; returns tokens_since_fired (on the SAE's device)."""
    sae.cfg.act_scale = state.act_scale
    for n, p in sae.named_parameters():
        p.copy_(state.tensors[f"param.{n}"])
    for n, b in sae.named_buffers():
        b.copy_(state.tensors[f"buffer.{n}"])
    adam = {k[len("adam."):]: v for k, v in state.tensors.items() if k.startswith("adam.")}
    restore_optimizer(sae.named_parameters(), opt, adam, state.adam_steps)
    return state.tensors["dead.tokens_since_fired"].to(sae.W_dec.device)


def save_states(ckpt: Checkpointer, step: int, meta: dict[str, Any], states: list[SAEState]) -> None:
    """Checkpoint `step`: one tensor group per SAE, their scalars beside the command's meta."""
    scalars = [{"adam_steps": st.adam_steps, "act_scale": st.act_scale} for st in states]
    ckpt.save(step, {f"sae-{i}": st.tensors for i, st in enumerate(states)}, {**meta, "saes": scalars})


def load_states(loaded: Loaded) -> list[SAEState]:
    """The per-SAE states of a loaded checkpoint (in sweep order)."""
    try:
        return [SAEState(loaded.tensors[f"sae-{i}"], sc["adam_steps"], sc["act_scale"])
                for i, sc in enumerate(loaded.meta["saes"])]
    except KeyError as e:
        raise CheckpointError(f"corrupt checkpoint: it lacks {e}") from None
