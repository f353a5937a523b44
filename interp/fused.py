"""Fused kernels for TransformerLens models: the same forward pass and hook values in fewer, larger kernels.

TransformerLens spells attention as q @ k / scale, a causal `where`, softmax, a NaN `where`, then pattern @ v (five
passes over a [batch, head, pos, pos] tensor), LayerNorm as mean, subtract, square, mean, add, sqrt, divide, and
applies ln1 three times per block (once each for the query, key and value inputs). It rearranges W_Q, W_K and W_V
into fresh copies on every call. On a CPU these memory-bound passes, and the page faults of the fresh
multi-megabyte tensors each of them allocates, cost more than the matmuls of a small model.

`fused_kernels(model)` swaps in, for the duration of a `with` block:
- per transformer block (standard pre-norm blocks with a plain MLP): one LayerNorm kernel per norm, one matmul for
  Q, K and V together (weights concatenated once, refreshed when they change), torch's
  scaled_dot_product_attention, addmm for the output and MLP projections, and GPT-2's gelu_new as torch's one-kernel
  tanh GELU (TransformerLens spells it as seven elementwise passes);
- per attention layer and LayerNorm (used wherever the block path is not): the same SDPA and LayerNorm kernels;
- gated MLPs (SwiGLU: LLaMA, Mistral, Qwen, Gemma, SmolLM2) and the unembedding: the same F.linear calls on weights
  laid out once and kept, where TransformerLens copies every weight into F.linear's layout on every call (on
  SmolLM2 ~0.4 s a forward pass, whatever its size: most of the cost of the small passes patching runs).

Every hook point still fires with the same values (up to float rounding, ~1e-6 relative) except the values the
fused kernels never materialise. So each level falls back, call by call, to the next: the block path is used only
while no hook sits on its inner points (ln1's hooks, which TransformerLens fires three times, hook_q/k/v, rotary
hooks, ln2's scale, patterns and scores); a fused attention layer falls back to TransformerLens's code when
hook_attn_scores or hook_pattern is hooked, or it gets a padding mask or a position bias; a fused LayerNorm when its
hook_scale is hooked. A KV cache is supported at both fused levels: its keys and values are prepended and the
causal mask is offset. Gradients flow through every path.
"""

from __future__ import annotations

import contextlib
import functools
import weakref
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from jaxtyping import Float
from torch import Tensor

if TYPE_CHECKING:
    from transformer_lens import HookedTransformer

_FUSABLE_ARCHS = ("standard", "shortformer", "rotary")
_NORMS = ("LayerNorm", "LayerNormPre")


def _hooked(point) -> bool:
    return bool(point._forward_hooks or point._forward_pre_hooks or point._backward_hooks)


def _fusable_attention(attn) -> bool:
    cfg = attn.cfg
    return (type(attn).__name__ == "Attention" and cfg.positional_embedding_type in _FUSABLE_ARCHS
            and (attn._attention_dir_override or cfg.attention_dir) == "causal"
            and not (cfg.use_attn_result or cfg.load_in_4bit or cfg.use_attention_sinks or cfg.use_logn_attn)
            and getattr(attn, "q_norm", None) is None and cfg.clip_qkv is None
            and (cfg.attn_scores_soft_cap or -1.0) <= 0)


def _fusable_block(block) -> bool:
    """A standard pre-norm block: LayerNorm(Pre) -> attention -> add -> LayerNorm(Pre) -> plain MLP -> add."""
    cfg = block.cfg
    return (type(block).__name__ == "TransformerBlock" and _fusable_attention(block.attn)
            and cfg.positional_embedding_type in ("standard", "rotary")
            and type(block.ln1).__name__ in _NORMS and type(getattr(block, "ln2", None)).__name__ in _NORMS
            and type(block.mlp).__name__ == "MLP" and not cfg.is_layer_norm_activation()
            and not (cfg.use_attn_in or cfg.use_split_qkv_input or cfg.use_hook_mlp_in or cfg.attn_only
                     or cfg.parallel_attn_mlp or cfg.use_normalization_before_and_after or cfg.n_devices > 1)
            and cfg.original_architecture not in _post_norm_architectures())


def _post_norm_architectures() -> tuple[str, ...]:
    from transformer_lens.components import transformer_block as tb

    return tuple(getattr(tb, "POST_NORM_ARCHITECTURES", ()))


