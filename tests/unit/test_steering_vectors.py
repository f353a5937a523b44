"""Steering vectors, the steering hook and steered generation on the shipped toy-gelu-s0 (real hooks)."""

from __future__ import annotations

import pytest
import torch

from interp.steering import (
    diff_in_means,
    feature_vector,
    generate,
    hook_shape,
    neuron_vector,
    raw_vector,
    steer,
    steered_logits,
)
from interp.worlds import world_name_of_model
from interp.worlds.toy.corpus import CorpusConfig, generate_docs


class RowDictionary:
    """A real (tiny) linear dictionary: codes = x @ directionsᵀ, reconstruction = codes @ directions."""

    def __init__(self, hook_name: str, directions: torch.Tensor):
        self.hook_name, self.W = hook_name, directions
        self.d_sae, self.d_in = directions.shape

    def encode(self, x):
        return x @ self.W.T

    def decode(self, f):
        return f @ self.W

    def feature_directions(self):
        return self.W


def _prompt(model, text="Yesterday"):
    return model.to_tokens(text)


def test_alpha_zero_gives_identical_logits(toy_model):
    toks = _prompt(toy_model, "The cat saw the dog")
    vec = neuron_vector(toy_model, 1, 7)
    assert torch.equal(steered_logits(toy_model, toks, vec, 0.0), toy_model(toks))
    assert not torch.allclose(steered_logits(toy_model, toks, vec, 5.0), toy_model(toks))


def test_neuron_direction_equals_editing_the_neuron(toy_model):
    toks = _prompt(toy_model, "Mary gave the ball to")
    layer, n, alpha = 2, 123, 3.5

    def edit(act, hook):
        act = act.clone()
        act[..., n] += alpha
        return act

    manual = toy_model.run_with_hooks(toks, fwd_hooks=[(f"blocks.{layer}.mlp.hook_post", edit)])
    vec = neuron_vector(toy_model, layer, n)
    assert vec.hook == "blocks.2.mlp.hook_post" and vec.source == {"kind": "neuron", "layer": 2, "neuron": 123}
    assert torch.allclose(steered_logits(toy_model, toks, vec, alpha), manual, atol=1e-5)
    with steer(toy_model, vec, alpha):  # the context manager is the same hook
        assert torch.allclose(toy_model(toks), manual, atol=1e-5)
    assert torch.equal(toy_model(toks), toy_model.run_with_hooks(toks, fwd_hooks=[]))  # hook removed on exit


def test_feature_vector_is_the_normalised_row_and_checks_the_index(toy_model):
    W = torch.randn(6, 512, generator=torch.Generator().manual_seed(0))
    d = RowDictionary("blocks.1.mlp.hook_post", W)
    vec = feature_vector(d, 4, toy_model)
    assert torch.allclose(vec.direction, W[4] / W[4].norm()) and vec.hook == d.hook_name
    for bad in (6, -1):
        with pytest.raises(ValueError, match=r"valid indices 0\.\.5"):
            feature_vector(d, bad, toy_model)


def test_wrong_direction_width_is_refused_both_ways(toy_model):
    assert hook_shape(toy_model, "blocks.0.hook_resid_post") == (128,)
    assert hook_shape(toy_model, "blocks.0.mlp.hook_post") == (512,)
    with pytest.raises(ValueError, match="width 128"):
        raw_vector(toy_model, "blocks.0.hook_resid_post", torch.ones(512))
    with pytest.raises(ValueError, match="width 512"):
        raw_vector(toy_model, "blocks.0.mlp.hook_post", torch.ones(128))
    with pytest.raises(ValueError, match="width 128"):  # a dictionary whose rows do not fit its own hook
        feature_vector(RowDictionary("blocks.0.hook_resid_post", torch.ones(3, 512)), 0, toy_model)


def test_unknown_hook_lists_the_valid_ones(toy_model):
    with pytest.raises(ValueError, match=r"unknown hook.*blocks\.0\.hook_resid_pre"):
        raw_vector(toy_model, "blocks.9.hook_resid_post", torch.ones(128))


def test_neuron_out_of_range(toy_model):
    with pytest.raises(ValueError, match=r"neurons 0\.\.511"):
        neuron_vector(toy_model, 0, 512)
    with pytest.raises(ValueError, match=r"layers 0\.\.3"):
        neuron_vector(toy_model, 4, 0)


def test_diff_in_means_female_raises_p_she_after_a_male_name(toy_model):
    # the model's world
    world = CorpusConfig(split="heldout", world=world_name_of_model(toy_model), n_ctx=toy_model.cfg.n_ctx)
    corpus = generate_docs(world, 32)
    toks = torch.as_tensor(corpus.tokens, dtype=torch.long)
    mask = corpus.concept_mask("gender:female")
    vec = diff_in_means(toy_model, "blocks.2.hook_resid_post", toks, mask, concept="gender:female")
    assert abs(float(vec.direction.norm()) - 1) < 1e-5 and vec.source["n_concept"] == int(mask[:, 1:].sum())
    prompt = _prompt(toy_model, "John was happy because")  # unsteered: "he" 0.25, "she" 0.15 on toy-gelu-s0
    she, he = toy_model.to_single_token("she"), toy_model.to_single_token("he")
    p0 = steered_logits(toy_model, prompt, vec, 0.0)[0, -1].softmax(-1)
    p1 = steered_logits(toy_model, prompt, vec, 20.0)[0, -1].softmax(-1)
    assert p1[she] > 1.5 * p0[she] and p1[she] / p1[he] > p0[she] / p0[he]
    with pytest.raises(ValueError, match="concept and other tokens"):
        diff_in_means(toy_model, "blocks.2.hook_resid_post", toks, torch.zeros_like(toks, dtype=torch.bool))


def test_generation_steers_every_generated_position(toy_model):
    prompt = _prompt(toy_model, "The")[0]
    vec = neuron_vector(toy_model, 2, 5)
    g = generate(toy_model, prompt, 8, vec, 20.0)
    # re-run the whole generated sequence steered: each generated token is the steered argmax before it
    logits = steered_logits(toy_model, g.tokens[None], vec, 20.0)[0]
    assert torch.equal(logits[g.n_prompt - 1:-1].argmax(-1), g.new_tokens)
    base = generate(toy_model, prompt, 8)
    assert torch.equal(toy_model(base.tokens[None])[0, base.n_prompt - 1:-1].argmax(-1), base.new_tokens)
    s1, s2 = (generate(toy_model, prompt, 8, vec, 20.0, temperature=1.0, seed=3) for _ in range(2))
    assert torch.equal(s1.tokens, s2.tokens) and len(s1.new_tokens) == 8
