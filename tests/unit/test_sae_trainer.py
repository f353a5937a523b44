"""SAE trainer on synthetic sparse activations: grid, schedules, learning, sweep = separate runs, resume, bad input."""

from __future__ import annotations

import json
import math

import pytest
import torch

from interp.checkpoint import identity
from saes import io
from saes.training import checkpoint as ck
from saes.training.config import TrainSAEConfig, default_lr, expand_grid
from saes.training.data import NonFiniteError, TensorSource
from saes.training.run import train_saes, with_provenance
from saes.training.trainer import Trainer

D_IN = 24


def sparse_data(n: int = 16384, n_feat: int = 48, seed: int = 0) -> torch.Tensor:
    """x = sparse nonnegative codes @ unit directions + offset + small noise (a dictionary an SAE can find)."""
    g = torch.Generator().manual_seed(seed)
    dirs = torch.randn(n_feat, D_IN, generator=g)
    dirs /= dirs.norm(dim=-1, keepdim=True)
    active = torch.rand(n, n_feat, generator=g) < 3 / n_feat
    codes = active * (1 + torch.rand(n, n_feat, generator=g) * 4)
    return codes @ dirs + 0.5 + 0.02 * torch.randn(n, D_IN, generator=g)


@pytest.fixture(scope="module")
def data() -> torch.Tensor:
    return sparse_data()


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny matrices: one thread is faster


def cfg_for(tmp_path, name="run", **kw) -> TrainSAEConfig:
    base = dict(arch=["topk"], d_sae=[64], k=[4], tokens=256 * 120, batch_size=256, out=str(tmp_path / name),
                eval=False, progress=False, log_every=20, checkpoint_every=25, dead_window=2048)
    return TrainSAEConfig.of(**{**base, **kw})


def weights(folder) -> dict[str, torch.Tensor]:
    return io.load(folder).state_dict()


def test_grid_expands_each_architecture_over_its_own_options():
    cfg = TrainSAEConfig.of(arch=["topk", "jumprelu", "relu"], d_sae=[32, 64], k=[4, 8], l0_coefficient=[0.1],
                         l1_coefficient=[1.0, 2.0], seed=[0, 1])
    specs = expand_grid(cfg)
    assert len(specs) == 2 * 2 * 2 + 2 * 1 * 2 + 2 * 2 * 2
    assert len({s.name for s in specs}) == len(specs)
    assert {s.k for s in specs if s.arch == "topk"} == {4, 8} and all(s.k is None for s in specs if s.arch != "topk")
    assert "jumprelu-d64-l0c0.1-s1" in {s.name for s in specs}
    assert default_lr(2**14) == pytest.approx(2e-4) and default_lr(2**12) == pytest.approx(4e-4)
    assert TrainSAEConfig.of(lr=1e-3, d_sae=[64], k=[4]).optim.lr == 1e-3


@pytest.mark.parametrize("kw, msg", [
    (dict(arch=["topk", "gated"]), "unknown SAE architecture gated; valid: relu, topk, jumprelu, batchtopk"),
    (dict(d_sae=[16], k=[32]), "1 <= k <= d_sae"),
    (dict(lr_warmup=0.6, lr_decay=0.6), "lr_warmup + lr_decay <= 1"),
    (dict(k=[8, 8]), "lists a value twice"),
    (dict(tokens=10, batch_size=64), "tokens >= batch_size"),
])
def test_config_rejects_bad_options_with_a_clear_message(kw, msg):
    with pytest.raises(ValueError, match=msg.replace("+", r"\+")):
        TrainSAEConfig.of(**kw)


def test_lr_and_sparsity_schedules(tmp_path, data):
    cfg = cfg_for(tmp_path, tokens=256 * 100, lr_warmup=0.1, lr_decay=0.2, sparsity_warmup=0.5)
    tr = Trainer(cfg, TensorSource(data, 256))
    assert [tr.lr_factor(s) for s in (0, 4, 9, 10, 79)] == [0.1, 0.5, 1.0, 1.0, 1.0]
    assert tr.lr_factor(80) == pytest.approx(1.0) and tr.lr_factor(99) == pytest.approx(1 / 20)
    assert tr.sparsity_factor(0) == pytest.approx(1 / 50) and tr.sparsity_factor(49) == 1.0


@pytest.mark.parametrize("arch, extra", [("topk", {}), ("batchtopk", {}), ("relu", {"l1_coefficient": [0.3]}),
                                         ("jumprelu", {"l0_coefficient": [0.05], "bandwidth": 0.05,
                                                       "init_threshold": 0.05})])
