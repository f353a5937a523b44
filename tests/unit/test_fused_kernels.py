"""fused_kernels: the same hook values as TransformerLens's own code, a fallback wherever a hook needs a value the
fused kernels never materialise, and the model's own methods back afterwards."""

from __future__ import annotations

import contextlib

import pytest
import torch
from transformer_lens import HookedTransformer, HookedTransformerConfig

from interp.fused import fused_kernels

UNFUSED_ONLY = ("hook_pattern", "hook_attn_scores", "hook_scale")
BLOCK_INNER = ("ln1.hook_normalized", "hook_q", "hook_k", "hook_v", "hook_rot_q", "hook_rot_k")


def tiny(**kw) -> HookedTransformer:
    torch.manual_seed(0)
    cfg = HookedTransformerConfig(**{"n_layers": 2, "d_model": 32, "n_heads": 4, "d_head": 8, "d_mlp": 64,
                                     "n_ctx": 16, "d_vocab": 50, "act_fn": "gelu", **kw})
    return HookedTransformer(cfg).eval()


def fusable_hooks(name: str) -> bool:
    return not name.endswith(UNFUSED_ONLY)


def block_path_hooks(name: str) -> bool:
    """Hooks the whole-block path fires itself (so hooking them keeps it)."""
    return fusable_hooks(name) and not name.endswith(BLOCK_INNER)


@contextlib.contextmanager
def count_calls(modules):
    """Counts calls of `modules` (plain nn.Module hooks: observing, not changing, the forward pass)."""
    calls = [0]
    handles = [m.register_forward_pre_hook(lambda *_: calls.__setitem__(0, calls[0] + 1)) for m in modules]
    try:
        yield calls
    finally:
        for h in handles:
            h.remove()


@pytest.mark.parametrize("path", ["block", "module"])
@pytest.mark.parametrize("kind", ["toy", "LN", "rotary", "gelu_new"])
def test_every_hook_matches_transformer_lens(toy_model, kind, path):
    """With only outer hooks the whole-block path runs (no attention module is called); hooking ln1's output or
    q/k/v drops to the per-module path. Every hooked value equals TransformerLens's either way."""
    model = {"toy": lambda: toy_model, "LN": lambda: tiny(normalization_type="LN"),
             "gelu_new": lambda: tiny(normalization_type="LN", act_fn="gelu_new"),  # GPT-2's block
             "rotary": lambda: tiny(normalization_type="LN", positional_embedding_type="rotary", rotary_dim=8)}[kind]()
    names = block_path_hooks if path == "block" else fusable_hooks
    tokens = torch.randint(0, model.cfg.d_vocab, (3, 12))
    with torch.inference_mode():
        ref_logits, ref = model.run_with_cache(tokens, names_filter=names)
        with fused_kernels(model) as n, count_calls([b.attn for b in model.blocks]) as attn_calls:
            logits, got = model.run_with_cache(tokens, names_filter=names)
    assert n == model.cfg.n_layers * 4 + 2  # block, attention, ln1, ln2 per block, ln_final and the unembedding
    assert (attn_calls[0] == 0) == (path == "block")
    assert set(got) == set(ref) and len(ref) > 15
    for name in ref:
        torch.testing.assert_close(got[name], ref[name], atol=1e-4, rtol=1e-4, msg=name)
    torch.testing.assert_close(logits, ref_logits, atol=1e-4, rtol=1e-4)


def test_block_path_follows_weight_changes(toy_model):
    """The block path keeps W_Q, W_K, W_V concatenated between calls; an in-place change of a weight (an optimizer
    step) must be seen by the next call."""
    tokens = torch.randint(0, toy_model.cfg.d_vocab, (2, 10))
    w_k = toy_model.blocks[0].attn.W_K
    saved = w_k.detach().clone()
    try:
        with fused_kernels(toy_model), torch.no_grad():
            before = toy_model(tokens)
            w_k.mul_(0.5)
            after = toy_model(tokens)
        with torch.no_grad():
            ref = toy_model(tokens)
    finally:
        with torch.no_grad():
            w_k.copy_(saved)
    assert not torch.allclose(before, after)
    torch.testing.assert_close(after, ref, atol=1e-4, rtol=1e-4)


def test_hooks_on_unfused_points_fall_back_exactly(toy_model):
    tokens = torch.randint(0, toy_model.cfg.d_vocab, (2, 10))
    with torch.inference_mode():
        ref_logits, ref = toy_model.run_with_cache(tokens)
        with fused_kernels(toy_model):
            logits, got = toy_model.run_with_cache(tokens)  # every hook point, patterns and scales included
    assert "blocks.0.attn.hook_pattern" in got and "blocks.1.ln2.hook_scale" in got
    assert all(torch.equal(got[k], ref[k]) for k in ref) and torch.equal(logits, ref_logits)


def test_gradients_flow_through_fused_kernels(toy_model):
    tokens = torch.randint(0, toy_model.cfg.d_vocab, (2, 10))
    grads, kept = [], []

    def keep(act, hook):
        act.retain_grad()
        kept.append(act)

    for fused in (False, True):
        with fused_kernels(toy_model, enabled=fused):
            logits = toy_model.run_with_hooks(tokens, fwd_hooks=[("blocks.0.hook_resid_mid", keep)])
            logits[:, -1].logsumexp(-1).sum().backward()
            grads.append(kept[-1].grad)
    toy_model.zero_grad(set_to_none=True)
    torch.testing.assert_close(grads[1], grads[0], atol=1e-4, rtol=1e-3)


