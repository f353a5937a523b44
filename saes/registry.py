"""The one open registry of dictionary kinds (SAE architectures), SAELens-style: every list of architectures, every
CLI choice and every SAELens name comes from here.

Two levels, so the CLI can build its parser without torch:

- `Architecture` (torch-free): the name, the module that implements it, and which train-sae options it reads (the
  sweep option that sets its sparsity, and any other). Declared with `declare(...)`; the built-in ones below.
- `Kind` (registered by that module when it is imported, with `register_architecture(...)`): its config class, its
  SAE class, its SAELens save name and read names, its sweep label and its optional per-step training hook (ReLU's
  resampling). Its loss is `sae.step_loss(StepContext)`, the same call for every kind; its SAELens (de)serialisation
  quirks are methods of its SAE and config classes.

A new architecture is one module that calls `register_architecture(Kind(...))`, plus one `declare(...)` line (here
for the built-in ones, or in the package that adds it): the trainer and saes.io carry no architecture names.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

SWEEP_OPTIONS = ("k", "l0_coefficient", "l1_coefficient")
"""The list-valued train-sae options that can set an architecture's sparsity (docs/methods.md §1)."""


@dataclass(frozen=True)
class Architecture:
    """One declared architecture: what the CLI needs to know about it without importing torch."""

    name: str
    module: str
    """The module that implements it and registers its `Kind` when imported."""
    sparsity_option: str = ""
    """The sweep option that sets its sparsity (one of SWEEP_OPTIONS); "" for one that train-sae does not train."""
    options: tuple[str, ...] = ()
    """Other train-sae options only this architecture (and the others naming them) reads, e.g. resample_every."""

    @property
    def trainable(self) -> bool:
        """Whether train-sae trains it (otherwise it is opened for inference only)."""
        return bool(self.sparsity_option)

    def kind(self) -> Kind:
        """Its implementation (imports its module, hence torch)."""
        if self.name not in _KINDS:
            importlib.import_module(self.module)
        if self.name not in _KINDS:
            raise ImportError(f"{self.module} did not register the architecture {self.name!r}: it must call "
                              f"saes.registry.register_architecture(Kind({self.name!r}, ...))")
        return _KINDS[self.name]


@dataclass(frozen=True)
class Kind:
    """Everything an architecture's module registers about itself."""

    name: str
    config: type
    """Its config class (a saes.config.SAEConfig subclass with its own hyperparameters)."""
    sae: type
    """Its SAE class (a saes.base.BaseSAE subclass)."""
    saelens_save: str
    """The SAELens architecture it is written as."""
    saelens_read: tuple[str, ...]
    """SAELens architecture names loaded as this architecture."""
    sweep_label: str = ""
    """Format of the sparsity part of a sweep member's name, from the SAESpec fields (e.g. "k{k}")."""
    step_hook: Callable[..., int] | None = None
    """Called by the trainer after the optimiser steps (when its option asks for it): hook(trainer, run, step) returns
    how many latents it changed (ReLU's resampling)."""
    legacy_activations: tuple[str, ...] = ()
    """Pre-6.0 SAELens configs with one of these activation_fn values load as this architecture ("*": any other)."""


ARCHITECTURES: dict[str, Architecture] = {}
"""Every declared architecture by name (the CLI reads it without torch)."""
_KINDS: dict[str, Kind] = {}


def declare(arch: Architecture) -> None:
    """Add (or replace) an architecture's declaration."""
    ARCHITECTURES[arch.name] = arch


def register_architecture(kind: Kind) -> None:
    """Called by an architecture's module at import: add (or replace) its implementation."""
    if kind.name not in ARCHITECTURES:
        raise ValueError(f"architecture {kind.name!r} is not declared: call saes.registry.declare(Architecture("
                         f"{kind.name!r}, module)) first")
    _KINDS[kind.name] = kind


for _arch in (Architecture("relu", "saes.relu", "l1_coefficient", ("resample_every",)),
              Architecture("topk", "saes.topk", "k"),
              Architecture("jumprelu", "saes.jumprelu", "l0_coefficient"),
              Architecture("batchtopk", "saes.batchtopk", "k"),
              Architecture("matryoshka", "saes.matryoshka", "k", ("prefixes",)),
              Architecture("gated", "saes.gated")):
    declare(_arch)

DEFAULT_ARCH = "topk"
"""What train-sae trains without --arch."""
ARCH_NAMES: tuple[str, ...] = tuple(a.name for a in ARCHITECTURES.values() if a.trainable)
"""The built-in architectures train-sae trains (its --arch choices); `arch_names()` includes later declarations."""
SAELENS_REFUSED: dict[str, str] = {
    **dict.fromkeys(("transcoder", "skip_transcoder", "jumprelu_transcoder", "jumprelu_skip_transcoder"),
                    "a transcoder (it maps one hook's activations to another's); interp opens SAEs only"),
    "abstopk": "TopK on absolute values, which interp does not implement",
    "matching_pursuit": "a matching-pursuit encoder, which interp does not implement",
    "temporal": "a temporal SAE (codes depend on earlier tokens), which interp does not implement",
}
"""SAELens architectures refused by name, with the reason."""


def arch_names(trainable: bool = True) -> tuple[str, ...]:
    """The declared architectures (only those train-sae trains, unless trainable=False)."""
    return tuple(a.name for a in ARCHITECTURES.values() if a.trainable or not trainable)


def architecture(name: str) -> Architecture:
    """The architecture called `name`; a clear error listing the valid ones."""
    if name not in ARCHITECTURES:
        raise ValueError(f"unknown SAE architecture {name!r}; valid: {', '.join(ARCHITECTURES)}")
    return ARCHITECTURES[name]


def kind(name: str) -> Kind:
    """The implementation of the architecture called `name` (imports its module)."""
    return architecture(name).kind()


def kinds() -> list[Kind]:
    """Every declared architecture's implementation."""
    return [a.kind() for a in ARCHITECTURES.values()]


def uses_k(name: str) -> bool:
    """Whether `name`'s sparsity is set by --k (a fixed number of active latents) rather than a loss coefficient."""
    return architecture(name).sparsity_option == "k"


def option_users(option: str) -> list[str]:
    """The declared architectures that read the train-sae option `option`."""
    return [a.name for a in ARCHITECTURES.values() if option == a.sparsity_option or option in a.options]


def saelens_arch(raw: dict[str, Any]) -> str:
    """Our architecture for a SAELens cfg.json dict; a clear error for refused or unknown ones."""
    readable = {s: k.name for k in kinds() for s in k.saelens_read}
    name = raw.get("architecture")
    if name is None:  # pre-6.0 SAELens configs name an activation function; anything else was its standard SAE
        act = raw.get("activation_fn") or raw.get("activation_fn_str")
        legacy = [k for k in kinds() if act in k.legacy_activations] or \
            [k for k in kinds() if "*" in k.legacy_activations]
        name = legacy[0].saelens_read[0]
    if name in SAELENS_REFUSED:
        raise ValueError(f"SAELens architecture {name!r} is {SAELENS_REFUSED[name]}: not supported. interp opens "
                         f"{', '.join(readable)}")
    if name not in readable:
        raise ValueError(f"unknown SAE architecture {name!r} in cfg.json; valid: {', '.join(readable)}")
    return readable[name]
