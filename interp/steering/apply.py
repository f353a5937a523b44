"""Applying steering vectors: α·d̂ added at every position of a hook, during a forward pass or a generation."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from jaxtyping import Float, Int
from torch import Tensor
from transformer_lens import HookedTransformer

from .vectors import SteeringVector, check_direction


def _as_list(vectors: SteeringVector | Sequence[SteeringVector]) -> list[SteeringVector]:
    return [vectors] if isinstance(vectors, SteeringVector) else list(vectors)


def steering_hooks(vectors: SteeringVector | Sequence[SteeringVector],
                   alphas: float | Sequence[float] | Float[Tensor, " batch"],
                   positions: slice | None = None) -> list[tuple[str, object]]:
    """TransformerLens forward hooks adding alpha·direction at `positions` (default: every position).

    `alphas` may be one number per vector, or a tensor [batch] per vector (one strength per batch row, which is how
    calibration and per-feature scores evaluate many strengths or features in one forward pass).
    """
    vecs = _as_list(vectors)
    alist = list(alphas) if isinstance(alphas, Sequence) else [alphas] * len(vecs)
    if len(alist) != len(vecs):
        raise ValueError(f"{len(alist)} strengths for {len(vecs)} steering vectors")
    where = positions if positions is not None else slice(None)

    def make(vec: SteeringVector, alpha):
        def hook(act: Tensor, hook=None):  # noqa: ARG001
            d = vec.direction.to(act.device, act.dtype)
            a = torch.as_tensor(alpha, dtype=act.dtype, device=act.device)
            add = a.reshape(-1, 1, 1) * d if a.ndim == 1 else a * d
            if positions is None:
                return act + add
            out = act.clone()
            out[:, where] = out[:, where] + add
            return out
        return hook

    return [(v.hook, make(v, a)) for v, a in zip(vecs, alist)]


@contextmanager
def steer(model: HookedTransformer, vectors: SteeringVector | Sequence[SteeringVector],
          alphas: float | Sequence[float] | Float[Tensor, " batch"] = 1.0,
          positions: slice | None = None) -> Iterator[None]:
    """Context manager: inside it every forward pass of `model` adds α·d̂ at each vector's hook."""
    vecs = _as_list(vectors)
    for v in vecs:
        check_direction(model, v.hook, v.direction)
    with model.hooks(fwd_hooks=steering_hooks(vecs, alphas, positions)):
        yield


@torch.no_grad()
def steered_logits(model: HookedTransformer, tokens: Int[Tensor, "batch pos"],
                   vectors: SteeringVector | Sequence[SteeringVector] = (),
                   alphas: float | Sequence[float] | Float[Tensor, " batch"] = 1.0,
                   positions: slice | None = None) -> Float[Tensor, "batch pos d_vocab"]:
    """Logits [batch, pos, vocab] with the steering applied (no vectors: the plain model)."""
    vecs = _as_list(vectors)
    if not vecs:
        return model(tokens)
    with steer(model, vecs, alphas, positions):
        return model(tokens)


@dataclass
class Generation:
    """A generation: prompt + new token ids, and the new text."""

    tokens: Tensor
    """[pos] prompt and generated ids."""
    n_prompt: int
    text: str

    @property
    def new_tokens(self) -> Int[Tensor, " new"]:
        return self.tokens[self.n_prompt:]


@torch.no_grad()
def generate(model: HookedTransformer, prompt: Int[Tensor, " pos"], max_new_tokens: int = 20,
             vectors: SteeringVector | Sequence[SteeringVector] = (), alphas: float | Sequence[float] = 1.0,
             temperature: float = 0.0, seed: int = 0) -> Generation:
    """Generate from token row `prompt` [pos] with steering at every position, new ones included.

    temperature 0 is greedy; otherwise tokens are sampled from softmax(logits / temperature) with a generator
    seeded by `seed`, so the same call gives the same text. The whole sequence is re-run each step (toy models are
    small), so every generated position is steered exactly as a prompt position would be.
    """
    if prompt.ndim != 1 or prompt.numel() == 0:
        raise ValueError(f"prompt must be a non-empty row of token ids, got shape {tuple(prompt.shape)}")
    if max_new_tokens < 0 or temperature < 0:
        raise ValueError("max_new_tokens and temperature must be >= 0")
    vecs = _as_list(vectors)
    gen = torch.Generator().manual_seed(seed)
    seq = prompt.clone().long()
    n_ctx = model.cfg.n_ctx
    with steer(model, vecs, alphas) if vecs else _null():
        for _ in range(max_new_tokens):
            logits = model(seq[-n_ctx:][None])[0, -1].float().cpu()
            if temperature == 0:
                nxt = int(logits.argmax())
            else:
                nxt = int(torch.multinomial(torch.softmax(logits / temperature, -1), 1, generator=gen))
            seq = torch.cat([seq, torch.tensor([nxt])])
    text = model.to_string(seq[len(prompt):]) if model.tokenizer is not None else ""
    return Generation(seq, len(prompt), text)


@contextmanager
def _null() -> Iterator[None]:
    yield


@torch.no_grad()
def sequence_nll(model: HookedTransformer, tokens: Int[Tensor, " pos"], start: int) -> float:
    """Mean next-token loss of tokens[start:] under the (unsteered) model: the fluency proxy of a generation."""
    if not 1 <= start < len(tokens):
        raise ValueError(f"start must be in 1..{len(tokens) - 1}, got {start}")
    logp = torch.log_softmax(model(tokens[None])[0].float(), -1)
    tgt = tokens[start:]
    return float(-logp[start - 1:-1].gather(-1, tgt[:, None].to(logp.device)).mean())
