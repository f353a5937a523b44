"""The one list of SAE architectures: CLI choices, classes and the SAELens names all come from here.

Kept free of torch (the CLI reads it to build its parser). Each architecture names its class (imported only when
an SAE is built), the SAELens architecture it is saved as, the SAELens names read back as it, and which sweep
option sets its sparsity (docs/methods.md §1: an L1 coefficient, an L0 coefficient, or k).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Architecture:
    """One SAE architecture."""

    name: str
    cls: str
    """"module:Class" of its implementation."""
    saelens_save: str
    """The SAELens architecture it is written as (batchtopk in its inference form, a jumprelu)."""
    saelens_read: tuple[str, ...]
    """SAELens architecture names loaded as this architecture."""
    sparsity: Literal["l1", "l0", "k", "none"]
    """What sets its sparsity: --l1-coefficient, --l0-coefficient or --k ("none": not trained here)."""
    trainable: bool = True
    """Whether train-sae trains it (otherwise it is opened for inference only)."""

    def load_class(self) -> type:
        module, name = self.cls.split(":")
        return getattr(importlib.import_module(module), name)


ARCHITECTURES: dict[str, Architecture] = {a.name: a for a in (
    Architecture("relu", "saes.relu:ReLUSAE", "standard", ("standard",), "l1"),
    Architecture("topk", "saes.topk:TopKSAE", "topk", ("topk",), "k"),
    Architecture("jumprelu", "saes.jumprelu:JumpReLUSAE", "jumprelu", ("jumprelu",), "l0"),
    Architecture("batchtopk", "saes.batchtopk:BatchTopKSAE", "jumprelu", ("batchtopk", "matryoshka_batchtopk"), "k"),
    Architecture("gated", "saes.gated:GatedSAE", "gated", ("gated",), "none", trainable=False),
)}
ARCH_NAMES: tuple[str, ...] = tuple(a.name for a in ARCHITECTURES.values() if a.trainable)
"""The architectures train-sae trains (its --arch choices)."""
SAELENS_TO_ARCH: dict[str, str] = {s: a.name for a in ARCHITECTURES.values() for s in a.saelens_read}
SAELENS_REFUSED: dict[str, str] = {
    **dict.fromkeys(("transcoder", "skip_transcoder", "jumprelu_transcoder", "jumprelu_skip_transcoder"),
                    "a transcoder (it maps one hook's activations to another's); interp opens SAEs only"),
    "abstopk": "TopK on absolute values, which interp does not implement",
    "matching_pursuit": "a matching-pursuit encoder, which interp does not implement",
    "temporal": "a temporal SAE (codes depend on earlier tokens), which interp does not implement",
}
"""SAELens architectures refused by name, with the reason."""


def architecture(name: str) -> Architecture:
    """The architecture called `name`; a clear error listing the valid ones."""
    if name not in ARCHITECTURES:
        raise ValueError(f"unknown SAE architecture {name!r}; valid: {', '.join(ARCHITECTURES)}")
    return ARCHITECTURES[name]


def uses_k(name: str) -> bool:
    return architecture(name).sparsity == "k"
