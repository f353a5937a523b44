"""Streaming per-neuron statistics of MLP neurons: one `NeuronAccumulator` per model, fed layer by layer.

A batch is announced with `begin_batch(tokens, labels)` (BOS column included; it is dropped here), then each
layer's hook calls `add_layer(layer, pre, post)`. Nothing of size tokens x neurons is kept, except the first
`auroc_tokens` tokens' activations for the concept AUROCs. What is summed, per layer and neuron:

- float64 power sums of the post-activation (mean / var / skew / kurtosis, see `moments`);
- firing counts (post > threshold for ReLU, pre > threshold otherwise), exact-zero and near-zero counts;
- firing counts per position bin (mutual information between firing and position);
- positive activation per token and per bigram (prev, cur), each batch's sums formed by a sparse product over the
  slots that batch touches (float32) and added into the totals: tokens get the slots of `TokenSlots` (every id when
  the vocabulary fits, else the most frequent tokens), bigrams slots in the order first seen, up to `bigram_slots`.
  Activation on tokens or bigrams without a slot is counted as "untracked" and reported as such, so a share is
  never silently overstated. Memory is layers x (token slots + bigram slots) x d_mlp, whatever the vocabulary.

Concepts are scored on the first `auroc_tokens` tokens, whose activations are kept only when there is something to
score: toy-world labels in the corpus (concepts of its world's `taxonomy`), or concepts given as token ids
(`concept_tokens`).
"""

from __future__ import annotations

import numpy as np
import torch
from jaxtyping import Bool, Float, Int, Shaped
from torch import Tensor

from ..auroc import auroc
from ..worlds import LEGACY_WORLD, get_world
from ..worlds.taxonomy import Taxonomy
from .moments import PowerSums, colsum
from .tokens import TokenSlots