def test_each_architecture_learns_and_saves_raw_space_weights(tmp_path, data, arch, extra):
    cfg = cfg_for(tmp_path, arch=[arch], tokens=256 * 200, lr=3e-3, **extra)
    src = TensorSource(data, 256)
    train_saes(cfg, source=src)
    out = tmp_path / "run"
    log = [json.loads(ln) for ln in (out / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == list(range(20, 201, 20))
    assert log[-1]["r2"] > 0.8 and log[-1]["r2"] > log[0]["r2"], log[-1]
    assert 1 <= log[-1]["l0"] <= 32  # sparse: at most half of the 64 latents per token
    assert not (out / ck.CKPT_DIR).exists()  # dropped at the end unless --keep-checkpoint
    sae = io.load(out)
    assert sae.cfg.act_scale == 1.0 and sae.cfg.metadata["training"]["name"].startswith(arch)
    x = data[:2048]
    x_hat = sae(x).x_hat
    r2 = 1 - (x - x_hat).pow(2).sum() / (x - x.mean(0)).pow(2).sum()
    assert r2 > 0.8  # the saved SAE takes raw activations (scale folded in)


@pytest.mark.parametrize("unit", [None, False])
def test_unit_norm_decoder_option(tmp_path, data, unit):
    """--unit-norm-decoder false leaves a JumpReLU's decoder rows free (as sae_lens trains it); the default keeps
    them at unit norm."""
    cfg = cfg_for(tmp_path, arch=["jumprelu"], tokens=256 * 30, lr=3e-3, l0_coefficient=[0.05],
                  unit_norm_decoder=unit)
    tr = Trainer(cfg, TensorSource(data, 256))
    tr.init_from_data()
    tr.wrap()
    for step in range(30):
        tr.step(step, tr._batch(step))
    drift = float((tr.runs[0].sae.W_dec.norm(dim=-1) - 1).abs().max())
    assert tr.runs[0].sae.cfg.unit_norm_decoder is (unit is None)
    assert drift < 1e-5 if unit is None else drift > 1e-3


def test_activation_scale_is_estimated_and_b_dec_initialised(tmp_path, data):
    tr = Trainer(cfg_for(tmp_path, b_dec_init="mean"), TensorSource(data, 256))
    tr.init_from_data()
    sae = tr.runs[0].sae
    expected = math.sqrt(D_IN) / float(data[:256 * 8].norm(dim=-1).mean())
    assert sae.cfg.act_scale == pytest.approx(expected, rel=0.05)
    assert torch.allclose(sae.b_dec, tr.source.batch(0).mean(0) * sae.cfg.act_scale, atol=1e-5)


def test_a_sweep_equals_separate_runs(tmp_path, data):
    kw = dict(d_sae=[64], tokens=256 * 40, lr=2e-3, l0_coefficient=[0.05])
    train_saes(cfg_for(tmp_path, "sweep", arch=["topk", "jumprelu"], seed=[0, 1], **kw), source=TensorSource(data, 256))
    train_saes(cfg_for(tmp_path, "one", arch=["jumprelu"], seed=[1], **kw), source=TensorSource(data, 256))
    sweep = tmp_path / "sweep"
    assert sorted(p.name for p in sweep.iterdir()) == ["jumprelu-d64-l0c0.05-s0", "jumprelu-d64-l0c0.05-s1",
                                                       "sweep.json", "topk-d64-k4-s0", "topk-d64-k4-s1"]
    a, b = weights(sweep / "jumprelu-d64-l0c0.05-s1"), weights(tmp_path / "one")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["W_dec"], weights(sweep / "jumprelu-d64-l0c0.05-s0")["W_dec"])


def _interrupt_at(monkeypatch, at: int):
    real = Trainer.step

    def step(self, step, x):
        if step == at:
            raise KeyboardInterrupt
        return real(self, step, x)

    monkeypatch.setattr(Trainer, "step", step)


def test_killed_run_resumes_and_ends_where_an_uninterrupted_run_ends(tmp_path, data, monkeypatch):
    kw = dict(arch=["topk", "jumprelu"], tokens=256 * 90, lr=2e-3, dead_window=512, l0_coefficient=[0.05])
    train_saes(cfg_for(tmp_path, "full", **kw), source=TensorSource(data, 256))
    cfg = cfg_for(tmp_path, "killed", **kw)
    with monkeypatch.context() as m:
        _interrupt_at(m, 63)
        with pytest.raises(KeyboardInterrupt):
            train_saes(cfg, source=TensorSource(data, 256))
    assert json.loads((tmp_path / "killed" / ck.CKPT_DIR / ck.LATEST).read_text())["step"] == 50
    train_saes(cfg, source=TensorSource(data, 256))
    for name in ("topk-d64-k4-s0", "jumprelu-d64-l0c0.05-s0"):
        a, b = weights(tmp_path / "full" / name), weights(tmp_path / "killed" / name)
        for k in a:
            torch.testing.assert_close(a[k], b[k], rtol=1e-5, atol=1e-6)
        logs = [(tmp_path / d / name / "train_log.jsonl").read_text().splitlines() for d in ("full", "killed")]
        assert [json.loads(ln)["step"] for ln in logs[1]] == [json.loads(ln)["step"] for ln in logs[0]]


def test_a_run_moved_to_another_out_resumes_where_it_stopped(tmp_path, data, monkeypatch):
    """The identity is what a run computes, never where it writes: a killed run whose folder was moved (and given
    another --out, device or log frequency) resumes and ends where an uninterrupted run ends."""
    import shutil

    kw = dict(arch=["relu"], tokens=256 * 60, lr=2e-3, dead_window=512, l1_coefficient=[1.0])
    train_saes(cfg_for(tmp_path, "full", **kw), source=TensorSource(data, 256))
    with monkeypatch.context() as m:
        _interrupt_at(m, 30)
        with pytest.raises(KeyboardInterrupt):
            train_saes(cfg_for(tmp_path, "killed", **kw), source=TensorSource(data, 256))
    shutil.move(tmp_path / "killed", tmp_path / "moved")
    train_saes(cfg_for(tmp_path, "moved", log_every=7, **kw), source=TensorSource(data, 256))
    a, b = weights(tmp_path / "full"), weights(tmp_path / "moved")
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_nan_activations_stop_naming_the_step_and_shard_and_keep_the_checkpoint(tmp_path, data):
    bad = data.clone()
    cfg = cfg_for(tmp_path, tokens=256 * 100)
    src = TensorSource(bad, 256, shard_tokens=4096)
    ids = torch.cat([src.batch_ids(s) for s in range(60)])
    bad[int(ids[256 * 55 + 3])] = float("nan")  # a row first used at step 55
    src = TensorSource(bad, 256, shard_tokens=4096)
    with pytest.raises(NonFiniteError, match=r"step 55 in rows \d+\.\.\d+.*last good checkpoint \(step 50\)"):
        train_saes(cfg, source=src)
    loaded = ck.Checkpointer(tmp_path / "run", identity(with_provenance(cfg))).load()
    states = ck.load_states(loaded)
    assert loaded.step == 50 and torch.isfinite(states[0].tensors["param.W_dec"]).all()


def test_corrupt_checkpoint_is_refused_not_used(tmp_path, data, monkeypatch):
    cfg = cfg_for(tmp_path)
    with monkeypatch.context() as m:
        _interrupt_at(m, 30)
        with pytest.raises(KeyboardInterrupt):
            train_saes(cfg, source=TensorSource(data, 256))
    path = next((tmp_path / "run" / ck.CKPT_DIR).glob("step-*/sae-0.safetensors"))
    raw = bytearray(path.read_bytes())
    raw[-100] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(ck.CheckpointError, match="corrupt checkpoint.*sha256.*delete .*checkpoint"):
        train_saes(cfg, source=TensorSource(data, 256))
    (tmp_path / "run" / ck.CKPT_DIR / ck.LATEST).write_text("{not json")
    with pytest.raises(ck.CheckpointError, match="not valid JSON"):
        train_saes(cfg, source=TensorSource(data, 256))


def test_nothing_is_overwritten(tmp_path, data, monkeypatch):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not empty.*nothing was overwritten"):
        train_saes(cfg_for(tmp_path), source=TensorSource(data, 256))
    assert (tmp_path / "run" / "notes.txt").read_text() == "mine"
    with monkeypatch.context() as m:
        _interrupt_at(m, 5)
        with pytest.raises(KeyboardInterrupt):
            train_saes(cfg_for(tmp_path, "other"), source=TensorSource(data, 256))
    with pytest.raises(ck.CheckpointError, match="other options .*k differ"):
        train_saes(cfg_for(tmp_path, "other", k=[8]), source=TensorSource(data, 256))
    train_saes(cfg_for(tmp_path, "done", tokens=256 * 10), source=TensorSource(data, 256))
    with pytest.raises(FileExistsError, match="a finished SAE"):
        train_saes(cfg_for(tmp_path, "done", tokens=256 * 10), source=TensorSource(data, 256))


def test_cli_rejects_an_unknown_architecture_in_one_line(capsys):
    from apps.cli import main

    with pytest.raises(SystemExit) as e:
        main(["train-sae", "--arch", "topk", "gated", "--out", "/nonexistent/x"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "unknown SAE architecture gated; valid: relu, topk, jumprelu, batchtopk" in err
    assert "Traceback" not in err
