"""SAE training: the config and sweep grid, activation sources, checkpoints, DDP, the trainer and the CLI entry.

`train_saes(TrainSAEConfig.of(...))` trains (or resumes) every SAE of the config's grid; `interp train-sae` is the same.
"""

from __future__ import annotations

from saes.training.config import SAESpec, TrainSAEConfig, default_lr, expand_grid

__all__ = ["SAESpec", "TrainSAEConfig", "default_lr", "expand_grid"]
