"""How much memory a patching run needs, estimated from the model's shape, and the chunking that keeps it under a
budget (`interp patch --max-memory`).

A run over N prompts of P tokens keeps, per prompt, the clean activations of every patched component at every layer
and the logits of the clean and corrupted runs; activation patching also keeps the corrupted run's residual input,
keys and values of every layer (its patched passes restart from them), and AtP / RelP keep the corrupted pass's
autograd graph and one gradient per cached activation (Nanda's attribution patching: 2 forward + 1 backward pass
over all prompts at once; RelP, Jafari et al. 2025, the same with LRP rules). That memory grows linearly with N:
100k prompts of attribution patching on a small model once took 23 GB. Activation patching's patched passes hold
`max_batch` rows (patch copies x prompts) each with a prefix key / value cache of every layer; that part is bounded
by `max_batch`, not by N.

`estimate_memory` returns the weights, the bytes per prompt and the bytes per patched-pass row; `plan_memory` picks
the largest chunk of prompts (and, if needed, a smaller `max_batch`) whose estimate stays under the budget, or
refuses with the estimate when not even one prompt fits. The estimate is coarse (element counts of the kept
tensors, one transformer block's transient activations, a factor for autograd's saved tensors); it errs high.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import torch
from transformer_lens import HookedTransformer

from interp.options import physical_memory

from .components import component
from .methods import method_named

GB = 10**9
DEFAULT_CAP = 16 * GB
"""The default budget is half the machine's physical memory, capped here: other processes share the machine."""


