"""The activation source: model + corpus + hooks -> activations, computed only as far into the model as the hooks
need, or the same rows read back from an activation cache.

Every command that needs activations gets them here: the cache (`HookRunner`, filling its shard buffers), SAE
training on the fly, SNMF, neuron statistics (`HookRunner` with per-layer callbacks, so no layer is kept), feature
pages, difference-in-means and steering (`hook_activations`).

- `HookRunner(model, hooks)` runs a batch and hands each hook's activation [batch, pos, ...] to a callback as it
  fires. Blocks after the deepest hook never run (`stop_at_layer`), and once every hook has fired the forward pass
  is cut short, so a hook in block 1 of a 12-layer model costs two blocks.
- `hook_activations(model, hook, tokens)`: one hook's activations of token rows, batched.
- `ModelActivations(model, corpus, hooks)`: rows [first, first + n) of a corpus (a `TokenSource`) with their
  activations. The same activations read back from disk come from `interp.activations.reader.ActivationCache`
  (`iter_batches`, `get`, `shard_activations`), which `interp cache` fills through `HookRunner`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, NamedTuple

import torch
from jaxtyping import Float, Int, Int8
from torch import Tensor

from ..models import check_hooks

if TYPE_CHECKING:
    from transformer_lens import HookedTransformer

_INPUT_HOOKS = ("hook_embed", "hook_pos_embed", "hook_tokens")


def stop_layer(hooks: list[str], n_layers: int) -> int | None:
    """`stop_at_layer` for TransformerLens: blocks after the deepest hook's block are not run (None: run all)."""
    deepest = -1
    for h in hooks:
        if m := re.match(r"blocks\.(\d+)\.", h):
            deepest = max(deepest, int(m.group(1)))
        elif h not in _INPUT_HOOKS:
            return None  # ln_final / unembed hooks need the whole model
    return min(deepest + 1, n_layers)  # stop_at_layer=n_layers runs every block but skips ln_final and unembed


class NonFiniteError(ValueError):
    """NaN or Inf in activations (or in a loss computed from them)."""


class _AllFired(Exception):
    """Raised by the last hook of a batch to cut the forward pass short."""


class HookRunner:
    """Run `model` on token batches, calling on_act(hook_name, activation) as each of `hooks` fires."""

    def __init__(self, model, hooks: list[str]):
        check_hooks(model, hooks)
        self.model, self.hooks = model, list(hooks)
        self.stop = stop_layer(self.hooks, model.cfg.n_layers)
        self._on_act: Callable[[str, Tensor], None] | None = None
        self._seen: set[str] = set()

    def _make(self, name: str):
        def hook(act: Tensor, hook) -> None:
            self._on_act(name, act)
            self._seen.add(name)
            if len(self._seen) == len(self.hooks):
                raise _AllFired

        return hook

    @contextmanager
    def installed(self):
        """Keep the hooks installed over many `run` calls (saves adding and removing them per batch)."""
        with self.model.hooks(fwd_hooks=[(h, self._make(h)) for h in self.hooks]):
            self._installed = True
            try:
                yield self
            finally:
                self._installed = False

    def run(self, tokens: Int[Tensor, "batch pos"],
            on_act: Callable[[str, Float[Tensor, "batch pos ..."]], None]) -> None:
        """One forward pass of `tokens`, cut after the last hook fired; every hook must fire."""
        self._on_act, self._seen = on_act, set()
        try:
            if getattr(self, "_installed", False):
                self.model(tokens, stop_at_layer=self.stop)
            else:
                with self.installed():
                    self.model(tokens, stop_at_layer=self.stop)
        except _AllFired:
            pass
        if len(self._seen) != len(self.hooks):
            missing = sorted(set(self.hooks) - self._seen)
            raise ValueError(f"hook(s) {', '.join(missing)} did not fire in the forward pass")

    def collect(self, tokens: Int[Tensor, "batch pos"]) -> dict[str, Float[Tensor, "batch pos ..."]]:
        """Each hook's activation [batch, pos, ...] for one batch (float32, CPU)."""
        out: dict[str, Tensor] = {}
        self.run(tokens, lambda name, act: out.__setitem__(name, act.detach().float().cpu()))
        return out


