"""The `interp` CLI: generated from config dataclasses, every command's help works, bad input is one clear line."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from apps.cli import all_commands, build_parser, main

INTERP = [sys.executable, "-m", "apps.cli"]


def test_every_command_has_help_from_its_config_docstrings(capsys):
    for cmd in all_commands():
        with pytest.raises(SystemExit) as e:
            main(cmd.name.split() + ["--help"])
        assert e.value.code == 0
        out = capsys.readouterr().out
        assert f"interp {cmd.name}" in out
        from interp.options import option_names, positional_names

        for name in option_names(cmd.config):
            assert "--" + name.replace("_", "-") in out, (cmd.name, name)
        for name, metavar in positional_names(cmd.config).items():  # `interp models fetch NAME`
            assert f"interp {cmd.name} " in out and out.split("\n\n")[0].rstrip().endswith(metavar), (cmd.name, name)


def test_options_become_config_fields():
    parser = build_parser(all_commands())
    args = parser.parse_args(["toyworld", "train", "--seed", "3", "--act", "relu", "--d-model", "64"])
    assert (args.config.seed, args.config.act, args.config.d_model) == (3, "relu", 64)
    with pytest.raises(SystemExit):
        parser.parse_args(["toyworld", "train", "--act", "tanh"])


def test_generate_writes_a_labelled_corpus(tmp_path):
    out = tmp_path / "c"
    r = subprocess.run(INTERP + ["toyworld", "generate", "--tokens", "3000", "--out", str(out)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    data = np.load(out / "corpus.npz")
    assert data["tokens"].size >= 3000 and data["labels"].shape[:2] == data["tokens"].shape


def test_invalid_values_give_one_clear_line_not_a_traceback():
    r = subprocess.run(INTERP + ["toyworld", "generate", "--tokens", "0"], capture_output=True, text=True)
    assert r.returncode == 2 and "tokens must be >= 1" in r.stderr and "Traceback" not in r.stderr


def test_building_the_parser_does_not_load_torch():
    """`interp --help` must stay instant: configs are import-light, the heavy modules load only when a command runs."""
    code = ("import sys, apps.cli as c; c.build_parser(c.all_commands()); "
            "print(sorted(m for m in ('torch', 'transformer_lens', 'streamlit') if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


def _env_without(*names: str) -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in names} | {"HF_HUB_OFFLINE": "1"}


def test_cache_runs_with_sleeping_openmp_workers_unless_the_user_chose(tmp_path):
    """`interp cache` sets OMP_WAIT_POLICY=PASSIVE before torch loads; libgomp reports the spin count it took (0:
    workers sleep at once; its displayed policy reads PASSIVE even for the spinning default)."""
    env = _env_without("OMP_WAIT_POLICY") | {"OMP_DISPLAY_ENV": "VERBOSE", "OMP_NUM_THREADS": "1"}
    args = ["cache", "--tokens", "256", "--batch-size", "2", "--n-ctx", "16", "--out"]
    r = subprocess.run(INTERP + args + [str(tmp_path / "a")], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "GOMP_SPINCOUNT = '0'" in r.stderr and "cached 256 tokens" in r.stdout
    r = subprocess.run(INTERP + args + [str(tmp_path / "b")], env=env | {"OMP_WAIT_POLICY": "ACTIVE"},
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "OMP_WAIT_POLICY = 'ACTIVE'" in r.stderr and "GOMP_SPINCOUNT = '0'" not in r.stderr  # the user's choice


def test_command_environment_is_only_set_while_torch_is_not_loaded():
    """Once torch is loaded OpenMP has read its settings: setting them then would only leak into child processes."""
    code = ("import sys, os, apps.cli as c; {} cmd = next(x for x in c.all_commands() if x.name == 'cache'); "
            "print(c.apply_env(cmd.env), os.environ.get('OMP_WAIT_POLICY'))")
    env = _env_without("OMP_WAIT_POLICY")
    before = subprocess.run([sys.executable, "-c", code.format("")], env=env, capture_output=True, text=True)
    after = subprocess.run([sys.executable, "-c", code.format("import torch;")], env=env, capture_output=True,
                           text=True)
    assert before.stdout.strip() == "{'OMP_WAIT_POLICY': 'PASSIVE'} PASSIVE", before.stderr
    assert after.stdout.strip() == "{} None", after.stderr