class MemoryEstimate(NamedTuple):
    """Bytes a patching run needs: `total(n, rows)` for n prompts and patched passes of `rows` rows."""

    weights: int
    """The model's parameters and buffers."""
    per_prompt: int
    """Kept per prompt: cached activations, gradients, logits, the autograd graph (AtP / RelP)."""
    per_row: int
    """Per row of a batched patched pass (activation patching only; 0 for AtP / RelP)."""
    copies: int = 1
    """The most patches one pass can hold: the indices per layer of the widest component (e.g. positions)."""

    def total(self, n: int, rows: int) -> int:
        """Bytes for n prompts with patched passes of at most `rows` rows (k patch copies of the n prompts)."""
        k = min(max(1, rows // n), self.copies) if n else 0
        return self.weights + n * self.per_prompt + k * n * self.per_row


class MemoryPlan(NamedTuple):
    """How one set of prompts of one length is run: chunks of `chunk` prompts, patched passes of `max_batch` rows."""

    n_prompts: int
    chunk: int
    max_batch: int
    estimate: MemoryEstimate
    budget: int

    @property
    def n_chunks(self) -> int:
        return -(-self.n_prompts // self.chunk)

    @property
    def peak(self) -> int:
        """Estimated peak bytes of the largest chunk."""
        return self.estimate.total(min(self.chunk, self.n_prompts), self.max_batch)


def default_max_memory(device: str | torch.device = "cpu") -> int:
    """The default budget: half the machine's physical memory, at most 16 GB; on CUDA half the GPU's memory."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_properties(device).total_memory // 2
    return min(physical_memory() // 2, DEFAULT_CAP)


def budget_bytes(max_memory_gb: float, device: str | torch.device = "cpu") -> int:
    """--max-memory in GB as bytes (0: the default budget)."""
    return int(max_memory_gb * GB) if max_memory_gb > 0 else default_max_memory(device)


def _act_elements(model: HookedTransformer, act: str, n_pos: int) -> int:
    """Elements of one prompt's activation `act` at one layer."""
    c = model.cfg
    n_kv = getattr(c, "n_key_value_heads", None) or c.n_heads
    return {"q": n_pos * c.n_heads * c.d_head, "z": n_pos * c.n_heads * c.d_head,
            "k": n_pos * n_kv * c.d_head, "v": n_pos * n_kv * c.d_head,
            "pattern": c.n_heads * n_pos * n_pos, "post": n_pos * (c.d_mlp or 0)}.get(act, n_pos * c.d_model)


def _block_elements(model: HookedTransformer, n_pos: int) -> int:
    """Transient elements of one prompt through one block (residual, LN, q / k / v / z, scores and pattern, MLP)."""
    c = model.cfg
    return n_pos * (4 * c.d_model + 2 * (c.d_mlp or 0) + 4 * c.n_heads * c.d_head) + 2 * c.n_heads * n_pos * n_pos


def estimate_memory(model: HookedTransformer, method: str, components: Sequence[str], n_pos: int,
                    last_position_only: bool = True) -> MemoryEstimate:
    """Bytes a run of `method` on prompts of `n_pos` tokens needs, from the model's shape (see the module doc): the
    method's memory model in the registry (circuits.patching.methods)."""
    return method_named(method).memory(model, list(components), n_pos, last_position_only)


class _Shared(NamedTuple):
    """What every method's estimate starts from: bytes per element and of the weights, and per prompt the elements
    of the cached activations (every layer of every patched activation), the logits and one block's transients."""

    size: int
    weights: int
    cached: int
    logits: int
    block: int


def _shared(model: HookedTransformer, components: Sequence[str], n_pos: int) -> _Shared:
    c = model.cfg
    size = torch.empty(0, dtype=c.dtype).element_size()
    weights = sum(t.numel() * t.element_size() for t in [*model.parameters(), *model.buffers()])
    acts = {component(name).act for name in components}
    cached = c.n_layers * sum(_act_elements(model, a, n_pos) for a in acts)
    return _Shared(size, weights, cached, n_pos * c.d_vocab, _block_elements(model, n_pos))


def activation_memory(model: HookedTransformer, components: Sequence[str], n_pos: int,
                      last_position_only: bool = True) -> MemoryEstimate:
    """Activation patching: the clean cache, the corrupted run's residual input, keys and values of every layer,
    and patched passes whose rows each hold a prefix key / value cache."""
    c = model.cfg
    size, weights, cached, logits, block = _shared(model, components, n_pos)
    n_kv = getattr(c, "n_key_value_heads", None) or c.n_heads
    corrupted = c.n_layers * n_pos * (c.d_model + 2 * n_kv * c.d_head)  # resid_pre, keys, values per layer
    per_prompt = cached + corrupted + 2 * logits + block
    prefix = c.n_layers * 2 * n_pos * n_kv * c.d_head  # the frozen key / value cache repeated per copy
    per_row = prefix + n_pos * c.d_model + block + (c.d_vocab if last_position_only else logits)
    sizes = {"pos": n_pos, "dest_pos": n_pos, "head": c.n_heads, "neuron": c.d_mlp or 1}
    copies = max(math.prod(sizes.get(a, 1) for a in component(name).axes[1:]) for name in components)
    return MemoryEstimate(weights, per_prompt * size, per_row * size, copies)


def gradient_memory(model: HookedTransformer, components: Sequence[str], n_pos: int,
                    last_position_only: bool = True) -> MemoryEstimate:
    """AtP / RelP: clean and corrupted activations, one gradient each, and the corrupted pass's autograd graph."""
    del last_position_only  # the backward pass needs the logits of every position either way
    c = model.cfg
    size, weights, cached, logits, block = _shared(model, components, n_pos)
    graph = c.n_layers * 2 * block + 2 * n_pos * c.d_model  # autograd's saved tensors, about two blocks' worth
    per_prompt = 3 * cached + graph + 3 * logits + block  # clean + corrupted + gradient; logits and their grad
    return MemoryEstimate(weights, per_prompt * size, 0)


def describe(nbytes: int) -> str:
    return f"{nbytes / GB:.3g} GB"


def plan_memory(estimate: MemoryEstimate, n_prompts: int, budget: int, what: str,
                max_batch: int = 2048) -> MemoryPlan:
    """The largest chunk of prompts (and patched-pass size) whose estimate stays under `budget`; an error naming
    the estimate when one prompt does not fit. `what` names the run in that error."""
    if estimate.total(n_prompts, max_batch) <= budget:
        return MemoryPlan(n_prompts, n_prompts, max_batch, estimate, budget)
    avail = budget - estimate.weights
    rows = max_batch
    if estimate.per_row:  # shrink the patched passes to at most half of what is left, but keep >= 1 row
        rows = max(1, min(max_batch, max(avail, 0) // 2 // estimate.per_row))
    chunk = (avail - rows * estimate.per_row) // (estimate.per_prompt + estimate.per_row)
    if chunk < 1:
        need = estimate.total(1, 1)
        raise ValueError(f"{what} needs about {describe(need)} for a single prompt (weights "
                         f"{describe(estimate.weights)} + {describe(need - estimate.weights)} of activations, "
                         f"gradients and logits), over --max-memory {describe(budget)}: raise --max-memory to at "
                         f"least {need / GB:.3g}, or patch fewer components or shorter prompts")
    return MemoryPlan(n_prompts, int(min(chunk, n_prompts)), int(rows), estimate, budget)
