"""Universal neurons (Gurnee et al. 2024): neurons whose activation a differently seeded model reproduces.

For models m_0 .. m_{S-1} of one architecture run on the same tokens, `CorrelationSums` streams float64 sums: per
model Σx (all L * d_mlp neurons) and per layer the Gram matrix Σ x xᵀ; per pair of models Σ x_a x_bᵀ over all
neurons (one matrix product per batch; the product of a batch may run in float32 — `product_dtype` — on values
already centred by the first batch's means, and is added into the float64 sums). From these:

- corr(a_i, b_j): Pearson correlation of every neuron of a with every neuron of b (0 when either is constant);
- max_corr[a, b, i] = max_j corr(a_i, b_j);
- baseline[a, b, i]: the same max after each layer of b is multiplied by a random orthogonal matrix R (d_mlp x
  d_mlp, seeded). Rotating b's activations x -> R x changes the sums exactly as Cov(a, Rb) = Cov(a, b) Rᵀ and
  Var(Rb) = diag(R Cov(b, b) Rᵀ), so the baseline is computed exactly from the same sums at the end;
- excess[a, i] = mean over b != a of max_corr - mean over b != a of baseline; universal iff excess > threshold.

`main(cfg)` is the `interp universal` command: it streams the corpus once through every model (any architecture
TransformerLens loads, the same shapes and tokenizer for every seed; any corpus interp.corpus reads, tokenised with
the first model's tokenizer), also computing each model's neuron statistics (into out/<model>/), and labels each
universal neuron with its family. Memory: the cross sums are (layers x d_mlp)^2 float64 per pair of models.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from jaxtyping import Float, Shaped
from torch import Tensor

from interp.json_files import read_json

from ..allocator import retain_freed_memory
from ..corpus import describe
from ..corpus import summary as corpus_summary
from ..models import load_model, model_fingerprint
from ..runtime import start_run
from .artifacts import NeuronStats, save_neuron_stats, write_arrays, write_json
from .config import UniversalConfig
from .moments import correlation_from_cov
from .run import (
    checkpointer,
    claim_outputs,
    finish_stats,
    model_weight_stats,
    new_accumulator,
    plan_run,
    resumable,
    stream,
)
from .summarize import FAMILIES
from .tokens import readable_vocab

if TYPE_CHECKING:
    from transformer_lens import HookedTransformer

SCHEMA_VERSION = 2


def random_rotation(d: int, seed: int) -> Float[Tensor, "d d"]:
    """A random orthogonal d x d matrix (Haar: QR of a Gaussian with the signs of R's diagonal fixed), float64."""
    g = torch.Generator().manual_seed(seed)
    q, r = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=torch.float64))
    return q * torch.sign(torch.diagonal(r))[None, :]


