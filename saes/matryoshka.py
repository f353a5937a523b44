"""Matryoshka BatchTopK SAE (Bussmann et al. 2025, "Learning Multi-Level Features with Matryoshka Sparse
Autoencoders"; Nabeshima 2024): nested prefixes of the dictionary, each trained to reconstruct on its own.

The prefix sizes m_1 < m_2 < ... < m_n = d_sae split the latents into nested dictionaries. The code f is BatchTopK
over all latents (saes/batchtopk.py: the k·batch largest ReLU'd pre-activations of the batch; at inference a JumpReLU
with the global threshold θ learned as an EMA of the smallest kept activation). The reconstruction loss averages the
error of every prefix (docs/methods.md §7):

    L = (1/n) Σ_j ||x - (f[:m_j] @ W_dec[:m_j] + b_dec)||²  +  AuxK

so the first m_1 latents must reconstruct alone: they cannot hand a general feature ("animal") to a later, more
specific latent ("robin") without losing their own prefix's reconstruction, which is the claimed cure for feature
absorption. We average, as the spec and Bussmann et al.'s code do; SAELens's MatryoshkaBatchTopKTrainingSAE sums the
n terms instead (the same optimum; under Adam only the balance against AuxK and the gradient clip differ, by n).
AuxK is BatchTopK's (Gao et al.: dead latents reconstruct the whole dictionary's detached error; SAELens's default,
use_matryoshka_aux_loss=false). `SAELosses.mse` is the whole dictionary's error, so the training log's R² is the
SAE's; `total` is the prefix mean plus AuxK. Training goes through the code's selected entries only
(saes/sparse_code.py, the TopK family's one training step): each prefix's block of latents is one embedding_bag decode.

Saved in SAELens's `matryoshka_batchtopk` format (its training save: cfg.json with k, matryoshka_widths and
topk_threshold_lr, the global threshold as the scalar tensor topk_threshold), which
`sae_lens.TrainingSAE.load_from_disk` opens; SAELens's inference save of a Matryoshka SAE is a plain JumpReLU.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from jaxtyping import Float, Shaped
from torch import Tensor

from saes.base import mse_loss
from saes.batchtopk import BatchTopKConfig, BatchTopKSAE
from saes.config import SAEConfig, check_prefixes
from saes.registry import Kind, register_architecture
from saes.sparse_code import Entries, decode_entries, flat_entries
from saes.topk import Reconstruction


def default_prefixes(d_sae: int) -> list[int]:
    """d_sae/16, d_sae/4, d_sae (the ratios of the issue's example 128,512,2048), sizes below 1 left out."""
    return sorted({p for p in (d_sae // 16, d_sae // 4, d_sae) if p >= 1})


@dataclass
class MatryoshkaConfig(BatchTopKConfig):
    """Matryoshka BatchTopK SAE: nested prefixes of the dictionary, each trained to reconstruct."""

    arch: ClassVar[str] = "matryoshka"
    prefixes: list[int] | None = field(default=None)
    """Prefix sizes m_1 < ... < m_n (latents); d_sae is appended when the last is smaller. None: d_sae/16, d_sae/4,
    d_sae."""

    def __post_init__(self) -> None:
        super().__post_init__()
        prefixes = default_prefixes(self.d_sae) if self.prefixes is None else [int(p) for p in self.prefixes]
        check_prefixes(prefixes, self.d_sae)
        self.prefixes = prefixes if prefixes[-1] == self.d_sae else [*prefixes, self.d_sae]

    @classmethod
    def saelens_fields(cls, raw: dict) -> dict[str, Any]:
        """k (BatchTopK's) and the prefixes, SAELens's matryoshka_widths."""
        widths = raw.get("matryoshka_widths")
        return {**super().saelens_fields(raw), **({"prefixes": [int(w) for w in widths]} if widths else {})}


class MatryoshkaSAE(BatchTopKSAE):
    """BatchTopK code; every prefix of the dictionary reconstructs on its own (the loss averages their errors)."""

    SAELENS_NAMES: ClassVar[dict[str, str]] = {"threshold": "topk_threshold"}

    @property
    def prefixes(self) -> list[int]:
        assert self.cfg.prefixes is not None
        return list(self.cfg.prefixes)

    @classmethod
    def saelens_extra_shapes(cls, cfg: SAEConfig) -> dict[str, tuple[int, ...]]:
        return {"threshold": ()}

    @classmethod
    def from_saelens_state(cls, state: dict[str, Shaped[Tensor, "*shape"]]) -> None:
        """SAELENS_NAMES already renamed topk_threshold; nothing else differs."""

    def prefix_partials(self, vals_N: Float[Tensor, " n"], ent: Entries) -> list[Float[Tensor, "batch d_in"]]:
        """x̂_j = f[:, :m_j] @ W_dec[:m_j] + b_dec for every prefix (normalised space) from the code's entries, built
        incrementally: each prefix adds the decode of its own block of latents to the previous one's, so all n cost
        one sparse decode (saes/sparse_code.py)."""
        B = ent.offsets.shape[0]
        out, partial, start = [], self.b_dec.expand(B, -1), 0
        for end in self.prefixes:
            keep = ((ent.cols >= start) & (ent.cols < end)).nonzero().squeeze(1)
            partial = partial + decode_entries(vals_N.index_select(0, keep), ent.subset(keep, B), self.W_dec)
            out.append(partial)
            start = end
        return out

    def prefix_reconstructions(self, acts_BF: Float[Tensor, "batch d_sae"]) -> list[Float[Tensor, "batch d_in"]]:
        """`prefix_partials` of a dense code."""
        flat = acts_BF.reshape(-1).nonzero().squeeze(1)
        ent = flat_entries(flat, self.cfg.d_sae, acts_BF.shape[0])
        return self.prefix_partials(acts_BF.reshape(-1).index_select(0, ent.rows * self.cfg.d_sae + ent.cols), ent)

    def reconstruction(self, xs_BD: Float[Tensor, "batch d_in"], vals_N: Float[Tensor, " n"], ent: Entries
                       ) -> Reconstruction:
        """The objective is (1/n) Σ_j MSE of prefix j; the reported MSE is the whole dictionary's."""
        recons = self.prefix_partials(vals_N, ent)
        nested = torch.stack([mse_loss(xs_BD, r) for r in recons]).mean()
        return Reconstruction(recons[-1], mse_loss(xs_BD, recons[-1]).detach(), nested)

    def saelens_state(self) -> dict[str, Shaped[Tensor, "*shape"]]:
        """SAELens's training save: the weights and the scalar global threshold (renamed topk_threshold)."""
        return self.folded_state_dict()

    def saelens_cfg_fields(self) -> dict[str, Any]:
        """MatryoshkaBatchTopKTrainingSAEConfig's fields (our encoder is not rescaled by decoder norms, and AuxK is
        the whole dictionary's, SAELens's default)."""
        return {"k": self.cfg.k, "matryoshka_widths": self.prefixes, "topk_threshold_lr": self.cfg.threshold_lr,
                "aux_loss_coefficient": self.cfg.aux_coeff, "rescale_acts_by_decoder_norm": False,
                "use_matryoshka_aux_loss": False}


register_architecture(Kind("matryoshka", MatryoshkaConfig, MatryoshkaSAE, saelens_save="matryoshka_batchtopk",
                           saelens_read=("matryoshka_batchtopk",), sweep_label="k{k}"))
