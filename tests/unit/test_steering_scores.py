"""VocabProj, TokenChange and the input / output scores on toy-gelu-s0, checked by hand."""

from __future__ import annotations

import pytest
import torch

from interp.steering import input_scores, neuron_vector, output_scores, raw_vector, token_change, vocab_proj
from interp.steering.scores import vocab_logits


class EmbedDetector:
    """A real dictionary at hook_embed whose feature f fires (code 1) exactly on token ids[f]."""

    def __init__(self, model, ids):
        self.hook_name, self.ids = "hook_embed", torch.tensor(ids)
        self.E = model.W_E[self.ids].detach().float()
        self.d_sae, self.d_in = self.E.shape

    def encode(self, x):
        return (torch.cdist(x.reshape(-1, self.d_in), self.E) < 1e-4).float().reshape(*x.shape[:-1], self.d_sae)

    def decode(self, f):
        return f @ self.E

    def feature_directions(self):
        return self.E


def test_vocab_proj_by_hand_and_through_w_out(toy_model):
    m = toy_model
    d = torch.randn(128, generator=torch.Generator().manual_seed(1))
    vec = raw_vector(m, "blocks.3.hook_resid_post", d)
    top, bottom = vocab_proj(m, vec, k=5)
    x = vec.direction - vec.direction.mean()
    want = (x / x.pow(2).mean().add(m.cfg.eps).sqrt()) @ m.W_U + m.b_U
    assert top.ids == want.topk(5).indices.tolist() and bottom.ids == (-want).topk(5).indices.tolist()
    assert top.tokens[0] == m.tokenizer.convert_ids_to_tokens(top.ids[0])
    neuron = neuron_vector(m, 2, 9)  # a neuron writes W_out[2][9] into the residual stream
    assert torch.allclose(vocab_logits(m, neuron.hook, neuron.direction[None]),
                          vocab_logits(m, "blocks.2.hook_mlp_out", m.W_out[2][9][None]), atol=1e-5)
    with pytest.raises(ValueError, match="residual-stream hook"):
        vocab_proj(m, raw_vector(m, "blocks.2.mlp.hook_pre", torch.ones(512)))


def test_token_change_is_zero_at_alpha_zero_and_matches_the_logit_difference(toy_model):
    toks = toy_model.to_tokens(["The cat saw the dog", "Mary gave a cup to"])
    vec = neuron_vector(toy_model, 3, 40)
    zero, _, _ = token_change(toy_model, vec, toks, 0.0)
    assert torch.equal(zero, torch.zeros_like(zero))
    change, up, down = token_change(toy_model, vec, toks, 8.0, k=3)
    assert up.values[0] == pytest.approx(float(change.max())) and down.values[0] == pytest.approx(float(change.min()))
    assert up.ids[0] == int(change.argmax())


def test_input_score_counts_max_tokens_among_top_tokens(toy_model):
    ids = [toy_model.to_single_token(w) for w in ("cat", "red", "Mary")]
    d = EmbedDetector(toy_model, ids)
    toks = toy_model.to_tokens(["The cat saw the dog", "The cat was red", "Mary likes the red ball"])
    top = torch.tensor([[ids[0], 1], [2, 3], [ids[2], ids[1]]])  # feature 1's top tokens miss "red"
    score, count = input_scores(toy_model, d, toks, top, n_top=3)
    # cat fires in 2 rows, red in 2, Mary in 1: features 0 and 2 always hit, feature 1 never
    assert count.tolist() == [2, 2, 1] and score.tolist() == [1.0, 0.0, 1.0]


def test_output_score_by_hand(toy_model):
    m = toy_model
    prompt = m.to_tokens("The")[0]
    dirs = torch.randn(3, 128, generator=torch.Generator().manual_seed(2))
    top = vocab_logits(m, "blocks.3.hook_resid_post", dirs).topk(4, dim=-1).indices
    got = output_scores(m, "blocks.3.hook_resid_post", dirs, top, prompt, alpha=30.0, chunk=2)
    for f in range(3):
        vec = raw_vector(m, "blocks.3.hook_resid_post", dirs[f])

        def add_last(act, hook, v=vec.direction):
            act = act.clone()
            act[:, -1] += 30.0 * v
            return act

        logits = m.run_with_hooks(prompt[None], fwd_hooks=[(vec.hook, add_last)])[0, -1]
        order = logits.argsort(descending=True).tolist()
        rank = min(order.index(t) for t in top[f].tolist())
        want = (1 - rank / m.cfg.d_vocab) * float(logits.detach().softmax(-1)[top[f]].max())
        assert float(got[f]) == pytest.approx(want, rel=1e-4)
    assert bool((got > 0).all() & (got <= 1).all())


def test_feature_scores_end_to_end_and_artifact_round_trip(toy_model, tmp_path):
    from interp.steering import feature_scores, load_feature_scores, save_feature_scores

    ids = [toy_model.to_single_token(w) for w in ("cat", "red", "Mary")]
    d = EmbedDetector(toy_model, ids)
    toks = toy_model.to_tokens(["The cat saw the dog", "The cat was red", "Mary likes the red ball"])
    fs = feature_scores(toy_model, d, toks, toy_model.to_tokens("The")[0], top_k=20, n_top=3)
    assert fs.input_score.shape == fs.output_score.shape == (3,) and fs.top_tokens.shape == (3, 20)
    assert bool((fs.output_score > 0).all() & (fs.output_score <= 1).all()) and fs.alpha > 0
    # each feature fires only on its own token, so its input score is 1 exactly when that token is in its top-20
    own = [ids[f] in fs.top_tokens[f].tolist() for f in range(3)]
    assert fs.input_score.tolist() == [1.0 if o else 0.0 for o in own]
    save_feature_scores(tmp_path, fs, {"dictionary": "embed-detector"})
    back, meta = load_feature_scores(tmp_path)
    assert torch.equal(back.output_score, fs.output_score) and torch.equal(back.top_tokens, fs.top_tokens)
    assert meta["schema_version"] == 1 and meta["config"]["dictionary"] == "embed-detector"