class CorrelationSums:
    """Streaming sums for the Pearson correlation of every neuron of every model with every other model's."""

    def __init__(self, n_models: int, n_layers: int, d_mlp: int, product_dtype: torch.dtype = torch.float64,
                 device: str | torch.device = "cpu"):
        self.m, self.n_layers, self.d, self.product_dtype = n_models, n_layers, d_mlp, product_dtype
        self.device = device
        """Where `restore` puts the sums (the models' device: the activations arrive there)."""
        self.n = 0
        self.shift: list[Tensor] = []

    def update(self, acts: list[Float[Tensor, "n layer_d_mlp"]]) -> None:
        """acts[m]: [tokens, n_layers * d_mlp] activations of model m (layer-major columns)."""
        x = [a.to(torch.float64) for a in acts]
        if not self.shift:
            f = self.n_layers * self.d
            if any(a.shape[1] != f for a in x):
                raise ValueError(f"expected {f} neuron columns per model, got {[a.shape[1] for a in x]}")
            self.shift = [a.mean(0) for a in x]
            kw = dict(dtype=torch.float64, device=x[0].device)
            self.s = [torch.zeros(f, **kw) for _ in x]
            self.gram = [torch.zeros(self.n_layers, self.d, self.d, **kw) for _ in x]
            self.cross = {(a, b): torch.zeros(f, f, **kw) for a in range(self.m) for b in range(a + 1, self.m)}
        x = [a - c for a, c in zip(x, self.shift)]
        self.s = [s + torch.ones(a.shape[0], dtype=torch.float64, device=a.device) @ a for s, a in zip(self.s, x)]
        p = [a.to(self.product_dtype) for a in x]  # per-batch products; the running sums stay float64
        for k, a in enumerate(p):
            blocks = a.view(a.shape[0], self.n_layers, self.d).transpose(0, 1)  # [L, n, d]
            self.gram[k] += torch.bmm(blocks.transpose(1, 2), blocks).double()
        for (a, b), c in self.cross.items():
            c += (p[a].T @ p[b]).double()
        self.n += x[0].shape[0]

    def state(self) -> tuple[dict[str, Shaped[Tensor, "*shape"]], dict]:
        """The sums so far as tensors (on the CPU) and JSON-ready scalars (see checkpoint.py)."""
        t: dict[str, Tensor] = {}
        for k, (c, s, g) in enumerate(zip(self.shift, self.s, self.gram)):
            t.update({f"shift{k}": c.cpu(), f"s{k}": s.cpu(), f"gram{k}": g.cpu()})
        t.update({f"cross{a}_{b}": c.cpu() for (a, b), c in self.cross.items()})
        return t, {"n": self.n}

    def restore(self, t: dict[str, Shaped[Tensor, "*shape"]], meta: dict) -> None:
        """Continue from `state()`'s output."""
        self.n = meta["n"]
        if "shift0" not in t:
            return
        self.shift, self.s, self.gram = ([t[f"{name}{k}"].to(self.device) for k in range(self.m)]
                                         for name in ("shift", "s", "gram"))
        self.cross = {(a, b): t[f"cross{a}_{b}"].to(self.device) for a in range(self.m) for b in range(a + 1, self.m)}

    def layer_cov(self, k: int) -> Float[Tensor, "layer d_mlp d_mlp"]:
        """[L, d, d] covariance of model k's neurons within each layer."""
        mu = (self.s[k] / self.n).view(self.n_layers, self.d)
        return self.gram[k] / self.n - mu[:, :, None] * mu[:, None, :]

    def cross_cov(self, a: int, b: int) -> Float[Tensor, "layer_d_mlp layer_d_mlp"]:
        c = self.cross[(a, b)] if a < b else self.cross[(b, a)].T
        return c / self.n - torch.outer(self.s[a], self.s[b]) / self.n**2

    def variances(self, k: int) -> Float[Tensor, " layer_d_mlp"]:
        return torch.diagonal(self.layer_cov(k), dim1=-2, dim2=-1).reshape(-1)

    def max_corr(self, a: int, b: int, rotations: list[Float[Tensor, "d_mlp d_mlp"]] | None = None
                 ) -> Float[Tensor, " layer_d_mlp"]:
        """max_j corr(a_i, b_j) for every neuron i of a; with `rotations` (one per layer) against rotated b."""
        cov, var_b = self.cross_cov(a, b), self.variances(b)
        if rotations is not None:
            rot = torch.stack(rotations).to(cov.device)
            cov = cov.view(-1, self.n_layers, self.d)
            cov = torch.einsum("ild,lkd->ilk", cov, rot).reshape(cov.shape[0], -1)
            var_b = ((rot @ self.layer_cov(b)) * rot).sum(-1).reshape(-1)
        return correlation_from_cov(cov, self.variances(a), var_b).max(dim=1).values


@dataclass
class UniversalResult:
    """Max correlations [model, other, L, d] (other = the other models in order), baselines, excess, universal."""

    models: list[str]
    max_corr: np.ndarray
    baseline: np.ndarray
    excess: np.ndarray
    """[model, L, d]"""
    universal: np.ndarray
    threshold: float
    n_tokens: int

    def fraction_per_layer(self) -> Float[np.ndarray, "model layer"]:
        """[model, L] fraction of universal neurons."""
        return self.universal.mean(-1)


