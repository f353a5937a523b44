"""Sparse autoencoders: architectures (relu, topk, jumprelu, batchtopk), SAELens-format I/O and dictionary metrics.

`saes` may import `interp` but never `circuits` or `apps`. Members are imported lazily, so that `saes.commands`
(read by `interp --help`) does not pull in torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

_MEMBERS = {
    "ARCHITECTURES": "saes.base", "BaseSAE": "saes.base", "SAEConfig": "saes.base", "SAELosses": "saes.base",
    "SAEOutput": "saes.base", "BatchTopKSAE": "saes.batchtopk", "JumpReLUSAE": "saes.jumprelu",
    "ReLUSAE": "saes.relu", "TopKSAE": "saes.topk",
}

if TYPE_CHECKING:
    from saes.base import ARCHITECTURES, BaseSAE, SAEConfig, SAELosses, SAEOutput
    from saes.batchtopk import BatchTopKSAE
    from saes.jumprelu import JumpReLUSAE
    from saes.relu import ReLUSAE
    from saes.topk import TopKSAE


def __getattr__(name: str):
    if name in _MEMBERS:
        return getattr(importlib.import_module(_MEMBERS[name]), name)
    if name == "SAE_CLASSES":
        from saes.batchtopk import BatchTopKSAE
        from saes.jumprelu import JumpReLUSAE
        from saes.relu import ReLUSAE
        from saes.topk import TopKSAE

        return {"relu": ReLUSAE, "topk": TopKSAE, "jumprelu": JumpReLUSAE, "batchtopk": BatchTopKSAE}
    raise AttributeError(f"module 'saes' has no attribute {name!r}")


def build_sae(cfg: SAEConfig) -> BaseSAE:
    """A freshly initialised SAE of cfg.arch."""
    return __getattr__("SAE_CLASSES")[cfg.arch](cfg)


__all__ = ["ARCHITECTURES", "BaseSAE", "BatchTopKSAE", "JumpReLUSAE", "ReLUSAE", "SAEConfig", "SAELosses", "SAEOutput",
           "SAE_CLASSES", "TopKSAE", "build_sae"]
