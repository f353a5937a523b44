"""The SNMF result as a Dictionary: NNLS encode, decode, neurons, top tokens, residual directions, save/load."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from interp.dictionary import Dictionary
from saes.snmf.dictionary import SNMF, top_tokens_from_codes
from saes.snmf.solver import wta


def make_snmf(d: int = 24, k: int = 5, keep: int = 4, seed: int = 0) -> SNMF:
    F = wta(torch.randn(d, k, generator=torch.Generator().manual_seed(seed)), keep)
    return SNMF(F, "blocks.1.mlp.hook_post", {"loss": 0.5})


def test_snmf_is_a_dictionary_with_the_right_shapes():
    s = make_snmf()
    assert isinstance(s, Dictionary)
    assert (s.hook_name, s.d_in, s.d_sae) == ("blocks.1.mlp.hook_post", 24, 5)
    assert s.feature_directions().shape == (5, 24)
    torch.testing.assert_close(s.feature_directions(), s.F_DK.T)


def test_encode_gives_nonnegative_codes_that_reconstruct():
    s = make_snmf()
    gen = torch.Generator().manual_seed(1)
    g_true = torch.rand(3, 7, 5, generator=gen) * (torch.rand(3, 7, 5, generator=gen) < 0.6)
    x = s.decode(g_true)
    assert x.shape == (3, 7, 24)
    g = s.encode(x)
    assert g.shape == (3, 7, 5) and (g >= 0).all()
    torch.testing.assert_close(s.decode(g), x, atol=1e-4, rtol=1e-4)
    # a vector with no nonnegative explanation is projected, not reproduced: its code is clipped at 0
    neg = -x[0, 0]
    g_neg = s.encode(neg)
    assert (g_neg >= 0).all()
    assert float((s.decode(g_neg) - neg).norm()) <= float(neg.norm()) + 1e-5


def test_feature_neurons_are_the_nonzero_entries_of_f():
    s = make_snmf(keep=3)
    idx, w = s.feature_neurons(2)
    assert len(idx) == 3
    assert set(idx.tolist()) == set(torch.nonzero(s.F_DK[:, 2]).squeeze(1).tolist())
    assert (w.abs()[:-1] >= w.abs()[1:]).all()
    torch.testing.assert_close(w, s.F_DK[idx, 2])


def test_residual_direction_is_f_times_w_out():
    s = make_snmf()
    W_out = torch.randn(24, 8, generator=torch.Generator().manual_seed(2))
    r = s.residual_directions(W_out)
    assert r.shape == (5, 8)
    torch.testing.assert_close(r[3], s.F_DK[:, 3] @ W_out)


def test_top_tokens_merge_across_batches():
    gen = torch.Generator().manual_seed(3)
    G = torch.rand(100, 4, generator=gen)
    src = SimpleNamespace(tokens=torch.arange(100) + 1000, doc_ids=torch.arange(100) // 10,
                          positions=torch.arange(100) % 10 + 1)
    top = top_tokens_from_codes(iter(G.split(17)), src, m=5)
    want = G.topk(5, dim=0)
    torch.testing.assert_close(top.values_KM, want.values.T)
    assert torch.equal(top.index_KM, want.indices.T)
    assert torch.equal(top.token_KM, want.indices.T + 1000)
    assert torch.equal(top.pos_KM, want.indices.T % 10 + 1)


def test_save_load_roundtrip(tmp_path):
    s = make_snmf()
    G = torch.rand(30, 5, generator=torch.Generator().manual_seed(4))
    src = SimpleNamespace(tokens=torch.arange(30), doc_ids=torch.zeros(30, dtype=torch.long),
                          positions=torch.arange(30) + 1)
    s.top = top_tokens_from_codes(G, src, m=3)
    s.save(tmp_path / "r")
    assert not list((tmp_path / "r").glob("*.tmp"))
    t = SNMF.load(tmp_path / "r")
    assert isinstance(t, Dictionary)
    assert torch.equal(t.F_DK, s.F_DK) and t.hook_name == s.hook_name and t.info == {"loss": 0.5}
    assert t.top is not None and torch.equal(t.top.index_KM, s.top.index_KM)
    assert torch.equal(t.top_tokens(1).values_KM, s.top.values_KM[1:2])
    x = torch.randn(6, 24, generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(t.encode(x), s.encode(x))
    with pytest.raises(FileNotFoundError, match="no SNMF result"):
        SNMF.load(tmp_path / "missing")
