"""Neuron statistics on synthetic activations with planted neurons, weight statistics, artifacts and bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats as sps

from interp.neurons.artifacts import load_neuron_stats, save_neuron_stats
from interp.neurons.config import NeuronsConfig, UniversalConfig
from interp.neurons.run import layer_summary
from interp.neurons.stats import NeuronAccumulator
from interp.neurons.summarize import FAMILIES, FamilyRules, classify, positional_mi, summarize, weight_stats
from interp.worlds.toy1 import labels as L

V, T, D = 40, 32, 6


def _planted(n_docs=300, seed=0):
    """Tokens, labels and one layer of activations: token-7, position<16, bigram (3,4), dead, female, noise."""
    g = torch.Generator().manual_seed(seed)
    tok = torch.randint(1, V, (n_docs, T), generator=g)
    tok[:, 0] = 0
    tok[:, 1::4] = 4  # token 4 is frequent after many different tokens
    tok[:, 2::8] = 3
    tok[:, 3::8] = 4  # ... and after 3 in half of those places
    labels = np.zeros((n_docs, T, L.N_FIELDS), dtype=np.int8)
    female = torch.rand(n_docs, T, generator=g) < 0.1
    labels[..., L.FIELD_INDEX["gender"]] = female.numpy() * L.value_id("gender", "female")
    prev = torch.cat([tok[:, :1], tok[:, :-1]], dim=1)
    pos = torch.arange(T)[None, :].expand(n_docs, T)
    post = torch.stack([(tok == 7).float(), (pos < 16).float(), ((prev == 3) & (tok == 4)).float(),
                        torch.full((n_docs, T), -0.1), female.float(), torch.randn(n_docs, T, generator=g)], dim=-1)
    return tok, labels, post


def _accumulate(tok, labels, post, **kw):
    acc = NeuronAccumulator(1, D, V, T, fire_on_post=True, pos_bins=T - 1, auroc_tokens=5000, **kw)
    for i in range(0, len(tok), 64):
        acc.begin_batch(tok[i:i + 64], labels[i:i + 64])
        acc.add_layer(0, post[i:i + 64, None][:, 0] * 2, post[i:i + 64])
    return acc


def test_planted_neurons_are_found_with_their_shares():
    tok, labels, post = _planted()
    acc = _accumulate(tok, labels, post)
    a, names, pairs = summarize(acc, top_k=4)
    assert acc.n_tokens == 300 * (T - 1)  # BOS column left out
    assert a["top_tokens"][0, 0, 0] == 7 and a["top_token_share"][0, 0, 0] == pytest.approx(1.0)
    assert tuple(pairs[a["top_bigrams"][0, 2, 0]]) == (3, 4)
    assert a["top_bigram_share"][0, 2, 0] == pytest.approx(1.0) and a["top_bigram_lift"][0, 2] > 1.5
    assert a["top_bigram_lift"][0, 0] == pytest.approx(1.0)  # token 7 fires whatever came before
    assert a["pos_mi_norm"][0, 1] == pytest.approx(1.0) and a["pos_mi_norm"][0, 5] < 0.05
    assert a["dead"][0].tolist() == [False, False, False, True, False, False]
    best = names[a["best_concept"][0, 4]]
    assert best == "gender:female" and a["best_auroc"][0, 4] == pytest.approx(1.0)
    a.update(vocab_kurtosis=np.zeros((1, D)), vocab_skew=np.zeros((1, D)))
    fam = [FAMILIES[i] for i in classify(a, FamilyRules())["family"][0]]
    assert fam == ["token", "positional", "bigram", "dead", "concept", "other"]


def test_streamed_moments_rates_and_sparsity_equal_direct_numpy():
    tok, labels, post = _planted(seed=1)
    acc = _accumulate(tok, labels, post, near_zero=0.05)
    a, _, _ = summarize(acc)
    x = post[:, 1:].reshape(-1, D).double().numpy()
    np.testing.assert_allclose(a["mean"][0], x.mean(0), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(a["var"][0], x.var(0), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(a["skew"][0, [0, 5]], sps.skew(x[:, [0, 5]]), rtol=1e-4)
    np.testing.assert_allclose(a["kurtosis"][0, [0, 5]], sps.kurtosis(x[:, [0, 5]], fisher=False), rtol=1e-4)
    np.testing.assert_allclose(a["fire_freq"][0], (x > 0).mean(0), atol=1e-7)
    np.testing.assert_allclose(a["zero_frac"][0], (x == 0).mean(0), atol=1e-7)
    np.testing.assert_allclose(a["near_zero_frac"][0], (np.abs(x) < 0.05).mean(0), atol=1e-7)
    pos_sum = np.clip(x, 0, None)
    cur = tok[:, 1:].reshape(-1).numpy()
    want = np.stack([pos_sum[cur == v].sum(0) for v in range(V)])
    np.testing.assert_allclose(acc.token_sum[0].numpy(), want, rtol=1e-5)  # every token has its slot (id order)


def test_bigrams_beyond_the_slots_are_reported_untracked():
    tok, labels, post = _planted(n_docs=64)
    acc = _accumulate(tok, labels, post, bigram_slots=5)
    a, _, pairs = summarize(acc)
    assert len(pairs) == 5 and 0 < a["untracked_bigram_share"][0, 5] < 1
    assert np.all(a["top_bigram_share"][0, 5].sum() + a["untracked_bigram_share"][0, 5] <= 1 + 1e-6)


def test_positional_mi_hand_cases():
    tokens_by_bin = torch.tensor([100.0, 100.0])
    mi, norm = positional_mi(torch.tensor([[100.0, 50.0], [0.0, 50.0]]), tokens_by_bin)
    assert mi[0].item() == pytest.approx(1.0) and norm[0].item() == pytest.approx(1.0)  # fires iff first bin
    assert mi[1].item() == pytest.approx(0.0, abs=1e-12) and norm[1].item() == pytest.approx(0.0, abs=1e-12)


def test_weight_stats_flag_planted_prediction_and_suppression_neurons():
    from transformer_lens import HookedTransformer

    from interp.models import toy_config

    model = HookedTransformer(toy_config(n_layers=1, d_model=64, d_mlp=4, d_vocab=100, n_heads=2, n_ctx=8))
    mlp = model.blocks[0].mlp
    with torch.no_grad():
        mlp.W_out[0] = model.W_U[:, 5]     # writes one token's unembedding: predicts it
        mlp.W_out[1] = -model.W_U[:, 9]    # suppresses one token
        mlp.W_in[:, 2] = mlp.W_out[2]
    w = weight_stats(model)
    assert w["vocab_skew"][0, 0] > 1 and w["vocab_skew"][0, 1] < -1
    assert w["vocab_kurtosis"][0, 0] > 10 and w["vocab_kurtosis"][0, 1] > 10 and w["vocab_kurtosis"][0, 3] < 10
    assert w["cos_in_out"][0, 2] == pytest.approx(1.0, abs=1e-6)
    np.testing.assert_allclose(w["w_out_norm"][0], model.W_out[0].norm(dim=-1).detach().numpy(), rtol=1e-5)


def test_artifacts_round_trip_atomically_and_bad_folders_say_why(tmp_path):
    from interp.neurons.artifacts import NeuronStats

    tok, labels, post = _planted(n_docs=64)
    a, names, pairs = summarize(_accumulate(tok, labels, post))
    a.update(vocab_kurtosis=np.zeros((1, D)), vocab_skew=np.ones((1, D)))
    a.update(classify(a, FamilyRules()))
    st = NeuronStats("synthetic", 64 * 31, "relu", {"tokens": 1}, names, list(FAMILIES), {},
                     {"layers": layer_summary(a)}, a)
    save_neuron_stats(st, tmp_path / "s")
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == ["stats.json", "stats.safetensors"]
    back = load_neuron_stats(tmp_path / "s")
    assert back.model == "synthetic" and back.concepts == names and back.n_layers == 1 and back.d_mlp == D
    np.testing.assert_array_equal(back.fire_freq, a["fire_freq"])
    assert back.summary["layers"][0]["dead_frac"] == pytest.approx(1 / D)
    with pytest.raises(FileNotFoundError, match="no stats.json"):
        load_neuron_stats(tmp_path / "missing")
    (tmp_path / "s" / "stats.json").write_text('{"kind": "interp-neuron-stats", "schema_version": 99}')
    with pytest.raises(ValueError, match="schema 99"):
        load_neuron_stats(tmp_path / "s")


def test_configs_reject_bad_input():
    with pytest.raises(ValueError, match="too few"):
        NeuronsConfig(tokens=10)
    with pytest.raises(ValueError, match="at least two models"):
        UniversalConfig.of(models=["toy-gelu-s0"])
    with pytest.raises(ValueError, match="once"):
        UniversalConfig.of(models=["toy-gelu-s0", "toy-gelu-s0"])


def test_models_of_different_architectures_are_named_with_both_shapes():
    from transformer_lens import HookedTransformer

    from interp.models import toy_config
    from interp.neurons.universal import check_same_architecture

    a = HookedTransformer(toy_config(n_layers=1, d_model=16, d_mlp=8, d_vocab=50, n_heads=2, n_ctx=8))
    b = HookedTransformer(toy_config(n_layers=1, d_model=16, d_mlp=12, d_vocab=50, n_heads=2, n_ctx=8))
    with pytest.raises(ValueError, match=r"m1 and m2 differ in MLP neurons 8 vs 12"):
        check_same_architecture([a, b], ["m1", "m2"])
    check_same_architecture([a, a], ["m1", "m1b"])


def test_tokens_beyond_the_slots_are_reported_untracked():
    tok, labels, post = _planted(n_docs=64)
    tracked = torch.tensor([3, 4, 7])  # slots for three tokens only (the planted token 7 among them)
    acc = _accumulate(tok, labels, post, token_ids=tracked)
    a, _, _ = summarize(acc, top_k=2)
    assert acc.token_sum.shape == (1, 3, D) and a["tracked_tokens"].tolist() == [3, 4, 7]
    assert a["top_tokens"][0, 0, 0] == 7 and a["top_token_share"][0, 0, 0] == pytest.approx(1.0)
    assert set(a["top_tokens"][0].ravel().tolist()) <= {3, 4, 7}
    x, cur = post[:, 1:].reshape(-1, D).clamp_min(0).double(), tok[:, 1:].reshape(-1)
    np.testing.assert_allclose(acc.token_sum[0].numpy(), torch.stack([x[cur == v].sum(0) for v in tracked]),
                               rtol=1e-6)
    share = x[~torch.isin(cur, tracked)].sum(0) / x.sum(0).clamp_min(1e-300)
    np.testing.assert_allclose(a["untracked_token_share"][0], torch.where(x.sum(0) > 0, share, 0), rtol=1e-5)
    assert 0 < a["untracked_token_share"][0, 5] < 1 and a["untracked_token_share"][0, 0] == 0
    assert np.all(a["top_token_share"][0].sum(-1) + a["untracked_token_share"][0] <= 1 + 1e-6)
    assert a["top_bigram_lift"][0, 2] > 1.5  # the bigram (3, 4): its current token has a slot


def test_concepts_given_as_tokens_are_scored_next_to_the_labels():
    tok, labels, post = _planted(n_docs=64)
    acc = _accumulate(tok, labels, post, concept_tokens={"seven": [7], "four-or-three": [3, 4]})
    names, aur = acc.concept_aurocs()
    assert names[-2:] == ["seven", "four-or-three"] and "gender:female" in names
    assert aur[0, names.index("seven"), 0] == pytest.approx(1.0)
    unlabelled = NeuronAccumulator(1, D, V, T, fire_on_post=True, concept_tokens={"seven": [7]})
    plain = NeuronAccumulator(1, D, V, T, fire_on_post=True)
    for acc in (unlabelled, plain):
        acc.begin_batch(tok[:64])
        acc.add_layer(0, post[:64], post[:64])
    assert unlabelled.concept_aurocs()[0] == ["seven"]
    assert plain.n_sampled == 0 and not plain.sample[0]  # nothing to score: no activations are kept


def test_frequent_tokens_take_the_most_frequent_and_ties_to_the_lower_id():
    from interp.corpus import TokenRows
    from interp.neurons.tokens import frequent_tokens

    class Rows:
        n_ctx = 5

        def rows(self, first, n):
            return TokenRows(torch.tensor([[9, 1, 2, 2, 3], [9, 3, 3, 5, 1]])[first:first + n], None)

    assert frequent_tokens(Rows(), 2, 2, 10).tolist() == [1, 3]  # 3 thrice; 1 and 2 twice each; BOS not counted
    assert frequent_tokens(Rows(), 2, 10, 10) is None  # the vocabulary fits: every token gets its slot


def test_concepts_file_matches_readable_tokens_and_bad_files_say_why(tmp_path):
    from interp.neurons.tokens import load_concepts

    vocab = ["<|endoftext|>", " cat", "cat", " dog", "do"]
    f = tmp_path / "c.json"
    f.write_text('{"pets": ["cat", " dog ", "unicorn"]}')
    c = load_concepts(f, vocab)
    assert c.ids == {"pets": [1, 2, 3]} and c.missing == {"pets": ["unicorn"]}
    for text, msg in (("{", "not JSON"), ('{"pets": "cat"}', "list of token strings"),
                      ('{"x": ["unicorn"]}', "none of its strings")):
        f.write_text(text)
        with pytest.raises(ValueError, match=msg):
            load_concepts(f, vocab)
    with pytest.raises(FileNotFoundError, match="no such file"):
        load_concepts(tmp_path / "missing.json", vocab)
