"""Circuit discovery on patching scores: the smallest set of heads and MLPs whose clean activations restore the task.

`discover_circuit` ranks heads (hook_z, all positions) and whole MLP layers by their single-component activation
patching score, patches growing prefixes of that ranking together into the corrupted run, keeps the first prefix
that restores >= `threshold` of the normalised metric, then drops any member whose removal keeps it above the
threshold. So the circuit is minimal in the sense that no single member can go; it is checked by patching exactly
that set. `head_roles` gives the evidence for naming IOI heads: attention from S2 to S1 (duplicate-token), from S2
to the token after S1 (induction), from END to S2 (S-inhibition) and to IO (name mover), and each head's direct
logit attribution to logit[IO] - logit[S].
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from jaxtyping import Float, Int
from torch import Tensor
from transformer_lens import HookedTransformer

from .patching.activation import generic_activation_patch
from .patching.components import COMPONENTS
from .tasks.base import Task
from .tasks.ioi import IOITask


@dataclass(frozen=True)
class Node:
    """A circuit member: one attention head, or one whole MLP layer (head = None)."""

    layer: int
    head: int | None = None

    @property
    def name(self) -> str:
        return f"L{self.layer}H{self.head}" if self.head is not None else f"MLP{self.layer}"

    @property
    def hook(self) -> str:
        return f"blocks.{self.layer}.attn.hook_z" if self.head is not None else f"blocks.{self.layer}.hook_mlp_out"


@dataclass
class Circuit:
    """Members, their single-patch scores, and what patching only them restores."""

    nodes: list[Node]
    scores: dict[str, float]
    """Single-component activation patching score of each ranked node (normalised)."""
    recovered: float
    """Normalised metric with exactly `nodes` patched clean (1 = clean run)."""
    threshold: float
    curve: list[float]
    """Recovery of the k top-ranked nodes patched together, k = 1, 2, ..."""


@torch.no_grad()
def patch_set(model: HookedTransformer, task: Task, nodes: Sequence[Node]) -> float:
    """Normalised metric when all `nodes` carry their clean activation (all positions) in the corrupted run."""
    hooks = sorted({n.hook for n in nodes})
    _, clean = model.run_with_cache(task.clean, names_filter=lambda n: n in hooks)

    def patch(act, hook):
        for n in nodes:
            if n.hook == hook.name:
                if n.head is None:
                    act[:] = clean[hook.name]
                else:
                    act[:, :, n.head] = clean[hook.name][:, :, n.head]
        return act

    base = task.baselines(model)
    value = float(task.metric(model.run_with_hooks(task.corrupted, fwd_hooks=[(h, patch) for h in hooks])))
    return (value - base.corrupted) / base.gap


def ranked_nodes(model: HookedTransformer, task: Task) -> dict[Node, float]:
    """Every head and MLP layer with its single-component patching score, best first."""
    heads = generic_activation_patch(model, task, COMPONENTS["head_out"]).scores  # [n_layers, n_heads]
    mlps = generic_activation_patch(model, task, COMPONENTS["mlp"]).scores  # [n_layers]
    scores = {Node(la, h): float(heads[la, h]) for la in range(heads.shape[0]) for h in range(heads.shape[1])}
    scores.update({Node(la): float(mlps[la]) for la in range(mlps.shape[0])})
    return dict(sorted(scores.items(), key=lambda kv: -kv[1]))


def discover_circuit(model: HookedTransformer, task: Task, threshold: float = 0.8,
                     mlps: Sequence[int] | None = None) -> Circuit:
    """The smallest score-ranked prefix restoring >= threshold, pruned of members it does not need.

    Args:
        threshold: fraction of the clean metric to restore (normalised metric, 1 = clean).
        mlps: MLP layers allowed in the circuit (default all). MLP0 patched at every position carries the token
            identities (it acts as part of the embedding), so patching it alone restores everything; leaving it
            out asks which heads and later MLPs move the information.
    """
    if not 0 < threshold <= 1.5:
        raise ValueError(f"threshold is a fraction of the clean metric, e.g. 0.8; got {threshold}")
    allowed = set(range(model.cfg.n_layers)) if mlps is None else set(mlps)
    ranked = {n: s for n, s in ranked_nodes(model, task).items() if n.head is not None or n.layer in allowed}
    order = list(ranked)
    curve: list[float] = []
    chosen: list[Node] = order
    for k in range(1, len(order) + 1):
        curve.append(patch_set(model, task, order[:k]))
        if curve[-1] >= threshold:
            chosen = order[:k]
            break
    for node in sorted(chosen, key=lambda n: ranked[n]):  # weakest first
        rest = [n for n in chosen if n != node]
        if rest and patch_set(model, task, rest) >= threshold:
            chosen = rest
    return Circuit(chosen, {n.name: s for n, s in ranked.items()}, patch_set(model, task, chosen), threshold, curve)


@dataclass
class HeadEvidence:
    """Mean attention (clean prompts) between the IOI positions, and direct logit attribution, for every head."""

    s2_to_s1: Float[Tensor, "layer head"]
    s2_to_s1_next: Float[Tensor, "layer head"]
    end_to_s2: Float[Tensor, "layer head"]
    end_to_io: Float[Tensor, "layer head"]
    dla: Float[Tensor, "layer head"]
    """Contribution of each head's END output to logit[IO] - logit[S] (through the final LayerNorm scale)."""

    def role(self, layer: int, head: int, attn: float = 0.3) -> str:
        """IOI role suggested by the evidence: name-mover (END attends IO, raises IO; negative name-mover: lowers
        it, as Wang et al. find in GPT-2), S-suppression (END attends
        S2 and its output lowers S directly), S-inhibition (END attends S2, no direct effect), duplicate-token,
        induction, or other."""
        if self.end_to_io[layer, head] >= attn:
            return "name-mover" if self.dla[layer, head] > 0 else "negative name-mover"
        if self.end_to_s2[layer, head] >= attn:
            return "S-suppression" if self.dla[layer, head] > 0.5 else "S-inhibition"
        if self.s2_to_s1[layer, head] >= attn:
            return "duplicate-token"
        if self.s2_to_s1_next[layer, head] >= attn:
            return "induction"
        return "other"


