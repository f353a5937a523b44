"""Sparse autoencoders: the dictionary kinds (one module per architecture, listed in saes.registry), SAELens-format
I/O, training, SNMF and dictionary metrics.

`saes` may import `interp` but never `circuits` or `apps`. Members are imported lazily, so that `saes.commands`
(read by `interp --help`) does not pull in torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

_MEMBERS = {
    "ARCH_NAMES": "saes.registry", "BaseSAE": "saes.base", "SAEConfig": "saes.config",
    "sae_config": "saes.config", "SAELosses": "saes.base", "StepContext": "saes.base",
    "SAEOutput": "saes.base", "BatchTopKSAE": "saes.batchtopk", "JumpReLUSAE": "saes.jumprelu",
    "ReLUSAE": "saes.relu", "TopKSAE": "saes.topk", "MatryoshkaSAE": "saes.matryoshka",
}

if TYPE_CHECKING:
    from saes.base import BaseSAE, SAELosses, SAEOutput, StepContext
    from saes.batchtopk import BatchTopKSAE
    from saes.config import SAEConfig, sae_config
    from saes.jumprelu import JumpReLUSAE
    from saes.matryoshka import MatryoshkaSAE
    from saes.registry import ARCH_NAMES
    from saes.relu import ReLUSAE
    from saes.topk import TopKSAE


def __getattr__(name: str):
    if name in _MEMBERS:
        return getattr(importlib.import_module(_MEMBERS[name]), name)
    raise AttributeError(f"module 'saes' has no attribute {name!r}")


def build_sae(cfg: SAEConfig) -> BaseSAE:
    """A freshly initialised SAE of cfg.arch (the class comes from saes.registry)."""
    from saes.registry import kind

    return kind(cfg.arch).sae(cfg)


__all__ = ["ARCH_NAMES", "BaseSAE", "BatchTopKSAE", "JumpReLUSAE", "MatryoshkaSAE", "ReLUSAE", "SAEConfig", "SAELosses",
           "SAEOutput", "StepContext", "TopKSAE", "build_sae", "sae_config"]
