"""Massive activations and attention sinks (Sun et al. 2024, "Massive Activations in Large Language Models"; Xiao et
al. 2023, "Efficient Streaming Language Models with Attention Sinks").

Sun et al. find a few residual-stream entries whose magnitude is ~10^3-10^4 times the median magnitude of their
hidden state (LLaMA2), at a few fixed dimensions and mostly at the first token and delimiters; they act as biases:
setting them to their mean keeps the loss, setting them to zero destroys it. Heads put much of their attention on
those positions (attention sinks).

Here, per layer's residual stream (blocks.l.hook_resid_post) and token, the ratio |h_d| / median_d' |h_d'|: counts
above each ratio of --massive-ratios, the largest ratio, the mean value of the massive entries per (layer,
dimension) and the largest entries with where they sit (layer, dimension, row, position, token). Per head
(blocks.l.attn.hook_pattern), the mean attention share, over the query positions from --sink-skip on, on position
0 and on the positions carrying a massive entry in any layer. `ablation_hooks` sets the massive entries to their
mean (or to zero) on held-out text, for the loss change.
"""

from __future__ import annotations

import torch
from jaxtyping import Float, Int, Shaped
from torch import Tensor


def ratios_to_median(h: Float[Tensor, "batch pos d_model"]) -> Float[Tensor, "batch pos d_model"]:
    """|h| over the median |h| of the same token's hidden state."""
    mag = h.abs()
    return mag / mag.median(dim=-1, keepdim=True).values.clamp_min(1e-12)


