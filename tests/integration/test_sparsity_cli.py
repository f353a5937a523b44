"""`interp sparsity` end to end through the CLI's main: the shipped GELU and ReLU toy models, a tiny random Llama
(gated SwiGLU MLP) on a text corpus, resuming, and bad input as one line."""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tiny_models import bpe_tokenizer, tiny_model, write_corpus  # noqa: E402

from apps.cli import main as cli  # noqa: E402
from interp.sparsity.artifacts import load_sparsity, neuron_sparsity  # noqa: E402

SMALL = ["--tokens", "1500", "--ppl-tokens", "256", "--batch-size", "8", "--threads", "1"]


@pytest.fixture(scope="module")
def toy_runs(tmp_path_factory):
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("sparsity")
    lines = {}
    for name in ("toy-gelu-s0", "toy-relu-s0"):
        import io
        from contextlib import redirect_stdout

        buf = io.StringIO()
        with redirect_stdout(buf):
            assert cli(["sparsity", "--model", name, "--out", str(root / name), *SMALL]) == 0
        lines[name] = buf.getvalue().splitlines()
    return SimpleNamespace(root=root, lines=lines, runs={n: load_sparsity(root / n) for n in lines})


def test_toy_models_artifacts_record_model_corpus_and_every_measure(toy_runs):
    for name, run in toy_runs.runs.items():
        head = next(x for x in toy_runs.lines[name] if " -> " in x)
        assert name in head and "corpus toyworld" in head and "tokens" in head
        assert run.model == name and run.model_fingerprint and run.corpus["source"] == "toyworld"
        assert run.heldout_corpus["split"] == "heldout" and run.n_tokens >= 1500 and not run.gated
        L, d = run.zero_frac.shape
        assert (L, d) == (4, 512) and run.cett.shape == run.sparsity.shape == (4, 13)
        assert sorted(run.hot_rank.reshape(-1).tolist()) == list(range(L * d))  # a ranking of every neuron
        assert np.all(np.diff(run.sparsity, axis=1) >= 0)  # higher thresholds drop more
        assert np.all(run.cett[:, 0] == 0) and np.all(run.cett[:, -1] > run.cett[:, 1])
        # the activity threshold's CETT is the grid's nearest to --activity-cett 0.2 (chosen on the first batch)
        at = run.cett[np.arange(4), run.activity_index]
        assert np.all(np.abs(at - 0.2) < 0.1) and np.all(run.active_freq.mean(1) < 1 - run.zero_frac.mean(1) + 1e-6)
        ppl = run.summary["ppl"]
        assert [r["p"] for r in ppl] == [1.0, 5.0] and ppl[0]["sparsity"] <= ppl[1]["sparsity"]
        assert run.summary["massive"]["ratios"] == [100.0, 1000.0] and len(run.summary["layers"]) == 4
        n_ctx = run.corpus["n_ctx"]  # massive activations on the first --massive-tokens 2048 (here: every row)
        assert run.summary["massive"]["tokens"] == run.n_tokens // (n_ctx - 1) * n_ctx
        assert {"0.0", "0.025", "0.1"} <= set(neuron_sparsity(run, 1, 7).dormant)
    gelu, relu = toy_runs.runs["toy-gelu-s0"].summary, toy_runs.runs["toy-relu-s0"].summary
    # ReLU zeroes most activations (the issue measured 7-21% firing per layer); GELU almost never is exactly 0
    assert all(0.03 < x["nonzero"] < 0.3 for x in relu["layers"]) and gelu["model"]["nonzero"] > 0.9
    # neither toy model has massive activations (the issue: no entry above 31x the median)
    assert relu["model"]["massive_entries"] == 0 and relu["model"]["max_ratio"] < 100
    assert "no residual entry exceeded" in relu["ablation"]["note"]


def test_neuron_sparsity_agrees_with_the_arrays(toy_runs):
    run = toy_runs.runs["toy-relu-s0"]
    hottest = np.unravel_index(run.hot_rank.argmin(), run.hot_rank.shape)
    n = neuron_sparsity(run, int(hottest[0]), int(hottest[1]))
    assert n.hot_rank == 0 and n.active_freq == pytest.approx(float(run.active_freq.max()))
    dead = np.argwhere(run.dormancy == run.dormancy.min())[0]
    assert neuron_sparsity(run, int(dead[0]), int(dead[1])).dormancy == pytest.approx(float(run.dormancy.min()))


@pytest.fixture(scope="module")
def llama(tmp_path_factory):
    root = tmp_path_factory.mktemp("sparsity-llama")
    corpus = write_corpus(root / "text", n_lines=400, seed=5)
    tok = bpe_tokenizer(root / "tok", corpus)
    return SimpleNamespace(root=root, corpus=corpus, model=tiny_model("llama", root / "llama", tok))


