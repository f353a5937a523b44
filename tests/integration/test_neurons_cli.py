"""`interp neurons` and `interp universal` run for real on the shipped toy models; their artifacts load."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from interp.neurons.artifacts import load_neuron_stats
from interp.neurons.universal import load_universal

INTERP = [sys.executable, "-m", "apps.cli"]


def _run(args, ok=True):
    r = subprocess.run(INTERP + args, capture_output=True, text=True, timeout=600)
    if ok:
        assert r.returncode == 0, r.stderr[-2000:]
    return r


@pytest.mark.slow
def test_neurons_on_gelu_and_relu_models(tmp_path):
    for name in ("toy-gelu-s0", "toy-relu-s0"):
        _run(["neurons", "--model", name, "--tokens", "20000", "--auroc-tokens", "5000", "--threads", "1",
              "--out", str(tmp_path / name)])
    gelu, relu = load_neuron_stats(tmp_path / "toy-gelu-s0"), load_neuron_stats(tmp_path / "toy-relu-s0")
    assert gelu.n_tokens >= 20000 and gelu.act_fn == "gelu" and relu.act_fn == "relu"
    assert (gelu.n_layers, gelu.d_mlp) == (4, 512) and gelu.concept_auroc.shape[:2] == (4, len(gelu.concepts))
    # ReLU: most activations exactly 0; GELU: exactly 0 only where the tanh approximation underflows (rare)
    assert relu.zero_frac.mean() > 0.3 and gelu.zero_frac.mean() < 0.01
    np.testing.assert_allclose(relu.zero_frac, 1 - relu.fire_freq, atol=1e-6)  # ReLU: fires iff post > 0
    assert 0.05 < gelu.fire_freq.mean() < 0.95 and np.isfinite(gelu.kurtosis).all()
    assert gelu.best_auroc.max() > 0.95 and "category:name" in gelu.concepts
    assert sorted(gelu.families) == sorted(set(gelu.families)) and gelu.family.max() < len(gelu.families)
    assert not list(tmp_path.rglob("*.tmp"))


@pytest.mark.slow
def test_universal_on_two_seeds_and_a_seed_with_itself(tmp_path):
    out = tmp_path / "u"
    r = _run(["universal", "--models", "toy-gelu-s0", "toy-gelu-s1", "--tokens", "4000", "--auroc-tokens", "1000",
              "--threads", "1", "--out", str(out)])
    res, meta = load_universal(out)
    assert res.max_corr.shape == (2, 1, 4, 512) and meta["n_tokens"] >= 4000
    assert (res.max_corr >= res.baseline - 1e-6).mean() > 0.5 and np.isfinite(res.excess).all()
    assert set(meta["fraction_universal"]) == {"toy-gelu-s0", "toy-gelu-s1"} and "universal per layer" in r.stdout
    assert load_neuron_stats(out / "toy-gelu-s1").model == "toy-gelu-s1"
    r = _run(["universal", "--models", "toy-gelu-s0", "no-such-model", "--out", str(tmp_path / "x")], ok=False)
    assert r.returncode == 1 and "unknown model 'no-such-model'" in r.stderr and "Traceback" not in r.stderr


def test_bad_options_give_one_clear_line(tmp_path, capsys):
    from apps.cli import main

    for args, msg in ((["neurons", "--tokens", "10"], "too few"),
                      (["universal", "--models", "toy-gelu-s0"], "at least two models")):
        with pytest.raises(SystemExit) as e:
            main(args + ["--out", str(tmp_path / "x")])
        err = capsys.readouterr().err
        assert e.value.code == 2 and msg in err and "Traceback" not in err
    assert not (tmp_path / "x").exists()


def _interrupt_after(monkeypatch, n_calls: int) -> None:
    """The n_calls-th batch a model announces raises KeyboardInterrupt (as Ctrl-C would, mid-run)."""
    from interp.neurons.stats import NeuronAccumulator

    real, calls = NeuronAccumulator.begin_batch, []

    def begin_batch(self, tokens, labels=None):
        calls.append(1)
        if len(calls) == n_calls:
            raise KeyboardInterrupt
        return real(self, tokens, labels)

    monkeypatch.setattr(NeuronAccumulator, "begin_batch", begin_batch)


def _same_stats(a, b) -> None:
    assert a.n_tokens == b.n_tokens and a.concepts == b.concepts
    assert sorted(a.arrays) == sorted(b.arrays)
    for k in a.arrays:
        np.testing.assert_array_equal(a.arrays[k], b.arrays[k], err_msg=k)


OPTS = dict(batch_size=4, checkpoint_every=8, auroc_tokens=2500, threads=1)


def test_interrupted_neurons_run_resumes_to_the_same_statistics(tmp_path, monkeypatch):
    from interp.checkpoint import CKPT_DIR, LATEST
    from interp.neurons.config import NeuronsConfig
    from interp.neurons.run import main

    main(NeuronsConfig.of(tokens=6000, out=str(tmp_path / "full"), **OPTS))
    cfg = NeuronsConfig.of(tokens=6000, out=str(tmp_path / "killed"), **OPTS)
    with monkeypatch.context() as m:
        _interrupt_after(m, 8)  # batches 1-7 (28 documents) done; the checkpoint holds 24 (mid AUROC sample)
        with pytest.raises(KeyboardInterrupt):
            main(cfg)
    assert (tmp_path / "killed" / CKPT_DIR / LATEST).is_file()
    with pytest.raises(ValueError, match="seed differ"):  # another run's checkpoint is never mixed in
        main(NeuronsConfig.of(tokens=6000, seed=1, out=str(tmp_path / "killed"), **OPTS))
    with monkeypatch.context() as m:
        calls = []
        import interp.neurons.run as run

        real = run.stream
        m.setattr(run, "stream", lambda *a, **k: calls.append(k["start_doc"]) or real(*a, **k))
        main(cfg)
    assert calls == [24]  # resumed, not redone
    _same_stats(load_neuron_stats(tmp_path / "full"), load_neuron_stats(tmp_path / "killed"))
    assert not (tmp_path / "killed" / CKPT_DIR).exists()


def test_interrupted_universal_run_resumes_to_the_same_result(tmp_path, monkeypatch):
    from interp.neurons.config import UniversalConfig
    from interp.neurons.universal import main

    models = ["toy-gelu-s0", "toy-gelu-s1"]
    main(UniversalConfig.of(models=models, tokens=3000, out=str(tmp_path / "full"), **OPTS))
    cfg = UniversalConfig.of(models=models, tokens=3000, out=str(tmp_path / "killed"), **OPTS)
    with monkeypatch.context() as m:
        _interrupt_after(m, 2 * 5 + 1)  # two models per batch: 5 batches (20 documents) done, checkpoint at 16
        with pytest.raises(KeyboardInterrupt):
            main(cfg)
    main(cfg)
    (a, _), (b, _) = load_universal(tmp_path / "full"), load_universal(tmp_path / "killed")
    for k in ("max_corr", "baseline", "excess", "universal"):
        np.testing.assert_array_equal(getattr(a, k), getattr(b, k), err_msg=k)
    for name in models:
        _same_stats(load_neuron_stats(tmp_path / "full" / name), load_neuron_stats(tmp_path / "killed" / name))
