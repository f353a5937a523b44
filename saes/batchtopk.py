"""BatchTopK SAE (Bussmann et al. 2024): keep the k·batch largest activations over the whole batch, not k per token.

Tokens then get as many latents as they need while the average L0 stays k. Per-token sparsity can't depend on the
batch at inference, so during training a global threshold θ tracks an EMA of the smallest kept activation; in eval
mode (and when saved) the SAE is a JumpReLU with that threshold for every latent (docs/methods.md §1). AuxK and the
unit-norm decoder come from TopKSAE, and so does the training step through the selected entries only
(saes/sparse_code.py: tokens hold different numbers of entries, one embedding_bag bag each).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from jaxtyping import Float, Int, Shaped
from torch import Tensor

from saes.base import SAEConfig, SAEOutput
from saes.registry import Kind, register_architecture
from saes.sparse_code import Entries, flat_entries
from saes.topk import TopKConfig, TopKSAE


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


def kth_largest_positions(flat: Float[Tensor, " n"], n_keep: int) -> Int[Tensor, " n_keep"]:
    """The (ascending) positions of the n_keep largest entries. The n_keep-th largest value v by selection
    (kthvalue) and the entries >= v, instead of torch.topk over all batch·d_sae entries (~3x slower on CPU); where
    ties at v give more than n_keep, the first ones at v are kept, as ties are broken arbitrarily either way."""
    if n_keep >= flat.numel():
        return torch.arange(flat.numel(), device=flat.device)
    v = torch.kthvalue(flat, flat.numel() - n_keep + 1).values
    above = (flat > v).nonzero().squeeze(1)
    at = (flat == v).nonzero().squeeze(1)[: n_keep - above.numel()]
    return torch.sort(torch.cat([above, at])).values if at.numel() else above


def batch_topk(h: Float[Tensor, "... d_sae"], k: int) -> Float[Tensor, "... d_sae"]:
    """Keep the k·n_tokens largest ReLU'd entries over the whole tensor, zero the rest."""
    acts = torch.relu(h)
    flat = acts.reshape(-1)
    n_keep = min(k * (acts.numel() // acts.shape[-1]), flat.numel())
    vals, idx = torch.topk(flat, n_keep, sorted=False)
    return torch.zeros_like(flat).scatter_(0, idx, vals).reshape(acts.shape)


class BatchTopKSAE(TopKSAE):
    """Batch-level TopK in training mode; JumpReLU with the global threshold in eval mode."""

    threshold: Tensor

    def __init__(self, cfg: SAEConfig):
        super().__init__(cfg)
        self.register_buffer("threshold", torch.zeros((), dtype=torch.float64, device=cfg.device))

    @classmethod
    def saelens_extra_shapes(cls, cfg: SAEConfig) -> dict[str, tuple[int, ...]]:
        return {"topk_threshold": ()}

    @classmethod
    def from_saelens_state(cls, state: dict[str, Shaped[Tensor, "*shape"]]) -> None:
        """SAELens's training save calls the global threshold topk_threshold."""
        state["threshold"] = state.pop("topk_threshold")

    def _apply(self, fn, recurse: bool = True) -> BatchTopKSAE:
        super()._apply(fn, recurse)
        if self.threshold.dtype != torch.float64:  # keep the EMA in double precision
            self.threshold = self.threshold.double()
        return self

    def activation(self, h: Float[Tensor, "... d_sae"]) -> Float[Tensor, "... d_sae"]:
        if self.training:
            return batch_topk(h, self.k)
        return h * (h > self.threshold.to(h.dtype)).to(h.dtype)

    def forward(self, x: Float[Tensor, "... d_in"]) -> SAEOutput:
        h = self.pre_acts(x)
        f = self.activation(h)
        return SAEOutput(self.decode(f), f, h)

    @torch.no_grad()
    def update_threshold_(self, acts: Float[Tensor, "*entries"]) -> None:
        """θ ← (1-lr)·θ + lr·(smallest positive kept activation); the first update sets θ directly."""
        pos = acts[acts > 0]
        if pos.numel() == 0:
            return
        m = pos.min().to(torch.float64)
        lr = self.cfg.threshold_lr
        self.threshold.copy_(m if float(self.threshold) == 0.0 else (1 - lr) * self.threshold + lr * m)

    @torch.no_grad()
    def select_entries(self, h_BF: Float[Tensor, "batch d_sae"]) -> Entries:
        """The k·batch largest pre-activations of the whole batch, token-major (their ReLU is `batch_topk`'s code:
        where fewer than k·batch are positive, the extra entries are zeros either way); in training mode also
        updates the threshold EMA."""
        B, d_sae = h_BF.shape
        flat = h_BF.reshape(-1)
        flat_idx = kth_largest_positions(flat, min(self.k * B, flat.numel()))
        if self.training:
            self.update_threshold_(flat.index_select(0, flat_idx))
        return flat_entries(flat_idx, d_sae, B)

    def jumprelu_threshold(self) -> Float[Tensor, " d_sae"]:
        """The per-latent JumpReLU threshold this SAE is saved with (θ for every latent, float32)."""
        return torch.full((self.cfg.d_sae,), float(self.threshold), dtype=torch.float32, device=self.W_dec.device)

    def saelens_state(self) -> dict[str, Shaped[Tensor, "*shape"]]:
        """Saved in its inference form: a JumpReLU whose threshold is the global one for every latent."""
        return {**self.folded_state_dict(), "threshold": self.jumprelu_threshold()}

    def saelens_cfg_fields(self) -> dict[str, Any]:
        return {}  # a jumprelu in SAELens's eyes: no k

    def encode_sparse(self, x: Float[Tensor, "... d_in"]) -> tuple[Float[Tensor, "... k"], Int[Tensor, "... k"]]:
        raise NotImplementedError("BatchTopK has no fixed per-token k; use encode() (a JumpReLU in eval mode)")


register_architecture(Kind("batchtopk", BatchTopKConfig, BatchTopKSAE, saelens_save="jumprelu",
                           saelens_read=("batchtopk",), sweep_label="k{k}"))