def _attend(q: Tensor, k: Tensor, v: Tensor, scale: float, past_kv_cache_entry=None, attn=None
            ) -> Float[Tensor, "batch pos head d_head"]:
    """Causal attention of q [batch, pos, head, d_head] over k, v (the cache's keys and values prepended)."""
    offset, mask = 0, None
    if past_kv_cache_entry is not None:  # queries are positions offset.. of a prompt whose earlier keys are cached
        offset = past_kv_cache_entry.past_keys.shape[1]
        k, v = past_kv_cache_entry.append(k, v)  # [batch, offset + pos, head, d_head]
        q_pos = torch.arange(offset, offset + q.shape[1], device=q.device)
        mask = torch.arange(k.shape[1], device=q.device)[None, :] <= q_pos[:, None]  # [pos, offset + pos], causal
    if attn is not None and attn.cfg.positional_embedding_type == "rotary":
        q, k = attn.hook_rot_q(attn.apply_rotary(q, offset, None)), attn.hook_rot_k(attn.apply_rotary(k, 0, None))
    z = F.scaled_dot_product_attention(  # [batch, head, pos, d_head]; its memory is laid out [batch, pos, head, ...]
        q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), attn_mask=mask, is_causal=mask is None,
        scale=scale)
    return z.transpose(1, 2)


# ---- per module ---------------------------------------------------------------------------------------------------

def _fused_attention(attn, original, query_input, key_input, value_input, past_kv_cache_entry=None,
                     additive_attention_mask=None, attention_mask=None, position_bias=None):
    extras = (past_kv_cache_entry, additive_attention_mask, attention_mask, position_bias)
    if any(x is not None for x in extras[1:]) or _hooked(attn.hook_attn_scores) or _hooked(attn.hook_pattern):
        return original(query_input, key_input, value_input, *extras)
    q, k, v = attn.calculate_qkv_matrices(query_input, key_input, value_input)  # [batch, pos, head, d_head] each
    z = attn.hook_z(_attend(q, k, v, 1.0 / attn.attn_scale, past_kv_cache_entry, attn))
    w_O = attn.W_O.reshape(-1, attn.W_O.shape[-1]).T  # [head, d_head, d_model] -> [d_model, head * d_head]
    return F.linear(z.reshape(*z.shape[:2], -1), w_O, attn.b_O)  # z: [batch, pos, head * d_head]


def _fused_layer_norm(ln, original, x):
    if _hooked(ln.hook_scale) or x.dtype not in (torch.float32, torch.float64):
        return original(x)
    return _norm(ln, x)


def _norm(ln, x: Tensor) -> Tensor:
    """LayerNorm(Pre) in one kernel: (x - mean) / sqrt(mean((x - mean)^2) + eps), TransformerLens's formula, with
    the weight and bias folded into the kernel unless hook_normalized (which sees the value before them) is hooked."""
    weighted = type(ln).__name__ == "LayerNorm"
    if _hooked(ln.hook_normalized):
        y = ln.hook_normalized(F.layer_norm(x, x.shape[-1:], eps=ln.eps))
        return y * ln.w + ln.b if weighted else y
    return F.layer_norm(x, x.shape[-1:], ln.w if weighted else None, ln.b if weighted else None, eps=ln.eps)


# ---- per block ----------------------------------------------------------------------------------------------------

def _inner_points(block) -> list:
    """Hook points the block path does not fire as TransformerLens does (or never materialises)."""
    attn = block.attn
    points = [block.ln1.hook_scale, block.ln1.hook_normalized, block.ln2.hook_scale, attn.hook_q, attn.hook_k,
              attn.hook_v, attn.hook_attn_scores, attn.hook_pattern]
    return points + ([attn.hook_rot_q, attn.hook_rot_k] if hasattr(attn, "hook_rot_q") else [])


_KEPT: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
"""module -> (the key its weights were laid out from, the laid-out weights): attention's concatenated Q, K, V, a
gated MLP's and the unembedding's transposed matrices."""


def _kept(module, params: tuple[Tensor, ...], make) -> tuple[Tensor, ...]:
    """make(*params), kept between calls for `module` (keyed by the weights' storage and version counters, so an
    optimizer step or .to() makes new ones) unless autograd needs a fresh graph through the weights."""
    grad = torch.is_grad_enabled() and any(p.requires_grad for p in params)
    # tensors made in inference mode cannot take part in autograd later (AtP after a cache in one process)
    key = (torch.is_inference_mode_enabled(), *((p.data_ptr(), p._version, p.dtype, p.device) for p in params))
    if not grad and module in _KEPT and _KEPT[module][0] == key:
        return _KEPT[module][1]
    made = make(*params)
    if not grad:
        _KEPT[module] = (key, made)
    return made