def test_gated_mlp_unit_is_gate_times_up_and_contributions_use_w_down(llama, tmp_path, capsys):
    out = tmp_path / "out"
    assert cli(["sparsity", "--model", str(llama.model), "--corpus", str(llama.corpus), "--out", str(out),
                "--split", "all", "--n-ctx", "64", *SMALL]) == 0
    head = next(x for x in capsys.readouterr().out.splitlines() if " -> " in x)
    assert str(llama.model) in head and "gated MLP" in head and "corpus.txt" in head
    run = load_sparsity(out)
    assert run.gated and run.act_fn == "silu" and run.zero_frac.shape == (2, 128)
    from safetensors.numpy import load_file

    w = load_file(str(llama.model / "model.safetensors"))
    down = w["model.layers.1.mlp.down_proj.weight"]  # [d_model, d_mlp]: neuron i writes column i
    np.testing.assert_allclose(run.w_out_norm[1], np.linalg.norm(down, axis=0), rtol=1e-5)
    # the product act(gate) * up is signed and never exactly zero: SwiGLU has no exact zeros
    assert run.summary["model"]["nonzero"] > 0.99


def test_a_corpus_too_small_for_the_heldout_perplexity_is_one_line(tmp_path, llama, capsys):
    small = write_corpus(tmp_path / "small", n_lines=30, seed=1)
    rc = cli(["sparsity", "--model", str(llama.model), "--corpus", str(small), "--out", str(tmp_path / "o"),
              "--n-ctx", "64", *SMALL])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 1 and len([x for x in err if x.startswith("interp: error")]) == 1
    assert "held-out perplexity" in err[-1] and "--ppl-tokens" in err[-1] and not (tmp_path / "o").exists()


@pytest.mark.parametrize("args, msg", [(["--ppl", "0"], "(0, 100)"), (["--ppl", "150"], "(0, 100)")])
def test_p_outside_0_100_is_one_line(tmp_path, capsys, args, msg):
    with pytest.raises(SystemExit) as e:
        cli(["sparsity", "--out", str(tmp_path / "x"), *args])
    err = capsys.readouterr().err
    assert e.value.code == 2 and msg in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_a_model_without_mlps_is_refused_naming_the_hook():
    from transformer_lens import HookedTransformer, HookedTransformerConfig

    from interp.sparsity.run import check_hooks_for_measures

    attn_only = HookedTransformer(HookedTransformerConfig(n_layers=1, d_model=16, n_ctx=8, d_head=8, n_heads=2,
                                                          d_vocab=10, attn_only=True, act_fn="relu"))
    with pytest.raises(ValueError, match="no MLP layers") as e:
        check_hooks_for_measures(attn_only, "my-model")
    assert "my-model" in str(e.value) and "\n" not in str(e.value)


def test_a_model_whose_mlp_lacks_the_hook_is_refused_naming_it():
    """A mixture of experts (TransformerLens's MoE: one hook_post per expert, none for the layer) lacks the
    blocks.L.mlp.hook_post every MLP measure reads: one line naming the hook, the measures and what to give."""
    from transformer_lens import HookedTransformer, HookedTransformerConfig

    from interp.sparsity.run import check_hooks_for_measures

    moe = HookedTransformer(HookedTransformerConfig(n_layers=1, d_model=16, n_ctx=8, d_head=8, n_heads=2, d_mlp=32,
                                                    d_vocab=10, act_fn="silu", gated_mlp=True, num_experts=4,
                                                    experts_per_token=2))
    assert "blocks.0.mlp.experts.0.hook_post" in moe.hook_dict
    with pytest.raises(ValueError, match="lacks the hook blocks.0.mlp.hook_post") as e:
        check_hooks_for_measures(moe, "my-moe")
    msg = str(e.value)
    assert msg.startswith("my-moe") and "PPL-p%" in msg and "standard or gated MLPs" in msg and "\n" not in msg


def test_interrupted_run_resumes_to_the_same_artifact(tmp_path, monkeypatch):
    from interp.checkpoint import CKPT_DIR, LATEST
    from interp.sparsity.massive import MassiveStats

    real, calls = MassiveStats.begin_batch, []

    def begin_batch(self):
        calls.append(1)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return real(self)

    args = ["sparsity", "--model", "toy-relu-s0", *SMALL, "--batch-size", "2", "--checkpoint-every", "4",
            "--massive-tokens", "500"]  # massive activations on the first 4 of 12 batches only
    assert cli([*args, "--out", str(tmp_path / "full")]) == 0
    with monkeypatch.context() as m:
        m.setattr(MassiveStats, "begin_batch", begin_batch)
        assert cli([*args, "--out", str(tmp_path / "k")]) == 130  # in the 4th of 12 batches: 2 are checkpointed
    assert (tmp_path / "k" / CKPT_DIR / LATEST).is_file()
    assert cli([*args, "--out", str(tmp_path / "k")]) == 0 and not (tmp_path / "k" / CKPT_DIR).exists()
    a, b = load_sparsity(tmp_path / "full"), load_sparsity(tmp_path / "k")
    assert sorted(a.arrays) == sorted(b.arrays) and a.n_tokens == b.n_tokens
    for k in a.arrays:
        np.testing.assert_allclose(a.arrays[k], b.arrays[k], rtol=1e-6, atol=1e-7, err_msg=k)
    assert a.summary["ppl"] == b.summary["ppl"]
    assert a.summary["massive"]["tokens"] == b.summary["massive"]["tokens"] == 8 * 64  # ceil(500 / 64) rows
