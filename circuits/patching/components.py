"""What can be patched: each component names a TransformerLens activation and the axes its scores are indexed by.

Activation patching, AtP and RelP share this table, so a score of one method lines up with the same score of the
others. `keep` lists the dims of the hook's activation (batch is dim 0) that the axes after "layer" index: e.g.
hook_z is [batch, pos, head, d_head], so heads per (layer, pos, head) keep (1, 2) and per (layer, head) keep (2,);
every other dim is patched whole (activation patching) or summed over (attribution).
"""

from __future__ import annotations

from dataclasses import dataclass

from jaxtyping import Float
from torch import Tensor


@dataclass(frozen=True)
class Component:
    """A patchable activation: TransformerLens short name, score axes, and which activation dims they index."""

    name: str
    act: str
    """TransformerLens activation name for utils.get_act_name (resid_pre, attn_out, z, q, pattern, post, ...)."""
    axes: tuple[str, ...]
    """Axes of the score tensor; the first is always "layer"."""
    keep: tuple[int, ...]
    """Dims of the [batch, ...] activation indexed by axes[1:], in order."""
    pos_dim: int = 1
    """The activation's (destination) position dim: a patch that fixes it at p changes nothing before p."""

    def index(self, values: tuple[int, ...], ndim: int) -> tuple:
        """An indexing tuple selecting `values` at the kept dims and everything elsewhere."""
        idx: list = [slice(None)] * ndim
        for d, v in zip(self.keep, values):
            idx[d] = v
        return tuple(idx)

    def first_pos(self, values: tuple[int, ...]) -> int:
        """The first position a patch at `values` can change (0 when it patches every position)."""
        return values[self.keep.index(self.pos_dim)] if self.pos_dim in self.keep else 0

    def shift(self, values: tuple[int, ...], p: int) -> tuple[int, ...]:
        """`values` in a run that starts at position p."""
        return tuple(v - p if d == self.pos_dim else v for d, v in zip(self.keep, values))

    def reduce(self, x: Float[Tensor, "batch ..."]) -> Float[Tensor, "..."]:
        """Sum `x` over every dim that is not kept (batch included), keeping the kept dims in axis order."""
        other = [d for d in range(x.ndim) if d not in self.keep]
        return x.permute(*self.keep, *other).flatten(len(self.keep)).sum(-1) if self.keep else x.sum()


_POS = ("layer", "pos")
COMPONENTS: dict[str, Component] = {c.name: c for c in [
    Component("resid_pre", "resid_pre", _POS, (1,)),
    Component("resid_mid", "resid_mid", _POS, (1,)),
    Component("attn_out", "attn_out", _POS, (1,)),
    Component("mlp_out", "mlp_out", _POS, (1,)),
    Component("mlp", "mlp_out", ("layer",), ()),
    Component("head_out", "z", ("layer", "head"), (2,)),
    Component("head_q", "q", ("layer", "head"), (2,)),
    Component("head_k", "k", ("layer", "head"), (2,)),
    Component("head_v", "v", ("layer", "head"), (2,)),
    Component("head_pattern", "pattern", ("layer", "head"), (1,), pos_dim=2),
    Component("head_out_by_pos", "z", ("layer", "pos", "head"), (1, 2)),
    Component("head_q_by_pos", "q", ("layer", "pos", "head"), (1, 2)),
    Component("head_k_by_pos", "k", ("layer", "pos", "head"), (1, 2)),
    Component("head_v_by_pos", "v", ("layer", "pos", "head"), (1, 2)),
    Component("head_pattern_by_pos", "pattern", ("layer", "head", "dest_pos"), (1, 2), pos_dim=2),
    Component("neuron", "post", ("layer", "neuron"), (2,)),
]}
"""Every component, by name. "mlp" is a whole MLP layer at all positions (circuit discovery's unit)."""


def component(name: str) -> Component:
    """The component called `name`, or a clear error listing the valid names."""
    if name not in COMPONENTS:
        raise ValueError(f"unknown component {name!r}; choose from {', '.join(COMPONENTS)}")
    return COMPONENTS[name]