def _concat_qkv(w_q, w_k, w_v, b_q, b_k, b_v) -> tuple[Tensor, Tensor]:
    w = torch.cat((w_q, w_k, w_v), dim=0)  # [3 * head, d_model, d_head]
    w = w.permute(1, 0, 2).reshape(w.shape[1], -1)  # -> [d_model, 3 * head * d_head], copied into that layout
    return w, torch.cat((b_q, b_k, b_v), dim=0).reshape(-1)  # [3 * head, d_head] -> [3 * head * d_head]


def _qkv_weights(attn) -> tuple[Tensor, Tensor]:
    """W_Q, W_K, W_V as one [d_model, 3 * head * d_head] matrix and their biases as one vector (kept, `_kept`)."""
    return _kept(attn, (attn.W_Q, attn.W_K, attn.W_V, attn.b_Q, attn.b_K, attn.b_V), _concat_qkv)


def _transposed(*weights: Tensor) -> tuple[Tensor, ...]:
    return tuple(w.T.contiguous() for w in weights)  # [d_in, d_out] -> [d_out, d_in], nn.Linear's layout


def _fused_gated_mlp(mlp, original, x):
    """TransformerLens's gated MLP (SwiGLU etc.) without its per-call copies: it lays W_gate, W_in and W_out out
    for F.linear afresh on every call (~10 MB a layer on SmolLM2); here they are laid out once and kept."""
    if mlp.cfg.is_layer_norm_activation() or x.device != mlp.W_gate.device:
        return original(x)
    w_gate, w_in, w_out = _kept(mlp, (mlp.W_gate, mlp.W_in, mlp.W_out), _transposed)
    pre = mlp.hook_pre(F.linear(x, w_gate))  # [batch, pos, d_mlp]
    post = mlp.hook_post(mlp.act_fn(pre) * mlp.hook_pre_linear(F.linear(x, w_in)) + mlp.b_in)
    return F.linear(post, w_out, mlp.b_out)  # [batch, pos, d_model]


def _fused_unembed(unembed, original, residual):
    """The unembedding with W_U laid out for F.linear once (TransformerLens copies it, d_model x d_vocab, on every
    call: 113 MB on SmolLM2)."""
    if residual.device != unembed.W_U.device:
        return original(residual)
    (w_u,) = _kept(unembed, (unembed.W_U,), _transposed)
    return unembed.hook_out(F.linear(unembed.hook_in(residual), w_u, unembed.b_U))


def _fused_block(block, original, resid_pre, shortformer_pos_embed=None, past_kv_cache_entry=None,
                 attention_mask=None):
    if (shortformer_pos_embed is not None or attention_mask is not None
            or resid_pre.dtype not in (torch.float32, torch.float64) or any(map(_hooked, _inner_points(block)))):
        return original(resid_pre, shortformer_pos_embed, past_kv_cache_entry, attention_mask)
    attn, mlp = block.attn, block.mlp
    resid_pre = block.hook_resid_pre(resid_pre)
    B, P, D = resid_pre.shape
    H, dh = attn.cfg.n_heads, attn.cfg.d_head
    x_ND = _norm(block.ln1, resid_pre).reshape(B * P, D)  # [batch, pos, d_model] -> [batch * pos, d_model]
    w_qkv, b_qkv = _qkv_weights(attn)
    qkv = torch.addmm(b_qkv, x_ND, w_qkv).view(B, P, 3, H, dh)  # [batch * pos, 3 * head * d_head] -> split
    q, k, v = qkv.unbind(2)  # [batch, pos, head, d_head] each (views)
    z = attn.hook_z(_attend(q, k, v, 1.0 / attn.attn_scale, past_kv_cache_entry, attn))
    w_O = attn.W_O.reshape(H * dh, D)  # [head, d_head, d_model] -> [head * d_head, d_model]
    attn_out = torch.addmm(attn.b_O, z.reshape(B * P, H * dh), w_O).view(B, P, D)  # z: [batch * pos, head * d_head]
    resid_mid = block.hook_resid_mid(resid_pre + block.hook_attn_out(attn_out))
    x = _norm(block.ln2, resid_mid)
    pre = mlp.hook_pre(torch.addmm(mlp.b_in, x.reshape(B * P, D), mlp.W_in).view(B, P, -1))  # [batch, pos, d_mlp]
    post = mlp.hook_post(_activation(mlp.act_fn, pre, _OUT.get(mlp.hook_post)))
    mlp_out = torch.addmm(mlp.b_out, post.reshape(B * P, -1), mlp.W_out).view(B, P, D)  # [batch * pos, d_mlp] in
    return block.hook_resid_post(resid_mid + block.hook_mlp_out(mlp_out))