@torch.no_grad()
def hook_activations(model: HookedTransformer, hook: str, tokens: Int[Tensor, "batch pos"], batch_size: int = 32
                     ) -> Float[Tensor, "batch pos ..."]:
    """Activations [batch, pos, *per-token shape] at `hook` for token rows `tokens`, float32 on the CPU."""
    runner = HookRunner(model, [hook])
    dev = model.cfg.device
    parts = [runner.collect(tokens[i:i + batch_size].to(dev).long())[hook] for i in range(0, len(tokens), batch_size)]
    return torch.cat(parts)


_SHAPES: dict[tuple[int, str], tuple[int, ...]] = {}


def hook_shape(model: HookedTransformer, hook: str) -> tuple[int, ...]:
    """Shape of one position's activation at `hook` (e.g. (d_model,), (d_mlp,), (n_heads, d_head)); unknown hooks
    are a clear error listing the valid ones."""
    check_hooks(model, [hook])
    key = (id(model), hook)
    if key not in _SHAPES:
        bos = model.cfg.d_vocab - 1 if model.tokenizer is None else (model.tokenizer.bos_token_id or 0)
        _SHAPES[key] = tuple(hook_activations(model, hook, torch.tensor([[bos]])).shape[2:])
    return _SHAPES[key]


def hook_width(model: HookedTransformer, hook: str) -> int:
    """Per-token width of `hook` (its per-position shape flattened)."""
    width = 1
    for s in hook_shape(model, hook):
        width *= s
    return width


class ActivationRows(NamedTuple):
    """Rows [first, first + n) of a corpus with their activations."""

    first: int
    tokens: Int[Tensor, "row pos"]
    labels: Int8[Tensor, "row pos field"] | None
    """Toy-world labels (None for other corpora)."""
    acts: dict[str, Float[Tensor, "row pos d"]]
    """hook -> activations (per-token shape flattened), float32 on the CPU."""


class ModelActivations:
    """Activations of `hooks` of `model` on the rows of a corpus (interp.corpus.TokenSource)."""

    def __init__(self, model, corpus, hooks: list[str], batch_rows: int = 32):
        if batch_rows < 1:
            raise ValueError(f"batch_rows must be >= 1, got {batch_rows}")
        self.model, self.corpus, self.hooks, self.batch_rows = model, corpus, list(hooks), batch_rows
        self.runner = HookRunner(model, self.hooks)
        self.widths = {h: hook_width(model, h) for h in self.hooks}

    @torch.no_grad()
    def rows(self, first: int, n: int) -> ActivationRows:
        """Rows [first, first + n) and their activations, computed `batch_rows` rows at a time."""
        got = self.corpus.rows(first, n)
        parts: dict[str, list[Tensor]] = {h: [] for h in self.hooks}
        dev = self.model.cfg.device
        for b0 in range(0, n, self.batch_rows):
            batch = got.tokens[b0:b0 + self.batch_rows]
            for h, a in self.runner.collect(batch.to(dev).long()).items():
                parts[h].append(a.reshape(*batch.shape, -1))  # [row, pos, *shape] -> [row, pos, d]
        return ActivationRows(first, got.tokens, got.labels, {h: torch.cat(p) for h, p in parts.items()})

    def batches(self, first: int = 0, n: int | None = None) -> Iterator[ActivationRows]:
        """`rows` of `batch_rows` rows each, from row `first` (n rows, default: until the corpus ends)."""
        end = self.corpus.n_rows(first + n) if n is not None else None
        row = first
        while end is None or row < end:
            take = self.batch_rows if end is None else min(self.batch_rows, end - row)
            if end is None and self.corpus.n_rows(row + take) < row + take:
                take = self.corpus.n_rows(row + take) - row
                if take <= 0:
                    return
            yield self.rows(row, take)
            row += take