class MassiveStats:
    """Massive-entry counts, sites and the largest entries per layer; attention shares per head."""

    def __init__(self, n_layers: int, d_model: int, n_heads: int, ratios: list[float], top: int, sink_skip: int):
        self.ratios, self.top, self.sink_skip = list(ratios), top, sink_skip
        self.counts = torch.zeros(n_layers, len(ratios), dtype=torch.int64)
        self.max_ratio = torch.zeros(n_layers)
        self.site_sum = torch.zeros(n_layers, 2, d_model, dtype=torch.float64)  # [layer, first token / later, dim]
        self.site_n = torch.zeros(n_layers, 2, d_model, dtype=torch.int64)
        self.bos_att = torch.zeros(n_layers, n_heads, dtype=torch.float64)
        self.massive_att = torch.zeros(n_layers, n_heads, dtype=torch.float64)
        self.n_queries = torch.zeros(1, dtype=torch.int64)
        self.n_tokens = torch.zeros(1, dtype=torch.int64)
        self.entries: list[dict] = []
        self._keys: dict[int, Float[Tensor, "batch head key"]] = {}
        self._rows: Tensor | None = None

    def begin_batch(self) -> None:
        self._keys, self._rows = {}, None

    def add_pattern(self, layer: int, pattern: Float[Tensor, "batch head query key"]) -> None:
        """Attention each key position receives, summed over the query positions from sink_skip on."""
        self._keys[layer] = pattern[:, :, self.sink_skip:].sum(2).double().cpu()

    def add_resid(self, layer: int, h: Float[Tensor, "batch pos d_model"], tokens: Int[Tensor, "batch pos"],
                  first_row: int) -> None:
        r = ratios_to_median(h.float())
        for k, ratio in enumerate(self.ratios):
            self.counts[layer, k] += int((r > ratio).sum())
        self.max_ratio[layer] = max(float(self.max_ratio[layer]), float(r.max()))
        mask = r > self.ratios[0]
        massive = h.double() * mask
        self.site_sum[layer, 0] += massive[:, 0].sum(0).cpu()
        self.site_sum[layer, 1] += massive[:, 1:].sum((0, 1)).cpu()
        self.site_n[layer, 0] += mask[:, 0].sum(0).cpu()
        self.site_n[layer, 1] += mask[:, 1:].sum((0, 1)).cpu()
        rows = mask.any(-1).cpu()
        self._rows = rows if self._rows is None else self._rows | rows
        if mask.any():
            self._keep_largest(layer, h, r, tokens, first_row)

    def _keep_largest(self, layer: int, h: Tensor, r: Tensor, tokens: Tensor, first_row: int) -> None:
        flat = r.flatten()
        k = min(self.top, int((flat > self.ratios[0]).sum()))
        vals, idx = flat.topk(k)
        P, D = r.shape[1], r.shape[2]
        for v, i in zip(vals.tolist(), idx.tolist()):
            b, p, d = i // (P * D), (i // D) % P, i % D
            self.entries.append({"layer": layer, "dim": d, "row": first_row + b, "pos": p,
                                 "token": int(tokens[b, p]), "value": float(h[b, p, d]), "ratio": v})
        self.entries = sorted(self.entries, key=lambda e: -e["ratio"])[:self.top]

    def end_batch(self) -> None:
        """Attention shares of this batch, now that every layer's massive positions are known."""
        if not self._keys:
            return
        any_layer = next(iter(self._keys.values()))
        rows = self._rows if self._rows is not None else torch.zeros(any_layer.shape[0], any_layer.shape[2], dtype=bool)
        for layer, keys in self._keys.items():
            self.bos_att[layer] += keys[:, :, 0].sum(0)
            self.massive_att[layer] += (keys * rows[:, None, :keys.shape[2]]).sum((0, 2))
        B, P = any_layer.shape[0], any_layer.shape[2]
        self.n_queries += B * max(P - self.sink_skip, 0)
        self.n_tokens += B * P

    def site_mean(self) -> Float[Tensor, "layer 2 d_model"]:
        """Mean value of the massive entries per layer, at the first token and at later ones, per dimension (one
        site can carry a first-token value 50x its value on later tokens); where one kind had none, the other's."""
        pooled = self.site_sum.sum(1, keepdim=True) / self.site_n.sum(1, keepdim=True).clamp_min(1)
        own = self.site_sum / self.site_n.clamp_min(1)
        return torch.where(self.site_n > 0, own, pooled).float()

    def shares(self) -> tuple[Float[Tensor, "layer head"], Float[Tensor, "layer head"]]:
        """(attention share on position 0, on massive positions) per head, per query."""
        n = max(int(self.n_queries), 1)
        return (self.bos_att / n).float(), (self.massive_att / n).float()

    def state(self) -> tuple[dict[str, Shaped[Tensor, "*shape"]], dict]:
        names = ("counts", "max_ratio", "site_sum", "site_n", "bos_att", "massive_att", "n_queries", "n_tokens")
        return {k: getattr(self, k) for k in names}, {"entries": self.entries}

    def restore(self, tensors: dict[str, Shaped[Tensor, "*shape"]], meta: dict) -> None:
        for k, v in tensors.items():
            getattr(self, k).copy_(v)
        self.entries = list(meta.get("entries", []))


def ablation_hooks(site_mean: Float[Tensor, "layer 2 d_model"], sites: Int[Tensor, "layer 2 d_model"], ratio: float,
                   to_zero: bool = False) -> list[tuple[str, object]]:
    """Forward hooks that, at every layer with massive sites, set the entries of those dimensions exceeding `ratio`
    times their token's median magnitude to the site's mean value (at the first token its first-token mean, later
    its later-token mean) or to zero, as Sun et al. intervene."""
    hooks = []
    for layer in range(site_mean.shape[0]):
        dims = torch.nonzero(sites[layer].sum(0) > 0).flatten()
        if dims.numel() == 0:
            continue

        def hook(h, hook, dims=dims, mean=site_mean[layer]):
            r = ratios_to_median(h)
            mask = torch.zeros_like(h, dtype=torch.bool)
            mask[..., dims] = r[..., dims] > ratio
            value = torch.zeros_like(h)
            if not to_zero:
                value[:, 0] = mean[0].to(h.device, h.dtype)
                value[:, 1:] = mean[1].to(h.device, h.dtype)
            return torch.where(mask, value, h)

        hooks.append((f"blocks.{layer}.hook_resid_post", hook))
    return hooks