# ---- writing an activation straight into a caller's buffer -----------------------------------------------------

_OUT: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
"""hook point -> the tensor its next value should be computed into (see `compute_into`)."""


def _tanh_gelus() -> tuple:
    """TransformerLens's tanh-approximated GELUs (GPT-2's gelu_new: seven elementwise passes in Python)."""
    from transformer_lens.utilities import activation_functions as A

    return tuple(getattr(A, name) for name in ("gelu_new", "gelu_pytorch_tanh") if hasattr(A, name))


_TANH_GELU = functools.partial(torch._C._nn.gelu, approximate="tanh")
_INTO = {F.gelu: torch._C._nn.gelu, F.relu: functools.partial(torch.clamp_min, min=0),
         **{fn: _TANH_GELU for fn in _tanh_gelus()}}
"""Activation functions TransformerLens uses -> their out= forms (relu is clamp_min(x, 0) in ATen too). The tanh
GELUs map to torch's one-kernel tanh GELU: the same formula, equal to gelu_new to ~5e-7 absolute and ~3x faster."""


@contextlib.contextmanager
def compute_into(outputs: dict):
    """Within the block, the block path computes the MLP activation of each hook point in `outputs` (mlp.hook_post)
    straight into the given tensor, so a hook that stores the value finds it already in place (compare data_ptr)
    and skips a copy of the largest activation. Used by the activation cache; only with autograd off, for gelu
    and relu, and where shape, dtype and device match; anything else computes as usual."""
    _OUT.update(outputs)
    try:
        yield
    finally:
        for point in outputs:
            _OUT.pop(point, None)


def _activation(act_fn, pre: Tensor, out: Tensor | None) -> Tensor:
    into = _INTO.get(act_fn)
    if (into is None or out is None or torch.is_grad_enabled() or out.shape != pre.shape
            or out.dtype != pre.dtype or out.device != pre.device):
        return into(pre) if into is _TANH_GELU else act_fn(pre)
    return into(pre, out=out)


# ---- the switch ---------------------------------------------------------------------------------------------------

def _fusions(model):
    for module in model.modules():
        kind = type(module).__name__
        if kind in _NORMS and hasattr(module, "hook_scale"):
            yield module, _fused_layer_norm
        elif kind == "Attention" and hasattr(module, "hook_pattern") and _fusable_attention(module):
            yield module, _fused_attention
        elif kind == "TransformerBlock" and _fusable_block(module):
            yield module, _fused_block
        elif kind == "GatedMLP":
            yield module, _fused_gated_mlp
        elif kind == "Unembed":
            yield module, _fused_unembed


@contextlib.contextmanager
def frozen_weights(model: HookedTransformer):
    """Within the block, `model`'s parameters do not require gradients (restored after): for passes that take
    gradients with respect to activations only (AtP, RelP), so autograd records nothing for the weights and the
    fused paths keep their laid-out weights instead of rebuilding them for a graph."""
    params = [p for p in model.parameters() if p.requires_grad]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in params:
            p.requires_grad_(True)


@contextlib.contextmanager
def fused_kernels(model: HookedTransformer, enabled: bool = True):
    """Within the block, `model`'s blocks, attention layers and LayerNorms run as fused kernels (see the module
    docstring); yields how many modules were swapped (0 when already swapped by an enclosing block)."""
    swapped = [(m, fn) for m, fn in _fusions(model) if enabled and "forward" not in vars(m)]  # not yet swapped
    for m, fn in swapped:
        m.forward = functools.partial(fn, m, m.forward)
    try:
        yield len(swapped)
    finally:
        for m, _ in swapped:
            del m.forward  # back to the class's method