@torch.no_grad()
def head_roles(model: HookedTransformer, task: IOITask) -> HeadEvidence:
    """Attention and direct-logit evidence of every head on the task's clean IOI prompts (toy-world prompts, whose
    words are single tokens)."""
    roles = {k: torch.tensor([p.positions[k] + 1 for p in task.prompts]) for k in ("io", "s1", "s2", "end")}  # +BOS
    return head_evidence(model, task, roles)


@torch.no_grad()
def head_evidence(model: HookedTransformer, task: Task, roles: dict[str, Int[Tensor, " batch"]]) -> HeadEvidence:
    """Attention between the IOI roles and each head's direct logit attribution at END, on the clean prompts of
    `task` (one length), given each prompt's token position of io, s1, s2 and end (BOS counted): e.g. the `roles`
    of a circuits.tasks.ioi_classic.RoleTask."""
    _, cache = model.run_with_cache(task.clean, **task.mask())
    b = torch.arange(task.n_prompts)
    pos = {k: roles[k].long() for k in ("io", "s1", "s2", "end")}
    pat = torch.stack([cache["pattern", la] for la in range(model.cfg.n_layers)])  # [layer, batch, head, dst, src]
    pat = pat.permute(1, 3, 4, 0, 2)  # [batch, dst, src, layer, head]

    def attn(dst: Tensor, src: Tensor) -> Tensor:
        return pat[b, dst, src].mean(0)  # [batch, layer, head] -> [layer, head]

    direction = model.W_U[:, task.answer] - model.W_U[:, task.wrong]  # [d_model, batch]
    scale = cache["ln_final.hook_scale"][b, pos["end"]]  # [batch, 1]
    dla = torch.stack([
        torch.einsum("bhd,hdm,mb->h", cache["z", la][b, pos["end"]], model.W_O[la], direction / scale.T) / len(b)
        for la in range(model.cfg.n_layers)])  # [layer, head]
    return HeadEvidence(attn(pos["s2"], pos["s1"]), attn(pos["s2"], pos["s1"] + 1), attn(pos["end"], pos["s2"]),
                        attn(pos["end"], pos["io"]), dla)