def universal_from_sums(sums: CorrelationSums, models: list[str], threshold: float = 0.5,
                        rotation_seed: int = 0) -> UniversalResult:
    """Max correlation, rotation baseline and excess correlation of every neuron of every model."""
    if sums.n < 2:
        raise ValueError("need at least two tokens for correlations")
    m, L, d = sums.m, sums.n_layers, sums.d
    rots = [[random_rotation(d, rotation_seed * 1_000_003 + k * 1_009 + layer) for layer in range(L)]
            for k in range(m)]
    mc = torch.zeros(m, m - 1, L * d, dtype=torch.float64, device=sums.s[0].device)
    base = torch.zeros_like(mc)
    for a in range(m):
        for j, b in enumerate(x for x in range(m) if x != a):
            mc[a, j] = sums.max_corr(a, b)
            base[a, j] = sums.max_corr(a, b, rots[b])
    mc, base = mc.cpu(), base.cpu()
    excess = (mc.mean(1) - base.mean(1)).view(m, L, d)
    return UniversalResult(models, mc.view(m, m - 1, L, d).float().numpy(), base.view(m, m - 1, L, d).float().numpy(),
                           excess.float().numpy(), (excess > threshold).numpy(), threshold, sums.n)


def check_same_architecture(models: list[HookedTransformer], names: list[str]) -> None:
    """All models need one architecture (family, activation function, MLP form) with the same layers, neurons and
    vocabulary: otherwise say which two differ and how."""
    def shape(mod) -> dict[str, object]:
        c = mod.cfg
        return {"family": c.original_architecture or "TransformerLens", "layers": c.n_layers, "MLP neurons": c.d_mlp,
                "gated MLP": bool(c.gated_mlp), "activation": c.act_fn, "d_model": c.d_model, "vocab": c.d_vocab}
    ref = shape(models[0])
    for mod, name in zip(models[1:], names[1:]):
        diff = [f"{k} {v} vs {shape(mod)[k]}" for k, v in ref.items() if shape(mod)[k] != v]  # what differs alone
        if diff:
            raise ValueError(f"universal neurons need models of one architecture, but {names[0]} and {name} differ "
                             f"in {', '.join(diff)}: give seeds of one model (e.g. toy-gelu-s0 toy-gelu-s1)")


def family_counts(result: UniversalResult, stats: list[NeuronStats]) -> dict:
    """Per model and layer: how many universal neurons fall in each family."""
    out = {}
    for k, st in enumerate(stats):
        fam = st.arrays["family"]
        out[result.models[k]] = [{f: int(((fam[layer] == i) & result.universal[k, layer]).sum())
                                  for i, f in enumerate(FAMILIES)} for layer in range(fam.shape[0])]
    return out


def check_same_tokenizer(models: list[HookedTransformer], names: list[str], vocab: list[str] | None) -> None:
    """Every model reads the same token ids (they all run on the first model's tokenisation of the corpus)."""
    for mod, name in zip(models[1:], names[1:]):
        if readable_vocab(mod) != vocab:
            raise ValueError(f"universal neurons run every model on the same tokens, but {names[0]} and {name} have "
                             f"different tokenizers")


