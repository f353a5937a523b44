"""ProSparse (Song et al. 2024, "ProSparse: Introducing and Enhancing Intrinsic Activation Sparsity within Large
Language Models"): make a model's MLP activations sparse without losing its performance, in three steps.

1. Activation substitution: the activation (GELU, SiLU) becomes ReLU and training continues (`interp toyworld train
   --init-from toy-gelu-s0 --act relu --prosparse`: stage 0, no penalty).
2. Progressive sparsity regularisation: the loss gains lambda_t * sum_i |a_i| over the MLP activations (summed over
   layers and neurons, averaged over tokens). Its factor rises in stages: within stage s it follows a sine curve
   from the previous stage's peak to this one's, lambda_t = lambda_{s-1} + (lambda_s - lambda_{s-1}) *
   sin(pi/2 * progress within the stage) (lambda_0 = 0), so the penalty never jumps and the model adapts as it grows.
3. Activation threshold shifting: ReLU becomes FATReLU (a = x if x >= theta else 0, small theta > 0), which
   zeroes the many small positive activations at little cost (interp.mlp_variants).

The paper reaches 89.32% / 88.80% sparsity on LLaMA2-7B / 13B at comparable performance. Held-out loss and exact-zero
sparsity are measured after each stage and after the shift (`stage_record`), logged and kept in the model card.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, NamedTuple

import torch
from jaxtyping import Float

from .config import ToyTrainConfig
from .evaluate import heldout_sparsity

if TYPE_CHECKING:
    from torch import Tensor
    from transformer_lens import HookedTransformer


class Stage(NamedTuple):
    """One ProSparse stage: its steps [start, end) and the L1 factors it rises between."""

    index: int
    start: int
    end: int
    l1_from: float
    l1_to: float


def stages(n_steps: int, peaks: tuple[float, ...]) -> list[Stage]:
    """The run's stages: stage 0 without penalty, then one per peak; the steps are split evenly (the last stage
    takes the remainder)."""
    n = len(peaks) + 1
    length = n_steps // n
    bounds = [i * length for i in range(n)] + [n_steps]
    levels = (0.0, 0.0, *peaks)  # stage 0 stays at 0; stage s rises from peaks[s-2] (0 for s = 1) to peaks[s-1]
    return [Stage(i, bounds[i], bounds[i + 1], levels[i], levels[i + 1]) for i in range(n)]


def l1_factor(step: int, plan: list[Stage]) -> float:
    """lambda at `step`: lambda_{s-1} + (lambda_s - lambda_{s-1}) * sin(pi/2 * progress) within its stage s."""
    stage = next((s for s in plan if s.start <= step < s.end), plan[-1])
    progress = min(1.0, (step - stage.start) / max(1, stage.end - stage.start))
    return stage.l1_from + (stage.l1_to - stage.l1_from) * math.sin(math.pi / 2 * progress)


class L1Penalty:
    """The ProSparse penalty: hooks on every blocks.L.mlp.hook_post keep the activations of the current forward pass;
    `take()` returns lambda * sum_i |a_i| (mean over tokens, summed over layers) for the loss and forgets them."""

    def __init__(self, model: HookedTransformer):
        self.factor = 0.0
        self.acts: list[Tensor] = []
        for block in model.blocks:
            block.mlp.hook_post.add_hook(self._keep)

    def _keep(self, acts: Tensor, hook) -> None:
        if self.factor > 0 and torch.is_grad_enabled():  # stage 0 and held-out evaluations keep none
            self.acts.append(acts)  # [batch, pos, d_mlp]

    def take(self) -> Float[Tensor, ""] | float:
        acts, self.acts = self.acts, []
        if not acts:
            return 0.0
        return self.factor * sum(a.abs().sum(-1).mean() for a in acts)


def stage_record(model: HookedTransformer, cfg: ToyTrainConfig, stage: str, l1: float, tokens: int) -> dict[str, Any]:
    """Held-out loss and exact-zero sparsity of the model now (it is put back in training mode)."""
    was_training = model.training
    model.eval()
    held = heldout_sparsity(model, cfg.world, seed=cfg.seed)
    model.train(was_training)
    return {"stage": stage, "l1": l1, "tokens": tokens, "heldout_loss": round(held.loss, 4),
            "zero_frac": round(sum(held.zero_frac) / len(held.zero_frac), 4),
            "zero_frac_by_layer": [round(z, 4) for z in held.zero_frac]}


def describe(record: dict[str, Any]) -> str:
    """One log line for a stage record."""
    layers = " ".join(f"{z:.1%}" for z in record["zero_frac_by_layer"])
    return (f"ProSparse {record['stage']}: l1 {record['l1']:g} after {record['tokens']:,} tokens: held-out loss "
            f"{record['heldout_loss']:.3f}, exact-zero activations {record['zero_frac']:.1%} (by layer {layers})")
