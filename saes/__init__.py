"""Sparse autoencoders: architectures (relu, topk, jumprelu, batchtopk), SAELens-format I/O and dictionary metrics.

`saes` may import `interp` but never `circuits` or `apps`.
"""

from __future__ import annotations

from saes.base import ARCHITECTURES, BaseSAE, SAEConfig, SAELosses, SAEOutput
from saes.batchtopk import BatchTopKSAE
from saes.jumprelu import JumpReLUSAE
from saes.relu import ReLUSAE
from saes.topk import TopKSAE

SAE_CLASSES: dict[str, type[BaseSAE]] = {
    "relu": ReLUSAE,
    "topk": TopKSAE,
    "jumprelu": JumpReLUSAE,
    "batchtopk": BatchTopKSAE,
}


def build_sae(cfg: SAEConfig) -> BaseSAE:
    """A freshly initialised SAE of cfg.arch."""
    return SAE_CLASSES[cfg.arch](cfg)


__all__ = [
    "ARCHITECTURES",
    "BaseSAE",
    "BatchTopKSAE",
    "JumpReLUSAE",
    "ReLUSAE",
    "SAEConfig",
    "SAELosses",
    "SAEOutput",
    "SAE_CLASSES",
    "TopKSAE",
    "build_sae",
]