def note_memory(n_models: int, n_layers: int, d_mlp: int, note_above_gb: float = 2.0) -> float:
    """GB the correlation sums take (float64 cross sums of every pair of models over all neurons, per-layer Gram
    matrices); said on stderr when large, before the run starts."""
    f = n_layers * d_mlp
    gb = (n_models * (n_models - 1) // 2 * f * f + n_models * n_layers * d_mlp * d_mlp) * 8 / 1e9
    if gb > note_above_gb:
        print(f"note: the correlation sums of {n_models} models x {f:,} neurons take {gb:.1f} GB of memory",
              file=sys.stderr)
    return gb


def save_universal(result: UniversalResult, cfg: UniversalConfig, families: dict, folder: Path,
                   corpus: dict | None = None) -> None:
    """universal.safetensors + universal.json (with the models, their weight processing and the corpus)."""
    folder.mkdir(parents=True, exist_ok=True)
    write_arrays(folder / "universal.safetensors", {"max_corr": result.max_corr, "baseline": result.baseline,
                                                    "excess": result.excess, "universal": result.universal})
    frac = result.fraction_per_layer()
    write_json(folder / "universal.json", {
        "schema_version": SCHEMA_VERSION, "kind": "interp-universal-neurons", "models": result.models,
        "model": result.models, "weight_processing": cfg.lm.weight_processing,
        "model_fingerprint": [model_fingerprint(m) for m in result.models], "corpus": corpus or {},
        "config": {k: v for k, v in cfg.flat().items() if k not in ("out", "models", "weight_processing")},
        "n_tokens": result.n_tokens, "threshold": result.threshold, "families": list(FAMILIES),
        "fraction_universal": {mname: frac[k].tolist() for k, mname in enumerate(result.models)},
        "fraction_universal_all": float(result.universal.mean()),
        "universal_families": families,
        "mean_max_corr": {name: result.max_corr[k].mean(axis=(0, 2)).tolist() for k, name in enumerate(result.models)},
        "mean_baseline": {name: result.baseline[k].mean(axis=(0, 2)).tolist() for k, name in enumerate(result.models)},
        "arrays": ["max_corr", "baseline", "excess", "universal"]})


def load_universal(folder: str | Path) -> tuple[UniversalResult, dict]:
    """Read an `interp universal` output folder: the result arrays and the JSON metadata."""

    from safetensors.numpy import load_file

    folder = Path(folder)
    meta_path = folder / "universal.json"
    if not meta_path.is_file():
        raise FileNotFoundError(f"{folder} holds no universal.json: not a finished `interp universal` output")
    meta = read_json(meta_path)
    if meta.get("schema_version") != SCHEMA_VERSION:
        raise ValueError(f"{meta_path}: schema {meta.get('schema_version')}, this interp reads {SCHEMA_VERSION}")
    a = load_file(str(folder / "universal.safetensors"))
    res = UniversalResult(meta["models"], a["max_corr"], a["baseline"], a["excess"], a["universal"],
                          meta["threshold"], meta["n_tokens"])
    return res, meta


def main(cfg: UniversalConfig) -> UniversalResult:
    """CLI entry (`interp universal`)."""
    t0 = time.time()
    retain_freed_memory()
    names, processing = cfg.lm.models, cfg.lm.weight_processing
    out = Path(cfg.output.out)
    claim_outputs(out, cfg, [out, *(out / Path(name).name for name in names)], out / "universal.json",
                  out / "universal.safetensors")
    device = start_run(cfg.run.device, cfg.run.threads).device
    models = [load_model(name, device, processing) for name in names]
    check_same_architecture(models, names)
    plan = plan_run(models[0], names[0], cfg)
    check_same_tokenizer(models, names, plan.vocab)
    c = models[0].cfg
    note_memory(len(models), c.n_layers, c.d_mlp)
    weights = [model_weight_stats(mod) for mod in models]
    accs = [new_accumulator(mod, cfg, plan) for mod in models]
    sums = CorrelationSums(len(models), c.n_layers, c.d_mlp, getattr(torch, cfg.product_dtype), c.device)

    def on_batch(posts: list[list[Tensor]]) -> None:
        sums.update([torch.cat([p[:, 1:].reshape(-1, c.d_mlp) for p in layers], dim=1) for layers in posts])

    start, save = resumable(out, cfg, {"sums": sums, **{f"model{k}": acc for k, acc in enumerate(accs)}}, plan)
    stream(models, accs, cfg, plan, on_batch=on_batch, desc="universal", start_doc=start, checkpoint=save)
    result = universal_from_sums(sums, names, cfg.threshold, cfg.rotation_seed)
    stats = [finish_stats(mod, name, acc, cfg, plan, w) for mod, name, acc, w in zip(models, names, accs, weights)]
    for st, name in zip(stats, names):
        save_neuron_stats(st, out / Path(name).name)
    corpus = describe(plan.source, result.n_tokens)
    save_universal(result, cfg, family_counts(result, stats), out, corpus)
    checkpointer(out, cfg).clear()
    print(f"{', '.join(names)} ({processing} weight processing) on {corpus_summary(corpus)}, "
          f"{time.time() - t0:.0f} s -> {out}")
    for k, name in enumerate(names):
        fr = " ".join(f"{x:.1%}" for x in result.fraction_per_layer()[k])
        print(f"  {name}: universal per layer {fr} (all {result.universal[k].mean():.2%})")
    return result