class BigramSlots:
    """Exact slot numbers for bigram ids prev * vocab + cur, assigned in order of first appearance."""

    def __init__(self, capacity: int, d_vocab: int):
        self.capacity, self.d_vocab = capacity, d_vocab
        self.slot_of: dict[int, int] = {}
        self.keys: list[int] = []

    def lookup(self, prev: Int[Tensor, " n"], cur: Int[Tensor, " n"]) -> Int[Tensor, " n"]:
        """Slot per token (-1 for a bigram that got no slot)."""
        ids = (prev.long() * self.d_vocab + cur.long()).numpy()
        uniq, inv = np.unique(ids, return_inverse=True)
        slots = np.empty(len(uniq), dtype=np.int64)
        for i, key in enumerate(uniq.tolist()):
            s = self.slot_of.get(key)
            if s is None and len(self.keys) < self.capacity:
                s = self.slot_of[key] = len(self.keys)
                self.keys.append(key)
            slots[i] = -1 if s is None else s
        return torch.from_numpy(slots[inv.reshape(-1)])

    def pairs(self) -> Int[np.ndarray, "slot 2"]:
        k = np.asarray(self.keys, dtype=np.int64)
        return np.stack([k // self.d_vocab, k % self.d_vocab], axis=-1)


def _scatter(index: Tensor, rows: int) -> Tensor:
    """Sparse [rows, n] 0/1 matrix with a one at (index[i], i) (negative index: no one), for per-row sums.

    Per-batch sums by sparse matrix product run in float32 (at most a batch of tokens per sum) and are added into
    the totals; several times faster than index_add_ on CPU.
    """
    keep = index >= 0
    cols = torch.arange(index.shape[0])[keep]
    return torch.sparse_coo_tensor(torch.stack([index[keep], cols]), torch.ones(cols.shape[0]),
                                   (rows, index.shape[0]), is_coalesced=False,
                                   check_invariants=False).coalesce()


class SlotSums:
    """One batch's map from tokens to the slots it touches: `rows` (slot ids, sorted) and the sparse [rows, n]
    matrix whose product with activations [n, d] gives each touched slot's sum."""

    def __init__(self, slot: Tensor):
        self.tracked = slot >= 0
        self.rows, inv = torch.unique(slot[self.tracked], return_inverse=True)
        compact = torch.full_like(slot, -1)
        compact[self.tracked] = inv
        self.matrix = _scatter(compact, len(self.rows))
        self.all_tracked = bool(self.tracked.all())

    def add_into(self, total: Float[Tensor, "slot d"], x: Float[Tensor, "n d"]) -> None:
        """total[slot] += the sum of x over the batch's tokens in that slot (total's dtype)."""
        total.index_add_(0, self.rows, torch.sparse.mm(self.matrix, x).to(total.dtype))


_SUMS = ("fires", "zeros", "near", "fires_by_bin", "tokens_by_bin", "pos_total", "token_sum", "token_count",
         "untracked_tokens", "bigram_sum", "bigram_count", "untracked")
"""The accumulator's fixed-shape running sums (saved and restored as they are)."""
_BY_LAYER = ("token_sum", "bigram_sum")
"""Sums handed to checkpoints one layer at a time (views, so a checkpoint writes them without a copy of the whole)."""


class NeuronAccumulator:
    """Sums for every neuron of every layer of one model."""

    def __init__(self, n_layers: int, d_mlp: int, d_vocab: int, n_ctx: int, fire_on_post: bool,
                 fire_threshold: float = 0.0, near_zero: float = 1e-3, pos_bins: int = 32,
                 auroc_tokens: int = 20_000, bigram_slots: int = 16_384, token_ids: Tensor | None = None,
                 concept_tokens: dict[str, list[int]] | None = None, taxonomy: Taxonomy | None = None):
        # of the labels begin_batch is given
        self.taxonomy = taxonomy if taxonomy is not None else get_world(LEGACY_WORLD).taxonomy
        self.n_layers, self.d_mlp, self.d_vocab, self.n_ctx = n_layers, d_mlp, d_vocab, n_ctx
        self.fire_on_post, self.fire_threshold, self.near_zero = fire_on_post, fire_threshold, near_zero
        self.pos_bins, self.auroc_tokens = min(pos_bins, max(1, n_ctx - 1)), auroc_tokens
        self.concept_tokens = dict(concept_tokens or {})
        f64 = dict(dtype=torch.float64)
        self.power = [PowerSums() for _ in range(n_layers)]
        self.fires = torch.zeros(n_layers, d_mlp, **f64)
        self.zeros = torch.zeros(n_layers, d_mlp, **f64)
        self.near = torch.zeros(n_layers, d_mlp, **f64)
        self.fires_by_bin = torch.zeros(n_layers, self.pos_bins, d_mlp, **f64)
        self.tokens_by_bin = torch.zeros(self.pos_bins, **f64)
        self.pos_total = torch.zeros(n_layers, d_mlp, **f64)
        self.tokens = TokenSlots(d_vocab, token_ids)
        self.token_sum = torch.zeros(n_layers, self.tokens.capacity, d_mlp, **f64)
        self.token_count = torch.zeros(d_vocab, **f64)
        self.untracked_tokens = torch.zeros(n_layers, d_mlp, **f64)
        self.slots = BigramSlots(bigram_slots, d_vocab)
        self.bigram_sum = torch.zeros(n_layers, bigram_slots, d_mlp, dtype=torch.float32)
        self.bigram_count = torch.zeros(bigram_slots, **f64)
        self.untracked = torch.zeros(n_layers, d_mlp, **f64)
        self.sample: list[list[Tensor]] = [[] for _ in range(n_layers)]
        self.sample_labels: list[np.ndarray] = []
        self.sample_tokens: list[Tensor] = []
        self.n_sampled = 0
        self.n_tokens = 0

    def begin_batch(self, tokens: Int[Tensor, "batch pos"],
                    labels: Int[np.ndarray, "batch pos field"] | Int[Tensor, "batch pos field"] | None = None) -> None:
        """Announce the batch whose layers come next; `tokens` and `labels` still have the BOS column."""
        tokens = tokens.cpu()
        b, t = tokens.shape
        if t < 2:
            raise ValueError("documents need at least 2 tokens (BOS + one)")
        cur = tokens[:, 1:].reshape(-1).long()
        bigram = self.slots.lookup(tokens[:, :-1].reshape(-1), cur)
        pos = torch.arange(1, t).repeat(b)
        bins = (pos - 1) * self.pos_bins // (t - 1)
        self.tokens_by_bin += torch.bincount(bins, minlength=self.pos_bins).double()
        self.token_count += torch.bincount(cur, minlength=self.d_vocab).double()
        n = cur.shape[0]
        self.to_bin = _scatter(bins, self.pos_bins)
        self.to_token, self.to_slot = SlotSums(self.tokens.slot_of[cur]), SlotSums(bigram)
        self.bigram_count += torch.bincount(bigram[self.to_slot.tracked], minlength=self.slots.capacity).double()
        self.n_tokens += n
        scored = labels is not None or bool(self.concept_tokens)
        self.take = max(0, min(n, self.auroc_tokens - self.n_sampled)) if scored else 0
        if self.take and labels is not None:
            self.sample_labels.append(np.asarray(labels)[:, 1:].reshape(n, -1)[:self.take])
        if self.take and self.concept_tokens:
            self.sample_tokens.append(cur[:self.take].clone())
        self.n_sampled += self.take

    def add_layer(self, layer: int, pre: Float[Tensor, "batch pos d"], post: Float[Tensor, "batch pos d"]) -> None:
        """Sum one layer's activations of the announced batch (BOS column dropped here)."""
        post = post[:, 1:].reshape(-1, self.d_mlp).float().cpu()
        gate = (post if self.fire_on_post else pre[:, 1:].reshape(-1, self.d_mlp).float().cpu())
        fired = gate > self.fire_threshold
        self.power[layer].update(post)
        by_bin = torch.sparse.mm(self.to_bin, fired.float())
        self.fires_by_bin[layer] += by_bin
        self.fires[layer] += by_bin.sum(0)
        self.zeros[layer] += colsum(post == 0)
        self.near[layer] += colsum(post.abs() < self.near_zero)
        pos = post.clamp_min(0)
        self.pos_total[layer] += colsum(pos)
        self.to_token.add_into(self.token_sum[layer], pos)
        if not self.to_token.all_tracked:
            self.untracked_tokens[layer] += colsum(pos[~self.to_token.tracked])
        self.to_slot.add_into(self.bigram_sum[layer], pos)
        self.untracked[layer] += colsum(pos[~self.to_slot.tracked])
        if self.take:
            self.sample[layer].append(post[:self.take].clone())

    def state(self) -> tuple[dict[str, Shaped[Tensor, "*shape"]], dict]:
        """Everything summed so far, as tensors and JSON-ready scalars (see checkpoint.py)."""
        t = {k: getattr(self, k) for k in _SUMS if k not in _BY_LAYER}
        t.update({f"{k}.{layer}": getattr(self, k)[layer] for k in _BY_LAYER for layer in range(self.n_layers)})
        for layer, p in enumerate(self.power):
            if p.shift is not None:
                t.update({f"power{layer}.shift": p.shift, **{f"power{layer}.s{k}": s for k, s in enumerate(p.sums)}})
            if self.sample[layer]:
                t[f"sample{layer}"] = torch.cat(self.sample[layer])
        if self.sample_labels:
            t["sample_labels"] = torch.from_numpy(np.concatenate(self.sample_labels))
        if self.sample_tokens:
            t["sample_tokens"] = torch.cat(self.sample_tokens)
        t["bigram_keys"] = torch.tensor(self.slots.keys, dtype=torch.int64)
        t["token_ids"] = self.tokens.ids
        return t, {"n_tokens": self.n_tokens, "n_sampled": self.n_sampled, "power_n": [p.n for p in self.power]}

    def restore(self, t: dict[str, Shaped[Tensor, "*shape"]], meta: dict) -> None:
        """Continue from `state()`'s output."""
        if not torch.equal(t["token_ids"], self.tokens.ids):
            raise ValueError("the checkpoint tracks other tokens than this run (another corpus?); delete "
                             "<out>/.checkpoint to start afresh")
        for k in _SUMS:
            if k in _BY_LAYER:
                for layer in range(self.n_layers):
                    getattr(self, k)[layer].copy_(t[f"{k}.{layer}"])
            else:
                getattr(self, k).copy_(t[k])
        for layer, p in enumerate(self.power):
            p.n = meta["power_n"][layer]
            if f"power{layer}.shift" in t:
                p.shift, p.sums = t[f"power{layer}.shift"], [t[f"power{layer}.s{k}"] for k in range(4)]
            self.sample[layer] = [t[f"sample{layer}"]] if f"sample{layer}" in t else []
        self.sample_labels = [t["sample_labels"].numpy()] if "sample_labels" in t else []
        self.sample_tokens = [t["sample_tokens"]] if "sample_tokens" in t else []
        self.slots.keys = t["bigram_keys"].tolist()
        self.slots.slot_of = {key: i for i, key in enumerate(self.slots.keys)}
        self.n_tokens, self.n_sampled = meta["n_tokens"], meta["n_sampled"]

    def concept_masks(self, concepts: list[str] | None = None, min_positives: int = 10
                      ) -> tuple[list[str], list[Bool[np.ndarray, " sample"]]]:
        """Masks over the sampled tokens of every concept with enough positives (and negatives): toy-world label
        concepts (`concepts`, default all) where the corpus has labels, then the concepts given as tokens."""
        names, masks = [], []
        if self.sample_labels:
            labels = np.concatenate(self.sample_labels)
            for c in concepts if concepts is not None else self.taxonomy.all_concepts():
                names.append(c)
                masks.append(self.taxonomy.concept_mask(labels, c))
        if self.sample_tokens:
            tokens = torch.cat(self.sample_tokens)
            for name, ids in self.concept_tokens.items():
                names.append(name)
                masks.append(torch.isin(tokens, torch.as_tensor(ids, dtype=tokens.dtype)).numpy())
        keep = [i for i, m in enumerate(masks) if min_positives <= m.sum() < len(m)]
        return [names[i] for i in keep], [masks[i] for i in keep]

    def concept_aurocs(self, concepts: list[str] | None = None, min_positives: int = 10
                       ) -> tuple[list[str], Float[Tensor, "layer concept d_mlp"]]:
        """AUROC [layer, concept, neuron] of every concept with enough positives in the sample."""
        names, masks = self.concept_masks(concepts, min_positives)
        if not names or not self.sample[0]:
            return [], torch.zeros(self.n_layers, 0, self.d_mlp)
        mask = torch.from_numpy(np.stack(masks))
        n = mask.shape[1]
        return names, torch.stack([auroc(torch.cat(self.sample[layer])[:n], mask) for layer in range(self.n_layers)])