def test_methods_are_restored_and_nesting_is_harmless(toy_model):
    attn = toy_model.blocks[0].attn
    with fused_kernels(toy_model) as outer:
        assert "forward" in vars(attn)
        with fused_kernels(toy_model) as inner:
            assert inner == 0  # already fused by the outer block
        assert "forward" in vars(attn) and outer > 0
    assert "forward" not in vars(attn) and "forward" not in vars(toy_model.ln_final)
    with fused_kernels(toy_model, enabled=False) as n:
        assert n == 0 and "forward" not in vars(attn)


@pytest.mark.parametrize("fused", [False, True])
@pytest.mark.parametrize("kind", ["toy", "rotary"])
def test_a_kv_cache_prefix_gives_the_logits_of_the_whole_prompt(toy_model, kind, fused):
    """Positions [p, end) run from the residual stream against frozen cached keys and values of [0, p) (as patching
    does): the same logits as one whole pass, fused or not."""
    from transformer_lens.cache.key_value_cache_entry import TransformerLensKeyValueCacheEntry

    model = toy_model if kind == "toy" else tiny(normalization_type="LN", positional_embedding_type="rotary",
                                                 rotary_dim=8)
    tokens, p = torch.randint(0, model.cfg.d_vocab, (3, 12)), 5
    with torch.inference_mode():
        whole, cache = model.run_with_cache(tokens)
        entries = [TransformerLensKeyValueCacheEntry(cache["k", layer][:, :p], cache["v", layer][:, :p], frozen=True)
                   for layer in range(model.cfg.n_layers)]
        with fused_kernels(model, enabled=fused) as n:
            rest = model(cache["resid_pre", 0][:, p:], start_at_layer=0, past_kv_cache=entries)
    assert (n > 0) == fused
    torch.testing.assert_close(rest, whole[:, p:], atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("act_fn", ["gelu", "relu", "gelu_new", "silu"])
def test_compute_into_puts_the_mlp_activation_in_the_callers_tensor(act_fn):
    """The cache's hook finds mlp.hook_post's value already in its buffer (same memory), equal to TransformerLens's
    (gelu_new: GPT-2's tanh GELU, as torch's one-kernel form); an activation without an out= form (silu) is computed
    as usual and the buffer is left alone."""
    from interp.fused import compute_into

    model = tiny(act_fn=act_fn)
    tokens = torch.randint(0, model.cfg.d_vocab, (3, 12))
    point = model.blocks[1].mlp.hook_post
    seen = {}

    def grab(act, hook):
        seen["ptr"], seen["value"] = act.data_ptr(), act.clone()

    with torch.inference_mode():
        _, ref = model.run_with_cache(tokens, names_filter=point.name)
        buf = torch.full((3, 12, model.cfg.d_mlp), float("nan"))
        with fused_kernels(model), compute_into({point: buf}):
            model.run_with_hooks(tokens, fwd_hooks=[(point.name, grab)])
    torch.testing.assert_close(seen["value"], ref[point.name], atol=1e-5, rtol=1e-5)
    assert (seen["ptr"] == buf.data_ptr()) == (act_fn != "silu")
    assert torch.isnan(buf).all() == (act_fn == "silu")


def test_gated_mlp_and_unembedding_keep_their_weights_and_match(toy_model):
    """A SwiGLU model (grouped-query attention, RMSNorm, as SmolLM2): every hook value, the logits and the gradient
    of a metric with respect to activations equal TransformerLens's; the kept weight layouts follow in-place
    changes of the weights."""
    from interp.fused import frozen_weights

    model = tiny(act_fn="silu", gated_mlp=True, normalization_type="RMS", positional_embedding_type="rotary",
                 rotary_dim=8, n_key_value_heads=2)
    tokens = torch.randint(0, model.cfg.d_vocab, (3, 12))
    names = lambda n: "mlp.hook_" in n or "resid" in n  # noqa: E731
    with torch.no_grad():
        ref_logits, ref = model.run_with_cache(tokens, names_filter=names)
        with fused_kernels(model):
            logits, got = model.run_with_cache(tokens, names_filter=names)
    assert {"blocks.0.mlp.hook_pre", "blocks.0.mlp.hook_pre_linear", "blocks.1.mlp.hook_post"} <= set(got)
    for name in ref:
        torch.testing.assert_close(got[name], ref[name], atol=1e-5, rtol=1e-5, msg=name)
    torch.testing.assert_close(logits, ref_logits, atol=1e-5, rtol=1e-5)

    def grad_of_resid(fused: bool) -> torch.Tensor:
        store = {}

        def keep(act, hook):
            store["a"] = act.detach().requires_grad_(True)  # a leaf: the gradient AtP reads
            return store["a"]

        with fused_kernels(model, fused), frozen_weights(model):
            model.run_with_hooks(tokens, fwd_hooks=[("blocks.0.hook_resid_mid", keep)])[:, -1, 3].sum().backward()
        return store["a"].grad

    torch.testing.assert_close(grad_of_resid(True), grad_of_resid(False), atol=1e-5, rtol=1e-5)
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(1.0)  # new versions: the next pass lays every weight out afresh ...
    with torch.inference_mode(), fused_kernels(model):
        model(tokens)  # ... as inference tensors, which a pass with autograd must not reuse
    torch.testing.assert_close(grad_of_resid(True), grad_of_resid(False), atol=1e-5, rtol=1e-5)
    assert all(p.requires_grad for p in model.parameters())  # frozen only within the block
    w = model.blocks[1].mlp.W_out
    with fused_kernels(model), torch.no_grad():
        before = model(tokens)
        w.mul_(0.5)
        after = model(tokens)
        model.unembed.W_U.mul_(2.0)
        doubled = model(tokens)
    with torch.no_grad():
        assert not torch.allclose(before, after)
        torch.testing.assert_close(doubled, model(tokens), atol=1e-5, rtol=1e-5)
