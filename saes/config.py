"""One config per SAE architecture (free of torch): the fields every SAE has in `SAEConfig`, and each architecture's
own hyperparameters in its subclass, so no config carries options of another architecture.

`sae_config(arch, **fields)` builds the config class the registry names for `arch`; a field another architecture
uses but `arch` does not (k for relu, bandwidth for topk) is an error saying which architectures use it.
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


def _check_coeffs(*values: float) -> None:
    if min(values) < 0 or not all(math.isfinite(v) for v in values):
        raise ValueError(f"loss coefficients must be finite and non-negative, got {values}")


@dataclass
class ReLUConfig(SAEConfig):
    """ReLU SAE with a decoder-norm-weighted L1 penalty."""

    arch: ClassVar[str] = "relu"
    unit_norm_default: ClassVar[bool] = False
    sparsity_coeff: float = 1.0
    """λ, the L1 coefficient."""

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_coeffs(self.sparsity_coeff)


@dataclass
class TopKConfig(SAEConfig):
    """TopK SAE: k latents per token, AuxK against dead latents."""

    arch: ClassVar[str] = "topk"
    k: int | None = None
    """Active latents per token (required)."""
    aux_coeff: float = 1 / 32
    """α, the AuxK loss scale."""
    k_aux: int | None = None
    """Latents used by AuxK; None means d_in // 2."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.k is None or not 1 <= self.k <= self.d_sae:
            raise ValueError(f"{self.arch} needs 1 <= k <= d_sae={self.d_sae}, got k={self.k}")
        if self.k_aux is not None and self.k_aux <= 0:
            raise ValueError(f"k_aux must be positive, got {self.k_aux}")
        _check_coeffs(self.aux_coeff)


@dataclass
class BatchTopKConfig(TopKConfig):
    """BatchTopK SAE: k latents per token on average over a batch; a global threshold at inference."""

    arch: ClassVar[str] = "batchtopk"
    threshold_lr: float = 0.01
    """EMA rate of the global threshold."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 < self.threshold_lr <= 1:
            raise ValueError(f"threshold_lr must be in (0, 1], got {self.threshold_lr}")


@dataclass
class JumpReLUConfig(SAEConfig):
    """JumpReLU SAE: learned per-latent thresholds, a direct L0 penalty."""

    arch: ClassVar[str] = "jumprelu"
    sparsity_coeff: float = 1.0
    """λ, the L0 coefficient."""
    bandwidth: float = 0.001
    """ε, the straight-through-estimator bandwidth."""
    init_threshold: float = 0.001
    """θ₀, the initial threshold."""
    pre_act_coeff: float = 0.0
    """c, the pre-activation loss on dead latents (0 = off)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.bandwidth <= 0 or self.init_threshold <= 0:
            raise ValueError("bandwidth and init_threshold must be positive")
        _check_coeffs(self.sparsity_coeff, self.pre_act_coeff)


@dataclass
class GatedConfig(SAEConfig):
    """Gated SAE (inference only): no hyperparameters of its own."""

    arch: ClassVar[str] = "gated"


CONFIGS: dict[str, type[SAEConfig]] = {c.arch: c for c in (ReLUConfig, TopKConfig, BatchTopKConfig, JumpReLUConfig,
                                                          GatedConfig)}


def sae_config(arch: str, strict: bool = True, **fields: Any) -> SAEConfig:
    """The config of architecture `arch` (saes.registry) from `fields`. Fields of other architectures are refused
    (strict) or left out (strict=False: a trainer offering every hyperparameter it has, each architecture taking its
    own)."""
    from saes.registry import architecture

    architecture(arch)  # raises listing the valid ones
    cls = CONFIGS[arch]
    mine = {f.name for f in dataclasses.fields(cls)}
    for name, value in fields.items():
        if strict and name not in mine and value is not None:
            users = sorted(a for a, c in CONFIGS.items() if name in {f.name for f in dataclasses.fields(c)})
            if not users:
                raise TypeError(f"SAE configs have no field {name!r}")
            raise ValueError(f"{name} is only used by {', '.join(users)}, got {name}={value!r} for {arch}")
    return cls(**{k: v for k, v in fields.items() if k in mine})
