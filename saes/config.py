"""The fields every SAE has (`SAEConfig`, free of torch); each architecture's module (saes/relu.py, ...) subclasses
it with its own hyperparameters, so no config carries options of another architecture.

`sae_config(arch, **fields)` builds the config class the registry's kind for `arch` names; a field another
architecture uses but `arch` does not (k for relu, bandwidth for topk) is an error saying which architectures use it.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

DTYPE_NAMES = ("float32", "float64", "bfloat16", "float16")


@dataclass
class SAEConfig:
    """The fields every SAE has; an architecture's config class adds its own."""

    arch: ClassVar[str] = ""
    unit_norm_default: ClassVar[bool] = True
    """Whether decoder rows are kept at unit norm by default (every architecture but relu)."""

    d_in: int
    """Width of the activations."""
    d_sae: int
    """Number of latents (dictionary size)."""
    hook_name: str = ""
    """TransformerLens hook the SAE reads (e.g. blocks.1.hook_resid_post)."""
    dtype: str = "float32"
    """Parameter dtype (float32, float64, bfloat16, float16). JumpReLU thresholds are always float32."""
    device: str = "cpu"
    """Device the parameters are created on."""
    act_scale: float = 1.0
    """Activation-normalisation scale s (sqrt(d_in)/E||x||): inputs are multiplied by it, outputs divided."""
    model_name: str | None = None
    """Model the SAE was trained on, recorded in the saved metadata."""
    unit_norm_decoder: bool | None = None
    """Keep decoder rows at unit norm during training; None = the architecture's default (False only for relu)."""
    metadata: dict = field(default_factory=dict)
    """Free-form extra information carried into the saved cfg.json metadata."""

    def __post_init__(self) -> None:
        if self.d_in <= 0 or self.d_sae <= 0:
            raise ValueError(f"d_in and d_sae must be positive, got d_in={self.d_in}, d_sae={self.d_sae}")
        if self.dtype not in DTYPE_NAMES:
            raise ValueError(f"dtype {self.dtype!r} not one of {', '.join(DTYPE_NAMES)}")
        if not (self.act_scale > 0 and math.isfinite(self.act_scale)):
            raise ValueError(f"act_scale must be positive and finite, got {self.act_scale}")
        if self.unit_norm_decoder is None:
            self.unit_norm_decoder = self.unit_norm_default

    @property
    def torch_dtype(self):
        import torch

        return getattr(torch, self.dtype)

    def arch_fields(self) -> dict[str, Any]:
        """This architecture's own hyperparameters (the fields SAEConfig itself does not have)."""
        base = {f.name for f in dataclasses.fields(SAEConfig)}
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in base}

    def to_dict(self) -> dict:
        return {"arch": self.arch, **asdict(self)}

    @classmethod
    def saelens_fields(cls, raw: dict) -> dict[str, Any]:
        """This architecture's fields read from a SAELens cfg.json dict (beyond d_in, d_sae, hook, dtype)."""
        return {}


def check_coeffs(*values: float) -> None:
    """Loss coefficients must be finite and non-negative (every architecture's config checks its own)."""
    if min(values) < 0 or not all(math.isfinite(v) for v in values):
        raise ValueError(f"loss coefficients must be finite and non-negative, got {values}")


PREFIX_FIX = "give increasing sizes ending at most at --d-sae, e.g. --prefixes 128,512,2048"


def check_prefixes(prefixes: list[int], d_sae: int) -> None:
    """Nested prefix sizes (a Matryoshka dictionary's) must be strictly increasing, at least 1 and at most d_sae:
    one-line errors naming --prefixes and the fix (train-sae checks them before any work, the config again)."""
    if not prefixes:
        raise ValueError(f"--prefixes is empty: {PREFIX_FIX} (or leave it out: d_sae/16, d_sae/4, d_sae)")
    if min(prefixes) < 1:
        raise ValueError(f"--prefixes {_show(prefixes)} has a size below 1: {PREFIX_FIX}")
    if any(b <= a for a, b in zip(prefixes, prefixes[1:])):
        raise ValueError(f"--prefixes {_show(prefixes)} is not increasing: {PREFIX_FIX}")
    if prefixes[-1] > d_sae:
        raise ValueError(f"--prefixes {_show(prefixes)} has a prefix of {prefixes[-1]} latents, more than --d-sae "
                         f"{d_sae}: {PREFIX_FIX}")


def _show(prefixes: list[int]) -> str:
    return ",".join(str(p) for p in prefixes)


def sae_config(arch: str, strict: bool = True, **fields: Any) -> SAEConfig:
    """The config of architecture `arch` (saes.registry) from `fields`. Fields of other architectures are refused
    (strict) or left out (strict=False: a trainer offering every hyperparameter it has, each architecture taking its
    own)."""
    from saes.registry import kind, kinds

    cls = kind(arch).config  # raises listing the valid ones
    mine = {f.name for f in dataclasses.fields(cls)}
    for name, value in fields.items():
        if strict and name not in mine and value is not None:
            users = sorted(k.name for k in kinds() if name in {f.name for f in dataclasses.fields(k.config)})
            if not users:
                raise TypeError(f"SAE configs have no field {name!r}")
            raise ValueError(f"{name} is only used by {', '.join(users)}, got {name}={value!r} for {arch}")
    return cls(**{k: v for k, v in fields.items() if k in mine})
