"""An SNMF result as a `interp.dictionary.Dictionary`: encode by nonnegative least squares on F, decode by F.

Saved as a folder: `snmf.safetensors` (F [d_mlp, K], and the top activating tokens per feature when known) and
`snmf.json` (hook, shapes, the solver settings and final loss), each written atomically (temp file + rename).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from jaxtyping import Float, Int
from torch import Tensor

from interp.atomic import atomic_write
from interp.json_files import read_json
from interp.safetensors_io import read_tensors, write_tensors
from saes.snmf.solver import nnls

WEIGHTS, CONFIG = "snmf.safetensors", "snmf.json"


@dataclass
class TopTokens:
    """Per feature, the m tokens with the largest code (G) on the factorised data, best first."""

    values_KM: Float[Tensor, "k m"]
    index_KM: Int[Tensor, "k m"]
    """Stream index of the token (`saes.snmf.data` sources name it: token id, document, position)."""
    token_KM: Int[Tensor, "k m"]
    doc_KM: Int[Tensor, "k m"]
    pos_KM: Int[Tensor, "k m"]


@dataclass
class SNMF:
    """A ≈ F Gᵀ over the activations at `hook_name`; codes are G rows (>= 0), features are F's columns."""

    F_DK: Float[Tensor, "d_mlp k"]
    hook_name: str
    info: dict[str, Any] = field(default_factory=dict)
    top: TopTokens | None = None
    nnls_iter: int = 200
    active_share: float = 0.25
    """A code counts as active (for density, dead and dense fractions) above this share of its feature's largest
    code over the tokens measured. NNLS codes are rarely exactly 0 and, with no sparsity term on G, a feature's
    median code is ~1% of its largest: on the workspace's 64-feature SNMF (toy-gelu-s0 layer 2), "> 0" calls 63
    features dense (active on > 10% of tokens), 5% of the max 58, a quarter of the max 41 (0.3: 31, 0.5: 4).
    A quarter separates the tokens a feature clearly codes from its low background. SAEs have no such attribute
    (active means > 0)."""

    @property
    def hook_in(self) -> str:
        return self.hook_name

    @property
    def hook_out(self) -> str:
        """It reconstructs the activations it factorises."""
        return self.hook_name

    @property
    def d_in(self) -> int:
        return self.F_DK.shape[0]

    @property
    def d_sae(self) -> int:
        return self.F_DK.shape[1]

    def encode(self, x: Float[Tensor, "... d_in"]) -> Float[Tensor, "... d_sae"]:
        """Nonnegative least squares codes argmin_{g >= 0} ||x - F g||² (batched FISTA)."""
        F = self.F_DK.to(x.device, torch.float32)
        x_ND = x.reshape(-1, self.d_in).float()
        g_NK = nnls(x_ND @ F, F.T @ F, n_iter=self.nnls_iter)
        return g_NK.reshape(*x.shape[:-1], self.d_sae).to(x.dtype)

    def decode(self, f: Float[Tensor, "... d_sae"]) -> Float[Tensor, "... d_in"]:
        return f @ self.F_DK.to(f.device, f.dtype).T

    def feature_directions(self) -> Float[Tensor, "d_sae d_in"]:
        """Columns of F as rows (not normalised: F carries the scale, codes are in units of it)."""
        return self.F_DK.T

    def feature_neurons(self, k: int) -> tuple[Int[Tensor, " j"], Float[Tensor, " j"]]:
        """The neurons of feature k (nonzero entries of F[:, k]) and their weights, largest |weight| first."""
        col = self.F_DK[:, k]
        idx = torch.nonzero(col).squeeze(1)
        order = col[idx].abs().argsort(descending=True)
        return idx[order], col[idx[order]]

    def top_tokens(self, k: int) -> TopTokens:
        """Feature k's top activating tokens (largest G[:, k]) on the factorised data."""
        if self.top is None:
            raise ValueError("this SNMF result has no top tokens (it was not fitted with a named token stream)")
        t = self.top
        return TopTokens(t.values_KM[k : k + 1], t.index_KM[k : k + 1], t.token_KM[k : k + 1], t.doc_KM[k : k + 1],
                         t.pos_KM[k : k + 1])

    def residual_directions(self, W_out: Float[Tensor, "d_mlp d_model"]) -> Float[Tensor, "d_sae d_model"]:
        """f_k = F[:, k] @ W_out[L] for every feature (TransformerLens W_out is [d_mlp, d_model])."""
        return self.F_DK.T.to(W_out.dtype) @ W_out

    def save(self, folder: str | Path) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        tensors = {"F": self.F_DK.detach().float().contiguous().cpu()}
        if self.top is not None:
            for name in ("values_KM", "index_KM", "token_KM", "doc_KM", "pos_KM"):
                tensors[f"top_{name}"] = getattr(self.top, name).contiguous().cpu()
        meta = {"kind": "snmf", "hook_name": self.hook_name, "d_in": self.d_in, "d_sae": self.d_sae,
                "nnls_iter": self.nnls_iter, **self.info}
        atomic_write(folder / WEIGHTS, lambda p: write_tensors(p, tensors))
        atomic_write(folder / CONFIG, lambda p: p.write_text(json.dumps(meta, indent=1)))
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> SNMF:
        folder = Path(folder)
        if not (folder / CONFIG).is_file():
            raise FileNotFoundError(f"{folder} holds no SNMF result ({CONFIG} not found)")
        meta = read_json(folder / CONFIG)
        t = read_tensors(folder / WEIGHTS, "SNMF factors")
        top = None
        if "top_values_KM" in t:
            top = TopTokens(*(t[f"top_{n}"] for n in ("values_KM", "index_KM", "token_KM", "doc_KM", "pos_KM")))
        info = {k: v for k, v in meta.items() if k not in ("kind", "hook_name", "d_in", "d_sae", "nnls_iter")}
        return cls(t["F"], meta["hook_name"], info, top, meta.get("nnls_iter", 200))


def top_tokens_from_codes(codes: Float[Tensor, "n k"] | Iterable[Float[Tensor, "n k"]], source, m: int = 20
                          ) -> TopTokens:
    """Top-m tokens per feature from the codes of every batch in stream order (a running top-m merge)."""
    batches = [codes] if isinstance(codes, Tensor) else codes
    best_v: Tensor | None = None
    best_i: Tensor | None = None
    offset = 0
    for G_NK in batches:
        idx_NK = torch.arange(offset, offset + len(G_NK))[:, None].expand_as(G_NK)
        v = G_NK if best_v is None else torch.cat([best_v, G_NK])
        i = idx_NK if best_i is None else torch.cat([best_i, idx_NK])
        top = v.topk(min(m, len(v)), dim=0)
        best_v, best_i = top.values, i.gather(0, top.indices)
        offset += len(G_NK)
    assert best_v is not None and best_i is not None
    index_KM = best_i.T.contiguous()
    return TopTokens(best_v.T.contiguous().float(), index_KM, source.tokens[index_KM], source.doc_ids[index_KM],
                     source.positions[index_KM])
